import { IncomingMessage, STATUS_CODES, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { CanaryTarget } from '../compile/canary-rule.ts';
import type { CompiledEndpoint, CompiledUpstream } from '../compile/compiled-upstream.ts';
import type { CompiledRoute } from '../compile/compiled-route.ts';
import { ProxyError, ProxyErrorCode, classifyUpstreamError, errorSpec } from './errors.ts';
import { buildResponseHeaders, type RequestHeaderFacts } from './headers.ts';
import { joinHeadAndBody, storeResponseHead } from './response-head.ts';
import type { UpstreamPool } from './upstreams.ts';
import type { Http1Controller, Http1Handler } from './http1-pool.ts';
import type { Balancer } from './balancers/balancer.ts';
import type { RateLimitZone } from './rate-limit.ts';
import { retryOnAnotherEndpoint } from './retry.ts';

/** node:http request/response classes with a slot for their Exchange (the server is created with them). */
export class ProxyRequest extends IncomingMessage {
  exchange: Exchange | null = null;
}
export class ProxyResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  exchange: Exchange | null = null;
}

/** What an Exchange needs from the server it belongs to (one object per server, not per request). */
export interface ExchangeContext {
  readonly logger: import('pino').Logger;
  readonly readTimeout: number;
  readonly sendTimeout: number;
  /** The single per-request completion hook (metrics, access log); called exactly once per request. */
  readonly onComplete: ((exchange: Exchange) => void) | null;
}

/** Life-cycle phase, for timeouts and logs. */
type Phase = 0 | 1 | 2 | 3; // 0 routing, 1 sending request, 2 waiting for response head, 3 streaming response

const PLAIN_TEXT = 'text/plain; charset=utf-8';

/**
 * One proxied request, from routing to its single completion point. The object is BOTH the undici
 * dispatch options (method/path/headers/body/headersTimeout/bodyTimeout) and the dispatch handler
 * (onRequestStart/onResponse*), so forwarding a request allocates this one object and its header
 * array; all behaviour lives on the prototype and listeners are module-level functions that find the
 * exchange through the request/response slot: no per-request closures.
 *
 * Completion: complete() runs exactly once (success, proxy error, upstream failure or client abort)
 * and is where per-route metrics and access logs hook in (ExchangeContext.onComplete). Fields it
 * exposes: startTime, route, endpoint, status, errorCode, bytesIn, bytesOut, upstreamStart,
 * responseStart, endTime (ms from performance.now()), requestId, host, path.
 */
export class Exchange implements Dispatcher.DispatchHandler, Http1Handler, RequestHeaderFacts {
  // -- undici dispatch options (read by Pool.dispatch(this, this)) --
  method: string;
  /** Path + query forwarded upstream (normalized path, original query). */
  path: string;
  headers: string[] | null = null;
  body: IncomingMessage | null = null;
  headersTimeout: number;
  bodyTimeout: number;
  /** Response wait / request body idle timeouts, ms (the server's, or the route's: route-policy.ts). */
  readTimeout: number;
  sendTimeout: number;
  /** Largest request body in bytes, counted while it is sent (0 = unlimited; route-policy.ts). */
  bodyLimit = 0;

  // -- request facts --
  readonly context: ExchangeContext;
  readonly req: ProxyRequest;
  readonly res: ProxyResponse;
  /** Raw Host header (RequestHeaderFacts), or the authority of an absolute-form target. */
  host: string | null = null;
  duplicateHost = false;
  hasBody = false;
  requestId = '';
  /** Normalized path that was matched (no query). */
  matchPath = '';
  /** Generation of the table this request was routed with. */
  generation = 0;
  route: CompiledRoute | null = null;
  /**
   * The canary that serves this request (its `label` is the canary Ingress "namespace/name", the
   * `canary` label of metrics and access logs), or null for the route's main backend.
   */
  canary: CanaryTarget<CompiledUpstream> | null = null;
  endpoint: CompiledEndpoint | null = null;
  upstreamPool: UpstreamPool | null = null;
  /** The upstream's balancer (gets the outcome; retries); null when compile built none. */
  balancer: Balancer | null = null;
  /** enable-cors: the Access-Control-Allow-Origin value for this response, or null: no CORS headers. */
  corsOrigin: string | null = null;
  /** The limit-connections zone counting this request, and the client address it counts under. */
  rateLimit: RateLimitZone | null = null;
  rateLimitAddress = '';
  /** proxy-next-upstream-tries for this request, first attempt included (0: the balancer's default). */
  tries = 0;
  /** Endpoints earlier attempts of this request failed on (retries only; null on the first attempt). */
  tried: CompiledEndpoint[] | null = null;
  /** Set-Cookie line added to the upstream's response (session affinity: balancers/cookie-affinity.ts). */
  setCookie: string | null = null;

