/**
 * Hash and key-derivation primitives (SHA-256, HMAC-SHA256, HKDF-SHA256) from @noble/hashes.
 *
 * A host may install a faster SHA-256 / HMAC-SHA256 with the same outputs for its thread (`useHashes`,
 * as `useSecretbox`): node:crypto's (`createNodeHashes` of @hale/crypto/node). @noble/hashes stays the
 * reference and the fallback (`useHashes(null)`, or a host that installs none); the node entry's tests
 * cross-check the two.
 *
 * Invariants: every derived value uses a distinct ASCII label ("hale/<purpose>/v<n>") as HKDF
 * info or as a hash prefix, so outputs for different purposes are independent. Labels are fixed
 * strings, so prefixing them to variable data cannot be ambiguous. Whichever implementation runs,
 * the answer is a fresh Uint8Array of 32 bytes the caller owns.
 * Failure mode: bad lengths throw HaleCryptoError INVALID_INPUT.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { cryptoError } from './errors';
import { utf8Encode } from './encoding';

/** The same SHA-256 and HMAC-SHA256 as @noble/hashes', faster; installed per thread with `useHashes`. */
export interface FastHashes {
  readonly name: string;
  /** sha256(parts[0] ‖ parts[1] ‖ …). */
  sha256(parts: readonly Uint8Array[]): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
}

let fast: FastHashes | null = null;

/** Installs `impl` for every SHA-256 and HMAC-SHA256 of this thread (null: @noble/hashes again). */
export function useHashes(impl: FastHashes | null): void {
  fast = impl;
}

/** The implementation this thread hashes with: the installed one's name, or `@noble/hashes`. */
export function hashesName(): string {
  return fast?.name ?? '@noble/hashes';
}

export function sha256(data: Uint8Array): Uint8Array {
  return fast !== null ? fast.sha256([data]) : nobleSha256(data);
}

/** sha256(utf8(label) ‖ parts…) — for fixed labels only. */
export function labeledSha256(label: string, ...parts: readonly Uint8Array[]): Uint8Array {
  if (fast !== null) return fast.sha256([utf8Encode(label), ...parts]);
  const h = nobleSha256.create();
  h.update(utf8Encode(label));
  for (const p of parts) h.update(p);
  return h.digest();
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return fast !== null ? fast.hmacSha256(key, data) : hmac(nobleSha256, key, data);
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
