// Per-route behaviour set by annotations (CompiledRouteSettings, decided at compile time), applied
// after the match and before forwarding: redirects (temporal/permanent-redirect, ssl-redirect,
// app-root), source ranges (403), the request body limit (413), the rewrite of the forwarded path, per-route timeouts.
import { normalizeHost } from '../compile/host.ts';
import type { CompiledRoute } from '../compile/compiled-route.ts';
import { DEFAULT_ROUTE_SETTINGS, type CompiledRouteSettings } from '../compile/route-settings.ts';
import { ProxyErrorCode } from './errors.ts';
import { clientAddress, headerValue, setUpstreamHost } from './headers.ts';
import type { Exchange } from './exchange.ts';
import type { CompiledEndpoint } from '../compile/compiled-upstream.ts';
import { UpstreamPools, type UpstreamPool } from './upstreams.ts';
import { Admission, type RateLimitZone } from './rate-limit.ts';
import type { CompiledCors } from '../compile/cors.ts';

const PLAIN_TEXT = 'text/plain; charset=utf-8';
/** ACME HTTP-01 challenges must reach the solver over plain HTTP (never redirected to https). */
const ACME_CHALLENGE = '/.well-known/acme-challenge/';

export const RedirectReason = {
  ANNOTATION: 'SWY_REDIRECT_ANNOTATION',
  SSL: 'SWY_REDIRECT_SSL',
  APP_ROOT: 'SWY_REDIRECT_APP_ROOT',
} as const;

/** What the policy needs from the server it runs in (one object per server). */
export interface PolicyContext {
  /** "http" or "https": the listener's scheme. */
  readonly proto: string;
  /** Server-wide body limit in bytes (--proxy-body-size); 0 = unlimited. */
  readonly maxBodyBytes: number;
  /** Pools for routes with their own proxy-connect-timeout (one UpstreamPools per timeout). */
  readonly timeoutPools: ConnectTimeoutPools;
}

/**
 * Applies `route.settings` to the exchange. Returns true when the request was answered here
 * (redirect, 403 or 413): the caller must not forward it.
 * hot path: routes without annotations and requests without a body cost three field reads.
 */
export function applyRoutePolicy(context: PolicyContext, exchange: Exchange, route: CompiledRoute): boolean {
  const s = route.settings;
  // 1. Redirects answer before anything is sent upstream.
  if (s.mayRedirect && redirectIfNeeded(context, exchange, route, s)) return true;

  // CORS (nginx's rewrite phase, like the redirects): a preflight from an allowed origin is answered here.
  if (s.cors !== null && corsPreflight(exchange, s.cors)) return true;

  // 2. Rate limits (nginx's preaccess phase: after the redirects, before the source ranges).
  if (s.rateLimit !== null && !admitRate(exchange, s.rateLimit)) return true;

  // 3. Source ranges (nginx's access phase, after its rewrite-phase redirects): deny, then allow.
  if ((s.sourceDeny !== null || s.sourceAllow !== null) && !sourceAllowed(s, clientAddress(exchange.req.socket?.remoteAddress ?? ''))) {
    exchange.fail(ProxyErrorCode.FORBIDDEN_SOURCE);
    return true;
  }

  // 4. Body size: a declared Content-Length over the limit -> 413 now; a streamed body is counted
  //    as it is sent (Exchange.onBodySent -> 413 while the response has not started).
  if (exchange.hasBody) {
    const limit = s.maxBodyBytes >= 0 ? s.maxBodyBytes : context.maxBodyBytes;
    if (limit > 0) {
      const length = contentLength(exchange.req.rawHeaders);
      if (length > limit) {
        exchange.fail(ProxyErrorCode.BODY_TOO_LARGE);
        return true;
      }
      exchange.bodyLimit = limit;
    }
  }
  if (s === DEFAULT_ROUTE_SETTINGS) return false;

  // 5. Rewrite, upstream headers (upstream-vhost, x-forwarded-prefix) and timeouts.
  if (route.rewrite !== null) exchange.path = route.rewrite.apply(exchange.matchPath, exchange.path);
  const headers = exchange.headers;
  if (headers !== null) applyUpstreamHeaders(s, headers);
  if (s.readTimeout >= 0) exchange.readTimeout = exchange.headersTimeout = exchange.bodyTimeout = s.readTimeout;
  if (s.sendTimeout >= 0) exchange.sendTimeout = s.sendTimeout;
  if (s.tries > 0) exchange.tries = s.tries; // retry.ts: 0 = the balancer's (--proxy-next-upstream-tries)
  return false;
}