  // -- outcome and timings --
  status = 0;
  errorCode: ProxyErrorCode | null = null;
  bytesIn = 0;
  bytesOut = 0;
  readonly startTime: number;
  upstreamStart = 0;
  /** When undici put the request on a connected socket (connect time = connectedAt - upstreamStart). */
  connectedAt = 0;
  responseStart = 0;
  endTime = 0;
  done = false;
  /**
   * Response body length the upstream declared in Content-Length (-1: unknown, chunked, or HEAD).
   * The chunk that completes it is sent with res.end(chunk) (one cork/write/finish instead of a
   * write then an end); the client's onResponseEnd then only completes.
   */
  remaining = -1;
  /** res.end() was called with the last body chunk (onResponseData). */
  ended = false;
  /** The response head was built by storeResponseHead (response-head.ts), not writeHead. */
  headBuilt = false;
  /** The client sent Expect: 100-continue and has not been told to go on yet (server.ts 'checkContinue'). */
  expectContinue = false;

  // -- machinery --
  /** The client's per-request control (http1-pool.ts's, or undici's for https upstreams). */
  controller: Http1Controller | null = null;
  phase: Phase = 0;
  timer: NodeJS.Timeout | null = null;
  waitingDrain = false;

  constructor(context: ExchangeContext, req: ProxyRequest, res: ProxyResponse, startTime: number) {
    this.context = context;
    this.req = req;
    this.res = res;
    this.method = req.method ?? 'GET';
    this.path = '/';
    this.headersTimeout = context.readTimeout;
    this.bodyTimeout = context.readTimeout;
    this.readTimeout = context.readTimeout;
    this.sendTimeout = context.sendTimeout;
    this.startTime = startTime;
  }

  /**
   * Send the request upstream through `pool`.
   * hot path
   */
  forward(pool: UpstreamPool, now: number): void {
    this.upstreamPool = pool;
    pool.used = true;
    pool.inflight++;
    this.upstreamStart = now;
    if (this.hasBody) {
      if (this.expectContinue) {
        // Only now, with a route and an endpoint: a request refused earlier (413, 404, 503...) never
        // makes the client send its body.
        this.expectContinue = false;
        this.res.writeContinue();
      }
      this.body = this.req;
      // undici's header timer also runs (and is rarely refreshed) while a body streams, so with a
      // body our own timer does send-idle then read timing, and undici's header timeout is off.
      this.headersTimeout = 0;
      this.phase = 1;
      this.timer = setTimeout(onExchangeTimeout, this.sendTimeout, this);
    } else {
      this.phase = 2;
    }
    pool.pool.dispatch(this, this);
  }

  // ---- upstream client handler (http1-pool.ts; undici's DispatchHandler for https) ----

  onRequestStart(controller: Http1Controller): void {
    this.controller = controller;
    this.connectedAt = performance.now(); // the client calls this once the request has a connected socket
    if (this.done) controller.abort(new ProxyError(ProxyErrorCode.CLIENT_ABORTED));
  }

  onBodySent(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    if (this.timer !== null) this.timer.refresh();
    if (this.bodyLimit > 0 && this.bytesIn > this.bodyLimit && this.controller !== null && !this.controller.aborted) {
      this.controller.abort(new ProxyError(ProxyErrorCode.BODY_TOO_LARGE));
    }
  }

