/*
 * The records a SyncStore keeps and answers (types.ts), as plain data: documents and their writes,
 * accounts, devices, sessions, grants, envelopes, blobs, the directory, invites, heads.
 *
 * Invariants: timestamps are ISO 8601 strings as `Date.prototype.toISOString` writes them, so text order is
 * time order; JSON the store keeps opaque is stored serialised and returned parsed; an absent optional
 * field means the store holds nothing for it.
 */
/** JSON value the store keeps opaque (stored serialised, returned parsed). */
export type JsonObject = Record<string, unknown>;

/** Timestamps are ISO 8601 strings (as from `Date.prototype.toISOString`). */
export type IsoTime = string;

export interface AuditHeader {
  /** The author device's own sequence number in its hash chain. */
  authorSeq: number;
  prevHash: string | null;
  /** Author-side timestamp of the entry. */
  at: IsoTime;
}

export interface Doc {
  stream: string;
  id: string;
  /** Position in the stream, assigned by the store. */
  seq: number;
  /** Revision tag `${n}-${hash}`; the compare-and-set key. */
  rev: string;
  deleted: boolean;
  epoch: number;
  ct: Uint8Array;
  size: number;
  /** Author device id. */
  author: string;
  sig?: string;
  audit?: AuditHeader;
  /**
   * The account that created the record: as the row that first stored it (an insert) gave it, kept
   * unchanged by every later version, a deletion too. Absent for a record stored without one (audit
   * entries).
   */
  creator?: string;
  /** Server receive time. */
  at: IsoTime;
}

/**
 * What a writer sends: the store assigns `seq` and `at`. `creator` is the account to record as the
 * record's creator; the store keeps it only when the row creates the record (no stored row) and ignores it
 * on a version over a stored one.
 */
export type DocInput = Omit<Doc, 'seq' | 'at'>;

export interface DocWrite {
  doc: DocInput;
  /** The revision the writer believes is stored; `null` = the writer believes the document is new. */
  assumedRev: string | null;
  /**
   * The stream's key epoch the writer checked the row against. When given, the row is written only if the
   * stream's current epoch (`envelopes.currentEpoch`, 0 for a stream without envelopes) is still this one,
   * read in the batch's atomic step; else it answers `stale-epoch`. So no rotation stored after the
   * writer's check can be passed by a row sealed under the key it replaced.
   */
  expectedEpoch?: number;
  /**
   * The writer read this row as one the store will refuse (the stored revision is not `assumedRev`) and
   * wrote an account of the batch that leaves it out (the server's access event counting a grantee's rows
   * written). Should the row be written after all (a write in between gave the record the revision it
   * assumes), the batch rejects CONFLICT and writes nothing, so that account never claims fewer rows
   * than were written; the writer reads again and retries. A row refused as expected answers as any other.
   */
  expectRefused?: boolean;
  /**
   * Rows of one batch sharing `group` are one user action, written all or none: if any of them would answer
   * other than `ok` (a `conflict` whose stored revision is its own `doc.rev`, a retry, counts as ok), the
   * batch writes nothing, those rows answer as they would, and every other row answers `not-written`
   * (`groupRefusal`); the writer leaves the group out and writes the rest again.
   */
  group?: string;
}

/**
 * The server's access entries that a blob write (`blobs.putChunk`, `blobs.delete`) commits with, in its
 * own atomic step: written as `docs.writeDocs` writes rows, after the blob write and its guard's check.
 * Unless every one of them is written (`ok`), the call rejects CONFLICT and writes nothing, neither them
 * nor the blob write; a blob write that fails writes none of them. So the log holds the entry exactly when
 * the store holds the write it claims. The streams they advance go to `onCommitted` listeners.
 */
export interface AccessEntries {
  rows: DocWrite[];
  now: IsoTime;
}

/**
 * An access decision a write takes again inside its own atomic step, so that no revocation or end of a
 * grant committed after the caller decided can pass it (sync-service.ts). Before it writes anything, the
 * store reads the grants `granteeId` received from `patientIds` that are unended at `at` (as
 * `grants.listUnendedFrom` answers them) in the write's transaction and calls `check` with them,
 * synchronously. Whatever `check` throws (an Error), the write rejects with, unchanged, having written nothing. A
 * revocation is committed either before that read (seen) or after the write.
 */
export interface AccessGuard {
  granteeId: string;
  patientIds: readonly string[];
  at: IsoTime;
  /**
   * The device making the write, if the check is to know whether it was revoked: read in the same step as
   * the grants (`check`'s `writerRevoked`: its registration holds a revocation; false for a device the
   * store holds no registration of), so a device revocation committed after the caller decided refuses
   * the write too.
   */
  writer?: string;
  check(grants: Grant[], writerRevoked: boolean): void;
}

