// The balancer factory compile uses (CompileOptions.balancing): one Balancer per upstream per table,
// every compiled endpoint bound to its long-lived passive-health entry.
import type { CompiledUpstream } from '../../compile/compiled-upstream.ts';
import { PassiveHealth, type PassiveHealthOptions } from '../passive-health.ts';
import type { Balancer } from './balancer.ts';
import { RoundRobinBalancer } from './round-robin.ts';

export interface BalancingOptions extends PassiveHealthOptions {
  /** proxy-next-upstream-tries default: attempts per request, first included (1 = no retry). Default 3. */
  readonly tries?: number;
}

export class Balancing {
  readonly health: PassiveHealth;
  readonly tries: number;

  constructor(options: BalancingOptions = {}) {
    this.health = new PassiveHealth(options);
    this.tries = options.tries ?? 3;
  }

  /** Compile time: the balancer of `upstream` in table `generation`. */
  build(upstream: CompiledUpstream, generation: number): Balancer {
    for (const endpoint of upstream.endpoints) endpoint.health = this.health.get(endpoint.origin, generation);
    return new RoundRobinBalancer(upstream, this.health, this.tries);
  }

  /** Compile time, once per table after every upstream was built. */
  compiled(): void {
    this.health.prune();
  }
}
