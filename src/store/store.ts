// The Store holds the latest state of every object the sources report and decides, per change,
// whether it can affect the route table ("relevant"). Only relevant changes wake the listener
// (the scheduler); everything is still stored, so the next snapshot is complete and current.
import type { Change, ChangeSink } from '../model/change.ts';
import type { EndpointSlice, Ingress, IngressClass, KubeKind, KubeObject } from '../model/kube.ts';
import { KUBE_KINDS } from '../model/kube.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { keyOf, objectKey } from './keys.ts';
import { findIngressReferences, type IngressReferences } from './references.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface StoreOptions {
  /** Services referenced outside any Ingress (--default-backend-service). */
  readonly extraServices?: readonly { readonly namespace: string; readonly name: string }[];
  /** Secrets referenced outside any Ingress (a controller-wide default certificate). */
  readonly extraSecrets?: readonly { readonly namespace: string; readonly name: string }[];
  /**
   * Whether an Ingress belongs to this controller, given the IngressClasses held (translate's
   * ownership rule, injected so the store does not depend on translate). A change to an Ingress
   * that is not ours before nor after is stored but not relevant. Absent: every Ingress matters.
   */
  readonly isIngressOwned?: (ingress: Ingress, classes: readonly IngressClass[]) => boolean;
}

export type StoreCounts = Readonly<Record<KubeKind, number>>;

export interface StoreStats {
  /** Changes that altered what the store holds and may alter the route table. */
  readonly relevant: number;
  /** Changes that were no-ops (same resourceVersion or content) or cannot affect routing. */
  readonly ignored: number;
}

/** A reference-counted set of keys (several Ingresses may name the same Secret). */
class RefCounts {
  readonly #counts = new Map<string, number>();
  add(keys: readonly string[]): void {
    for (const k of keys) this.#counts.set(k, (this.#counts.get(k) ?? 0) + 1);
  }
  remove(keys: readonly string[]): void {
    for (const k of keys) {
      const n = (this.#counts.get(k) ?? 0) - 1;
      if (n <= 0) this.#counts.delete(k);
      else this.#counts.set(k, n);
    }
  }
  has(key: string): boolean {
    return this.#counts.has(key);
  }
}

const SNAPSHOT_FIELD = {
  Ingress: 'ingresses',
  IngressClass: 'ingressClasses',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Secret: 'secrets',
} as const satisfies Record<KubeKind, keyof Snapshot>;

export class Store implements ChangeSink {
  readonly #objects = new Map<KubeKind, Map<string, KubeObject>>(KUBE_KINDS.map((k) => [k, new Map()]));
  readonly #ingressRefs = new Map<string, IngressReferences>();
  readonly #secretRefs = new RefCounts();
  readonly #serviceRefs = new RefCounts();
  readonly #listeners = new Set<() => void>();
  readonly #isIngressOwned: ((ingress: Ingress, classes: readonly IngressClass[]) => boolean) | null;
  #classes: readonly IngressClass[] | null = null;
  #snapshot: Snapshot | null = null;
  /**
   * Per kind: the sorted frozen list of the last snapshot, and the keys changed since (with the
   * new object, or the removed one: either carries the namespace and name to search for).
   */
  readonly #lists = new Map<KubeKind, readonly KubeObject[]>();
  readonly #changed = new Map<KubeKind, Map<string, KubeObject>>(KUBE_KINDS.map((k) => [k, new Map()]));
  #relevant = 0;
  #ignored = 0;

  constructor(options: StoreOptions = {}) {
    this.#isIngressOwned = options.isIngressOwned ?? null;
    this.#serviceRefs.add((options.extraServices ?? []).map((s) => objectKey(s.namespace, s.name)));
    this.#secretRefs.add((options.extraSecrets ?? []).map((s) => objectKey(s.namespace, s.name)));
  }

  /** Called after every relevant change (or batch, for replace). Returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Applies one change; returns whether it was relevant (the listener was notified). */
  apply(change: Change): boolean {
    const relevant =
      change.type === 'upsert'
        ? this.#upsert(change.object)
        : this.#delete(change.kind, objectKey(change.namespace, change.name));
    this.#count(relevant);
    if (relevant) this.#notify();
    return relevant;
  }

