// The metrics registry: controller metrics (prom-client), the per-route series set (route-metrics.ts)
// and the /metrics rendering (Prometheus text, or OpenMetrics when the scraper asks for it).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RouteConfig, TranslateResult } from '../model/route-config.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { KubeKind } from '../model/kube.ts';
import { KUBE_KINDS } from '../model/kube.ts';
import type { ExpositionFormat } from './exposition.ts';
import { ExpositionWriter, boundIndexes, contentTypeOf, formatLabels, negotiateFormat } from './exposition.ts';
import { renderIngressNginx } from './compat-ingress-nginx.ts';
import type { RouteSeries } from './route-metrics.ts';
import { mergeSeries, mergeUpstreams, snapshotSeries, type MetricsSnapshot, type UpstreamSnapshot, type UpstreamTotals } from './metrics-snapshot.ts';
import {
  ACC_SIZE_BOUNDS, ACC_TIME_BOUNDS, H_REQUEST_DURATION, H_REQUEST_SIZE, H_RESPONSE_SIZE, H_UPSTREAM_CONNECT,
  H_UPSTREAM_RESPONSE, HISTOGRAM_OFFSETS, METHODS, NATIVE_SIZE_BUCKETS, NATIVE_TIME_BUCKETS, RouteSeriesSet,
} from './route-metrics.ts';

export const METRICS_COMPAT_MODES = ['none', 'ingress-nginx'] as const;
export type MetricsCompat = (typeof METRICS_COMPAT_MODES)[number];

export interface MetricsOptions {
  /** --enable-metrics: false makes every RouteSeries.record() a no-op (controller metrics stay). */
  readonly enabled: boolean;
  /** --metrics-status-class: label `status` with "2xx" instead of "200". */
  readonly statusClass: boolean;
  /** --metrics-compat: also render ingress-nginx's families. */
  readonly compat: MetricsCompat;
  /** Compat const labels. */
  readonly controllerNamespace: string;
  readonly controllerClass: string;
  readonly controllerPod: string;
  /** Lease name (--election-id), the `name` label of the compat leader gauge. */
  readonly electionId?: string;
  /** Default Node.js process metrics (collectDefaultMetrics); default true. */
  readonly processMetrics?: boolean;
  /** Version for switchyard_build_info. */
  readonly version?: string;
}

/** Native per-route families: name, help, histogram index, accumulator bounds, rendered bounds. */
const ROUTE_HISTOGRAMS = [
  { name: 'switchyard_http_request_duration_seconds', help: 'Time from the request headers being received to the end of the response, per route.', histogram: H_REQUEST_DURATION, bounds: ACC_TIME_BOUNDS, render: boundIndexes(ACC_TIME_BOUNDS, NATIVE_TIME_BUCKETS) },
  { name: 'switchyard_upstream_response_duration_seconds', help: 'Time from sending the request upstream to the end of the upstream response, per route (requests that reached an upstream).', histogram: H_UPSTREAM_RESPONSE, bounds: ACC_TIME_BOUNDS, render: boundIndexes(ACC_TIME_BOUNDS, NATIVE_TIME_BUCKETS) },
  { name: 'switchyard_upstream_connect_duration_seconds', help: 'Time to get an upstream connection (0 when a pooled keep-alive connection was reused), per route.', histogram: H_UPSTREAM_CONNECT, bounds: ACC_TIME_BOUNDS, render: boundIndexes(ACC_TIME_BOUNDS, NATIVE_TIME_BUCKETS) },
  { name: 'switchyard_http_request_size_bytes', help: 'Request body bytes sent upstream, per route.', histogram: H_REQUEST_SIZE, bounds: ACC_SIZE_BOUNDS, render: boundIndexes(ACC_SIZE_BOUNDS, NATIVE_SIZE_BUCKETS) },
  { name: 'switchyard_http_response_size_bytes', help: 'Response body bytes sent to the client, per route.', histogram: H_RESPONSE_SIZE, bounds: ACC_SIZE_BOUNDS, render: boundIndexes(ACC_SIZE_BOUNDS, NATIVE_SIZE_BUCKETS) },
] as const;

/** Change-to-swap and build durations: a controller works in milliseconds to seconds. */
const CONTROLLER_TIME_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface BuildRecord {
  /** RouteTable generation now live. */
  readonly generation: number;
  /** translate + compile time, seconds. */
  readonly buildSeconds: number;
  /** Time from the first change this build includes to the swap, seconds (omit for the initial build). */
  readonly changeToSwapSeconds?: number;
  /** The translation the table was built from: diagnostics and orphan routes are counted from it. */
  readonly result: TranslateResult;
  /** Orphan routes as compile counted them (RouteTable.orphanRoutes); omitted: counted from `result`. */
  readonly orphanRoutes?: { readonly noService: number; readonly noReadyEndpoint: number };
}

