/**
 * X25519 through node:crypto (OpenSSL) for `createSealTo`: a sealed box with it costs ≈0.1 ms against
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
 * The sealer's X25519 (`createNodeSealX25519`) imports each ephemeral key once, not once per operation:
 * importing a secret key derives its public key (a scalar multiplication), a third of a seal's cost. It
 * keeps the key `publicKey` imported, with a copy of its bytes, only until its next call, and reuses it
 * only for the same bytes; the copy is zeroed when that call takes it. Same outputs as `createNodeX25519`.
 * `createNodeX25519` keeps a secret key imported once it meets it a second time for a shared secret (an
 * account's wrapping key opening a log's boxes): kept in a `createPrivateKeyCache` under a labelled hash of
 * its bytes, dropped by `forgetCachedKeys`. A key met once (a seal's ephemeral key) is never kept.
 */
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import {
  assertLength,
  base64urlDecode,
  base64urlEncode,
  constantTimeEqual,
  createPrivateKeyCache,
  createSealTo,
  privateKeyCacheId,
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

const publicOf = (privateKey: KeyObject): Uint8Array =>
  fromBase64url(createPublicKey(privateKey).export({ format: 'jwk' }).x);

const shared = (privateKey: KeyObject, publicKey: Uint8Array): Uint8Array => {
  const peer = importPublic(publicKey);
  try {
    return new Uint8Array(diffieHellman({ privateKey, publicKey: peer }));
  } catch (error) {
    if (isZeroOutputError(error)) return new Uint8Array(32);
    throw error;
  }
};

/** Secret keys `createNodeX25519` keeps imported, and ids of those used once (see the header). */
const SECRET_CACHE_LIMIT = 256;

export const createNodeX25519 = (): X25519 => {
  const secrets = createPrivateKeyCache<KeyObject>(SECRET_CACHE_LIMIT);
  const usedOnce = createPrivateKeyCache<true>(SECRET_CACHE_LIMIT);
  const secretOf = (secretKey: Uint8Array): KeyObject => {
    assertLength(secretKey, 32, 'X25519 secret key');
    const id = privateKeyCacheId(secretKey);
    const kept = secrets.get(id);
    if (kept !== undefined) return kept;
    const key = importSecret(secretKey);
    if (usedOnce.get(id) === undefined) usedOnce.set(id, true);
    else {
      usedOnce.delete(id);
      secrets.set(id, key);
    }
    return key;
  };
  return {
    name: 'node:crypto',
    publicKey: (secretKey) => publicOf(importSecret(secretKey)),
    sharedSecret: (secretKey, publicKey) => shared(secretOf(secretKey), publicKey),
  };
};

/**
 * `createNodeX25519` for a sealer, which asks for the public key and then the shared secret of one
 * ephemeral key: the key imported for the first is reused by the second (see header).
 */
export const createNodeSealX25519 = (): X25519 => {
  let held: { bytes: Uint8Array; key: KeyObject } | null = null;
  /** Ends the holding; answers the held key if it is of `secretKey`'s bytes. */
  const release = (secretKey: Uint8Array): KeyObject | null => {
    const last = held;
    held = null;
    if (last === null) return null;
    const same = constantTimeEqual(last.bytes, secretKey);
    last.bytes.fill(0);
    return same ? last.key : null;
  };
  return {
    name: 'node:crypto',
    publicKey: (secretKey) => {
      release(secretKey);
      const key = importSecret(secretKey);
      held = { bytes: Uint8Array.from(secretKey), key };
      return publicOf(key);
    },
    sharedSecret: (secretKey, publicKey) => shared(release(secretKey) ?? importSecret(secretKey), publicKey),
  };
};

/** `sealTo` with node:crypto's X25519: the same boxes, ≈10× faster. */
export const createNodeSealTo = (): SealTo => createSealTo(createNodeSealX25519());
