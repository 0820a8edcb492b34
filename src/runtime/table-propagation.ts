// Which workers have swapped to which generation (README "All cores: `--workers`"): the primary
// publishes generation G to the workers listening at that moment and hears back
// `switchyard:swapped` (or `switchyard:failed`) from each. G has reached every worker when each of
// them swapped to G or a later generation; an ack for G+1 also settles G, so a lost ack blocks
// nothing. A generation that some worker never settles is given up after `timeoutMs`.

export interface Reached {
  readonly generation: number;
  readonly workers: number;
  /** From the primary's publish to the last worker's ack, ms. */
  readonly durationMs: number;
}

export interface NotReached {
  readonly generation: number;
  readonly workers: number;
  /** Workers that could not compile or read it (they keep serving their last good table). */
  readonly failed: readonly number[];
  /** Workers that had not answered within timeoutMs. */
  readonly missing: readonly number[];
  readonly reason: 'WorkerFailed' | 'NoAck';
}

export interface TablePropagationOptions {
  readonly onReached: (reached: Reached) => void;
  readonly onNotReached: (notReached: NotReached) => void;
  /** Give a generation up after this long (default 30 s). */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

interface Pending {
  readonly generation: number;
  readonly publishedAt: number;
  readonly workers: number;
  readonly waiting: Set<number>;
  readonly failed: number[];
  readonly timer: NodeJS.Timeout;
}

/** Keyed by worker id (any number that names a worker for the life of the pool: its pid). */
export class TablePropagation {
  readonly #options: TablePropagationOptions;
  readonly #now: () => number;
  /** Oldest generation first. */
  readonly #pending: Pending[] = [];

  constructor(options: TablePropagationOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Generations still waiting for an ack (for tests and /debug). */
  get pending(): readonly number[] {
    return this.#pending.map((p) => p.generation);
  }

  /** `generation` was just sent to `workers` (nothing to track when there are none). */
  published(generation: number, workers: Iterable<number>): void {
    const waiting = new Set(workers);
    if (waiting.size === 0) return;
    const timer = setTimeout(() => this.#giveUp(generation), this.#options.timeoutMs ?? 30_000);
    timer.unref();
    this.#pending.push({ generation, publishedAt: this.#now(), workers: waiting.size, waiting, failed: [], timer });
  }

  /** `worker` swapped to `generation`: it settles that generation and every earlier one. */
  swapped(worker: number, generation: number): void {
    for (const p of [...this.#pending]) if (p.generation <= generation) this.#settle(p, worker, false);
  }

  /** `worker` could not compile `generation` (it keeps its last good table). */
  failed(worker: number, generation: number): void {
    for (const p of [...this.#pending]) if (p.generation === generation) this.#settle(p, worker, true);
  }

  /** `worker` exited: nothing is waited for from it any more. */
  left(worker: number): void {
    for (const p of [...this.#pending]) if (p.waiting.delete(worker)) this.#finishIfDone(p);
  }

  /** Stops the timers (pool stopping). */
  clear(): void {
    for (const p of this.#pending) clearTimeout(p.timer);
    this.#pending.length = 0;
  }

  #settle(p: Pending, worker: number, failed: boolean): void {
    if (!p.waiting.delete(worker)) return;
    if (failed) p.failed.push(worker);
    this.#finishIfDone(p);
  }

  #finishIfDone(p: Pending): void {
    if (p.waiting.size > 0) return;
    this.#remove(p);
    if (p.failed.length === 0) this.#options.onReached({ generation: p.generation, workers: p.workers, durationMs: this.#now() - p.publishedAt });
    else this.#options.onNotReached({ generation: p.generation, workers: p.workers, failed: p.failed, missing: [], reason: 'WorkerFailed' });
  }

  #giveUp(generation: number): void {
    const p = this.#pending.find((q) => q.generation === generation);
    if (p === undefined) return;
    this.#remove(p);
    this.#options.onNotReached({ generation, workers: p.workers, failed: p.failed, missing: [...p.waiting], reason: 'NoAck' });
  }

  #remove(p: Pending): void {
    clearTimeout(p.timer);
    const i = this.#pending.indexOf(p);
    if (i !== -1) this.#pending.splice(i, 1);
  }
}
