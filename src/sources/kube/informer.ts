// One informer: a client-node ListWatch for one kind in one namespace (or cluster-wide), wrapped so
// that none of its habits reach the store (STYLE.md point 11):
// - it does not restart itself after an `error` (failed list, refused connection, HTTP 5xx on the
//   watch): we restart it with capped exponential backoff and jitter;
// - its start() resolves even when the list failed: we track "listed" ourselves;
// - a relist (first list, 410 Gone, restart without resourceVersion) emits deletes/adds/updates
//   against its own cache: we hand the whole list to the sink as one `replace` and drop the replayed
//   per-object callbacks, so nothing is lost or duplicated;
// - its typed list calls return model classes with Dates while watch events are raw JSON: we list
//   raw JSON ourselves (kinds.ts, listObjects) and normalize both to the plain frozen shapes of
//   model/kube.ts (no Dates, no managedFields, kind/apiVersion set), watch events before the
//   ListWatch sees them (GuardedWatch), so its cache holds our objects and no raw copies;
// - an exception in a callback would be swallowed (or, in the ListWatch, stop it): every callback
//   is guarded, logged and counted, and a failed delivery is repaired by re-sending our cache;
// - stop() during a pending list/watch/reconnect delay would otherwise still open a watch.
import { ListWatch } from '@kubernetes/client-node/dist/cache.js';
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeObject } from '../../model/kube.ts';
import { listObjects } from './kinds.ts';
import type { KindSpec } from './kinds.ts';
import { normalizeObject } from '../normalize.ts';
import { keyOf } from '../../store/keys.ts';
import { backoffDelay } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';

export interface InformerListener {
  /** The informer's cache was replaced by a (re)list. */
  onList(informer: KindInformer): void;
  onUpsert(informer: KindInformer, object: KubeObject): void;
  onDelete(informer: KindInformer, object: KubeObject): void;
}

export interface InformerStats {
  /** Successful lists (the first one included). */
  lists: number;
  /** Lists after the first: 410 Gone, or a restart that had no resourceVersion to resume from. */
  relists: number;
  listFailures: number;
  /** Watch requests opened (each reconnect counts). */
  watches: number;
  /** Restarts after an `error` (what client-node does not do by itself). */
  restarts: number;
  /** ADDED/MODIFIED/DELETED/BOOKMARK events received. */
  events: number;
  /** Callbacks that threw (caught, logged, repaired by re-sending the cache). */
  handlerErrors: number;
}

export interface InformerOptions {
  readonly spec: KindSpec;
  /** undefined: cluster-wide. */
  readonly namespace: string | undefined;
  readonly kubeConfig: KubeConfig;
  readonly listener: InformerListener;
  readonly logger: Logger;
  readonly backoff: BackoffOptions;
  /** Server-side watch timeout, picked in [min, max] per watch like client-go (5-10 min). */
  readonly watchTimeoutSeconds: { readonly min: number; readonly max: number };
  readonly random?: () => number;
  /** Page size of relists (limit/continue); default 500 like client-go. */
  readonly pageSize?: number;
  /** A whole list (all pages) must finish within this; default 60s. */
  readonly listTimeoutMs?: number;
}

export class KindInformer {
  readonly spec: KindSpec;
  readonly namespace: string | undefined;
  /** Normalized objects by "namespace/name": what this informer last told the sink. */
  readonly objects = new Map<string, KubeObject>();
  readonly stats: InformerStats = { lists: 0, relists: 0, listFailures: 0, watches: 0, restarts: 0, events: 0, handlerErrors: 0 };
  /** Resolves at the first successful list. */
  readonly listed: Promise<void>;
  hasListed = false;

  readonly #options: InformerOptions;
  readonly #log: Logger;
  readonly #listWatch: ListWatch<KubernetesObject>;
  readonly #random: () => number;
  #resolveListed!: () => void;
  #stopped = true;
  #started = false;
  #attempt = 0;
  #gone = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #repairTimer: NodeJS.Timeout | undefined;
  readonly #delays = new Set<() => void>();
  readonly #stopSignal = new AbortController();

