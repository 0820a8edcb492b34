// upstream-hash-by: a consistent-hash ring (ketama-like). Each endpoint owns VNODES points on a
// 32-bit circle, placed by hashing its address, so adding or removing one of N endpoints moves only
// the keys of its arcs (about 1/N). A key goes to the owner of the first point at or after its hash;
// ejected endpoints and endpoints a retry already tried are skipped by walking on.
import type { CompiledEndpoint, CompiledUpstream } from '../../compile/compiled-upstream.ts';
import type { Exchange } from '../exchange.ts';
import type { PassiveHealth } from '../passive-health.ts';
import { BaseBalancer } from './base-balancer.ts';
import { hash32 } from './hash.ts';
import { compileRequestKey } from './request-key.ts';

/** Points per endpoint: spreads keys within a few percent of even for tens of endpoints. */
export const VNODES = 160;

export class ConsistentHashBalancer extends BaseBalancer {
  readonly policy = 'hash';
  readonly #points: Uint32Array;
  readonly #owners: CompiledEndpoint[];
  readonly #key: (exchange: Exchange) => string;

  constructor(upstream: CompiledUpstream, health: PassiveHealth, tries: number, template: string) {
    super(upstream, health, tries);
    this.#key = compileRequestKey(template);
    // Compile time: VNODES points per candidate, sorted.
    const entries: { point: number; owner: CompiledEndpoint }[] = [];
    for (const e of this.candidates) {
      const id = `${e.address}:${e.port}`;
      for (let v = 0; v < VNODES; v++) entries.push({ point: hash32(`${id}#${v}`), owner: e });
    }
    entries.sort((a, b) => a.point - b.point || (a.owner.origin < b.owner.origin ? -1 : 1));
    this.#points = new Uint32Array(entries.length);
    this.#owners = new Array<CompiledEndpoint>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      this.#points[i] = entries[i].point;
      this.#owners[i] = entries[i].owner;
    }
  }

  /** The endpoint a key maps to, ignoring health (tests, debug). */
  endpointFor(key: string): CompiledEndpoint | undefined {
    if (this.#owners.length === 0) return undefined;
    return this.#owners[this.#first(hash32(key))];
  }

  /** hot path */
  pick(exchange: Exchange, exclude: readonly CompiledEndpoint[] | null): CompiledEndpoint | undefined {
    const owners = this.#owners;
    const total = owners.length;
    if (total === 0) return undefined;
    let i = this.#first(hash32(this.#key(exchange)));
    // Walk clockwise past ejected / already tried endpoints (bounded: at most every point once).
    for (let k = 0; k < total; k++) {
      const e = owners[i];
      if (!this.isEjected(e) && (exclude === null || !exclude.includes(e))) return e;
      if (++i === total) i = 0;
    }
    return this.fallback(exclude);
  }

  /** Index of the first point >= h (wrapping to 0). */
  #first(h: number): number {
    const points = this.#points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }
}
