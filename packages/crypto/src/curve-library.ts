/**
 * The curve library this package hands secrets to for fixed-base multiplication, as one object so that
 * tests can see what it is given (secret-copies.test.ts, account-keys.test.ts, the client's
 * lock-forgets-keys.test.ts). Replacing its functions is for tests only.
 * | function | library | cost here |
 * |---|---|---|
 * | ed25519PublicKey(seed) | @noble/curves | ≈0.5 ms (tweetnacl's fromSeed ≈11 ms) |
 */
import { ed25519 } from '@noble/curves/ed25519.js';

export const curveLibrary = {
  ed25519PublicKey: (seed: Uint8Array): Uint8Array => ed25519.getPublicKey(seed),
};
