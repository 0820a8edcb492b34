// --workers N (README "Resilience"): node:cluster. The primary runs the sources, store, scheduler,
// translate and compile (for readiness and /debug) and the admin server; N workers run the proxy
// listeners (cluster shares the ports) and receive each new RouteConfig over IPC (structured
// clone), compile it and swap their own RouteRef. A worker that dies is replaced with backoff,
// without touching the others.
import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RouteTable } from '../compile/route-table.ts';
import type { RouteConfig } from '../model/route-config.ts';
import type { Logger } from '../observability/logger.ts';
import type { RouteRef } from './route-ref.ts';

/** Primary -> worker: the table to serve. */
export interface RoutesMessage {
  readonly type: 'switchyard:routes';
  readonly generation: number;
  readonly config: RouteConfig;
}

/** Worker -> primary: listeners bound / table swapped. */
export interface WorkerEventMessage {
  readonly type: 'switchyard:listening' | 'switchyard:swapped';
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
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;
/** A worker that lived this long resets the backoff. */
const STABLE_MS = 10_000;

/** The primary's side: forks, feeds and replaces the workers. */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #listening = new Set<Worker>();
  readonly #started = new Map<Worker, number>();
  #stopping = false;
  #crashes = 0;
  #everListened = false;
  #respawnTimer: NodeJS.Timeout | null = null;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
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
    // Every new table goes to every worker; a worker forked later gets the current one on 'listening'.
    this.#options.routeRef.onSwap((table) => {
      for (const worker of this.#listening) this.#send(worker, table);
    });
    for (let i = 0; i < this.#options.count; i++) this.#fork();
  }

  #send(worker: Worker, table: RouteTable): void {
    if (table.generation === 0 || !worker.isConnected()) return; // the empty startup table: workers start with it
    const message: RoutesMessage = { type: 'switchyard:routes', generation: table.generation, config: table.config };
    worker.send(message, (err: Error | null) => {
      if (err) this.#options.logger.warn({ err, worker: worker.process.pid }, 'could not send the route table to a worker');
    });
  }

  #fork(): void {
    const worker = cluster.fork();
    this.#started.set(worker, Date.now());
    worker.on('message', (message: WorkerEventMessage) => {
      if (message?.type === 'switchyard:listening') {
        this.#everListened = true;
        this.#listening.add(worker);
        this.#options.logger.info({ worker: worker.process.pid }, 'worker listening');
        this.#send(worker, this.#options.routeRef.current);
      }
    });
    worker.on('exit', (code, signal) => {
      this.#listening.delete(worker);
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
