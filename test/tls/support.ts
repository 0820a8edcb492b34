// TLS test support: a test CA and leaf certificates (src/tls/x509.ts), Kubernetes objects for
// Ingresses with spec.tls, a translate -> compile -> swap pipeline, and TLS clients that report
// which certificate the server presented.
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { compile } from '../../src/compile/compile.ts';
import type { RouteTable } from '../../src/compile/route-table.ts';
import type { EndpointSlice, Ingress, IngressTLS, KubeObject, Secret, Service } from '../../src/model/kube.ts';
import type { TranslateResult } from '../../src/model/route-config.ts';
import type { TranslateOptions } from '../../src/model/snapshot.ts';
import { RouteRef } from '../../src/runtime/route-ref.ts';
import { checkCertificate } from '../../src/tls/check-certificate.ts';
import { issueCertificate, type IssuedCertificate } from '../../src/tls/x509.ts';
import { translate } from '../../src/translate/translate.ts';
import { DEFAULT_TEST_OPTIONS, snapshotOf } from '../translate/fixture.ts';

export const CA = issueCertificate({ commonName: 'Switchyard Test CA', isCA: true });

export function leaf(commonName: string, altNames: readonly string[] = [commonName], notAfter?: Date): IssuedCertificate {
  return issueCertificate({ commonName, altNames, issuer: { commonName: 'Switchyard Test CA', key: CA.keyObject }, notAfter });
}

export function tlsSecret(name: string, cert: string, key: string, namespace = 'default'): Secret {
  return {
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name, namespace },
    data: { 'tls.crt': Buffer.from(cert).toString('base64'), 'tls.key': Buffer.from(key).toString('base64') },
  };
}

export function ingress(name: string, hosts: readonly string[], tls: readonly IngressTLS[], annotations: Record<string, string> = {}, createdAt = '2024-01-01T00:00:00Z'): Ingress {
  return {
    kind: 'Ingress',
    metadata: { name, namespace: 'default', annotations, creationTimestamp: createdAt },
    spec: {
      ingressClassName: 'switchyard',
      tls,
      rules: hosts.map((host) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } })),
    },
  };
}

export function backendObjects(port: number): KubeObject[] {
  const service: Service = { kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } };
  const slice: EndpointSlice = {
    kind: 'EndpointSlice',
    metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port }],
    endpoints: [{ addresses: ['127.0.0.1'] }],
  };
  return [service, slice];
}

export const TLS_OPTIONS: TranslateOptions = { ...DEFAULT_TEST_OPTIONS, checkCertificate };

/** translate + compile, as the controller does. */
export class Pipeline {
  readonly routeRef: RouteRef<RouteTable>;
  last: TranslateResult;
  options: TranslateOptions;

  constructor(objects: readonly KubeObject[], options: TranslateOptions = TLS_OPTIONS) {
    this.options = options;
    this.last = translate(snapshotOf(objects), options);
    this.routeRef = new RouteRef<RouteTable>(compile(this.last.config, { random: () => 0 }));
  }

  swap(objects: readonly KubeObject[]): TranslateResult {
    this.last = translate(snapshotOf(objects), this.options);
    this.routeRef.swap(compile(this.last.config, { previous: this.routeRef.current }));
    return this.last;
  }
}

/** Handshake only: the certificate the server presents for `servername` (undefined = no SNI). */
export function presented(port: number, servername: string | undefined): Promise<{ cert: X509Certificate; authorized: boolean; protocol: string | false | null }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca: CA.cert, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const peer = socket.getPeerX509Certificate();
      const out = { cert: peer!, authorized: socket.authorized, protocol: socket.alpnProtocol ?? null };
      socket.destroy();
      resolve(out);
    });
    socket.on('error', reject);
  });
}

export function commonName(cert: X509Certificate | PeerCertificate): string {
  const subject = 'subject' in cert && typeof cert.subject === 'string' ? cert.subject : '';
  return /CN=([^\n,]+)/.exec(subject)?.[1] ?? '';
}

/** An HTTPS request verified against the test CA. */
export function httpsGet(port: number, host: string, path = '/', agent: import('node:https').Agent | false = false): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: host, headers: { host }, ca: CA.cert, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
