// The proxy's per-request completion hook (ProxyServerOptions.onComplete): records the request in
// the pre-bound series of the route that served it and writes the access log line. One call per
// request, nothing allocated here beyond the log line itself: the series is a field of the
// compiled route, the access log reads the exchange through one reused view object.

import type { CompiledRoute } from '../compile/compiled-route.ts';
import type { Exchange } from '../proxy/exchange.ts';
import { errorSpec } from '../proxy/errors.ts';
import { clientAddress } from '../proxy/headers.ts';
import type { AccessLog, AccessLogRecord } from './access-log.ts';
import type { RouteSeries } from './route-metrics.ts';

/** The canary target that served, if the canary work set one on the exchange (null/absent: main). */
interface CanaryServed {
  readonly label: string;
  readonly backend: { readonly service: { readonly name: string } | null };
}

function canaryOf(e: Exchange): CanaryServed | null {
  return (e as unknown as { canary?: CanaryServed | null }).canary ?? null;
}

/** Seconds from the upstream dispatch to the connection being ready, -1 when none was reached. */
function connectSeconds(e: Exchange): number {
  if (e.upstreamStart === 0) return -1;
  return e.connectedAt === 0 ? -1 : (e.connectedAt - e.upstreamStart) / 1000;
}

/**
 * Body bytes sent to the client: the upstream's body, or the proxy's own error body (404, 502, ...)
 * when the proxy answered itself (no upstream response started, headers sent by Exchange.fail).
 */
function responseBytes(e: Exchange): number {
  if (e.responseStart === 0 && e.errorCode !== null && e.res.headersSent) return errorSpec(e.errorCode).body.length;
  return e.bytesOut;
}

/**
 * An AccessLogRecord over the exchange being completed. Reused for every request: completion is
 * synchronous, and the access log reads the fields before write() returns.
 */
class ExchangeAccessView implements AccessLogRecord {
  e: Exchange | null = null;

  get #x(): Exchange {
    return this.e as Exchange;
  }

  get requestId(): string {
    return this.#x.requestId;
  }
  get remoteAddress(): string {
    return clientAddress(this.#x.req.socket.remoteAddress ?? '');
  }
  get method(): string {
    return this.#x.method;
  }
  get host(): string {
    return this.#x.host ?? '';
  }
  get url(): string {
    return this.#x.req.url ?? '';
  }
  get status(): number {
    return this.#x.status;
  }
  get routeName(): string {
    return this.#x.route?.name ?? '';
  }
  get namespace(): string {
    return this.#x.route?.source?.namespace ?? '';
  }
  get ingress(): string {
    return this.#x.route?.source?.name ?? '';
  }
  get service(): string {
    const canary = canaryOf(this.#x);
    if (canary !== null) return canary.backend.service?.name ?? '';
    return this.#x.route?.backend.service?.name ?? '';
  }
  get canary(): string {
    return canaryOf(this.#x)?.label ?? '';
  }
  get upstreamAddress(): string {
    const endpoint = this.#x.endpoint;
    if (endpoint === null || this.#x.upstreamStart === 0) return '';
    // origin is "http://host:port": the address part without the scheme.
    return endpoint.origin.slice(endpoint.origin.indexOf('//') + 2);
  }
  get upstreamStatus(): number {
    const x = this.#x;
    return x.responseStart > 0 ? x.status : 0;
  }
  get durationSeconds(): number {
    return (this.#x.endTime - this.#x.startTime) / 1000;
  }
  get upstreamConnectSeconds(): number {
    return connectSeconds(this.#x);
  }
  get upstreamResponseSeconds(): number {
    const x = this.#x;
    return x.upstreamStart === 0 ? -1 : (x.endTime - x.upstreamStart) / 1000;
  }
  get bytesIn(): number {
    return this.#x.bytesIn;
  }
  get bytesOut(): number {
    return responseBytes(this.#x);
  }
  get userAgent(): string {
    // Scan rawHeaders instead of touching req.headers (node builds that object lazily).
    const raw = this.#x.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      if (name.length === 10 && name.toLowerCase() === 'user-agent') return raw[i + 1];
    }
    return '';
  }
}

export interface RequestObserverOptions {
  /** Series for requests that matched nothing; null when metrics are off. */
  readonly unmatched: RouteSeries | null;
  /** Record per-route metrics (--enable-metrics). */
  readonly metrics: boolean;
  /** null or disabled: no access log. */
  readonly accessLog: AccessLog | null;
}

export class RequestObserver {
  readonly #metrics: boolean;
  readonly #unmatched: RouteSeries | null;
  readonly #accessLog: AccessLog | null;
  readonly #view = new ExchangeAccessView();
  /** The onComplete function to hand to the proxy (bound once). */
  readonly onComplete: (exchange: Exchange) => void;

  constructor(options: RequestObserverOptions) {
    this.#metrics = options.metrics;
    this.#unmatched = options.unmatched;
    this.#accessLog = options.accessLog !== null && options.accessLog.enabled ? options.accessLog : null;
    this.onComplete = (exchange) => this.observe(exchange);
  }

  /** True when there is nothing to do per request (the proxy can skip the hook). */
  get idle(): boolean {
    return !this.#metrics && this.#accessLog === null;
  }

  /** hot path: called once per request by Exchange.complete(). Never throws. */
  observe(e: Exchange): void {
    try {
      if (this.#metrics) this.#record(e);
      const log = this.#accessLog;
      if (log !== null) {
        const view = this.#view;
        view.e = e;
        log.write(view);
        view.e = null;
      }
    } catch {
      // Observability must never cost a request; a bug here loses one observation.
    }
  }

  /** hot path */
  #record(e: Exchange): void {
    const route: CompiledRoute | null = e.route;
    let series: RouteSeries | null;
    if (route === null) series = this.#unmatched;
    else {
      const rm = route.metrics;
      series = rm === null ? null : rm.forCanary(canaryOf(e));
    }
    if (series === null) return;
    const contacted = e.upstreamStart !== 0;
    series.record(
      e.method,
      e.status,
      e.bytesIn,
      responseBytes(e),
      (e.endTime - e.startTime) / 1000,
      connectSeconds(e),
      contacted ? (e.endTime - e.upstreamStart) / 1000 : -1,
    );
  }
}
