import type { BackendRef, RouteConfig, VirtualHost } from '../model/route-config.ts';
import { compileCanaryRule } from './canary-rule.ts';
import { CompiledRoute } from './compiled-route.ts';
import { CompiledUpstream } from './compiled-upstream.ts';
import { CompiledVirtualHost, HostIndex } from './host-index.ts';
import { PathMatcher } from './path-matcher.ts';
import { RouteTable } from './route-table.ts';
import type { RouteSeriesBinder } from '../observability/route-metrics.ts';
import type { Balancing } from '../proxy/balancers/balancing.ts';

export interface CompileOptions {
  /** Generation number of the new table; default: previous.generation + 1, else a process-wide counter. */
  readonly generation?: number;
  /**
   * The table this one replaces. Round-robin cursors carry over per upstream key, so frequent swaps
   * do not send every upstream's traffic back to its first endpoint.
   */
  readonly previous?: RouteTable | null;
  /**
   * Where a new upstream's round robin starts, as a fraction in [0, 1) (injected for tests; default
   * Math.random), so that many proxies do not all start on the same endpoint.
   */
  readonly random?: () => number;
  /**
   * Source of the per-request weighted canary draw, uniform in [0, 1) (canary-rule.ts; injected for
   * tests; default Math.random). Bound into each route's canary rule here, at compile time.
   */
  readonly canaryRandom?: () => number;
  /**
   * Binds each compiled route's metric children (CompiledRoute.metrics) at compile time, so the
   * proxy records a request without any label lookup. Omitted/null: metrics stay null (not recorded).
   * The caller commits the binder once the table is swapped in (RouteSeriesSet.commit).
   */
  readonly metrics?: RouteSeriesBinder | null;
  /**
   * Builds each upstream's balancer (load-balance policy, passive health, retries; README
   * "Resilience") and binds its endpoints to their long-lived health entries. One per process.
   * Omitted/null: upstreams keep plain round robin (CompiledUpstream.pick) without health or retries.
   */
  readonly balancing?: Balancing | null;
}

let lastGeneration = 0;

/**
 * Compile a RouteConfig into a RouteTable: everything that does not depend on the request is done
 * here, once per table (host index, path maps, upstream endpoint lists, default decisions).
 * Never throws on data: the IR is already validated by translate.
 */
