/**
 * Randomness source.
 *
 * Invariant: every key, nonce and salt in @hale/crypto comes from `randomBytes`, which draws only
 * from the platform CSPRNG (`crypto.getRandomValues`, present in Node 20, browsers and Electron).
 * Small requests (nonces) are served from a pool refilled 4 KiB at a time: one getRandomValues call
 * costs as much as sealing a small record, and pooled CSPRNG output is as good as fresh. Every pooled
 * byte (keys' too) is handed out once and wiped as it goes, so zeroing a key leaves no copy of it in
 * the pool; what the pool holds is the bytes not drawn yet (at most 4 KiB: the next keys and nonces).
 * Failure mode: without that global it throws rather than fall back to anything weaker.
 */
import { cryptoError } from './errors';

const MAX_PER_CALL = 65536; // getRandomValues quota per call

const POOL_SIZE = 4096;
const POOLED_MAX = 64;
let pool: Uint8Array = new Uint8Array(0);
let poolAt = 0;

export function randomBytes(length: number): Uint8Array {
  if (Number.isSafeInteger(length) && length > 0 && length <= POOLED_MAX) {
    if (poolAt + length > pool.length) {
      pool = freshRandomBytes(POOL_SIZE);
      poolAt = 0;
    }
    const out = pool.slice(poolAt, poolAt + length);
    pool.fill(0, poolAt, poolAt + length);
    poolAt += length;
    return out;
  }
  return freshRandomBytes(length);
}

function freshRandomBytes(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0)
    throw cryptoError('INVALID_INPUT', 'randomBytes: bad length');
  const source = globalThis.crypto;
  if (typeof source?.getRandomValues !== 'function') {
    throw cryptoError('INVALID_INPUT', 'randomBytes: crypto.getRandomValues is not available');
  }
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += MAX_PER_CALL) {
    source.getRandomValues(out.subarray(i, Math.min(length, i + MAX_PER_CALL)));
  }
  return out;
}
