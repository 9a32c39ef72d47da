/**
 * Accounts, devices and directory entries: the signed objects HTTP registration carries.
 *
 * Invariants: account and device ids are self-certifying (derived from their public keys, see
 * docs/architecture.md); the server checks the derivation and the identity signature before storing
 * anything. The wrapped root is ciphertext under a passphrase-derived key; its KDF parameters travel
 * beside it so any device can re-derive, bounded as @hale/crypto bounds them (KDF_BOUNDS), so a wrap
 * that passes is one a device will try to open. These schemas check form only, never signatures.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Issue } from './checker';
import {
  AccountId,
  B64U_PATTERN,
  B64u,
  B64uFixed,
  DeviceId,
  IsoDateTime,
  PublicKey,
  Signature,
  b64uLength,
} from './primitives';

/**
 * Bounds on a wrap's KDF parameters: never wider than what @hale/crypto's passphrase unwrap accepts (its
 * private LIMITS in passphrase.ts, which the protocol does not import: it does not depend on crypto), so
 * the server never stores a wrap that no device will open. Keep in step with crypto when either changes
 * (kdf-bounds.test.ts checks them against it). The floors (scrypt N ≥ 2^10, argon2id m ≥ 8 MiB) are the
 * protocol's own and stricter than crypto's: a wrap below them is refused at registration, loudly.
 */
export const KDF_BOUNDS = Object.freeze({
  dkLen: 32,
  minSaltBytes: 8,
  maxSaltBytes: 64,
  scryptMinN: 2 ** 10,
  scryptMaxN: 2 ** 20,
  scryptMaxR: 32,
  scryptMaxP: 16,
  /** 128·N·r bytes: 512 MiB, 4× PRODUCTION_KDF. */
  scryptMaxMemoryBytes: 4 * 128 * 1024 ** 2,
  /** N·r·p: 4× PRODUCTION_KDF. */
  scryptMaxWork: 4 * 2 ** 17 * 8,
  /** KiB. */
  argonMinM: 8 * 1024,
  /** KiB: 256 MiB, 4× PRODUCTION_KDF_ARGON2ID. */
  argonMaxM: 4 * 64 * 1024,
  argonMaxT: 16,
  argonMaxP: 8,
  /** m·t: 4× PRODUCTION_KDF_ARGON2ID. */
  argonMaxWork: 4 * 64 * 1024 * 3,
});

const KdfSalt = Type.String({
  pattern: B64U_PATTERN,
  minLength: b64uLength(KDF_BOUNDS.minSaltBytes),
  maxLength: b64uLength(KDF_BOUNDS.maxSaltBytes),
  description: `${KDF_BOUNDS.minSaltBytes}–${KDF_BOUNDS.maxSaltBytes} bytes`,
});
// An integer range, not a literal: the static type stays `number`, as @hale/crypto's wrap has it.
const KdfDkLen = Type.Integer({ minimum: KDF_BOUNDS.dkLen, maximum: KDF_BOUNDS.dkLen });

/** Products of parameters and the power of two are checked by `kdfIssues` (semantic rules). */
export const ScryptParams = Type.Object(
  {
    alg: Type.Literal('scrypt'),
    N: Type.Integer({
      minimum: KDF_BOUNDS.scryptMinN,
      maximum: KDF_BOUNDS.scryptMaxN,
      description: 'power of two',
    }),
    r: Type.Integer({ minimum: 1, maximum: KDF_BOUNDS.scryptMaxR }),
    p: Type.Integer({ minimum: 1, maximum: KDF_BOUNDS.scryptMaxP }),
    dkLen: KdfDkLen,
    salt: KdfSalt,
  },
  { additionalProperties: false },
);
export const Argon2idParams = Type.Object(
  {
    alg: Type.Literal('argon2id'),
    /** Memory in KiB. */
    m: Type.Integer({ minimum: KDF_BOUNDS.argonMinM, maximum: KDF_BOUNDS.argonMaxM }),
    t: Type.Integer({ minimum: 1, maximum: KDF_BOUNDS.argonMaxT }),
    p: Type.Integer({ minimum: 1, maximum: KDF_BOUNDS.argonMaxP }),
    dkLen: KdfDkLen,
    salt: KdfSalt,
  },
  { additionalProperties: false },
);
export const KdfParams = Type.Union([ScryptParams, Argon2idParams]);
export type KdfParams = Static<typeof KdfParams>;

export const WrappedRoot = Type.Object(
  // ct: secretbox of the 32-byte root (32 + 16 bytes of MAC); @hale/crypto refuses any other length.
  { v: Type.Literal(1), kdf: KdfParams, nonce: B64uFixed(24), ct: B64uFixed(48) },
  { additionalProperties: false },
);
export type WrappedRoot = Static<typeof WrappedRoot>;

/**
 * What JSON Schema cannot say about KDF parameters that match their schema: scrypt's N a power of two and
 * its memory and work, argon2id's work and lanes, each within KDF_BOUNDS as @hale/crypto checks them.
 */
