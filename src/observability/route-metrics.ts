// Per-route request metrics, pre-bound when the route table is compiled.
//
// The hot path never looks up labels: compile() binds one RouteSeries per (route, backend) and the
// proxy calls `series.record(...)` with plain numbers once per request. A RouteSeries keeps its
// counts in plain Float64Arrays (one small "cell" per method x status seen on that route); the
// Prometheus exposition is rendered from those arrays at scrape time (metrics.ts renders the native
// families, compat-ingress-nginx.ts the ingress-nginx ones: same accumulators, rendered twice, so
// the compatibility view costs nothing per request).
//
// Series are keyed by their label values, not by table: a route that survives a swap keeps its
// RouteSeries (and its counts); a route that disappears is dropped when the new table is committed.

import type { BackendRef } from '../model/route-config.ts';

/** Bounded method label values; anything else counts as OTHER. Index = position. */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'OTHER'] as const;
export type MetricMethod = (typeof METHODS)[number];
const METHOD_OTHER = 9;

/** Hot path: a switch on the (already upper-case, llhttp-validated) method string. */
export function methodIndex(method: string): number {
  switch (method) {
    case 'GET': return 0;
    case 'HEAD': return 1;
    case 'POST': return 2;
    case 'PUT': return 3;
    case 'DELETE': return 4;
    case 'PATCH': return 5;
    case 'OPTIONS': return 6;
    case 'CONNECT': return 7;
    case 'TRACE': return 8;
    default: return METHOD_OTHER;
  }
}

// --- Buckets ------------------------------------------------------------------------------------
// The accumulators use the UNION of the native and the ingress-nginx buckets, so both renderings
// are exact (a cumulative count at any rendered bound is a prefix sum of accumulator buckets).

/** Native duration buckets (seconds): finer at the low end than prometheus.DefBuckets, up to 60 s. */
export const NATIVE_TIME_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Native size buckets (bytes): powers of ten from 100 B to 100 MB. */
export const NATIVE_SIZE_BUCKETS: readonly number[] = [100, 1000, 10000, 100000, 1000000, 10000000, 100000000];
/** ingress-nginx --time-buckets default (prometheus.DefBuckets). */
export const NGINX_TIME_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** ingress-nginx --length-buckets default (prometheus.LinearBuckets(10, 10, 10)), used for request_size and response_size. */
export const NGINX_LENGTH_BUCKETS: readonly number[] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];

function union(a: readonly number[], b: readonly number[]): Float64Array {
  return Float64Array.from(new Set([...a, ...b])).sort();
}

export const ACC_TIME_BOUNDS = union(NATIVE_TIME_BUCKETS, NGINX_TIME_BUCKETS);
export const ACC_SIZE_BOUNDS = union(NATIVE_SIZE_BUCKETS, NGINX_LENGTH_BUCKETS);

/** Histograms every cell keeps, in this order. */
export const HISTOGRAMS = ['requestDuration', 'upstreamResponse', 'upstreamConnect', 'requestSize', 'responseSize'] as const;
export type HistogramId = (typeof HISTOGRAMS)[number];
export const H_REQUEST_DURATION = 0;
export const H_UPSTREAM_RESPONSE = 1;
export const H_UPSTREAM_CONNECT = 2;
export const H_REQUEST_SIZE = 3;
export const H_RESPONSE_SIZE = 4;

/** Accumulator bounds of each histogram. */
export const HISTOGRAM_BOUNDS: readonly Float64Array[] = [ACC_TIME_BOUNDS, ACC_TIME_BOUNDS, ACC_TIME_BOUNDS, ACC_SIZE_BOUNDS, ACC_SIZE_BOUNDS];

/**
 * Layout of one cell's Float64Array: per histogram, `bounds.length + 1` bucket counts (the last is
 * the +Inf overflow, NOT cumulative), then the sum, then the count.
 */
