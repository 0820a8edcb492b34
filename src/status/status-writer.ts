// Writes Ingress status.loadBalancer.ingress, the address clients reach the controller at:
// --publish-status-address (IPs/host names) or the load-balancer ingress of --publish-service.
// Only the leader writes, only Ingresses this controller owns (translate's ownership rule), and only
// when the status differs. It reads the store's snapshot and writes through PUT .../status
// (ingresses/status update); the publish Service comes from the snapshot when the informers watch
// its namespace, else from a GET (services get), reused for 10 s: permissions.ts.
import { isIP } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Ingress, LoadBalancerIngress, Service } from '../model/kube.ts';
import type { Snapshot, TranslateOptions } from '../model/snapshot.ts';
import { indexIngressClasses, isIngressOwned } from '../translate/ingress-class.ts';
import { describeError } from '../sources/kube/informer.ts';
import { kubeRequest, objectPath } from '../sources/kube/kube-rest.ts';
import { settledWithin, statusCode } from './leader-election.ts';

export interface StatusWriterOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** The store's current state (owned Ingresses and their status as last watched). */
  readonly snapshot: () => Snapshot;
  readonly translateOptions: TranslateOptions;
  /** --publish-service */
  readonly publishService: { readonly namespace: string; readonly name: string } | null;
  /** --publish-status-address (wins over --publish-service). */
  readonly publishStatusAddress: readonly string[];
  /** Only the leader writes. */
  readonly isLeader: () => boolean;
  /** Full resync interval (catches publish Service address changes and status edited by others). */
  readonly resyncMs?: number;
  /** Coalescing delay after a trigger. */
  readonly debounceMs?: number;
  /** Parallel status updates. */
  readonly concurrency?: number;
  /** How long a publish Service read with GET (not in the watched namespaces) is reused. */
  readonly publishServiceCacheMs?: number;
  /** Deadline of each API request (kube-rest's default: 10 s). */
  readonly requestTimeoutMs?: number;
}

export interface StatusWriterStats {
  syncs: number;
  /** Successful status updates. */
  updates: number;
  failures: number;
  /** Writes cut short because leadership was lost or the writer stopped. */
  cancelled: number;
}

interface Written {
  readonly signature: string;
  /** resourceVersion of the Ingress our write was based on: until the watch shows a newer one,
   *  the snapshot cannot reflect our write, so we do not write again. */
  readonly basedOn: string | undefined;
}

/** The reason a cancelled request rejects with (cancelWrites). */
class WriteCancelledError extends Error {
  override readonly name = 'WriteCancelledError';
}

export class IngressStatusWriter {
  readonly stats: StatusWriterStats = { syncs: 0, updates: 0, failures: 0, cancelled: 0 };
  readonly #o: StatusWriterOptions;
  readonly #log: Logger;
  readonly #written = new Map<string, Written>();
  readonly #idle = new Set<() => void>();
  #running = false;
  #syncing: Promise<void> | undefined;
  #pending = false;
  #debounce: NodeJS.Timeout | undefined;
  #resync: NodeJS.Timeout | undefined;
  #lastAddressProblem = '';
  #publishServiceCache: { readonly at: number; readonly service: Service } | undefined;
  /** Aborted by cancelWrites(): every API request of a sync carries its signal. */
  #writes = new AbortController();

