// Coalesces relevant changes into rebuilds: latest state wins, nothing is queued per event.
//
//   change after a quiet spell ──► run() at once (leading edge: next macrotask, so the changes of
//                                  one event-loop turn still build together)
//   change during a burst      ──► wait `holdoffMs` after the LAST change ──► run()
//                                  but never more than `maxHoldoffMs` after the FIRST pending change
//
// "Quiet" = no change and no run in the last `holdoffMs`. A lone edit is published without waiting
// out a holdoff that coalesces nothing; the rest of a burst still costs one rebuild per holdoff.
// leadingEdge: false keeps only the trailing holdoff (every change waits `holdoffMs`).
//
// Nothing runs before the sync gate opens (every source has delivered its initial state); opening
// the gate runs once straight away, so the first table is built from complete data.
// If run() is async and changes arrive while it runs, one more run follows it.

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface SchedulerOptions {
  readonly holdoffMs: number;
  readonly maxHoldoffMs: number;
  /** Run at once for a change after a quiet spell (default true; see the top of this file). */
  readonly leadingEdge?: boolean;
  /** The rebuild. Errors are the caller's to handle; a throw here is logged by onError. */
  readonly run: () => void | Promise<void>;
  readonly onError?: (err: unknown) => void;
  readonly timers?: Timers;
}

export class Scheduler {
  readonly #holdoffMs: number;
  readonly #maxHoldoffMs: number;
  readonly #leadingEdge: boolean;
  readonly #run: () => void | Promise<void>;
  readonly #onError: (err: unknown) => void;
  readonly #timers: Timers;
  #gateOpen = false;
  #pending = false;
  #firstPendingAt = 0;
  #timer: unknown = null;
  /** When the armed timer fires (timers.now() clock). */
  #dueAt = 0;
  #running = false;
  #closed = false;
  #runs = 0;
  /** timers.now() of the last change and of the last run's start (-Infinity: none yet). */
  #lastChangeAt = -Infinity;
  #lastRunAt = -Infinity;

  constructor(options: SchedulerOptions) {
    this.#holdoffMs = options.holdoffMs;
    this.#maxHoldoffMs = Math.max(options.maxHoldoffMs, options.holdoffMs);
    this.#leadingEdge = options.leadingEdge ?? true;
    this.#run = options.run;
    this.#onError = options.onError ?? (() => {});
    this.#timers = options.timers ?? realTimers;
  }

  /** How many times run() has been started. */
  get runs(): number {
    return this.#runs;
  }

  get gateOpen(): boolean {
    return this.#gateOpen;
  }

  get pending(): boolean {
    return this.#pending;
  }

  /** A relevant change happened. */
  notify(): void {
    if (this.#closed) return;
    const now = this.#timers.now();
    const quiet = now - this.#lastChangeAt >= this.#holdoffMs && now - this.#lastRunAt >= this.#holdoffMs;
    this.#lastChangeAt = now;
    if (!this.#pending) {
      this.#pending = true;
      this.#firstPendingAt = now;
    }
    if (!this.#gateOpen || this.#running) return; // runs when the gate opens / the run ends
    // 1. Already due at once (a leading-edge run is armed): later changes of this turn join it.
    // 2. The first change after a quiet spell: run at once. 3. Otherwise: the trailing holdoff.
    if (this.#timer !== null && this.#dueAt <= now) return;
    if (this.#leadingEdge && quiet) this.#armAt(now, 0);
    else this.#arm(now);
  }

  /** Every source has synced: build now, then coalesce as usual. Idempotent. */
  openGate(): void {
    if (this.#gateOpen || this.#closed) return;
    this.#gateOpen = true;
    this.#pending = true;
    this.#firstPendingAt = this.#timers.now();
    this.#armAt(this.#timers.now(), 0);
  }

  close(): void {
    this.#closed = true;
    this.#clear();
  }

  #arm(now: number): void {
    this.#armAt(now, Math.max(0, Math.min(this.#holdoffMs, this.#firstPendingAt + this.#maxHoldoffMs - now)));
  }

  #armAt(now: number, delay: number): void {
    this.#clear();
    this.#dueAt = now + delay;
    this.#timer = this.#timers.setTimeout(() => this.#fire(), delay);
  }

  #clear(): void {
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #fire(): void {
    this.#timer = null;
    if (this.#closed || !this.#pending) return;
    this.#pending = false;
    this.#running = true;
    this.#runs++;
    this.#lastRunAt = this.#timers.now();
    let result: void | Promise<void>;
    try {
      result = this.#run();
    } catch (err) {
      this.#onError(err);
      result = undefined;
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      (result as Promise<void>).then(
        () => this.#afterRun(),
        (err: unknown) => {
          this.#onError(err);
          this.#afterRun();
        },
      );
    } else {
      this.#afterRun();
    }
  }

  #afterRun(): void {
    this.#running = false;
    // Changes that arrived during an async run: their holdoff clock started when they arrived.
    if (this.#pending && !this.#closed) this.#arm(this.#timers.now());
  }
}
