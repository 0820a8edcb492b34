// Wires the components together and handles signals; no logic of its own.
//   config -> logger -> store -> source(s) -> controller (scheduler, translate, compile, swap)
//   -> proxy server (reads routeRef.current once per request) -> admin server (/healthz, /readyz)
import type { AddressInfo } from 'node:net';
import { compile } from './compile/compile.ts';
import type { RouteTable } from './compile/route-table.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import type { RouteConfig } from './model/route-config.ts';
import type { Ingress, IngressClass } from './model/kube.ts';
import type { TranslateOptions } from './model/snapshot.ts';
import { AdminServer } from './observability/admin-server.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { createObservability, type Observability } from './observability/observability.ts';
import { createProxyServer, type ProxyServer } from './proxy/server.ts';
import { UpstreamPools } from './proxy/upstreams.ts';
import { registerCertificateMetrics } from './tls/certificate-metrics.ts';
import { CertificateStore } from './tls/certificate-store.ts';
import { checkCertificate } from './tls/check-certificate.ts';
import { createHttpsProxyServer } from './tls/https-server.ts';
import { Drain } from './runtime/drain.ts';
import { Balancing } from './proxy/balancers/balancing.ts';
import { Controller } from './runtime/controller.ts';
import cluster from 'node:cluster';
import { settleMemory } from './runtime/memory-settle.ts';
import { pinTickObjectShape } from './runtime/tick-shape.ts';
import { availableCpus, WorkerPool, WorkerTables, type WorkerEventMessage } from './runtime/workers.ts';
import { onFirstRateLimitZone } from './proxy/rate-limit.ts';
import { RouteRef } from './runtime/route-ref.ts';
import { answerMetricsRequests, WorkerMetricsCollector } from './runtime/worker-metrics.ts';
import type { Source } from './runtime/source.ts';
import { FileSource, ManifestsDirError } from './sources/file/file-source.ts';
import { registerSlimClient } from './sources/kube/slim-client.ts';
import { Store } from './store/store.ts';
import { indexIngressClasses, isIngressOwned, type ClassIndex } from './translate/ingress-class.ts';
import { translate } from './translate/translate.ts';

/** A usage/startup problem the user must fix: message on stderr, exit code 2. */
export class StartupError extends Error {
  readonly code = 'SWY_ERR_STARTUP';
  override readonly name = 'StartupError';
}

export interface Switchyard {
  readonly config: Config;
  readonly logger: Logger;
  readonly store: Store;
  readonly routeRef: RouteRef<RouteTable>;
  readonly controller: Controller<RouteTable>;
  readonly sources: readonly Source[];
  readonly proxy: ProxyServer;
  readonly admin: AdminServer;
  readonly observability: Observability;
  readonly httpAddress: AddressInfo;
  /** The HTTPS listener (--https-port; README "TLS and protocols"). */
  readonly https: ProxyServer;
  readonly httpsAddress: AddressInfo;
  readonly adminAddress: AddressInfo;
  /** Graceful drain state of the data-plane listeners (README "Resilience"). */
  readonly drain: Drain;
  /** Stop sources, then listeners (in-flight requests get `graceMs`). Idempotent. */
  close(graceMs?: number): Promise<void>;
  /** SIGTERM: drain (readiness 503, grace period, in-flight timeout), then close(). Idempotent. */
  shutdown(): Promise<void>;
}

const EMPTY_CONFIG: RouteConfig = Object.freeze({ virtualHosts: [], defaultBackend: null, upstreams: [] });

export function translateOptionsOf(config: Config): TranslateOptions {
  return Object.freeze({
    ingressClass: config.ingressClass,
    controllerName: config.controllerClass,
    watchIngressWithoutClass: config.watchIngressWithoutClass,
    defaultBackendService: config.defaultBackendService,
    defaultSslCertificate: config.defaultSslCertificate,
    checkCertificate, // deep certificate check (parse, key match), memoized by content
  });
}

