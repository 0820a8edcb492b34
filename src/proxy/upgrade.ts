// WebSocket and other Upgrade requests (node:http 'upgrade' event), proxied transparently:
//   1. route like any request (one read of routeRef.current, same normalization, match, canary
//      decision, ssl-redirect / redirect annotations, source ranges, round robin; rewrite-target,
//      upstream-vhost and x-forwarded-prefix apply to what is sent);
//   2. send the request upstream with node:http (Connection: upgrade + the client's Upgrade header,
//      the usual X-Forwarded-* / X-Request-ID), within the connect and read timeouts;
//   3. 101 -> the upstream's 101 head goes to the client, then both sockets are piped (stream.pipe:
//      backpressure both ways; an end is passed on as a half-close; an error or close on one side
//      destroys the other). Any other status is passed on as a normal response that closes the
//      client connection (the client never ends up talking raw to the upstream without a 101).
//   Failures before the upgrade answer like ordinary requests: 400/404/503, 502 (refused, reset),
//   504 (connect or read timeout), each with a short body and a log line.
// An upgraded connection does not depend on the route table: swaps never touch it. Open ones are
// tracked (`connections`, closeAll()) for shutdown; the drain also counts them through 'connection'.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { CompiledEndpoint } from '../compile/compiled-upstream.ts';
import type { CompiledRoute } from '../compile/compiled-route.ts';
import { isCleanPath, parseRequestTarget, pathEnd } from '../compile/path.ts';
import { normalizeHost } from '../compile/host.ts';
import type { RouteTable } from '../compile/route-table.ts';
import type { RouteRef } from '../runtime/route-ref.ts';
import { ProxyErrorCode, classifyUpstreamError, errorSpec } from './errors.ts';
import { applyUpstreamHeaders, rateLimitReason, sourceAllowed } from './route-policy.ts';
import { Admission } from './rate-limit.ts';
import { buildRequestHeaders, clientAddress, headerValue, hostProblem, setRequestHost, type ForwardedValues, type RequestHeaderFacts } from './headers.ts';

export interface UpgradeHandlerOptions {
  readonly routeRef: RouteRef<RouteTable>;
  readonly logger: Logger;
  /** "http" or "https": the listener's scheme (X-Forwarded-Proto, ssl-redirect). */
  readonly proto: string;
  /** Upstream connect timeout, ms (504). */
  readonly connectTimeout: number;
  /** Wait for the upstream's response head, ms (504). */
  readonly readTimeout: number;
}

const ACME_CHALLENGE = '/.well-known/acme-challenge/';
// Response headers not passed on when a non-101 answer is relayed with "Connection: close".
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'trailer', 'te', 'content-length']);

export class UpgradeHandler {
  readonly #o: UpgradeHandlerOptions;
  /** Client sockets of upgraded connections that are open now. */
  readonly #open = new Set<Duplex>();
  /** Upgrades completed (101 relayed) since start. */
  upgraded = 0;

  constructor(options: UpgradeHandlerOptions) {
    this.#o = options;
  }

  /** Upgraded connections open now. */
  get connections(): number {
    return this.#open.size;
  }

  /** Cut every upgraded connection (shutdown after the drain timeout). */
  closeAll(): void {
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
  }