  /**
   * Makes `objects` the whole set of `kind`: missing ones are deleted, others upserted. One
   * notification at most. Returns whether anything relevant changed.
   */
  replace(kind: KubeKind, objects: readonly KubeObject[]): boolean {
    const current = this.#objects.get(kind)!;
    const incoming = new Map<string, KubeObject>();
    for (const o of objects) {
      if (o.kind === kind) incoming.set(keyOf(o), o);
    }
    let relevant = false;
    // 1. objects no longer present are deleted; 2. the others are upserted (no-ops when unchanged).
    for (const key of [...current.keys()]) {
      if (!incoming.has(key)) relevant = this.#delete(kind, key) || relevant;
    }
    for (const o of incoming.values()) relevant = this.#upsert(o) || relevant;
    this.#count(relevant);
    if (relevant) this.#notify();
    return relevant;
  }

  /**
   * Frozen view of everything held, each list sorted by namespace/name; cached until a change. A
   * kind with no change since the last snapshot keeps its very list (translate reuses what it
   * derived from it); a few changed objects are put in place by binary search instead of sorting
   * the whole kind again.
   */
  snapshot(): Snapshot {
    if (this.#snapshot) return this.#snapshot;
    const lists = {} as Record<keyof Snapshot, readonly KubeObject[]>;
    for (const kind of KUBE_KINDS) lists[SNAPSHOT_FIELD[kind]] = this.#listOf(kind);
    this.#snapshot = Object.freeze(lists) as unknown as Snapshot;
    return this.#snapshot;
  }

  /** The sorted list of one kind: the last one, patched with the keys changed since, or sorted anew. */
  #listOf(kind: KubeKind): readonly KubeObject[] {
    const map = this.#objects.get(kind)!;
    const changed = this.#changed.get(kind)!;
    const last = this.#lists.get(kind);
    if (last !== undefined && changed.size === 0) return last;
    let list: KubeObject[];
    if (last === undefined || changed.size > MAX_PATCHED_CHANGES) {
      list = [...map.values()].sort(compareObjects);
    } else {
      // 1. each changed key: found -> replaced (or removed when deleted); not found -> inserted.
      list = last.slice();
      for (const [key, some] of changed) {
        const namespace = some.metadata.namespace ?? '';
        const name = some.metadata.name;
        const object = map.get(key);
        let lo = 0;
        let hi = list.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (compareKey(list[mid], namespace, name) < 0) lo = mid + 1;
          else hi = mid;
        }
        const found = lo < list.length && compareKey(list[lo], namespace, name) === 0;
        if (object === undefined) {
          if (found) list.splice(lo, 1);
        } else if (found) {
          list[lo] = object;
        } else {
          list.splice(lo, 0, object);
        }
      }
    }
    changed.clear();
    const frozen = Object.freeze(list);
    this.#lists.set(kind, frozen);
    return frozen;
  }

  get(kind: KubeKind, namespace: string, name: string): KubeObject | undefined {
    return this.#objects.get(kind)!.get(objectKey(namespace, name));
  }

  /** Objects held per kind (for metrics and /debug). */
  counts(): StoreCounts {
    const out = {} as Record<KubeKind, number>;
    for (const kind of KUBE_KINDS) out[kind] = this.#objects.get(kind)!.size;
    return out;
  }

  get stats(): StoreStats {
    return { relevant: this.#relevant, ignored: this.#ignored };
  }

  /** Whether a Secret is referenced by some Ingress (or the controller) and so matters to routing. */
  isSecretReferenced(namespace: string, name: string): boolean {
    return this.#secretRefs.has(objectKey(namespace, name));
  }

  isServiceReferenced(namespace: string, name: string): boolean {
    return this.#serviceRefs.has(objectKey(namespace, name));
  }

  #count(relevant: boolean): void {
    if (relevant) this.#relevant++;
    else this.#ignored++;
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Stores the object; returns whether the change is relevant. */
  #upsert(object: KubeObject): boolean {
    const kind = object.kind;
    const map = this.#objects.get(kind);
    if (!map) return false; // a kind we do not hold
    const key = keyOf(object);
    const old = map.get(key);
    if (old) {
      if (old === object) return false; // the same frozen object handed over again (file re-scan)
      const rv = object.metadata.resourceVersion;
      if (rv !== undefined && rv === old.metadata.resourceVersion) return false;
      if (sameContent(old, object)) {
        map.set(key, object); // keep the newest resourceVersion/status; routing is unaffected
        this.#snapshot = null;
        this.#changed.get(kind)!.set(key, object);
        return false;
      }
    }
    const relevantBefore = old ? this.#matters(old) : false;
    map.set(key, object);
    this.#snapshot = null;
    this.#changed.get(kind)!.set(key, object);
    if (kind === 'Ingress') this.#indexIngress(key, object as Ingress);
    if (kind === 'IngressClass') this.#classes = null;
    return relevantBefore || this.#matters(object);
  }