/** translate's ownership rule for the store, with the class index built once per set of classes. */
function ingressOwnership(options: TranslateOptions): (ingress: Ingress, classes: readonly IngressClass[]) => boolean {
  let indexed: readonly IngressClass[] | null = null;
  let index: ClassIndex | null = null;
  return (ingress, classes) => {
    if (classes !== indexed || index === null) {
      index = indexIngressClasses(classes, options);
      indexed = classes;
    }
    return isIngressOwned(ingress, index, options);
  };
}

/**
 * THE place where the source is chosen. Each entry builds the source(s) feeding `store`; add a
 * source kind here (and to --source in config.ts).
 */
async function createSources(config: Config, store: Store, logger: Logger, controller: Controller<RouteTable>, observability: Observability): Promise<Source[]> {
  switch (config.source) {
    case 'file':
      return [new FileSource({ dir: config.manifests, sink: store, logger })];
    case 'kubernetes': {
      let kube: typeof import('./sources/kube/kube-source.ts');
      let kubeConfigModule: typeof import('./sources/kube/kube-config.ts');
      // Before anything importing client-node is loaded: only the parts we use (slim-client.ts).
      registerSlimClient();
      try {
        kube = await import('./sources/kube/kube-source.ts');
        kubeConfigModule = await import('./sources/kube/kube-config.ts');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') throw new StartupError('--source kubernetes: not yet available in this build');
        throw err;
      }
      let loaded;
      try {
        loaded = kubeConfigModule.loadKubeConfig({ kubeconfig: config.kubeconfig ?? undefined, kubeconfigEnv: config.kubeconfigEnv ?? undefined });
      } catch (err) {
        if (err instanceof kubeConfigModule.KubeConfigError) throw new StartupError(err.message);
        throw err;
      }
      logger.info({ from: loaded.from, server: loaded.server, namespaces: config.watchNamespaces }, 'using Kubernetes API server');
      const { StatusReporter } = await import('./status/status-reporter.ts');
      // Informers first, then leader election + Ingress status + Events (stopped in this order too:
      // the Lease is released last).
      const kubeSource = new kube.KubeSource({ kubeConfig: loaded.kubeConfig, sink: store, logger, namespaces: config.watchNamespaces });
      const reporter = new StatusReporter({
        kubeConfig: loaded.kubeConfig, logger, store, controller, translateOptions: translateOptionsOf(config),
        updateStatus: config.updateStatus, publishService: config.publishService, publishStatusAddress: config.publishStatusAddress,
        electionId: config.electionId, podNamespace: config.podNamespace, podName: config.podName,
        requestTimeoutMs: config.kubeApiTimeoutMs,
      });
      observability.followKubeSource(kubeSource); // watch restarts / relists per kind
      observability.followLeader(reporter.elector); // leader gauge
      return [kubeSource, reporter];
    }
  }
}

/**
 * `single`: everything in one process (--workers 1). `primary` (--workers N > 1): sources, store,
 * controller and admin server, no proxy listeners. `worker`: proxy listeners only, tables from the
 * primary over IPC (src/runtime/workers.ts).
 */
export type Role = 'single' | 'primary' | 'worker';

/**
 * After the first table: one memory-reducing GC (runtime/memory-settle.ts), so the idle process
 * does not keep the young generation and free heap pages the initial build grew.
 */
function settleMemoryLogged(logger: Logger): void {
  const settled = settleMemory();
  if (settled === null) {
    logger.debug('no memory-reducing GC available in this runtime; skipped');
    return;
  }
  const MiB = 1024 * 1024;
  logger.info({
    durationMs: Math.round(settled.durationMs),
    heapTotalMiB: { before: Math.round(settled.heapTotalBefore / MiB), after: Math.round(settled.heapTotalAfter / MiB) },
  }, 'memory settled after the first route table');
}