  onRequestSent(): void {
    if (this.phase !== 1) return;
    this.phase = 2;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = setTimeout(onExchangeTimeout, this.readTimeout, this);
    }
  }

  /** undici (https upstreams): its parsed header object, flattened here. */
  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return; // 1xx: node already answered Expect itself; others are dropped
    if (this.done) return;
    const length = headers['content-length'];
    // Throws on an invalid status message/header value: undici then aborts with that error (-> 502).
    this.startResponse(statusCode, statusMessage ?? '', buildResponseHeaders(headers), typeof length === 'string' ? Number(length) : -1, false);
  }

  /**
   * http1-pool's final response head: headers flat, checked (tokens, no control characters) and
   * without hop-by-hop ones; contentLength -1 = none.
   * hot path
   */
  onResponseHead(_controller: Http1Controller, statusCode: number, statusMessage: string, out: string[], contentLength: number): void {
    this.startResponse(statusCode, statusMessage, out, contentLength, true);
  }

  /**
   * Write the response head to the client (stored on res; sent with the first body bytes).
   * `checked`: the header names and values are known valid, so the plain case can skip writeHead
   * (response-head.ts). Throws on an invalid status message/header value (the client turns that
   * into a 502).
   * hot path
   */
  startResponse(statusCode: number, statusMessage: string, out: string[], contentLength: number, checked: boolean): void {
    if (this.done) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.phase = 3;
    this.status = statusCode;
    this.responseStart = performance.now();
    const res = this.res;
    if (this.setCookie !== null) out.push('set-cookie', this.setCookie); // session affinity
    if (this.corsOrigin !== null) this.route?.settings.cors?.applyTo(out, this.corsOrigin);
    if (contentLength >= 0 && this.method !== 'HEAD') this.remaining = contentLength;
    // The upstream's reason phrase is kept only when it is not the standard one node would send.
    if (statusMessage !== '' && statusMessage !== STATUS_CODES[statusCode]) res.writeHead(statusCode, statusMessage, out);
    // Our own Set-Cookie line and CORS headers (the Origin echoed) are not among the checked headers: writeHead validates them.
    else if (checked && this.setCookie === null && this.corsOrigin === null && storeResponseHead(res, statusCode, out)) this.headBuilt = true;
    else res.writeHead(statusCode, out);
  }

  /**
   * Returns true when the chunk's bytes are no longer needed (copied, or taken by the client
   * socket), so the upstream client may read into that memory again (http1-pool.ts).
   * hot path
   */
  onResponseData(controller: Http1Controller, chunk: Buffer): boolean {
    this.bytesOut += chunk.length;
    const res = this.res;
    // The chunk that completes the declared body (the only one for most small responses): end with it.
    if (this.bytesOut === this.remaining && !this.done) {
      this.ended = true;
      // The whole body in one chunk behind a head we built: one write for both (response-head.ts).
      const joined = this.headBuilt && this.bytesOut === chunk.length ? joinHeadAndBody(res, chunk) : null;
      if (joined !== null) {
        res.end(joined);
        return true; // a copy went out
      }
      res.end(chunk);
      return written(res);
    }
    if (!res.write(chunk) && !this.waitingDrain && !this.done) {
      this.waitingDrain = true;
      controller.pause();
      res.once('drain', onResponseDrain);
      return false;
    }
    return written(res);
  }

  /** Asked later by the upstream client about chunks onResponseData could not release at once. */
  released(): boolean {
    return written(this.res);
  }

  /** hot path */
  onResponseEnd(): void {
    if (this.done) return;
    if (!this.ended) this.res.end();
    this.complete();
  }

  onResponseError(_controller: Http1Controller | null, err: Error): void {
    if (this.done) return; // client went away first; already completed
    // A connection failure before the response: try another endpoint (retry.ts).
    if (this.balancer !== null && retryOnAnotherEndpoint(this, err)) return;
    let code: ProxyErrorCode;
    if (err instanceof ProxyError) code = err.code;
    else if (this.req.errored !== null || (this.req.destroyed && !this.req.complete)) code = ProxyErrorCode.CLIENT_BODY;
    else code = classifyUpstreamError(err);
    if (code === ProxyErrorCode.CLIENT_ABORTED) {
      this.abortClient(code, err);
    } else if (!this.res.headersSent) {
      this.fail(code, err);
    } else {
      // Mid-response: the status line is gone, so the only honest signal is to cut the connection.
      this.abortClient(code, err);
    }
  }

  // ---- endings ----

  /** Answer with the proxy's own error response, log why, complete. */
  fail(code: ProxyErrorCode, cause?: unknown): void {
    if (this.done) return;
    const spec = errorSpec(code);
    this.status = spec.status;
    this.errorCode = code;
    this.log(code, spec.status, spec.message, cause);
    const res = this.res;
    if (!res.headersSent && !res.destroyed) {
      this.closeIfBodyUnread(code === ProxyErrorCode.BODY_TOO_LARGE);
      res.writeHead(spec.status, [
        'content-type', PLAIN_TEXT,
        'content-length', String(spec.body.length),
        'x-request-id', this.requestId,
        'cache-control', 'no-store',
      ]);
      res.end(spec.body);
    } else {
      res.destroy();
    }
    this.complete();
  }

  /**
   * Before the proxy's own answer (error, redirect) to a request whose body has not arrived in full:
   * the connection closes after the answer when the client was never told to send the body (Expect:
   * 100-continue; node would wait for the body and take the client's next request for it), or when
   * the body is too large (413, as nginx does). Otherwise node reads the rest and throws it away, as
   * nginx does, and the connection stays open.
   */
  closeIfBodyUnread(tooLarge: boolean): void {
    if (this.hasBody && (this.expectContinue || tooLarge) && !this.req.complete && this.res instanceof ServerResponse) {
      this.res.shouldKeepAlive = false;
    }
  }

  /** End abnormally after the response started, or because the client left. */
  abortClient(code: ProxyErrorCode, cause?: unknown): void {
    if (this.done) return;
    this.errorCode = code;
    if (code === ProxyErrorCode.CLIENT_ABORTED) {
      if (this.status === 0) this.status = 499;
      this.context.logger.debug({ reason: code, route: this.route?.name ?? null, requestId: this.requestId }, errorSpec(code).message);
    } else {
      this.log(code, this.status, errorSpec(code).message + ' after the response started', cause);
    }
    const controller = this.controller;
    if (controller !== null && !controller.aborted) controller.abort(new ProxyError(code));
    if (!this.res.destroyed) this.res.destroy();
    this.complete();
  }

  /** Counts this request in `zone`'s limit-connections until it completes. */
  holdRateLimit(zone: RateLimitZone, address: string): void {
    this.rateLimit = zone;
    this.rateLimitAddress = address;
  }

  /** The single completion point of every request. */
  complete(): void {
    if (this.done) return;
    this.done = true;
    this.endTime = performance.now();
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const pool = this.upstreamPool;
    if (pool !== null) pool.inflight--;
    const balancer = this.balancer;
    if (balancer !== null) balancer.done(this); // passive health, EWMA
    if (this.rateLimit !== null) this.rateLimit.release(this.rateLimitAddress);
    const hook = this.context.onComplete;
    if (hook !== null) hook(this);
  }

  log(code: ProxyErrorCode, status: number, message: string, cause?: unknown): void {
    const logger = this.context.logger;
    const fields = {
      reason: code,
      status,
      route: this.route?.name ?? null,
      upstream: (this.canary ?? this.route)?.backend.upstream ?? null,
      canary: this.canary?.label ?? '',
      endpoint: this.endpoint?.origin ?? null,
      host: this.host,
      path: this.matchPath,
      method: this.method,
      requestId: this.requestId,
      err: cause instanceof Error ? { code: (cause as { code?: string }).code, message: cause.message } : undefined,
    };
    if (status >= 500) logger.warn(fields, message);
    else logger.info(fields, message);
  }
}

