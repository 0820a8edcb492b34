// The file source: a folder of Kubernetes YAML/JSON, read recursively and watched. Every change in
// the folder triggers a (debounced) re-scan; files whose stat is unchanged are not re-parsed; the
// full state of each kind goes to the store with `replace`, so edits, new files, deleted files and
// editors' rename-over-the-original saves all take effect live. When only a few files changed and
// none of their objects is also defined elsewhere, just those objects go to the store (upserts and
// deletes): a one-file edit in a folder of 10,000 Ingresses costs that file, not the folder.
import { watch, type FSWatcher } from 'node:fs';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Logger } from 'pino';
import type { Change, ChangeSink } from '../../model/change.ts';
import type { KubeKind, KubeObject } from '../../model/kube.ts';
import { KUBE_KINDS } from '../../model/kube.ts';
import type { Source } from '../../runtime/source.ts';
import { kindKey } from '../../store/keys.ts';
import { parseManifest, type ParsedObject } from './manifest-parser.ts';

export class ManifestsDirError extends Error {
  readonly code = 'SWY_ERR_MANIFESTS_DIR';
  override readonly name = 'ManifestsDirError';
}

export interface FileSourceOptions {
  readonly dir: string;
  readonly sink: ChangeSink;
  readonly logger: Logger;
  /** Quiet time after the last file-system event before re-scanning (editors write in steps). */
  readonly debounceMs?: number;
  /** ...but never wait longer than this after the first event. */
  readonly maxDebounceMs?: number;
  /**
   * Safety net re-scan period (missed events, a replaced folder, full inotify queues). Only files
   * whose stat changed are re-read, so this costs one stat per file. 0 disables.
   */
  readonly rescanIntervalMs?: number;
}

export interface FileSourceStats {
  readonly scans: number;
  readonly files: number;
  readonly objects: number;
  /** Broken files/documents/objects in the current folder state. */
  readonly problems: number;
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const RECENT_MS = 2000;
const SETTLE_MS = 100;
/** Files read and parsed at once: a few, so only a few files' text and YAML trees are alive at a time. */
const IO_CONCURRENCY = 4;
/** "Look at every file" (first read, periodic re-scan, an event without a file name). */
const ALL = Symbol('all files');
const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64');
const EMPTY_DIGEST = sha256('');
const NO_OBJECTS: readonly ParsedObject[] = Object.freeze([]);

interface CachedFile {
  /** dev/ino/size/mtime/ctime: a changed stamp means re-read. */
  readonly stamp: string;
  /** SHA-256 of the text parsed, to tell a real change from a touched file (the text itself is not kept). */
  readonly digest: string;
  readonly objects: readonly ParsedObject[];
  readonly problems: number;
}

export class FileSource implements Source {
  readonly synced: Promise<void>;
  readonly #dir: string;
  readonly #sink: ChangeSink;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #maxDebounceMs: number;
  readonly #rescanIntervalMs: number;
  readonly #cache = new Map<string, CachedFile>();
  #resolveSynced!: () => void;
  /** One non-recursive watcher per folder: Node's recursive mode on Linux watches files, and loses
   *  a file once an editor renames a new version over it. A folder watch sees every entry change. */
  readonly #watchers = new Map<string, FSWatcher>();
  #debounceTimer: NodeJS.Timeout | null = null;
  #firstEventAt = 0;
  #rescanTimer: NodeJS.Timeout | null = null;
  #scanning: Promise<void> | null = null;
  #rescanRequested = false;
  #stopped = false;
  #started = false;
  #duplicates = new Set<string>();
  /**
   * kindKey -> the file whose definition was handed to the store (the first in path order), and
   * the keys defined more than once, as of the last delivery (see #deliverChanged).
   */
  #owner = new Map<string, string>();
  #duplicateKeys = new Set<string>();
  #scans = 0;
  #objects = 0;
  #problems = 0;
  #dirMissing = false;
  #delivered = false;
  /** Files that defined objects and were last read empty, since when (see #refresh). */
  /**
   * What the next scan must look at: the paths named by watch events, or ALL. Files not named
   * are not even stat'ed (big folders: one event costs one file), except new ones, which the
   * folder listing shows. The periodic re-scan looks at ALL, in case an event was lost.
   */
  #dirty: Set<string> | typeof ALL = ALL;
  readonly #emptySince = new Map<string, { readonly at: number; readonly stamp: string }>();
  readonly #scanListeners = new Set<(stats: FileSourceStats) => void>();