/** What observeController() reads from the Controller (structural, so tests can pass a fake). */
export interface ObservedController {
  readonly stats: { readonly failures: number };
  readonly lastError: unknown;
  onPublish(listener: (published: {
    readonly generation: number;
    readonly durationMs: number;
    readonly diagnostics: readonly Diagnostic[];
    readonly changeToSwapMs: number | null;
    readonly table: { readonly config: RouteConfig; readonly orphanRoutes?: { readonly noService: number; readonly noReadyEndpoint: number } };
  }) => void): () => void;
}

/** What observeKubeSource() reads from the Kubernetes source: counters per kind. */
export interface ObservedKubeSource {
  stats(): Readonly<Partial<Record<KubeKind, { readonly restarts: number; readonly relists: number }>>>;
}

/** What observeStore() reads from the Store. */
export interface ObservedStore {
  counts(): Readonly<Record<KubeKind, number>>;
}

export class Metrics {
  readonly options: MetricsOptions;
  readonly registry = new Registry();
  readonly routes: RouteSeriesSet;

  readonly objectsWatched: Gauge<'kind'>;
  readonly tableGeneration: Gauge;
  readonly tableBuildDuration: Histogram;
  readonly swaps: Counter;
  readonly buildFailures: Counter;
  readonly lastSwapTimestamp: Gauge;
  readonly changeToSwap: Histogram;
  readonly invalidObjects: Gauge<'kind' | 'reason'>;
  readonly unsupportedAnnotations: Gauge<'annotation'>;
  readonly orphanRoutes: Gauge<'reason'>;
  readonly watchRestarts: Counter<'kind'>;
  readonly watchRelists: Counter<'kind'>;
  readonly leader: Gauge;
  readonly accessLogDropped: Counter;

  // Plain mirrors for the compat view (read at scrape time).
  #swaps = 0;
  #buildFailures = 0;
  #lastBuildOk = true;
  #lastSwapSeconds = 0;
  #leader = false;
  #controller: ObservedController | null = null;
  #store: ObservedStore | null = null;
  #syncFailures: () => void = () => {};
  #kubeSources: { source: ObservedKubeSource; seen: Map<string, { restarts: number; relists: number }> }[] = [];
  #accessLog: { readonly dropped: number } | null = null;
  #accessLogDroppedSeen = 0;
  #upstreams: (() => readonly UpstreamSnapshot[]) | null = null;
  #workers: (() => Promise<readonly MetricsSnapshot[]>) | null = null;

