// The access log: one JSON line per request, written asynchronously (sonic-boom, pino's
// destination) so a slow stdout or disk never blocks the event loop.
//
// Lines are built by string concatenation straight from the request's handler object (no entry
// object, no generic serializer): numbers are written as they are, strings are quoted as they are
// when they are plain printable ASCII and go through JSON.stringify otherwise (client input can
// never break out of its field or the line). The lines of one event-loop turn are joined and handed
// to sonic-boom once per turn; it queues them up to minLength (2 KiB stdout, 32 KiB file; flushed
// at least every second) and writes asynchronously, in writes of whole lines of at most 4096 bytes
// on stdout (atomic on a container's pipe: they never interleave with the controller log) or 64 KiB
// to a file. Past `maxBufferBytes` queued (destination stuck), lines are dropped and counted
// instead of growing memory.

import { once } from 'node:events';
import pino from 'pino';

/**
 * What the proxy knows when a request completes. The proxy's per-request handler object satisfies
 * this shape (or a thin view of it): the access log reads the fields, it allocates nothing else.
 */
export interface AccessLogRecord {
  readonly requestId: string;
  readonly remoteAddress: string;
  readonly method: string;
  /** Host header as received (the log shows what the client sent; metrics never do). */
  readonly host: string;
  /** Request target as received (path and query). */
  readonly url: string;
  readonly status: number;
  /** Route name ("ingress/<ns>/<name>/rule/<i>/path/<j>"), "" when nothing matched. */
  readonly routeName: string;
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
  /** Canary that served, "" for the main backend. */
  readonly canary: string;
  /** "address:port" of the upstream endpoint, "" when none was contacted. */
  readonly upstreamAddress: string;
  /** Upstream response status, 0 when there was none. */
  readonly upstreamStatus: number;
  readonly durationSeconds: number;
  /** -1 when no upstream was contacted. */
  readonly upstreamConnectSeconds: number;
  /** -1 when no upstream was contacted. */
  readonly upstreamResponseSeconds: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly userAgent: string;
}

export interface AccessLogOptions {
  /** --access-log: false makes write() a no-op. */
  readonly enabled: boolean;
  /** File path or file descriptor (default 1, stdout). */
  readonly destination?: string | number;
  /**
   * Bytes to queue before writing (default 2048 on a file descriptor, 32 KiB to a file): fewer,
   * larger writes; what stays below it is written by the periodic flush.
   */
  readonly minLength?: number;
  /** Largest single write (default 4096 for a file descriptor, atomic on pipes; 64 KiB for a file; more than minLength). */
  readonly maxWrite?: number;
  /** Queued lines are written at least this often, in ms (default 1000). */
  readonly flushIntervalMs?: number;
  /** Queue limit before lines are dropped (default 16 MiB). */
  readonly maxBufferBytes?: number;
}

type Destination = ReturnType<typeof pino.destination>;

// ISO timestamp cached per millisecond: most lines in a busy second share a handful of them.
let cachedMs = 0;
let cachedIso = '';
function isoNow(): string {
  const now = Date.now();
  if (now !== cachedMs) {
    cachedMs = now;
    cachedIso = new Date(now).toISOString();
  }
  return cachedIso;
}

/** Milliseconds with microsecond precision as a JSON number ("3.412"), null when negative (not measured). */
function ms(seconds: number): string {
  if (seconds < 0) return 'null';
  // Integer formatting is much cheaper than double-to-string: whole ms, then three decimals.
  const us = Math.round(seconds * 1e6);
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  if (frac === 0) return String(whole);
  return whole + (frac < 10 ? '.00' : frac < 100 ? '.0' : '.') + frac;
}

