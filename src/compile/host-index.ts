import type { CompiledRoute } from './compiled-route.ts';
import { LayeredMap } from './layered-map.ts';
import type { PathMatcher } from './path-matcher.ts';
import type { UpstreamChoice } from '../proxy/balancers/balancing.ts';

/** A compiled virtual host: its path matcher and its own default (spec.defaultBackend), if any. */
export class CompiledVirtualHost {
  readonly host: string;
  readonly kind: 'exact' | 'wildcard' | 'any';
  readonly paths: PathMatcher;
  /** The virtual host's default backend, or null (then the table's default applies). */
  readonly defaultRoute: CompiledRoute | null;
  /** Its compiled routes in IR order (what `paths` holds), for reuse by the next compile. */
  readonly routes: readonly CompiledRoute[];
  /** What the next compile needs to know about it without reading every route (compile.ts). */
  readonly facts: VirtualHostFacts;

  constructor(
    host: string,
    kind: 'exact' | 'wildcard' | 'any',
    paths: PathMatcher,
    defaultRoute: CompiledRoute | null,
    routes: readonly CompiledRoute[] = [],
    facts: VirtualHostFacts = NO_FACTS,
  ) {
    this.host = host;
    this.kind = kind;
    this.paths = paths;
    this.defaultRoute = defaultRoute;
    this.routes = routes;
    this.facts = facts;
  }
}

/** Per compiled virtual host, gathered while it is compiled. */
export interface VirtualHostFacts {
  /** Upstream keys its routes and default route resolve (canaries excluded: see hasCanaries). */
  readonly upstreamKeys: readonly string[];
  /** Some route has canaries (their rules depend on other upstreams: never reused). */
  readonly hasCanaries: boolean;
  /** Load-balance choices of its routes, in route order (balancing.ts virtualHostChoices). */
  readonly choices: readonly (readonly [string, UpstreamChoice])[];
  /** Routes whose backend has no Service (switchyard_orphan_routes{reason="no_service"}). */
  readonly noService: number;
  /** Routes whose upstream has no ready endpoint (reason="no_ready_endpoint"). */
  readonly noReadyEndpoint: number;
}

const NO_FACTS: VirtualHostFacts = Object.freeze({ upstreamKeys: [], hasCanaries: true, choices: [], noService: 0, noReadyEndpoint: 0 });

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
  readonly #exact: LayeredMap<string, CompiledVirtualHost>;
  /** Keyed by the wildcard without its "*" (".example.com"). */
  readonly #wildcard: LayeredMap<string, CompiledVirtualHost>;
  readonly #any: CompiledVirtualHost | undefined;

  constructor(
    exact: LayeredMap<string, CompiledVirtualHost> = new LayeredMap(),
    wildcard: LayeredMap<string, CompiledVirtualHost> = new LayeredMap(),
    any: CompiledVirtualHost | undefined = undefined,
  ) {
    this.#exact = exact;
    this.#wildcard = wildcard;
    this.#any = any;
  }

  /** The index of `vhosts`; of several with one host, the first wins. */
  static of(vhosts: Iterable<CompiledVirtualHost>): HostIndex {
    const exact = new Map<string, CompiledVirtualHost>();
    const wildcard = new Map<string, CompiledVirtualHost>();
    let any: CompiledVirtualHost | undefined;
    for (const vhost of vhosts) {
      if (vhost.kind === 'exact') {
        if (!exact.has(vhost.host)) exact.set(vhost.host, vhost);
      } else if (vhost.kind === 'wildcard') {
        const suffix = vhost.host.slice(1);
        if (!wildcard.has(suffix)) wildcard.set(suffix, vhost);
      } else {
        any ??= vhost;
      }
    }
    return new HostIndex(new LayeredMap(exact), new LayeredMap(wildcard), any);
  }

  /**
   * This index without `removed` and with `added` (a new index; this one is unchanged), in
   * O(changed): what compile uses when the previous table's virtual hosts are unique per host.
   * A removed virtual host that is not the entry of its host (a duplicate) changes nothing; an
   * added one takes its host only if no entry is left there.
   */
  patched(removed: readonly CompiledVirtualHost[], added: readonly CompiledVirtualHost[]): HostIndex {
    const exactOut: string[] = [];
    const wildcardOut: string[] = [];
    let any = this.#any;
    for (const vhost of removed) {
      if (vhost.kind === 'exact') {
        if (this.#exact.get(vhost.host) === vhost) exactOut.push(vhost.host);
      } else if (vhost.kind === 'wildcard') {
        if (this.#wildcard.get(vhost.host.slice(1)) === vhost) wildcardOut.push(vhost.host.slice(1));
      } else if (any === vhost) {
        any = undefined;
      }
    }
    const exactIn = new Map<string, CompiledVirtualHost>();
    const wildcardIn = new Map<string, CompiledVirtualHost>();
    const gone = (out: readonly string[], key: string): boolean => out.includes(key);
    for (const vhost of added) {
      if (vhost.kind === 'exact') {
        if (!exactIn.has(vhost.host) && (this.#exact.get(vhost.host) === undefined || gone(exactOut, vhost.host))) exactIn.set(vhost.host, vhost);
      } else if (vhost.kind === 'wildcard') {
        const suffix = vhost.host.slice(1);
        if (!wildcardIn.has(suffix) && (this.#wildcard.get(suffix) === undefined || gone(wildcardOut, suffix))) wildcardIn.set(suffix, vhost);
      } else {
        any ??= vhost;
      }
    }
    return new HostIndex(this.#exact.with(exactIn, exactOut), this.#wildcard.with(wildcardIn, wildcardOut), any);
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
