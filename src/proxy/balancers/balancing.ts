// The balancer factory compile uses (CompileOptions.balancing): one Balancer per upstream, built
// when the upstream is new or its load-balance / upstream-hash-by / affinity choice changed, every
// compiled endpoint bound to its long-lived passive-health entry (README "Resilience").
import type { CompiledUpstream } from '../../compile/compiled-upstream.ts';
import type { Route, RouteBalance, RouteConfig, VirtualHost } from '../../model/route-config.ts';
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
  for (const vhost of config.virtualHosts) addChoices(choices, virtualHostChoices(vhost));
  return choices;
}

const NO_CHOICES: readonly (readonly [string, UpstreamChoice])[] = [];

/**
 * The choices one virtual host makes, in route order (a key may repeat: the first counts).
 * Compile keeps them per compiled virtual host, so a table's choices are merged from those
 * without reading every route again.
 */
export function virtualHostChoices(vhost: VirtualHost): readonly (readonly [string, UpstreamChoice])[] {
  let choices: (readonly [string, UpstreamChoice])[] | null = null;
  for (const route of vhost.routes) {
    const key = route.backend.upstream;
    if (route.balance !== undefined && key !== null) (choices ??= []).push([key, { balance: route.balance, path: cookiePath(route), setsCookie: true }]);
    for (const canary of route.canaries) {
      const ckey = canary.backend.upstream;
      if (canary.balance === undefined || ckey === null) continue;
      (choices ??= []).push([ckey, { balance: canary.balance, path: cookiePath(route), setsCookie: canary.balance.affinity?.canaryBehavior !== 'legacy' }]);
    }
  }
  return choices ?? NO_CHOICES;
}

/**
 * The affinity cookie's default Path: the route's path, or "/" for a regular-expression path
 * (ingress-nginx would put the pattern itself there, which no browser path matches).
 */
function cookiePath(route: Route): string {
  return route.match === 'regex' ? '/' : route.path;
}

/** Adds one virtual host's choices to `choices` (table order: the first choice of a key wins). */
export function addChoices(choices: Map<string, UpstreamChoice>, from: readonly (readonly [string, UpstreamChoice])[]): void {
  for (const [key, choice] of from) if (!choices.has(key)) choices.set(key, choice);
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
   * Compile time, once per table: gives every upstream its balancer (`choices`: upstreamChoices of
   * the table). Upstreams compile reused from the previous table keep theirs (and its state)
   * unless their choice changed. `check`: the only keys whose balancer can need building (new
   * upstreams, keys with a choice now or in the previous table); null: every upstream.
   */
  bind(choices: ReadonlyMap<string, UpstreamChoice>, upstreams: ReadonlyMap<string, CompiledUpstream>, generation: number, check: Iterable<string> | null = null): void {
    if (check === null) {
      for (const upstream of upstreams.values()) this.#bindOne(upstream, choices, generation);
    } else {
      for (const key of check) {
        const upstream = upstreams.get(key);
        if (upstream !== undefined) this.#bindOne(upstream, choices, generation);
      }
    }
    this.health.prune(upstreams);
    this.health.pruneCounts(upstreams);
  }

  #bindOne(upstream: CompiledUpstream, choices: ReadonlyMap<string, UpstreamChoice>, generation: number): void {
    const choice = choices.get(upstream.key) ?? null;
    const signature = choice === null ? '' : JSON.stringify(choice);
    if (upstream.balancer !== null && this.#builtFrom.get(upstream) === signature) return;
    upstream.balancer = this.build(upstream, generation, choice);
    this.#builtFrom.set(upstream, signature);
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