export type DocWriteResult =
  | { status: 'ok'; seq: number }
  | {
      status: 'conflict';
      master: Doc | null;
      /**
       * `master` was in the store at its last restore, from a backup of the store of this incarnation
       * (sqlite-store.ts, `restored_heads`); absent for a version stored since, or when the store cannot tell.
       */
      keptFrom?: string;
    }
  | { status: 'append-only' }
  /** `expectedEpoch` was given and the stream's current key epoch is `epoch` instead; nothing written. */
  | { status: 'stale-epoch'; epoch: number }
  /**
   * A new audit document at a chain position its author already holds in the stream (see the header):
   * refused, and nothing of the batch was written.
   */
  | { status: 'position-taken' }
  /**
   * Another row of the batch answered `position-taken`, or a row of a group would not be written (`group`):
   * nothing of the batch was written, this row neither.
   */
  | { status: 'not-written' };

export interface DocPage {
  /** Documents with seq > since, in seq order. */
  docs: Doc[];
  /** seq of the last document returned, or `since` when none. */
  checkpoint: number;
  /** True when no document with seq > checkpoint existed at read time. */
  done: boolean;
}

export interface StreamHead {
  stream: string;
  /** Last allocated seq; 0 for a stream never written. */
  head: number;
}

export type AccountRole = 'patient' | 'provider';

export interface Account {
  accountId: string;
  role: AccountRole;
  identityPublicKey: string;
  wrappingPublicKey: string;
  wrappedRoot: JsonObject;
  /** 0 for the wrap registered with the account; +1 per passphrase change. */
  wrappedRootGen: number;
  /**
   * Identity signature over the wrap and its generation (`wrappedRootSignaturePayload`); null only at
   * generation 0 of an account registered without it (older clients, stores before it was kept) until the
   * account publishes it (`setWrappedRootSig`).
   */
  wrappedRootSig: string | null;
  /**
   * Identity signature over `wrappingKeySignaturePayload` (the account's wrapping key), as the account
   * published it; absent for an account registered without one (older clients) until it publishes one.
   */
  wrappingKeySig?: string;
  /**
   * Identity signature over `roleSignaturePayload` (the account's role), as sent at registration or
   * published later (`setRoleSig`); absent for an account that has not (older clients and servers).
   */
  roleSig?: string;
  loginName?: string;
  createdAt: IsoTime;
}

export interface Device {
  deviceId: string;
  accountId: string;
  cert: JsonObject;
  devicePublicKey: string;
  createdAt: IsoTime;
  revokedAt?: IsoTime;
  /**
   * The account's signed revocation (SignedDeviceRevocation) as received; absent for an active device.
   * Stored as given: readers verify it.
   */
  revocation?: JsonObject;
  /**
   * The device's newest name record (SignedDeviceName) as the rename route received it (`devices.rename`);
   * absent for a device never renamed, whose name is its certificate's (seq 0). Stored as given: readers
   * verify it. Present exactly when `nameSeq` is.
   */
  nameRecord?: JsonObject;
  /** The `seq` of `nameRecord` (1 or more); absent with it. */
  nameSeq?: number;
}

/**
 * What `devices.rename` did: `stored` the record (its seq was above the stored one); found the very same
 * record already stored at that seq (`same`: a retry, nothing written); or refused it (`conflict`: the
 * stored seq, 0 for none, is not below the one given, and the record is another). `revoked`: the device
 * is revoked, nothing written.
 */
export type DeviceRenameResult =
  | { status: 'stored'; seq: number }
  | { status: 'same'; seq: number }
  | { status: 'conflict'; seq: number }
  | { status: 'revoked' };

export interface Challenge {
  challengeId: string;
  deviceId: string;
  nonce: string;
  expiresAt: IsoTime;
}

export interface Session {
  tokenHash: string;
  deviceId: string;
  accountId: string;
  expiresAt: IsoTime;
}

export type GrantAccess = 'read' | 'write';

export interface GrantScope {
  /** Stream (record) type, e.g. `allergy`. */
  type: string;
  access: GrantAccess;
}

export interface Grant {
  grantId: string;
  patientId: string;
  granteeId: string;
  scope: GrantScope[];
  start: IsoTime;
  expiresAt: IsoTime;
  issuedAt: IsoTime;
  signed: JsonObject;
  /** When it ended by a revocation or by a grant that replaced it (server time); absent while neither. */
  revokedAt?: IsoTime;
  revocation?: JsonObject;
  /**
   * The grant that replaced this one (`grants.supersede`), which ended it at `revokedAt`: no access from it
   * since, as a revoked grant. Absent on a grant not replaced.
   */
  supersededBy?: string;
}

/**
 * A patient a grantee accepted (`acceptPatient`): the grants it issues to that grantee do not count toward
 * the grantee's cap on grants from strangers. Flood policy only: it gives no access.
 */
export interface Acceptance {
  granteeId: string;
  patientId: string;
  /** Server time of the acceptance (kept when it is accepted again). */
  acceptedAt: IsoTime;
}

/** See `grants.endedScopes`. */
export interface EndedScope {
  type: string;
  revoked: boolean;
}

