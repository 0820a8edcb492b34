import type { LookupFunction } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { Http1Pool, type Http1Handler, type Http1RequestOptions } from './http1-pool.ts';

/** A request handler both clients can drive (the Exchange implements undici's and ours). */
export type UpstreamHandler = Http1Handler & Dispatcher.DispatchHandler;

/** What an UpstreamPool dispatches through: Http1Pool for http://, undici's Pool for https://. */
export interface UpstreamDispatcher {
  dispatch(options: Http1RequestOptions, handler: UpstreamHandler): boolean;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/** undici's Pool behind the same interface (TLS upstreams: backend-protocol HTTPS). */
class UndiciDispatcher implements UpstreamDispatcher {
  readonly #pool: Pool;
  constructor(pool: Pool) {
    this.#pool = pool;
  }
  dispatch(options: Http1RequestOptions, handler: UpstreamHandler): boolean {
    return this.#pool.dispatch(options as unknown as Dispatcher.DispatchOptions, handler);
  }
  close(): Promise<void> {
    return this.#pool.close();
  }
  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}

/** One keep-alive pool per upstream origin, plus the bookkeeping that lets idle pools be closed. */
export class UpstreamPool {
  readonly origin: string;
  readonly pool: UpstreamDispatcher;
  /** Requests dispatched and not completed (a pool is never closed while this is > 0). */
  inflight = 0;
  /** Set on every use; the sweeper clears it, so "not used since the last sweep" costs no clock read. */
  used = true;
  /** Consecutive sweeps that found the pool unused. */
  idleSweeps = 0;
  /** Requests in flight beyond which a new one is refused with 503 (connections + queue; Infinity = no cap). */
  maxInflight = Infinity;
  closed = false;

  constructor(origin: string, pool: UpstreamDispatcher) {
    this.origin = origin;
    this.pool = pool;
  }
}

export interface UpstreamPoolsOptions {
  /** Upstream connect timeout in ms (504 when exceeded). Default 5000. */
  readonly connectTimeout?: number;
  /** Idle keep-alive connections are closed after this many ms (undici also honours the upstream's Keep-Alive hint). Default 4000. */
  readonly keepAliveTimeout?: number;
  /** A pool unused for about this long (ms) with nothing in flight is closed. Default 60000. */
  readonly idleTimeout?: number;
  /** DNS lookup for endpoints given by name (ExternalName/FQDN slices); default dns.lookup. */
  readonly lookup?: LookupFunction;
  /**
   * For https:// origins (backend-protocol HTTPS): do not verify the upstream's certificate, like
   * nginx's default proxy_ssl_verify off. Default false (verify).
   */
  readonly insecureTls?: boolean;
  /** Concurrent connections per endpoint (undici Pool `connections`; --upstream-max-connections). 0 = no cap (default). */
  readonly maxConnections?: number;
  /** With maxConnections: requests that may wait for a connection; more get 503 (--upstream-max-queue). Default 0. */
  readonly maxQueue?: number;
}

/**
 * The long-lived registry of upstream pools, keyed by origin, deliberately OUTSIDE the route table:
 * a table swap never drops a connection, and an endpoint that appears in the next table reuses its
 * warm pool. Compiled endpoints cache their pool (CompiledEndpoint.dispatcher); a pool that no request
 * used for `idleTimeout` is closed and forgotten, and a later request simply opens a new one.
 */
export class UpstreamPools {
  readonly #pools = new Map<string, UpstreamPool>();
  readonly #connectTimeout: number;
  readonly #keepAliveTimeout: number;
  readonly #lookup: LookupFunction | undefined;
  readonly #insecureTls: boolean;
  readonly #maxConnections: number;
  readonly #maxInflight: number;
  readonly #sweepTimer: NodeJS.Timeout;
  readonly #sweepsToClose: number;
  #closed = false;

  constructor(options: UpstreamPoolsOptions = {}) {
    this.#connectTimeout = options.connectTimeout ?? 5000;
    this.#keepAliveTimeout = options.keepAliveTimeout ?? 4000;
    this.#lookup = options.lookup;
    this.#insecureTls = options.insecureTls === true;
    this.#maxConnections = options.maxConnections ?? 0;
    this.#maxInflight = this.#maxConnections > 0 ? this.#maxConnections + (options.maxQueue ?? 0) : Infinity;
    const idle = options.idleTimeout ?? 60_000;
    const interval = Math.max(10, Math.min(idle, 15_000));
    this.#sweepsToClose = Math.max(1, Math.round(idle / interval));
    this.#sweepTimer = setInterval(() => this.sweep(), interval);
    this.#sweepTimer.unref();
  }

  get size(): number {
    return this.#pools.size;
  }

  /** The pool for an origin ("http://10.0.0.1:8080"), created on first use. */
  get(origin: string): UpstreamPool {
    let entry = this.#pools.get(origin);
    if (entry === undefined || entry.closed) {
      if (this.#closed) throw new Error('upstream pools are closed');
      const pool = origin.startsWith('http:') ? this.#plainPool(origin) : this.#tlsPool(origin);
      entry = new UpstreamPool(origin, pool);
      entry.maxInflight = this.#maxInflight;
      this.#pools.set(origin, entry);
    }
    return entry;
  }

  /** Plain http: the lean HTTP/1.1 client (http1-pool.ts). */
  #plainPool(origin: string): UpstreamDispatcher {
    return new Http1Pool(origin, {
      connectTimeout: this.#connectTimeout,
      keepAliveTimeout: this.#keepAliveTimeout,
      connections: this.#maxConnections,
      ...(this.#lookup ? { lookup: this.#lookup } : {}),
    });
  }

  /** https (backend-protocol HTTPS): undici, for its TLS connection handling. */
  #tlsPool(origin: string): UpstreamDispatcher {
    return new UndiciDispatcher(
      new Pool(origin, {
        connect: {
          timeout: this.#connectTimeout,
          noDelay: true,
          keepAlive: true,
          ...(this.#lookup ? { lookup: this.#lookup } : {}),
          ...(this.#insecureTls ? { rejectUnauthorized: false } : {}),
        },
        keepAliveTimeout: this.#keepAliveTimeout,
        ...(this.#maxConnections > 0 ? { connections: this.#maxConnections } : {}),
        // Per-request headersTimeout/bodyTimeout are passed with each dispatch.
      }),
    );
  }

  /** Close pools that were not used for idleTimeout and have nothing in flight. */
  sweep(): void {
    for (const [origin, entry] of this.#pools) {
      if (entry.used || entry.inflight > 0) {
        entry.used = false;
        entry.idleSweeps = 0;
        continue;
      }
      if (++entry.idleSweeps >= this.#sweepsToClose) {
        entry.closed = true;
        this.#pools.delete(origin);
        entry.pool.close().catch(() => {});
      }
    }
  }

  /** Close every pool (waits for in-flight requests); used on shutdown. */
  close(): Promise<void> {
    return this.#shutAll('close');
  }

  /** Destroy every pool now (aborts in-flight requests). */
  destroy(): Promise<void> {
    return this.#shutAll('destroy');
  }

  async #shutAll(how: 'close' | 'destroy'): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(
      all.map((entry) => {
        entry.closed = true;
        return entry.pool[how]().catch(() => {});
      }),
    );
  }
}
