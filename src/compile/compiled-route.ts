import type { ObjectRef } from '../model/kube.ts';
import type { BackendRef, CanaryBackend, Route } from '../model/route-config.ts';
import type { CanaryRule } from './canary-rule.ts';
import type { CompiledUpstream } from './compiled-upstream.ts';
import { DEFAULT_ROUTE_SETTINGS, compileRouteSettings, type CompiledRouteSettings } from './route-settings.ts';
import { PathRewrite } from './path-rewrite.ts';
import type { RouteMetrics } from '../observability/route-metrics.ts';

/** What kind of decision a CompiledRoute stands for. */
export type RouteKind = 'route' | 'host-default' | 'default';

/**
 * Everything a request needs once it is matched, computed when the table is built. A default
 * backend (a virtual host's spec.defaultBackend, or the controller-wide one) is a CompiledRoute too
 * (kind "host-default"/"default", no path), so RouteTable.find() returns one type and allocates nothing.
 * The shape is fixed in the constructor (every field always present) to keep call sites monomorphic;
 * later work binds per-route metric children (`metrics`) and compiled canary rules (`canaries`) here.
 */
export class CompiledRoute {
  /** "ingress/<ns>/<name>/rule/<i>/path/<j>", or "default" / "host-default/<host>" for defaults. */
  readonly name: string;
  readonly kind: RouteKind;
  /** Virtual host this decision belongs to ("*" for the any-host entry, "" for the global default). */
  readonly host: string;
  readonly path: string;
  readonly match: 'exact' | 'prefix' | 'regex' | 'default';
  readonly matchPath: string;
  /** rewrite-target of the route (path-rewrite.ts), or null: the path is forwarded as it is. */
  readonly rewrite: PathRewrite | null;
  /** The Ingress the route came from; null for the --default-backend-service default. */
  readonly source: ObjectRef | null;
  readonly backend: BackendRef;
  /** Resolved upstream, or null when the backend could not be resolved (the proxy answers 503). */
  readonly upstream: CompiledUpstream | null;
  /**
   * Position in the RouteConfig (virtual host index * 1e6 + route index), used to honour IR order
   * within its virtual host. Only that relative order means anything: a virtual host that compile
   * takes over from the previous table keeps the numbers it was compiled with.
   */
  readonly order: number;
  /** Canary backends from the IR (debug views); requests use `canaryRule`. */
  canaries: readonly CanaryBackend[];
  /**
   * The compiled per-request canary decision (canary-rule.ts), or null when no canary can serve:
   * the proxy then does no canary work at all for this route.
   */
  readonly canaryRule: CanaryRule<CompiledUpstream> | null;
  /** Per-route metric children, bound at compile time (CompileOptions.metrics); null when not recorded. */
  metrics: RouteMetrics | null;
  /** Annotation behaviour (timeouts, body size, redirects, rewrite); DEFAULT_ROUTE_SETTINGS when none. */
  readonly settings: CompiledRouteSettings;

  constructor(fields: {
    name: string;
    kind: RouteKind;
    host: string;
    path: string;
    match: 'exact' | 'prefix' | 'regex' | 'default';
    matchPath: string;
    rewrite?: PathRewrite | null;
    source: ObjectRef | null;
    backend: BackendRef;
    upstream: CompiledUpstream | null;
    order: number;
    canaries: readonly CanaryBackend[];
    canaryRule?: CanaryRule<CompiledUpstream> | null;
    settings?: CompiledRouteSettings;
  }) {
    this.name = fields.name;
    this.kind = fields.kind;
    this.host = fields.host;
    this.path = fields.path;
    this.match = fields.match;
    this.matchPath = fields.matchPath;
    this.rewrite = fields.rewrite ?? null;
    this.source = fields.source;
    this.backend = fields.backend;
    this.upstream = fields.upstream;
    this.order = fields.order;
    this.canaries = fields.canaries;
    this.canaryRule = fields.canaryRule ?? null;
    this.metrics = null;
    this.settings = fields.settings ?? DEFAULT_ROUTE_SETTINGS;
  }

  static fromRoute(
    route: Route,
    upstream: CompiledUpstream | null,
    order: number,
    canaryRule: CanaryRule<CompiledUpstream> | null = null,
  ): CompiledRoute {
    return new CompiledRoute({
      name: route.name,
      kind: 'route',
      host: route.host,
      path: route.path,
      match: route.match,
      matchPath: route.matchPath,
      rewrite: PathRewrite.of(route.path, route.settings?.rewriteTarget),
      source: route.source,
      backend: route.backend,
      upstream,
      order,
      canaries: route.canaries,
      canaryRule,
      settings: compileRouteSettings(route.settings),
    });
  }
}