/** Starts everything; resolves once the listeners are bound and the sources started (not yet ready). */
export async function startSwitchyard(config: Config, logger: Logger, role: Role = 'single'): Promise<Switchyard> {
  // Before anything can run a full GC with no tick pending (runtime/tick-shape.ts).
  if (pinTickObjectShape() === null) logger.debug('no tick object reported to init hooks; nextTick shape not pinned');
  const dataPlane = role !== 'primary';
  const controlPlane = role !== 'worker';
  const translateOptions = translateOptionsOf(config);
  const store = new Store({
    extraServices: config.defaultBackendService ? [config.defaultBackendService] : [],
    extraSecrets: config.defaultSslCertificate ? [config.defaultSslCertificate] : [],
    // Changes to Ingresses of other controllers' classes are stored but cause no rebuild.
    isIngressOwned: ingressOwnership(translateOptions),
  });
  // Until the first real table (after every source synced) the proxy serves an empty one: 404s,
  // and /readyz says 503 so no load balancer sends traffic yet.
  const routeRef = new RouteRef<RouteTable>(compile(EMPTY_CONFIG, { generation: 0 }));
  // Metrics, access log, /metrics and /debug/* (README "Observability").
  const observability = createObservability(config, logger);
  // Passive health and retries (README "Resilience"): one registry for the process, outside the tables.
  const balancing = new Balancing({
    maxFails: config.upstreamMaxFails,
    failTimeoutMs: config.upstreamFailTimeoutMs,
    tries: config.proxyNextUpstreamTries,
    logger,
  });
  const controller = new Controller<RouteTable>({
    store,
    routeRef,
    logger,
    translate,
    // Each table binds its routes' metric children at compile time (no label lookup per request).
    // Balancers per upstream (load-balance policy, passive health, retries), state kept across tables.
    compile: (routeConfig, previous) => observability.bind((metrics) => compile(routeConfig, { previous, metrics, balancing })),
    translateOptions,
    holdoffMs: config.syncHoldoffMs,
    maxHoldoffMs: config.syncMaxHoldoffMs,
    leadingEdge: config.syncLeadingEdge,
    beforeReady: () => settleMemoryLogged(logger),
  });

  // Upstream connections for both listeners, with the per-endpoint cap (README "Resilience").
  const pools = new UpstreamPools({
    connectTimeout: config.proxyConnectTimeoutMs,
    maxConnections: config.upstreamMaxConnections,
    maxQueue: config.upstreamMaxQueue,
  });
  const proxy = createProxyServer({
    pools,
    headersTimeout: config.clientHeaderTimeoutMs,
    maxConnections: config.maxConnections,
    routeRef,
    logger,
    timeouts: {
      connectTimeout: config.proxyConnectTimeoutMs,
      readTimeout: config.proxyReadTimeoutMs,
      sendTimeout: config.proxySendTimeoutMs,
    },
    maxBodyBytes: config.proxyBodySizeBytes,
    onComplete: observability.onComplete, // per-route metrics + access log; undefined when both are off
  });
  // HTTPS: the same proxy on TLS, certificates chosen by SNI from the current table.
  const certificates = new CertificateStore({ routeRef, logger });
  const https = createHttpsProxyServer({
    routeRef,
    logger,
    certificates,
    pools: proxy.pools, // one set of upstream connections for both listeners
    headersTimeout: config.clientHeaderTimeoutMs,
    maxConnections: config.maxConnections,
    timeouts: {
      connectTimeout: config.proxyConnectTimeoutMs,
      readTimeout: config.proxyReadTimeoutMs,
      sendTimeout: config.proxySendTimeoutMs,
    },
    maxBodyBytes: config.proxyBodySizeBytes,
    onComplete: observability.onComplete,
  });
  registerCertificateMetrics(observability.metrics.registry, routeRef);
  const admin = new AdminServer({ logger });
  admin.addReadinessCheck('routes', () => controller.ready);
  // Graceful drain: every data-plane listener is tracked; /readyz fails from the signal on.
  const drain = new Drain({ logger });
  if (dataPlane) drain.track(proxy.server).track(https.server);
  admin.addReadinessCheck('draining', () => !drain.draining);
  observability.attach({ controller, store, routeRef, admin, health: balancing.health }); // + ejection/retry metrics per upstream

  const sources = controlPlane ? await createSources(config, store, logger, controller, observability) : [];
  const closers: ((graceMs: number) => unknown)[] = [];
  let closed: Promise<void> | null = null;
  const close = (graceMs = 10_000): Promise<void> => {
    closed ??= (async () => {
      controller.stop();
      for (const s of sources) await safely(() => s.stop(), logger, 'stopping a source');
      for (const c of closers.reverse()) await safely(() => c(graceMs), logger, 'closing a listener');
    })();
    return closed;
  };

  try {
    closers.push(() => observability.close()); // closed last: flushes the access log after the proxy stopped
    closers.push(() => pools.close()); // after both listeners
    const none: AddressInfo = { address: '', family: '', port: 0 };
    let httpAddress = none;
    let httpsAddress = none;
    let adminAddress = none;
    if (dataPlane) {
      httpAddress = await listen('http', () => proxy.listen(config.httpPort, config.bindAddress), logger, config.httpPort);
      closers.push((graceMs) => proxy.close(graceMs));
      httpsAddress = await listen('https', () => https.listen(config.httpsPort, config.bindAddress), logger, config.httpsPort);
      closers.push((graceMs) => https.close(graceMs));
    }
    if (controlPlane) {
      adminAddress = await listen('admin', () => admin.listen(config.adminPort, config.adminBindAddress), logger, config.adminPort);
      closers.push(() => admin.close());
    }
    if (role === 'worker') {
      // Tables come from the primary as plain RouteConfigs; compiled here with this worker's
      // balancers and metric children, swapped like the controller does.
      const tables = new WorkerTables({
        routeRef,
        logger,
        compile: (routeConfig, previous, generation) => observability.bind((metrics) => compile(routeConfig, { previous, generation, metrics, balancing })),
        send: (event) => process.send?.(event),
        afterFirstSwap: () => settleMemoryLogged(logger),
      });
      const onMessage = (message: unknown): void => tables.receive(message);
      process.on('message', onMessage);
      closers.push(() => process.off('message', onMessage));
      // The primary's /metrics asks for this worker's request series at scrape time (worker-metrics.ts).
      const detachMetrics = answerMetricsRequests(() => observability.metrics.snapshot());
      closers.push(detachMetrics);
      const event: WorkerEventMessage = { type: 'switchyard:listening', generation: 0 };
      process.send?.(event);
    }

    // Sources start after the listeners: /healthz answers and /readyz says 503 while they sync.
    for (const source of sources) {
      try {
        await source.start();
      } catch (err) {
        if (err instanceof ManifestsDirError) throw new StartupError(err.message);
        throw err;
      }
    }
    if (controlPlane) void controller.start(sources.map((s) => s.synced)).catch((err: unknown) => logger.error({ err }, 'a source failed to sync'));

    let shutdown: Promise<void> | null = null;
    const shutdownOnce = (): Promise<void> => {
      shutdown ??= drain
        .run({ gracePeriodMs: config.shutdownGracePeriodMs, timeoutMs: config.shutdownTimeoutMs })
        .then(() => close(0));
      return shutdown;
    };
    return { config, logger, store, routeRef, controller, sources, proxy, admin, observability, httpAddress, https, httpsAddress, adminAddress, drain, close, shutdown: shutdownOnce };
  } catch (err) {
    await close(0);
    throw err;
  }
}