/** Characters that need JSON escaping (or may: everything outside printable ASCII goes through JSON.stringify). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;

/** A JSON string literal: plain printable ASCII is quoted as is, anything else JSON.stringify'd. */
function str(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** Hot path: the JSON line of one request. */
export function formatAccessLine(r: AccessLogRecord, time: string): string {
  return '{"time":"' + time +
    '","kind":"access","requestId":' + str(r.requestId) +
    ',"remoteAddr":' + str(r.remoteAddress) +
    ',"method":' + str(r.method) +
    ',"host":' + str(r.host) +
    ',"path":' + str(r.url) +
    ',"status":' + r.status +
    ',"route":' + (r.routeName === '' ? 'null' : str(r.routeName)) +
    ',"namespace":' + str(r.namespace) +
    ',"ingress":' + str(r.ingress) +
    ',"service":' + str(r.service) +
    ',"canary":' + str(r.canary) +
    ',"upstreamAddr":' + (r.upstreamAddress === '' ? 'null' : str(r.upstreamAddress)) +
    ',"upstreamStatus":' + (r.upstreamStatus > 0 ? r.upstreamStatus : 'null') +
    ',"durationMs":' + ms(r.durationSeconds) +
    ',"upstreamConnectMs":' + ms(r.upstreamConnectSeconds) +
    ',"upstreamResponseMs":' + ms(r.upstreamResponseSeconds) +
    ',"bytesIn":' + r.bytesIn +
    ',"bytesOut":' + r.bytesOut +
    ',"userAgent":' + str(r.userAgent) +
    '}\n';
}

function countLines(data: unknown): number {
  const text = String(data);
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

export class AccessLog {
  readonly enabled: boolean;
  /** Lines dropped because the destination could not keep up (or failed). */
  dropped = 0;
  readonly #dest: Destination | null;
  /** Largest batch handed to the destination in one write (bytes). */
  readonly #maxBatch: number;
  /** Lines of this event-loop turn, not yet handed to the destination. */
  #batch = '';
  #batchBytes = 0;
  #scheduled = false;
  #closed = false;
  readonly #onExit = (): void => this.flushSync();
  readonly #onTick = (): void => {
    this.#scheduled = false;
    this.#handOver();
  };

  constructor(options: AccessLogOptions) {
    this.enabled = options.enabled;
    if (!options.enabled) {
      this.#dest = null;
      this.#maxBatch = 0;
      return;
    }
    const destination = options.destination ?? 1;
    const fd = typeof destination === 'number';
    // Every write costs a syscall and a trip through libuv, so lines are queued up to minLength and
    // written together (the periodic flush writes what is left). stdout/stderr (a pipe in a
    // container): writes of at most PIPE_BUF (4096) bytes of whole lines are atomic, so lines never
    // interleave with the controller log. A file has no such limit.
    const minLength = options.minLength ?? (fd ? 2048 : 32 * 1024);
    const maxWrite = options.maxWrite ?? Math.max(fd ? 4096 : 65536, 2 * minLength);
    this.#maxBatch = maxWrite;
    this.#dest = pino.destination({
      dest: destination,
      sync: false,
      minLength,
      maxWrite,
      maxLength: options.maxBufferBytes ?? 16 * 1024 * 1024,
      periodicFlush: options.flushIntervalMs ?? 1000,
      mkdir: true,
    });
    this.#dest.on('drop', (data: unknown) => {
      this.dropped += countLines(data);
    });
    // A write error (disk full, closed pipe) must never take the proxy down: count it as dropped.
    this.#dest.on('error', () => {
      this.dropped++;
    });
    process.on('exit', this.#onExit);
  }

  /**
   * Hot path: log one finished request. Lines of one event-loop turn are joined here and handed to
   * the destination once per turn (or when a batch reaches maxWrite), so the per-line cost is one
   * string concatenation; sonic-boom then writes asynchronously.
   */
  write(record: AccessLogRecord): void {
    if (this.#dest === null || this.#closed) return;
    const line = formatAccessLine(record, isoNow());
    const bytes = Buffer.byteLength(line);
    if (this.#batchBytes + bytes > this.#maxBatch && this.#batchBytes > 0) this.#handOver();
    this.#batch += line;
    this.#batchBytes += bytes;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#onTick);
    }
  }

  #handOver(): void {
    if (this.#batchBytes === 0 || this.#dest === null) return;
    const batch = this.#batch;
    this.#batch = '';
    this.#batchBytes = 0;
    this.#dest.write(batch);
  }

  /** Write out whatever is queued, synchronously (exit path). */
  flushSync(): void {
    if (this.#dest === null || this.#closed) return;
    try {
      this.#handOver();
      this.#dest.flushSync();
    } catch {
      // not open yet, or the destination is gone: nothing more we can do at exit
    }
  }

  /** Flush and close the destination (shutdown). Idempotent. */
  async close(): Promise<void> {
    if (this.#dest === null || this.#closed) return;
    this.#handOver();
    this.#closed = true;
    process.off('exit', this.#onExit);
    const dest = this.#dest;
    // end() writes out the queue, then closes the file (sonic-boom never closes fd 1 or 2).
    const closed = once(dest, 'close');
    dest.end();
    await closed;
  }
}

export function createAccessLog(options: AccessLogOptions): AccessLog {
  return new AccessLog(options);
}
