// Session affinity and canaries, with ingress-nginx's semantics (affinity-canary-behavior):
// - sticky (default): a client whose affinity cookie pins it to a canary's endpoint stays on that
//   canary; a client pinned to an endpoint of the main backend skips the canary rules.
// - legacy (on the main or a canary Ingress): canary and affinity are independent: the canary
//   sets no cookie, and main-pinned clients go through the canary rules like everyone else.
import type { CanaryRule, CanaryTarget } from '../../compile/canary-rule.ts';
import type { CompiledUpstream } from '../../compile/compiled-upstream.ts';
import type { Exchange } from '../exchange.ts';
import { CookieAffinityBalancer } from './cookie-affinity.ts';

/**
 * The canary for this request (null: the main backend), affinity first, then the canary rule.
 * hot path for canary routes: without affinity it costs a loop over the canaries' balancers.
 */
export function decideCanary(rule: CanaryRule<CompiledUpstream>, main: CompiledUpstream | null, exchange: Exchange): CanaryTarget<CompiledUpstream> | null {
  const targets = rule.targets;
  let independent = false;
  // 1. Pinned to a sticky canary: stay there.
  for (let i = 0; i < targets.length; i++) {
    const balancer = targets[i].upstream.balancer;
    if (!(balancer instanceof CookieAffinityBalancer)) continue;
    if (!balancer.sticky || !balancer.setsCookie) {
      independent = true;
      continue;
    }
    if (balancer.pinned(exchange, null) !== undefined) return targets[i];
  }
  // 2. Pinned to the main backend: skip the canary rules.
  const balancer = main?.balancer ?? null;
  if (!independent && balancer instanceof CookieAffinityBalancer && balancer.sticky && balancer.pinned(exchange, null) !== undefined) return null;
  // 3. Otherwise the canary rule decides (header, cookie, weight).
  return rule.decideRaw(exchange.req.rawHeaders);
}