export function compile(config: RouteConfig, options: CompileOptions = {}): RouteTable {
  const previous = options.previous ?? null;
  const random = options.random ?? Math.random;
  const binder = options.metrics ?? null;
  const balancing = options.balancing ?? null;
  const generation = options.generation ?? (previous !== null ? previous.generation + 1 : lastGeneration + 1);
  if (generation > lastGeneration) lastGeneration = generation;

  // 1. Upstreams, with round-robin cursors carried over from the previous table. The very same
  //    Upstream IR object as in the previous table (translate shares unchanged ones) keeps its
  //    compiled upstream as is: endpoints, origins, cursor and pool slots.
  const upstreams = new Map<string, CompiledUpstream>();
  for (const upstream of config.upstreams) {
    const before = previous?.upstreams.get(upstream.key);
    if (before !== undefined && before.source === upstream) {
      // Its balancer is built again, so its endpoints stay marked as used by this generation.
      if (balancing !== null) before.balancer = balancing.build(before, generation);
      upstreams.set(upstream.key, before);
      continue;
    }
    const start = before !== undefined ? before.cursor : Math.floor(random() * Math.max(1, upstream.endpoints.length));
    upstreams.set(upstream.key, new CompiledUpstream(upstream, start));
  }
  // Balancers: built for new upstreams, rebuilt where the load-balance/affinity choice changed.
  if (balancing !== null) balancing.bind(config, upstreams, generation);
  const resolve = (backend: BackendRef): CompiledUpstream | null =>
    backend.upstream === null ? null : (upstreams.get(backend.upstream) ?? null);
  // A canary takes part in the decision only while its upstream has an endpoint to send to; else its
  // traffic stays on the main backend (as ingress-nginx does for a canary without endpoints).
  const canaryOptions = {
    random: options.canaryRandom ?? Math.random,
    resolveUpstream: (backend: BackendRef): CompiledUpstream | null => {
      const upstream = resolve(backend);
      return upstream !== null && upstream.candidates.length > 0 ? upstream : null;
    },
  };

  // 2. Virtual hosts, their routes (IR order) and their defaults. A VirtualHost IR object that is
  //    the same as in the previous table, whose routes still resolve to the same compiled upstreams,
  //    is taken over whole (its metric children are carried into this table's binder): a change to
  //    one Ingress recompiles only the virtual hosts it touches.
  //    The previous table's virtual hosts are found by walking both sorted lists side by side
  //    (translate sorts them; an unsorted list only finds fewer to reuse, never a wrong one).
  const hosts = new HostIndex();
  const compiledHosts: CompiledVirtualHost[] = [];
  const before = previous?.config.virtualHosts ?? [];
  const compiledBefore = previous?.compiledHosts ?? [];
  let b = 0;
  config.virtualHosts.forEach((vhost, v) => {
    while (b < before.length && before[b] !== vhost && compareHosts(before[b], vhost) < 0) b++;
    if (b < before.length && before[b] === vhost && b < compiledBefore.length && isReusable(compiledBefore[b], resolve, binder)) {
      hosts.add(compiledBefore[b]);
      compiledHosts.push(compiledBefore[b]);
      b++;
      return;
    }
    const paths = new PathMatcher();
    const routes: CompiledRoute[] = [];
    vhost.routes.forEach((route, r) => {
      const canaryRule = compileCanaryRule(route.canaries, canaryOptions);
      const compiled = CompiledRoute.fromRoute(route, resolve(route.backend), v * 1_000_000 + r, canaryRule);
      if (binder !== null) compiled.metrics = binder.bindRouteMetrics(compiled, canaryRule?.targets ?? []);
      paths.add(compiled);
      routes.push(compiled);
    });
    const defaultRoute =
      vhost.defaultBackend === null
        ? null
        : new CompiledRoute({
            name: `host-default/${vhost.host}`,
            kind: 'host-default',
            host: vhost.host,
            path: '',
            match: 'default',
            matchPath: '',
            source: vhost.routes[0]?.source ?? null,
            backend: vhost.defaultBackend,
            upstream: resolve(vhost.defaultBackend),
            order: Number.MAX_SAFE_INTEGER,
            canaries: [],
          });
    if (defaultRoute !== null && binder !== null) defaultRoute.metrics = binder.bindDefault(vhost.host, defaultRoute.source, defaultRoute.backend);
    const compiledHost = new CompiledVirtualHost(vhost.host, vhost.kind, paths, defaultRoute, routes);
    hosts.add(compiledHost);
    compiledHosts.push(compiledHost);
  });

  // 3. The table-wide default.
  const defaultRoute =
    config.defaultBackend === null
      ? null
      : new CompiledRoute({
          name: 'default',
          kind: 'default',
          host: '',
          path: '',
          match: 'default',
          matchPath: '',
          source: null,
          backend: config.defaultBackend,
          upstream: resolve(config.defaultBackend),
          order: Number.MAX_SAFE_INTEGER,
          canaries: [],
        });

  if (defaultRoute !== null && binder !== null) defaultRoute.metrics = binder.bindDefault('', null, defaultRoute.backend);

  return new RouteTable(generation, config, hosts, upstreams, defaultRoute, compiledHosts);
}

const HOST_KIND_RANK = { exact: 0, wildcard: 1, any: 2 } as const;

/** The order of RouteConfig.virtualHosts: exact, wildcard, then "*"; by host within a kind. */
function compareHosts(a: VirtualHost, b: VirtualHost): number {
  const byKind = HOST_KIND_RANK[a.kind] - HOST_KIND_RANK[b.kind];
  if (byKind !== 0) return byKind;
  return a.host < b.host ? -1 : a.host > b.host ? 1 : 0;
}

/**
 * Whether a compiled virtual host of the previous table (built from the same VirtualHost IR
 * object) can serve in the new one unchanged: every route and its default still resolve to the
 * same compiled upstreams, no route has canaries (their rules depend on other upstreams' endpoints
 * and the canary random source), and metrics are bound the same way. When it can and metrics are
 * on, its metric children are adopted by this table's binder so they stay live.
 */
function isReusable(
  vhost: CompiledVirtualHost,
  resolve: (backend: BackendRef) => CompiledUpstream | null,
  binder: RouteSeriesBinder | null,
): boolean {
  for (const route of vhost.routes) {
    if (route.canaries.length > 0 || resolve(route.backend) !== route.upstream || (route.metrics === null) !== (binder === null)) return false;
  }
  const d = vhost.defaultRoute;
  if (d !== null && (resolve(d.backend) !== d.upstream || (d.metrics === null) !== (binder === null))) return false;
  if (binder !== null) {
    for (const route of vhost.routes) binder.adopt(route.metrics!);
    if (d !== null) binder.adopt(d.metrics!);
  }
  return true;
}
