// What every balancer shares: the candidate list, passive-health accounting (done/failed) and the
// "never eject the last endpoint" fallback.
import type { CompiledEndpoint, CompiledUpstream } from '../../compile/compiled-upstream.ts';
import type { Exchange } from '../exchange.ts';
import { isEndpointFailureCode, type EndpointHealth, type PassiveHealth } from '../passive-health.ts';
import type { Balancer } from './balancer.ts';

export abstract class BaseBalancer implements Balancer {
  abstract readonly policy: string;
  readonly tries: number;
  readonly upstream: CompiledUpstream;
  /** Endpoints that take traffic (ready, else serving+terminating), in IR order. */
  readonly candidates: readonly CompiledEndpoint[];
  readonly health: PassiveHealth;

  constructor(upstream: CompiledUpstream, health: PassiveHealth, tries: number) {
    this.upstream = upstream;
    this.candidates = upstream.candidates;
    this.health = health;
    this.tries = tries;
  }

  abstract pick(exchange: Exchange, exclude: readonly CompiledEndpoint[] | null): CompiledEndpoint | undefined;

  /** hot path */
  done(exchange: Exchange): void {
    const endpoint = exchange.endpoint;
    if (endpoint === null) return;
    const h = endpoint.health;
    if (h === null) return;
    this.release(h, exchange);
    const code = exchange.errorCode;
    if (code === null) {
      if (exchange.status >= 500) this.#failure(h, endpoint, `status ${exchange.status}`);
      else if (exchange.status !== 0) this.health.success(h);
    } else if (isEndpointFailureCode(code)) {
      this.#failure(h, endpoint, code);
    }
    // Other codes (client aborted, body too large, ...) say nothing about the endpoint.
  }

  /** Called exactly when a retry moves the request on (retry.ts): counts the retry, then the failure. */
  failed(endpoint: CompiledEndpoint, code: string): void {
    this.health.countsOf(this.upstream.key).retries++;
    const h = endpoint.health;
    if (h === null) return;
    this.#failure(h, endpoint, code);
  }

  #failure(h: EndpointHealth, endpoint: CompiledEndpoint, why: string): void {
    if (this.health.failure(h, () => this.canEject(endpoint), why)) this.health.countsOf(this.upstream.key).ejections++;
  }

  /** Subclasses that count in-flight requests or latency override this (EWMA). hot path */
  release(_h: EndpointHealth, _exchange: Exchange): void {}

  /** An endpoint chosen outside pick() (a cookie pin) starts a request. hot path */
  acquire(endpoint: CompiledEndpoint): void {
    if (this.countsInflight && endpoint.health !== null) endpoint.health.inflight++;
  }

  /** True for balancers whose pick() counts in-flight requests (EWMA). */
  get countsInflight(): boolean {
    return false;
  }

  /** True when `endpoint` is ejected (clears ejections that ran out). hot path */
  isEjected(endpoint: CompiledEndpoint): boolean {
    const h = endpoint.health;
    return h !== null && h.ejectedUntil !== 0 && this.health.isEjected(h);
  }

  /**
   * May `endpoint` be ejected? At most half of the upstream's endpoints are ejected at a time (so a
   * failure shared by all endpoints, such as a bad deploy answering 500, never piles all traffic on
   * one survivor), and never the last usable one.
   */
  canEject(endpoint: CompiledEndpoint): boolean {
    let usableOthers = 0;
    for (const e of this.candidates) if (e !== endpoint && !this.isEjected(e)) usableOthers++;
    return usableOthers >= 1 && usableOthers >= Math.ceil(this.candidates.length / 2);
  }

  /**
   * Every candidate is ejected or excluded: ignore ejections (never eject the last), rotating so the
   * traffic spreads; still honour `exclude` (a retry must go elsewhere or not at all).
   */
  fallback(exclude: readonly CompiledEndpoint[] | null): CompiledEndpoint | undefined {
    const list = this.candidates;
    const n = list.length;
    const up = this.upstream;
    let i = up.cursor;
    for (let k = 0; k < n; k++) {
      if (i >= n) i = 0;
      const e = list[i++];
      if (exclude === null || !exclude.includes(e)) {
        up.cursor = i;
        return e;
      }
    }
    return undefined;
  }
}
