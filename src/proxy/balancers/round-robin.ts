// load-balance: round_robin (the default). The cursor is CompiledUpstream.cursor, which compile
// carries over from the previous table, so swaps do not send traffic back to the first endpoint.
import type { CompiledEndpoint } from '../../compile/compiled-upstream.ts';
import type { Exchange } from '../exchange.ts';
import { BaseBalancer } from './base-balancer.ts';

export class RoundRobinBalancer extends BaseBalancer {
  readonly policy = 'round_robin';

  /** hot path */
  pick(_exchange: Exchange, exclude: readonly CompiledEndpoint[] | null): CompiledEndpoint | undefined {
    const list = this.candidates;
    const n = list.length;
    if (n === 0) return undefined;
    const up = this.upstream;
    let i = up.cursor;
    // 1. Next endpoint in order that is neither ejected nor already tried by this request.
    for (let k = 0; k < n; k++) {
      if (i >= n) i = 0;
      const e = list[i++];
      if (this.isEjected(e)) continue;
      if (exclude !== null && exclude.includes(e)) continue;
      up.cursor = i;
      return e;
    }
    // 2. All ejected (or tried): never eject the last.
    return this.fallback(exclude);
  }
}
