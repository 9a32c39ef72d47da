/**
 * The objects that get signed. Pure functions, no crypto: the caller canonicalises the returned
 * object (canonical JSON, `@hale/crypto`) and signs or verifies it with the key named below.
 *
 * Invariants: every payload starts with a distinct `label`, so a signature made for one purpose can
 * never be replayed as another (an auth signature is not a grant, a grant is not a document). Each
 * builder copies exactly the listed fields — never spreads its input — so extra properties on the
 * caller's object (`seq`, `at`, UI state) can't change what is signed. Changing a payload's fields
 * means a new label version (`/v2`); adding an optional field signed only when present (a grant's
 * `supersedes`) does not, since every object signed without it signs the same payload as before.
 */
import type { Grant, KeyEnvelope, Revocation } from './consent';
import type { AuditHeader, WireDoc } from './documents';
import type {
  AccountRecord,
  DeviceName,
  DeviceRevocation,
  KdfParams,
  ProviderProfile,
  WrappedRoot,
} from './identity';
import type { StreamId } from './primitives';

export const SIGNATURE_LABELS = {
  doc: 'hale/doc/v1',
  audit: 'hale/audit/v1',
  auth: 'hale/auth/v1',
  grant: 'hale/grant/v1',
  revocation: 'hale/revocation/v1',
  /** Signed by `@hale/crypto`'s `certifyDevice`, which owns the certificate's signed form. */
  deviceCertificate: 'hale/device-cert/v1',
  deviceRevocation: 'hale/device-revocation/v1',
  deviceName: 'hale/device-name-record/v1',
  account: 'hale/account-record/v1',
  directory: 'hale/directory/v1',
  envelope: 'hale/envelope/v1',
  wrappedRoot: 'hale/wrapped-root/v2',
  wrappingKey: 'hale/wrapping-key/v1',
  role: 'hale/account-role/v1',
} as const;

type DocFields = Pick<WireDoc, 'stream' | 'id' | 'rev' | 'deleted' | 'epoch' | 'author'>;

/** Author device key: binds a document revision to its author (clinical and non-patient writes). */
export const docSignaturePayload = (doc: DocFields) => ({
  label: SIGNATURE_LABELS.doc,
  stream: doc.stream,
  id: doc.id,
  rev: doc.rev,
  deleted: doc.deleted,
  epoch: doc.epoch,
  author: doc.author,
});

/**
 * Author device key (or the server key for server-written access events): binds an audit entry's
 * chain position and its sealed body (`ct`), so a changed, moved or swapped entry fails to verify.
 */
export const auditSignaturePayload = (
  doc: DocFields & Pick<WireDoc, 'ct'> & { readonly audit: AuditHeader },
) => ({
  label: SIGNATURE_LABELS.audit,
  stream: doc.stream,
  id: doc.id,
  author: doc.author,
  rev: doc.rev,
  epoch: doc.epoch,
  authorSeq: doc.audit.authorSeq,
  prevHash: doc.audit.prevHash,
  at: doc.audit.at,
  ct: doc.ct,
});

/** Device key: answers a server challenge; `serverId` stops a relay to another server. */
export const authSignaturePayload = (input: {
  readonly nonce: string;
  readonly deviceId: string;
  readonly serverId: string;
}) => ({
  label: SIGNATURE_LABELS.auth,
  nonce: input.nonce,
  deviceId: input.deviceId,
  serverId: input.serverId,
});

/**
 * Patient identity key. `supersedes` is signed only when the grant names one: a grant without it signs the
 * very payload it always did, so grants signed before the field verify unchanged (the label stays v1, as no
 * existing field changed).
 */
export const grantSignaturePayload = (grant: Grant) => ({
  label: SIGNATURE_LABELS.grant,
  v: grant.v,
  grantId: grant.grantId,
  patientId: grant.patientId,
  granteeId: grant.granteeId,
  scope: grant.scope.map((entry) => ({ type: entry.type, access: entry.access })),
  start: grant.start,
  expiresAt: grant.expiresAt,
  purpose: { ct: grant.purpose.ct, patient: grant.purpose.patient, grantee: grant.purpose.grantee },
  issuedAt: grant.issuedAt,
  ...(grant.supersedes === undefined ? {} : { supersedes: grant.supersedes }),
});

/** Patient identity key. */
export const revocationSignaturePayload = (revocation: Revocation) => ({
  label: SIGNATURE_LABELS.revocation,
  v: revocation.v,
  grantId: revocation.grantId,
  patientId: revocation.patientId,
  revokedAt: revocation.revokedAt,
});

/** Account identity key. */
export const deviceRevocationPayload = (revocation: DeviceRevocation) => ({
  label: SIGNATURE_LABELS.deviceRevocation,
  v: revocation.v,
  accountId: revocation.accountId,
  deviceId: revocation.deviceId,
  revokedAt: revocation.revokedAt,
});