export const HISTOGRAM_OFFSETS: readonly number[] = (() => {
  const offsets: number[] = [];
  let at = 0;
  for (const bounds of HISTOGRAM_BOUNDS) {
    offsets.push(at);
    at += bounds.length + 3;
  }
  offsets.push(at);
  return offsets;
})();
const CELL_SIZE = HISTOGRAM_OFFSETS[HISTOGRAMS.length];
const OFF_REQUEST_DURATION = HISTOGRAM_OFFSETS[H_REQUEST_DURATION];
const OFF_UPSTREAM_RESPONSE = HISTOGRAM_OFFSETS[H_UPSTREAM_RESPONSE];
const OFF_UPSTREAM_CONNECT = HISTOGRAM_OFFSETS[H_UPSTREAM_CONNECT];
const OFF_REQUEST_SIZE = HISTOGRAM_OFFSETS[H_REQUEST_SIZE];
const OFF_RESPONSE_SIZE = HISTOGRAM_OFFSETS[H_RESPONSE_SIZE];

/** Hot path: count `value` into the first bucket whose bound is >= value (Prometheus `le`). */
function observe(data: Float64Array, offset: number, bounds: Float64Array, value: number): void {
  const n = bounds.length;
  let i = 0;
  while (i < n && value > bounds[i]) i++;
  data[offset + i]++;
  data[offset + n + 1] += value;
  data[offset + n + 2]++;
}

// --- Series -------------------------------------------------------------------------------------

/** The fixed labels of one series group. Values are what the user wrote, never request data. */
export interface RouteSeriesLabels {
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
  /** The rule's host ("*" for rules without host, "_" for requests that matched nothing). */
  readonly host: string;
  /** The rule's path ("_" for requests that matched nothing). */
  readonly path: string;
  /** Which canary served ("" for the main backend). */
  readonly canary: string;
}

/** Bounded value for everything that matched no route: never the raw Host header. */
export const UNMATCHED_LABELS: RouteSeriesLabels = Object.freeze({
  namespace: '', ingress: '', service: '', host: '_', path: '_', canary: '',
});

/** One method x status combination of a series: a request counter plus the five histograms. */
export class RouteCell {
  readonly key: number;
  readonly method: number;
  /** Status code, or the class digit (2 for 2xx) in status-class mode. */
  readonly status: number;
  requests = 0;
  readonly data = new Float64Array(CELL_SIZE);

  constructor(key: number, method: number, status: number) {
    this.key = key;
    this.method = method;
    this.status = status;
  }
}

export interface RouteSeriesOptions {
  /** Label `status` with the class ("2xx") instead of the code. */
  readonly statusClass: boolean;
  /** false: record() returns at once (--enable-metrics=false). */
  readonly enabled: boolean;
}

/**
 * The per-route metric children, bound at compile time. `record` is the only per-request call.
 * Cells are created on the first request with a new method x status; a one-entry cache makes the
 * common case (same method and status as last time) a single integer comparison.
 */
export class RouteSeries {
  readonly key: string;
  readonly labels: RouteSeriesLabels;
  /** Labels of the ingress-nginx rendering (service/canary follow ingress-nginx), or null: not rendered there. */
  readonly compatLabels: RouteSeriesLabels | null;
  readonly enabled: boolean;
  readonly statusClass: boolean;
  readonly cells = new Map<number, RouteCell>();
  /**
   * How many bindings (compiled routes / defaults) of the committed table use this series: lets a
   * table built on top of the committed one drop a series only when its last user goes.
   */
  bindings = 0;
  #last: RouteCell | null = null;

  constructor(key: string, labels: RouteSeriesLabels, compatLabels: RouteSeriesLabels | null, options: RouteSeriesOptions) {
    this.key = key;
    this.labels = labels;
    this.compatLabels = compatLabels;
    this.enabled = options.enabled;
    this.statusClass = options.statusClass;
  }

