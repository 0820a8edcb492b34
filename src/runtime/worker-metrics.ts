// --workers N (README "All cores"): request metrics live in the workers, /metrics is served by the
// primary. At scrape time the primary asks every listening worker for a snapshot of its per-route
// and per-upstream counts over the cluster IPC channel and renders them summed
// (Metrics.aggregateWorkers, metrics-snapshot.ts). Nothing crosses IPC per request.
import type { Worker } from 'node:cluster';
import { Counter, type Registry } from 'prom-client';
import { isMetricsSnapshot, type MetricsSnapshot } from '../observability/metrics-snapshot.ts';
import type { Logger } from '../observability/logger.ts';

/** Primary -> worker: send your metrics snapshot, tagged with `id`. */
export interface MetricsRequestMessage {
  readonly type: 'switchyard:metrics-request';
  readonly id: number;
}

/** Worker -> primary: the answer to the request with the same `id`. */
export interface MetricsReplyMessage {
  readonly type: 'switchyard:metrics';
  readonly id: number;
  readonly snapshot: MetricsSnapshot;
}

export function isMetricsRequest(message: unknown): message is MetricsRequestMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'switchyard:metrics-request';
}

function isMetricsReply(message: unknown): message is MetricsReplyMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'switchyard:metrics';
}

/** The worker's side: answer each request with `snapshot()`. Returns the detach function. */
export function answerMetricsRequests(snapshot: () => MetricsSnapshot): () => void {
  const onMessage = (message: unknown): void => {
    if (!isMetricsRequest(message) || process.send === undefined) return;
    const reply: MetricsReplyMessage = { type: 'switchyard:metrics', id: message.id, snapshot: snapshot() };
    process.send(reply);
  };
  process.on('message', onMessage);
  return () => process.off('message', onMessage);
}

export interface WorkerMetricsOptions {
  /** The workers to ask (those whose listeners are bound). */
  readonly workers: () => readonly Worker[];
  readonly logger: Logger;
  /** Where the skipped-worker counter is registered (the primary's /metrics registry). */
  readonly registry: Registry;
  /** A worker that has not answered within this many ms is left out of that scrape. Default 500. */
  readonly timeoutMs?: number;
}

/** The primary's side: `collect()` resolves with every answer that came in time, never rejects. */
export class WorkerMetricsCollector {
  readonly #options: WorkerMetricsOptions;
  readonly #skipped: Counter;
  #nextId = 1;

  constructor(options: WorkerMetricsOptions) {
    this.#options = options;
    this.#skipped = new Counter({
      name: 'switchyard_worker_metrics_skipped_total',
      help: 'Scrapes in which a worker did not send its request metrics in time (its series are missing from that scrape).',
      registers: [options.registry],
    });
  }

  collect = async (): Promise<readonly MetricsSnapshot[]> => {
    const id = this.#nextId++;
    const answers = await Promise.all(this.#options.workers().map((worker) => this.#ask(worker, id)));
    return answers.filter((a): a is MetricsSnapshot => a !== null);
  };

  #ask(worker: Worker, id: number): Promise<MetricsSnapshot | null> {
    const timeoutMs = this.#options.timeoutMs ?? 500;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (snapshot: MetricsSnapshot | null, why?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        if (snapshot === null) {
          this.#skipped.inc();
          this.#options.logger.warn({ worker: worker.process.pid, reason: 'WorkerMetricsSkipped', why }, 'a worker did not send its request metrics; this scrape lacks its series');
        }
        resolve(snapshot);
      };
      const onMessage = (message: unknown): void => {
        if (!isMetricsReply(message) || message.id !== id) return;
        if (isMetricsSnapshot(message.snapshot)) finish(message.snapshot);
        else finish(null, 'malformed snapshot');
      };
      const onExit = (): void => finish(null, 'worker exited');
      const timer = setTimeout(() => finish(null, `no answer within ${timeoutMs} ms`), timeoutMs);
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      if (!worker.isConnected()) {
        finish(null, 'IPC channel closed');
        return;
      }
      const request: MetricsRequestMessage = { type: 'switchyard:metrics-request', id };
      worker.send(request, (err: Error | null) => {
        if (err) finish(null, `send failed: ${err.message}`);
      });
    });
  }
}