  /** node:http 'upgrade' listener. Never throws. */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', noop); // a client reset before we attach the pipes must not crash anything
    try {
      this.#route(req, socket, head);
    } catch (err) {
      this.#fail(socket, ProxyErrorCode.INTERNAL, { err: errInfo(err) });
    }
  }

  #route(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const table = this.#o.routeRef.current;
    const facts: RequestHeaderFacts = { host: null, duplicateHost: false, hasBody: false, requestId: '' };
    const tcp = socketOf(socket);
    const fwd: ForwardedValues = {
      clientIp: clientAddress(tcp?.remoteAddress ?? ''),
      proto: this.#o.proto,
      port: String(tcp?.localPort ?? ''),
    };
    const headers = buildRequestHeaders(req.rawHeaders, fwd, facts);
    const upgrade = headerValue(req.rawHeaders, 'upgrade') ?? 'websocket';
    headers.push('connection', 'upgrade', 'upgrade', upgrade);

    // The target, normalized as for any request.
    const url = req.url ?? '';
    const end = pathEnd(url);
    let host = facts.host;
    let path: string;
    let matchPath: string;
    if (isCleanPath(url, end)) {
      matchPath = url.slice(0, end);
      path = url;
    } else {
      const target = parseRequestTarget(url);
      if (target === null) return this.#fail(socket, ProxyErrorCode.BAD_PATH, { path: url, requestId: facts.requestId });
      matchPath = target.path;
      path = target.path + target.query;
      if (target.authority !== null) {
        host = target.authority;
        facts.duplicateHost = false;
        setRequestHost(headers, host);
      }
    }
    const where = { host, path: matchPath, requestId: facts.requestId, upgrade };
    const problem = hostProblem(host, facts.duplicateHost, req.httpVersionMajor === 1 && req.httpVersionMinor === 1);
    if (problem !== null) return this.#fail(socket, ProxyErrorCode.BAD_HOST, { ...where, err: { message: problem } });

    const route = table.find(host ?? undefined, matchPath);
    if (route === undefined) return this.#fail(socket, ProxyErrorCode.NO_ROUTE, where);
    const redirect = redirectOf(route, this.#o.proto, host, matchPath, path);
    if (redirect !== null) {
      this.#o.logger.debug({ ...where, route: route.name, status: redirect.status, location: redirect.location }, 'redirect (upgrade request)');
      return endRaw(socket, redirect.status, `Redirecting to ${redirect.location}\n`, ['location', redirect.location, 'x-request-id', facts.requestId]);
    }
    const zone = route.settings.rateLimit;
    if (zone !== null) {
      const admission = zone.admit(fwd.clientIp, performance.now());
      if (admission !== Admission.OK) {
        return this.#fail(socket, ProxyErrorCode.RATE_LIMITED, { ...where, route: route.name, client: fwd.clientIp, err: { message: rateLimitReason(admission, zone) } });
      }
      // limit-connections counts an upgraded connection until it closes, like nginx's limit_conn.
      if (zone.countsInFlight) socket.once('close', () => zone.release(fwd.clientIp));
    }
    if (!sourceAllowed(route.settings, fwd.clientIp)) return this.#fail(socket, ProxyErrorCode.FORBIDDEN_SOURCE, { ...where, route: route.name, client: fwd.clientIp });
    applyUpstreamHeaders(route.settings, headers);
    if (route.rewrite !== null) path = route.rewrite.apply(matchPath, path);
    let upstream = route.upstream;
    if (route.canaryRule !== null) {
      const canary = route.canaryRule.decideRaw(req.rawHeaders);
      if (canary !== null) upstream = canary.upstream;
    }
    if (upstream === null) return this.#fail(socket, ProxyErrorCode.NO_UPSTREAM, { ...where, route: route.name });
    const endpoint = upstream.pick();
    if (endpoint === undefined) return this.#fail(socket, ProxyErrorCode.NO_ENDPOINT, { ...where, route: route.name });
    this.#forward(req, socket, head, route, endpoint, headers, path, { ...where, route: route.name, endpoint: endpoint.origin });
  }

  #forward(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    route: CompiledRoute,
    endpoint: CompiledEndpoint,
    headers: string[],
    path: string,
    where: Record<string, unknown>,
  ): void {
    const s = route.settings;
    const connectTimeout = s.connectTimeout >= 0 ? s.connectTimeout : this.#o.connectTimeout;
    const readTimeout = s.readTimeout >= 0 ? s.readTimeout : this.#o.readTimeout;
    const tls = s.backendHttps;
    const request = (tls ? httpsRequest : httpRequest)({
      host: endpoint.address,
      port: endpoint.port,
      method: req.method,
      path,
      headers,
      agent: false,
      setHost: false,
      // backend-protocol HTTPS: like nginx's proxy_ssl_verify off (the default), the upstream's
      // certificate is not verified; SNI is the request's host.
      ...(tls ? { rejectUnauthorized: false, servername: sniName(where.host) } : {}),
    });
    let settled = false;
    let connected = false;
    const onTimeout = (): void => {
      if (settled) return;
      settled = true;
      request.destroy();
      this.#fail(socket, connected ? ProxyErrorCode.UPSTREAM_TIMEOUT : ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT, where);
    };
    // Connect timeout first; once connected, the wait for the response head (read timeout).
    let timer = setTimeout(onTimeout, connectTimeout);
    request.on('socket', (upstreamSocket: Socket) => {
      const onConnect = (): void => {
        connected = true;
        clearTimeout(timer);
        if (!settled) timer = setTimeout(onTimeout, readTimeout);
      };
      if (upstreamSocket.connecting) upstreamSocket.once(tls ? 'secureConnect' : 'connect', onConnect);
      else onConnect();
    });
    request.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.#fail(socket, classifyUpstreamError(err), { ...where, err: errInfo(err) });
    });
    // The client went away before the upstream answered: abort.
    const onClientClose = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
    };
    socket.once('close', onClientClose);

    request.on('upgrade', (res: IncomingMessage, upstreamSocket: Socket, upstreamHead: Buffer) => {
      clearTimeout(timer);
      socket.off('close', onClientClose);
      if (settled) {
        upstreamSocket.destroy();
        return;
      }
      settled = true;
      this.#splice(socket, head, res, upstreamSocket, upstreamHead, where);
    });
    request.on('response', (res: IncomingMessage) => {
      clearTimeout(timer);
      socket.off('close', onClientClose);
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      relayResponse(socket, res);
      this.#o.logger.debug({ ...where, status: res.statusCode }, 'upgrade refused by the upstream; its response was relayed');
    });
    // The request has no body of its own; `head` (bytes after the request head) is written after the 101.
    request.end();
  }

  /** 101: relay the head, then pipe both ways until either side closes. */
  #splice(socket: Duplex, head: Buffer, res: IncomingMessage, upstream: Socket, upstreamHead: Buffer, where: Record<string, unknown>): void {
    if (socket.destroyed) {
      upstream.destroy();
      return;
    }
    let text = `HTTP/1.1 101 ${res.statusMessage || 'Switching Protocols'}\r\n`;
    const raw = res.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
    socket.write(text + '\r\n');
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstream.write(head);
    upstream.setNoDelay(true);
    upstream.setKeepAlive(true, 30_000);
    const tcp = socketOf(socket);
    tcp?.setNoDelay(true);
    tcp?.setKeepAlive(true, 30_000);
    // 'timeout' on the client socket (server.timeout) must not cut a quiet WebSocket.
    tcp?.setTimeout(0);

    this.#open.add(socket);
    this.upgraded++;
    upstream.on('error', noop);
    socket.pipe(upstream);
    upstream.pipe(socket);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      this.#open.delete(socket);
      socket.destroy();
      upstream.destroy();
      this.#o.logger.debug(where, 'upgraded connection closed');
    };
    // A half-close travels through pipe(); a full close or an error on either side ends both.
    socket.once('close', close);
    upstream.once('close', close);
    this.#o.logger.debug(where, 'connection upgraded');
  }

  #fail(socket: Duplex, code: ProxyErrorCode, fields: Record<string, unknown>): void {
    const spec = errorSpec(code);
    const log = { reason: code, status: spec.status, ...fields };
    if (spec.status >= 500) this.#o.logger.warn(log, `${spec.message} (upgrade request)`);
    else this.#o.logger.info(log, `${spec.message} (upgrade request)`);
    endRaw(socket, spec.status, spec.body.toString(), typeof fields.requestId === 'string' ? ['x-request-id', fields.requestId] : []);
  }
}

