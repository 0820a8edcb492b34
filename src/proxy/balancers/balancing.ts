// The balancer factory compile uses (CompileOptions.balancing): one Balancer per upstream, built
// when the upstream is new or its load-balance / upstream-hash-by / affinity choice changed, every
// compiled endpoint bound to its long-lived passive-health entry (README "Resilience").
import type { CompiledUpstream } from '../../compile/compiled-upstream.ts';
import type { RouteBalance, RouteConfig } from '../../model/route-config.ts';
import { PassiveHealth, type PassiveHealthOptions } from '../passive-health.ts';
import type { Balancer } from './balancer.ts';
import type { BaseBalancer } from './base-balancer.ts';
import { ConsistentHashBalancer } from './consistent-hash.ts';
import { CookieAffinityBalancer } from './cookie-affinity.ts';
import { EwmaBalancer } from './ewma.ts';
import { RoundRobinBalancer } from './round-robin.ts';

export interface BalancingOptions extends PassiveHealthOptions {
  /** proxy-next-upstream-tries default: attempts per request, first included (1 = no retry). Default 3. */
  readonly tries?: number;
  /** Randomness of the EWMA balancer's two choices (injected for tests; default Math.random). */
  readonly random?: () => number;
}

/** The balancing choice of one upstream: the first route in table order that makes one. */
export interface UpstreamChoice {
  readonly balance: RouteBalance;
  /** Path of that route: the affinity cookie's default Path. */
  readonly path: string;
  /** False for a canary upstream with affinity-canary-behavior: legacy (the canary sets no cookie). */
  readonly setsCookie: boolean;
}

/** Per upstream key, the choice of the first route (main backend or canary) in table order that sets one. */
export function upstreamChoices(config: RouteConfig): Map<string, UpstreamChoice> {
  const choices = new Map<string, UpstreamChoice>();
  for (const vhost of config.virtualHosts) {
    for (const route of vhost.routes) {
      const key = route.backend.upstream;
      if (route.balance !== undefined && key !== null && !choices.has(key)) choices.set(key, { balance: route.balance, path: route.path, setsCookie: true });
      for (const canary of route.canaries) {
        const ckey = canary.backend.upstream;
        if (canary.balance === undefined || ckey === null || choices.has(ckey)) continue;
        choices.set(ckey, { balance: canary.balance, path: route.path, setsCookie: canary.balance.affinity?.canaryBehavior !== 'legacy' });
      }
    }
  }
  return choices;
}

export class Balancing {
  readonly health: PassiveHealth;
  readonly tries: number;
  readonly #random: () => number;
  /** What each compiled upstream's balancer was built from ("" = default round robin). */
  readonly #builtFrom = new WeakMap<CompiledUpstream, string>();

  constructor(options: BalancingOptions = {}) {
    this.health = new PassiveHealth(options);
    this.tries = options.tries ?? 3;
    this.#random = options.random ?? Math.random;
  }

  /**
   * Compile time, once per table: gives every upstream its balancer. Upstreams compile reused
   * from the previous table keep theirs unless their choice changed.
   */
  bind(config: RouteConfig, upstreams: ReadonlyMap<string, CompiledUpstream>, generation: number): void {
    const choices = upstreamChoices(config);
    for (const upstream of upstreams.values()) {
      const choice = choices.get(upstream.key) ?? null;
      const signature = choice === null ? '' : JSON.stringify(choice);
      if (upstream.balancer !== null && this.#builtFrom.get(upstream) === signature) continue;
      upstream.balancer = this.build(upstream, generation, choice);
      this.#builtFrom.set(upstream, signature);
    }
    this.health.prune();
    this.health.pruneCounts(upstreams);
  }

  /** The balancer of one upstream (endpoints bound to their health entries). */
  build(upstream: CompiledUpstream, generation: number, choice: UpstreamChoice | null = null): Balancer {
    for (const endpoint of upstream.endpoints) endpoint.health = this.health.get(endpoint.origin, generation);
    const balance = choice?.balance;
    let base: BaseBalancer;
    if (balance?.hashBy !== undefined) base = new ConsistentHashBalancer(upstream, this.health, this.tries, balance.hashBy);
    else if (balance?.policy === 'ewma') base = new EwmaBalancer(upstream, this.health, this.tries, this.#random);
    else base = new RoundRobinBalancer(upstream, this.health, this.tries);
    if (choice !== null && balance?.affinity !== undefined) return new CookieAffinityBalancer(base, balance.affinity, choice.path, choice.setsCookie);
    return base;
  }
}