/**
 * Whether everything handed to `res` so far has left it: an HTTP/1.1 response on its socket with
 * nothing buffered, in node or in the socket (a write that completed synchronously has been taken
 * by the kernel, or copied by TLS), or one that has finished. HTTP/2 responses and responses still
 * waiting for their socket (pipelining) keep references to what they were given: false.
 */
function written(res: ProxyResponse): boolean {
  if (!(res instanceof ServerResponse)) return false;
  const socket = res.socket;
  // No socket: waiting for its turn (everything still buffered), or finished: all of it was flushed.
  if (socket === null) return res.writableFinished;
  if (res.writableLength === 0) return true;
  // TLS: a write handed to the TLS layer has been encrypted (or copied) by the time it returns,
  // even though node reports it done only once the ciphertext is out; only what is still
  // queued in the stream (corked, or behind a write in progress) holds the chunk itself.
  return (socket as { encrypted?: boolean }).encrypted === true && socket.writableCorked === 0 && (res as unknown as { outputSize: number }).outputSize === 0 && bufferedWrites(socket) === 0;
}

function bufferedWrites(socket: import('node:net').Socket): number {
  const state = (socket as unknown as { _writableState?: { bufferedRequestCount?: number } })._writableState;
  return state?.bufferedRequestCount ?? 1;
}

/** Timer callback (module-level, receives the exchange as argument: no closure). */
function onExchangeTimeout(exchange: Exchange): void {
  exchange.timer = null;
  if (exchange.done) return;
  const code = exchange.phase === 1 ? ProxyErrorCode.UPSTREAM_SEND_TIMEOUT : ProxyErrorCode.UPSTREAM_TIMEOUT;
  const controller = exchange.controller;
  if (controller !== null && !controller.aborted) controller.abort(new ProxyError(code));
  else exchange.fail(code);
}

/** `res` 'drain' listener: resume the upstream body. */
function onResponseDrain(this: ProxyResponse): void {
  const exchange = this.exchange;
  if (exchange === null) return;
  exchange.waitingDrain = false;
  if (!exchange.done) exchange.controller?.resume();
}

/**
 * `res` 'close' listener: the response finished or the connection went away. Before completion
 * this means the client left: abort the upstream request.
 */
export function onResponseClose(this: ProxyResponse): void {
  const exchange = this.exchange;
  // `ended`: the whole body was handed to res.end(); undici's onResponseEnd completes the exchange.
  if (exchange === null || exchange.done || exchange.ended) return;
  exchange.abortClient(ProxyErrorCode.CLIENT_ABORTED);
}
