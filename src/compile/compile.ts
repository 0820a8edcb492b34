import type { BackendRef, RouteConfig, Upstream, VirtualHost } from '../model/route-config.ts';
import { compileCanaryRule, type CanaryRuleOptions } from './canary-rule.ts';
import { CompiledRoute } from './compiled-route.ts';
import { CompiledUpstream } from './compiled-upstream.ts';
import { CompiledVirtualHost, HostIndex } from './host-index.ts';
import { LayeredMap } from './layered-map.ts';
import { PathMatcher } from './path-matcher.ts';
import { RouteTable, type OrphanRoutes } from './route-table.ts';
import type { RouteMetrics, RouteSeriesBinder } from '../observability/route-metrics.ts';
import { addChoices, virtualHostChoices, type Balancing, type UpstreamChoice } from '../proxy/balancers/balancing.ts';

export interface CompileOptions {
  /** Generation number of the new table; default: previous.generation + 1, else a process-wide counter. */
  readonly generation?: number;
  /**
   * The table this one replaces. Round-robin cursors carry over per upstream key, so frequent swaps
   * do not send every upstream's traffic back to its first endpoint; what did not change is taken
   * over (see compile).
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

/** What one compile works with, besides the config and the previous table. */
interface CompileContext {
  readonly generation: number;
  readonly random: () => number;
  readonly canaryRandom: () => number;
  readonly binder: RouteSeriesBinder | null;
  readonly balancing: Balancing | null;
}

/**
 * Compile a RouteConfig into a RouteTable: everything that does not depend on the request is done
 * here, once per table (host index, path maps, upstream endpoint lists, default decisions).
 * Never throws on data: the IR is already validated by translate.
 *
 * With a previous table, the work is O(what changed): translate shares unchanged Upstream and
 * VirtualHost objects, so walking both sorted lists side by side finds the changed ones by
 * identity; their compiled forms are built, everything else (compiled upstreams with their
 * balancers and cursors, compiled virtual hosts with their metric children) is taken over, and the
 * host index and upstream map are patched (LayeredMap), not rebuilt. Lists that are not strictly
 * sorted (hand-built configs) take the full path, which gives the same table.
 */
export function compile(config: RouteConfig, options: CompileOptions = {}): RouteTable {
  const previous = options.previous ?? null;
  const generation = options.generation ?? (previous !== null ? previous.generation + 1 : lastGeneration + 1);
  if (generation > lastGeneration) lastGeneration = generation;
  const context: CompileContext = {
    generation,
    random: options.random ?? Math.random,
    canaryRandom: options.canaryRandom ?? Math.random,
    binder: options.metrics ?? null,
    balancing: options.balancing ?? null,
  };
  // Reused routes must carry metric children exactly when this table binds them.
  if (previous !== null && previous.canonical && (previous.metricsBinder === null) === (context.binder === null)) {
    const changes = findChanges(previous.config, config);
    if (changes !== null) return compileChanges(config, previous, changes, context);
  }
  return compileAll(config, previous, context);
}

// --- What changed ---------------------------------------------------------------------------------

interface Changes {
  /** New or changed upstreams of the new config, in its order. */
  readonly upstreams: readonly Upstream[];
  /** Keys of the previous config's upstreams that are gone. */
  readonly upstreamsRemoved: readonly string[];
  /** Per virtual host of the new config: its position in the previous config (same object), or -1. */
  readonly hostFrom: Int32Array;
  /** Positions in the previous config of virtual hosts that are gone or replaced. */
  readonly hostsRemoved: readonly number[];
}

/**
 * The changes from `before` (strictly sorted: the previous table was canonical) to `next`, or null
 * when `next` is not strictly sorted. Pointer comparisons for shared items; keys are compared only
 * around the items that differ.
 */
function findChanges(before: RouteConfig, next: RouteConfig): Changes | null {
  const upstreams: Upstream[] = [];
  const upstreamsRemoved: string[] = [];
  const sortedUpstreams = walkSorted(before.upstreams, next.upstreams, compareUpstreams, {
    kept: () => {},
    added: (i) => upstreams.push(next.upstreams[i]),
    removed: (j) => upstreamsRemoved.push(before.upstreams[j].key),
  });
  if (!sortedUpstreams) return null;
  const hostFrom = new Int32Array(next.virtualHosts.length).fill(-1);
  const hostsRemoved: number[] = [];
  const sortedHosts = walkSorted(before.virtualHosts, next.virtualHosts, compareHosts, {
    kept: (i, j) => (hostFrom[i] = j),
    added: () => {},
    removed: (j) => hostsRemoved.push(j),
  });
  return sortedHosts ? { upstreams, upstreamsRemoved, hostFrom, hostsRemoved } : null;
}

/**
 * Walks `next` against `before` (strictly sorted by `compare`): `kept` for the very same object,
 * `added` for a new or changed item (a changed one's previous item is `removed`). Returns false,
 * part-way, when `next` is not strictly sorted.
 */
function walkSorted<T>(
  before: readonly T[],
  next: readonly T[],
  compare: (a: T, b: T) => number,
  on: { kept(i: number, j: number): void; added(i: number): void; removed(j: number): void },
): boolean {
  let j = 0;
  let last: T | undefined;
  let lastKept = false;
  for (let i = 0; i < next.length; i++) {
    const item = next[i];
    // 1. The same object as the previous list's next one: kept. Items kept one after another are
    //    in the previous list's order, so only a kept item after a new one needs a comparison.
    if (j < before.length && before[j] === item) {
      if (last !== undefined && !lastKept && compare(last, item) >= 0) return false;
      on.kept(i, j++);
      last = item;
      lastKept = true;
      continue;
    }
    if (last !== undefined && compare(last, item) >= 0) return false;
    // 2. Previous items sorting before this one are gone.
    while (j < before.length && before[j] !== item && compare(before[j], item) < 0) on.removed(j++);
    if (j < before.length && before[j] === item) {
      on.kept(i, j++);
      lastKept = true;
    } else {
      // 3. New, or changed (same key, another object: the previous one is replaced).
      if (j < before.length && compare(before[j], item) === 0) on.removed(j++);
      on.added(i);
      lastKept = false;
    }
    last = item;
  }
  while (j < before.length) on.removed(j++);
  return true;
}

function compareUpstreams(a: Upstream, b: Upstream): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

const HOST_KIND_RANK = { exact: 0, wildcard: 1, any: 2 } as const;

/** The order of RouteConfig.virtualHosts: exact, wildcard, then "*"; by host within a kind. */
function compareHosts(a: VirtualHost, b: VirtualHost): number {
  const byKind = HOST_KIND_RANK[a.kind] - HOST_KIND_RANK[b.kind];
  if (byKind !== 0) return byKind;
  return a.host < b.host ? -1 : a.host > b.host ? 1 : 0;
}

function isStrictlySorted<T>(list: readonly T[], compare: (a: T, b: T) => number): boolean {
  for (let i = 1; i < list.length; i++) if (compare(list[i - 1], list[i]) >= 0) return false;
  return true;
}

// --- The incremental path -------------------------------------------------------------------------

function compileChanges(config: RouteConfig, previous: RouteTable, changes: Changes, context: CompileContext): RouteTable {
  const { binder, balancing } = context;

  // 1. New and changed upstreams; a changed one keeps its round-robin cursor. Every other compiled
  //    upstream (endpoints, origins, cursor, pool slots, balancer) is taken over.
  const set = new Map<string, CompiledUpstream>();
  for (const upstream of changes.upstreams) {
    const before = previous.upstreams.get(upstream.key);
    const start = before !== undefined ? before.cursor : Math.floor(context.random() * Math.max(1, upstream.endpoints.length));
    set.set(upstream.key, new CompiledUpstream(upstream, start));
  }
  const upstreams = previous.upstreams.with(set, changes.upstreamsRemoved);
  /** Keys whose compiled upstream is not the previous table's: routes to them are compiled again. */
  const changedKeys = new Set<string>(set.keys());
  for (const key of changes.upstreamsRemoved) changedKeys.add(key);
  const resolvers = makeResolvers(upstreams, context);

  // 2. Metric children: on top of the committed table when the previous table is it (then a route
  //    taken over needs no call, a dropped one is released); else every taken-over route is adopted.
  const carry = binder !== null && binder.canCarryFrom(previous.metricsBinder);
  if (carry) binder.carryOver();

  // 3. Virtual hosts: the previous compiled one when its VirtualHost object is the same and none of
  //    its upstreams changed (and it has no canaries: their rules read other upstreams' endpoints).
  const vhosts = config.virtualHosts;
  const compiledHosts = new Array<CompiledVirtualHost>(vhosts.length);
  const removed: CompiledVirtualHost[] = [];
  const added: CompiledVirtualHost[] = [];
  for (let v = 0; v < vhosts.length; v++) {
    const j = changes.hostFrom[v];
    if (j >= 0) {
      const before = previous.compiledHosts[j];
      if (!before.facts.hasCanaries && (changedKeys.size === 0 || !before.facts.upstreamKeys.some((key) => changedKeys.has(key)))) {
        compiledHosts[v] = before;
        if (binder !== null && !carry) forEachMetrics(before, (m) => binder.adopt(m));
        continue;
      }
      removed.push(before);
    }
    const compiled = compileVirtualHost(vhosts[v], v, resolvers, binder);
    compiledHosts[v] = compiled;
    added.push(compiled);
  }
  for (const j of changes.hostsRemoved) removed.push(previous.compiledHosts[j]);
  if (carry) for (const vhost of removed) forEachMetrics(vhost, (m) => binder.release(m));
  const hosts = previous.hostIndex.patched(removed, added);

  // 4. The table-wide default: taken over while its backend and upstream are the same.
  const before = previous.defaultRoute;
  const key = config.defaultBackend?.upstream ?? null;
  let defaultRoute: CompiledRoute | null;
  if (before !== null && before.backend === config.defaultBackend && (key === null || !changedKeys.has(key))) {
    defaultRoute = before;
    if (binder !== null && !carry) binder.adopt(before.metrics!);
  } else {
    defaultRoute = compileTableDefault(config, resolvers.resolve, binder);
    if (carry && before?.metrics) binder.release(before.metrics);
  }

  // 5. Balancers: built for new upstreams, rebuilt where a load-balance/affinity choice changed.
  let choices: ReadonlyMap<string, UpstreamChoice> | null = null;
  if (balancing !== null) {
    choices = tableChoices(compiledHosts);
    const sameBalancing = previous.balancing === balancing && previous.balanceChoices !== null;
    let check: Set<string> | null = null;
    if (sameBalancing) {
      check = new Set(set.keys());
      for (const k of choices.keys()) check.add(k);
      for (const k of previous.balanceChoices!.keys()) check.add(k);
    }
    balancing.bind(choices, upstreams, context.generation, check);
  }

  return new RouteTable(context.generation, config, hosts, upstreams, defaultRoute, compiledHosts, {
    canonical: true,
    metricsBinder: binder,
    balancing,
    balanceChoices: choices,
    orphanRoutes: sumOrphans(compiledHosts),
  });
}

/** Each metric children object of a compiled virtual host's routes and default route. */
function forEachMetrics(vhost: CompiledVirtualHost, fn: (metrics: RouteMetrics) => void): void {
  for (const route of vhost.routes) if (route.metrics !== null) fn(route.metrics);
  if (vhost.defaultRoute?.metrics) fn(vhost.defaultRoute.metrics);
}

// --- The full path --------------------------------------------------------------------------------

function compileAll(config: RouteConfig, previous: RouteTable | null, context: CompileContext): RouteTable {
  const { binder, balancing } = context;

  // 1. Upstreams, with round-robin cursors carried over from the previous table. The very same
  //    Upstream IR object as in the previous table (translate shares unchanged ones) keeps its
  //    compiled upstream as is: endpoints, origins, cursor, pool slots and balancer.
  const map = new Map<string, CompiledUpstream>();
  for (const upstream of config.upstreams) {
    const before = previous?.upstreams.get(upstream.key);
    if (before !== undefined && before.source === upstream) {
      map.set(upstream.key, before);
      continue;
    }
    const start = before !== undefined ? before.cursor : Math.floor(context.random() * Math.max(1, upstream.endpoints.length));
    map.set(upstream.key, new CompiledUpstream(upstream, start));
  }
  const upstreams = new LayeredMap(map);
  const resolvers = makeResolvers(upstreams, context);

  // 2. Virtual hosts, their routes (IR order) and their defaults. A VirtualHost IR object that is
  //    the same as in the previous table, whose routes still resolve to the same compiled upstreams,
  //    is taken over whole (its metric children are carried into this table's binder).
  //    The previous table's virtual hosts are found by walking both sorted lists side by side
  //    (translate sorts them; an unsorted list only finds fewer to reuse, never a wrong one).
  const compiledHosts: CompiledVirtualHost[] = [];
  const before = previous?.config.virtualHosts ?? [];
  const compiledBefore = previous?.compiledHosts ?? [];
  let b = 0;
  config.virtualHosts.forEach((vhost, v) => {
    while (b < before.length && before[b] !== vhost && compareHosts(before[b], vhost) < 0) b++;
    if (b < before.length && before[b] === vhost && b < compiledBefore.length && isReusable(compiledBefore[b], resolvers.resolve, binder)) {
      compiledHosts.push(compiledBefore[b]);
      b++;
      return;
    }
    compiledHosts.push(compileVirtualHost(vhost, v, resolvers, binder));
  });
  const hosts = HostIndex.of(compiledHosts);

  // 3. The table-wide default.
  const defaultRoute = compileTableDefault(config, resolvers.resolve, binder);

  // 4. Balancers: built for new upstreams, rebuilt where the load-balance/affinity choice changed.
  let choices: ReadonlyMap<string, UpstreamChoice> | null = null;
  if (balancing !== null) {
    choices = tableChoices(compiledHosts);
    balancing.bind(choices, upstreams, context.generation);
  }

  return new RouteTable(context.generation, config, hosts, upstreams, defaultRoute, compiledHosts, {
    canonical: isStrictlySorted(config.upstreams, compareUpstreams) && isStrictlySorted(config.virtualHosts, compareHosts),
    metricsBinder: binder,
    balancing,
    balanceChoices: choices,
    orphanRoutes: sumOrphans(compiledHosts),
  });
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
  if (vhost.facts.hasCanaries) return false;
  for (const route of vhost.routes) {
    if (route.canaries.length > 0 || resolve(route.backend) !== route.upstream || (route.metrics === null) !== (binder === null)) return false;
  }
  const d = vhost.defaultRoute;
  if (d !== null && (resolve(d.backend) !== d.upstream || (d.metrics === null) !== (binder === null))) return false;
  if (binder !== null) forEachMetrics(vhost, (m) => binder.adopt(m));
  return true;
}

// --- Shared by both paths -------------------------------------------------------------------------

interface Resolvers {
  readonly resolve: (backend: BackendRef) => CompiledUpstream | null;
  readonly canary: CanaryRuleOptions<CompiledUpstream>;
}

function makeResolvers(upstreams: ReadonlyMap<string, CompiledUpstream>, context: CompileContext): Resolvers {
  const resolve = (backend: BackendRef): CompiledUpstream | null =>
    backend.upstream === null ? null : (upstreams.get(backend.upstream) ?? null);
  // A canary takes part in the decision only while its upstream has an endpoint to send to; else its
  // traffic stays on the main backend (as ingress-nginx does for a canary without endpoints).
  const canary = {
    random: context.canaryRandom,
    resolveUpstream: (backend: BackendRef): CompiledUpstream | null => {
      const upstream = resolve(backend);
      return upstream !== null && upstream.candidates.length > 0 ? upstream : null;
    },
  };
  return { resolve, canary };
}

/** One virtual host: its routes (IR order), its default, and the facts the next compile reads. */
function compileVirtualHost(vhost: VirtualHost, v: number, resolvers: Resolvers, binder: RouteSeriesBinder | null): CompiledVirtualHost {
  const paths = new PathMatcher();
  const routes: CompiledRoute[] = [];
  const upstreamKeys: string[] = [];
  let hasCanaries = false;
  let noService = 0;
  let noReadyEndpoint = 0;
  vhost.routes.forEach((route, r) => {
    const canaryRule = compileCanaryRule(route.canaries, resolvers.canary);
    const upstream = resolvers.resolve(route.backend);
    const compiled = CompiledRoute.fromRoute(route, upstream, v * 1_000_000 + r, canaryRule);
    if (binder !== null) compiled.metrics = binder.bindRouteMetrics(compiled, canaryRule?.targets ?? []);
    paths.add(compiled);
    routes.push(compiled);
    if (route.canaries.length > 0) hasCanaries = true;
    // 1. No Service: an orphan. 2. A Service whose upstream has no ready endpoint: an orphan too.
    if (route.backend.upstream === null) noService++;
    else {
      upstreamKeys.push(route.backend.upstream);
      if (upstream === null || !hasReadyEndpoint(upstream)) noReadyEndpoint++;
    }
  });
  let defaultRoute: CompiledRoute | null = null;
  if (vhost.defaultBackend !== null) {
    defaultRoute = new CompiledRoute({
      name: ['host-default', vhost.host].join('/'),
      kind: 'host-default',
      host: vhost.host,
      path: '',
      match: 'default',
      matchPath: '',
      source: vhost.routes[0]?.source ?? null,
      backend: vhost.defaultBackend,
      upstream: resolvers.resolve(vhost.defaultBackend),
      order: Number.MAX_SAFE_INTEGER,
      canaries: [],
    });
    if (vhost.defaultBackend.upstream !== null) upstreamKeys.push(vhost.defaultBackend.upstream);
    if (binder !== null) defaultRoute.metrics = binder.bindDefault(vhost.host, defaultRoute.source, defaultRoute.backend);
  }
  return new CompiledVirtualHost(vhost.host, vhost.kind, paths, defaultRoute, routes, {
    upstreamKeys,
    hasCanaries,
    choices: virtualHostChoices(vhost),
    noService,
    noReadyEndpoint,
  });
}

/** An upstream with an endpoint that is ready (candidates hold the ready ones when there are any). */
function hasReadyEndpoint(upstream: CompiledUpstream): boolean {
  return upstream.candidates.length > 0 && upstream.candidates[0].ready;
}

function compileTableDefault(config: RouteConfig, resolve: (backend: BackendRef) => CompiledUpstream | null, binder: RouteSeriesBinder | null): CompiledRoute | null {
  if (config.defaultBackend === null) return null;
  const route = new CompiledRoute({
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
  if (binder !== null) route.metrics = binder.bindDefault('', null, route.backend);
  return route;
}

/** The table's load-balance choices (upstreamChoices), merged from its virtual hosts in order. */
function tableChoices(compiledHosts: readonly CompiledVirtualHost[]): Map<string, UpstreamChoice> {
  const choices = new Map<string, UpstreamChoice>();
  for (const vhost of compiledHosts) if (vhost.facts.choices.length > 0) addChoices(choices, vhost.facts.choices);
  return choices;
}

function sumOrphans(compiledHosts: readonly CompiledVirtualHost[]): OrphanRoutes {
  let noService = 0;
  let noReadyEndpoint = 0;
  for (const vhost of compiledHosts) {
    noService += vhost.facts.noService;
    noReadyEndpoint += vhost.facts.noReadyEndpoint;
  }
  return { noService, noReadyEndpoint };
}