  constructor(options: MetricsOptions) {
    this.options = options;
    this.routes = new RouteSeriesSet({ enabled: options.enabled, statusClass: options.statusClass });
    const registers = [this.registry];
    new Gauge({ name: 'switchyard_build_info', help: 'Always 1; the version label says which Switchyard runs.', labelNames: ['version'], registers }).set({ version: options.version ?? '0.0.0' }, 1);
    this.objectsWatched = new Gauge({ name: 'switchyard_objects_watched', help: 'Objects in the store, per kind (what the sources watch and the controller sees).', labelNames: ['kind'], registers });
    for (const kind of KUBE_KINDS) this.objectsWatched.set({ kind }, 0);
    this.tableGeneration = new Gauge({ name: 'switchyard_route_table_generation', help: 'Generation of the route table being served.', registers });
    this.tableBuildDuration = new Histogram({ name: 'switchyard_route_table_build_duration_seconds', help: 'Time to translate a snapshot and compile the route table.', buckets: CONTROLLER_TIME_BUCKETS, registers });
    this.swaps = new Counter({ name: 'switchyard_route_table_swaps_total', help: 'Route tables swapped in.', registers });
    this.buildFailures = new Counter({ name: 'switchyard_route_table_build_failures_total', help: 'Table builds that failed (the last good table kept serving).', registers });
    this.lastSwapTimestamp = new Gauge({ name: 'switchyard_route_table_last_swap_timestamp_seconds', help: 'Unix time of the last route table swap.', registers });
    this.changeToSwap = new Histogram({ name: 'switchyard_change_to_swap_duration_seconds', help: 'Time from an object change to the swap of a table that includes it (holdoff + build).', buckets: CONTROLLER_TIME_BUCKETS, registers });
    this.invalidObjects = new Gauge({ name: 'switchyard_invalid_objects', help: 'Objects with at least one error diagnostic in the current table, per kind and reason (the object, or its offending part, is skipped).', labelNames: ['kind', 'reason'], registers });
    this.unsupportedAnnotations = new Gauge({ name: 'switchyard_ingress_unsupported_annotations', help: 'Ingresses in the current table setting an annotation (under nginx.ingress.kubernetes.io/ or switchyard.dev/) that Switchyard does not implement, per annotation key; it has no effect.', labelNames: ['annotation'], registers });
    this.orphanRoutes = new Gauge({ name: 'switchyard_orphan_routes', help: 'Routes in the current table whose backend cannot serve: no_service (Service or port unresolved) or no_ready_endpoint.', labelNames: ['reason'], registers });
    this.orphanRoutes.set({ reason: 'no_service' }, 0);
    this.orphanRoutes.set({ reason: 'no_ready_endpoint' }, 0);
    this.watchRestarts = new Counter({ name: 'switchyard_watch_restarts_total', help: 'Kubernetes watches restarted after an error or a dropped stream, per kind.', labelNames: ['kind'], registers });
    this.watchRelists = new Counter({ name: 'switchyard_watch_relists_total', help: 'Relists of a kind after its first list (410 Gone, or a restart with no resourceVersion to resume from).', labelNames: ['kind'], registers });
    this.leader = new Gauge({ name: 'switchyard_leader_election_status', help: '1 while this replica holds the leader Lease (writes Ingress status), else 0.', registers });
    this.accessLogDropped = new Counter({ name: 'switchyard_access_log_dropped_lines_total', help: 'Access log lines dropped because the destination could not keep up (or failed).', registers });
    // Certificate expiry (switchyard_ssl_certificate_expiry_timestamp_seconds{host,secret}) is
    // registered on this registry by main.ts from src/tls/certificate-metrics.ts (read at scrape time).
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Follow the controller: every published table updates generation, build duration, swaps,
   * change-to-swap latency, invalid objects and orphan routes; failed builds are read from its
   * stats at scrape time. Returns the unsubscribe function.
   */
  observeController(controller: ObservedController): () => void {
    let failuresSeen = controller.stats.failures;
    this.#controller = controller;
    this.#syncFailures = () => {
      const failures = controller.stats.failures;
      if (failures > failuresSeen) {
        this.buildFailures.inc(failures - failuresSeen);
        this.#buildFailures += failures - failuresSeen;
        failuresSeen = failures;
      }
    };
    return controller.onPublish((p) => {
      this.recordSwap({
        generation: p.generation,
        buildSeconds: p.durationMs / 1000,
        changeToSwapSeconds: p.changeToSwapMs === null ? undefined : p.changeToSwapMs / 1000,
        result: { config: p.table.config, diagnostics: p.diagnostics },
        orphanRoutes: p.table.orphanRoutes,
      });
    });
  }

  /** Watch restarts and relists per kind, read from the source's counters at scrape time. */
  observeKubeSource(source: ObservedKubeSource): void {
    this.#kubeSources.push({ source, seen: new Map() });
    for (const kind of KUBE_KINDS) {
      this.watchRestarts.inc({ kind }, 0);
      this.watchRelists.inc({ kind }, 0);
    }
  }

  /** Access log drops, read at scrape time. */
  observeAccessLog(log: { readonly dropped: number }): void {
    this.#accessLog = log;
  }

  /** Ejection/retry counts and ejected endpoints per upstream of the served table, read at scrape time. */
  observeUpstreams(read: () => readonly UpstreamSnapshot[]): void {
    this.#upstreams = read;
  }

  /**
   * --workers N > 1 (primary): every scrape first collects the workers' snapshots with `collect`
   * (src/runtime/worker-metrics.ts) and renders the per-route and per-upstream families summed
   * with this process's own.
   */
  aggregateWorkers(collect: () => Promise<readonly MetricsSnapshot[]>): void {
    this.#workers = collect;
  }

