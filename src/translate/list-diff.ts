// The difference between two snapshot lists of one kind, found by walking them side by side: the
// store keeps an unchanged object as the very same object and its lists sorted by namespace/name,
// so a one-object change costs pointer comparisons, not a lookup per object.
import type { KubeObject } from '../model/kube.ts';

export interface ListChange<T> {
  /** Objects of `last` not matched by the very same object in `next` (edited or gone). */
  readonly removed: readonly T[];
  /** Objects of `next` not matched in `last` (edited or new). */
  readonly added: readonly T[];
}

/**
 * `next` = `last` - removed + added (as multisets: true whatever the order of the lists; sorted
 * lists give the smallest diff). Null when more than `max` objects differ.
 */
export function diffLists<T extends KubeObject>(last: readonly T[], next: readonly T[], max: number): ListChange<T> | null {
  const removed: T[] = [];
  const added: T[] = [];
  let i = 0;
  let j = 0;
  while (i < last.length || j < next.length) {
    if (i < last.length && j < next.length && last[i] === next[j]) {
      i++;
      j++;
      continue;
    }
    // Not the same object: the one with the smaller key is gone/new; equal keys: an edit.
    const order = i === last.length ? 1 : j === next.length ? -1 : compareByName(last[i], next[j]);
    if (order <= 0) removed.push(last[i++]);
    if (order >= 0) added.push(next[j++]);
    if (removed.length + added.length > max) return null;
  }
  return { removed, added };
}

/** The store's list order: namespace ("" when absent), then name. */
export function compareByName(a: KubeObject, b: KubeObject): number {
  const na = a.metadata?.namespace ?? '';
  const nb = b.metadata?.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  const ma = a.metadata?.name ?? '';
  const mb = b.metadata?.name ?? '';
  return ma < mb ? -1 : ma > mb ? 1 : 0;
}
