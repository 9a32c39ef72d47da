/**
 * Device signing keys and device certificates.
 *
 * Invariants: every device has its own Ed25519 key; the account identity key certifies it by
 * signing canonicalJson(cert) under the label "hale/device-cert/v1". A certificate is valid only
 * if (1) the signature verifies with the identityPublicKey it names, (2) accountId is the
 * self-certifying id of that identity key and (3) deviceId is the self-certifying id of the
 * device key — so a certificate cannot be re-pointed at another account or device without the
 * identity secret key. Callers that know which account they expect pass it in `expected`.
 * The device's name is not in the certificate in clear: `sealedName` is the name sealed to the account's
 * wrapping key (`sealDeviceName`, sealed-text.ts, bound to the device id), which only the account's
 * devices open (`openDeviceName`); the server relays it and cannot read or change it (it is signed).
 * Failure modes (Result): not a v1 certificate → UNSUPPORTED_VERSION / INVALID_INPUT, bad
 * base64url → BAD_ENCODING, id mismatches → CONTEXT_MISMATCH, signature → BAD_SIGNATURE.
 * `certifyDevice` throws HaleCryptoError INVALID_INPUT for inconsistent input.
 */
import { fail, ok, cryptoError, type Result } from './errors';
import { base64urlDecode, base64urlEncode, constantTimeEqual } from './encoding';
import {
  accountIdFromIdentityKey,
  assertLength,
  deviceIdFromPublicKey,
  signingKeyPairFromSeed,
  type BoxKeyPair,
} from './account-keys';
import { openSealedText, sealedTextMaxBytes, sealText } from './sealed-text';
import type { X25519 } from './stream-keys';
import { randomBytes } from './random';
import {
  DEVICE_CERTIFICATE_LABEL,
  signCanonical,
  tweetnaclEd25519,
  verifyCanonical,
  type Ed25519,
} from './signatures';

export interface DeviceKeys {
  readonly deviceId: string;
  readonly publicKey: Uint8Array;
  /** tweetnacl layout: seed ‖ publicKey */
  readonly secretKey: Uint8Array;
}

export interface CertifyDeviceInput {
  readonly accountId: string;
  readonly deviceId: string;
  readonly devicePublicKey: Uint8Array;
  /** The name sealed to the account (`sealDeviceName`), base64url. */
  readonly sealedName: string;
  /** ISO 8601 timestamp */
  readonly createdAt: string;
  readonly identityPublicKey: Uint8Array;
}

/** The signed body; binary fields are base64url. */
export interface DeviceCertificateBody {
  readonly accountId: string;
  readonly deviceId: string;
  readonly devicePublicKey: string;
  readonly sealedName: string;
  readonly createdAt: string;
  readonly identityPublicKey: string;
}

export interface SignedDeviceCertificate {
  readonly v: 1;
  readonly cert: DeviceCertificateBody;
  /** base64url Ed25519 signature by the identity key */
  readonly sig: string;
}

export interface VerifiedDevice {
  readonly accountId: string;
  readonly deviceId: string;
  readonly devicePublicKey: Uint8Array;
  readonly identityPublicKey: Uint8Array;
  readonly sealedName: string;
  readonly createdAt: string;
}

/** The most characters of a device's name (as a person types it). */
export const MAX_DEVICE_NAME_LENGTH = 100;
const DEVICE_NAME_LABEL = 'hale/device-name/v1';
/** The longest `sealedName` (base64url characters) for a name of MAX_DEVICE_NAME_LENGTH. */
export const MAX_SEALED_DEVICE_NAME_LENGTH = Math.ceil(
  (sealedTextMaxBytes(MAX_DEVICE_NAME_LENGTH, { label: DEVICE_NAME_LABEL }) * 4) / 3,
);

/** A device's name sealed to its account's wrapping key, bound to the device id. */
export const sealDeviceName = (
  name: string,
  accountWrappingPublicKey: Uint8Array,
  deviceId: string,
  x25519?: X25519,
): string => sealText(name, accountWrappingPublicKey, { label: DEVICE_NAME_LABEL, bind: deviceId }, x25519);

/** The name in a certificate's `sealedName`, for a holder of the account's wrapping key. */
export const openDeviceName = (
  sealedName: string,
  accountWrapping: BoxKeyPair,
  deviceId: string,
  x25519?: X25519,
): Result<string> =>
  openSealedText(sealedName, accountWrapping, { label: DEVICE_NAME_LABEL, bind: deviceId }, x25519);

export function generateDeviceKeys(): DeviceKeys {
  // tweetnacl copies the seed into the secret key: zeroed here, or a copy of it would outlive the zeroing
  // of the returned secret key (an account's lock), as in deriveAccountKeys.
  const seed = randomBytes(32);
  try {
    const kp = signingKeyPairFromSeed(seed);
    return {
      deviceId: deviceIdFromPublicKey(kp.publicKey),
      publicKey: kp.publicKey,
      secretKey: kp.secretKey,
    };
  } finally {
    seed.fill(0);
  }
}

