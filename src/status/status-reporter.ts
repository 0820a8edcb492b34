// Everything the Kubernetes mode writes back to the cluster, wired in one place: leader election,
// Ingress status (--update-status) and Events for diagnostics. Every replica campaigns and serves
// traffic; only the leader writes. Shaped like a runtime Source (start/stop/synced) so main.ts can
// start and stop it with the informers; it never gates readiness (`synced` is already resolved).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { KubeKind, KubeObject } from '../model/kube.ts';
import type { Snapshot, TranslateOptions } from '../model/snapshot.ts';
import { EventRecorder } from './event-recorder.ts';
import { LeaderElector, settledWithin } from './leader-election.ts';
import { IngressStatusWriter } from './status-writer.ts';

export interface StatusReporterOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly store: {
    snapshot(): Snapshot;
    get(kind: KubeKind, namespace: string, name: string): KubeObject | undefined;
  };
  readonly controller: {
    onPublish(listener: (published: { readonly diagnostics: readonly Diagnostic[] }) => void): () => void;
    readonly diagnostics: readonly Diagnostic[];
  };
  readonly translateOptions: TranslateOptions;
  readonly updateStatus: boolean;
  readonly publishService: { readonly namespace: string; readonly name: string } | null;
  readonly publishStatusAddress: readonly string[];
  readonly electionId: string;
  readonly podNamespace: string;
  readonly podName: string;
  /** Test knobs: client-go's 15s/10s/2s by default; status resync 60s. */
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly statusResyncMs?: number;
  /** Deadline of each API request (kube-rest's default: 10 s). */
  readonly requestTimeoutMs?: number;
}

export class StatusReporter {
  readonly synced: Promise<void> = Promise.resolve();
  readonly elector: LeaderElector;
  readonly statusWriter: IngressStatusWriter | null;
  readonly events: EventRecorder;
  readonly #o: StatusReporterOptions;
  readonly #unsubscribe: (() => void)[] = [];

  constructor(options: StatusReporterOptions) {
    this.#o = options;
    const { kubeConfig, logger } = options;
    this.elector = new LeaderElector({
      kubeConfig, logger, namespace: options.podNamespace, name: options.electionId, podName: options.podName,
      leaseDurationMs: options.leaseDurationMs, renewDeadlineMs: options.renewDeadlineMs, retryPeriodMs: options.retryPeriodMs,
      requestTimeoutMs: options.requestTimeoutMs,
    });
    const isLeader = () => this.elector.isLeader;
    this.statusWriter = options.updateStatus
      ? new IngressStatusWriter({
        kubeConfig, logger, isLeader, snapshot: () => options.store.snapshot(), translateOptions: options.translateOptions,
        publishService: options.publishService, publishStatusAddress: options.publishStatusAddress,
        resyncMs: options.statusResyncMs, requestTimeoutMs: options.requestTimeoutMs,
      })
      : null;
    if (options.updateStatus && options.publishService === null && options.publishStatusAddress.length === 0) {
      logger.warn('--update-status is on but neither --publish-service nor --publish-status-address is set: Ingress status is not written');
    }
    this.events = new EventRecorder({
      kubeConfig, logger, isLeader, instance: options.podName || this.elector.identity, requestTimeoutMs: options.requestTimeoutMs,
      findObject: (kind, namespace, name) => options.store.get(kind as KubeKind, namespace, name),
    });
  }

  start(): void {
    const { controller } = this.#o;
    this.#unsubscribe.push(controller.onPublish((published) => {
      // The first publish comes after every informer synced: before that a partial view (an
      // IngressClass not listed yet) could make us claim an Ingress that is not ours.
      this.statusWriter?.start();
      this.statusWriter?.trigger();
      this.events.record(published.diagnostics);
    }));
    this.#unsubscribe.push(this.elector.onChange((leader) => {
      if (!leader) {
        this.statusWriter?.cancelWrites(); // a former leader's write must not land later
        return;
      }
      // A new leader catches up: status of every owned Ingress, Events for what is wrong now.
      this.statusWriter?.trigger();
      this.events.reset();
      this.events.record(controller.diagnostics);
    }));
    this.elector.start();
  }

  /** Stops writing, then releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    await this.statusWriter?.stop();
    await settledWithin(this.events.flush(), 2_000);
    await this.elector.stop();
  }
}