function noop(): void {}

function socketOf(socket: Duplex): Socket | null {
  return typeof (socket as Socket).setNoDelay === 'function' ? (socket as Socket) : null;
}

function errInfo(err: unknown): { code?: string; message: string } {
  return err instanceof Error ? { code: (err as NodeJS.ErrnoException).code, message: err.message } : { message: String(err) };
}

function sniName(host: unknown): string | undefined {
  if (typeof host !== 'string') return undefined;
  const h = normalizeHost(host);
  return h === '' || h.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(h) ? undefined : h;
}

/** The first value of a header in rawHeaders (case-insensitive), or null. */
/** The redirect annotations of a route, as for ordinary requests (route-policy.ts). */
function redirectOf(route: CompiledRoute, proto: string, host: string | null, matchPath: string, path: string): { status: number; location: string } | null {
  const s = route.settings;
  if (!s.mayRedirect) return null;
  if (s.redirectCode !== 0) return { status: s.redirectCode, location: s.redirectLocation };
  if (s.sslRedirect && proto === 'http' && !matchPath.startsWith(ACME_CHALLENGE)) {
    const h = normalizeHost(host ?? undefined);
    if (h !== '') return { status: 308, location: `https://${h}${path}` };
  }
  if (s.appRoot !== null && matchPath === '/') return { status: 302, location: s.appRoot };
  return null;
}

const STATUS_TEXT: Record<number, string> = {
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 404: 'Not Found', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** A complete response written on the raw socket, which is then closed. */
function endRaw(socket: Duplex, status: number, body: string, extra: readonly string[]): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  let text = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  for (let i = 0; i < extra.length; i += 2) text += `${extra[i]}: ${extra[i + 1]}\r\n`;
  socket.end(`${text}connection: close\r\n\r\n${body}`);
}

/** A non-101 upstream answer, relayed as a response delimited by the connection's close. */
function relayResponse(socket: Duplex, res: IncomingMessage): void {
  if (socket.destroyed) {
    res.destroy();
    return;
  }
  let text = `HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage || STATUS_TEXT[res.statusCode ?? 502] || ''}\r\n`;
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (!DROPPED_RESPONSE_HEADERS.has(raw[i].toLowerCase())) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  socket.write(`${text}connection: close\r\n\r\n`);
  res.pipe(socket);
  res.on('error', () => socket.destroy());
  socket.once('close', () => res.destroy());
}
