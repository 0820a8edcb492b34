// Leader election on a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does it:
// every replica serves traffic; only the holder of the Lease writes status.
// - A Lease held by someone else counts as expired when its record has not changed for
//   leaseDuration by OUR clock (observed time), so clock skew between nodes does not matter.
// - The leader renews every retryPeriod; when it could not renew for renewDeadline it stops acting
//   as leader (renewDeadline < leaseDuration, so it stops before anyone else may take over). A
//   timer armed at each renewal enforces it and aborts the attempt in flight, so a request to an
//   API server that never answers cannot keep this replica leader (client-go runs each renewal
//   under a context with the renew deadline). Every request also has its own deadline.
// - stop() releases the Lease (empty holder, 1s duration) so a successor takes over at once.
// API calls: leases get, create, update in --pod-namespace (permissions.ts).
import { randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeError } from '../sources/kube/informer.ts';
import { DEFAULT_KUBE_REQUEST_TIMEOUT_MS, KubeApiTimeoutError, kubeRequest, objectPath } from '../sources/kube/kube-rest.ts';

export interface LeaderElectionOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** --pod-namespace */
  readonly namespace: string;
  /** --election-id */
  readonly name: string;
  /** Unique per replica: "<pod name>_<uuid>" by default. */
  readonly identity?: string;
  readonly podName?: string;
  /** client-go defaults: 15s / 10s / 2s. */
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** Deadline of each API request (kube-rest's default: 10 s); a leader's renewal is also cut at
   *  its renew deadline, whichever comes first. */
  readonly requestTimeoutMs?: number;
  readonly now?: () => number;
}

export interface LeaderElectionStats {
  /** Times this replica became leader. */
  acquired: number;
  /** Times it stopped being leader (renew deadline passed, or released). */
  lost: number;
  renewals: number;
  /** API calls that failed (network, 5xx, conflicts). */
  failures: number;
}

/** A coordination.k8s.io/v1 Lease as JSON: times are MicroTime strings (RFC 3339, six fractional
 *  digits), in both directions. */
interface Lease {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string };
  readonly spec?: {
    readonly holderIdentity?: string;
    readonly leaseDurationSeconds?: number;
    readonly acquireTime?: string;
    readonly renewTime?: string;
    readonly leaseTransitions?: number;
  };
}

interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: string | undefined;
  readonly renewTime: string | undefined;
  readonly leaseTransitions: number;
}

export class LeaderElector {
  readonly identity: string;
  readonly stats: LeaderElectionStats = { acquired: 0, lost: 0, renewals: 0, failures: 0 };
  readonly #kc: KubeConfig;
  readonly #log: Logger;
  readonly #namespace: string;
  readonly #name: string;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #requestTimeoutMs: number;
  readonly #now: () => number;
  readonly #listeners = new Set<(leader: boolean) => void>();
  #leader = false;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  /** The last record we saw and when (by our clock) it last changed. */
  #observed: string | undefined;
  #observedAt = 0;
  #lastRenew = 0;
  /** The acquire/renew attempt in flight: aborted when the renew deadline passes or on stop(). */
  #attempt: AbortController | undefined;
  /** Fires renewDeadline after the last successful renewal, while leader. */
  #deadlineTimer: NodeJS.Timeout | undefined;

