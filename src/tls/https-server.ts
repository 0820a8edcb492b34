// The HTTPS listener (--https-port): the same proxy (RequestHandler, UpgradeHandler, error
// handling) on a TLS server whose certificate is chosen per handshake by SNI from the current
// route table (certificate-store.ts). X-Forwarded-Proto is "https"; ssl-redirect never applies here.
import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { TlsCertificate } from '../model/route-config.ts';
import { createH2SecureServer } from '../proxy/http2.ts';
import { createProxyServer, type ProxyServer, type ProxyServerOptions } from '../proxy/server.ts';
import type { CertificateStore } from './certificate-store.ts';

export interface HttpsProxyServerOptions extends Omit<ProxyServerOptions, 'secure'> {
  readonly certificates: CertificateStore;
  /** Offer HTTP/2 by ALPN (HTTP/1.1 stays available on the same port). Default true. */
  readonly http2?: boolean;
}

export function createHttpsProxyServer(options: HttpsProxyServerOptions): ProxyServer {
  const { certificates, http2 = true, ...rest } = options;
  const generated = certificates.generated;
  const logger = options.logger;
  let server: Server | null = null;
  const proxy = createProxyServer({
    ...rest,
    secure: {
      proto: 'https',
      create: (serverOptions) => {
        const tlsOptions = {
          cert: generated.cert,
          key: generated.key,
          SNICallback: certificates.SNICallback,
          // Handshakes that stall must not hold sockets forever.
          handshakeTimeout: 10_000,
        };
        const https = http2
          ? createH2SecureServer({
              ...serverOptions,
              ...tlsOptions,
              // HTTP/1.1 connections on this port use the same request/response classes as the HTTP listener.
              Http1IncomingMessage: serverOptions.IncomingMessage,
              Http1ServerResponse: serverOptions.ServerResponse,
            } as Parameters<typeof createH2SecureServer>[0])
          : createHttpsServer({ ...serverOptions, ...tlsOptions });
        https.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
          logger.debug({ reason: 'TlsHandshakeFailed', err: { code: err.code, message: err.message }, client: socket.remoteAddress }, 'TLS handshake failed');
        });
        server = https as unknown as Server;
        return server;
      },
    },
  });
  // Clients without SNI get the default certificate: follow --default-ssl-certificate as tables change.
  let lastDefault: TlsCertificate | null = null;
  const followDefault = (): void => {
    const current = options.routeRef.current.config.defaultCertificate ?? null;
    if (current === lastDefault || (current !== null && lastDefault !== null && current.certificate === lastDefault.certificate && current.key === lastDefault.key)) return;
    lastDefault = current;
    try {
      const tlsServer = server as unknown as { setSecureContext(o: { cert: string; key: string }): void };
      tlsServer.setSecureContext(current === null ? { cert: generated.cert, key: generated.key } : { cert: current.certificate, key: current.key });
    } catch (err) {
      logger.error({ reason: 'InvalidTlsSecret', secret: current?.secret, err: { message: (err as Error).message } }, 'the default certificate cannot be loaded');
    }
  };
  followDefault();
  const unsubscribe = options.routeRef.onSwap(followDefault);
  const close = proxy.close.bind(proxy);
  return {
    ...proxy,
    close: (graceMs?: number) => {
      unsubscribe();
      return close(graceMs);
    },
  };
}
