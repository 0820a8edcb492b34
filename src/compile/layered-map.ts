// A read-only Map made of a large shared base and a small overlay of changes, so that the next
// route table's upstream map and host index cost O(changed) to build, not O(all): copying a
// 10,000-entry Map costs about as much as building it (~4 ms here). The base is never mutated
// once a table holds it; each table gets its own overlay. When the overlay grows past a fraction
// of the base, the next table folds it into a fresh base (amortized O(1) per change).

/** Overlay value of a key removed from the base. */
const REMOVED: unique symbol = Symbol('removed');

/** Overlay entries allowed before folding: a sixteenth of the base, at least this many. */
const MIN_FOLD_AT = 64;

export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  readonly #base: ReadonlyMap<K, V>;
  readonly #overlay: ReadonlyMap<K, V | typeof REMOVED>;
  readonly #size: number;

  constructor(base: ReadonlyMap<K, V> = new Map(), overlay: ReadonlyMap<K, V | typeof REMOVED> = new Map(), size = base.size) {
    this.#base = base;
    this.#overlay = overlay;
    this.#size = size;
  }

  /** A map holding `entries` (later entries of a key win, as Map.set). */
  static of<K, V>(entries: Iterable<readonly [K, V]>): LayeredMap<K, V> {
    const base = new Map<K, V>();
    for (const [k, v] of entries) base.set(k, v);
    return new LayeredMap(base);
  }

  get size(): number {
    return this.#size;
  }

  /** hot path (HostIndex.find): one lookup when nothing changed since the last fold, else two. */
  get(key: K): V | undefined {
    if (this.#overlay.size !== 0) {
      const v = this.#overlay.get(key);
      if (v !== undefined) return v === REMOVED ? undefined : v;
    }
    return this.#base.get(key);
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * This map with `set` entries set and `removed` keys taken out (a key in both ends up set), as a
   * new map; this one is unchanged. Values are never undefined.
   */
  with(set: ReadonlyMap<K, V>, removed: Iterable<K>): LayeredMap<K, V> {
    const base = this.#base;
    const overlay = new Map(this.#overlay);
    const present = (key: K): boolean => {
      const over = overlay.get(key);
      return over === undefined ? base.has(key) : over !== REMOVED;
    };
    let size = this.#size;
    for (const key of removed) {
      if (set.has(key) || !present(key)) continue;
      size--;
      if (base.has(key)) overlay.set(key, REMOVED);
      else overlay.delete(key);
    }
    for (const [key, value] of set) {
      if (!present(key)) size++;
      overlay.set(key, value);
    }
    if (overlay.size <= Math.max(MIN_FOLD_AT, this.#base.size >> 4)) return new LayeredMap(this.#base, overlay, size);
    return LayeredMap.of(new LayeredMap(this.#base, overlay, size));
  }

  *entries(): MapIterator<[K, V]> {
    const overlay = this.#overlay;
    for (const [key, value] of this.#base) {
      const over = overlay.size === 0 ? undefined : overlay.get(key);
      if (over === undefined) yield [key, value];
      else if (over !== REMOVED) yield [key, over];
    }
    for (const [key, value] of overlay) if (value !== REMOVED && !this.#base.has(key)) yield [key, value];
  }

  *keys(): MapIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }
}
