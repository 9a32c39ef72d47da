// Secret keys (device seeds, stream keys, ephemeral X25519 keys, root secrets) are drawn through the same
// pool as nonces. A key handed out must leave no copy in the pool: zeroing the key (an account's lock)
// would otherwise leave it readable in module memory until the pool happens to be refilled. Seen through
// the array the pool hands to getRandomValues (the pool itself, viewed), on a fresh module each time.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as Random from './random';

let filled: Uint8Array[] = [];
let fresh: typeof Random;

beforeEach(async () => {
  filled = [];
  const source = globalThis.crypto;
  // randomBytes fills only Uint8Arrays.
  const real = source.getRandomValues.bind(source) as (array: Uint8Array) => Uint8Array;
  const recording = (array: Uint8Array): Uint8Array => {
    filled.push(array);
    return real(array);
  };
  vi.spyOn(source, 'getRandomValues').mockImplementation(recording as typeof source.getRandomValues);
  vi.resetModules();
  fresh = await import('./random');
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Whether `needle` occurs anywhere in `hay`. */
const contains = (hay: Uint8Array, needle: Uint8Array): boolean => {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
};

describe('randomBytes pool', () => {
  it('keeps no copy of a 32-byte key it handed out, before or after the key is zeroed', () => {
    const key = fresh.randomBytes(32);
    expect(filled).toHaveLength(1);
    const pool = filled[0]!;
    expect(pool.length).toBeGreaterThan(32);
    const copy = key.slice();
    expect(contains(pool, copy)).toBe(false);
    expect(pool.subarray(0, 32).every((b) => b === 0)).toBe(true);
    key.fill(0);
    expect(contains(pool, copy)).toBe(false);
    // The rest of the pool is still there, for the next requests (not handed out yet, so no one's secret).
    expect(pool.subarray(32).some((b) => b !== 0)).toBe(true);
  });

  it('keeps no copy of any pooled draw through a refill, and hands out distinct bytes', () => {
    const keys = Array.from({ length: 300 }, () => fresh.randomBytes(32));
    expect(filled.length).toBeGreaterThan(1);
    for (const pool of filled) for (const key of keys) expect(contains(pool, key)).toBe(false);
    expect(new Set(keys.map((k) => k.join(','))).size).toBe(keys.length);
  });

  it('draws larger requests fresh, each its own array', () => {
    const big = fresh.randomBytes(65);
    expect(filled).toHaveLength(1);
    expect(filled[0]!.buffer).toBe(big.buffer);
  });
});
