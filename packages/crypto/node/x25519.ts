/**
 * X25519 through node:crypto (OpenSSL) for `createSealTo`: a sealed box with it costs ≈0.15 ms against
 * tweetnacl's ≈1.5 ms (two scalar multiplications in pure JS), which is what the server's access-audit
 * entries spend their time on. Node-only, so it lives outside src/ and is imported as
 * `@hale/crypto/node` by the server.
 *
 * Invariants: equal to tweetnacl's scalarMult / scalarMult.base on every 32-byte input
 * (src/stream-keys.test.ts cross-checks random, non-canonical and low-order public keys). Keys are imported as JWK, not
 * PKCS#8 DER: OpenSSL's DER decoder costs ≈0.4 ms a key, ten times the scalar multiplication. Node
 * builds a private OKP key from `d` alone (the `x` member must be a string but is not used), and the
 * public key is read back from the imported private key, so it is always derived from the secret.
 * Failure modes: OpenSSL refuses a shared secret that comes out all-zero (a low-order public key,
 * ERR_OSSL_FAILED_DURING_DERIVATION); that is X25519's true output, so it is returned as zeros like
 * tweetnacl does, and the sealer refuses it (INVALID_INPUT) whichever implementation computed it.
 * Malformed input throws HaleCryptoError INVALID_INPUT; any other OpenSSL error is rethrown.
 */
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import {
  assertLength,
  base64urlDecode,
  base64urlEncode,
  createSealTo,
  type SealTo,
  type X25519,
} from '../src/index';

const importSecret = (secretKey: Uint8Array): KeyObject => {
  assertLength(secretKey, 32, 'X25519 secret key');
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: base64urlEncode(secretKey), x: '' },
    format: 'jwk',
  });
};

const importPublic = (publicKey: Uint8Array): KeyObject => {
  assertLength(publicKey, 32, 'X25519 public key');
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: base64urlEncode(publicKey) },
    format: 'jwk',
  });
};

const isZeroOutputError = (error: unknown): boolean =>
  typeof error === 'object' &&
  error !== null &&
  'code' in error &&
  error.code === 'ERR_OSSL_FAILED_DURING_DERIVATION';

const fromBase64url = (text: unknown): Uint8Array => {
  const bytes = typeof text === 'string' ? base64urlDecode(text) : null;
  if (!bytes?.ok) throw new Error('node:crypto exported an X25519 key without a readable x');
  assertLength(bytes.value, 32, 'exported X25519 public key');
  return bytes.value;
};

export const createNodeX25519 = (): X25519 => ({
  name: 'node:crypto',
  publicKey: (secretKey) =>
    fromBase64url(createPublicKey(importSecret(secretKey)).export({ format: 'jwk' }).x),
  sharedSecret: (secretKey, publicKey) => {
    const privateKey = importSecret(secretKey);
    const peer = importPublic(publicKey);
    try {
      return new Uint8Array(diffieHellman({ privateKey, publicKey: peer }));
    } catch (error) {
      if (isZeroOutputError(error)) return new Uint8Array(32);
      throw error;
    }
  },
});

/** `sealTo` with node:crypto's X25519: the same boxes, ≈10× faster. */
export const createNodeSealTo = (): SealTo => createSealTo(createNodeX25519());