/**
 * enable-cors for this request: sets exchange.corsOrigin when its Origin is allowed, and answers an
 * allowed OPTIONS itself (204, the CORS headers, an empty text/plain body, as ingress-nginx). True
 * when answered.
 */
function corsPreflight(exchange: Exchange, cors: CompiledCors): boolean {
  const allow = cors.allowOrigin(headerValue(exchange.req.rawHeaders, 'origin'));
  if (allow === null) return false;
  if (exchange.method !== 'OPTIONS') {
    exchange.corsOrigin = allow;
    return false;
  }
  const res = exchange.res;
  exchange.status = 204;
  exchange.context.logger.debug({ reason: 'SWY_CORS_PREFLIGHT', route: exchange.route?.name ?? null, host: exchange.host, path: exchange.matchPath, origin: allow, requestId: exchange.requestId }, 'CORS preflight answered');
  if (!res.headersSent && !res.destroyed) {
    exchange.closeIfBodyUnread(false);
    res.writeHead(204, [...cors.headers(allow), 'content-type', 'text/plain charset=UTF-8', 'x-request-id', exchange.requestId]);
    res.end();
  }
  exchange.complete();
  return true;
}

/**
 * The route's rate limits for this request's client; false when it was answered (503). An admitted
 * request counted by limit-connections is released when the exchange completes.
 */
function admitRate(exchange: Exchange, zone: RateLimitZone): boolean {
  const address = clientAddress(exchange.req.socket?.remoteAddress ?? '');
  const admission = zone.admit(address, performance.now());
  if (admission !== Admission.OK) {
    exchange.fail(ProxyErrorCode.RATE_LIMITED, new Error(`client ${address}: ${rateLimitReason(admission, zone)}`));
    return false;
  }
  if (zone.countsInFlight) exchange.holdRateLimit(zone, address);
  return true;
}

/** What the log line says about a refused request. */
export function rateLimitReason(admission: Admission, zone: RateLimitZone): string {
  const l = zone.limit;
  if (admission === Admission.CONNECTIONS) return `limit-connections ${l.connections} reached (zone ${l.zone})`;
  if (admission === Admission.ZONE_FULL) return `the rate-limit zone ${l.zone} tracks its maximum of client addresses`;
  const parts: string[] = [];
  if (l.rps > 0) parts.push(`limit-rps ${l.rps} (burst ${l.rpsBurst})`);
  if (l.rpm > 0) parts.push(`limit-rpm ${l.rpm} (burst ${l.rpmBurst})`);
  return `${parts.join(' / ')} exceeded (zone ${l.zone})`;
}

/** upstream-vhost and x-forwarded-prefix on the upstream request's headers (also for upgrades). */
export function applyUpstreamHeaders(s: CompiledRouteSettings, headers: string[]): void {
  if (s.upstreamVhost !== null) setUpstreamHost(headers, s.upstreamVhost);
  if (s.forwardedPrefix !== null) headers.push('x-forwarded-prefix', s.forwardedPrefix);
}

/**
 * The client's address (clientAddress of the connection's peer; "" once it is gone) against the
 * route's denylist-, then allowlist-source-range. Also used for upgrade requests (upgrade.ts). Rare path.
 */
export function sourceAllowed(s: CompiledRouteSettings, address: string): boolean {
  if (s.sourceDeny === null && s.sourceAllow === null) return true;
  if (address === '') return false;
  if (s.sourceDeny !== null && s.sourceDeny.has(address)) return false;
  return s.sourceAllow === null || s.sourceAllow.has(address);
}

