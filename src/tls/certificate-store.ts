// The HTTPS listener's certificates, chosen per TLS handshake by SNI from the CURRENT route table:
//   1. exact host ("shop.example.com"), 2. wildcard ("*.example.com": exactly one extra label),
//   3. the default: --default-ssl-certificate (RouteConfig.defaultCertificate), else a self-signed
//      certificate generated at startup (like ingress-nginx's "Kubernetes Ingress Controller Fake
//      Certificate").
// Certificates come and go with the table: a renewed Secret is served from the next handshake on,
// with no listener restart and no effect on open connections. The host index is built once per
// table (on the first handshake after a swap); secure contexts are built once per certificate
// content and kept while a table uses them.
import type { SecureContext } from 'node:tls';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { RouteTable } from '../compile/route-table.ts';
import type { TlsCertificate } from '../model/route-config.ts';
import type { RouteRef } from '../runtime/route-ref.ts';
import { issueCertificate } from './x509.ts';

interface HostIndex {
  readonly exact: Map<string, TlsCertificate>;
  /** Keyed by the wildcard without "*" (".example.com"). */
  readonly wildcard: Map<string, TlsCertificate>;
  readonly fallback: TlsCertificate | null;
}

export interface CertificateStoreOptions {
  readonly routeRef: RouteRef<RouteTable>;
  readonly logger: Logger;
  /** The certificate served when nothing else applies; default: generated (self-signed, P-256). */
  readonly generated?: { readonly cert: string; readonly key: string };
}

export class CertificateStore {
  readonly #routeRef: RouteRef<RouteTable>;
  readonly #logger: Logger;
  readonly #indexes = new WeakMap<RouteTable, HostIndex>();
  /** Secure contexts by certificate + key content. */
  #contexts = new Map<string, SecureContext>();
  /** Content ids that failed createSecureContext (logged once). */
  readonly #broken = new Set<string>();
  readonly #generated: SecureContext;
  /** The generated self-signed certificate and key (PEM): served when nothing else applies. */
  readonly generated: { readonly cert: string; readonly key: string };

  constructor(options: CertificateStoreOptions) {
    this.#routeRef = options.routeRef;
    this.#logger = options.logger;
    const generated =
      options.generated ??
      issueCertificate({ commonName: 'Switchyard Default Certificate', notAfter: new Date(Date.now() + 10 * 365 * 86_400_000) });
    this.generated = { cert: generated.cert, key: generated.key };
    this.#generated = createSecureContext({ cert: generated.cert, key: generated.key });
  }

  /** tls.Server `SNICallback`: never fails; unknown names get the default certificate. */
  readonly SNICallback = (servername: string, callback: (err: Error | null, ctx?: SecureContext) => void): void => {
    callback(null, this.contextFor(servername));
  };

  /** The secure context for a server name, from the current table. */
  contextFor(servername: string | undefined): SecureContext {
    const index = this.#index(this.#routeRef.current);
    const certificate = servername ? this.find(index, servername.toLowerCase()) : index.fallback;
    if (certificate === null) return this.#generated;
    return this.#context(certificate) ?? this.#generated;
  }

  /** The certificate a server name gets from the current table, or null for the generated one. */
  certificateFor(servername: string): TlsCertificate | null {
    return this.find(this.#index(this.#routeRef.current), servername.toLowerCase());
  }

  /** The default context (clients that send no SNI): --default-ssl-certificate, else the generated one. */
  defaultContext(): SecureContext {
    return this.contextFor(undefined);
  }

  find(index: HostIndex, host: string): TlsCertificate | null {
    const name = host.endsWith('.') ? host.slice(0, -1) : host;
    const exact = index.exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const wildcard = index.wildcard.get(name.slice(dot));
      if (wildcard !== undefined) return wildcard;
    }
    return index.fallback;
  }

  #index(table: RouteTable): HostIndex {
    let index = this.#indexes.get(table);
    if (index !== undefined) return index;
    const exact = new Map<string, TlsCertificate>();
    const wildcard = new Map<string, TlsCertificate>();
    const keep = new Map<string, SecureContext>();
    const certificates = table.config.certificates ?? [];
    for (const certificate of certificates) {
      for (const host of certificate.hosts) {
        if (host.startsWith('*.')) wildcard.set(host.slice(1), certificate);
        else exact.set(host, certificate);
      }
    }
    const fallback = table.config.defaultCertificate ?? null;
    // Keep the contexts the new table still uses; the others go with the table that used them.
    for (const certificate of fallback === null ? certificates : [...certificates, fallback]) {
      const id = contentId(certificate);
      const ctx = this.#contexts.get(id);
      if (ctx !== undefined) keep.set(id, ctx);
    }
    this.#contexts = keep;
    index = { exact, wildcard, fallback };
    this.#indexes.set(table, index);
    return index;
  }

  #context(certificate: TlsCertificate): SecureContext | null {
    const id = contentId(certificate);
    let ctx = this.#contexts.get(id);
    if (ctx !== undefined) return ctx;
    if (this.#broken.has(id)) return null;
    try {
      ctx = createSecureContext({ cert: certificate.certificate, key: certificate.key });
    } catch (err) {
      this.#broken.add(id);
      this.#logger.error(
        { kind: 'Secret', secret: certificate.secret, reason: 'InvalidTlsSecret', err: { message: (err as Error).message } },
        'the certificate cannot be loaded; its hosts are served with the default certificate',
      );
      return null;
    }
    this.#contexts.set(id, ctx);
    return ctx;
  }
}

function contentId(certificate: TlsCertificate): string {
  return certificate.certificate + '\u0000' + certificate.key;
}
