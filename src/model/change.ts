import type { KubeKind, KubeObject } from './kube.ts';

/** What sources send to the store: the latest state of one object, or its removal. */
export type Change =
  | { readonly type: 'upsert'; readonly object: KubeObject }
  | { readonly type: 'delete'; readonly kind: KubeKind; readonly namespace: string; readonly name: string };

/**
 * The sink every source writes to (the Store implements it). `replace` hands over a source's whole
 * state for a kind at once (first list, relist after 410, a re-read folder) so stale objects vanish.
 */
export interface ChangeSink {
  apply(change: Change): void;
  replace(kind: KubeKind, objects: readonly KubeObject[]): void;
}