export async function certifyDevice(
  identitySecretKey: Uint8Array,
  input: CertifyDeviceInput,
  ed: Ed25519 = tweetnaclEd25519,
): Promise<SignedDeviceCertificate> {
  assertLength(identitySecretKey, 64, 'identity secret key');
  assertLength(input.identityPublicKey, 32, 'identity public key');
  assertLength(input.devicePublicKey, 32, 'device public key');
  if (!constantTimeEqual(identitySecretKey.subarray(32), input.identityPublicKey)) {
    throw cryptoError('INVALID_INPUT', 'certifyDevice: secret key does not belong to identityPublicKey');
  }
  if (input.accountId !== accountIdFromIdentityKey(input.identityPublicKey)) {
    throw cryptoError('INVALID_INPUT', 'certifyDevice: accountId does not match the identity key');
  }
  if (input.deviceId !== deviceIdFromPublicKey(input.devicePublicKey)) {
    throw cryptoError('INVALID_INPUT', 'certifyDevice: deviceId does not match the device key');
  }
  if (typeof input.sealedName !== 'string' || input.sealedName.length > MAX_SEALED_DEVICE_NAME_LENGTH) {
    throw cryptoError('INVALID_INPUT', 'certifyDevice: bad sealed device name');
  }
  if (typeof input.createdAt !== 'string' || input.createdAt.length === 0) {
    throw cryptoError('INVALID_INPUT', 'certifyDevice: createdAt must be an ISO timestamp');
  }
  const cert: DeviceCertificateBody = {
    accountId: input.accountId,
    deviceId: input.deviceId,
    devicePublicKey: base64urlEncode(input.devicePublicKey),
    sealedName: input.sealedName,
    createdAt: input.createdAt,
    identityPublicKey: base64urlEncode(input.identityPublicKey),
  };
  const sig = await signCanonical(ed, identitySecretKey, DEVICE_CERTIFICATE_LABEL, cert);
  return { v: 1, cert, sig: base64urlEncode(sig) };
}

const CERT_FIELDS = [
  'accountId',
  'deviceId',
  'devicePublicKey',
  'sealedName',
  'createdAt',
  'identityPublicKey',
] as const;

export async function verifyDeviceCertificate(
  signed: unknown,
  ed: Ed25519,
  expected: { readonly accountId?: string; readonly deviceId?: string } = {},
): Promise<Result<VerifiedDevice>> {
  if (typeof signed !== 'object' || signed === null)
    return fail('INVALID_INPUT', 'device certificate: not an object');
  const s = signed as Record<string, unknown>;
  if (s['v'] !== 1)
    return fail('UNSUPPORTED_VERSION', `device certificate: version ${String(s['v'])} not supported`);
  const raw = s['cert'];
  if (typeof raw !== 'object' || raw === null || typeof s['sig'] !== 'string') {
    return fail('INVALID_INPUT', 'device certificate: cert and sig required');
  }
  const c = raw as Record<string, unknown>;
  for (const f of CERT_FIELDS) {
    if (typeof c[f] !== 'string') return fail('INVALID_INPUT', `device certificate: ${f} must be a string`);
  }
  if (Object.keys(c).length !== CERT_FIELDS.length) {
    return fail('INVALID_INPUT', 'device certificate: unexpected fields');
  }
  // Re-built from the checked fields so exactly the signed shape is verified.
  const cert: DeviceCertificateBody = {
    accountId: c['accountId'] as string,
    deviceId: c['deviceId'] as string,
    devicePublicKey: c['devicePublicKey'] as string,
    sealedName: c['sealedName'] as string,
    createdAt: c['createdAt'] as string,
    identityPublicKey: c['identityPublicKey'] as string,
  };
  const identityPublicKey = base64urlDecode(cert.identityPublicKey);
  const devicePublicKey = base64urlDecode(cert.devicePublicKey);
  const sig = base64urlDecode(s['sig']);
  if (!identityPublicKey.ok) return identityPublicKey;
  if (!devicePublicKey.ok) return devicePublicKey;
  if (!sig.ok) return sig;
  if (identityPublicKey.value.length !== 32 || devicePublicKey.value.length !== 32) {
    return fail('INVALID_INPUT', 'device certificate: public keys must be 32 bytes');
  }
  if (cert.accountId !== accountIdFromIdentityKey(identityPublicKey.value)) {
    return fail('CONTEXT_MISMATCH', 'device certificate: accountId does not match identityPublicKey');
  }
  if (cert.deviceId !== deviceIdFromPublicKey(devicePublicKey.value)) {
    return fail('CONTEXT_MISMATCH', 'device certificate: deviceId does not match devicePublicKey');
  }
  if (expected.accountId !== undefined && expected.accountId !== cert.accountId) {
    return fail('CONTEXT_MISMATCH', 'device certificate: issued for another account');
  }
  if (expected.deviceId !== undefined && expected.deviceId !== cert.deviceId) {
    return fail('CONTEXT_MISMATCH', 'device certificate: issued for another device');
  }
  const valid = await verifyCanonical(ed, identityPublicKey.value, DEVICE_CERTIFICATE_LABEL, cert, sig.value);
  if (!valid) return fail('BAD_SIGNATURE', 'device certificate: signature does not verify');
  return ok({
    accountId: cert.accountId,
    deviceId: cert.deviceId,
    devicePublicKey: devicePublicKey.value,
    identityPublicKey: identityPublicKey.value,
    sealedName: cert.sealedName,
    createdAt: cert.createdAt,
  });
}