  constructor(options: InformerOptions) {
    this.#options = options;
    this.spec = options.spec;
    this.namespace = options.namespace;
    this.#random = options.random ?? Math.random;
    this.#log = options.logger.child({ kind: options.spec.kind, namespace: options.namespace ?? '*' });
    this.listed = new Promise((resolve) => {
      this.#resolveListed = resolve;
    });
    const listFn = () => this.#list();
    this.#listWatch = new ListWatch<KubernetesObject>(
      options.spec.path(options.namespace),
      new GuardedWatch(options.kubeConfig, this),
      listFn as unknown as () => Promise<{ items: KubernetesObject[] }>,
      false,
      undefined,
      options.spec.fieldSelector,
      { delayFn: (ms) => this.#delay(ms) },
    );
    // #list and GuardedWatch hand the ListWatch normalized objects only, so that is what it calls back with.
    this.#listWatch.on('add', (o) => this.#guard(() => this.#upsert(o as unknown as KubeObject)));
    this.#listWatch.on('update', (o) => this.#guard(() => this.#upsert(o as unknown as KubeObject)));
    this.#listWatch.on('delete', (o) => this.#guard(() => this.#delete(o as unknown as KubeObject)));
    this.#listWatch.on('error', (err) => this.#onError(err));
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#stopped = false;
    this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopSignal.abort();
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#repairTimer);
    for (const wake of this.#delays) wake();
    this.#delays.clear();
    await this.#listWatch.stop();
  }

  /** Called by GuardedWatch for every watch event: the connection is healthy again. */
  noteEvent(): void {
    this.stats.events++;
    this.#attempt = 0;
  }

  /** The watch answered 410 Gone: the relist that follows should not wait for ListWatch's
   *  reconnect delay (meant against tight reconnect loops, not against a needed relist). */
  noteGone(): void {
    this.#gone = true;
  }

  noteWatchOpened(): void {
    this.stats.watches++;
    this.#attempt = 0;
  }

  pickWatchTimeout(): number {
    const { min, max } = this.#options.watchTimeoutSeconds;
    return Math.round(min + (max - min) * this.#random());
  }

  #run(): void {
    this.#listWatch.start().catch((err: unknown) => this.#onError(err));
  }

  async #list(): Promise<{ metadata: { resourceVersion?: string }; items: KubeObject[] }> {
    if (this.#stopped) throw new StoppedError();
    const { spec } = this;
    let list;
    try {
      // Each item is normalized as soon as it is read, so the raw JSON dies young (list-json.ts).
      list = await listObjects(this.#options.kubeConfig, spec.path(this.namespace), {
        fieldSelector: spec.fieldSelector, labelSelector: undefined,
        // First list from the API server's watch cache; relists (410) consistent, in pages.
        resourceVersion: this.hasListed ? undefined : '0', pageSize: this.#options.pageSize ?? 500,
        // A list to a server that accepted the connection and went silent must not hang forever.
        signal: AbortSignal.any([this.#stopSignal.signal, AbortSignal.timeout(this.#options.listTimeoutMs ?? 60_000)]),
      }, (raw) => this.normalize(raw));
    } catch (err) {
      this.stats.listFailures++;
      throw err;
    }
    if (this.#stopped) throw new StoppedError();
    const { items } = list;
    this.objects.clear();
    for (const object of items) this.objects.set(keyOf(object), object);
    this.stats.lists++;
    if (this.hasListed) {
      this.stats.relists++;
      this.#log.info({ objects: items.length }, 'relisted');
    } else {
      this.#log.debug({ objects: items.length }, 'listed');
    }
    this.#attempt = 0;
    this.#guard(() => this.#options.listener.onList(this));
    if (!this.hasListed) {
      this.hasListed = true;
      this.#resolveListed();
    }
    // The ListWatch diffs these against its cache and replays add/update/delete callbacks; those
    // carry these same object references and are dropped in #upsert/#delete.
    return { metadata: { resourceVersion: list.resourceVersion }, items };
  }

  #upsert(object: KubeObject): void {
    const key = keyOf(object);
    const previous = this.objects.get(key);
    if (previous === object) return; // a replay of our own list
    const rv = object.metadata.resourceVersion;
    if (previous !== undefined && rv !== undefined && previous.metadata.resourceVersion === rv) return;
    this.objects.set(key, object);
    this.#options.listener.onUpsert(this, object);
  }

  #delete(object: KubeObject): void {
    const key = keyOf(object);
    const previous = this.objects.get(key);
    if (previous === undefined) return; // already gone with the list that replaced our cache
    this.objects.delete(key);
    this.#options.listener.onDelete(this, previous);
  }

  /** List items (raw JSON without kind/apiVersion) and watch objects (raw JSON) both become the plain frozen shapes of model/kube.ts, with kind and apiVersion set. */
  normalize(raw: unknown): KubeObject | undefined {
    const result = normalizeObject({ ...(raw as object), apiVersion: this.spec.apiVersion }, this.spec.kind);
    if (result.ok) return result.object;
    this.#log.warn({ reason: 'InvalidObject', detail: result.reason }, 'skipping an API object that cannot be read');
    return undefined;
  }

  /** Never let a callback throw into the ListWatch (it would swallow it, or stop watching). The
   *  cache is already updated, so re-sending it as a `replace` repairs whatever the sink missed. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.stats.handlerErrors++;
      this.#log.error({ err, reason: 'HandlerError' }, 'handling a change failed; will re-send this informer\'s objects');
      if (this.#repairTimer === undefined && !this.#stopped) {
        this.#repairTimer = setTimeout(() => {
          this.#repairTimer = undefined;
          this.#guard(() => this.#options.listener.onList(this));
        }, backoffDelay(this.#options.backoff, 0, this.#random));
      }
    }
  }

  #onError(err: unknown): void {
    if (this.#stopped || err instanceof StoppedError) return;
    if (this.#restartTimer !== undefined) return;
    const delayMs = backoffDelay(this.#options.backoff, this.#attempt++, this.#random);
    const status = (err as { statusCode?: unknown } | null)?.statusCode;
    const hint = status === 401 ? ' (401: the credentials were rejected)'
      : status === 403 ? ' (403: RBAC does not grant list/watch on this resource; see permissions.ts and manifests/)'
      : '';
    this.#log.warn({ err: describeError(err), delayMs, reason: 'WatchFailed' },
      (this.hasListed ? 'list/watch failed; keeping the last state and retrying' : 'initial list failed; retrying') + hint);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopped) return;
      this.stats.restarts++;
      this.#run();
    }, delayMs);
  }

  /** ListWatch's own reconnect delay; cut short by stop(). */
  #delay(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#gone) {
      this.#gone = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#delays.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#delays.add(wake);
    });
  }
}

