// A ChangeSink that keeps the latest state per kind (as a store would) and lets tests wait on it.
import type { Change, ChangeSink } from '../../src/model/change.ts';
import type { KubeKind, KubeObject } from '../../src/model/kube.ts';

export type SinkCall =
  | { readonly op: 'apply'; readonly change: Change }
  | { readonly op: 'replace'; readonly kind: KubeKind; readonly count: number };

export class RecordingSink implements ChangeSink {
  readonly state = new Map<KubeKind, Map<string, KubeObject>>();
  readonly calls: SinkCall[] = [];
  readonly #listeners = new Set<() => void>();
  /** Make the next N calls throw (to test that the source survives a failing sink). */
  throwNext = 0;

  apply(change: Change): void {
    this.#maybeThrow();
    this.calls.push({ op: 'apply', change });
    if (change.type === 'upsert') {
      this.#kind(change.object.kind).set(keyOf(change.object), change.object);
    } else {
      this.#kind(change.kind).delete(`${change.namespace}/${change.name}`);
    }
    this.#notify();
  }

  replace(kind: KubeKind, objects: readonly KubeObject[]): void {
    this.#maybeThrow();
    this.calls.push({ op: 'replace', kind, count: objects.length });
    const map = new Map<string, KubeObject>();
    for (const o of objects) map.set(keyOf(o), o);
    this.state.set(kind, map);
    this.#notify();
  }

  names(kind: KubeKind): string[] {
    return [...(this.state.get(kind)?.keys() ?? [])].sort();
  }

  get(kind: KubeKind, namespace: string, name: string): KubeObject | undefined {
    return this.state.get(kind)?.get(`${namespace}/${name}`);
  }

  /** Resolves when `predicate` holds (checked now and after every call). */
  waitFor(predicate: () => boolean, what = 'condition', timeoutMs = 10_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`timed out waiting for ${what}; state: ${JSON.stringify(this.summary())}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve();
      };
      this.#listeners.add(check);
    });
  }

  summary(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const kind of this.state.keys()) out[kind] = this.names(kind);
    return out;
  }

  #kind(kind: KubeKind): Map<string, KubeObject> {
    let m = this.state.get(kind);
    if (m === undefined) this.state.set(kind, (m = new Map()));
    return m;
  }

  #maybeThrow(): void {
    if (this.throwNext > 0) {
      this.throwNext--;
      throw new Error('injected sink failure');
    }
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }
}

function keyOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** The sink's state as a Snapshot (each list sorted by namespace/name), like Store.snapshot(). */
export function snapshotOf(sink: RecordingSink): import('../../src/model/snapshot.ts').Snapshot {
  const list = <K extends KubeKind>(kind: K) =>
    [...(sink.state.get(kind)?.entries() ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o) as any[];
  return {
    ingresses: list('Ingress'),
    ingressClasses: list('IngressClass'),
    services: list('Service'),
    endpointSlices: list('EndpointSlice'),
    secrets: list('Secret'),
  };
}
