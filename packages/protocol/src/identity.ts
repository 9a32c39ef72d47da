/**
 * Accounts, devices and directory entries: the signed objects HTTP registration carries.
 *
 * Invariants: account and device ids are self-certifying (derived from their public keys, see
 * docs/architecture.md); the server checks the derivation and the identity signature before storing
 * anything. The wrapped root is ciphertext under a passphrase-derived key; its KDF parameters travel
 * beside it so any device can re-derive. These schemas check form only, never signatures.
 */
import { Type, type Static } from '@sinclair/typebox';
import { AccountId, B64u, B64uFixed, DeviceId, IsoDateTime, PublicKey, Signature } from './primitives';

export const ScryptParams = Type.Object(
  {
    alg: Type.Literal('scrypt'),
    N: Type.Integer({ minimum: 2 ** 10, maximum: 2 ** 24, description: 'power of two' }),
    r: Type.Integer({ minimum: 1, maximum: 32 }),
    p: Type.Integer({ minimum: 1, maximum: 16 }),
    dkLen: Type.Integer({ minimum: 16, maximum: 64 }),
    salt: B64u(64),
  },
  { additionalProperties: false },
);
export const Argon2idParams = Type.Object(
  {
    alg: Type.Literal('argon2id'),
    /** Memory in KiB. */
    m: Type.Integer({ minimum: 8 * 1024, maximum: 4 * 1024 * 1024 }),
    t: Type.Integer({ minimum: 1, maximum: 64 }),
    p: Type.Integer({ minimum: 1, maximum: 16 }),
    dkLen: Type.Integer({ minimum: 16, maximum: 64 }),
    salt: B64u(64),
  },
  { additionalProperties: false },
);
export const KdfParams = Type.Union([ScryptParams, Argon2idParams]);
export type KdfParams = Static<typeof KdfParams>;

export const WrappedRoot = Type.Object(
  { v: Type.Literal(1), kdf: KdfParams, nonce: B64uFixed(24), ct: B64u(256) },
  { additionalProperties: false },
);
export type WrappedRoot = Static<typeof WrappedRoot>;

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

export const DeviceCertificate = Type.Object(
  {
    accountId: AccountId,
    deviceId: DeviceId,
    devicePublicKey: PublicKey,
    identityPublicKey: PublicKey,
    name: Type.String({ minLength: 1, maxLength: 100 }),
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