  constructor(options: FileSourceOptions) {
    this.#dir = options.dir;
    this.#sink = options.sink;
    this.#log = options.logger.child({ source: 'file', dir: options.dir });
    this.#debounceMs = options.debounceMs ?? 10;
    this.#maxDebounceMs = options.maxDebounceMs ?? 100;
    this.#rescanIntervalMs = options.rescanIntervalMs ?? 10_000;
    this.synced = new Promise((resolve) => (this.#resolveSynced = resolve));
  }

  get stats(): FileSourceStats {
    return { scans: this.#scans, files: this.#cache.size, objects: this.#objects, problems: this.#problems };
  }

  /** First complete read (rejects with ManifestsDirError if the folder is not readable), then watch. */
  async start(): Promise<void> {
    if (this.#started) return this.synced;
    this.#started = true;
    try {
      const s = await stat(this.#dir);
      if (!s.isDirectory()) throw new ManifestsDirError(`--manifests ${this.#dir}: not a directory`);
    } catch (err) {
      if (err instanceof ManifestsDirError) throw err;
      throw new ManifestsDirError(`--manifests ${this.#dir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message}`);
    }
    await this.#scan();
    this.#resolveSynced();
    if (this.#rescanIntervalMs > 0) {
      this.#rescanTimer = setInterval(() => this.#trigger(0, ALL), this.#rescanIntervalMs);
      this.#rescanTimer.unref();
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#closeWatchers();
    if (this.#debounceTimer) clearTimeout(this.#debounceTimer);
    if (this.#rescanTimer) clearInterval(this.#rescanTimer);
    this.#debounceTimer = null;
    this.#rescanTimer = null;
  }

  /** Called after every completed scan (tests wait on it; metrics may count). */
  onScan(listener: (stats: FileSourceStats) => void): () => void {
    this.#scanListeners.add(listener);
    return () => this.#scanListeners.delete(listener);
  }

  /** Re-scan now (tests, SIGHUP). Resolves when the scan that includes this request has finished. */
  rescan(): Promise<void> {
    this.#dirty = ALL;
    return this.#scan();
  }

  /** Watches exactly `dirs` (relative; "" is the root). Returns whether a new folder was added. */
  #syncWatchers(dirs: readonly string[]): boolean {
    if (this.#stopped) return false;
    const wanted = new Set(dirs);
    for (const [dir, watcher] of this.#watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        this.#watchers.delete(dir);
      }
    }
    let added = false;
    for (const dir of dirs) {
      if (this.#watchers.has(dir)) continue;
      try {
        // An event naming a file we hold re-reads that file; anything else (a new file, a folder,
        // an editor's temp file, a ConfigMap volume's "..data" swap behind symlinks) looks at ALL.
        const watcher = watch(join(this.#dir, dir), { persistent: true }, (_event, name) => {
          const path = typeof name === 'string' ? join(dir, name) : null;
          this.#trigger(this.#debounceMs, path !== null && this.#cache.has(path) ? path : ALL);
        });
        watcher.on('error', (err) => {
          // Usually the folder was removed; the next scan drops or re-creates this watcher.
          this.#log.debug({ err, folder: dir }, 'folder watcher error');
          watcher.close();
          if (this.#watchers.get(dir) === watcher) this.#watchers.delete(dir);
          this.#trigger(this.#debounceMs, ALL);
        });
        this.#watchers.set(dir, watcher);
        added = true;
      } catch (err) {
        this.#log.warn({ err, folder: dir, reason: 'WatchFailed' }, 'cannot watch a manifests folder; relying on the periodic re-scan');
      }
    }
    return added;
  }

  #closeWatchers(): void {
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  /** Debounce: `delayMs` after the last event, at most maxDebounceMs after the first. */
  #trigger(delayMs: number, path: string | typeof ALL): void {
    if (this.#stopped) return;
    if (path === ALL) this.#dirty = ALL;
    else if (this.#dirty !== ALL) this.#dirty.add(path);
    const now = performance.now();
    if (this.#debounceTimer === null) this.#firstEventAt = now;
    else clearTimeout(this.#debounceTimer);
    const delay = Math.max(0, Math.min(delayMs, this.#firstEventAt + this.#maxDebounceMs - now));
    this.#debounceTimer = setTimeout(() => {
      this.#debounceTimer = null;
      this.#scan().catch((err: unknown) => this.#log.error({ err }, 'manifests re-scan failed'));
    }, delay);
  }

  /** Scans never overlap; a request during a scan runs one more scan after it. */
  #scan(): Promise<void> {
    if (this.#scanning) {
      this.#rescanRequested = true; // the running loop scans once more before it resolves
      return this.#scanning;
    }
    const run = async (): Promise<void> => {
      try {
        do {
          this.#rescanRequested = false;
          await this.#scanOnce();
          for (const listener of this.#scanListeners) listener(this.stats);
        } while (this.#rescanRequested && !this.#stopped);
      } finally {
        this.#scanning = null;
      }
    };
    this.#scanning = run();
    return this.#scanning;
  }

  async #scanOnce(): Promise<void> {
    const t0 = performance.now();
    this.#scans++;
    let paths: readonly string[];
    let dirs: readonly string[];
    try {
      ({ files: paths, dirs } = await listManifestTree(this.#dir));
    } catch (err) {
      // The folder vanished (being replaced?): keep serving what we have, say so once.
      if (!this.#dirMissing) {
        this.#log.warn({ err, reason: 'ManifestsDirUnreadable' }, 'cannot read the manifests folder; keeping the current objects');
      }
      this.#dirMissing = true;
      this.#closeWatchers();
      return;
    }
    if (this.#dirMissing) {
      this.#dirMissing = false;
      this.#log.info('manifests folder readable again');
    }
    // A folder that appeared may have received files before its watcher existed: look once more.
    if (this.#syncWatchers(dirs) && this.#delivered) {
      this.#rescanRequested = true;
      this.#dirty = ALL;
    }

    // 1. Re-read files whose stat changed; drop vanished ones from the cache. `changed`: each
    //    changed file's objects before (none for a new file).
    const changed = new Map<string, readonly ParsedObject[]>();
    const seen = new Set(paths);
    for (const [file, cached] of [...this.#cache]) {
      if (!seen.has(file)) {
        this.#cache.delete(file);
        changed.set(file, cached.objects);
      }
    }
    // Files are independent: stat/read/parse several at once (I/O overlaps; parsing stays serial).
    const dirty = this.#dirty;
    this.#dirty = new Set();
    const todo = dirty === ALL ? paths : paths.filter((p) => dirty.has(p) || !this.#cache.has(p));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < todo.length) {
        const file = todo[next++];
        const before = this.#cache.get(file)?.objects ?? NO_OBJECTS;
        if (await this.#refresh(file)) changed.set(file, before);
      }
    };
    await Promise.all(Array.from({ length: Math.min(IO_CONCURRENCY, todo.length) }, worker));
    const changedFiles = changed.size;
    if (changedFiles === 0 && this.#delivered) return;
    if (this.#delivered && this.#deliverChanged(changed)) {
      this.#log.info({ files: paths.length, changedFiles, objects: this.#objects, problems: this.#problems, durationMs: Math.round((performance.now() - t0) * 100) / 100 }, 'manifests changed');
      return;
    }
    this.#delivered = true;

    // 2. Collect per kind in path order; the first definition of kind/namespace/name wins.
    const byKind = new Map<KubeKind, KubeObject[]>(KUBE_KINDS.map((k) => [k, []]));
    const origin = new Map<string, string>();
    const owner = new Map<string, string>();
    const duplicates = new Set<string>();
    const duplicateKeys = new Set<string>();
    let objects = 0;
    let problems = 0;
    for (const file of paths) {
      const cached = this.#cache.get(file);
      if (!cached) continue;
      problems += cached.problems;
      for (const { object, document } of cached.objects) {
        const key = kindKey(object.kind, object.metadata.namespace ?? '', object.metadata.name);
        const where = `${file} (document ${document})`;
        const first = origin.get(key);
        if (first !== undefined) {
          duplicateKeys.add(key);
          const message = `${key} in ${where} duplicates the one in ${first}; keeping the first`;
          duplicates.add(message);
          if (!this.#duplicates.has(message)) {
            this.#log.warn({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, file, reason: 'DuplicateObject' }, message);
          }
          continue;
        }
        origin.set(key, where);
        owner.set(key, file);
        byKind.get(object.kind)!.push(object);
        objects++;
      }
    }
    this.#duplicates = duplicates;
    this.#owner = owner;
    this.#duplicateKeys = duplicateKeys;
    this.#objects = objects;
    this.#problems = problems;

    // 3. Hand over the whole state of every kind; the store ignores what did not change.
    for (const [kind, list] of byKind) {
      try {
        this.#sink.replace(kind, list);
      } catch (err) {
        this.#log.error({ err, kind }, 'store rejected the manifests (a bug); continuing');
      }
    }
    this.#log.info(
      { files: paths.length, changedFiles, objects, problems, durationMs: Math.round((performance.now() - t0) * 100) / 100 },
      this.#scans === 1 ? 'manifests read' : 'manifests changed',
    );
  }

  /**
   * Hands the store only the objects of the `changed` files (file -> its objects before), as
   * upserts and deletes, when that gives exactly what the full hand-over would: every key those
   * files define, before or after, is defined once in the folder and by no other file (so "the
   * first definition wins" cannot pick another one). Returns false, having changed nothing, when
   * that does not hold; then the caller hands over everything.
   */
  #deliverChanged(changed: ReadonlyMap<string, readonly ParsedObject[]>): boolean {
    // 1. Check every key first: nothing is delivered unless all of them qualify.
    const upserts: KubeObject[] = [];
    const deletes = new Map<string, KubeObject>();
    const defined = new Map<string, string>();
    for (const [file, before] of changed) {
      for (const { object } of this.#cache.get(file)?.objects ?? NO_OBJECTS) {
        const key = kindKey(object.kind, object.metadata.namespace ?? '', object.metadata.name);
        const owner = this.#owner.get(key);
        if (defined.has(key) || this.#duplicateKeys.has(key) || (owner !== undefined && owner !== file)) return false;
        defined.set(key, file);
        upserts.push(object);
      }
      for (const { object } of before) {
        const key = kindKey(object.kind, object.metadata.namespace ?? '', object.metadata.name);
        if (this.#duplicateKeys.has(key) || this.#owner.get(key) !== file) return false;
        if (!defined.has(key)) deletes.set(key, object);
      }
    }
    // 2. Deliver: the store ignores upserts of the very objects it holds.
    for (const [key, object] of deletes) {
      this.#owner.delete(key);
      this.#applySafely({ type: 'delete', kind: object.kind, namespace: object.metadata.namespace ?? '', name: object.metadata.name });
    }
    for (const [key, file] of defined) this.#owner.set(key, file);
    for (const object of upserts) this.#applySafely({ type: 'upsert', object });
    let before = 0;
    for (const objects of changed.values()) before += objects.length;
    this.#objects += upserts.length - before; // no key is defined twice (checked above)
    let problems = 0;
    for (const cached of this.#cache.values()) problems += cached.problems;
    this.#problems = problems;
    return true;
  }

  #applySafely(change: Change): void {
    try {
      this.#sink.apply(change);
    } catch (err) {
      this.#log.error({ err, kind: change.type === 'upsert' ? change.object.kind : change.kind }, 'store rejected a manifest change (a bug); continuing');
    }
  }

  /** Re-parses `file` if its stat changed; returns whether the cache entry changed. */
  async #refresh(file: string): Promise<boolean> {
    const full = join(this.#dir, file);
    let stamp: string;
    let size: bigint;
    let recent: boolean;
    try {
      const s = await stat(full, { bigint: true });
      if (!s.isFile()) return this.#cache.delete(file);
      size = s.size;
      stamp = `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
      // File times come from a coarse kernel clock (a few ms): two same-size writes within one
      // tick have equal stamps. A file modified lately is therefore re-read and its text compared.
      recent = Date.now() - Number(s.mtimeMs) < RECENT_MS;
    } catch {
      return this.#cache.delete(file); // vanished between listing and stat
    }
    const previous = this.#cache.get(file);
    if (previous?.stamp === stamp && !recent) return false;
    const log = this.#log.child({ file });
    if (size > MAX_FILE_BYTES) {
      log.warn({ reason: 'FileTooLarge', bytes: Number(size) }, `manifest file larger than ${MAX_FILE_BYTES} bytes; skipped`);
      this.#cache.set(file, { stamp, digest: EMPTY_DIGEST, objects: [], problems: 1 });
      return true;
    }
    let text: string;
    try {
      text = await readFile(full, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.#cache.delete(file);
      log.warn({ err, reason: 'FileUnreadable' }, 'cannot read manifest file; skipped');
      this.#cache.set(file, { stamp, digest: EMPTY_DIGEST, objects: [], problems: 1 });
      return true;
    }
    const digest = sha256(text);
    if (previous !== undefined && previous.digest === digest) {
      this.#cache.set(file, { ...previous, stamp });
      return false;
    }
    // Writers truncate, then write: a file that defined objects and now reads empty is most likely
    // caught in between. Keep what it defined and look again; only a file that stayed empty and
    // untouched (same stamp) for SETTLE_MS is taken as emptied.
    if (previous !== undefined && previous.objects.length > 0 && text.trim() === '') {
      const seen = this.#emptySince.get(file);
      if (seen === undefined || seen.stamp !== stamp || performance.now() - seen.at < SETTLE_MS) {
        if (seen === undefined || seen.stamp !== stamp) this.#emptySince.set(file, { at: performance.now(), stamp });
        this.#trigger(SETTLE_MS, file);
        return false;
      }
    }
    this.#emptySince.delete(file);
    const parsed = parseManifest(text, /\.json$/i.test(file));
    for (const p of parsed.problems) {
      log.warn({ document: p.document, line: p.line, reason: 'InvalidManifest' }, p.reason);
    }
    for (const i of parsed.ignored) {
      log.debug({ document: i.document, kind: i.kind, apiVersion: i.apiVersion, name: i.name }, 'ignoring object of a kind Switchyard does not read');
    }
    let objects = parsed.objects;
    // A document that does not parse (a typo saved mid-edit) is like a rejected `kubectl apply`:
    // the objects this file defined before stay until it parses again, instead of their routes
    // vanishing. Objects the new version still defines take the new version.
    if (previous && parsed.problems.some((p) => p.syntax)) {
      const defined = new Set(objects.map(({ object: o }) => kindKey(o.kind, o.metadata.namespace ?? '', o.metadata.name)));
      const kept = previous.objects.filter(({ object: o }) => !defined.has(kindKey(o.kind, o.metadata.namespace ?? '', o.metadata.name)));
      if (kept.length > 0) {
        log.warn({ reason: 'KeptLastGood', objects: kept.length }, 'keeping the objects of the last version of this file that parsed, until it parses again');
        objects = [...objects, ...kept];
      }
    }
    this.#cache.set(file, { stamp, digest, objects, problems: parsed.problems.length });
    return true;
  }
}

/**
 * Manifest files under `dir` (relative, sorted: the "path order" for duplicates) and the folders
 * to watch ("" is `dir` itself). Hidden entries are skipped, including Kubernetes ConfigMap
 * volumes' "..data" and "..2024_..." folders, which would otherwise be read twice.
 */
export async function listManifestTree(dir: string): Promise<{ files: string[]; dirs: string[] }> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  const dirs: string[] = [''];
  for (const e of entries) {
    const rel = relative(dir, join(e.parentPath, e.name));
    if (rel.split(sep).some((part) => part.startsWith('.'))) continue;
    if (e.isDirectory()) dirs.push(rel);
    else if (MANIFEST_FILE.test(e.name) && (e.isFile() || e.isSymbolicLink())) files.push(rel);
  }
  const byPath = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return { files: files.sort(byPath), dirs: dirs.sort(byPath) };
}

export async function listManifestFiles(dir: string): Promise<string[]> {
  return (await listManifestTree(dir)).files;
}
