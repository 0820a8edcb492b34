// Wiring of the observability pieces, so main.ts only calls three things:
//   const obs = createObservability(config, logger);
//   compile: (c, previous) => obs.bind((metrics) => compile(c, { previous, metrics }))
//   obs.attach({ controller, store, routeRef, admin }); proxy onComplete: obs.onComplete
// and closes it last on shutdown (flushes the access log).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { RouteTable } from '../compile/route-table.ts';
import type { RouteRef } from '../runtime/route-ref.ts';
import type { Exchange } from '../proxy/exchange.ts';
import { AccessLog } from './access-log.ts';
import { createDebugHandlers } from './debug-routes.ts';
import { Metrics } from './metrics.ts';
import { contentTypeOf, negotiateFormat } from './exposition.ts';
import type { MetricsCompat, ObservedController, ObservedKubeSource, ObservedStore } from './metrics.ts';
import { RequestObserver } from './request-observer.ts';
import type { RouteSeriesBinder } from './route-metrics.ts';
import type { PassiveHealth } from '../proxy/passive-health.ts';
import { snapshotUpstreams } from './metrics-snapshot.ts';

/** The Config fields observability reads (a structural subset of Config). */
export interface ObservabilityConfig {
  readonly enableMetrics: boolean;
  readonly metricsCompat: MetricsCompat;
  readonly metricsStatusClass: boolean;
  readonly accessLog: boolean;
  readonly accessLogPath: string | null;
  readonly podName: string;
  readonly podNamespace: string;
  readonly controllerClass: string;
  readonly electionId: string;
}

export interface ObservabilityOptions {
  /** Access log destination override (tests): a path or fd; default --access-log-path, else stdout. */
  readonly accessLogDestination?: string | number;
  /** Default Node.js process metrics (default true). */
  readonly processMetrics?: boolean;
  readonly version?: string;
}

/** What the admin server offers (structural: AdminServer.route). */
export interface AdminRoutes {
  route(path: string, handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): unknown;
}

export interface AttachTargets {
  readonly controller: ObservedController & { onPublish(listener: (p: { readonly table: RouteTable }) => void): () => void };
  readonly store: ObservedStore;
  readonly routeRef: RouteRef<RouteTable>;
  readonly admin: AdminRoutes;
  /** Passive health of this process (ejection/retry metrics per upstream); omit: none. */
  readonly health?: PassiveHealth;
}

export class Observability {
  readonly metrics: Metrics;
  readonly accessLog: AccessLog;
  readonly observer: RequestObserver;
  readonly #log: Logger;
  readonly #enabled: boolean;
  readonly #binders = new WeakMap<object, RouteSeriesBinder>();
  readonly #detach: (() => void)[] = [];

  constructor(config: ObservabilityConfig, logger: Logger, options: ObservabilityOptions = {}) {
    this.#log = logger;
    this.#enabled = config.enableMetrics;
    this.metrics = new Metrics({
      enabled: config.enableMetrics,
      statusClass: config.metricsStatusClass,
      compat: config.metricsCompat,
      controllerNamespace: config.podNamespace,
      controllerClass: config.controllerClass,
      controllerPod: config.podName,
      electionId: config.electionId,
      processMetrics: options.processMetrics,
      version: options.version,
    });
    this.accessLog = new AccessLog({ enabled: config.accessLog, destination: options.accessLogDestination ?? config.accessLogPath ?? 1 });
    this.observer = new RequestObserver({
      metrics: config.enableMetrics,
      unmatched: config.enableMetrics ? this.metrics.routes.unmatched : null,
      accessLog: this.accessLog,
    });
  }

  /** The proxy's onComplete hook, or undefined when neither metrics nor access log are on. */
  get onComplete(): ((exchange: Exchange) => void) | undefined {
    return this.observer.idle ? undefined : this.observer.onComplete;
  }

  /**
   * Wrap one compile: `build` gets the binder for the new table's metric children (null when
   * metrics are off); the binder is committed when that table is published.
   */
  bind<T extends object>(build: (metrics: RouteSeriesBinder | null) => T): T {
    if (!this.#enabled) return build(null);
    const binder = this.metrics.routes.binder();
    const table = build(binder);
    this.#binders.set(table, binder);
    return table;
  }

  /** Follow the controller and store; serve /metrics and /debug/* on the admin server. */
  attach(targets: AttachTargets): void {
    this.#detach.push(this.metrics.observeController(targets.controller));
    // Commit on the swap itself: a worker swaps tables it got from the primary without a controller.
    const commit = (table: object): void => {
      const binder = this.#binders.get(table);
      if (binder !== undefined) this.metrics.routes.commit(binder);
    };
    this.#detach.push(targets.routeRef.onSwap(commit));
    this.#detach.push(targets.controller.onPublish((p) => commit(p.table)));
    const health = targets.health ?? null;
    this.metrics.observeUpstreams(() => snapshotUpstreams(targets.routeRef.current, health));
    this.metrics.observeStore(targets.store);
    this.metrics.observeAccessLog(this.accessLog);
    targets.admin.route('/metrics', (req, res) => this.#serveMetrics(req, res));
    const debug = createDebugHandlers(targets.routeRef);
    targets.admin.route('/debug/routes', debug.routes);
    targets.admin.route('/debug/match', debug.match);
    this.#log.info({ metrics: this.#enabled, accessLog: this.accessLog.enabled }, 'observability: /metrics, /debug/routes, /debug/match on the admin port');
  }

  /**
   * /metrics: content negotiation (OpenMetrics when asked), streamed in chunks so neither a big
   * string nor a long event-loop stall is needed, gzip when the scraper accepts it (Prometheus does).
   */
  async #serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const format = negotiateFormat(req.headers.accept);
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    res.writeHead(200, {
      'content-type': contentTypeOf(format),
      'cache-control': 'no-store',
      ...(gzip ? { 'content-encoding': 'gzip', vary: 'Accept-Encoding' } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const source = Readable.from(this.metrics.chunks(format));
    await pipeline(gzip ? [source, createGzip(), res] : [source, res]).catch((err: unknown) => {
      this.#log.warn({ err }, 'serving /metrics failed (scraper went away?)');
      res.destroy();
    });
  }

  /** Watch restarts/relists per kind from the Kubernetes source (kubernetes mode). */
  followKubeSource(source: ObservedKubeSource): void {
    this.metrics.observeKubeSource(source);
  }

  /** The leader gauge follows the leader elector (kubernetes mode). */
  followLeader(elector: { readonly isLeader: boolean; onChange(listener: (leader: boolean) => void): () => void }): void {
    this.metrics.setLeader(elector.isLeader);
    this.#detach.push(elector.onChange((leader) => this.metrics.setLeader(leader)));
  }

  /** Stop following; flush and close the access log. */
  async close(): Promise<void> {
    for (const d of this.#detach.splice(0)) d();
    await this.accessLog.close();
  }
}

export function createObservability(config: ObservabilityConfig, logger: Logger, options?: ObservabilityOptions): Observability {
  return new Observability(config, logger, options);
}