export function kdfIssues(kdf: KdfParams, path: string): Issue[] {
  const issues: Issue[] = [];
  if (kdf.alg === 'scrypt') {
    if ((kdf.N & (kdf.N - 1)) !== 0) issues.push({ path: `${path}/N`, reason: 'must be a power of two' });
    if (128 * kdf.N * kdf.r > KDF_BOUNDS.scryptMaxMemoryBytes) {
      issues.push({ path: `${path}/r`, reason: 'memory (128·N·r bytes) above 512 MiB' });
    }
    if (kdf.N * kdf.r * kdf.p > KDF_BOUNDS.scryptMaxWork) {
      issues.push({ path: `${path}/p`, reason: `work (N·r·p) above ${KDF_BOUNDS.scryptMaxWork}` });
    }
  } else {
    if (kdf.m < 8 * kdf.p) issues.push({ path: `${path}/m`, reason: 'must be at least 8·p KiB' });
    if (kdf.m * kdf.t > KDF_BOUNDS.argonMaxWork) {
      issues.push({ path: `${path}/t`, reason: `work (m·t) above ${KDF_BOUNDS.argonMaxWork}` });
    }
  }
  return issues;
}

export const AccountRole = Type.Union([Type.Literal('patient'), Type.Literal('provider')]);
export type AccountRole = Static<typeof AccountRole>;

export const LOGIN_NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{2,63}$';
export const LoginName = Type.String({ pattern: LOGIN_NAME_PATTERN, description: 'lower-case handle' });

export const AccountRecord = Type.Object(
  {
    accountId: AccountId,
    role: AccountRole,
    identityPublicKey: PublicKey,
    wrappingPublicKey: PublicKey,
    wrappedRoot: WrappedRoot,
    loginName: Type.Optional(LoginName),
    createdAt: IsoDateTime,
  },
  { additionalProperties: false },
);
export type AccountRecord = Static<typeof AccountRecord>;

/** The most characters of a device's name as a person types it (checked before it is sealed). */
export const MAX_DEVICE_NAME_CHARS = 100;
/** Bytes of a sealed device name at most: @hale/crypto's `sealedTextMaxBytes(100)` (857) rounded up. */
export const MAX_SEALED_DEVICE_NAME_BYTES = 896;

export const DeviceCertificate = Type.Object(
  {
    accountId: AccountId,
    deviceId: DeviceId,
    devicePublicKey: PublicKey,
    identityPublicKey: PublicKey,
    /** The device's name sealed to the account's wrapping key (`@hale/crypto`'s `sealDeviceName`). */
    sealedName: B64u(MAX_SEALED_DEVICE_NAME_BYTES),
    createdAt: IsoDateTime,
  },
  { additionalProperties: false },
);
export type DeviceCertificate = Static<typeof DeviceCertificate>;

/** Signed by the account identity key (`@hale/crypto`'s `certifyDevice`, label `hale/device-cert/v1`). */
export const SignedDeviceCertificate = Type.Object(
  { v: Type.Literal(1), cert: DeviceCertificate, sig: Signature },
  { additionalProperties: false },
);
export type SignedDeviceCertificate = Static<typeof SignedDeviceCertificate>;

export const DeviceRevocation = Type.Object(
  { v: Type.Literal(1), accountId: AccountId, deviceId: DeviceId, revokedAt: IsoDateTime },
  { additionalProperties: false },
);
export type DeviceRevocation = Static<typeof DeviceRevocation>;

/** Signed by the account identity key over `deviceRevocationPayload(revocation)`. */
export const SignedDeviceRevocation = Type.Object(
  { revocation: DeviceRevocation, sig: Signature },
  { additionalProperties: false },
);
export type SignedDeviceRevocation = Static<typeof SignedDeviceRevocation>;

/**
 * A device's new name: sealed to the account's wrapping key, as in its certificate (`sealedName`, bound to
 * the device id), and numbered: the certificate's name is 0, each rename one more. A reader shows the
 * verified record of the highest `seq`; the server keeps only the highest and refuses any other (CONFLICT).
 */
export const DeviceName = Type.Object(
  {
    v: Type.Literal(1),
    accountId: AccountId,
    deviceId: DeviceId,
    sealedName: B64u(MAX_SEALED_DEVICE_NAME_BYTES),
    seq: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  },
  { additionalProperties: false },
);
export type DeviceName = Static<typeof DeviceName>;

/** Signed by the account identity key over `deviceNamePayload(name)`. */
export const SignedDeviceName = Type.Object(
  { name: DeviceName, sig: Signature },
  { additionalProperties: false },
);
export type SignedDeviceName = Static<typeof SignedDeviceName>;

export const ProviderProfile = Type.Object(
  {
    accountId: AccountId,
    displayName: Type.String({ minLength: 1, maxLength: 200 }),
    specialty: Type.String({ maxLength: 200 }),
    clinic: Type.String({ maxLength: 200 }),
    /** Professional identifier, e.g. an NPI. */
    identifier: Type.String({ maxLength: 100 }),
    contact: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type ProviderProfile = Static<typeof ProviderProfile>;

/** Signed by the provider's identity key over `directoryProfilePayload(profile)`. */
export const SignedProviderProfile = Type.Object(
  { profile: ProviderProfile, sig: Signature },
  { additionalProperties: false },
);
export type SignedProviderProfile = Static<typeof SignedProviderProfile>;
