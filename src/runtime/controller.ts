// The control loop: relevant store changes -> (coalesced by the Scheduler) -> snapshot ->
// translate -> compile -> one RouteRef.swap(). Nothing is published before every source has
// synced; anything that throws keeps the last good table.
import type { Logger } from 'pino';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { RouteConfig, TranslateResult } from '../model/route-config.ts';
import type { Snapshot, TranslateOptions } from '../model/snapshot.ts';
import { deepEqual } from '../store/store.ts';
import type { RouteRef } from './route-ref.ts';
import { Scheduler, type Timers } from './scheduler.ts';

export interface ControllerStore {
  snapshot(): Snapshot;
  onChange(listener: () => void): () => void;
}

export interface PublishedTable<T> {
  readonly table: T;
  /** RouteRef.version after the swap. */
  readonly version: number;
  readonly generation: number;
  /** snapshot + translate + compile, milliseconds. */
  readonly durationMs: number;
  readonly diagnostics: readonly Diagnostic[];
  /**
   * Milliseconds from the first store change this table includes to its swap (holdoff + build);
   * null for the first table (that is startup, not a change).
   */
  readonly changeToSwapMs: number | null;
}

/** Every successful build, swapped or not (a diagnostics-only change swaps nothing). */
export interface BuildResult {
  readonly swapped: boolean;
  /** Generation of the table served after this build. */
  readonly generation: number;
  readonly durationMs: number;
  readonly diagnostics: readonly Diagnostic[];
}

export interface BuildStats {
  /** Builds attempted (each scheduler tick). */
  readonly builds: number;
  /** Builds that threw (the last good table stayed). */
  readonly failures: number;
  /** Builds whose RouteConfig equalled the current one: nothing swapped. */
  readonly unchanged: number;
  /** Duration of the last build, ms (also for failed/unchanged builds). */
  readonly lastDurationMs: number;
}

export interface ControllerOptions<T extends { readonly generation: number; readonly config: RouteConfig }> {
  readonly store: ControllerStore;
  readonly routeRef: RouteRef<T>;
  readonly translate: (snapshot: Snapshot, options: TranslateOptions) => TranslateResult;
  /** Builds the table for `config`; `previous` is the table being replaced (round-robin carry-over). */
  readonly compile: (config: RouteConfig, previous: T) => T;
  readonly translateOptions: TranslateOptions;
  readonly logger: Logger;
  readonly holdoffMs: number;
  readonly maxHoldoffMs: number;
  /** Scheduler leading edge (scheduler.ts); default true. */
  readonly leadingEdge?: boolean;
  readonly timers?: Timers;
  /** Runs once, after the first table is swapped in and before the controller reports ready (main.ts: settleMemory). */
  readonly beforeReady?: () => void;
}

export class Controller<T extends { readonly generation: number; readonly config: RouteConfig }> {
  readonly #o: ControllerOptions<T>;
  readonly #log: Logger;
  readonly #scheduler: Scheduler;
  readonly #listeners = new Set<(published: PublishedTable<T>) => void>();
  readonly #buildListeners = new Set<(build: BuildResult) => void>();
  readonly #unsubscribe: () => void;
  #ready = false;
  #resolveReady!: () => void;
  readonly #readyPromise: Promise<void>;
  #diagnostics: readonly Diagnostic[] = [];
  #diagnosticKeys = new Set<string>();
  #builds = 0;
  #failures = 0;
  #unchanged = 0;
  #lastDurationMs = 0;
  #lastError: unknown = null;
  /** performance.now() of the first store change not yet built into a table, or null. */
  #changedAt: number | null = null;

