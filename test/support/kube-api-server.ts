// A small Kubernetes API server for tests and benchmarks, on node:http with no framework. It speaks
// the wire protocol @kubernetes/client-node 2.x really uses (see its dist/watch.js, cache.js and the
// generated *Api.js): LIST with resourceVersion in the list metadata, label/field selectors; WATCH
// (?watch=true) as chunked newline-delimited JSON events ADDED/MODIFIED/DELETED/BOOKMARK/ERROR,
// resumed from a resourceVersion, 410 Gone for compacted versions, timeoutSeconds and server-side
// close; CRUD; the /status subresource. Test hooks: compact history (force 410), drop watches, fail
// the next N lists, stall requests (accepted, never answered), stop/restart on the same port with
// state kept, and a request log of (verb, apiGroup, resource) for the RBAC check.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';

type Json = Record<string, any>;

export interface ResourceDef {
  readonly group: string; // '' for the core group
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Has a /status subresource (main update keeps status; /status update keeps everything else). */
  readonly status: boolean;
}

export const RESOURCES: readonly ResourceDef[] = [
  { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', kind: 'Ingress', namespaced: true, status: true },
  { group: 'networking.k8s.io', version: 'v1', plural: 'ingressclasses', kind: 'IngressClass', namespaced: false, status: false },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, status: true },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, status: false },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, status: false },
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, status: false },
  { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true, status: false },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true, status: false },
];

const BY_KIND = new Map(RESOURCES.map((r) => [r.kind, r]));

export interface RequestLogEntry {
  /** RBAC verb: get, list, watch, create, update, patch, delete. */
  readonly verb: string;
  readonly apiGroup: string;
  /** Plural resource, with "/status" for the subresource. */
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
  /** HTTP status answered (watch: 200 when the stream opened). */
  readonly code: number;
  readonly userAgent: string;
  /** The query parameters (resourceVersion, limit, continue, selectors, watch options). */
  readonly query: Readonly<Record<string, string>>;
}

/** What stall() decides on: the RBAC verb, plural resource (with "/status"), namespace, name. */
export interface StallTarget {
  readonly verb: string;
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
}

interface HistoryEvent {
  readonly rv: number;
  readonly resource: ResourceDef;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Json;
  /** The previous state (MODIFIED), for selector transitions. */
  readonly old: Json | undefined;
}

interface Watcher {
  readonly resource: ResourceDef;
  readonly namespace: string;
  readonly match: (o: Json) => boolean;
  readonly res: ServerResponse;
  readonly req: IncomingMessage;
  readonly bookmarks: boolean;
  timer: NodeJS.Timeout | undefined;
  bookmarkTimer: NodeJS.Timeout | undefined;
}

export interface KubeApiServerOptions {
  /** Require `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Keep at most this many history events; older ones are compacted (a watch from before gets 410). */
  readonly historyLimit?: number;
  /** BOOKMARK interval for watches that ask for them (allowWatchBookmarks=true). */
  readonly bookmarkIntervalMs?: number;
  /** How a too-old watch resourceVersion is answered: an ERROR event in a 200 stream (what the real
   *  API server does) or an HTTP 410 response. */
  readonly goneAs?: 'event' | 'http';
}

export class KubeApiServer {
  readonly #server: Server;
  readonly #options: KubeApiServerOptions;
  readonly #store = new Map<string, Map<string, Json>>(); // plural -> "ns/name" -> object
  #history: HistoryEvent[] = [];
  #rv = 1;
  /** Watches from a resourceVersion below this one get 410 Gone. */
  #minValidRv = 0;
  readonly #watchers = new Set<Watcher>();
  readonly #sockets = new Set<Socket>();
  #failLists = 0;
  #failListStatus = 500;
  #failWatches = 0;
  #stall: ((e: StallTarget) => boolean) | undefined;
  readonly #stalled = new Set<ServerResponse>();
  #port = 0;
  #listening = false;
  readonly requestLog: RequestLogEntry[] = [];
  readonly #logListeners = new Set<(e: RequestLogEntry) => void>();
  goneAs: 'event' | 'http';