  #delete(kind: KubeKind, key: string): boolean {
    const map = this.#objects.get(kind)!;
    const old = map.get(key);
    if (!old) return false;
    const relevant = this.#matters(old);
    map.delete(key);
    this.#snapshot = null;
    this.#changed.get(kind)!.set(key, old);
    if (kind === 'Ingress') this.#unindexIngress(key);
    if (kind === 'IngressClass') this.#classes = null;
    return relevant;
  }

  /** Can this object's presence or content affect the route table? */
  #matters(object: KubeObject): boolean {
    const namespace = object.metadata.namespace ?? '';
    switch (object.kind) {
      case 'Ingress':
        return this.#isIngressOwned === null || this.#isIngressOwned(object, this.#ingressClasses());
      case 'IngressClass':
        return true;
      case 'Secret':
        return this.#secretRefs.has(objectKey(namespace, object.metadata.name));
      case 'Service':
        return this.#serviceRefs.has(objectKey(namespace, object.metadata.name));
      case 'EndpointSlice': {
        const service = serviceNameOf(object);
        return service !== undefined && this.#serviceRefs.has(objectKey(namespace, service));
      }
      default:
        return false;
    }
  }

  /** The IngressClasses held, as one array that stays the same until an IngressClass changes. */
  #ingressClasses(): readonly IngressClass[] {
    this.#classes ??= Object.freeze([...this.#objects.get('IngressClass')!.values()] as IngressClass[]);
    return this.#classes;
  }

  #indexIngress(key: string, ingress: Ingress): void {
    this.#unindexIngress(key);
    const refs = findIngressReferences(ingress);
    this.#ingressRefs.set(key, refs);
    this.#secretRefs.add(refs.secrets);
    this.#serviceRefs.add(refs.services);
  }

  #unindexIngress(key: string): void {
    const refs = this.#ingressRefs.get(key);
    if (!refs) return;
    this.#ingressRefs.delete(key);
    this.#secretRefs.remove(refs.secrets);
    this.#serviceRefs.remove(refs.services);
  }
}

function serviceNameOf(slice: EndpointSlice): string | undefined {
  const labels = slice.metadata.labels;
  const name = labels && typeof labels === 'object' ? labels[SERVICE_NAME_LABEL] : undefined;
  return typeof name === 'string' ? name : undefined;
}

/** Above this many changed objects of a kind, the snapshot sorts the kind anew instead of patching. */
const MAX_PATCHED_CHANGES = 64;

/** compareObjects against a key given as namespace + name. */
function compareKey(a: KubeObject, namespace: string, name: string): number {
  const na = a.metadata.namespace ?? '';
  if (na !== namespace) return na < namespace ? -1 : 1;
  const ma = a.metadata.name;
  return ma < name ? -1 : ma > name ? 1 : 0;
}

function compareObjects(a: KubeObject, b: KubeObject): number {
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  const ma = a.metadata.name;
  const mb = b.metadata.name;
  return ma < mb ? -1 : ma > mb ? 1 : 0;
}

/**
 * Same content for routing purposes: ignores metadata.resourceVersion and managedFields (bookkeeping)
 * and an Ingress's status (our own status writes must not cause rebuilds).
 */
export function sameContent(a: KubeObject, b: KubeObject): boolean {
  if (a.kind !== b.kind) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  for (const k of new Set([...ka, ...kb])) {
    if (k === 'status' && a.kind === 'Ingress') continue;
    const va = (a as unknown as Record<string, unknown>)[k];
    const vb = (b as unknown as Record<string, unknown>)[k];
    if (k === 'metadata') {
      if (!sameMetadata(va as Record<string, unknown>, vb as Record<string, unknown>)) return false;
    } else if (!deepEqual(va, vb)) {
      return false;
    }
  }
  return true;
}

const IGNORED_METADATA = new Set(['resourceVersion', 'managedFields']);

function sameMetadata(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object') return deepEqual(a, b);
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (IGNORED_METADATA.has(k)) continue;
    if (!deepEqual(a[k], b[k])) return false;
  }
  return true;
}

/** Structural equality of plain JSON values (undefined properties count as absent). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual(ra[k], rb[k])) return false;
  return true;
}
