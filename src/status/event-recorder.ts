// Kubernetes Events for diagnostics on Ingresses, so `kubectl describe ingress` says why a rule was
// skipped.
// Fed with each published build's diagnostics; only diagnostics that are NEW since the previous
// build are recorded (the same ones the controller logs), and only by the leader, so N replicas do
// not write N copies. A diagnostic that goes away and comes back within an hour bumps the count of
// its earlier Event (PATCH, like client-go's event correlator) instead of creating another one.
// API calls: events create, patch (permissions.ts).
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { KubeObject } from '../model/kube.ts';
import { CONTROLLER_NAME } from '../model/snapshot.ts';
import { describeError } from '../sources/kube/informer.ts';
import { JSON_PATCH, kubeRequest, objectPath } from '../sources/kube/kube-rest.ts';
import { statusCode } from './leader-election.ts';

export interface EventRecorderOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly isLeader: () => boolean;
  /** Finds the object a diagnostic is about (for its uid); the store's snapshot. */
  readonly findObject: (kind: string, namespace: string, name: string) => KubeObject | undefined;
  /** reportingInstance / source.host: the pod name. */
  readonly instance: string;
  /** At most this many Events per build; the rest are only logged (a broken bulk apply must not
   *  turn into thousands of API calls). */
  readonly maxPerBuild?: number;
  readonly now?: () => number;
  /** Deadline of each API request (kube-rest's default: 10 s). */
  readonly requestTimeoutMs?: number;
}

export interface EventRecorderStats {
  created: number;
  patched: number;
  failures: number;
  /** Diagnostics not recorded because of maxPerBuild. */
  skipped: number;
}

interface Recorded {
  readonly name: string;
  readonly namespace: string;
  count: number;
  lastMs: number;
}

const EVENT_TTL_MS = 60 * 60 * 1000; // the API server's default --event-ttl

export class EventRecorder {
  readonly stats: EventRecorderStats = { created: 0, patched: 0, failures: 0, skipped: 0 };
  readonly #o: EventRecorderOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #current = new Set<string>();
  readonly #recorded = new Map<string, Recorded>();
  #chain: Promise<void> = Promise.resolve();

  constructor(options: EventRecorderOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'events' });
    this.#now = options.now ?? Date.now;
  }

  /** Record the diagnostics of a published build that were not there in the previous one. */
  record(diagnostics: readonly Diagnostic[]): void {
    const next = new Set<string>();
    const fresh: Diagnostic[] = [];
    for (const d of diagnostics) {
      // On Ingresses only, like ingress-nginx: that is where `kubectl describe` is looked at, and
      // Service-level ones (NoReadyEndpoints) flap with every rollout.
      if (d.object.kind !== 'Ingress') continue;
      const key = keyOf(d);
      next.add(key);
      if (!this.#current.has(key)) fresh.push(d);
    }
    // While not leader, nothing counts as recorded: the new leader reports what is wrong now.
    if (!this.#o.isLeader()) return;
    this.#current = next;
    if (fresh.length === 0) return;
    const limit = this.#o.maxPerBuild ?? 50;
    const batch = fresh.slice(0, limit);
    if (fresh.length > limit) {
      this.stats.skipped += fresh.length - limit;
      this.#log.warn({ skipped: fresh.length - limit }, 'too many new diagnostics for Events; the rest are only logged');
    }
    this.#chain = this.#chain.then(() => this.#emitAll(batch));
  }

  /** Leadership changed: on gaining it, everything currently wrong is new again. */
  reset(): void {
    this.#current = new Set();
  }

  /** Resolves when queued Events are written (tests, shutdown). */
  flush(): Promise<void> {
    return this.#chain;
  }

  async #emitAll(batch: readonly Diagnostic[]): Promise<void> {
    for (const d of batch) {
      try {
        await this.#emit(d);
      } catch (err) {
        this.stats.failures++;
        this.#log.warn({ err: describeError(err), kind: d.object.kind, namespace: d.object.namespace, name: d.object.name, reason: d.reason },
          'writing an Event failed');
      }
    }
  }

  async #emit(d: Diagnostic): Promise<void> {
    const key = keyOf(d);
    const now = this.#now();
    const time = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const earlier = this.#recorded.get(key);
    if (earlier !== undefined && now - earlier.lastMs < EVENT_TTL_MS) {
      try {
        // JSON Patch (what client-node's patchNamespacedEvent sent).
        await kubeRequest(this.#o.kubeConfig, 'PATCH', objectPath('', 'v1', 'events', earlier.namespace, earlier.name), [
          { op: 'replace', path: '/count', value: earlier.count + 1 },
          { op: 'replace', path: '/lastTimestamp', value: time },
        ], { contentType: JSON_PATCH, timeoutMs: this.#o.requestTimeoutMs });
        earlier.count++;
        earlier.lastMs = now;
        this.stats.patched++;
        return;
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
        // expired meanwhile: create a new one
      }
    }
    const { kind, namespace, name } = d.object;
    const eventNamespace = namespace === '' ? 'default' : namespace;
    const object = this.#o.findObject(kind, namespace, name);
    const eventName = `${name}.${randomBytes(8).toString('hex')}`;
    const body = {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: eventName, namespace: eventNamespace },
      involvedObject: {
        kind, name, ...(namespace !== '' ? { namespace } : {}),
        ...(object?.apiVersion !== undefined ? { apiVersion: object.apiVersion } : {}),
        ...(object?.metadata.uid !== undefined ? { uid: object.metadata.uid } : {}),
        ...(object?.metadata.resourceVersion !== undefined ? { resourceVersion: object.metadata.resourceVersion } : {}),
      },
      reason: d.reason,
      message: d.message,
      type: 'Warning', // every diagnostic is a problem; severity is in the log line
      source: { component: 'switchyard', host: this.#o.instance },
      reportingComponent: CONTROLLER_NAME,
      reportingInstance: this.#o.instance,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    await kubeRequest(this.#o.kubeConfig, 'POST', objectPath('', 'v1', 'events', eventNamespace, ''), body, { timeoutMs: this.#o.requestTimeoutMs });
    this.#recorded.set(key, { name: eventName, namespace: eventNamespace, count: 1, lastMs: now });
    this.stats.created++;
    if (this.#recorded.size > 10_000) {
      for (const [k, r] of this.#recorded) if (now - r.lastMs >= EVENT_TTL_MS) this.#recorded.delete(k);
    }
  }
}

function keyOf(d: Diagnostic): string {
  return `${d.object.kind}\u0000${d.object.namespace}\u0000${d.object.name}\u0000${d.reason}\u0000${d.message}`;
}
