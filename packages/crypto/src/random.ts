/**
 * Randomness source.
 *
 * Invariant: every key, nonce and salt in @hale/crypto comes from `randomBytes`, which draws only
 * from the platform CSPRNG (`crypto.getRandomValues`, present in Node 20, browsers and Electron).
 * Failure mode: without that global it throws rather than fall back to anything weaker.
 */
import { cryptoError } from './errors';

const MAX_PER_CALL = 65536; // getRandomValues quota per call

export function randomBytes(length: number): Uint8Array {
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