  constructor(options: LeaderElectionOptions) {
    this.#kc = options.kubeConfig;
    this.#log = options.logger.child({ lease: `${options.namespace}/${options.name}` });
    this.#namespace = options.namespace;
    this.#name = options.name;
    this.identity = options.identity ?? `${options.podName || 'switchyard'}_${randomUUID()}`;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_KUBE_REQUEST_TIMEOUT_MS;
    this.#now = options.now ?? Date.now;
    if (!(this.#renewDeadlineMs < this.#leaseDurationMs)) throw new Error('leader election: renewDeadline must be shorter than leaseDuration');
    if (!(this.#retryPeriodMs < this.#renewDeadlineMs)) throw new Error('leader election: retryPeriod must be shorter than renewDeadline');
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Called with true when this replica becomes leader, false when it stops being leader. */
  onChange(listener: (leader: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#log.info({ identity: this.identity }, 'leader election started');
    this.#loop = this.#run();
  }

  /** Stops campaigning and, when leader, releases the Lease so another replica takes over now. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#timer);
    this.#wake?.();
    // The attempt in flight is of no use any more: cut it rather than wait for its deadline.
    this.#attempt?.abort(new Error('leader election stopped'));
    await settledWithin(this.#loop, this.#retryPeriodMs);
    if (this.#leader) {
      this.#setLeader(false); // stop writing first, then hand the Lease over
      const releaseMs = Math.min(this.#requestTimeoutMs, this.#renewDeadlineMs / 2);
      await settledWithin(this.#release(AbortSignal.timeout(releaseMs)), releaseMs);
    }
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const attempt = new AbortController();
      this.#attempt = attempt;
      try {
        await this.#tryAcquireOrRenew(attempt.signal);
      } catch (err) {
        this.stats.failures++;
        this.#log.error({ err }, 'leader election step failed unexpectedly');
      } finally {
        this.#attempt = undefined;
      }
      if (!this.#running) break;
      // Followers retry with jitter (client-go JitterFactor 1.2) so replicas do not move in lockstep.
      const delay = this.#leader ? this.#retryPeriodMs : this.#retryPeriodMs * (1 + 0.2 * Math.random());
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, delay);
      });
      this.#wake = undefined;
    }
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<void> {
    const now = this.#now();
    let lease: Lease | undefined;
    try {
      lease = await this.#request('GET', this.#name, undefined, signal);
    } catch (err) {
      if (statusCode(err) !== 404) return this.#failed(err, 'reading the Lease failed');
    }
    if (!this.#running) return;
    if (lease === undefined) {
      const record: LeaseRecord = {
        holderIdentity: this.identity, leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
        acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0,
      };
      const sentAt = this.#now();
      try {
        await this.#request('POST', '', leaseBody(this.#name, this.#namespace, undefined, record), signal);
      } catch (err) {
        return this.#failed(err, 'creating the Lease failed');
      }
      this.#succeeded(record, now, sentAt);
      return;
    }

    const current = readRecord(lease);
    const key = JSON.stringify(current);
    if (key !== this.#observed) {
      this.#observed = key;
      this.#observedAt = now;
    }
    const heldByOther = current.holderIdentity !== '' && current.holderIdentity !== this.identity;
    const durationMs = current.leaseDurationSeconds > 0 ? current.leaseDurationSeconds * 1000 : this.#leaseDurationMs;
    if (heldByOther && this.#observedAt + durationMs > now) {
      if (this.#leader) this.#setLeader(false); // someone else renewed: we lost it
      return;
    }
    const ours = current.holderIdentity === this.identity;
    const record: LeaseRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
      acquireTime: ours && current.acquireTime !== undefined ? current.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: ours ? current.leaseTransitions : current.leaseTransitions + 1,
    };
    const sentAt = this.#now();
    try {
      // resourceVersion makes this a compare-and-swap: two replicas cannot both take the Lease.
      await this.#request('PUT', this.#name, leaseBody(this.#name, this.#namespace, lease.metadata?.resourceVersion, record), signal);
    } catch (err) {
      return this.#failed(err, ours ? 'renewing the Lease failed' : 'taking the Lease failed');
    }
    if (ours) this.stats.renewals++;
    else if (current.holderIdentity !== '') this.#log.info({ previous: current.holderIdentity }, 'took over an expired Lease');
    this.#succeeded(record, now, sentAt);
  }

  /** `sentAt`: when the write that succeeded was sent. The API server stored it after that, so no
   *  other replica can have seen the record change earlier: the renew deadline counts from there. */
  #succeeded(record: LeaseRecord, now: number, sentAt: number): void {
    this.#observed = JSON.stringify(record);
    this.#observedAt = now;
    this.#lastRenew = sentAt;
    if (!this.#leader) this.#setLeader(true);
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = setTimeout(() => this.#renewDeadlinePassed(), this.#renewDeadlineMs - (this.#now() - sentAt));
    this.#deadlineTimer.unref(); // the loop's timer keeps the process alive, not this one
  }

  /** No successful renewal for renewDeadline: stop acting as leader now, before the Lease can
   *  expire for the others, whether the attempt in flight failed, hangs or was never sent. */
  #renewDeadlinePassed(): void {
    this.#deadlineTimer = undefined;
    if (!this.#leader) return;
    this.#log.error({ sinceRenewMs: this.#now() - this.#lastRenew, renewDeadlineMs: this.#renewDeadlineMs, reason: 'RenewDeadlineExceeded' },
      'could not renew the Lease within the renew deadline; no longer leader');
    this.#setLeader(false);
    this.#attempt?.abort(new KubeApiTimeoutError('renewing the Lease', this.#renewDeadlineMs));
  }

  #failed(err: unknown, message: string): void {
    if (!this.#running) return; // stop() cut it
    this.stats.failures++;
    if (statusCode(err) === 409) {
      this.#log.debug({ err: describeError(err) }, `${message}: conflict`);
    } else {
      this.#log.warn({ err: describeError(err) }, message);
    }
  }

  async #release(signal: AbortSignal): Promise<void> {
    try {
      const lease = await this.#request('GET', this.#name, undefined, signal);
      const current = readRecord(lease);
      if (current.holderIdentity !== this.identity) return;
      const now = this.#now();
      await this.#request('PUT', this.#name, leaseBody(this.#name, this.#namespace, lease.metadata?.resourceVersion, {
        holderIdentity: '', leaseDurationSeconds: 1, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: current.leaseTransitions,
      }), signal);
      this.#log.info('released the Lease');
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'releasing the Lease failed; another replica takes over when it expires');
    }
  }

  /** GET/PUT the Lease (name) or POST to the collection (''). The answer is raw JSON: its times
   *  are the MicroTime strings the API server sent, not Dates. */
  #request(method: 'GET' | 'POST' | 'PUT', name: string, body: Lease | undefined, signal: AbortSignal): Promise<Lease> {
    return kubeRequest<Lease>(this.#kc, method, objectPath('coordination.k8s.io', 'v1', 'leases', this.#namespace, name), body,
      { timeoutMs: this.#requestTimeoutMs, signal });
  }

  #setLeader(leader: boolean): void {
    if (this.#leader === leader) return;
    this.#leader = leader;
    if (leader) {
      this.stats.acquired++;
      this.#log.info({ identity: this.identity }, 'became leader');
    } else {
      clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = undefined;
      this.stats.lost++;
      this.#log.info({ identity: this.identity }, 'stopped being leader');
    }
    for (const listener of this.#listeners) {
      try {
        listener(leader);
      } catch (err) {
        this.#log.error({ err }, 'leader change listener threw');
      }
    }
  }
}

/** Times go out as MicroTime strings (JSON.stringify sends them as they are). */
function leaseBody(name: string, namespace: string, resourceVersion: string | undefined, spec: LeaseRecord): Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: { name, namespace, ...(resourceVersion !== undefined ? { resourceVersion } : {}) },
    spec,
  };
}

/** Waits for `promise` but at most `ms`; never throws. */
export async function settledWithin(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (promise === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.then(() => undefined, () => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

function readRecord(lease: Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: timeString(spec.acquireTime),
    renewTime: timeString(spec.renewTime),
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

/** The time as the API server sent it (kept as is, so a renewal resends acquireTime unchanged). */
function timeString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** metav1.MicroTime wire format: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, -1)}000Z`;
}

export function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}