  constructor(options: StatusWriterOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'status' });
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#resync = setInterval(() => this.trigger(), this.#o.resyncMs ?? 60_000);
    this.trigger();
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#debounce);
    clearInterval(this.#resync);
    this.cancelWrites('the status writer stopped');
    await settledWithin(this.#syncing, 5_000);
  }

  /**
   * Cuts the API requests in flight (leadership lost, stop): a write held by a slow API server
   * must not land after another replica has become the leader. Later syncs start afresh.
   */
  cancelWrites(why = 'no longer the leader'): void {
    this.#writes.abort(new WriteCancelledError(why));
    this.#writes = new AbortController();
  }

  /** Something changed (a table was published, leadership was gained): sync soon, coalesced. */
  trigger(): void {
    if (!this.#running) return;
    if (this.#syncing !== undefined) {
      this.#pending = true;
      return;
    }
    if (this.#debounce !== undefined) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.#syncing = this.sync().finally(() => {
        this.#syncing = undefined;
        if (this.#pending) {
          this.#pending = false;
          this.trigger();
        } else {
          for (const resolve of this.#idle) resolve();
          this.#idle.clear();
        }
      });
    }, this.#o.debounceMs ?? 50);
  }

  /** Resolves when no sync is running or scheduled (tests). */
  whenIdle(): Promise<void> {
    if (this.#syncing === undefined && this.#debounce === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  /** One pass over the owned Ingresses. Never throws. */
  async sync(): Promise<void> {
    if (!this.#o.isLeader()) return;
    this.stats.syncs++;
    const snapshot = this.#o.snapshot();
    let desired: LoadBalancerIngress[] | undefined;
    try {
      desired = await this.#desiredAddresses(snapshot);
    } catch (err) {
      if (err instanceof WriteCancelledError) return;
      this.stats.failures++;
      this.#log.warn({ err: describeError(err) }, 'reading the publish Service failed; Ingress status left as it is');
      return;
    }
    if (desired === undefined) return;
    const signature = JSON.stringify(desired);
    const classes = indexIngressClasses(snapshot.ingressClasses, this.#o.translateOptions);
    const todo: Ingress[] = [];
    for (const ingress of snapshot.ingresses) {
      if (!isIngressOwned(ingress, classes, this.#o.translateOptions)) continue;
      const key = `${ingress.metadata.namespace ?? ''}/${ingress.metadata.name}`;
      if (JSON.stringify(normalizeAddresses(ingress.status?.loadBalancer?.ingress ?? [])) === signature) continue;
      const written = this.#written.get(key);
      if (written !== undefined && written.signature === signature && written.basedOn === ingress.metadata.resourceVersion) continue;
      todo.push(ingress);
    }
    // Forget Ingresses that are gone.
    if (this.#written.size > snapshot.ingresses.length) {
      const live = new Set(snapshot.ingresses.map((i) => `${i.metadata.namespace ?? ''}/${i.metadata.name}`));
      for (const key of this.#written.keys()) if (!live.has(key)) this.#written.delete(key);
    }
    if (todo.length === 0) return;
    let next = 0;
    const worker = async () => {
      while (next < todo.length && this.#running && this.#o.isLeader()) {
        await this.#write(todo[next++], desired, signature);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#o.concurrency ?? 8, todo.length) }, worker));
  }

  async #write(ingress: Ingress, addresses: readonly LoadBalancerIngress[], signature: string): Promise<void> {
    const namespace = ingress.metadata.namespace ?? '';
    const name = ingress.metadata.name;
    // Only name/namespace and status: the API server takes nothing but status from a /status
    // update, and without a resourceVersion the update is unconditional (the leader owns status).
    const body = {
      apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace },
      status: { loadBalancer: { ingress: addresses.map((a) => ({ ...a })) } },
    };
    const signal = this.#writes.signal;
    try {
      await kubeRequest(this.#o.kubeConfig, 'PUT', objectPath('networking.k8s.io', 'v1', 'ingresses', namespace, name, 'status'), body,
        { timeoutMs: this.#o.requestTimeoutMs, signal });
      this.stats.updates++;
      this.#written.set(`${namespace}/${name}`, { signature, basedOn: ingress.metadata.resourceVersion });
      this.#log.info({ kind: 'Ingress', namespace, name, addresses: addresses.map((a) => a.ip ?? a.hostname) }, 'Ingress status updated');
    } catch (err) {
      if (statusCode(err) === 404) return; // deleted meanwhile
      if (signal.aborted) {
        this.stats.cancelled++;
        this.#log.info({ kind: 'Ingress', namespace, name, reason: 'StatusUpdateCancelled', why: (signal.reason as Error).message }, 'Ingress status update cancelled');
        return;
      }
      this.stats.failures++;
      this.#log.warn({ kind: 'Ingress', namespace, name, err: describeError(err), reason: 'StatusUpdateFailed' }, 'updating Ingress status failed; will retry');
    }
  }

  /** The addresses to publish, sorted; undefined when there is nothing to publish yet. */
  async #desiredAddresses(snapshot: Snapshot): Promise<LoadBalancerIngress[] | undefined> {
    if (this.#o.publishStatusAddress.length > 0) {
      return normalizeAddresses(this.#o.publishStatusAddress.map((a) => (isIP(a) !== 0 ? { ip: a } : { hostname: a })));
    }
    const ref = this.#o.publishService;
    if (ref === null) return undefined;
    // 1. the informers watch it (no --watch-namespace, or its namespace is watched): no API call
    let service: Service | undefined = snapshot.services.find((s) => s.metadata.name === ref.name && s.metadata.namespace === ref.namespace);
    // 2. else GET it, at most once per cacheMs: a sync runs after every published table
    if (service === undefined) {
      const now = Date.now();
      if (this.#publishServiceCache !== undefined && now - this.#publishServiceCache.at < (this.#o.publishServiceCacheMs ?? 10_000)) {
        service = this.#publishServiceCache.service;
      } else {
        try {
          // Raw JSON: times stay strings, as in the informers' normalized objects.
          service = await kubeRequest<Service>(this.#o.kubeConfig, 'GET', objectPath('', 'v1', 'services', ref.namespace, ref.name), undefined,
            { timeoutMs: this.#o.requestTimeoutMs, signal: this.#writes.signal });
          this.#publishServiceCache = { at: now, service };
        } catch (err) {
          if (statusCode(err) === 404) {
            this.#problem(`--publish-service ${ref.namespace}/${ref.name} does not exist; Ingress status not written`);
            return undefined;
          }
          throw err;
        }
      }
    }
    const addresses = addressesOfService(service);
    if (addresses.length === 0) {
      this.#problem(`--publish-service ${ref.namespace}/${ref.name} has no load-balancer address yet; Ingress status not written`);
      return undefined;
    }
    this.#lastAddressProblem = '';
    return normalizeAddresses(addresses);
  }

  #problem(message: string): void {
    if (message === this.#lastAddressProblem) return;
    this.#lastAddressProblem = message;
    this.#log.warn({ reason: 'NoPublishAddress' }, message);
  }
}

/** A Service's reachable addresses: its load-balancer ingress, else spec.externalIPs, else the
 *  external name of an ExternalName Service. */
export function addressesOfService(service: Service): LoadBalancerIngress[] {
  const lb = service.status?.loadBalancer?.ingress ?? [];
  if (lb.length > 0) return lb.map((a) => (a.ip ? { ip: a.ip } : { hostname: a.hostname ?? '' })).filter((a) => a.ip || a.hostname);
  const spec = service.spec as { externalIPs?: readonly string[]; type?: string; externalName?: string } | undefined;
  if (spec?.externalIPs !== undefined && spec.externalIPs.length > 0) return spec.externalIPs.map((ip) => ({ ip }));
  if (spec?.type === 'ExternalName' && spec.externalName) return [{ hostname: spec.externalName }];
  return [];
}

/** ip/hostname only (ports are not ours to publish), deduplicated, IPs first then host names, sorted. */
export function normalizeAddresses(list: readonly LoadBalancerIngress[]): LoadBalancerIngress[] {
  const seen = new Set<string>();
  const out: LoadBalancerIngress[] = [];
  for (const a of list) {
    const entry = a.ip ? { ip: a.ip } : a.hostname ? { hostname: a.hostname } : undefined;
    if (entry === undefined) continue;
    const key = entry.ip !== undefined ? `0${entry.ip}` : `1${entry.hostname}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(entry);
  }
  return out.sort((x, y) => {
    const a = x.ip !== undefined ? `0${x.ip}` : `1${x.hostname}`;
    const b = y.ip !== undefined ? `0${y.ip}` : `1${y.hostname}`;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}
