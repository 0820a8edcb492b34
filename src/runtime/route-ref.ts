/**
 * The one piece of shared mutable state on the data plane: the current route table. The controller
 * swaps it with one assignment; each request reads `current` once and keeps that table for its life.
 */
export class RouteRef<T> {
  current: T;
  version = 0;
  readonly #listeners = new Set<(table: T, version: number) => void>();

  constructor(initial: T) {
    this.current = initial;
  }

  /**
   * Publishes `next`. Every listener runs even if one throws; the first error is rethrown after
   * them (the swap itself has happened by then).
   */
  swap(next: T): void {
    this.current = next;
    this.version++;
    let failure: { error: unknown } | null = null;
    for (const listener of this.#listeners) {
      try {
        listener(next, this.version);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== null) throw failure.error;
  }

  /** Tests and the admin server wait on swaps here instead of sleeping. */
  onSwap(listener: (table: T, version: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
