/*
 * The SQLite store's rows as better-sqlite3 returns them, and their mapping to the store's types (types.ts).
 *
 * Invariants: a NULL column becomes an absent optional field, never `null` (except where types.ts says
 * null); JSON columns were written by the store itself and are parsed without checks; a BLOB column is
 * answered as a plain Uint8Array (`toBytes`), not a Buffer.
 */
import type {
  Acceptance,
  Account,
  AccountRole,
  BlobManifest,
  BlobTombstone,
  Challenge,
  Device,
  Doc,
  Envelope,
  Grant,
  GrantScope,
  Invite,
  JsonObject,
  ProviderEntry,
  Session,
} from './types';

export interface DocRow {
  stream: string;
  id: string;
  seq: number;
  rev: string;
  deleted: number;
  epoch: number;
  ct: Uint8Array;
  size: number;
  author: string;
  sig: string | null;
  audit_author_seq: number | null;
  audit_prev_hash: string | null;
  audit_at: string | null;
  creator: string | null;
  at: string;
}

export interface AccountRow {
  account_id: string;
  role: Account['role'];
  identity_public_key: string;
  wrapping_public_key: string;
  wrapped_root: string;
  wrapped_root_gen: number;
  wrapped_root_sig: string | null;
  wrapping_key_sig: string | null;
  /** From `account_role_sigs`, joined in; null when the account has none. */
  role_sig: string | null;
  login_name: string | null;
  created_at: string;
}

export interface DeviceRow {
  device_id: string;
  account_id: string;
  cert: string;
  device_public_key: string;
  created_at: string;
  revoked_at: string | null;
  revocation: string | null;
  name_record: string | null;
  name_seq: number | null;
}

export interface ChallengeRow {
  challenge_id: string;
  device_id: string;
  nonce: string;
  expires_at: string;
}

export interface SessionRow {
  token_hash: string;
  device_id: string;
  account_id: string;
  expires_at: string;
}

export interface GrantRow {
  grant_id: string;
  patient_id: string;
  grantee_id: string;
  scope: string;
  start: string;
  expires_at: string;
  issued_at: string;
  signed: string;
  revoked_at: string | null;
  revocation: string | null;
  /** The grant that replaced this one. */
  superseded_by: string | null;
  name_record: string | null;
  name_seq: number | null;
}

export interface EnvelopeRow {
  stream: string;
  epoch: number;
  recipient: string;
  key_id: string;
  wrapped: string;
  created_by: string;
  sig: string | null;
  created_at: string;
}

export interface ManifestRow {
  blob_id: string;
  stream: string;
  size: number;
  chunk_size: number;
  chunk_count: number;
  digests: string;
  created_by: string;
  created_at: string;
}

export interface TombstoneRow {
  blob_id: string;
  stream: string;
  deleted_by: string;
  deleted_at: string;
}

export interface InviteRow {
  code_hash: string;
  role: AccountRole | null;
  uses: number;
  uses_left: number;
  expires_at: string;
  expires_ms: number;
  created_at: string;
  note: string | null;
  revoked_at: string | null;
}

export interface ProviderRow {
  account_id: string;
  display_name: string;
  specialty: string;
  clinic: string;
  identifier: string;
  contact: string | null;
  signed: string;
  updated_at: string;
}

export const DOC_COLUMNS =
  'stream, id, seq, rev, deleted, epoch, ct, size, author, sig, audit_author_seq, audit_prev_hash, audit_at, creator, at';

export const toBytes = (value: Uint8Array): Uint8Array =>
  value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);

export const parseJsonObject = (text: string): JsonObject => JSON.parse(text) as JsonObject;

export const rowToDoc = (r: DocRow): Doc => {
  const doc: Doc = {
    stream: r.stream,
    id: r.id,
    seq: r.seq,
    rev: r.rev,
    deleted: r.deleted === 1,
    epoch: r.epoch,
    ct: toBytes(r.ct),
    size: r.size,
    author: r.author,
    at: r.at,
  };
  if (r.sig !== null) doc.sig = r.sig;
  if (r.creator !== null) doc.creator = r.creator;
  if (r.audit_author_seq !== null && r.audit_at !== null) {
    doc.audit = { authorSeq: r.audit_author_seq, prevHash: r.audit_prev_hash, at: r.audit_at };
  }
  return doc;
};

