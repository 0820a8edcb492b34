import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { RouteTable } from '../compile/route-table.ts';
import { isCleanPath, parseRequestTarget, pathEnd } from '../compile/path.ts';
import type { RouteRef } from '../runtime/route-ref.ts';
import { ProxyErrorCode } from './errors.ts';
import { Exchange, onResponseClose, type ExchangeContext, type ProxyRequest, type ProxyResponse } from './exchange.ts';
import { buildRequestHeaders, clientAddress, hostProblem, setRequestHost, type ForwardedValues } from './headers.ts';
import { decideCanary } from './balancers/affinity-canary.ts';
import { applyRoutePolicy, ConnectTimeoutPools, poolFor, type PolicyContext } from './route-policy.ts';
import type { UpstreamPool, UpstreamPools } from './upstreams.ts';

export interface ProxyTimeouts {
  /** Upstream connect timeout, ms (504 SWY_ERR_UPSTREAM_CONNECT_TIMEOUT). Default 5000. */
  readonly connectTimeout: number;
  /** Upstream response header wait and body idle timeout, ms (504 before headers). Default 60000. */
  readonly readTimeout: number;
  /** Request body send idle timeout, ms (504 SWY_ERR_UPSTREAM_SEND_TIMEOUT). Default 60000. */
  readonly sendTimeout: number;
}

export const DEFAULT_TIMEOUTS: ProxyTimeouts = { connectTimeout: 5000, readTimeout: 60_000, sendTimeout: 60_000 };

export interface RequestHandlerOptions {
  readonly routeRef: RouteRef<RouteTable>;
  readonly logger: Logger;
  readonly pools: UpstreamPools;
  readonly timeouts: ProxyTimeouts;
  /** "http" or "https": sent as X-Forwarded-Proto. */
  readonly proto: string;
  readonly onComplete: ((exchange: Exchange) => void) | null;
  /** Largest request body in bytes unless a route sets proxy-body-size; 0 = unlimited (default). */
  readonly maxBodyBytes?: number;
}

/** Per-connection forwarded values, cached on the socket's first request. */
class SocketForwarded implements ForwardedValues {
  readonly clientIp: string;
  readonly proto: string;
  readonly port: string;
  constructor(socket: Socket, proto: string) {
    this.clientIp = clientAddress(socket.remoteAddress ?? '');
    this.proto = proto;
    this.port = String(socket.localPort ?? '');
  }
}

const kForwarded = Symbol('switchyard.forwarded');
type ForwardedSocket = Socket & { [kForwarded]?: SocketForwarded };

/**
 * The per-request entry point: read the table once, normalize the target, match, pick an
 * endpoint, forward. Everything else (headers, streaming, errors, completion) is on Exchange.
 */
export class RequestHandler implements ExchangeContext, PolicyContext {
  readonly routeRef: RouteRef<RouteTable>;
  readonly logger: Logger;
  readonly pools: UpstreamPools;
  readonly readTimeout: number;
  readonly sendTimeout: number;
  readonly proto: string;
  readonly onComplete: ((exchange: Exchange) => void) | null;
  readonly maxBodyBytes: number;
  /** Pools of routes with their own proxy-connect-timeout (route-policy.ts). */
  readonly timeoutPools: ConnectTimeoutPools;

  constructor(options: RequestHandlerOptions) {
    this.routeRef = options.routeRef;
    this.logger = options.logger;
    this.pools = options.pools;
    this.readTimeout = options.timeouts.readTimeout;
    this.sendTimeout = options.timeouts.sendTimeout;
    this.proto = options.proto;
    this.onComplete = options.onComplete;
    this.maxBodyBytes = options.maxBodyBytes ?? 0;
    this.timeoutPools = new ConnectTimeoutPools(options.timeouts.connectTimeout);
  }

  /**
   * node:http 'request' listener, and 'checkContinue' (expectContinue: "100 Continue" is sent once
   * the request is about to be forwarded: Exchange.forward).
   * hot path
   */
  handle(req: ProxyRequest, res: ProxyResponse, expectContinue = false): void {
    // The one read of shared state: this request uses this table for its whole life.
    const table = this.routeRef.current;
    const now = performance.now();
    const exchange = new Exchange(this, req, res, now);
    if (expectContinue) exchange.expectContinue = true;
    exchange.generation = table.generation;
    req.exchange = exchange;
    res.exchange = exchange;
    res.on('close', onResponseClose);
    try {
      this.route(table, exchange, req, now);
    } catch (err) {
      // A bug must cost one request, never the process.
      exchange.fail(ProxyErrorCode.INTERNAL, err);
    }
  }

