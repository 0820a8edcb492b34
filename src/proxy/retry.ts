// proxy-next-upstream (README "Resilience"): a request that failed before any response byte was
// sent is re-sent to a DIFFERENT endpoint of the same upstream, up to `tries` attempts in all
// (ingress-nginx's proxy-next-upstream "error timeout" and proxy-next-upstream-tries 3):
// - connection failures (refused, connect timeout, unreachable): any method, the request never left;
// - a connection reset before the response head: idempotent methods only (the upstream may have
//   acted on it);
// - never for requests with a body (it streams through and cannot be replayed), never after the
//   response started, never for the proxy's own aborts (read/send timeouts, client gone, 413).
import type { CompiledEndpoint } from '../compile/compiled-upstream.ts';
import { ProxyError, ProxyErrorCode, classifyUpstreamError } from './errors.ts';
import type { Exchange } from './exchange.ts';
import type { UpstreamPool, UpstreamPools } from './upstreams.ts';
import { DEFAULT_ROUTE_SETTINGS } from '../compile/route-settings.ts';
import { poolFor, type ConnectTimeoutPools } from './route-policy.ts';

const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Proxy error codes for which the request certainly never reached the upstream application. */
function isConnectFailure(code: ProxyErrorCode): boolean {
  return code === ProxyErrorCode.UPSTREAM_REFUSED || code === ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT || code === ProxyErrorCode.UPSTREAM_UNREACHABLE;
}

/**
 * Called by Exchange.onResponseError. Re-sends the request to another endpoint and returns true,
 * or returns false (the caller answers with the error as before). Not on the success path.
 */
export function retryOnAnotherEndpoint(exchange: Exchange, err: Error): boolean {
  const balancer = exchange.balancer;
  const endpoint = exchange.endpoint;
  if (balancer === null || endpoint === null || exchange.done || exchange.res.headersSent || exchange.hasBody) return false;
  if (err instanceof ProxyError) return false;
  if (exchange.req.errored !== null || (exchange.req.destroyed && !exchange.req.complete)) return false;
  const code = classifyUpstreamError(err);
  if (!isConnectFailure(code) && !(code === ProxyErrorCode.UPSTREAM_RESET && IDEMPOTENT.has(exchange.method))) return false;
  const tries = exchange.tries > 0 ? exchange.tries : balancer.tries;
  const tried = (exchange.tried ??= []);
  if (tried.length + 1 >= tries) return false;
  tried.push(endpoint);
  const next = balancer.pick(exchange, tried);
  if (next === undefined) return false;

  // The failed attempt counts against its endpoint (passive health) and releases its pool slot.
  balancer.failed(endpoint, code);
  const pool = exchange.upstreamPool;
  if (pool !== null) pool.inflight--;
  exchange.upstreamPool = null;
  exchange.controller = null;
  if (exchange.timer !== null) {
    clearTimeout(exchange.timer);
    exchange.timer = null;
  }
  exchange.context.logger.info(
    { reason: code, route: exchange.route?.name ?? null, endpoint: endpoint.origin, next: next.origin, attempt: tried.length + 1, tries, requestId: exchange.requestId },
    'upstream attempt failed: retrying on another endpoint',
  );
  exchange.endpoint = next;
  exchange.forward(poolOf(exchange, next), performance.now());
  return true;
}

/** The pool for the next attempt: the same kind the first attempt used (route-policy.ts poolFor). */
function poolOf(exchange: Exchange, endpoint: CompiledEndpoint): UpstreamPool {
  const context = exchange.context as unknown as { pools: UpstreamPools; timeoutPools: ConnectTimeoutPools };
  return poolFor(context, exchange.route?.settings ?? DEFAULT_ROUTE_SETTINGS, endpoint);
}