export const rowToAccount = (r: AccountRow): Account => {
  const account: Account = {
    accountId: r.account_id,
    role: r.role,
    identityPublicKey: r.identity_public_key,
    wrappingPublicKey: r.wrapping_public_key,
    wrappedRoot: parseJsonObject(r.wrapped_root),
    wrappedRootGen: r.wrapped_root_gen,
    wrappedRootSig: r.wrapped_root_sig,
    createdAt: r.created_at,
  };
  if (r.wrapping_key_sig !== null) account.wrappingKeySig = r.wrapping_key_sig;
  if (r.role_sig !== null) account.roleSig = r.role_sig;
  if (r.login_name !== null) account.loginName = r.login_name;
  return account;
};

export const rowToDevice = (r: DeviceRow): Device => {
  const device: Device = {
    deviceId: r.device_id,
    accountId: r.account_id,
    cert: parseJsonObject(r.cert),
    devicePublicKey: r.device_public_key,
    createdAt: r.created_at,
  };
  if (r.revoked_at !== null) device.revokedAt = r.revoked_at;
  if (r.revocation !== null) device.revocation = parseJsonObject(r.revocation);
  if (r.name_record !== null && r.name_seq !== null) {
    device.nameRecord = parseJsonObject(r.name_record);
    device.nameSeq = r.name_seq;
  }
  return device;
};

export const rowToChallenge = (r: ChallengeRow): Challenge => ({
  challengeId: r.challenge_id,
  deviceId: r.device_id,
  nonce: r.nonce,
  expiresAt: r.expires_at,
});

export const rowToSession = (r: SessionRow): Session => ({
  tokenHash: r.token_hash,
  deviceId: r.device_id,
  accountId: r.account_id,
  expiresAt: r.expires_at,
});

export const rowToGrant = (r: GrantRow): Grant => {
  const grant: Grant = {
    grantId: r.grant_id,
    patientId: r.patient_id,
    granteeId: r.grantee_id,
    scope: JSON.parse(r.scope) as GrantScope[],
    start: r.start,
    expiresAt: r.expires_at,
    issuedAt: r.issued_at,
    signed: parseJsonObject(r.signed),
  };
  if (r.revoked_at !== null) grant.revokedAt = r.revoked_at;
  if (r.revocation !== null) grant.revocation = parseJsonObject(r.revocation);
  if (r.superseded_by !== null) grant.supersededBy = r.superseded_by;
  return grant;
};

export interface AcceptanceRow {
  grantee_id: string;
  patient_id: string;
  accepted_at: string;
}

export const rowToAcceptance = (r: AcceptanceRow): Acceptance => ({
  granteeId: r.grantee_id,
  patientId: r.patient_id,
  acceptedAt: r.accepted_at,
});

export const rowToEnvelope = (r: EnvelopeRow): Envelope => {
  const envelope: Envelope = {
    stream: r.stream,
    epoch: r.epoch,
    recipient: r.recipient,
    keyId: r.key_id,
    wrapped: r.wrapped,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
  if (r.sig !== null) envelope.sig = r.sig;
  return envelope;
};

export const rowToManifest = (r: ManifestRow): BlobManifest => ({
  blobId: r.blob_id,
  stream: r.stream,
  size: r.size,
  chunkSize: r.chunk_size,
  chunkCount: r.chunk_count,
  digests: JSON.parse(r.digests) as string[],
  createdBy: r.created_by,
  createdAt: r.created_at,
});

export const rowToTombstone = (r: TombstoneRow): BlobTombstone => ({
  blobId: r.blob_id,
  stream: r.stream,
  deletedBy: r.deleted_by,
  deletedAt: r.deleted_at,
});

export const rowToProvider = (r: ProviderRow): ProviderEntry => {
  const entry: ProviderEntry = {
    accountId: r.account_id,
    displayName: r.display_name,
    specialty: r.specialty,
    clinic: r.clinic,
    identifier: r.identifier,
    signed: parseJsonObject(r.signed),
    updatedAt: r.updated_at,
  };
  if (r.contact !== null) entry.contact = r.contact;
  return entry;
};

export const rowToInvite = (r: InviteRow): Invite => {
  const invite: Invite = {
    codeHash: r.code_hash,
    uses: r.uses,
    usesLeft: r.uses_left,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
  };
  if (r.role !== null) invite.role = r.role;
  if (r.note !== null) invite.note = r.note;
  if (r.revoked_at !== null) invite.revokedAt = r.revoked_at;
  return invite;
};