  /** This process's per-route and per-upstream state as plain data (what a worker answers the primary). */
  snapshot(): MetricsSnapshot {
    return { series: snapshotSeries(this.routes.series()), upstreams: this.#upstreams?.() ?? [] };
  }

  /** Objects in the store per kind, read at scrape time. */
  observeStore(store: ObservedStore): void {
    this.#store = store;
  }

  /** A table was swapped in. */
  recordSwap(build: BuildRecord): void {
    this.tableGeneration.set(build.generation);
    this.tableBuildDuration.observe(build.buildSeconds);
    if (build.changeToSwapSeconds !== undefined) this.changeToSwap.observe(build.changeToSwapSeconds);
    this.swaps.inc();
    this.#swaps++;
    this.#lastBuildOk = true;
    this.#lastSwapSeconds = Date.now() / 1000;
    this.lastSwapTimestamp.set(this.#lastSwapSeconds);
    this.observeDiagnostics(build.result.diagnostics);
    if (build.orphanRoutes !== undefined) {
      // Counted per virtual host by compile, so a change costs O(changed), not a walk of every route.
      this.orphanRoutes.set({ reason: 'no_service' }, build.orphanRoutes.noService);
      this.orphanRoutes.set({ reason: 'no_ready_endpoint' }, build.orphanRoutes.noReadyEndpoint);
    } else {
      this.observeOrphans(build.result.config);
    }
  }

  /** A build threw or was rejected; the last good table keeps serving. */
  recordBuildFailure(): void {
    this.buildFailures.inc();
    this.#buildFailures++;
    this.#lastBuildOk = false;
  }

  observeDiagnostics(diagnostics: readonly Diagnostic[]): void {
    // Count distinct objects per (kind, reason): one Ingress with three bad paths is one invalid object.
    const seen = new Map<string, Set<string>>();
    for (const d of diagnostics) {
      if (d.severity !== 'error') continue;
      const key = `${d.object.kind}\u0000${d.reason}`;
      let objects = seen.get(key);
      if (objects === undefined) seen.set(key, (objects = new Set()));
      objects.add(`${d.object.namespace}/${d.object.name}`);
    }
    this.invalidObjects.reset();
    for (const [key, objects] of seen) {
      const [kind, reason] = key.split('\u0000');
      this.invalidObjects.set({ kind, reason }, objects.size);
    }
    // UnsupportedAnnotation (a warning): its message starts with "annotation <key>" (translate/route-settings.ts).
    const unsupported = new Map<string, number>();
    for (const d of diagnostics) {
      if (d.reason !== 'UnsupportedAnnotation') continue;
      const key = /^annotation (\S+)/.exec(d.message)?.[1];
      if (key !== undefined) unsupported.set(key, (unsupported.get(key) ?? 0) + 1);
    }
    this.unsupportedAnnotations.reset();
    for (const [annotation, count] of unsupported) this.unsupportedAnnotations.set({ annotation }, count);
  }

  observeOrphans(config: RouteConfig): void {
    const ready = new Set<string>();
    for (const u of config.upstreams) if (u.endpoints.some((e) => e.ready)) ready.add(u.key);
    let noService = 0;
    let noEndpoint = 0;
    for (const vh of config.virtualHosts) {
      for (const route of vh.routes) {
        if (route.backend.upstream === null) noService++;
        else if (!ready.has(route.backend.upstream)) noEndpoint++;
      }
    }
    this.orphanRoutes.set({ reason: 'no_service' }, noService);
    this.orphanRoutes.set({ reason: 'no_ready_endpoint' }, noEndpoint);
  }

  watchRestarted(kind: KubeKind): void {
    this.watchRestarts.inc({ kind });
  }

  watchRelisted(kind: KubeKind): void {
    this.watchRelists.inc({ kind });
  }

  setLeader(isLeader: boolean): void {
    this.#leader = isLeader;
    this.leader.set(isLeader ? 1 : 0);
  }

  /** Render everything for one scrape; `accept` is the request's Accept header. */
  async render(accept: string | undefined): Promise<{ contentType: string; body: string }> {
    const format = negotiateFormat(accept);
    return { contentType: contentTypeOf(format), body: await this.renderAs(format) };
  }

  /** The whole exposition as one string (tests, small tables). */
  async renderAs(format: ExpositionFormat): Promise<string> {
    let body = '';
    for await (const chunk of this.chunks(format)) body += chunk;
    return body;
  }

  /**
   * The exposition in chunks of about 64 KiB. The per-route families can be large (thousands of
   * routes x methods x statuses x buckets); between chunks the event loop runs, so a scrape never
   * stalls the proxy for the whole rendering. Each series is written in one piece, so its buckets,
   * sum and count are always consistent with each other.
   */
  async *chunks(format: ExpositionFormat): AsyncGenerator<string> {
    // Workers first: a skipped worker is counted on the registry read below, in this same scrape.
    const remote = this.#workers === null ? [] : await this.#workers();
    // Scrape-time reads of the controller and store.
    this.#syncFailures();
    if (this.#controller !== null) this.#lastBuildOk = this.#controller.lastError === null;
    for (const { source, seen } of this.#kubeSources) {
      const stats = source.stats();
      for (const kind of KUBE_KINDS) {
        const now = stats[kind];
        if (now === undefined) continue;
        const before = seen.get(kind) ?? { restarts: 0, relists: 0 };
        if (now.restarts > before.restarts) this.watchRestarts.inc({ kind }, now.restarts - before.restarts);
        if (now.relists > before.relists) this.watchRelists.inc({ kind }, now.relists - before.relists);
        seen.set(kind, { restarts: now.restarts, relists: now.relists });
      }
    }
    if (this.#accessLog !== null && this.#accessLog.dropped > this.#accessLogDroppedSeen) {
      this.accessLogDropped.inc(this.#accessLog.dropped - this.#accessLogDroppedSeen);
      this.#accessLogDroppedSeen = this.#accessLog.dropped;
    }
    if (this.#store !== null) {
      const counts = this.#store.counts();
      for (const kind of KUBE_KINDS) this.objectsWatched.set({ kind }, counts[kind] ?? 0);
    }
    const json = await this.registry.getMetricsAsJSON();
    const w = new ExpositionWriter(format);
    w.promClient(json);
    const local = this.routes.series();
    const series = remote.length === 0 ? local : mergeSeries(local, remote.map((r) => r.series), this.routes.options);
    for (const _ of renderRouteFamilies(w, series)) {
      yield w.take();
      await yieldToEventLoop();
    }
    renderUpstreamFamilies(w, mergeUpstreams([this.#upstreams?.() ?? [], ...remote.map((r) => r.upstreams)]));
    if (this.options.compat === 'ingress-nginx') {
      const state = {
        lastBuildSuccessful: this.#lastBuildOk,
        lastSwapTimestampSeconds: this.#lastSwapSeconds,
        swaps: this.#swaps,
        buildFailures: this.#buildFailures,
        leader: this.#leader,
        electionId: this.options.electionId ?? 'switchyard-leader',
      };
      for (const _ of renderIngressNginx(w, series, this.options, state)) {
        yield w.take();
        await yieldToEventLoop();
      }
    }
    yield w.end();
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Passive health and retries per upstream ("ns/service:port", one series each: bounded by the
 * table, not by endpoints). With workers, counters are summed and the gauge counts the distinct
 * endpoints ejected in at least one worker (each worker ejects on its own traffic).
 */
function renderUpstreamFamilies(w: ExpositionWriter, upstreams: readonly UpstreamTotals[]): void {
  const labels = upstreams.map((u) => formatLabels([['upstream', u.key]]));
  const ejections = w.family('switchyard_upstream_ejections_total', 'counter', 'Endpoints ejected by passive health (consecutive failures or 5xx), per upstream.');
  for (let i = 0; i < upstreams.length; i++) w.sample(ejections, labels[i], upstreams[i].ejections);
  const ejected = w.family('switchyard_upstream_ejected_endpoints', 'gauge', 'Endpoints of the upstream ejected right now (in any worker).');
  for (let i = 0; i < upstreams.length; i++) w.sample(ejected, labels[i], upstreams[i].ejected.size);
  const retries = w.family('switchyard_upstream_retries_total', 'counter', 'Requests re-sent to another endpoint after a failed attempt (proxy-next-upstream), per upstream.');
  for (let i = 0; i < upstreams.length; i++) w.sample(retries, labels[i], upstreams[i].retries);
}

/** Native per-route families, from the accumulators (the custom collector). */
function* renderRouteFamilies(w: ExpositionWriter, series: readonly RouteSeries[]): Generator<void> {
  // One label string per cell per scrape, shared by the six families.
  const rows: { labels: string; data: Float64Array; requests: number }[] = [];
  for (const s of series) {
    const l = s.labels;
    for (const cell of s.cells.values()) {
      rows.push({
        labels: formatLabels([
          ['namespace', l.namespace], ['ingress', l.ingress], ['service', l.service], ['host', l.host], ['path', l.path],
          ['canary', l.canary], ['method', METHODS[cell.method]], ['status', s.statusLabel(cell)],
        ]),
        data: cell.data,
        requests: cell.requests,
      });
    }
  }
  const total = w.family('switchyard_http_requests_total', 'counter', 'Requests served, per route, method and status.');
  for (const row of rows) {
    w.sample(total, row.labels, row.requests);
    if (w.full) yield;
  }
  for (const f of ROUTE_HISTOGRAMS) {
    w.family(f.name, 'histogram', f.help);
    const offset = HISTOGRAM_OFFSETS[f.histogram];
    const n = f.bounds.length;
    for (const row of rows) {
      if (row.data[offset + n + 2] === 0) continue; // never observed (no upstream contacted)
      w.histogram(f.name, row.labels, row.data, offset, f.bounds, f.render);
      if (w.full) yield;
    }
  }
}
