// The kept-key list itself: never written without its load (a partial list would replace the stored one),
// written once for a burst of keys, and once more at a drop; a failed load loads nothing.
import { describe, expect, it } from 'vitest';
import { base64urlEncode, generateStreamKey } from '@hale/crypto';
import { createKeyCache, type CachedKey } from './key-cache';

const store = (kept: CachedKey[] = [], failLoad = false) => {
  const s = { kept, saves: 0, errors: 0 };
  return {
    s,
    store: {
      load: async () => {
        if (failLoad) throw new Error('at-rest open failed');
        return s.kept;
      },
      save: async (all: CachedKey[]) => {
        s.saves++;
        s.kept = all;
      },
      onError: () => void s.errors++,
    },
  };
};

describe('kept keys list', () => {
  it('writes nothing when it was never loaded', async () => {
    const stored = [{ stream: 'p/allergy', epoch: 0, key: base64urlEncode(generateStreamKey()) }];
    const { s, store: st } = store(stored);
    const cache = createKeyCache(st);
    cache.add('p/labs', 0, generateStreamKey());
    await cache.flush();
    cache.drop();
    await cache.flush();
    expect(s.saves).toBe(0);
    expect(s.kept).toBe(stored);
  });

  it('after its load, a burst of keys is one write of the whole list', async () => {
    const old = { stream: 'p/allergy', epoch: 0, key: base64urlEncode(generateStreamKey()) };
    const { s, store: st } = store([old]);
    const cache = createKeyCache(st);
    expect(await cache.load()).toHaveLength(1);
    for (let i = 0; i < 50; i++) cache.add(`p/s${i}`, 0, generateStreamKey());
    await cache.flush();
    expect(s.saves).toBe(1);
    expect(s.kept).toHaveLength(51);
    expect(s.kept[0]).toEqual(old);
  });

  it('a store that cannot be read loads nothing and is reported', async () => {
    const { s, store: st } = store([], true);
    const cache = createKeyCache(st);
    expect(await cache.load()).toEqual([]);
    expect(s.errors).toBe(1);
  });
});

describe('kept keys list: what the store holds now (seal once)', () => {
  it('a key is durable once loaded or saved as those bytes, not before, nor once its stream is removed', async () => {
    const k0 = generateStreamKey();
    const { s, store: st } = store([{ stream: 'p/allergy', epoch: 0, key: base64urlEncode(k0) }]);
    const cache = createKeyCache(st);
    await cache.load();
    expect(cache.durable('p/allergy', 0, k0)).toBe(true);
    // Another key under the same (stream, epoch) is not what the store holds.
    expect(cache.durable('p/allergy', 0, generateStreamKey())).toBe(false);

    const k1 = generateStreamKey();
    cache.add('p/labs', 0, k1);
    expect(cache.durable('p/labs', 0, k1)).toBe(false);
    // Saved now, not SAVE_DELAY_MS later.
    await cache.persist();
    expect(s.saves).toBe(1);
    expect(cache.durable('p/labs', 0, k1)).toBe(true);

    cache.removeStream('p/labs');
    expect(cache.durable('p/labs', 0, k1)).toBe(false);
    await cache.persist();
    expect(s.kept.map((e) => e.stream)).toEqual(['p/allergy']);
    expect(cache.durable('p/labs', 0, k1)).toBe(false);
    cache.drop();
    expect(cache.durable('p/allergy', 0, k0)).toBe(false);
  });

  it('a failed save makes nothing durable', async () => {
    const k = generateStreamKey();
    const s = { errors: 0 };
    const cache = createKeyCache({
      load: async () => [],
      save: async () => {
        throw new Error('disk full');
      },
      onError: () => void s.errors++,
    });
    await cache.load();
    cache.add('p/labs', 0, k);
    await cache.persist();
    expect(s.errors).toBe(1);
    expect(cache.durable('p/labs', 0, k)).toBe(false);
  });
});
