// --workers N (README "All cores: `--workers`"): node:cluster. The primary runs the sources, store,
// scheduler, translate and compile (for readiness and /debug) and the admin server; N workers run
// the proxy listeners (cluster shares the ports). After each swap the primary sends every worker
// the new RouteConfig as a compact delta against the generation that worker already has (a full
// snapshot to a new worker or one that lost track), serialized once for all workers; each worker
// patches its config, compiles it with its previous table (so unchanged hosts and upstreams are
// reused) and swaps its own RouteRef, then acks. The primary logs and times when a generation has
// reached every worker. A worker that dies is replaced with backoff, without touching the others.
import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { RouteTable } from '../compile/route-table.ts';
import type { RouteConfig } from '../model/route-config.ts';
import type { Logger } from '../observability/logger.ts';
import { applyRouteConfigDelta, diffRouteConfig, type RouteConfigDelta } from './route-config-delta.ts';
import type { RouteRef } from './route-ref.ts';
import { TablePropagation } from './table-propagation.ts';

/**
 * Primary -> worker: the table to serve. `payload` is JSON, built once per generation and kind for
 * all workers (cluster's JSON channel then only escapes one string per worker instead of walking
 * the whole object graph): a RouteConfig when `base` is null, else a RouteConfigDelta against
 * generation `base`, which the worker must hold.
 */
export interface RoutesMessage {
  readonly type: 'switchyard:routes';
  readonly generation: number;
  readonly base: number | null;
  readonly payload: string;
}

/**
 * Worker -> primary: listeners bound / table swapped / compile failed (keeps its last good table) /
 * could not apply a delta (wants a full snapshot).
 */
export interface WorkerEventMessage {
  readonly type: 'switchyard:listening' | 'switchyard:swapped' | 'switchyard:failed' | 'switchyard:resync';
  readonly generation: number;
}

/**
 * CPUs this process may use: os.availableParallelism() (affinity mask), lowered by a cgroup v2
 * quota (/sys/fs/cgroup/cpu.max "QUOTA PERIOD", rounded up) when there is one.
 */
export function availableCpus(cpuMaxPath = '/sys/fs/cgroup/cpu.max'): number {
  let cpus = availableParallelism();
  try {
    const [quota, period] = readFileSync(cpuMaxPath, 'utf8').trim().split(/\s+/);
    if (quota !== 'max' && quota !== undefined && period !== undefined) {
      const limit = Math.ceil(Number(quota) / Number(period));
      if (Number.isFinite(limit) && limit >= 1) cpus = Math.min(cpus, limit);
    }
  } catch {
    // No cgroup v2 quota file: not in a limited container.
  }
  return Math.max(1, cpus);
}

export function isRoutesMessage(message: unknown): message is RoutesMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'switchyard:routes';
}

export interface WorkerPoolOptions {
  readonly count: number;
  readonly routeRef: RouteRef<RouteTable>;
  readonly logger: Logger;
  /** The CLI arguments the workers run src/main.ts with (the primary's own; the demo's too). */
  readonly args: readonly string[];
  /** Called when a worker exits with code 2 before it ever listened (a startup error such as a port in use). */
  readonly onStartupFailure: (code: number) => void;
  /** The primary's metrics registry: the propagation histogram and failure counter go there. */
  readonly registry?: Registry;
  /** Give up waiting for a generation's acks after this long (default 30 s). */
  readonly propagationTimeoutMs?: number;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;
/** A worker that lived this long resets the backoff. */
const STABLE_MS = 10_000;
/** Publish-to-every-worker: milliseconds (a small table) to seconds (tens of thousands of Ingresses). */
const PROPAGATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What one published generation is sent as; each payload serialized at most once. */
class Publication {
  readonly generation: number;
  readonly #config: RouteConfig;
  readonly #base: { readonly generation: number; readonly config: RouteConfig } | null;
  #full: RoutesMessage | null = null;
  #delta: RoutesMessage | null = null;

  constructor(table: RouteTable, base: Publication | null) {
    this.generation = table.generation;
    this.#config = table.config;
    this.#base = base === null ? null : { generation: base.generation, config: base.#config };
  }