  /**
   * Hot path: one finished request. Durations in seconds, sizes in bytes; pass a negative upstream
   * duration when no upstream was contacted (404, 503 without endpoints): that histogram is skipped.
   */
  record(
    method: string,
    status: number,
    requestBytes: number,
    responseBytes: number,
    durationSeconds: number,
    upstreamConnectSeconds: number,
    upstreamResponseSeconds: number,
  ): void {
    if (!this.enabled) return;
    const m = methodIndex(method);
    const s = this.statusClass ? (status / 100) | 0 : status;
    const key = s * 16 + m;
    let cell = this.#last;
    if (cell === null || cell.key !== key) {
      cell = this.cells.get(key) ?? this.#createCell(key, m, s);
      this.#last = cell;
    }
    cell.requests++;
    const data = cell.data;
    observe(data, OFF_REQUEST_DURATION, ACC_TIME_BOUNDS, durationSeconds);
    if (upstreamResponseSeconds >= 0) observe(data, OFF_UPSTREAM_RESPONSE, ACC_TIME_BOUNDS, upstreamResponseSeconds);
    if (upstreamConnectSeconds >= 0) observe(data, OFF_UPSTREAM_CONNECT, ACC_TIME_BOUNDS, upstreamConnectSeconds);
    observe(data, OFF_REQUEST_SIZE, ACC_SIZE_BOUNDS, requestBytes);
    observe(data, OFF_RESPONSE_SIZE, ACC_SIZE_BOUNDS, responseBytes);
  }

  #createCell(key: number, method: number, status: number): RouteCell {
    const cell = new RouteCell(key, method, status);
    this.cells.set(key, cell);
    return cell;
  }

  /** Status label value of a cell. */
  statusLabel(cell: RouteCell): string {
    return this.statusClass ? `${cell.status}xx` : String(cell.status);
  }
}

/** Identity of a series: its label values (NUL cannot occur in Kubernetes names, hosts or paths). */
function seriesKey(labels: RouteSeriesLabels, compat: RouteSeriesLabels | null): string {
  // Joined: one flat string per series, kept as a map key for the series' life (PROFILE.md 6c).
  const parts = [labels.namespace, labels.ingress, labels.service, labels.host, labels.path, labels.canary];
  if (compat !== null) parts.push(compat.service, compat.canary, compat.host, compat.path);
  return parts.join('\u0000');
}

// --- Label helpers ---------------------------------------------------------------------------------
// Structural inputs, so both the IR (Route, CanaryBackend) and compiled objects (CompiledRoute,
// CanaryTarget) can be labelled without this module depending on compile/.

interface SourceLike { readonly namespace: string; readonly name: string }
/** A route: its source Ingress, rule host and path, main backend. */
export interface RouteLike {
  readonly source: SourceLike | null;
  readonly host: string;
  readonly path: string;
  readonly backend: BackendRef;
}
/** A canary of a route: the canary Ingress and its backend. */
export interface CanaryLike {
  readonly source: SourceLike;
  readonly backend: BackendRef;
}

/** ingress-nginx's upstream name for a backend: "<namespace>-<service>-<port>". */
export function nginxUpstreamName(backend: BackendRef): string {
  const s = backend.service;
  return s === null ? '' : `${s.namespace}-${s.name}-${s.port}`;
}

function serviceName(backend: BackendRef): string {
  return backend.service === null ? '' : backend.service.name;
}

/** Native labels of a route's main backend. */
export function routeLabels(route: RouteLike): RouteSeriesLabels {
  return {
    namespace: route.source?.namespace ?? '',
    ingress: route.source?.name ?? '',
    service: serviceName(route.backend),
    host: route.host,
    path: route.path,
    canary: '',
  };
}

/** The `canary` label of a canary: its Ingress as "namespace/name" (as CanaryTarget.label). */
export function canaryLabel(canary: CanaryLike): string {
  return `${canary.source.namespace}/${canary.source.name}`;
}

/**
 * Native labels of a canary of a route: namespace/ingress/host/path of the main route, `service` is
 * the canary's Service (the one that served), `canary` the canary Ingress ("namespace/name").
 */
export function canaryLabels(route: RouteLike, canary: CanaryLike): RouteSeriesLabels {
  return { ...routeLabels(route), service: serviceName(canary.backend), canary: canaryLabel(canary) };
}

