// Passive health (README "Resilience"): an endpoint whose connections fail, or that answers with
// consecutive 5xx, is ejected for a back-off period, then tried again. State is per endpoint origin
// in a long-lived registry OUTSIDE the route table (like the upstream pools), so a table swap keeps
// ejections; compiled endpoints hold their entry (CompiledEndpoint.health), filled at compile time.
import type { Logger } from 'pino';
import { ProxyErrorCode } from './errors.ts';

export interface PassiveHealthOptions {
  /**
   * Consecutive failures (connection errors, timeouts, 5xx) that eject an endpoint, like nginx's
   * max_fails. 0 turns passive health off. Default 3.
   */
  readonly maxFails?: number;
  /** First ejection period in ms, like nginx's fail_timeout; doubles per consecutive ejection. Default 10000. */
  readonly failTimeoutMs?: number;
  /** Longest ejection period in ms. Default 8 x failTimeoutMs. */
  readonly maxEjectionMs?: number;
  readonly logger?: Logger | null;
  /** Clock in ms (injected for tests); default performance.now. */
  readonly now?: () => number;
}

/** The health of one endpoint origin ("http://10.0.0.1:8080"). Fields are read on the hot path. */
export class EndpointHealth {
  readonly origin: string;
  /** Consecutive failures since the last success. */
  fails = 0;
  /** Ejected until this time (clock ms); 0 when not ejected. */
  ejectedUntil = 0;
  /** Consecutive ejections (back-off exponent); reset by a success after the ejection ended. */
  ejections = 0;
  /** Newest table generation that references this origin (registry pruning). */
  generation = 0;
  /** In-flight requests (least-request / EWMA balancers). */
  inflight = 0;
  /** EWMA of the response time in ms (EWMA balancer); 0 = no sample yet. */
  ewma = 0;
  /** When `ewma` was last updated (clock ms). */
  ewmaAt = 0;

  constructor(origin: string) {
    this.origin = origin;
  }
}

/** Counts of one upstream (key "ns/svc:port"), read by /metrics at scrape time. */
export class UpstreamCounts {
  /** Endpoints of this upstream ejected (each ejection once; counted by the balancer that ejected). */
  ejections = 0;
  /** Attempts re-sent to another endpoint (proxy-next-upstream). */
  retries = 0;
}

/** Proxy error codes that count as an endpoint failure (the endpoint, not the client, failed). */
const FAILURE_CODES: ReadonlySet<string> = new Set<string>([
  ProxyErrorCode.UPSTREAM_REFUSED,
  ProxyErrorCode.UPSTREAM_RESET,
  ProxyErrorCode.UPSTREAM_UNREACHABLE,
  ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT,
  ProxyErrorCode.UPSTREAM_TIMEOUT,
  ProxyErrorCode.UPSTREAM_BAD_RESPONSE,
]);

export function isEndpointFailureCode(code: string | null): boolean {
  return code !== null && FAILURE_CODES.has(code);
}

/**
 * The registry and its policy. One per process (main.ts), passed to compile (CompileOptions.balancing).
 */
export class PassiveHealth {
  readonly maxFails: number;
  readonly failTimeoutMs: number;
  readonly maxEjectionMs: number;
  readonly now: () => number;
  readonly #logger: Logger | null;
  readonly #entries = new Map<string, EndpointHealth>();
  #generation = 0;
  #prunedAt = -Infinity;
  /** Ejections so far (tests, metrics). */
  ejectionCount = 0;
  /**
   * Ejections and retries per upstream key. Only touched when an ejection or a retry happens (not
   * per request); entries of upstreams gone from the table are dropped by pruneCounts (compile time).
   */
  readonly counts = new Map<string, UpstreamCounts>();