export interface Envelope {
  stream: string;
  epoch: number;
  /** Recipient account id. */
  recipient: string;
  keyId: string;
  /** The wrapped stream key as sent by the device (opaque text, e.g. base64url). */
  wrapped: string;
  createdBy: string;
  /** The publishing device's signature over the envelope, checked by the recipient. */
  sig?: string;
  createdAt: IsoTime;
}

export type EnvelopeHolder = Pick<Envelope, 'stream' | 'epoch' | 'recipient' | 'createdBy'>;

export interface BlobManifest {
  blobId: string;
  stream: string;
  size: number;
  chunkSize: number;
  chunkCount: number;
  digests: string[];
  createdBy: string;
  createdAt: IsoTime;
}

/** What is kept of a deleted blob: its id is never used again (`putManifest` answers DELETED). */
export interface BlobTombstone {
  blobId: string;
  stream: string;
  /** The device that deleted it. */
  deletedBy: string;
  deletedAt: IsoTime;
}

export interface ProviderEntry {
  accountId: string;
  displayName: string;
  specialty: string;
  clinic: string;
  identifier: string;
  contact?: string;
  signed: JsonObject;
  updatedAt: IsoTime;
}

/** A provider's signed availability (`SignedAvailability` of @hale/protocol) as the directory keeps it. */
export interface AvailabilityEntry {
  accountId: string;
  /** The document's `version`: only a higher one replaces it. */
  version: number;
  signed: JsonObject;
  updatedAt: IsoTime;
}

/**
 * An invite code the operator created (`hale-sync-server invite`): registration in `invite` mode needs one.
 * The store holds only the code's hash (`inviteCodeHash`, invites.ts), never the code.
 */
export interface Invite {
  /** Hex SHA-256 of the code (64 lower-case hex digits); its first 12 are the invite's id in listings. */
  codeHash: string;
  /** The role an account registered with it must have; absent: either role. */
  role?: AccountRole;
  /** Registrations it allowed when created (≥ 1). */
  uses: number;
  /** Registrations it still allows (0 … uses). */
  usesLeft: number;
  expiresAt: IsoTime;
  createdAt: IsoTime;
  /** The operator's own words (whom it is for); never sent to anyone. */
  note?: string;
  revokedAt?: IsoTime;
}

/** Why an invite did not admit a registration (`INVITE_INVALID` details.reason), for logs. */
export type InviteRefusal = 'unknown' | 'revoked' | 'expired' | 'used-up' | 'role';

export interface StoreHealth {
  ok: boolean;
  backend: string;
  detail?: string;
}

export type CommitListener = (heads: StreamHead[]) => void;

/**
 * A change committed through another instance sharing the backend that a live hub acts on at once
 * (`onRemoteChange`): grants of a grantee changed (put or revoked), a device was revoked, key envelopes were
 * stored for an account other than the stream's patient.
 */
export type RemoteChange =
  | { kind: 'grants-changed'; granteeId: string; patientId: string }
  | { kind: 'device-revoked'; deviceId: string }
  | { kind: 'keys-stored'; recipientId: string; patientId: string; streams: string[] };

/** A record's state as a signed stream head covers it: what the store holds in clear beside each version. */
export interface HeadRow {
  id: string;
  rev: string;
  deleted: boolean;
}

/** A signed stream head statement the store keeps (`heads`), with the rows it covers. */
export interface KeptHead {
  stream: string;
  /** The statement's seq: the stream's seq when it was kept. */
  seq: number;
  /** The signed statement as received (the protocol's SignedHead); stored as given, readers verify it. */
  signed: JsonObject;
}

export type KeepHeadResult =
  | { status: 'ok' }
  /** The stream's current seq is no longer the statement's (`seq`: the current one); nothing kept. */
  | { status: 'moved'; seq: number }
  /** A statement at a higher seq (`seq`) is kept; nothing kept. */
  | { status: 'stale'; seq: number };

/** What `accounts.erase` removed. */
export interface AccountErasure {
  readonly docs: number;
  readonly blobs: number;
  readonly grants: number;
  readonly envelopes: number;
  readonly deviceIds: readonly string[];
  readonly granteeIds: readonly string[];
}

/**
 * For a batch whose rows `rows` would answer `results`: when a row of a group (`DocWrite.group`) would not
 * be written, the answer of a batch that writes nothing (those rows as they would answer, every other row
 * `not-written`); null when every group is written whole. A conflict with the row's own revision stored
 * (a retry) counts as written.
 */
export const groupRefusal = (
  rows: readonly DocWrite[],
  results: readonly DocWriteResult[],
): DocWriteResult[] | null => {
  const failing = (k: number): boolean => {
    const r = results[k]!;
    if (r.status === 'ok') return false;
    return !(r.status === 'conflict' && r.master?.rev === rows[k]!.doc.rev);
  };
  const refused = rows.flatMap((row, k) => (row.group !== undefined && failing(k) ? [k] : []));
  if (refused.length === 0) return null;
  const keep = new Set(refused);
  return results.map((r, k): DocWriteResult => (keep.has(k) ? r : { status: 'not-written' }));
};
