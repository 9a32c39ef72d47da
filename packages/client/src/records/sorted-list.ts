/**
 * A list kept sorted as its items change, for record lists that follow a live view.
 *
 * | call | does | cost |
 * |---|---|---|
 * | `createSortedList(compare, items)` | sorts `items` once | O(n log n) comparisons |
 * | `insert(item)` | puts it where the order says (after equal ones) | O(log n) comparisons, one splice |
 * | `remove(item)` | takes that very item out (by identity); false if absent | O(log n) comparisons, one splice |
 * | `apply(next, idOf)` | makes the list hold `next` (any order): by identity, only what changed moves | O(n) identity checks, O(log n) per change |
 * | `items` | the items, in order (read it, do not keep it across changes) | — |
 *
 * Invariants: `items` is sorted by `compare` after every call; an item unchanged (the same object) keeps
 * its place. `apply` with more than a quarter of the list changed sorts again instead (cheaper then).
 * Failure modes: a `compare` that is no total order (inconsistent) still gives a list holding exactly the
 * items given (`remove` falls back to a scan when the search misses), in the order the searches met.
 */
export interface SortedList<T> {
  readonly items: readonly T[];
  insert(item: T): void;
  remove(item: T): boolean;
  /** Holds `next` from now on; answers how many items were inserted, removed or replaced. */
  apply(next: readonly T[], idOf: (item: T) => string): number;
}

export function createSortedList<T>(
  compare: (a: T, b: T) => number,
  initial: readonly T[] = [],
): SortedList<T> {
  let items: T[] = [...initial].sort(compare);
  /** The first index whose item sorts after `item` (upper bound). */
  const after = (item: T): number => {
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(items[mid] as T, item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  /** The first index whose item does not sort before `item` (lower bound). */
  const from = (item: T): number => {
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(items[mid] as T, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const insert = (item: T): void => {
    items.splice(after(item), 0, item);
  };
  const remove = (item: T): boolean => {
    for (let i = from(item); i < items.length && compare(items[i] as T, item) === 0; i += 1) {
      if (items[i] === item) {
        items.splice(i, 1);
        return true;
      }
    }
    const at = items.indexOf(item);
    if (at < 0) return false;
    items.splice(at, 1);
    return true;
  };
  let byId = new Map<string, T>();
  let idsKnown = false;
  return {
    get items() {
      return items;
    },
    insert(item) {
      idsKnown = false;
      insert(item);
    },
    remove(item) {
      idsKnown = false;
      return remove(item);
    },
    apply(next, idOf) {
      if (!idsKnown) {
        byId = new Map(items.map((x) => [idOf(x), x]));
        idsKnown = true;
      }
      const seen = new Map<string, T>();
      const added: T[] = [];
      const gone: T[] = [];
      for (const item of next) {
        const id = idOf(item);
        seen.set(id, item);
        const held = byId.get(id);
        if (held === item) continue;
        if (held !== undefined) gone.push(held);
        added.push(item);
      }
      for (const [id, held] of byId) if (!seen.has(id)) gone.push(held);
      byId = seen;
      const changes = added.length + gone.length;
      if (changes === 0) return 0;
      if (changes * 4 > items.length) {
        items = [...next].sort(compare);
        return changes;
      }
      for (const item of gone) remove(item);
      for (const item of added) insert(item);
      return changes;
    },
  };
}
