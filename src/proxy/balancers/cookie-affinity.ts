// affinity: cookie. The first response sets a cookie whose value is a token of the chosen endpoint
// (a hash of its address, not the address itself); a later request carrying a token of a usable
// endpoint goes there, anything else is balanced by the upstream's policy (round robin, ewma or
// hash) and gets a new cookie. Tokens and Set-Cookie lines are built once per table.
import type { CompiledEndpoint, CompiledUpstream } from '../../compile/compiled-upstream.ts';
import type { CookieAffinity } from '../../model/route-config.ts';
import type { Exchange } from '../exchange.ts';
import type { Balancer } from './balancer.ts';
import type { BaseBalancer } from './base-balancer.ts';
import { hash32 } from './hash.ts';
import { findCookie } from './request-key.ts';

/** The token of an endpoint: 16 hex digits from two seeded hashes of "address:port". */
export function affinityToken(endpoint: CompiledEndpoint): string {
  const id = `${endpoint.address}:${endpoint.port}`;
  return hash32(id).toString(16).padStart(8, '0') + hash32(id, 0x9747b28c).toString(16).padStart(8, '0');
}

export class CookieAffinityBalancer implements Balancer {
  readonly policy = 'cookie';
  readonly tries: number;
  readonly upstream: CompiledUpstream;
  readonly affinity: CookieAffinity;
  readonly cookieName: string;
  /** sticky: pinned clients stay (canary interplay, request-handler); legacy canaries set no cookie. */
  readonly sticky: boolean;
  /** Whether this balancer sets cookies at all (false for a legacy canary). */
  readonly setsCookie: boolean;
  readonly #inner: BaseBalancer;
  readonly #byToken = new Map<string, CompiledEndpoint>();
  readonly #setCookie = new Map<CompiledEndpoint, string>();

  constructor(inner: BaseBalancer, affinity: CookieAffinity, defaultPath: string, setsCookie: boolean) {
    this.#inner = inner;
    this.upstream = inner.upstream;
    this.tries = inner.tries;
    this.affinity = affinity;
    this.cookieName = affinity.cookieName;
    this.sticky = affinity.canaryBehavior === 'sticky';
    this.setsCookie = setsCookie;
    // Compile time: token -> endpoint, endpoint -> Set-Cookie line.
    const attributes = `; Path=${affinity.path ?? defaultPath}${affinity.maxAgeSeconds !== null ? `; Max-Age=${affinity.maxAgeSeconds}` : ''}; HttpOnly`;
    for (const e of inner.candidates) {
      const token = affinityToken(e);
      if (!this.#byToken.has(token)) this.#byToken.set(token, e);
      this.#setCookie.set(e, `${affinity.cookieName}=${token}${attributes}`);
    }
  }

  /**
   * The usable endpoint the request's cookie pins it to, or undefined (no cookie, unknown token,
   * endpoint ejected or excluded). hot path for affinity routes
   */
  pinned(exchange: Exchange, exclude: readonly CompiledEndpoint[] | null): CompiledEndpoint | undefined {
    const token = findCookie(exchange.req.rawHeaders, this.cookieName);
    if (token === undefined) return undefined;
    const e = this.#byToken.get(token);
    if (e === undefined || this.#inner.isEjected(e) || (exclude !== null && exclude.includes(e))) return undefined;
    return e;
  }

  /** hot path */
  pick(exchange: Exchange, exclude: readonly CompiledEndpoint[] | null): CompiledEndpoint | undefined {
    const pinned = this.pinned(exchange, exclude);
    if (pinned !== undefined) {
      this.#inner.acquire(pinned);
      return pinned;
    }
    const e = this.#inner.pick(exchange, exclude);
    if (e !== undefined && this.setsCookie) exchange.setCookie = this.#setCookie.get(e) ?? null;
    return e;
  }

  done(exchange: Exchange): void {
    this.#inner.done(exchange);
  }

  failed(endpoint: CompiledEndpoint, code: string): void {
    this.#inner.failed(endpoint, code);
  }
}