/**
 * ingress-nginx labels of a canary: the main route's service, and the canary's upstream name
 * ("<namespace>-<service>-<port>") in `canary`, as its $proxy_alternative_upstream_name.
 */
export function canaryCompatLabels(route: RouteLike, canary: CanaryLike): RouteSeriesLabels {
  return { ...routeLabels(route), canary: nginxUpstreamName(canary.backend) };
}

/**
 * The metric children of one compiled route: its main series and one per canary target, bound at
 * compile time. `forCanary` compares the decided target by reference with the (one or two)
 * targets of the route: no hashing, no labels.
 */
export class RouteMetrics {
  readonly main: RouteSeries;
  readonly canaryTargets: readonly object[];
  readonly canaries: readonly RouteSeries[];

  constructor(main: RouteSeries, canaryTargets: readonly object[], canaries: readonly RouteSeries[]) {
    this.main = main;
    this.canaryTargets = canaryTargets;
    this.canaries = canaries;
  }

  /** Hot path: the series of the backend that served (`target` null: the main backend). */
  forCanary(target: object | null): RouteSeries {
    if (target === null) return this.main;
    const targets = this.canaryTargets;
    for (let i = 0; i < targets.length; i++) if (targets[i] === target) return this.canaries[i];
    return this.main;
  }
}

// --- The set of live series -----------------------------------------------------------------------

/**
 * All live RouteSeries. Each table build gets a RouteSeriesBinder; after the table is swapped in,
 * `commit(binder)` makes exactly the series that build bound live (plus `unmatched`): unchanged
 * routes keep their series object and counts, removed routes' series stop being rendered.
 * Requests still in flight on the old table when it is swapped out record into their (now
 * unrendered) series: those last few observations of a removed route are not exported.
 */
export class RouteSeriesSet {
  readonly options: RouteSeriesOptions;
  /** Requests that matched no route and no default backend. */
  readonly unmatched: RouteSeries;
  #live = new Map<string, RouteSeries>();
  #committed: RouteSeriesBinder | null = null;

  constructor(options: RouteSeriesOptions) {
    this.options = options;
    this.unmatched = new RouteSeries(seriesKey(UNMATCHED_LABELS, null), UNMATCHED_LABELS, null, options);
  }