  constructor(options: KubeApiServerOptions = {}) {
    this.#options = options;
    this.goneAs = options.goneAs ?? 'event';
    for (const r of RESOURCES) this.#store.set(r.plural, new Map());
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 60_000;
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Listen on 127.0.0.1 (port 0 the first time, the same port after a stop()). */
  async start(port = this.#port): Promise<void> {
    if (this.#listening) return;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as { port: number }).port;
    this.#listening = true;
  }

  /** Close the listener and every connection (abruptly, like a crashed API server); state is kept. */
  async stop(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    for (const w of [...this.#watchers]) this.#closeWatcher(w);
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  /** Stop and listen again on the same port; objects and history are kept. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start(this.#port);
  }

  async close(): Promise<void> {
    await this.stop();
  }

  // ---- test hooks ----------------------------------------------------------------------------

  /** Compact all history: every watch resumed from an older resourceVersion gets 410 Gone.
   *  With `dropWatches`, open watches are sent an ERROR 410 and closed, so clients relist now. */
  compact(dropWatches = true): void {
    this.#rv++;
    this.#minValidRv = this.#rv;
    this.#history = [];
    if (!dropWatches) return;
    for (const w of [...this.#watchers]) {
      this.#writeEvent(w, 'ERROR', goneStatus('too old resource version (compacted)'));
      this.#closeWatcher(w);
    }
  }

  /** Drop history up to the current resourceVersion, like etcd compaction: a watch resumed from the
   *  current resourceVersion (e.g. one a BOOKMARK delivered) still works, anything older gets 410. */
  compactToCurrent(): void {
    this.#minValidRv = this.#rv;
    this.#history = [];
  }

  /** End every open watch stream (a server-side close); `abrupt` destroys the sockets instead. */
  dropWatches(abrupt = false): void {
    for (const w of [...this.#watchers]) {
      if (abrupt) w.req.socket.destroy();
      this.#closeWatcher(w);
    }
  }

  /** Answer the next `n` LIST requests with an error status. */
  failNextLists(n: number, status = 500): void {
    this.#failLists = n;
    this.#failListStatus = status;
  }

  /** Answer the next `n` WATCH requests with HTTP 500. */
  failNextWatches(n: number): void {
    this.#failWatches = n;
  }

  /** From now on, requests that `predicate` accepts (all by default) are read and never answered,
   *  like an API server that accepts connections and goes silent. They are logged with code 0. */
  stall(predicate: (e: StallTarget) => boolean = () => true): void {
    this.#stall = predicate;
  }

  /** Answer again; requests held so far have their connection cut. */
  unstall(): void {
    this.#stall = undefined;
    for (const res of this.#stalled) res.socket?.destroy();
    this.#stalled.clear();
  }

  /** Requests held by stall() and not yet given up by their client. */
  get stalledCount(): number {
    return this.#stalled.size;
  }

  /** Send a BOOKMARK with the current resourceVersion to every watch that allows them. */
  bookmark(): void {
    for (const w of this.#watchers) if (w.bookmarks) this.#sendBookmark(w);
  }

  watcherCount(plural?: string): number {
    let n = 0;
    for (const w of this.#watchers) if (plural === undefined || w.resource.plural === plural) n++;
    return n;
  }

  /** Resolves when at least `n` watches of `plural` (or of any resource) are open. */
  async waitForWatchers(n: number, plural?: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.watcherCount(plural) < n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} watchers of ${plural ?? 'any'}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  onRequest(listener: (e: RequestLogEntry) => void): () => void {
    this.#logListeners.add(listener);
    return () => this.#logListeners.delete(listener);
  }

  /** Resolves with the first logged request (from now on) that `predicate` accepts. */
  nextRequest(predicate: (e: RequestLogEntry) => boolean, timeoutMs = 10_000): Promise<RequestLogEntry> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error('timed out waiting for a request'));
      }, timeoutMs);
      const off = this.onRequest((e) => {
        if (!predicate(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });
  }

  // ---- direct state access (no HTTP, no request log) -------------------------------------------

  /** Create or replace an object by its `kind` (watchers see ADDED/MODIFIED). Like `kubectl apply`,
   *  an object without `status` keeps the stored status. Returns the stored copy. */
  put(object: Json): Json {
    const resource = resourceOfKind(object.kind);
    const ns = resource.namespaced ? object.metadata?.namespace ?? 'default' : '';
    const key = `${ns}/${object.metadata.name}`;
    const old = this.#store.get(resource.plural)!.get(key);
    const next = structuredClone(object);
    if (next.status === undefined && old?.status !== undefined) next.status = structuredClone(old.status);
    const stored = this.#stamp(resource, next, ns, old);
    this.#commit(resource, old === undefined ? 'ADDED' : 'MODIFIED', stored, old);
    return stored;
  }

  /** Delete an object; returns false when it did not exist. */
  remove(kind: string, namespace: string, name: string): boolean {
    const resource = resourceOfKind(kind);
    const key = `${resource.namespaced ? namespace : ''}/${name}`;
    const old = this.#store.get(resource.plural)!.get(key);
    if (old === undefined) return false;
    this.#deleteStored(resource, key, old);
    return true;
  }

  get(kind: string, namespace: string, name: string): Json | undefined {
    const resource = resourceOfKind(kind);
    const o = this.#store.get(resource.plural)!.get(`${resource.namespaced ? namespace : ''}/${name}`);
    return o === undefined ? undefined : structuredClone(o);
  }

  list(kind: string): Json[] {
    return [...this.#store.get(resourceOfKind(kind).plural)!.values()].map((o) => structuredClone(o));
  }

  /** Load many objects at once without recording history (bench setup; watchers see nothing). */
  load(objects: Iterable<Json>): void {
    for (const object of objects) {
      const resource = resourceOfKind(object.kind);
      const ns = resource.namespaced ? object.metadata?.namespace ?? 'default' : '';
      const old = this.#store.get(resource.plural)!.get(`${ns}/${object.metadata.name}`);
      this.#stamp(resource, object, ns, old);
      this.#store.get(resource.plural)!.set(`${ns}/${object.metadata.name}`, object);
    }
    this.#rv++;
    this.#minValidRv = this.#rv;
    this.#history = [];
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        this.#route(req, res, Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        sendStatus(res, 500, 'InternalError', String((err as Error)?.stack ?? err));
      }
    });
  }

  #log(entry: Omit<RequestLogEntry, 'userAgent' | 'query'>, req: IncomingMessage): void {
    const query = Object.fromEntries(new URL(req.url ?? '/', 'http://localhost').searchParams);
    const e = { ...entry, userAgent: String(req.headers['user-agent'] ?? ''), query };
    this.requestLog.push(e);
    for (const l of this.#logListeners) l(e);
  }

  #route(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parsed = parsePath(url.pathname);
    if (parsed === undefined) {
      sendStatus(res, 404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);
      return;
    }
    const { resource, namespace, name, subresource } = parsed;
    const method = req.method ?? 'GET';
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb =
      method === 'GET' ? (name === '' ? (watch ? 'watch' : 'list') : 'get')
      : method === 'POST' ? 'create'
      : method === 'PUT' ? 'update'
      : method === 'PATCH' ? 'patch'
      : method === 'DELETE' ? 'delete'
      : 'unknown';
    const logged = (code: number) =>
      this.#log({ verb, apiGroup: resource.group, resource: resource.plural + (subresource ? `/${subresource}` : ''), namespace, name, code }, req);

    if (this.#stall?.({ verb, resource: resource.plural + (subresource ? `/${subresource}` : ''), namespace, name }) === true) {
      logged(0);
      this.#stalled.add(res);
      res.on('close', () => this.#stalled.delete(res));
      return;
    }
    if (this.#options.token !== undefined && req.headers.authorization !== `Bearer ${this.#options.token}`) {
      logged(401);
      sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    if (subresource !== '' && !(subresource === 'status' && resource.status)) {
      logged(404);
      sendStatus(res, 404, 'NotFound', `unknown subresource ${subresource}`);
      return;
    }
    const store = this.#store.get(resource.plural)!;
    const key = `${namespace}/${name}`;
    switch (verb) {
      case 'list': {
        if (this.#failLists > 0) {
          this.#failLists--;
          logged(this.#failListStatus);
          sendStatus(res, this.#failListStatus, 'InternalError', 'injected list failure');
          return;
        }
        const match = makeMatcher(url.searchParams, namespace);
        if (match instanceof Error) {
          logged(400);
          sendStatus(res, 400, 'BadRequest', match.message);
          return;
        }
        // Pagination (limit/continue) as the real server does it from etcd; with resourceVersion=0
        // the real server answers from its watch cache and ignores limit, and so do we.
        const limit = Number(url.searchParams.get('limit') ?? '0');
        const rvParam = url.searchParams.get('resourceVersion') ?? '';
        const token = url.searchParams.get('continue') ?? '';
        let listRv = this.#rv;
        let after = '';
        if (token !== '') {
          let parsed: { rv?: number; after?: string } | undefined;
          try {
            parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
          } catch {
            parsed = undefined;
          }
          if (parsed === undefined || typeof parsed.rv !== 'number' || typeof parsed.after !== 'string') {
            logged(400);
            sendStatus(res, 400, 'BadRequest', 'invalid continue token');
            return;
          }
          if (parsed.rv < this.#minValidRv) {
            logged(410);
            sendStatus(res, 410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.');
            return;
          }
          listRv = parsed.rv;
          after = parsed.after;
        }
        logged(200);
        const all: Json[] = [];
        for (const o of store.values()) if (match(o)) all.push(o);
        all.sort(compareObjects);
        let start = 0;
        if (after !== '') while (start < all.length && keyOfObject(all[start]) <= after) start++;
        const paginate = limit > 0 && rvParam !== '0';
        const end = paginate ? Math.min(all.length, start + limit) : all.length;
        const items: Json[] = [];
        for (let i = start; i < end; i++) {
          // Like a real API server: list items carry no kind/apiVersion.
          const { kind: _k, apiVersion: _a, ...item } = all[i];
          items.push(item);
        }
        const metadata: Json = { resourceVersion: String(listRv) };
        if (end < all.length) {
          metadata.continue = Buffer.from(JSON.stringify({ rv: listRv, after: keyOfObject(all[end - 1]) })).toString('base64url');
          metadata.remainingItemCount = all.length - end;
        }
        sendJson(res, 200, { kind: `${resource.kind}List`, apiVersion: apiVersionOf(resource), metadata, items });
        return;
      }
      case 'watch':
        this.#watch(req, res, url, resource, namespace, logged);
        return;
      case 'get': {
        const o = store.get(key);
        logged(o === undefined ? 404 : 200);
        if (o === undefined) sendStatus(res, 404, 'NotFound', `${resource.plural} "${name}" not found`);
        else sendJson(res, 200, o);
        return;
      }
      case 'create': {
        const obj = parseBody(body);
        if (obj === undefined || typeof obj.metadata?.name !== 'string' || obj.metadata.name === '' || name !== '') {
          logged(400);
          sendStatus(res, 400, 'BadRequest', 'invalid object: metadata.name is required');
          return;
        }
        if (resource.namespaced && obj.metadata.namespace !== undefined && obj.metadata.namespace !== namespace) {
          logged(400);
          sendStatus(res, 400, 'BadRequest', 'the namespace of the object does not match the namespace of the request');
          return;
        }
        const k = `${namespace}/${obj.metadata.name}`;
        if (store.has(k)) {
          logged(409);
          sendStatus(res, 409, 'AlreadyExists', `${resource.plural} "${obj.metadata.name}" already exists`);
          return;
        }
        obj.kind ??= resource.kind;
        obj.apiVersion ??= apiVersionOf(resource);
        delete obj.metadata.resourceVersion;
        const stored = this.#stamp(resource, obj, namespace, undefined);
        this.#commit(resource, 'ADDED', stored, undefined);
        logged(201);
        sendJson(res, 201, stored);
        return;
      }
      case 'update':
      case 'patch': {
        const old = store.get(key);
        if (old === undefined) {
          logged(404);
          sendStatus(res, 404, 'NotFound', `${resource.plural} "${name}" not found`);
          return;
        }
        const contentType = String(req.headers['content-type'] ?? '');
        const obj = verb === 'patch' && contentType.startsWith('application/json-patch+json') ? parseJsonPatch(body) : parseBody(body);
        if (obj === undefined) {
          logged(400);
          sendStatus(res, 400, 'BadRequest', 'invalid JSON body');
          return;
        }
        let next: Json;
        if (verb === 'patch') {
          const patched = Array.isArray(obj) ? jsonPatch(structuredClone(old), obj) : mergePatch(structuredClone(old), obj);
          if (patched === undefined) {
            logged(422);
            sendStatus(res, 422, 'Invalid', 'the JSON patch could not be applied');
            return;
          }
          next = patched;
        } else if (Array.isArray(obj)) {
          logged(400);
          sendStatus(res, 400, 'BadRequest', 'invalid object');
          return;
        } else {
          if (obj.metadata?.name !== name) {
            logged(400);
            sendStatus(res, 400, 'BadRequest', 'the name of the object does not match the name in the URL');
            return;
          }
          const rv = obj.metadata?.resourceVersion;
          if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) {
            logged(409);
            sendStatus(res, 409, 'Conflict',
              `Operation cannot be fulfilled on ${resource.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
            return;
          }
          if (subresource === 'status') {
            next = structuredClone(old);
            next.status = obj.status;
          } else {
            next = obj;
            if (resource.status) next.status = old.status;
          }
        }
        next.kind = resource.kind;
        next.apiVersion = apiVersionOf(resource);
        const stored = this.#stamp(resource, next, namespace, old);
        this.#commit(resource, 'MODIFIED', stored, old);
        logged(200);
        sendJson(res, 200, stored);
        return;
      }
      case 'delete': {
        const old = store.get(key);
        logged(old === undefined ? 404 : 200);
        if (old === undefined) {
          sendStatus(res, 404, 'NotFound', `${resource.plural} "${name}" not found`);
          return;
        }
        const gone = this.#deleteStored(resource, key, old);
        sendJson(res, 200, gone);
        return;
      }
      default:
        logged(405);
        sendStatus(res, 405, 'MethodNotAllowed', `method ${method} not allowed`);
    }
  }

  #watch(req: IncomingMessage, res: ServerResponse, url: URL, resource: ResourceDef, namespace: string,
    logged: (code: number) => void): void {
    if (this.#failWatches > 0) {
      this.#failWatches--;
      logged(500);
      sendStatus(res, 500, 'InternalError', 'injected watch failure');
      return;
    }
    const match = makeMatcher(url.searchParams, namespace);
    if (match instanceof Error) {
      logged(400);
      sendStatus(res, 400, 'BadRequest', match.message);
      return;
    }
    const rvParam = url.searchParams.get('resourceVersion') ?? '';
    const from = rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (from !== undefined && (!Number.isFinite(from) || from < this.#minValidRv)) {
      if (this.goneAs === 'http') {
        logged(410);
        sendJson(res, 410, goneStatus(`too old resource version: ${rvParam} (${this.#minValidRv})`));
        return;
      }
    }
    logged(200);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const w: Watcher = {
      resource, namespace, match, res, req,
      bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true',
      timer: undefined, bookmarkTimer: undefined,
    };
    if (from !== undefined && (!Number.isFinite(from) || from < this.#minValidRv)) {
      this.#writeEvent(w, 'ERROR', goneStatus(`too old resource version: ${rvParam} (${this.#minValidRv})`));
      res.end();
      return;
    }
    this.#watchers.add(w);
    const cleanup = () => this.#closeWatcher(w);
    res.on('close', cleanup);
    const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0) w.timer = setTimeout(cleanup, timeoutSeconds * 1000);
    if (w.bookmarks && this.#options.bookmarkIntervalMs !== undefined) {
      w.bookmarkTimer = setInterval(() => this.#sendBookmark(w), this.#options.bookmarkIntervalMs);
    }
    if (from === undefined) {
      // No resourceVersion: synthetic ADDED for the current state, then live events.
      const items = [...this.#store.get(resource.plural)!.values()].filter(match).sort(compareObjects);
      for (const o of items) this.#writeEvent(w, 'ADDED', o);
    } else {
      for (const e of this.#history) if (e.rv > from && e.resource === resource) this.#deliver(w, e);
    }
  }

  #sendBookmark(w: Watcher): void {
    this.#writeEvent(w, 'BOOKMARK', {
      kind: w.resource.kind, apiVersion: apiVersionOf(w.resource), metadata: { resourceVersion: String(this.#rv) },
    });
  }

  #closeWatcher(w: Watcher): void {
    if (!this.#watchers.delete(w)) return;
    clearTimeout(w.timer);
    clearInterval(w.bookmarkTimer);
    if (!w.res.writableEnded) w.res.end();
  }

  #writeEvent(w: Watcher, type: string, object: Json): void {
    if (w.res.writableEnded || w.res.destroyed) return;
    w.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  /** Send one history event to a watcher, as the real server does with selectors: an object that
   *  starts matching is ADDED, one that stops matching is DELETED. */
  #deliver(w: Watcher, e: HistoryEvent): void {
    const now = w.match(e.object);
    if (e.type === 'MODIFIED') {
      const before = e.old !== undefined && w.match(e.old);
      if (now && before) this.#writeEvent(w, 'MODIFIED', e.object);
      else if (now) this.#writeEvent(w, 'ADDED', e.object);
      else if (before) this.#writeEvent(w, 'DELETED', e.object);
    } else if (now) {
      this.#writeEvent(w, e.type, e.object);
    }
  }

  #stamp(resource: ResourceDef, obj: Json, namespace: string, old: Json | undefined): Json {
    obj.kind ??= resource.kind;
    obj.apiVersion ??= apiVersionOf(resource);
    obj.metadata ??= {};
    if (resource.namespaced) obj.metadata.namespace = namespace;
    else delete obj.metadata.namespace;
    obj.metadata.uid = old?.metadata.uid ?? obj.metadata.uid ?? randomUUID();
    obj.metadata.creationTimestamp = old?.metadata.creationTimestamp ?? obj.metadata.creationTimestamp ?? rfc3339(new Date());
    const specChanged = old === undefined || JSON.stringify(old.spec) !== JSON.stringify(obj.spec);
    obj.metadata.generation = old === undefined ? 1 : (old.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    obj.metadata.managedFields ??= [{
      manager: 'kube-api-server-test', operation: 'Update', apiVersion: apiVersionOf(resource),
      time: obj.metadata.creationTimestamp, fieldsType: 'FieldsV1', fieldsV1: {},
    }];
    obj.metadata.resourceVersion = String(++this.#rv);
    return obj;
  }

  #commit(resource: ResourceDef, type: 'ADDED' | 'MODIFIED', stored: Json, old: Json | undefined): void {
    this.#store.get(resource.plural)!.set(`${stored.metadata.namespace ?? ''}/${stored.metadata.name}`, stored);
    this.#record({ rv: this.#rv, resource, type, object: stored, old });
  }

  #deleteStored(resource: ResourceDef, key: string, old: Json): Json {
    this.#store.get(resource.plural)!.delete(key);
    const gone = structuredClone(old);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#record({ rv: this.#rv, resource, type: 'DELETED', object: gone, old });
    return gone;
  }

  #record(e: HistoryEvent): void {
    this.#history.push(e);
    const limit = this.#options.historyLimit ?? 100_000;
    if (this.#history.length > limit) {
      const dropped = this.#history.splice(0, this.#history.length - limit);
      this.#minValidRv = dropped[dropped.length - 1].rv;
    }
    for (const w of this.#watchers) if (w.resource === e.resource) this.#deliver(w, e);
  }
}

// ---- helpers -------------------------------------------------------------------------------------

function resourceOfKind(kind: string): ResourceDef {
  const r = BY_KIND.get(kind);
  if (r === undefined) throw new Error(`test API server: unknown kind ${kind}`);
  return r;
}

function apiVersionOf(r: ResourceDef): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/** /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]] and /apis/GROUP/VERSION/... */
function parsePath(pathname: string):
  { resource: ResourceDef; namespace: string; name: string; subresource: string } | undefined {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api') {
    group = '';
    version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    group = parts[1];
    version = parts[2];
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const resource = RESOURCES.find((r) => r.group === group && r.version === version && r.plural === rest[0]);
  if (resource === undefined || rest.length > 3) return undefined;
  if (resource.namespaced === false && namespace !== '') return undefined;
  if (resource.namespaced && namespace === '' && rest.length > 1) return undefined;
  return { resource, namespace, name: rest[1] ?? '', subresource: rest[2] ?? '' };
}

/** Namespace + labelSelector (=, ==, !=, key, !key, `in`/`notin`) + fieldSelector (metadata.name,
 *  metadata.namespace, type, with = == !=). Unsupported selectors are a 400, as on a real server. */
function makeMatcher(params: URLSearchParams, namespace: string): ((o: Json) => boolean) | Error {
  const tests: ((o: Json) => boolean)[] = [];
  if (namespace !== '') tests.push((o) => o.metadata?.namespace === namespace);
  const labelSelector = params.get('labelSelector') ?? '';
  for (const term of splitSelector(labelSelector)) {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/)) !== null) {
      const [, k, op, list] = m;
      const values = new Set(list.split(',').map((v) => v.trim()));
      tests.push((o) => {
        const v = o.metadata?.labels?.[k];
        return op === 'in' ? v !== undefined && values.has(v) : v === undefined || !values.has(v);
      });
    } else if ((m = term.match(/^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/)) !== null) {
      const [, k, op, v] = m;
      tests.push((o) => (op === '!=' ? o.metadata?.labels?.[k] !== v : o.metadata?.labels?.[k] === v));
    } else if ((m = term.match(/^!([^!=\s]+)$/)) !== null) {
      const k = m[1];
      tests.push((o) => o.metadata?.labels?.[k] === undefined);
    } else if ((m = term.match(/^([^!=\s]+)$/)) !== null) {
      const k = m[1];
      tests.push((o) => o.metadata?.labels?.[k] !== undefined);
    } else {
      return new Error(`unable to parse requirement: ${term}`);
    }
  }
  const fieldSelector = params.get('fieldSelector') ?? '';
  for (const term of splitSelector(fieldSelector)) {
    const m = term.match(/^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/);
    if (m === null) return new Error(`invalid field selector: ${term}`);
    const [, field, op, v] = m;
    const get =
      field === 'metadata.name' ? (o: Json) => o.metadata?.name
      : field === 'metadata.namespace' ? (o: Json) => o.metadata?.namespace
      : field === 'type' ? (o: Json) => o.type
      : undefined;
    if (get === undefined) return new Error(`field label not supported: ${field}`);
    tests.push((o) => (op === '!=' ? get(o) !== v : get(o) === v));
  }
  return (o) => {
    for (const t of tests) if (!t(o)) return false;
    return true;
  };
}

function splitSelector(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      if (cur.trim() !== '') out.push(cur.trim());
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

function keyOfObject(o: Json): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

function compareObjects(a: Json, b: Json): number {
  const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** RFC 7386 JSON merge patch (good enough for the strategic-merge patches we would send). */
function mergePatch(target: Json, patch: Json): Json {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k];
    else if (typeof v === 'object' && !Array.isArray(v) && typeof target[k] === 'object' && target[k] !== null && !Array.isArray(target[k])) {
      target[k] = mergePatch(target[k], v);
    } else target[k] = v;
  }
  return target;
}

/** RFC 6902 JSON Patch: add/replace/remove on object paths (what client-node sends by default). */
function jsonPatch(target: Json, ops: Json[]): Json | undefined {
  for (const op of ops) {
    if (typeof op?.path !== 'string' || !op.path.startsWith('/')) return undefined;
    const parts = op.path.slice(1).split('/').map((p: string) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    let parent: any = target;
    for (const p of parts.slice(0, -1)) {
      if (typeof parent?.[p] !== 'object' || parent[p] === null) return undefined;
      parent = parent[p];
    }
    const last = parts[parts.length - 1];
    if (op.op === 'add' || op.op === 'replace') {
      if (op.op === 'replace' && !(last in parent)) return undefined;
      parent[last] = op.value;
    } else if (op.op === 'remove') {
      if (!(last in parent)) return undefined;
      delete parent[last];
    } else {
      return undefined;
    }
  }
  return target;
}

function parseJsonPatch(body: string): Json[] | undefined {
  try {
    const v = JSON.parse(body);
    return Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function parseBody(body: string): Json | undefined {
  try {
    const v = JSON.parse(body);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function goneStatus(message: string): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Expired', code: 410 };
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** A kubeconfig (YAML is a superset of JSON) pointing at the server, for KubeConfig.loadFromFile. */
export function kubeconfigFor(server: KubeApiServer, token?: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: server.url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'test', user: token === undefined ? {} : { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
    'current-context': 'test',
  });
}
