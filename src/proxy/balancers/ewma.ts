// load-balance: ewma. Power of two choices: two random usable endpoints, the one with the lower
// score wins, score = (EWMA of response time + 1 ms) x (in-flight requests + 1). The average decays
// with time (10 s), so an endpoint that was slow a while ago is tried again. State (EWMA, in-flight)
// lives on the endpoint's long-lived health entry, so it survives table swaps.
import type { CompiledEndpoint, CompiledUpstream } from '../../compile/compiled-upstream.ts';
import type { Exchange } from '../exchange.ts';
import type { EndpointHealth, PassiveHealth } from '../passive-health.ts';
import { BaseBalancer } from './base-balancer.ts';

const DECAY_MS = 10_000;

export class EwmaBalancer extends BaseBalancer {
  readonly policy = 'ewma';
  readonly #random: () => number;

  constructor(upstream: CompiledUpstream, health: PassiveHealth, tries: number, random: () => number) {
    super(upstream, health, tries);
    this.#random = random;
  }

  /** hot path */
  pick(_exchange: Exchange, exclude: readonly CompiledEndpoint[] | null): CompiledEndpoint | undefined {
    const list = this.candidates;
    const n = list.length;
    if (n === 0) return undefined;
    let chosen: CompiledEndpoint | undefined;
    if (n === 1) {
      chosen = this.#usable(list[0], exclude) ? list[0] : undefined;
    } else {
      // 1. Two distinct random candidates; an unusable one is replaced by the next usable in order.
      const a = this.#from(Math.floor(this.#random() * n), exclude);
      if (a !== -1) {
        let b = this.#from((a + 1 + Math.floor(this.#random() * (n - 1))) % n, exclude);
        if (b === a) b = -1;
        if (b === -1) chosen = list[a];
        else {
          const now = this.health.now();
          chosen = this.#score(list[a], now) <= this.#score(list[b], now) ? list[a] : list[b];
        }
      }
    }
    // 2. None usable: never eject the last.
    chosen ??= this.fallback(exclude);
    if (chosen !== undefined && chosen.health !== null) chosen.health.inflight++;
    return chosen;
  }

  #usable(e: CompiledEndpoint, exclude: readonly CompiledEndpoint[] | null): boolean {
    return !this.isEjected(e) && (exclude === null || !exclude.includes(e));
  }

  /** First usable index at or after `start` (wrapping), or -1. */
  #from(start: number, exclude: readonly CompiledEndpoint[] | null): number {
    const list = this.candidates;
    for (let k = 0; k < list.length; k++) {
      const i = (start + k) % list.length;
      if (this.#usable(list[i], exclude)) return i;
    }
    return -1;
  }

  #score(e: CompiledEndpoint, now: number): number {
    const h = e.health;
    if (h === null) return 1;
    return (decayed(h, now) + 1) * (h.inflight + 1);
  }

  override get countsInflight(): boolean {
    return true;
  }

  /** hot path: the response time joins the average; the in-flight count goes down. */
  override release(h: EndpointHealth, exchange: Exchange): void {
    if (h.inflight > 0) h.inflight--;
    if (exchange.upstreamStart === 0 || exchange.endTime === 0) return;
    const now = this.health.now();
    const rtt = Math.max(0, exchange.endTime - exchange.upstreamStart);
    if (h.ewmaAt === 0) h.ewma = rtt;
    else {
      const w = Math.exp(-Math.max(0, now - h.ewmaAt) / DECAY_MS);
      h.ewma = h.ewma * w + rtt * (1 - w);
    }
    h.ewmaAt = now;
  }

  /** A retried attempt also gives its in-flight slot back. */
  override failed(endpoint: CompiledEndpoint, code: string): void {
    if (endpoint.health !== null && endpoint.health.inflight > 0) endpoint.health.inflight--;
    super.failed(endpoint, code);
  }
}

function decayed(h: EndpointHealth, now: number): number {
  if (h.ewmaAt === 0) return 0;
  return h.ewma * Math.exp(-Math.max(0, now - h.ewmaAt) / DECAY_MS);
}
