// HTTP/2 from clients on the TLS listener (ALPN "h2", HTTP/1.1 fallback on the same port), proxied
// to HTTP/1.1 upstreams by the same RequestHandler. node's compatibility API gives request and
// response objects close to node:http's; the differences the handler would trip over are fixed in
// these subclasses, once per request:
//   - rawHeaders without pseudo-headers; ":authority" becomes Host (when there is no Host; a Host
//     that differs from it is a 400, see the getter), split
//     Cookie headers are joined with "; " (RFC 9113 8.2.3: required towards HTTP/1.1);
//   - a request whose HEADERS frame did not end the stream has a body even without Content-Length:
//     it is marked "Transfer-Encoding: chunked" (dropped as hop-by-hop, but it tells the handler
//     there is a body, which undici then sends chunked);
//   - an `exchange` slot, like ProxyRequest/ProxyResponse.
// Response headers reach the client without the HTTP/1.1 connection headers (buildResponseHeaders
// already drops them; HTTP/2 forbids them). The upstream's reason phrase does not exist in HTTP/2.
import { Http2ServerRequest, Http2ServerResponse, createSecureServer, type Http2SecureServer, type SecureServerOptions } from 'node:http2';
import type { Socket } from 'node:net';
import type { Exchange } from './exchange.ts';

export class H2ProxyRequest extends Http2ServerRequest {
  exchange: Exchange | null = null;
  /** rawHeaders as HTTP/1.1 sees them (built on first read). */
  h1RawHeaders: string[] | null = null;
}

const h2RawHeaders = Object.getOwnPropertyDescriptor(Http2ServerRequest.prototype, 'rawHeaders')?.get;
if (h2RawHeaders === undefined) throw new Error('node:http2 Http2ServerRequest has no rawHeaders getter');

// rawHeaders of an HTTP/2 request as an HTTP/1.1 request would carry them (see the header comment).
Object.defineProperty(H2ProxyRequest.prototype, 'rawHeaders', {
  configurable: true,
  get(this: H2ProxyRequest): string[] {
    if (this.h1RawHeaders !== null) return this.h1RawHeaders;
    const source = h2RawHeaders.call(this) as string[];
    const out: string[] = [];
    let authority: string | null = null;
    let host: string | null = null;
    let hasLength = false;
    let cookie: string | null = null;
    for (let i = 0; i < source.length; i += 2) {
      const name = source[i];
      const value = source[i + 1];
      if (name.charCodeAt(0) === 58 /* ":" */) {
        if (name === ':authority') authority = value;
        continue;
      }
      if (name === 'cookie') {
        cookie = cookie === null ? value : `${cookie}; ${value}`;
        continue;
      }
      if (name === 'host') host = value;
      else if (name === 'content-length') hasLength = true;
      out.push(name, value);
    }
    // A Host that names another entity than :authority is malformed (RFC 9113 8.3.1): both are
    // passed on, and the handler's repeated-Host check answers 400.
    if (authority !== null && (host === null || host.toLowerCase() !== authority.toLowerCase())) out.push('host', authority);
    if (cookie !== null) out.push('cookie', cookie);
    if (!hasLength && !this.stream.endAfterHeaders) out.push('transfer-encoding', 'chunked');
    this.h1RawHeaders = out;
    return out;
  },
});

export class H2ProxyResponse extends Http2ServerResponse {
  exchange: Exchange | null = null;
}

/**
 * An HTTP/2 + HTTP/1.1 TLS server (ALPN) with node:http's connection-closing methods, which the
 * proxy's close() and the drain use: idle = HTTP/2 sessions get GOAWAY (in-flight streams finish);
 * all = every connection is cut.
 */
export function createH2SecureServer(options: SecureServerOptions): Http2SecureServer & { closeIdleConnections(): void; closeAllConnections(): void } {
  const server = createSecureServer({
    allowHTTP1: true,
    // node:http and node:https servers turn Nagle's algorithm off on every accepted socket; node's
    // HTTP/2 server does not. With it on, the last TLS record of a response larger than one record
    // (16 KiB) waited for the client's delayed ACK: 20-40 ms per response, HTTP/1.1 and h2 alike.
    noDelay: true,
    ...options,
    Http2ServerRequest: H2ProxyRequest,
    Http2ServerResponse: H2ProxyResponse,
  } as SecureServerOptions) as Http2SecureServer & { closeIdleConnections(): void; closeAllConnections(): void };
  const sockets = new Set<Socket>();
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.closeIdleConnections = () => {
    for (const session of sessions) if (!session.closed) session.close();
  };
  server.closeAllConnections = () => {
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
  };
  return server;
}
