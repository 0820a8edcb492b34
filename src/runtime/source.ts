/**
 * What the runtime needs from a source (file watcher, Kubernetes informers): start it, know when
 * its first complete state has reached the store (the sync gate), stop it. Sources write to the
 * Store through ChangeSink and must never throw out of their event handlers.
 */
export interface Source {
  /** Resolves once the source's whole initial state has been handed to the store. */
  readonly synced: Promise<void>;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}