  /** The message for a worker that holds generation `held` (undefined: none yet). */
  messageFor(held: number | undefined): RoutesMessage {
    if (this.#base !== null && held === this.#base.generation) {
      this.#delta ??= { type: 'switchyard:routes', generation: this.generation, base: held, payload: JSON.stringify(diffRouteConfig(this.#base.config, this.#config)) };
      return this.#delta;
    }
    this.#full ??= { type: 'switchyard:routes', generation: this.generation, base: null, payload: JSON.stringify(this.#config) };
    return this.#full;
  }
}

/** The primary's side: forks, feeds and replaces the workers. */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #listening = new Set<Worker>();
  readonly #started = new Map<Worker, number>();
  /** The generation each worker was last sent (IPC is ordered: what it holds once it has read it). */
  readonly #held = new Map<Worker, number>();
  readonly #propagation: TablePropagation;
  #publication: Publication | null = null;
  #stopping = false;
  #crashes = 0;
  #everListened = false;
  #respawnTimer: NodeJS.Timeout | null = null;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    const registers = options.registry ? [options.registry] : [];
    const histogram = options.registry
      ? new Histogram({ name: 'switchyard_worker_table_propagation_seconds', help: 'Time from the primary publishing a route table to the last listening worker swapping to it (--workers > 1).', buckets: PROPAGATION_BUCKETS, registers })
      : null;
    const failures = options.registry
      ? new Counter({ name: 'switchyard_worker_table_failures_total', help: 'Route tables that did not reach every worker, by reason: WorkerFailed (a worker could not compile or read it and kept its last good table) or NoAck (no answer in time).', labelNames: ['reason'], registers })
      : null;
    this.#propagation = new TablePropagation({
      timeoutMs: options.propagationTimeoutMs,
      onReached: (r) => {
        histogram?.observe(r.durationMs / 1000);
        options.logger.info({ generation: r.generation, workers: r.workers, durationMs: Math.round(r.durationMs * 100) / 100 }, 'route table reached every worker');
      },
      onNotReached: (r) => {
        failures?.inc({ reason: r.reason });
        options.logger.warn({ generation: r.generation, workers: r.workers, failed: r.failed, missing: r.missing, reason: r.reason }, 'route table did not reach every worker');
      },
    });
  }

  /** Workers whose listeners are bound. */
  get listening(): number {
    return this.#listening.size;
  }

  /** The workers whose listeners are bound (asked for their request metrics at scrape time). */
  listeningWorkers(): Worker[] {
    return [...this.#listening];
  }

  start(): void {
    // Workers run main.ts itself, whatever the primary's entry point was (bin/, src/demo.ts).
    cluster.setupPrimary({ exec: fileURLToPath(new URL('../main.ts', import.meta.url)), args: [...this.#options.args] });
    // Every new table goes to every listening worker; a worker forked later gets the current one on 'listening'.
    this.#options.routeRef.onSwap((table) => {
      if (table.generation === 0) return; // the empty startup table: workers start with it
      this.#publication = new Publication(table, this.#publication);
      const targets = [...this.#listening].filter((w) => w.isConnected());
      this.#propagation.published(table.generation, targets.map((w) => w.process.pid ?? -1));
      for (const worker of targets) this.#send(worker);
    });
    for (let i = 0; i < this.#options.count; i++) this.#fork();
  }

  #send(worker: Worker): void {
    const publication = this.#publication;
    if (publication === null || !worker.isConnected()) return;
    const message = publication.messageFor(this.#held.get(worker));
    this.#held.set(worker, publication.generation);
    worker.send(message, (err: Error | null) => {
      if (!err) return;
      this.#held.delete(worker); // it may not have it: a full snapshot next time
      this.#options.logger.warn({ err, worker: worker.process.pid }, 'could not send the route table to a worker');
    });
  }

  #fork(): void {
    const worker = cluster.fork();
    this.#started.set(worker, Date.now());
    const pid = worker.process.pid ?? -1;
    worker.on('message', (message: WorkerEventMessage) => {
      switch (message?.type) {
        case 'switchyard:listening':
          this.#everListened = true;
          this.#listening.add(worker);
          this.#options.logger.info({ worker: pid }, 'worker listening');
          this.#send(worker);
          break;
        case 'switchyard:swapped':
          this.#propagation.swapped(pid, message.generation);
          break;
        case 'switchyard:failed':
          this.#propagation.failed(pid, message.generation);
          break;
        case 'switchyard:resync':
          // It could not apply a delta (it does not hold the base): the current table in full.
          this.#held.delete(worker);
          this.#send(worker);
          break;
      }
    });
    worker.on('exit', (code, signal) => {
      this.#listening.delete(worker);
      this.#held.delete(worker);
      this.#propagation.left(pid);
      const lived = Date.now() - (this.#started.get(worker) ?? 0);
      this.#started.delete(worker);
      if (this.#stopping) return;
      if (code === 2 && !this.#everListened) {
        this.#options.onStartupFailure(code);
        return;
      }
      if (lived > STABLE_MS) this.#crashes = 0;
      const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** this.#crashes);
      this.#crashes++;
      this.#options.logger.error({ worker: worker.process.pid, code, signal, reason: 'WorkerExited', restartInMs: delay }, 'worker exited; replacing it');
      this.#respawnTimer = setTimeout(() => {
        this.#respawnTimer = null;
        if (!this.#stopping) this.#fork();
      }, delay);
    });
  }

  /** Forwards `signal` to every worker (each runs its own drain) and resolves when all have exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.#stopping = true;
    this.#propagation.clear();
    if (this.#respawnTimer !== null) clearTimeout(this.#respawnTimer);
    const exits: Promise<void>[] = [];
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker === undefined || worker.isDead()) continue;
      exits.push(new Promise((resolve) => worker.once('exit', () => resolve())));
      worker.process.kill(signal);
    }
    await Promise.all(exits);
  }
}

export interface WorkerTablesOptions {
  readonly routeRef: RouteRef<RouteTable>;
  readonly logger: Logger;
  /** compile() with this worker's balancers and metric children. */
  readonly compile: (config: RouteConfig, previous: RouteTable, generation: number) => RouteTable;
  /** To the primary (process.send in a cluster worker). */
  readonly send: (event: WorkerEventMessage) => void;
  /** Runs once, after the first table is swapped in and before it is reported (main.ts: settleMemory). */
  readonly afterFirstSwap?: () => void;
}

/**
 * The worker's side: turns each RoutesMessage into a complete RouteConfig (a full snapshot, or the
 * config it holds patched with a delta), compiles it and swaps. Only complete tables are swapped;
 * a delta against a generation it does not hold (or any bad payload) asks the primary for a full
 * snapshot, and a table that fails to compile leaves the last good one serving.
 */
export class WorkerTables {
  readonly #options: WorkerTablesOptions;
  /** The last complete config received (the base of the next delta), even if its compile failed. */
  #held: { readonly generation: number; readonly config: RouteConfig } | null = null;
  #swappedOnce = false;

  constructor(options: WorkerTablesOptions) {
    this.#options = options;
  }

  /** Handles one IPC message; anything that is not a RoutesMessage is ignored. */
  receive(message: unknown): void {
    if (!isRoutesMessage(message)) return;
    const { generation, base } = message;
    let config: RouteConfig;
    try {
      if (base === null) {
        config = JSON.parse(message.payload) as RouteConfig;
      } else {
        if (this.#held === null || this.#held.generation !== base) throw new RangeError(`delta against generation ${base}, holding ${this.#held?.generation ?? 'none'}`);
        config = applyRouteConfigDelta(this.#held.config, JSON.parse(message.payload) as RouteConfigDelta);
      }
    } catch (err) {
      this.#held = null;
      if (base === null) {
        // Another copy of the same snapshot would fail the same way: report it, wait for the next table.
        this.#options.logger.error({ err, generation, reason: 'SnapshotUnreadable' }, 'worker could not read the route table; keeping the last good one');
        this.#options.send({ type: 'switchyard:failed', generation });
      } else {
        this.#options.logger.warn({ err, generation, base, reason: 'DeltaNotApplicable' }, 'worker could not apply the route table delta; asking for a full snapshot');
        this.#options.send({ type: 'switchyard:resync', generation });
      }
      return;
    }
    this.#held = { generation, config };
    try {
      this.#options.routeRef.swap(this.#options.compile(config, this.#options.routeRef.current, generation));
    } catch (err) {
      this.#options.logger.error({ err, generation, reason: 'CompileFailed' }, 'worker could not compile the route table; keeping the last good one');
      this.#options.send({ type: 'switchyard:failed', generation });
      return;
    }
    if (!this.#swappedOnce) {
      this.#swappedOnce = true;
      try {
        this.#options.afterFirstSwap?.();
      } catch (err) {
        this.#options.logger.error({ err }, 'the after-first-table step threw');
      }
    }
    this.#options.send({ type: 'switchyard:swapped', generation });
  }
}