async function listen(name: string, start: () => Promise<AddressInfo>, logger: Logger, port: number): Promise<AddressInfo> {
  try {
    const address = await start();
    logger.info({ listener: name, address: address.address, port: address.port }, `${name} listener ready`);
    return address;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new StartupError(`${name} port ${port} is already in use`);
    if (code === 'EACCES') throw new StartupError(`${name} port ${port}: permission denied`);
    if (code === 'EADDRNOTAVAIL') throw new StartupError(`${name} listener: address not available (${(err as Error).message})`);
    throw err;
  }
}

async function safely(fn: () => unknown, logger: Logger, what: string): Promise<void> {
  try {
    await fn();
  } catch (err) {
    logger.warn({ err }, `${what} failed`);
  }
}

/** The CLI: parse flags, start, handle signals. Exit codes: 0 after a signal, 2 usage/startup error. */
export async function cli(argv: readonly string[]): Promise<Switchyard | null> {
  let config: Config;
  try {
    const outcome = loadConfig(argv);
    if (outcome.kind !== 'run') {
      process.stdout.write(outcome.text.endsWith('\n') ? outcome.text : `${outcome.text}\n`);
      return null;
    }
    config = outcome.config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchyard: ${err.message}\n`);
      process.exitCode = 2;
      return null;
    }
    throw err;
  }

  const logger = createLogger({ level: config.logLevel });
  // A bug in a source's event handler must not take the proxy down with it: log, keep serving.
  process.on('uncaughtException', (err) => logger.error({ err, reason: 'UncaughtException' }, 'uncaught exception (a bug); still serving'));
  process.on('unhandledRejection', (err) => logger.error({ err, reason: 'UnhandledRejection' }, 'unhandled rejection (a bug); still serving'));

  // --workers (README "Resilience"): 0 = the CPUs available to this process (cgroup quota honoured).
  const workers = config.workers === 0 ? availableCpus() : config.workers;
  const role: Role = workers <= 1 ? 'single' : cluster.isPrimary ? 'primary' : 'worker';
  if (role === 'primary') {
    // The primary compiles every table too, so it sees the first rate-limited route.
    onFirstRateLimitZone(() =>
      logger.warn(
        { reason: 'RateLimitPerWorker', workers },
        `an Ingress sets limit-rps, limit-rpm or limit-connections: each of the ${workers} worker processes counts on its own, so a client can get up to ${workers} times the limit (--workers 1 counts exactly)`,
      ),
    );
  }
  let app: Switchyard;
  try {
    app = await startSwitchyard(config, logger, role);
  } catch (err) {
    if (err instanceof StartupError) {
      logger.fatal({ reason: 'StartupFailed' }, err.message);
      process.stderr.write(`switchyard: ${err.message}\n`);
      process.exitCode = 2;
      if (role === 'worker') process.exit(2); // the IPC channel would keep it alive; the primary sees code 2
      return null;
    }
    throw err;
  }
  let pool: WorkerPool | null = null;
  if (role === 'primary') {
    pool = new WorkerPool({
      count: workers,
      args: argv,
      routeRef: app.routeRef,
      logger,
      registry: app.observability.metrics.registry, // switchyard_worker_table_* on the primary's /metrics
      onStartupFailure: (code) => {
        // A worker could not start (port in use, ...): it printed why; stop the others and exit the same way.
        logger.fatal({ reason: 'StartupFailed' }, 'a worker failed to start');
        void pool?.stop('SIGKILL').then(() => app.close(0)).finally(() => process.exit(code));
      },
    });
    const started = pool;
    app.admin.addReadinessCheck('workers', () => started.listening > 0);
    // Request metrics are counted in the workers; the primary's /metrics sums them in (worker-metrics.ts).
    const collector = new WorkerMetricsCollector({ workers: () => started.listeningWorkers(), logger, registry: app.observability.metrics.registry });
    app.observability.metrics.aggregateWorkers(collector.collect);
    pool.start();
  }
  if (role !== 'worker') logger.info({ source: config.source, manifests: config.source === 'file' ? config.manifests : undefined, ingressClass: config.ingressClass }, 'switchyard started');

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      if (role === 'worker') return; // Ctrl-C reaches a worker twice: from the terminal and from the primary
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // The primary forwards the signal (each worker drains its own listeners) and drains its admin
    // readiness alongside; it exits once every worker has exited.
    Promise.all([pool?.stop(signal), app.shutdown()]).then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return app;
}

if (import.meta.main) await cli(process.argv.slice(2));
