// Coalesces relevant changes into rebuilds: latest state wins, nothing is queued per event.
//
//   change ──► wait `holdoffMs` after the LAST change ──► run()
//              but never more than `maxHoldoffMs` after the FIRST pending change
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
  /** The rebuild. Errors are the caller's to handle; a throw here is logged by onError. */
  readonly run: () => void | Promise<void>;
  readonly onError?: (err: unknown) => void;
  readonly timers?: Timers;
}

export class Scheduler {
  readonly #holdoffMs: number;
  readonly #maxHoldoffMs: number;
  readonly #run: () => void | Promise<void>;
  readonly #onError: (err: unknown) => void;
  readonly #timers: Timers;
  #gateOpen = false;
  #pending = false;
  #firstPendingAt = 0;
  #timer: unknown = null;
  #running = false;
  #closed = false;
  #runs = 0;

  constructor(options: SchedulerOptions) {
    this.#holdoffMs = options.holdoffMs;
    this.#maxHoldoffMs = Math.max(options.maxHoldoffMs, options.holdoffMs);
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
    if (!this.#pending) {
      this.#pending = true;
      this.#firstPendingAt = now;
    }
    if (!this.#gateOpen || this.#running) return; // runs when the gate opens / the run ends
    this.#arm(now);
  }

  /** Every source has synced: build now, then coalesce as usual. Idempotent. */
  openGate(): void {
    if (this.#gateOpen || this.#closed) return;
    this.#gateOpen = true;
    this.#pending = true;
    this.#firstPendingAt = this.#timers.now();
    this.#clear();
    this.#timer = this.#timers.setTimeout(() => this.#fire(), 0);
  }

  close(): void {
    this.#closed = true;
    this.#clear();
  }

  #arm(now: number): void {
    const delay = Math.max(0, Math.min(this.#holdoffMs, this.#firstPendingAt + this.#maxHoldoffMs - now));
    this.#clear();
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
