/** Capped exponential backoff with jitter, like client-go's (800ms initial, x2, capped at 30s). */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 800, maxMs: 30_000 };

/** Delay before retry number `attempt` (0-based): min(max, initial * 2^attempt), scaled by a random
 *  factor in [0.5, 1) so replicas that lost the API server together do not come back in lockstep. */
export function backoffDelay(options: BackoffOptions, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}