  constructor(options: ControllerOptions<T>) {
    this.#o = options;
    this.#log = options.logger;
    this.#readyPromise = new Promise((resolve) => (this.#resolveReady = resolve));
    this.#scheduler = new Scheduler({
      holdoffMs: options.holdoffMs,
      maxHoldoffMs: options.maxHoldoffMs,
      leadingEdge: options.leadingEdge,
      timers: options.timers,
      run: () => this.rebuild(),
      onError: (err) => this.#log.error({ err }, 'rebuild scheduler error'),
    });
    // Subscribe at once: changes made while sources sync are remembered (not acted on) by the scheduler.
    this.#unsubscribe = options.store.onChange(() => {
      this.#changedAt ??= performance.now();
      this.#scheduler.notify();
    });
  }

  /** True once the first table has been published (/readyz). */
  get ready(): boolean {
    return this.#ready;
  }

  /** Resolves when the first table has been published. */
  whenReady(): Promise<void> {
    return this.#readyPromise;
  }

  /** Diagnostics of the last successful translate. */
  get diagnostics(): readonly Diagnostic[] {
    return this.#diagnostics;
  }

  get stats(): BuildStats {
    return { builds: this.#builds, failures: this.#failures, unchanged: this.#unchanged, lastDurationMs: this.#lastDurationMs };
  }

  /** The error of the last failed build, null after a successful one. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Generation of the table currently served. */
  get generation(): number {
    return this.#o.routeRef.current.generation;
  }

  /** Called after every swap (metrics, status writer, debug views). Returns an unsubscribe function. */
  onPublish(listener: (published: PublishedTable<T>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called after every successful build, also when nothing was swapped (diagnostics consumers). */
  onBuild(listener: (build: BuildResult) => void): () => void {
    this.#buildListeners.add(listener);
    return () => this.#buildListeners.delete(listener);
  }

  #emitBuild(build: BuildResult): void {
    for (const listener of this.#buildListeners) {
      try {
        listener(build);
      } catch (err) {
        this.#log.error({ err }, 'onBuild listener threw');
      }
    }
  }

  /**
   * The sync gate: waits for every source's initial state, then builds the first table. Resolves
   * when the gate has opened (not when the table is published: see whenReady()).
   */
  async start(synced: readonly Promise<unknown>[]): Promise<void> {
    this.#log.info({ sources: synced.length }, 'waiting for sources to sync');
    await Promise.all(synced);
    this.#log.info('sources synced; building the first route table');
    this.#scheduler.openGate();
  }

  stop(): void {
    this.#scheduler.close();
    this.#unsubscribe();
  }

  /** One build: snapshot -> translate -> compile -> swap. Never throws. */
  rebuild(): void {
    this.#builds++;
    const t0 = performance.now();
    // Changes from here on go into the next build; this build covers those before it.
    const changedAt = this.#changedAt;
    this.#changedAt = null;
    const previous = this.#o.routeRef.current;
    let result: TranslateResult;
    let table: T | null = null;
    let translateMs = 0;
    try {
      const snapshot = this.#o.store.snapshot();
      result = this.#o.translate(snapshot, this.#o.translateOptions);
      translateMs = performance.now() - t0;
      // The same RouteConfig as the table being served: nothing to swap (keeps generation,
      // round-robin positions and pools exactly as they are). The first table is always published.
      if (!this.#ready || !deepEqual(result.config, previous.config)) table = this.#o.compile(result.config, previous);
    } catch (err) {
      this.#failures++;
      this.#lastError = err;
      this.#lastDurationMs = performance.now() - t0;
      if (changedAt !== null && (this.#changedAt === null || changedAt < this.#changedAt)) this.#changedAt = changedAt; // still unserved
      this.#log.error(
        { err, reason: 'RebuildFailed', generation: previous.generation },
        'building the route table failed (a bug); still serving the last good table',
      );
      return;
    }
    this.#lastError = null;
    this.#reportDiagnostics(result.diagnostics);
    const durationMs = performance.now() - t0;
    this.#lastDurationMs = durationMs;
    if (table === null) {
      this.#unchanged++;
      this.#log.debug({ generation: previous.generation, durationMs: round(durationMs) }, 'route configuration unchanged; nothing swapped');
      this.#emitBuild({ swapped: false, generation: previous.generation, durationMs, diagnostics: result.diagnostics });
      return;
    }

    try {
      this.#o.routeRef.swap(table); // THE swap: one reference assignment
    } catch (err) {
      // The table is live; a listener's bug must not stop readiness or the other listeners.
      this.#log.error({ err, generation: table.generation }, 'a route table swap listener threw');
    }
    const config = result.config;
    const fields = {
      generation: table.generation,
      durationMs: round(durationMs),
      translateMs: round(translateMs),
      virtualHosts: config.virtualHosts.length,
      routes: config.virtualHosts.reduce((n, v) => n + v.routes.length, 0),
      upstreams: config.upstreams.length,
      diagnostics: result.diagnostics.length,
    };
    const firstTable = !this.#ready;
    if (!this.#ready) {
      try {
        this.#o.beforeReady?.();
      } catch (err) {
        this.#log.error({ err }, 'the before-ready step threw; ready anyway');
      }
      this.#ready = true;
      this.#log.info(fields, 'first route table published; ready');
      this.#resolveReady();
    } else {
      this.#log.info(fields, 'route table published');
    }
    const published: PublishedTable<T> = {
      table, version: this.#o.routeRef.version, generation: table.generation, durationMs, diagnostics: result.diagnostics,
      changeToSwapMs: firstTable || changedAt === null ? null : performance.now() - changedAt,
    };
    for (const listener of this.#listeners) {
      try {
        listener(published);
      } catch (err) {
        this.#log.error({ err }, 'onPublish listener threw');
      }
    }
    this.#emitBuild({ swapped: true, generation: table.generation, durationMs, diagnostics: result.diagnostics });
  }

  /** Logs diagnostics that are new since the last build (and ones that went away), not all every time. */
  #reportDiagnostics(diagnostics: readonly Diagnostic[]): void {
    const keys = new Set<string>();
    for (const d of diagnostics) {
      const key = diagnosticKey(d);
      keys.add(key);
      if (this.#diagnosticKeys.has(key)) continue;
      const fields = { kind: d.object.kind, namespace: d.object.namespace, name: d.object.name, reason: d.reason };
      if (d.severity === 'error') this.#log.error(fields, d.message);
      else this.#log.warn(fields, d.message);
    }
    for (const key of this.#diagnosticKeys) {
      if (keys.has(key)) continue;
      const [, kind, namespace, name, reason] = key.split('\u0000');
      this.#log.info({ kind, namespace, name, reason }, 'diagnostic resolved');
    }
    this.#diagnosticKeys = keys;
    this.#diagnostics = diagnostics;
  }
}

function diagnosticKey(d: Diagnostic): string {
  return [d.severity, d.object.kind, d.object.namespace, d.object.name, d.reason, d.message].join('\u0000');
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
