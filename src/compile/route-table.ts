import type { RouteConfig } from '../model/route-config.ts';
import type { CompiledRoute } from './compiled-route.ts';
import type { CompiledUpstream } from './compiled-upstream.ts';
import type { CompiledVirtualHost, HostIndex } from './host-index.ts';
import { normalizeHost } from './host.ts';
import type { LayeredMap } from './layered-map.ts';
import type { RouteSeriesBinder } from '../observability/route-metrics.ts';
import type { Balancing, UpstreamChoice } from '../proxy/balancers/balancing.ts';

/** Routes that cannot be served (switchyard_orphan_routes), counted at compile time. */
export interface OrphanRoutes {
  /** Routes whose backend names no Service (or an unknown port). */
  readonly noService: number;
  /** Routes whose upstream has no ready endpoint. */
  readonly noReadyEndpoint: number;
}

/** How a table was built: what the next compile needs to take parts of it over. */
export interface RouteTableBuild {
  /** Its config's upstreams and virtual hosts are strictly sorted (translate's order). */
  readonly canonical: boolean;
  /** The binder its routes' metric children came from; null: no metrics bound. */
  readonly metricsBinder: RouteSeriesBinder | null;
  /** The balancing its upstreams' balancers came from; null: none. */
  readonly balancing: Balancing | null;
  /** The load-balance choice per upstream key it was built with; null without balancing. */
  readonly balanceChoices: ReadonlyMap<string, UpstreamChoice> | null;
  readonly orphanRoutes: OrphanRoutes;
}

const UNKNOWN_BUILD: RouteTableBuild = Object.freeze({
  canonical: false,
  metricsBinder: null,
  balancing: null,
  balanceChoices: null,
  orphanRoutes: Object.freeze({ noService: 0, noReadyEndpoint: 0 }),
});

/**
 * The immutable, compiled form of a RouteConfig: what the proxy reads (once per request) from
 * RouteRef.current. Built by compile(); never mutated after, except the per-upstream round-robin
 * cursors and the proxy's lazily filled endpoint dispatcher slots.
 */
export class RouteTable {
  /** Increases with every compiled table (see CompileOptions.generation). */
  readonly generation: number;
  /** The IR this table was compiled from (debug view, incremental rebuilds). */
  readonly config: RouteConfig;
  /** Compiled upstreams by key ("ns/svc:port"). */
  readonly upstreams: LayeredMap<string, CompiledUpstream>;
  readonly #hosts: HostIndex;
  /** config.defaultBackend compiled; null -> 404 when nothing matches. */
  readonly defaultRoute: CompiledRoute | null;
  /**
   * The compiled form of each of `config.virtualHosts`, same positions (a virtual host left out
   * of the host index as a duplicate is still here): what the next compile may reuse.
   */
  readonly compiledHosts: readonly CompiledVirtualHost[];
  readonly canonical: boolean;
  readonly metricsBinder: RouteSeriesBinder | null;
  readonly balancing: Balancing | null;
  readonly balanceChoices: ReadonlyMap<string, UpstreamChoice> | null;
  readonly orphanRoutes: OrphanRoutes;

  constructor(
    generation: number,
    config: RouteConfig,
    hosts: HostIndex,
    upstreams: LayeredMap<string, CompiledUpstream>,
    defaultRoute: CompiledRoute | null,
    compiledHosts: readonly CompiledVirtualHost[] = [],
    build: RouteTableBuild = UNKNOWN_BUILD,
  ) {
    this.generation = generation;
    this.config = config;
    this.#hosts = hosts;
    this.upstreams = upstreams;
    this.defaultRoute = defaultRoute;
    this.compiledHosts = compiledHosts;
    this.canonical = build.canonical;
    this.metricsBinder = build.metricsBinder;
    this.balancing = build.balancing;
    this.balanceChoices = build.balanceChoices;
    this.orphanRoutes = build.orphanRoutes;
  }

  /** Its host index (compile patches a copy of it for the next table). */
  get hostIndex(): HostIndex {
    return this.#hosts;
  }

  /** The virtual host chosen for a raw Host header value (normalized here), or undefined. */
  findVirtualHost(host: string | undefined): CompiledVirtualHost | undefined {
    return this.#hosts.find(normalizeHost(host));
  }

  /**
   * The decision for a request: the matching route, else the virtual host's default backend, else
   * the table's default backend, else undefined (404). `host` is the raw Host header (normalized
   * here: lower-case, port and trailing dot stripped); `path` must be NORMALIZED already (see
   * src/compile/path.ts) and carry no query. A returned route whose `upstream` is null means the
   * backend could not be resolved (503).
   * hot path
   */
  find(host: string | undefined, path: string): CompiledRoute | undefined {
    const vhost = this.#hosts.find(normalizeHost(host));
    if (vhost !== undefined) {
      const route = vhost.paths.find(path);
      if (route !== undefined) return route;
      if (vhost.defaultRoute !== null) return vhost.defaultRoute;
    }
    return this.defaultRoute ?? undefined;
  }
}
