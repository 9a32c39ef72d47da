import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRecentMap } from './recent-map';

describe('createRecentMap', () => {
  it('answers like a Map for the last `keep` keys written, never a stale value, and holds at most 2 × keep', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.tuple(fc.constantFrom('set', 'delete'), fc.integer({ min: 0, max: 40 }), fc.nat())),
        (keep, ops) => {
          const recent = createRecentMap<number, number>(keep);
          const model = new Map<number, number>();
          const order: number[] = [];
          for (const [op, k, v] of ops) {
            if (op === 'set') {
              recent.set(k, v);
              model.set(k, v);
              order.push(k);
            } else {
              recent.delete(k);
              model.delete(k);
            }
            expect(recent.size).toBeLessThanOrEqual(2 * keep);
          }
          // Whatever it answers is the latest value; the last `keep` distinct keys written are all there.
          for (const [k, v] of model) {
            const got = recent.get(k);
            if (got !== undefined) expect(got).toBe(v);
          }
          const lastKeys = [...new Set([...order].reverse())].slice(0, keep);
          for (const k of lastKeys) if (model.has(k)) expect(recent.get(k)).toBe(model.get(k));
          for (const k of [...Array(41).keys()]) if (!model.has(k)) expect(recent.get(k)).toBeUndefined();
        },
      ),
    );
  });

  it('with a weight, holds at most 2 × its keep in weight (or 2 × its heaviest entry) and remembers what the last writes within it wrote', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 60 }))),
        (keepWeight, writes) => {
          const recent = createRecentMap<number, number>(1000, { keep: keepWeight, of: (w) => w });
          const model = new Map<number, number>();
          for (const [k, w] of writes) {
            recent.set(k, w);
            model.set(k, w);
            const held = [...model].filter(([key]) => recent.get(key) !== undefined);
            const weight = held.reduce((sum, [, v]) => sum + v, 0);
            const heaviest = Math.max(0, ...held.map(([, v]) => v));
            expect(weight).toBeLessThanOrEqual(2 * Math.max(keepWeight, heaviest));
            expect(recent.get(k)).toBe(w);
          }
          // An entry is there while the writes since (its own included) weigh at most keepWeight.
          let sum = 0;
          const seen = new Set<number>();
          for (const [k, w] of [...writes].reverse()) {
            sum += w;
            if (sum > keepWeight && seen.size > 0) break;
            if (!seen.has(k)) expect(recent.get(k)).toBe(model.get(k));
            seen.add(k);
          }
        },
      ),
    );
  });
});