  /** Start binding series for a new table (compile time). */
  binder(): RouteSeriesBinder {
    return new RouteSeriesBinder(this, this.#live, this.#committed);
  }

  /** The binder of the table whose series are live (null before the first commit). */
  get committed(): RouteSeriesBinder | null {
    return this.#committed;
  }

  /**
   * The table built with `binder` is now live: render exactly its series from now on. Idempotent
   * (the swap and the publish both commit the same table).
   */
  commit(binder: RouteSeriesBinder): void {
    if (binder === this.#committed) return;
    if (binder.carried) {
      // Built on top of the committed table (compile checks canCarryFrom; tables are committed in
      // the order they are built): patch the live series in place with what it bound and released.
      const live = this.#live;
      for (const [key, series] of binder.bound) live.set(key, series);
      for (const [series, delta] of binder.deltas) {
        series.bindings += delta;
        if (series.bindings <= 0 && live.get(series.key) === series) live.delete(series.key);
      }
      binder.bound = live;
    } else {
      for (const series of binder.bound.values()) series.bindings = binder.deltas.get(series) ?? 0;
      this.#live = binder.bound;
    }
    this.#committed = binder;
  }

  /** Live series in a stable order (unmatched first), for rendering. */
  series(): RouteSeries[] {
    const list = [this.unmatched];
    for (const s of this.#live.values()) if (s !== this.unmatched) list.push(s);
    return list;
  }

  get size(): number {
    return this.#live.size + 1;
  }
}

/** Hands out RouteSeries while one table is compiled; reuses the live series with equal labels. */
export class RouteSeriesBinder {
  readonly set: RouteSeriesSet;
  /**
   * The series this binder bound, by key; after carryOver() only the ones bound since (the rest
   * stay in the committed set). Once committed: every live series.
   */
  bound = new Map<string, RouteSeries>();
  /** Change in users per series by this binder (bind/adopt +1, release -1), applied at commit. */
  readonly deltas = new Map<RouteSeries, number>();
  /** True once carryOver() started this binder from every committed series. */
  carried = false;
  readonly #previous: ReadonlyMap<string, RouteSeries>;
  /** The binder that was committed when this one was made (what carryOver() starts from). */
  readonly base: RouteSeriesBinder | null;

  constructor(set: RouteSeriesSet, previous: ReadonlyMap<string, RouteSeries>, base: RouteSeriesBinder | null = null) {
    this.set = set;
    this.#previous = previous;
    this.base = base;
  }

  /**
   * Whether this binder can start from the series of the table `base` bound (carryOver): `base`
   * is the committed binder and nothing is bound here yet.
   */
  canCarryFrom(base: RouteSeriesBinder | null): boolean {
    return base !== null && base === this.base && base === this.set.committed && this.deltas.size === 0 && !this.carried;
  }

  /**
   * Start from every series of the committed table, so compiled routes taken over unchanged need
   * no call at all; the caller releases the routes it drops. Commit then patches the live set
   * with this binder's changes only: O(changed routes), not O(routes).
   */
  carryOver(): void {
    this.carried = true;
  }

  /** A compiled route of the committed table that the new table drops (only after carryOver). */
  release(metrics: RouteMetrics): void {
    this.#count(metrics.main, -1);
    for (const series of metrics.canaries) this.#count(series, -1);
  }

  #count(series: RouteSeries, delta: number): void {
    this.deltas.set(series, (this.deltas.get(series) ?? 0) + delta);
  }

  /** `compat`: labels for the ingress-nginx rendering (default: the same); null: not rendered there. */
  bind(labels: RouteSeriesLabels, compat: RouteSeriesLabels | null = labels): RouteSeries {
    const key = seriesKey(labels, compat);
    let series = this.bound.get(key) ?? this.#previous.get(key);
    if (series === undefined) series = new RouteSeries(key, Object.freeze({ ...labels }), compat === null ? null : Object.freeze({ ...compat }), this.set.options);
    this.bound.set(key, series);
    this.#count(series, 1);
    return series;
  }

  /**
   * Keeps the children of a compiled route that the new table takes over unchanged (compile's
   * reuse): the same series objects, live again once this binder is committed.
   */
  adopt(metrics: RouteMetrics): void {
    this.bound.set(metrics.main.key, metrics.main);
    this.#count(metrics.main, 1);
    for (const series of metrics.canaries) {
      this.bound.set(series.key, series);
      this.#count(series, 1);
    }
  }

  bindRoute(route: RouteLike): RouteSeries {
    return this.bind(routeLabels(route));
  }

  bindCanary(route: RouteLike, canary: CanaryLike): RouteSeries {
    return this.bind(canaryLabels(route, canary), canaryCompatLabels(route, canary));
  }

  /** The children of a compiled route: main + one per canary target (same order as `targets`). */
  bindRouteMetrics(route: RouteLike, targets: readonly (CanaryLike & object)[] = []): RouteMetrics {
    return new RouteMetrics(this.bindRoute(route), targets, targets.map((t) => this.bindCanary(route, t)));
  }

  /**
   * A default backend (a virtual host's, or the controller-wide one): host is the virtual host
   * ("_" for the controller-wide default), path "_". Counted natively; like ingress-nginx's
   * default server, not rendered in the compat view.
   */
  bindDefault(host: string, source: SourceLike | null, backend: BackendRef): RouteMetrics {
    const series = this.bind({
      namespace: source?.namespace ?? backend.service?.namespace ?? '',
      ingress: source?.name ?? '',
      service: serviceName(backend),
      host: host === '' ? '_' : host,
      path: '_',
      canary: '',
    }, null);
    return new RouteMetrics(series, [], []);
  }

  /** The shared series for requests matching nothing. */
  get unmatched(): RouteSeries {
    return this.set.unmatched;
  }
}
