// The endpoint choice of one upstream, built at compile time (Balancing.build) and stored on
// CompiledUpstream.balancer. Long-lived state (round-robin cursor, passive health, EWMA) lives
// outside the table: the cursor is carried over by compile, health/EWMA per origin in PassiveHealth.
import type { CompiledEndpoint } from '../../compile/compiled-upstream.ts';
import type { Exchange } from '../exchange.ts';

export interface Balancer {
  /** "round_robin", "ewma", "hash", "cookie" (debug views, logs). */
  readonly policy: string;
  /** proxy-next-upstream-tries default for requests to this upstream (1 = no retry). */
  readonly tries: number;
  /**
   * The endpoint for this request, skipping ejected endpoints (unless all are: never eject the
   * last) and those in `exclude` (endpoints a retry already tried). undefined: none left.
   * hot path
   */
  pick(exchange: Exchange, exclude: readonly CompiledEndpoint[] | null): CompiledEndpoint | undefined;
  /** The request completed (success or failure) on `exchange.endpoint`. hot path */
  done(exchange: Exchange): void;
  /** An attempt on `endpoint` failed with `code` and the request moves on to another endpoint (retry). */
  failed(endpoint: CompiledEndpoint, code: string): void;
}
