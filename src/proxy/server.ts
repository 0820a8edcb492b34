import { createServer, type Server, type ServerOptions } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { RouteTable } from '../compile/route-table.ts';
import type { RouteRef } from '../runtime/route-ref.ts';
import type { Exchange } from './exchange.ts';
import { ProxyRequest, ProxyResponse } from './exchange.ts';
import { ProxyErrorCode } from './errors.ts';
import { DEFAULT_TIMEOUTS, RequestHandler, type ProxyTimeouts } from './request-handler.ts';
import { UpgradeHandler } from './upgrade.ts';
import { UpstreamPools } from './upstreams.ts';

export interface ProxyServerOptions {
  readonly routeRef: RouteRef<RouteTable>;
  readonly logger: Logger;
  /** Upstream timeouts in ms; missing ones take DEFAULT_TIMEOUTS (connect 5s, read 60s, send 60s). */
  readonly timeouts?: Partial<ProxyTimeouts>;
  /**
   * Upstream pools to use (share one between the HTTP and HTTPS servers). When omitted the server
   * creates its own and closes it in close().
   */
  readonly pools?: UpstreamPools;
  /** Called once per request at its completion (metrics, access log). Must not throw. */
  readonly onComplete?: (exchange: Exchange) => void;
  /** Client keep-alive idle timeout in ms (default 75000, like ingress-nginx's keep-alive 75s). */
  readonly keepAliveTimeout?: number;
  /** Largest request body in bytes unless a route sets proxy-body-size (413 beyond); 0 = unlimited (default). */
  readonly maxBodyBytes?: number;
  /** The request head must arrive within this many ms (408 otherwise; --client-header-timeout). Default 60000. */
  readonly headersTimeout?: number;
  /** Client connections this listener holds at most; more are closed at accept (--max-connections). 0 = no limit (default). */
  readonly maxConnections?: number;
  /**
   * A TLS listener instead of plain HTTP (src/tls/https-server.ts): builds the node server from
   * the same server options; `proto` ("https") is sent as X-Forwarded-Proto.
   */
  readonly secure?: { readonly proto: string; create(options: ServerOptions<typeof ProxyRequest, typeof ProxyResponse>): Server };
}

export interface ProxyServer {
  readonly server: Server;
  readonly handler: RequestHandler;
  readonly pools: UpstreamPools;
  /** WebSocket / Upgrade requests (upgrade.ts): open upgraded connections, closeAll(). */
  readonly upgrades: UpgradeHandler;
  /** Listen and resolve with the bound address (port 0 picks a free port). */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /**
   * Stop accepting connections, let in-flight requests finish for up to `graceMs` (default 10000),
   * then cut what is left and close the upstream pools (if this server created them).
   */
  close(graceMs?: number): Promise<void>;
}

const CLIENT_ERROR_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

function rawErrorResponse(status: number): string {
  const text = CLIENT_ERROR_TEXT[status] ?? 'Bad Request';
  const body = `${text}\n`;
  return `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * Create the data-plane HTTP server. The caller listens (proxy.listen(port, host)) and swaps tables
 * through `routeRef`; the server reads `routeRef.current` once per request.
 */
export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  const timeouts: ProxyTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const ownPools = options.pools === undefined;
  const pools = options.pools ?? new UpstreamPools({ connectTimeout: timeouts.connectTimeout });
  const logger = options.logger;
  const proto = options.secure?.proto ?? 'http';
  const handler = new RequestHandler({
    routeRef: options.routeRef,
    logger,
    pools,
    timeouts,
    proto,
    onComplete: options.onComplete ?? null,
    maxBodyBytes: options.maxBodyBytes ?? 0,
  });

  const serverOptions = {
    IncomingMessage: ProxyRequest,
    ServerResponse: ProxyResponse,
    keepAliveTimeout: options.keepAliveTimeout ?? 75_000,
    // No limit on the whole request: large uploads stream for as long as they make progress
    // (sendTimeout is the idle limit); headers must still arrive within node's headersTimeout.
    requestTimeout: 0,
    // Slow-header clients (slowloris) get 408 after headersTimeout; checked often enough to be near it.
    headersTimeout: options.headersTimeout ?? 60_000,
    connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor((options.headersTimeout ?? 60_000) / 4))),
    // Requests without Content-Length/Transfer-Encoding skip the Readable life cycle (no
    // 'data'/'end' events to emit): measurably cheaper per request; such requests have no body to forward.
    optimizeEmptyRequests: true,
    // The Host checks are ours (request-handler.ts): a plain 400 body and a log line that says why.
    requireHostHeader: false,
  } as ServerOptions<typeof ProxyRequest, typeof ProxyResponse>;
  const server = options.secure !== undefined ? options.secure.create(serverOptions) : createServer(serverOptions);
  server.on('request', (req: ProxyRequest, res: ProxyResponse) => handler.handle(req, res));
  // Expect: 100-continue is answered by us, not by node at once: a request that is refused (413,
  // 404, 503, a redirect) gets its final status before the client sends the body.
  server.on('checkContinue', (req: ProxyRequest, res: ProxyResponse) => handler.handle(req, res, true));
  if (options.maxConnections !== undefined && options.maxConnections > 0) server.maxConnections = options.maxConnections;

  // Malformed requests never reach 'request': answer 400 (431/408) ourselves and say why.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    logger.info({ reason: ProxyErrorCode.BAD_REQUEST, status, err: { code: err.code, message: err.message } }, 'malformed request');
    const pending = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (pending === undefined || pending === null || !pending.headersSent) socket.end(rawErrorResponse(status));
    else socket.destroy();
  });

  // WebSocket and other Upgrade requests: routed like requests, then both sockets piped (upgrade.ts).
  const upgrades = new UpgradeHandler({ routeRef: options.routeRef, logger, proto, connectTimeout: timeouts.connectTimeout, readTimeout: timeouts.readTimeout });
  server.on('upgrade', (req: ProxyRequest, socket: Socket, head: Buffer) => upgrades.handle(req, socket, head));

  // CONNECT (authority-form targets) is not something an Ingress proxies.
  server.on('connect', (req: ProxyRequest, socket: Socket) => {
    logger.info({ reason: ProxyErrorCode.BAD_REQUEST, status: 400, method: req.method, target: req.url }, 'CONNECT is not supported');
    // On the HTTP/2 listener a CONNECT stream comes with a response object, not a raw socket.
    const response = socket as unknown as { writeHead?: (status: number, headers: string[]) => void; end(body: string): void };
    if (typeof response.writeHead === 'function') {
      response.writeHead(400, ['content-type', 'text/plain; charset=utf-8', 'content-length', '12']);
      response.end('Bad Request\n');
      return;
    }
    socket.end(rawErrorResponse(400));
  });

  return {
    server,
    handler,
    upgrades,
    pools,
    listen(port: number, host?: string): Promise<AddressInfo> {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close(graceMs = 10_000): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          server.closeAllConnections();
          upgrades.closeAll(); // node:http does not track upgraded sockets
          resolve();
        }, graceMs);
        timer.unref();
      });
      await Promise.race([closed, grace]);
      clearTimeout(timer);
      await closed;
      if (ownPools) await pools.close();
      await handler.timeoutPools.close();
    },
  };
}