  constructor(options: PassiveHealthOptions = {}) {
    this.maxFails = options.maxFails ?? 3;
    this.failTimeoutMs = options.failTimeoutMs ?? 10_000;
    this.maxEjectionMs = options.maxEjectionMs ?? this.failTimeoutMs * 8;
    this.now = options.now ?? (() => performance.now());
    this.#logger = options.logger ?? null;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The entry of an origin, created on first use; `generation` marks it as used by that table. Compile time. */
  get(origin: string, generation: number): EndpointHealth {
    let entry = this.#entries.get(origin);
    if (entry === undefined) {
      entry = new EndpointHealth(origin);
      this.#entries.set(origin, entry);
    }
    if (generation > entry.generation) entry.generation = generation;
    if (generation > this.#generation) this.#generation = generation;
    return entry;
  }

  /**
   * Forget entries that carry no state (no failures, no ejection, nothing in flight) and that no
   * table built in the last `keepGenerations` generations asked for: their endpoints are most
   * likely gone. Compile calls this once per table; it runs at most once per minute. The endpoints
   * of `live` (the table being built) are marked as used first: compile binds only new upstreams'
   * endpoints (get), so upstreams it takes over unchanged are marked here, once a minute, not on
   * every table. An entry forgotten while an older table still holds it re-registers itself when
   * it gets ejected.
   */
  prune(live: ReadonlyMap<string, { readonly endpoints: readonly { readonly health: EndpointHealth | null }[] }> | null = null, keepGenerations = 2): void {
    const now = this.now();
    if (now - this.#prunedAt < 60_000) return;
    this.#prunedAt = now;
    if (live !== null) {
      for (const upstream of live.values()) {
        for (const endpoint of upstream.endpoints) {
          const entry = endpoint.health;
          if (entry === null) continue;
          entry.generation = this.#generation;
          if (!this.#entries.has(entry.origin)) this.#entries.set(entry.origin, entry);
        }
      }
    }
    const oldest = this.#generation - keepGenerations;
    for (const [origin, entry] of this.#entries) {
      if (entry.generation < oldest && entry.fails === 0 && entry.ejectedUntil === 0 && entry.ejections === 0 && entry.inflight === 0) {
        this.#entries.delete(origin);
      }
    }
  }

  /** The counts of an upstream, created on first use. */
  countsOf(upstream: string): UpstreamCounts {
    let counts = this.counts.get(upstream);
    if (counts === undefined) this.counts.set(upstream, (counts = new UpstreamCounts()));
    return counts;
  }

  /** Drop the counts of upstreams no longer in the table (their series go, like a removed route's). */
  pruneCounts(live: ReadonlyMap<string, unknown>): void {
    for (const key of this.counts.keys()) if (!live.has(key)) this.counts.delete(key);
  }

  /**
   * True while `h` is ejected. An ejection that ran out is cleared here: the endpoint is back, on
   * probation (one more failure ejects it again, for twice as long).
   * hot path (only reads the clock when the endpoint was ejected)
   */
  isEjected(h: EndpointHealth): boolean {
    if (h.ejectedUntil === 0) return false;
    if (this.now() < h.ejectedUntil) return true;
    h.ejectedUntil = 0;
    h.fails = this.maxFails - 1;
    this.#logger?.info({ reason: 'EndpointRetried', endpoint: h.origin, ejections: h.ejections }, 'ejection over: endpoint gets traffic again');
    return false;
  }

  /** A good answer (status below 500). hot path */
  success(h: EndpointHealth): void {
    if (h.fails !== 0) h.fails = 0;
    if (h.ejections !== 0 && h.ejectedUntil === 0) h.ejections = 0;
  }

  /**
   * A failure of the endpoint. Ejects it after maxFails consecutive ones, unless `canEject` says it
   * is the last endpoint its upstream could use (never eject the last). Returns true when ejected.
   */
  failure(h: EndpointHealth, canEject: () => boolean, why: string): boolean {
    if (this.maxFails <= 0 || h.ejectedUntil !== 0) return false;
    h.fails++;
    if (h.fails < this.maxFails) return false;
    if (!canEject()) {
      this.#logger?.warn({ reason: 'EjectionSkipped', endpoint: h.origin, fails: h.fails, why }, 'endpoint failing but it is the last usable one: not ejected');
      return false;
    }
    const period = Math.min(this.failTimeoutMs * 2 ** Math.min(h.ejections, 30), this.maxEjectionMs);
    h.ejections++;
    h.fails = 0;
    h.ejectedUntil = this.now() + period;
    this.ejectionCount++;
    if (!this.#entries.has(h.origin)) this.#entries.set(h.origin, h);
    this.#logger?.warn({ reason: 'EndpointEjected', endpoint: h.origin, why, ejectedMs: period, ejections: h.ejections }, 'endpoint ejected (passive health)');
    return true;
  }
}
