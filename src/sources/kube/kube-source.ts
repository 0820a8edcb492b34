// The Kubernetes source: one informer per kind (per watched namespace, or cluster-wide), feeding the
// same ChangeSink as the file source. `synced` resolves once every informer has listed once; until
// then the runtime publishes no table and /readyz answers 503.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ChangeSink } from '../../model/change.ts';
import type { KubeKind, KubeObject } from '../../model/kube.ts';
import { DEFAULT_BACKOFF } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import { KindInformer } from './informer.ts';
import type { InformerListener, InformerStats } from './informer.ts';
import { KIND_SPECS } from './kinds.ts';
import type { KindSpec } from './kinds.ts';

export interface KubeSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly sink: ChangeSink;
  readonly logger: Logger;
  /** --watch-namespace: empty means cluster-wide (one informer per kind). */
  readonly namespaces?: readonly string[];
  readonly backoff?: BackoffOptions;
  readonly watchTimeoutSeconds?: { readonly min: number; readonly max: number };
  /** Relist page size (limit/continue), default 500. */
  readonly pageSize?: number;
  /** Timeout of one whole list, default 60s. */
  readonly listTimeoutMs?: number;
  /** Defaults to every kind in KIND_SPECS. */
  readonly kinds?: readonly KindSpec[];
}

export type KubeSourceStats = Record<KubeKind, InformerStats>;

export class KubeSource implements InformerListener {
  /** Resolves once every informer has completed its first list. */
  readonly synced: Promise<void>;
  readonly #sink: ChangeSink;
  readonly #log: Logger;
  readonly #informers: KindInformer[] = [];
  readonly #byKind = new Map<KubeKind, KindInformer[]>();
  #isSynced = false;
  #started = false;

  constructor(options: KubeSourceOptions) {
    this.#sink = options.sink;
    this.#log = options.logger;
    const namespaces = [...new Set(options.namespaces ?? [])].filter((n) => n !== '');
    for (const spec of options.kinds ?? KIND_SPECS) {
      // Cluster-scoped kinds (IngressClass) have one informer whatever --watch-namespace says.
      const scopes: (string | undefined)[] = spec.namespaced && namespaces.length > 0 ? namespaces : [undefined];
      const list: KindInformer[] = [];
      for (const namespace of scopes) {
        const informer = new KindInformer({
          spec, namespace, kubeConfig: options.kubeConfig, listener: this, logger: options.logger,
          backoff: options.backoff ?? DEFAULT_BACKOFF,
          watchTimeoutSeconds: options.watchTimeoutSeconds ?? { min: 300, max: 600 },
          pageSize: options.pageSize, listTimeoutMs: options.listTimeoutMs,
        });
        list.push(informer);
        this.#informers.push(informer);
      }
      this.#byKind.set(spec.kind, list);
    }
    this.synced = Promise.all(this.#informers.map((i) => i.listed)).then(() => {
      this.#isSynced = true;
      this.#log.info({ informers: this.#informers.length }, 'kubernetes source synced');
    });
  }

  get isSynced(): boolean {
    return this.#isSynced;
  }

  /** Starts every informer and returns at once; wait on `synced` for the first complete state. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const informer of this.#informers) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.stop()));
  }

  /** Counters per kind, summed over namespaces (for metrics and the debug view). */
  stats(): KubeSourceStats {
    const out: Partial<KubeSourceStats> = {};
    for (const [kind, informers] of this.#byKind) {
      const sum: InformerStats = { lists: 0, relists: 0, listFailures: 0, watches: 0, restarts: 0, events: 0, handlerErrors: 0 };
      for (const i of informers) {
        for (const k of Object.keys(sum) as (keyof InformerStats)[]) sum[k] += i.stats[k];
      }
      out[kind] = sum;
    }
    return out as KubeSourceStats;
  }

  /** Which informers have not listed yet ("Ingress/default", "Service/*"), for the readiness log. */
  pending(): string[] {
    return this.#informers.filter((i) => !i.hasListed).map((i) => `${i.spec.kind}/${i.namespace ?? '*'}`);
  }

  // ---- InformerListener --------------------------------------------------------------------

  onList(informer: KindInformer): void {
    // The sink's `replace` covers the whole kind: with several namespaces, send this informer's
    // fresh list together with what the other namespaces' informers hold.
    const siblings = this.#byKind.get(informer.spec.kind) ?? [informer];
    let objects: KubeObject[];
    if (siblings.length === 1) {
      objects = [...informer.objects.values()];
    } else {
      objects = [];
      for (const i of siblings) for (const o of i.objects.values()) objects.push(o);
    }
    this.#sink.replace(informer.spec.kind, objects);
  }

  onUpsert(_informer: KindInformer, object: KubeObject): void {
    this.#sink.apply({ type: 'upsert', object });
  }

  onDelete(informer: KindInformer, object: KubeObject): void {
    this.#sink.apply({
      type: 'delete', kind: informer.spec.kind, namespace: object.metadata.namespace ?? '', name: object.metadata.name,
    });
  }
}