  /** hot path */
  route(table: RouteTable, exchange: Exchange, req: ProxyRequest, now: number): void {
    // 1. Headers first (one pass gives Host, body presence and the upstream header list).
    const socket = req.socket as ForwardedSocket;
    let fwd = socket[kForwarded];
    if (fwd === undefined) fwd = socket[kForwarded] = new SocketForwarded(socket, this.proto);
    const headers = (exchange.headers = buildRequestHeaders(req.rawHeaders, fwd, exchange));

    // 2. Request target: fast path for clean origin-form paths, else full parse + normalization.
    const url = req.url ?? '';
    const end = pathEnd(url);
    let host = exchange.host;
    if (isCleanPath(url, end)) {
      exchange.matchPath = end === url.length ? url : url.slice(0, end);
      exchange.path = url;
    } else {
      const target = parseRequestTarget(url);
      if (target === null) {
        exchange.matchPath = url;
        exchange.fail(ProxyErrorCode.BAD_PATH);
        return;
      }
      exchange.matchPath = target.path;
      exchange.path = target.path + target.query;
      if (target.authority !== null) {
        // absolute-form: its authority replaces Host for routing and upstream alike (RFC 9112 3.2.2)
        host = exchange.host = target.authority;
        exchange.duplicateHost = false;
        setRequestHost(headers, host);
      }
    }
    // node's own Host check is off (server.ts): it answered with an empty 400 and no log line.
    const problem = hostProblem(host, exchange.duplicateHost, req.httpVersionMajor === 1 && req.httpVersionMinor === 1);
    if (problem !== null) {
      exchange.fail(ProxyErrorCode.BAD_HOST, new Error(problem));
      return;
    }

    // nginx answers TRACE with 405 before routing; so do we (a backend would echo cookies back).
    if (exchange.method === 'TRACE') {
      exchange.fail(ProxyErrorCode.METHOD_NOT_ALLOWED);
      return;
    }

    // 3. Match, resolve, pick.
    const route = table.find(host ?? undefined, exchange.matchPath);
    if (route === undefined) {
      exchange.fail(ProxyErrorCode.NO_ROUTE);
      return;
    }
    exchange.route = route;
    // Annotation behaviour: redirects, 413, rewrite, per-route timeouts (route-policy.ts).
    if (applyRoutePolicy(this, exchange, route)) return;
    let upstream = route.upstream;
    const canaryRule = route.canaryRule;
    if (canaryRule !== null) {
      // Canary decision (header, cookie, weight; canary-rule.ts) on rawHeaders, so node never builds
      // req.headers: a chosen canary replaces the upstream.
      // Session affinity first (a pinned client stays on its side: balancers/affinity-canary.ts).
      const canary = decideCanary(canaryRule, upstream, exchange);
      if (canary !== null) {
        exchange.canary = canary;
        upstream = canary.upstream;
      }
    }
    if (upstream === null) {
      exchange.fail(ProxyErrorCode.NO_UPSTREAM);
      return;
    }
    // Balancer (src/proxy/balancers/): policy, passive health; it also gets the outcome (and retries).
    const balancer = upstream.balancer;
    let endpoint;
    if (balancer !== null) {
      exchange.balancer = balancer;
      endpoint = balancer.pick(exchange, null);
    } else {
      endpoint = upstream.pick();
    }
    if (endpoint === undefined) {
      exchange.fail(ProxyErrorCode.NO_ENDPOINT);
      return;
    }
    exchange.endpoint = endpoint;
    // The shared pool, or the route's own (connect timeout, backend-protocol HTTPS): route-policy.ts.
    const pool = poolFor(this, route.settings, endpoint);

    // 4. Overload: the endpoint's connections are busy and its queue is full -> 503 now, not later.
    if (pool.inflight >= pool.maxInflight) {
      exchange.fail(ProxyErrorCode.UPSTREAM_OVERLOADED);
      return;
    }

    // 5. Forward.
    exchange.forward(pool, now);
  }
}
