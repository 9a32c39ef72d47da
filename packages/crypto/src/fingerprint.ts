/**
 * Human-comparable fingerprints of public keys.
 *
 * Invariants: `keyFingerprint` is 128 bits of sha256("hale/fingerprint/v1" ‖ key) shown as 8
 * groups of 4 hex digits. `safetyNumber` follows Signal's construction with SHA-256: for each key,
 * h = sha256("hale/safety-number/v1" ‖ key), then 5200 × h = sha256(h ‖ key); 30 bytes of h become
 * six 5-digit groups (each 5-byte big-endian chunk mod 100000). The two 30-digit halves are sorted
 * before joining, so both parties see the same 60 digits whichever side computes it. The
 * iteration count makes a brute-force search for a colliding key proportionally costlier.
 * Failure mode: keys that are not 32 bytes throw HaleCryptoError INVALID_INPUT.
 */
import { assertLength } from './account-keys';
import { hexEncode } from './encoding';
import { labeledSha256, sha256 } from './hash';

export const SAFETY_NUMBER_ITERATIONS = 5200;

/** A public key's fingerprint: 128 bits shown as 8 groups of 4 hex digits, compared by people. */
export function keyFingerprint(publicKey: Uint8Array): string {
  assertLength(publicKey, 32, 'public key');
  const hex = hexEncode(labeledSha256('hale/fingerprint/v1', publicKey).subarray(0, 16));
  return hex.match(/.{4}/g)!.join(' ');
}

function halfSafetyNumber(publicKey: Uint8Array): string {
  let h = labeledSha256('hale/safety-number/v1', publicKey);
  const buf = new Uint8Array(32 + publicKey.length);
  buf.set(publicKey, 32);
  for (let i = 0; i < SAFETY_NUMBER_ITERATIONS; i++) {
    buf.set(h, 0);
    h = sha256(buf);
  }
  let digits = '';
  for (let chunk = 0; chunk < 6; chunk++) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 256 + h[chunk * 5 + j]!;
    digits += String(v % 100000).padStart(5, '0');
  }
  return digits;
}

/** 60 digits in groups of 5, identical for (a, b) and (b, a). */
export function safetyNumber(publicKeyA: Uint8Array, publicKeyB: Uint8Array): string {
  assertLength(publicKeyA, 32, 'public key A');
  assertLength(publicKeyB, 32, 'public key B');
  const halves = [halfSafetyNumber(publicKeyA), halfSafetyNumber(publicKeyB)].sort();
  return halves.join('').match(/.{5}/g)!.join(' ');
}
