import type { CompiledRoute } from './compiled-route.ts';
import type { PathMatcher } from './path-matcher.ts';

/** A compiled virtual host: its path matcher and its own default (spec.defaultBackend), if any. */
export class CompiledVirtualHost {
  readonly host: string;
  readonly kind: 'exact' | 'wildcard' | 'any';
  readonly paths: PathMatcher;
  /** The virtual host's default backend, or null (then the table's default applies). */
  readonly defaultRoute: CompiledRoute | null;
  /** Its compiled routes in IR order (what `paths` holds), for reuse by the next compile. */
  readonly routes: readonly CompiledRoute[];

  constructor(host: string, kind: 'exact' | 'wildcard' | 'any', paths: PathMatcher, defaultRoute: CompiledRoute | null, routes: readonly CompiledRoute[] = []) {
    this.host = host;
    this.kind = kind;
    this.paths = paths;
    this.defaultRoute = defaultRoute;
    this.routes = routes;
  }
}

/**
 * Picks the ONE virtual host for a normalized host name, most specific first, by Map lookups:
 *   1. exact host ("shop.example.com");
 *   2. wildcard: the host minus its first label (".example.com") keys the "*.example.com" entry, so
 *      a wildcard matches exactly one extra label: not "example.com" (no label to strip, and its
 *      suffix "." + "com" is a different key), not "a.b.example.com" (its suffix is ".b.example.com");
 *   3. the any-host entry "*" (rules without a host).
 * There is no fallback to a less specific host once one is chosen (Ingress semantics).
 */
export class HostIndex {
  readonly #exact = new Map<string, CompiledVirtualHost>();
  /** Keyed by the wildcard without its "*" (".example.com"). */
  readonly #wildcard = new Map<string, CompiledVirtualHost>();
  #any: CompiledVirtualHost | undefined = undefined;

  add(vhost: CompiledVirtualHost): void {
    if (vhost.kind === 'exact') {
      if (!this.#exact.has(vhost.host)) this.#exact.set(vhost.host, vhost);
    } else if (vhost.kind === 'wildcard') {
      const suffix = vhost.host.slice(1);
      if (!this.#wildcard.has(suffix)) this.#wildcard.set(suffix, vhost);
    } else {
      this.#any ??= vhost;
    }
  }

  get size(): number {
    return this.#exact.size + this.#wildcard.size + (this.#any === undefined ? 0 : 1);
  }

  /**
   * The virtual host for a normalized host ("" when the request had none), or undefined.
   * hot path
   */
  find(host: string): CompiledVirtualHost | undefined {
    if (host.length > 0) {
      const exact = this.#exact.get(host);
      if (exact !== undefined) return exact;
      if (this.#wildcard.size > 0) {
        const dot = host.indexOf('.');
        if (dot > 0) {
          const wildcard = this.#wildcard.get(host.slice(dot));
          if (wildcard !== undefined) return wildcard;
        }
      }
    }
    return this.#any;
  }
}
