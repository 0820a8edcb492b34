// switchyard_ssl_certificate_expiry_timestamp_seconds{host,secret}: when each served certificate
// expires (like ingress-nginx's nginx_ingress_controller_ssl_expire_time_seconds), read from the
// current route table at scrape time (no work per swap or per request).
import { Gauge, type Registry } from 'prom-client';
import type { RouteTable } from '../compile/route-table.ts';
import type { RouteRef } from '../runtime/route-ref.ts';

export function registerCertificateMetrics(registry: Registry, routeRef: RouteRef<RouteTable>): Gauge<'host' | 'secret'> {
  return new Gauge({
    name: 'switchyard_ssl_certificate_expiry_timestamp_seconds',
    help: 'Unix time at which the certificate served for a host expires (hosts of spec.tls with a valid Secret; host "" = --default-ssl-certificate).',
    labelNames: ['host', 'secret'],
    registers: [registry],
    collect(this: Gauge<'host' | 'secret'>) {
      this.reset();
      const config = routeRef.current.config;
      for (const certificate of config.certificates ?? []) {
        if (certificate.notAfter === undefined) continue;
        for (const host of certificate.hosts) this.set({ host, secret: certificate.secret }, certificate.notAfter);
      }
      const fallback = config.defaultCertificate;
      if (fallback?.notAfter !== undefined) this.set({ host: '', secret: fallback.secret }, fallback.notAfter);
    },
  });
}