/** The client-node Watch, plus: bookmarks and a server-side timeout on every watch (as client-go
 *  does), event counting for backoff reset, and no watch opened after stop(). */
class GuardedWatch extends Watch {
  readonly #informer: KindInformer;

  constructor(config: KubeConfig, informer: KindInformer) {
    super(config);
    this.#informer = informer;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    const informer = this.#informer;
    if (informer.stopped) return new AbortController();
    const params = { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: informer.pickWatchTimeout() };
    let failed = false;
    const controller = await super.watch(
      path,
      params,
      (phase, apiObj, watchObj) => {
        informer.noteEvent();
        if (phase === 'ERROR' && apiObj?.code === 410) informer.noteGone();
        if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') {
          // The ListWatch keeps what it is given in its own cache: the normalized object (the same
          // one as in our `objects`), not the raw JSON with managedFields and status, which would
          // otherwise stay alive next to it for every object changed since the last list.
          const object = informer.normalize(apiObj);
          // Unreadable (logged): not passed on, so the watch resumes from the previous
          // resourceVersion and a replay drops it again.
          if (object === undefined) return;
          callback(phase, object, watchObj);
          return;
        }
        callback(phase, apiObj, watchObj);
      },
      (err) => {
        if (err) failed = true;
        if (err?.statusCode === 410) informer.noteGone();
        done(err);
      },
    );
    if (informer.stopped) controller.abort();
    else if (!failed) informer.noteWatchOpened();
    return controller;
  }
}

class StoppedError extends Error {
  readonly code = 'SWY_ERR_INFORMER_STOPPED';
}

/** A short, loggable description of a client-node/undici error. */
export function describeError(err: unknown): Record<string, unknown> {
  if (typeof err !== 'object' || err === null) return { message: String(err) };
  const e = err as { message?: string; code?: unknown; statusCode?: unknown; cause?: { code?: unknown; message?: string }; name?: string };
  return {
    name: e.name,
    message: e.message,
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.statusCode !== undefined ? { statusCode: e.statusCode } : {}),
    ...(e.cause !== undefined ? { cause: e.cause.code ?? e.cause.message } : {}),
  };
}
