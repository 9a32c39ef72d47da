/*
 * Conformance of `SyncStore.availability` (types.ts), declared inside `runStoreConformance`: only a higher
 * version replaces the stored one, the same document again is `same`, anything else `stale`; racing puts
 * end with the highest version stored, and each put that answered `stored` was above every earlier one.
 */
import { describe, expect, it } from 'vitest';
import type { AvailabilityEntry, SyncStore } from './types';
import { isStoreError } from './types';

const entry = (version: number, note = 'x'): AvailabilityEntry => ({
  accountId: 'ProviderAccount_000001',
  version,
  signed: { version, note, slots: [{ start: '2030-01-01T09:00:00.000Z' }] },
  updatedAt: `2030-01-01T00:00:0${version % 10}.000Z`,
});

export const describeAvailabilityConformance = (store: () => SyncStore): void => {
  describe('availability', () => {
    it('stores a higher version only; the same again is same, another at or below is stale', async () => {
      expect(await store().availability.get(entry(1).accountId)).toBeNull();
      expect(await store().availability.put(entry(2))).toEqual({ outcome: 'stored', version: 2 });
      expect(await store().availability.put(entry(2))).toEqual({ outcome: 'same', version: 2 });
      expect(await store().availability.put(entry(2, 'other'))).toEqual({ outcome: 'stale', version: 2 });
      expect(await store().availability.put(entry(1))).toEqual({ outcome: 'stale', version: 2 });
      expect(await store().availability.get(entry(1).accountId)).toEqual(entry(2));
      expect(await store().availability.put(entry(3))).toEqual({ outcome: 'stored', version: 3 });
      expect(await store().availability.get(entry(1).accountId)).toEqual(entry(3));
    });

    it('refuses a version below 1, storing nothing', async () => {
      await expect(store().availability.put(entry(0))).rejects.toSatisfy((e) => isStoreError(e, 'INVALID'));
      expect(await store().availability.get(entry(0).accountId)).toBeNull();
    });

    it('racing puts end with the highest version', async () => {
      const results = await Promise.all([5, 2, 4, 3, 6, 1].map((v) => store().availability.put(entry(v))));
      expect(results.some((r) => r.outcome === 'stored')).toBe(true);
      expect(results[4]).toEqual({ outcome: 'stored', version: 6 });
      expect((await store().availability.get(entry(1).accountId))?.version).toBe(6);
    });
  });
};