function redirectIfNeeded(context: PolicyContext, exchange: Exchange, route: CompiledRoute, s: CompiledRouteSettings): boolean {
  if (s.redirectCode !== 0) {
    sendRedirect(exchange, s.redirectCode, s.redirectLocation, RedirectReason.ANNOTATION);
    return true;
  }
  if (s.sslRedirect && context.proto === 'http' && !exchange.matchPath.startsWith(ACME_CHALLENGE)) {
    // The external https port is 443 (a Service maps it to --https-port), so the port is dropped.
    const host = normalizeHost(exchange.host ?? undefined) || (route.host.includes('*') ? '' : route.host);
    if (host !== '') {
      sendRedirect(exchange, 308, `https://${host}${exchange.path}`, RedirectReason.SSL);
      return true;
    }
  }
  if (s.appRoot !== null && exchange.matchPath === '/') {
    sendRedirect(exchange, 302, s.appRoot, RedirectReason.APP_ROOT);
    return true;
  }
  return false;
}

/** Answers with a redirect (short plain-text body), logs why at debug level, completes the exchange. */
export function sendRedirect(exchange: Exchange, status: number, location: string, reason: string): void {
  const res = exchange.res;
  exchange.status = status;
  exchange.context.logger.debug(
    { reason, status, route: exchange.route?.name ?? null, host: exchange.host, path: exchange.matchPath, location, requestId: exchange.requestId },
    'redirect',
  );
  if (!res.headersSent && !res.destroyed) {
    const body = `Redirecting to ${location}\n`;
    exchange.closeIfBodyUnread(false);
    res.writeHead(status, [
      'location', location,
      'content-type', PLAIN_TEXT,
      'content-length', String(Buffer.byteLength(body)),
      'x-request-id', exchange.requestId,
    ]);
    res.end(body);
  }
  exchange.complete();
}

/** Content-Length from raw headers, or -1 (chunked / absent). Only called for requests with a body. */
function contentLength(raw: readonly string[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      const n = Number(raw[i + 1]);
      return Number.isFinite(n) ? n : -1;
    }
  }
  return -1;
}

/**
 * The pool a request of a route uses for `endpoint`: the shared one cached on the endpoint, or,
 * for routes with their own connect timeout or backend-protocol HTTPS, the route's kind of pool.
 * hot path (the shared case is one field read)
 */
export function poolFor(context: { readonly pools: UpstreamPools; readonly timeoutPools: ConnectTimeoutPools }, settings: CompiledRouteSettings, endpoint: CompiledEndpoint): UpstreamPool {
  if (!settings.ownPools) {
    let pool = endpoint.dispatcher as UpstreamPool | null;
    if (pool === null || pool.closed) endpoint.dispatcher = pool = context.pools.get(endpoint.origin);
    return pool;
  }
  return context.timeoutPools.get(settings.connectTimeout, settings.backendHttps).get(settings.backendHttps ? httpsOrigin(endpoint) : endpoint.origin);
}

const httpsOrigins = new WeakMap<CompiledEndpoint, string>();

/** "https://10.0.0.1:8443" for an endpoint (built once per compiled endpoint). */
function httpsOrigin(endpoint: CompiledEndpoint): string {
  let origin = httpsOrigins.get(endpoint);
  if (origin === undefined) httpsOrigins.set(endpoint, (origin = 'https' + endpoint.origin.slice(4)));
  return origin;
}

/**
 * Upstream pools for routes with their own proxy-connect-timeout or backend-protocol HTTPS: undici
 * sets the connect timeout and TLS options per pool, so each (timeout, TLS) pair gets its own
 * UpstreamPools (same origins, separate connections). Few distinct values exist in practice; each
 * is created on first use.
 */
export class ConnectTimeoutPools {
  readonly #byKey = new Map<string, UpstreamPools>();
  readonly #defaultConnectTimeout: number;

  /** `defaultConnectTimeout`: used for HTTPS routes without their own (--proxy-connect-timeout). */
  constructor(defaultConnectTimeout = 5000) {
    this.#defaultConnectTimeout = defaultConnectTimeout;
  }

  /** `connectTimeout` -1 = the default; `https`: TLS without certificate verification. */
  get(connectTimeout: number, https = false): UpstreamPools {
    const timeout = connectTimeout >= 0 ? connectTimeout : this.#defaultConnectTimeout;
    const key = https ? `s${timeout}` : `${timeout}`;
    let pools = this.#byKey.get(key);
    if (pools === undefined) this.#byKey.set(key, (pools = new UpstreamPools({ connectTimeout: timeout, insecureTls: https })));
    return pools;
  }

  async close(): Promise<void> {
    const all = [...this.#byKey.values()];
    this.#byKey.clear();
    await Promise.all(all.map((p) => p.close()));
  }
}
