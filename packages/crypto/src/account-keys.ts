/**
 * Account key hierarchy derived from the root secret (docs/architecture.md, "Keys").
 *
 * Invariants: the same root always yields the same keys, on every device:
 *   HKDF-SHA256(root, info "hale/identity/v1") → Ed25519 seed of the identity signing key
 *   HKDF-SHA256(root, info "hale/wrap/v1")     → X25519 secret of the key-wrapping key
 *   HKDF-SHA256(root, info "hale/local/v1")    → 32-byte at-rest key for the device store
 * Ids are self-certifying: accountId = base64url(sha256("hale/account/v1" ‖ identityPublicKey))[0..22]
 * and deviceId the same over a device key with "hale/device/v1", so anyone holding the public key
 * can check the id. The returned keys hold the only copies of the secrets derived (intermediate bytes are
 * zeroed), so zeroing them leaves none behind. Failure mode: keys of the wrong length throw HaleCryptoError
 * INVALID_INPUT.
 */
import nacl from 'tweetnacl';
import { curveLibrary } from './curve-library';
import { cryptoError } from './errors';
import { base64urlEncode } from './encoding';
import { hkdfSha256, labeledSha256 } from './hash';
import { ROOT_SECRET_LENGTH } from './root';

export const KEY_LABELS = {
  identity: 'hale/identity/v1',
  wrap: 'hale/wrap/v1',
  local: 'hale/local/v1',
  accountId: 'hale/account/v1',
  deviceId: 'hale/device/v1',
} as const;

/** Length of account and device ids in base64url characters (132 bits). */
export const ID_LENGTH = 22;

/** Ed25519 key pair in tweetnacl layout: secretKey = seed(32) ‖ publicKey(32). */
export interface SigningKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** X25519 key pair (nacl.box). */
export interface BoxKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export interface AccountKeys {
  readonly accountId: string;
  readonly identity: SigningKeyPair;
  readonly wrapping: BoxKeyPair;
  readonly localKey: Uint8Array;
}

export function assertLength(bytes: unknown, length: number, what: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw cryptoError('INVALID_INPUT', `${what} must be ${length} bytes`);
  }
}

function selfCertifyingId(label: string, publicKey: Uint8Array): string {
  assertLength(publicKey, 32, 'public key');
  return base64urlEncode(labeledSha256(label, publicKey)).slice(0, ID_LENGTH);
}

export const accountIdFromIdentityKey = (identityPublicKey: Uint8Array): string =>
  selfCertifyingId(KEY_LABELS.accountId, identityPublicKey);

export const deviceIdFromPublicKey = (devicePublicKey: Uint8Array): string =>
  selfCertifyingId(KEY_LABELS.deviceId, devicePublicKey);

/**
 * The Ed25519 key pair of a 32-byte seed, in tweetnacl's layout (secretKey = seed ‖ publicKey): equal to
 * `nacl.sign.keyPair.fromSeed` (account-keys.test.ts cross-checks), through `curveLibrary`. The caller keeps
 * and zeroes its seed.
 */
export function signingKeyPairFromSeed(seed: Uint8Array): SigningKeyPair {
  assertLength(seed, 32, 'Ed25519 seed');
  const publicKey = curveLibrary.ed25519PublicKey(seed);
  const secretKey = new Uint8Array(64);
  secretKey.set(seed);
  secretKey.set(publicKey, 32);
  return { publicKey, secretKey };
}

export function deriveAccountKeys(root: Uint8Array): AccountKeys {
  assertLength(root, ROOT_SECRET_LENGTH, 'root secret');
  // tweetnacl copies what it is given: the derived bytes are zeroed here, or a copy of the identity seed
  // and the wrapping secret would outlive the zeroing of the returned keys (an account's lock).
  const identitySeed = hkdfSha256(root, KEY_LABELS.identity);
  const wrappingSecret = hkdfSha256(root, KEY_LABELS.wrap);
  const identity = signingKeyPairFromSeed(identitySeed);
  const wrapping = nacl.box.keyPair.fromSecretKey(wrappingSecret);
  identitySeed.fill(0);
  wrappingSecret.fill(0);
  return {
    accountId: accountIdFromIdentityKey(identity.publicKey),
    identity: { publicKey: identity.publicKey, secretKey: identity.secretKey },
    wrapping: { publicKey: wrapping.publicKey, secretKey: wrapping.secretKey },
    localKey: hkdfSha256(root, KEY_LABELS.local),
  };
}