/** Account identity key: a device's new name (the sealing is bound to the device id besides). */
export const deviceNamePayload = (name: DeviceName) => ({
  label: SIGNATURE_LABELS.deviceName,
  v: name.v,
  accountId: name.accountId,
  deviceId: name.deviceId,
  sealedName: name.sealedName,
  seq: name.seq,
});

const copyKdf = (kdf: KdfParams): KdfParams =>
  kdf.alg === 'scrypt'
    ? { alg: kdf.alg, N: kdf.N, r: kdf.r, p: kdf.p, dkLen: kdf.dkLen, salt: kdf.salt }
    : { alg: kdf.alg, m: kdf.m, t: kdf.t, p: kdf.p, dkLen: kdf.dkLen, salt: kdf.salt };

/** Account identity key, at registration: proves the registrant holds the identity key. */
export const accountSignaturePayload = (account: AccountRecord) => ({
  label: SIGNATURE_LABELS.account,
  accountId: account.accountId,
  role: account.role,
  identityPublicKey: account.identityPublicKey,
  wrappingPublicKey: account.wrappingPublicKey,
  wrappedRoot: {
    v: account.wrappedRoot.v,
    kdf: copyKdf(account.wrappedRoot.kdf),
    nonce: account.wrappedRoot.nonce,
    ct: account.wrappedRoot.ct,
  },
  ...(account.loginName === undefined ? {} : { loginName: account.loginName }),
  createdAt: account.createdAt,
});

/**
 * Account identity key: binds the account's X25519 key-wrapping key to its identity key, so another
 * account wraps stream keys (grants, re-keying) or seals audit bodies only to a key the account itself
 * published, never to one the server put in its account answer. Relayed by the server with the account
 * (`HttpAccountResponse.wrappingKeySig`); unlike the registration signature it covers no secret material
 * (the passphrase-wrapped root), so it can be handed to anyone.
 */
export const wrappingKeySignaturePayload = (input: {
  readonly accountId: string;
  readonly identityPublicKey: string;
  readonly wrappingPublicKey: string;
}) => ({
  label: SIGNATURE_LABELS.wrappingKey,
  accountId: input.accountId,
  identityPublicKey: input.identityPublicKey,
  wrappingPublicKey: input.wrappingPublicKey,
});

/**
 * Account identity key: binds the account's role (patient or provider) to its identity, so a device joining
 * the account takes the role the account registered with, never one the server put in its account answer.
 * Relayed by the server with the account (`HttpAccountResponse.roleSig`); it covers no secret material, so
 * it can be handed to anyone (unlike the registration signature, which covers the passphrase-wrapped root).
 */
export const roleSignaturePayload = (input: {
  readonly accountId: string;
  readonly identityPublicKey: string;
  readonly role: AccountRecord['role'];
}) => ({
  label: SIGNATURE_LABELS.role,
  accountId: input.accountId,
  identityPublicKey: input.identityPublicKey,
  role: input.role,
});

/** Provider identity key. */
export const directoryProfilePayload = (profile: ProviderProfile) => ({
  label: SIGNATURE_LABELS.directory,
  accountId: profile.accountId,
  displayName: profile.displayName,
  specialty: profile.specialty,
  clinic: profile.clinic,
  identifier: profile.identifier,
  ...(profile.contact === undefined ? {} : { contact: profile.contact }),
});

/** createdBy device key: the recipient checks it against a certified device of the patient. */
export const envelopeSignaturePayload = (
  envelope: Pick<KeyEnvelope, 'epoch' | 'recipient' | 'keyId' | 'wrapped' | 'createdBy'> & {
    readonly stream: StreamId;
  },
) => ({
  label: SIGNATURE_LABELS.envelope,
  stream: envelope.stream,
  epoch: envelope.epoch,
  recipient: envelope.recipient,
  keyId: envelope.keyId,
  wrapped: envelope.wrapped,
  createdBy: envelope.createdBy,
});

/**
 * Identity key over the account's passphrase-wrapped root and its generation, at every generation: 0 at
 * registration (`HttpRegisterRequest.wrappedRootSig`, or published later by an account registered without
 * it), each later one at its passphrase change (re-wrap only). So a device can tell a newer wrap from a
 * replayed older one, and a wrap relabelled with another generation (also 0) from the real one.
 */
export const wrappedRootSignaturePayload = (input: {
  readonly accountId: string;
  readonly wrappedRoot: WrappedRoot;
  readonly gen: number;
}) => ({
  label: SIGNATURE_LABELS.wrappedRoot,
  accountId: input.accountId,
  gen: input.gen,
  wrappedRoot: {
    v: input.wrappedRoot.v,
    kdf: copyKdf(input.wrappedRoot.kdf),
    nonce: input.wrappedRoot.nonce,
    ct: input.wrappedRoot.ct,
  },
});
