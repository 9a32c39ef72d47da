/**
 * Hash and key-derivation primitives (SHA-256, HKDF-SHA256) from @noble/hashes.
 *
 * Invariants: every derived value uses a distinct ASCII label ("hale/<purpose>/v<n>") as HKDF
 * info or as a hash prefix, so outputs for different purposes are independent. Labels are fixed
 * strings, so prefixing them to variable data cannot be ambiguous.
 * Failure mode: bad lengths throw HaleCryptoError INVALID_INPUT.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { cryptoError } from './errors';
import { utf8Encode } from './encoding';

export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** sha256(utf8(label) ‖ parts…) — for fixed labels only. */
export function labeledSha256(label: string, ...parts: readonly Uint8Array[]): Uint8Array {
  const h = nobleSha256.create();
  h.update(utf8Encode(label));
  for (const p of parts) h.update(p);
  return h.digest();
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nobleSha256, key, data);
}

/** HKDF-SHA256 (RFC 5869). `info` strings are UTF-8 encoded; salt defaults to empty (zeros). */
export function hkdfSha256(
  ikm: Uint8Array,
  info: string | Uint8Array,
  length = 32,
  salt?: Uint8Array,
): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 1 || length > 255 * 32) {
    throw cryptoError('INVALID_INPUT', 'hkdf: bad output length');
  }
  const infoBytes = typeof info === 'string' ? utf8Encode(info) : info;
  return hkdf(nobleSha256, ikm, salt, infoBytes, length);
}
