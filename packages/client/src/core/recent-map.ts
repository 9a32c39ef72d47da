/**
 * A map that remembers at least the last `keep` entries written (at most 2 × `keep`), in O(1) per
 * operation: two generations, the current one taking writes and the previous one still read; when the
 * current one is full it becomes the previous one and the oldest generation is dropped.
 *
 * - With `weight`, a generation is also full once its entries weigh `weight.keep` (weights
 *   must not change while held): the map then weighs at most 2 × the larger of `weight.keep`
 *   and its heaviest entry, and remembers an entry while the writes since (its own
 *   included) weigh at most `weight.keep` (the last one always).
 *
 * Why not one Map evicting `keys().next()`: V8 leaves deleted slots at the front of a Map's table
 * until it rehashes, so every eviction scans the holes before it (≈1.3 µs per write at 4,096 entries,
 * measured), which cost more than the memory saved.
 */
export interface RecentMap<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  delete(key: K): void;
  readonly size: number;
}

/** A bound by weight (bytes, characters) beside the bound by count. */
export interface RecentWeight<K, V> {
  readonly keep: number;
  readonly of: (value: V, key: K) => number;
}

export function createRecentMap<K, V>(
  keep: number,
  weight?: RecentWeight<NoInfer<K>, NoInfer<V>>,
): RecentMap<K, V> {
  const generation = Math.max(1, Math.ceil(keep));
  let current = new Map<K, V>();
  let previous = new Map<K, V>();
  let currentWeight = 0;
  return {
    get(key) {
      return current.get(key) ?? previous.get(key);
    },
    set(key, value) {
      const w = weight === undefined ? 0 : weight.of(value, key);
      const replacing = current.has(key);
      if (weight !== undefined && replacing) currentWeight -= weight.of(current.get(key) as V, key);
      const countFull = current.size >= generation && !replacing;
      const weightFull = weight !== undefined && currentWeight > 0 && currentWeight + w > weight.keep;
      if (countFull || weightFull) {
        previous = current;
        current = new Map();
        currentWeight = 0;
      }
      // The newest value wins: an older one left in the previous generation must not resurface.
      previous.delete(key);
      current.set(key, value);
      currentWeight += w;
    },
    delete(key) {
      if (weight !== undefined && current.has(key)) currentWeight -= weight.of(current.get(key) as V, key);
      current.delete(key);
      previous.delete(key);
    },
    get size() {
      return current.size + previous.size;
    },
  };
}
