// The sorted list record lists follow: after random inserts, replacements and removals (seeded, so every
// run is the same) it holds exactly the items given, in the order a full sort gives.
import { describe, expect, it } from 'vitest';
import { createSortedList } from './sorted-list';

interface Item {
  readonly id: string;
  readonly key: number;
}
const compare = (a: Item, b: Item): number => a.key - b.key || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const idOf = (x: Item): string => x.id;
const fullSort = (items: Iterable<Item>): Item[] => [...items].sort(compare);

/** A small deterministic generator (mulberry32). */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

describe('createSortedList', () => {
  it('sorts what it starts with and keeps equal keys in id order', () => {
    const list = createSortedList(compare, [
      { id: 'c', key: 2 },
      { id: 'a', key: 2 },
      { id: 'b', key: 1 },
    ]);
    expect(list.items.map(idOf)).toEqual(['b', 'a', 'c']);
  });

  it('insert and remove keep the order; remove takes that very item, or answers false', () => {
    const list = createSortedList<Item>(compare);
    const same = { id: 'x', key: 5 };
    const twin = { id: 'x', key: 5 };
    list.insert(same);
    list.insert({ id: 'y', key: 1 });
    list.insert({ id: 'z', key: 9 });
    expect(list.items.map(idOf)).toEqual(['y', 'x', 'z']);
    expect(list.remove(twin)).toBe(false);
    expect(list.remove(same)).toBe(true);
    expect(list.items.map(idOf)).toEqual(['y', 'z']);
  });

  for (const seed of [1, 2, 3, 42, 2026]) {
    it(`apply matches a full sort after every step of random changes (seed ${seed})`, () => {
      const next = random(seed);
      const held = new Map<string, Item>();
      for (let i = 0; i < 300; i += 1) held.set(`r${i}`, { id: `r${i}`, key: Math.floor(next() * 50) });
      const list = createSortedList(compare, [...held.values()]);
      expect(list.apply([...held.values()], idOf)).toBe(0);
      let serial = 300;
      for (let step = 0; step < 400; step += 1) {
        const changes = 1 + Math.floor(next() * 4);
        for (let c = 0; c < changes; c += 1) {
          const roll = next();
          const ids = [...held.keys()];
          const pick = ids[Math.floor(next() * ids.length)];
          if (roll < 0.35 || pick === undefined) {
            const id = `r${serial++}`;
            held.set(id, { id, key: Math.floor(next() * 50) });
          } else if (roll < 0.7) {
            held.set(pick, { id: pick, key: Math.floor(next() * 50) });
          } else {
            held.delete(pick);
          }
        }
        // The live view hands its records newest written first, not in this order: shuffle them.
        const given = [...held.values()].sort(() => next() - 0.5);
        list.apply(given, idOf);
        expect(list.items).toEqual(fullSort(held.values()));
        expect(new Set(list.items).size).toBe(held.size);
      }
    });
  }

  it('an unchanged item keeps its very object; only changed ones count', () => {
    const a = { id: 'a', key: 1 };
    const b = { id: 'b', key: 2 };
    const list = createSortedList(compare, [a, b]);
    const b2 = { id: 'b', key: 0 };
    expect(list.apply([a, b2], idOf)).toBe(2); // b out, b2 in
    expect(list.items).toEqual([b2, a]);
    expect(list.items[1]).toBe(a);
  });

  it('an inconsistent order still leaves exactly the items given', () => {
    let flip = false;
    const chaotic = (): number => {
      flip = !flip;
      return flip ? -1 : 1;
    };
    const items = Array.from({ length: 40 }, (_, i) => ({ id: `i${i}`, key: i }));
    const list = createSortedList<Item>(chaotic, items);
    for (const x of items.slice(0, 20)) expect(list.remove(x)).toBe(true);
    expect(new Set(list.items)).toEqual(new Set(items.slice(20)));
  });
});
