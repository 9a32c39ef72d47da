/*
 * Embedded `SyncStore` on one SQLite file (better-sqlite3) in the data directory.
 *
 * Invariants (see types.ts for the interface contract):
 * - journal_mode=WAL with synchronous=FULL: in WAL mode NORMAL only syncs at checkpoints, so a power
 *   loss can roll back transactions that were already acknowledged; FULL fsyncs the WAL on every commit,
 *   which is what "acknowledged = durable" needs. The cost is one fsync per committed batch.
 * - Sequence allocation: `stream_heads` holds each stream's last seq; writeDocs reads and advances it
 *   inside one BEGIN IMMEDIATE transaction (the write lock is taken up front, so other connections and
 *   processes on the same file serialise instead of racing, and no snapshot goes stale mid-batch).
 *   Commits are atomic, so readers never see seq n+1 without seq n.
 * - Audit rows: the store answers `append-only`; triggers also refuse UPDATE and DELETE of rows of
 *   `/audit` streams, and recursive_triggers=ON makes REPLACE conflict resolution fire them too.
 * - Audit chain positions: writeDocs looks each new audit row's (stream, author, authorSeq) up in
 *   docs_audit_by_position (v15) just before inserting it, inside its BEGIN IMMEDIATE transaction, so rows
 *   committed by any connection and the batch's own earlier rows are seen. A position held refuses the row
 *   `position-taken` and rolls the whole batch back (the other rows answer `not-written`). The index is not
 *   UNIQUE: a store written before the check may hold two entries at one position, which the append-only
 *   log keeps and a unique index could not be built over (nor a restore carry into). A chain's end
 *   (`auditChainEnd`, the server's own chain and a device's alike) is the tail of the same index's
 *   (stream, author) range: one index step, and by the positions the check refuses, not by seq.
 * - An envelope is stored once per (stream, epoch, recipient), except that one created by a device revoked
 *   since is replaced by one of the same key id from an active device of the same account
 *   (ENVELOPE_ON_CONFLICT_SQL, also a restore's carry: the revocation as the database written to holds it
 *   when the replacement is written, inside its transaction).
 * - An access guard (types.ts AccessGuard) given to writeDocs, putManifest, putChunk or blobs.delete reads
 *   the grantee's unended grants from the named patients (`grants_unrevoked_by_grantee_patient`, as
 *   `listUnendedFrom`) first thing inside the write's BEGIN IMMEDIATE transaction, under the write lock:
 *   a revocation is committed before that read (and refuses the write) or after the write. So is the
 *   guard's `writer` device's revocation, read in the same step. What its check
 *   throws rolls the transaction back and reaches the caller unchanged (not mapped to a StoreError).
 * - The access entries a chunk or a blob deletion carries (types.ts AccessEntries) are written by
 *   writeDocs' own batch code inside that blob write's BEGIN IMMEDIATE transaction, after the guard's
 *   check and the blob write: any of them not written `ok` (a chain position taken) throws CONFLICT there,
 *   so the entries and the write commit together or not at all, and their heads go to commit listeners
 *   after COMMIT as writeDocs' do. Likewise a writeDocs row marked `expectRefused` that passes its
 *   compare-and-set throws CONFLICT inside the transaction: nothing of its batch commits.
 * - A row's `expectedEpoch` is compared with the stream's highest envelope epoch read inside writeDocs'
 *   BEGIN IMMEDIATE transaction (a new blob manifest's inside putManifest's), and `envelopes.putAll`
 *   inserts its batch in one such transaction: an envelope is committed either before that read (seen) or
 *   after the batch (the row or manifest was current then).
 * - Commit listeners run synchronously after COMMIT returns, for every instance of this process open on
 *   the same file; a throwing listener is reported, never undoes or fails the committed write.
 * - Schema versions live in PRAGMA user_version; a file newer than this code is refused (INTERNAL, details:
 *   schemaVersion, supportedSchemaVersion).
 * - secure_delete=ON: SQLite zeroes what it frees, so a deleted blob's chunks are not left readable in
 *   the database file (the WAL's older frames keep them until overwritten, at most journal_size_limit
 *   after a checkpoint; backups taken before the deletion keep them). A store written before v8 (without
 *   secure_delete) is rebuilt once (VACUUM) when it is migrated, for the copies of cells it left behind:
 *   the migration's transaction leaves a flag in meta that only a finished rebuild removes, so a store
 *   whose open stopped between the two is rebuilt at its next open. A blob's deletion removes its chunks
 *   and manifest and writes its tombstone in one BEGIN IMMEDIATE transaction; manifests check for a
 *   tombstone inside theirs, so a deleted id is never stored again.
 * - Once init has run, meta holds the store's incarnation (INCARNATION_META_KEY); only a restore replaces it.
 * - `restored_heads` (v11) holds every stream's head as the last restore left it, and meta the restore's
 *   origin (RESTORE_ORIGIN_META_KEY: the incarnation it gave the store and the backup's own), both written
 *   by the restore (restore-carry.ts) and by nothing else. A version at or below its stream's restored head
 *   was in the store at the restore; every version stored since has a higher seq. A push conflict names the
 *   backup's incarnation (`keptFrom`) only for such a version, and only while the origin's incarnation is
 *   the store's own (a restore by a build that records neither leaves a stale origin, which then says
 *   nothing): devices never have to infer it from seqs, which a restore onto an empty disk reuses.
 * - `grants_unrevoked_by_grantee_patient` (v12) serves a grantee's unended grants by patient in stream id
 *   order (`${patient_id}/`): `listUnendedByPatient` pages read only as far as their limit, and
 *   `listUnendedFrom` only the named patients', skipping expired grants on the entry and never touching
 *   revoked ones, so neither costs more for grants ended or received from other patients.
 * - `devices.revocation` (v13) holds a device's signed revocation as the revoke route received it (checked
 *   there; the store does not), the first one kept like the first time; NULL for a device revoked before.
 * - `server_state` (v9) holds what the server process records at start (one statement per key); a restore
 *   leaves the backup's rows, which the restored store's next start overwrites.
 * - `accepted_patients` (v10) holds the patients each grantee accepted; `acceptances.put` reads the
 *   grantee's count and inserts in one BEGIN IMMEDIATE transaction, so no grantee passes the cap it is given.
 *   A restore goes back to the backup's acceptances (flood policy, not consent: a provider accepts again).
 * - One open store per data directory, across processes: opening claims the directory (data-dir-lock.ts)
 *   before the database file is touched, and close() gives it up after the connection is closed; the OS
 *   drops it if the process dies. The server's in-process state (audit chain lock, live hub) relies on this.
 *   `exclusive: false` skips the claim for tools and tests that deliberately write beside a store.
 * - A data directory holding a non-empty -wal but no database file is refused (INTERNAL): SQLite would
 *   start an empty database there and delete the -wal. With the file present, SQLite replays whatever
 *   -wal lies beside it, its own or not (nothing ties the two): only restore (backup.ts) replaces files.
 * - What the open creates is the server user's only: the data directory 0700, the database file 0600
 *   before SQLite opens it, and so its -wal and -shm files, which SQLite gives the database's mode.
 * - health() is ok only if the data directory's disk has HEALTH_MIN_FREE_BYTES free and a transaction
 *   that writes and removes a heartbeat row in `meta` commits (durably; the store is left as it was); it
 *   runs at most once per `healthIntervalMs` and repeats its last answer in between, except that a
 *   closed store is reported at once.
 *
 * - Invites (invites.ts) are kept as hashes only. A registration with an invite reads it, decides
 *   (`inviteRefusal`, the only place the rules are written) and takes its use inside the registration's
 *   BEGIN IMMEDIATE transaction, before anything else is checked or written: the write lock is held from
 *   BEGIN, so no other registration (also from other connections or processes) comes between the read and
 *   the decrement; of racing registrations on an invite with n uses left, at most n commit, and a refused
 *   one leaves the invite and every table as they were.
 *
 * Failure modes: data directory held by another process or store → DATA_DIR_IN_USE (nothing changed),
 * SQLITE_BUSY/locked/disk errors → UNAVAILABLE, constraint violations → ALREADY_EXISTS
 * (unique), NOT_FOUND (foreign key) or INVALID (check), closed store → UNAVAILABLE, an invite that does
 * not admit a registration → INVITE_INVALID, else INTERNAL.
 */
import { sqliteHeads } from './sqlite-heads';
import { SHL_ONE_TIME_SQL, SHL_TABLES_SQL, sqliteShl } from './sqlite-shl';
import { createEraseAccount } from './sqlite-erase';
import { randomBytes } from 'node:crypto';
import { existsSync, statfsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import Database from 'better-sqlite3';
import { Type } from '@sinclair/typebox';
import { Incarnation, MAX_FRAME_BYTES, validate } from '@hale/protocol';
import { sameBytes } from './bytes';
import { lockDataDir, type DataDirLock } from './data-dir-lock';
import { createPrivateFile, ensurePrivateDir } from './file-modes';
import {
  type Acceptance,
  type AccessEntries,
  type AccessGuard,
  BLOB_CHUNK_OVERHEAD_BYTES,
  BLOB_QUOTA_CHUNK_BYTES,
  BLOB_QUOTA_MANIFEST_BYTES,
  blobQuotaBytes,
  sealedChunkBounds,
  StoreError,
  isAuditStream,
  type Account,
  type BlobManifest,
  type BlobQuota,
  type BlobTombstone,
  type Challenge,
  type CommitListener,
  type Device,
  type Doc,
  type DocPage,
  type DocWrite,
  type DocWriteResult,
  type Envelope,
  type EnvelopeHolder,
  type Grant,
  type GrantScope,
  type JsonObject,
  type ProviderEntry,
  type Session,
  type StoreErrorCode,
  type AccountRole,
  type Invite,
  type InviteRefusal,
  type StoreHealth,
  type StreamHead,
  type SyncStore,
} from './types';

export const SQLITE_FILE_NAME = 'hale.sqlite';

/**
 * `meta` key of the store's incarnation: a random id created with the store (or at the first open of a
 * store older than it) and replaced by every restore (backup.ts). The server sends it in `ready`, so
 * devices notice that the store went back to a backup.
 */
export const INCARNATION_META_KEY = 'incarnation';

/**
 * `meta` key of what the last restore recorded besides `restored_heads`: JSON `{ into, from }`, the
 * incarnation it gave the store and the one of the store the backup was taken of (RestoreOrigin).
 */
export const RESTORE_ORIGIN_META_KEY = 'restore-origin';

export const RestoreOrigin = Type.Object(
  { into: Incarnation, from: Incarnation },
  { additionalProperties: false },
);

/**
 * The table of heads a restore leaves (migration v11). A restore into a copy at an older schema creates it
 * there too, so the migration that later upgrades that copy must find it made (IF NOT EXISTS). Part of a
 * released migration: never edited (a change is a new migration).
 */
export const RESTORED_HEADS_TABLE_SQL = `
  CREATE TABLE IF NOT EXISTS restored_heads (
    stream TEXT PRIMARY KEY,
    head INTEGER NOT NULL CHECK (head >= 0)
  ) WITHOUT ROWID;
`;

/**
 * What an envelope insert does when its (stream, epoch, recipient) is taken (see the header): nothing,
 * unless the stored one's creator is revoked and the new one carries the same key id from an active device
 * of the same account, which then takes its place. The same key only: a claim stays the first one, only
 * its signer changes. Every insert into `envelopes` ends with it (`envelopeInsert`, and restore-carry.ts
 * carrying envelopes into a backup copy), so a restore keeps what the store would have kept.
 */
export const ENVELOPE_ON_CONFLICT_SQL = `ON CONFLICT (stream, epoch, recipient) DO UPDATE SET
       wrapped = excluded.wrapped, created_by = excluded.created_by, sig = excluded.sig,
       created_at = excluded.created_at
     WHERE envelopes.key_id = excluded.key_id AND EXISTS (
       SELECT 1 FROM devices old JOIN devices new ON new.account_id = old.account_id
       WHERE old.device_id = envelopes.created_by AND old.revoked_at IS NOT NULL
         AND new.device_id = excluded.created_by AND new.revoked_at IS NULL)`;

/** A fresh incarnation id (16 random bytes, base64url: what the protocol's `Incarnation` accepts). */
export const newIncarnation = (): string => randomBytes(16).toString('base64url');

/** The restore origin stored under RESTORE_ORIGIN_META_KEY; null when absent or malformed. */
export const restoreOrigin = (value: string | undefined): { into: string; from: string } | null => {
  if (value === undefined) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  const checked = validate(RestoreOrigin, parsed);
  return checked.ok ? checked.value : null;
};

export interface SqliteStoreOptions {
  dataDir: string;
  /** Defaults to `hale.sqlite`. */
  fileName?: string;
  /** How long a call waits for another connection's write lock before UNAVAILABLE. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Receives errors thrown by commit listeners. Default: console.error. */
  onListenerError?: (error: unknown) => void;
  /**
   * Claim the data directory for this store (default true): a second claim, from another process or
   * this one, fails with DATA_DIR_IN_USE. false is only for tools and tests that write beside a running
   * store on purpose; such writes bypass the server's in-process state (audit chain lock, live hub).
   */
  exclusive?: boolean;
  /**
   * health() writes a heartbeat at most once per this many milliseconds (default 2000) and repeats its
   * last answer in between, so a flood of health checks cannot become a flood of writes and fsyncs.
   */
  healthIntervalMs?: number;
  /** health() fails while the data directory's file system has less free space (default HEALTH_MIN_FREE_BYTES). */
  healthMinFreeBytes?: number;
}

/**
 * `meta` key of health()'s heartbeat, a row written and removed in one transaction: a read would succeed
 * from the page cache on a full or read-only disk, and the removal leaves the store as it was.
 */
export const HEALTH_META_KEY = 'health-heartbeat';

/**
 * Room for the largest write the protocol allows, twice: once into the WAL, once into the database at the
 * checkpoint. A full disk still takes small writes into WAL space freed by the last checkpoint, so the
 * heartbeat alone can pass while every real push fails.
 */
export const HEALTH_MIN_FREE_BYTES = 2 * MAX_FRAME_BYTES;

/** Free bytes for this user on `dir`'s file system, or null where the platform cannot say. */
const freeBytes = (dir: string): number | null => {
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
};

export interface SqliteStore extends SyncStore {
  /** Absolute path of the database file. */
  readonly file: string;
  /** The raw connection, for online backup and maintenance. Writing through it bypasses the contract. */
  readonly db: Database.Database;
}

const AUDIT_TRIGGER_WHEN = `substr(OLD.stream, -6) = '/audit'`;

/** Rolls writeDocs' transaction back from inside it (a chain position was taken); carries the answer. */
class BatchNotWritten extends Error {
  constructor(readonly results: DocWriteResult[]) {
    super('a chain position was taken; nothing of the batch was written');
  }
}

/** What `blobs.putManifest` passes its transaction besides the manifest. */
interface ManifestOptions {
  quota?: BlobQuota;
  guard?: AccessGuard;
  expectedEpoch?: number;
}
/** A chunk `blobs.putChunk` stores, with the guard it passes first and the access entries it carries. */
interface GuardedChunk {
  bytes: Uint8Array;
  guard?: AccessGuard;
  entries?: AccessEntries;
}

/** Carries what an AccessGuard's check threw out of the write's transaction, to reach the caller unchanged. */
class GuardRefused extends Error {
  constructor(readonly reason: Error) {
    super('an access guard refused the write; nothing was written');
  }
}

/**
 * Index i holds the SQL that upgrades user_version i to i + 1. A released entry is never edited (a file
 * already at i + 1 would not see the change): schema changes are new entries.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('patient', 'provider')),
    identity_public_key TEXT NOT NULL,
    wrapping_public_key TEXT NOT NULL,
    wrapped_root TEXT NOT NULL,
    login_name TEXT UNIQUE,
    created_at TEXT NOT NULL
  );

  CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    cert TEXT NOT NULL,
    device_public_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
  );
  CREATE INDEX devices_by_account ON devices (account_id);

  -- No foreign key: a challenge may be issued before the server reveals whether a device exists.
  CREATE TABLE challenges (
    challenge_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
  );
  CREATE INDEX challenges_by_device ON challenges (device_id);
  CREATE INDEX challenges_by_expiry ON challenges (expires_ms);

  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    expires_at TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
  );
  CREATE INDEX sessions_by_device ON sessions (device_id);
  CREATE INDEX sessions_by_expiry ON sessions (expires_ms);

  CREATE TABLE grants (
    grant_id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES accounts (account_id),
    grantee_id TEXT NOT NULL REFERENCES accounts (account_id),
    scope TEXT NOT NULL,
    start TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    signed TEXT NOT NULL,
    revoked_at TEXT,
    revocation TEXT
  );
  CREATE INDEX grants_by_patient ON grants (patient_id, issued_at);
  CREATE INDEX grants_by_grantee ON grants (grantee_id, issued_at);

  CREATE TABLE stream_heads (
    stream TEXT PRIMARY KEY,
    head INTEGER NOT NULL CHECK (head >= 0)
  ) WITHOUT ROWID;

  -- A rowid table: rows carry kilobytes of ciphertext, too large for a clustered WITHOUT ROWID b-tree.
  CREATE TABLE docs (
    stream TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq > 0),
    rev TEXT NOT NULL,
    deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    epoch INTEGER NOT NULL,
    ct BLOB NOT NULL,
    size INTEGER NOT NULL,
    author TEXT NOT NULL,
    sig TEXT,
    audit_author_seq INTEGER,
    audit_prev_hash TEXT,
    audit_at TEXT,
    at TEXT NOT NULL
  );
  CREATE UNIQUE INDEX docs_by_stream_seq ON docs (stream, seq);
  CREATE UNIQUE INDEX docs_by_stream_id ON docs (stream, id);

  CREATE TRIGGER docs_audit_no_update BEFORE UPDATE ON docs
    WHEN ${AUDIT_TRIGGER_WHEN} OR substr(NEW.stream, -6) = '/audit'
    BEGIN SELECT RAISE(ABORT, 'audit documents are append-only'); END;
  CREATE TRIGGER docs_audit_no_delete BEFORE DELETE ON docs
    WHEN ${AUDIT_TRIGGER_WHEN}
    BEGIN SELECT RAISE(ABORT, 'audit documents are append-only'); END;

  CREATE TABLE envelopes (
    stream TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    key_id TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (stream, epoch, recipient)
  ) WITHOUT ROWID;
  CREATE INDEX envelopes_by_recipient ON envelopes (recipient, stream, epoch);

  CREATE TABLE blob_manifests (
    blob_id TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    size INTEGER NOT NULL,
    chunk_size INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    digests TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
  );

  -- Chunk bytes live apart from the manifest so listing or checking a blob never pages them in.
  CREATE TABLE blob_chunks (
    blob_id TEXT NOT NULL REFERENCES blob_manifests (blob_id),
    idx INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (blob_id, idx)
  );

  CREATE TABLE providers (
    account_id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    specialty TEXT NOT NULL,
    clinic TEXT NOT NULL,
    identifier TEXT NOT NULL,
    contact TEXT,
    signed TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    search_text TEXT NOT NULL
  );
  `,
  // v1 → v2: envelope signatures get their own column. v1 files store them packed in `wrapped` as the
  // JSON text {"wrapped": "<text>", "sig": "<text>" | null}; unpacked here. An unpacked wrapped key is
  // base64url text, never a JSON object, so no row is unpacked twice.
  `
  ALTER TABLE envelopes ADD COLUMN sig TEXT;
  UPDATE envelopes
    SET sig = json_extract(wrapped, '$.sig'), wrapped = json_extract(wrapped, '$.wrapped')
    WHERE json_valid(wrapped) AND json_type(wrapped) = 'object';
  `,
  // v2 → v3: passphrase changes carry a generation and the identity signature, so other devices of the
  // account can take a newer wrap and refuse a replayed older one. Existing wraps become generation 0
  // (their signature is the account record's); a wrap changed under v2 is unsigned at generation 0 too.
  `
  ALTER TABLE accounts ADD COLUMN wrapped_root_gen INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE accounts ADD COLUMN wrapped_root_sig TEXT;
  `,
  // v3 → v4: the identity signature over the account's wrapping key, relayed so other accounts wrap only
  // to a key the account published. Accounts registered before have none (NULL) until they publish one.
  `
  ALTER TABLE accounts ADD COLUMN wrapping_key_sig TEXT;
  `,
  // v4 → v5: access decisions read only unended grants (ended ones pile up: they are the consent history),
  // and grants issued per pair are rate-capped by the server's receive time (`stored_at`; NULL for grants
  // stored before, which no window counts). `grant_changes` holds, per grantee, the position of its last
  // grant change, so a live hub finds changed accounts with one small query instead of reloading all.
  `
  ALTER TABLE grants ADD COLUMN stored_at TEXT;
  CREATE INDEX grants_unended_by_grantee ON grants (grantee_id, revoked_at, expires_at);
  CREATE INDEX grants_unended_by_patient ON grants (patient_id, revoked_at, expires_at);
  CREATE INDEX grants_by_pair_stored ON grants (patient_id, grantee_id, stored_at);
  CREATE INDEX grants_by_pair_issued ON grants (patient_id, grantee_id, issued_at);
  CREATE TABLE grant_changes (
    grantee_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX grant_changes_by_position ON grant_changes (position);
  `,
  // v5 → v6: an account's blob usage (for its quota) sums the manifests its devices created.
  `
  CREATE INDEX blob_manifests_by_creator ON blob_manifests (created_by);
  `,
  // v6 → v7: invite codes for registration in `invite` mode, kept only as hashes (invites.ts).
  `
  CREATE TABLE invites (
    code_hash TEXT PRIMARY KEY,
    role TEXT CHECK (role IN ('patient', 'provider')),
    uses INTEGER NOT NULL CHECK (uses > 0),
    uses_left INTEGER NOT NULL CHECK (uses_left >= 0 AND uses_left <= uses),
    expires_at TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    note TEXT,
    revoked_at TEXT
  ) WITHOUT ROWID;
  `,
  // v7 → v8: blobs can be deleted; a deleted blob's id is kept so it is never announced again.
  `
  CREATE TABLE blob_tombstones (
    blob_id TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    deleted_by TEXT NOT NULL,
    deleted_at TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // v8 → v9: what the server process records about itself at start (e.g. its registration mode, which the
  // invite command reports), one row per key, apart from `meta` (the store's own identity and secrets).
  `
  CREATE TABLE server_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // v9 → v10: patients a grantee accepted (`acceptPatient`): their grants to it do not count toward its cap
  // on grants from strangers. Keyed by grantee first: the cap check, the count and the listing read one
  // grantee's rows; the cap check looks up (grantee, patient) pairs.
  `
  CREATE TABLE accepted_patients (
    grantee_id TEXT NOT NULL REFERENCES accounts (account_id),
    patient_id TEXT NOT NULL REFERENCES accounts (account_id),
    accepted_at TEXT NOT NULL,
    PRIMARY KEY (grantee_id, patient_id),
    CHECK (grantee_id <> patient_id)
  ) WITHOUT ROWID;
  `,
  // v10 → v11: each stream's head as the last restore left it, so the store tells a version it held at the
  // restore from one stored since, whatever their seqs (RESTORE_ORIGIN_META_KEY). Empty until a restore.
  RESTORED_HEADS_TABLE_SQL,
  // v11 → v12: a grantee's unrevoked grants by patient as stream ids order them (`${patient_id}/`), then by
  // issue: a `listStreams` page reads the grants of the patients it lists, and a pull those of the patients
  // it names (`listUnendedByPatient`, `listUnendedFrom`), instead of all the grantee's. Revoked grants are
  // not in it; expired ones are skipped on `expires_at` in the entry, without reading their rows.
  `
  CREATE INDEX IF NOT EXISTS grants_unrevoked_by_grantee_patient
    ON grants (grantee_id, patient_id || '/', issued_at, grant_id, expires_at) WHERE revoked_at IS NULL;
  `,
  // v12 → v13: a device's signed revocation as the account sent it (SignedDeviceRevocation, JSON), served
  // with the device (`GET /v1/accounts/:accountId/devices/:deviceId`) so readers can check what the device
  // signed before it. Devices revoked before have none (NULL): their revocation time is the server's word.
  `
  ALTER TABLE devices ADD COLUMN revocation TEXT;
  `,
  // v13 → v14: a device's audit appends to one patient's stream by receive time, so the sync service can cap
  // them per rolling window (now per account, `auditEntriesOfAccountSince`) reading only the entries it counts. Partial: rows without
  // an audit header (every record write) are not in it, so only audit appends pay for it.
  `
  CREATE INDEX IF NOT EXISTS docs_audit_by_author ON docs (stream, author, at)
    WHERE audit_author_seq IS NOT NULL;
  `,
  // v14 → v15: an author's audit entries in one stream by chain position, so writeDocs finds at once whether
  // a new entry's position is held (`position-taken`). Not UNIQUE: a store written before that check may
  // hold two entries at one position (two tabs of one device did), which the append-only log keeps and on
  // which a unique index would fail to build; writeDocs checks in its transaction instead. Partial as above.
  `
  CREATE INDEX IF NOT EXISTS docs_audit_by_position ON docs (stream, author, audit_author_seq)
    WHERE audit_author_seq IS NOT NULL;
  `,
  // v15 → v16: the identity signature over the account's role (`roleSignaturePayload`), relayed so a joining
  // device takes the role only as the account signed it; accounts registered before have no row. A table of
  // its own rather than a column: created IF NOT EXISTS, the step can run again on a file whose version was
  // set back (as upgrade tests do) without failing on a duplicate column.
  `
  CREATE TABLE IF NOT EXISTS account_role_sigs (
    account_id TEXT PRIMARY KEY REFERENCES accounts (account_id),
    sig TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // v16 → v17: signed stream heads (sqlite-heads.ts): per stream the newest statement a patient device
  // signed and the server accepted, and the rows it covers (id, rev, deleted: what docs hold in clear), so
  // it can be served with its leaves after the rows change. IF NOT EXISTS, as above.
  `
  CREATE TABLE IF NOT EXISTS signed_heads (
    stream TEXT PRIMARY KEY,
    seq INTEGER NOT NULL CHECK (seq >= 0),
    signed TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS signed_head_rows (
    stream TEXT NOT NULL,
    id TEXT NOT NULL,
    rev TEXT NOT NULL,
    deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    PRIMARY KEY (stream, id)
  ) WITHOUT ROWID;
  `,
  // v17 → v18: each provider's signed availability (the directory's bookable hours), the highest version
  // it published. IF NOT EXISTS, as above.
  `
  CREATE TABLE IF NOT EXISTS provider_availability (
    account_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version >= 1),
    signed TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // v18 → v19: SMART Health Links (sqlite-shl.ts): each link's routing, limits and ciphertext, and its
  // access log. IF NOT EXISTS, as above.
  SHL_TABLES_SQL,
  // v19 → v20: a link that opens once (sqlite-shl.ts).
  SHL_ONE_TIME_SQL,
];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** The migrations, for tests that build a file at an older schema version. Not part of the store API. */
export const SCHEMA_MIGRATIONS: readonly string[] = MIGRATIONS;

// Lowercased fields joined by a character that cannot occur in a query, so a match never spans fields.
const SEARCH_SEPARATOR = '\u0001';

interface DocRow {
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
  at: string;
}

interface AccountRow {
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

interface DeviceRow {
  device_id: string;
  account_id: string;
  cert: string;
  device_public_key: string;
  created_at: string;
  revoked_at: string | null;
  revocation: string | null;
}

interface ChallengeRow {
  challenge_id: string;
  device_id: string;
  nonce: string;
  expires_at: string;
}

interface SessionRow {
  token_hash: string;
  device_id: string;
  account_id: string;
  expires_at: string;
}

interface GrantRow {
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
}

interface EnvelopeRow {
  stream: string;
  epoch: number;
  recipient: string;
  key_id: string;
  wrapped: string;
  created_by: string;
  sig: string | null;
  created_at: string;
}

interface ManifestRow {
  blob_id: string;
  stream: string;
  size: number;
  chunk_size: number;
  chunk_count: number;
  digests: string;
  created_by: string;
  created_at: string;
}

interface TombstoneRow {
  blob_id: string;
  stream: string;
  deleted_by: string;
  deleted_at: string;
}

interface InviteRow {
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

interface ProviderRow {
  account_id: string;
  display_name: string;
  specialty: string;
  clinic: string;
  identifier: string;
  contact: string | null;
  signed: string;
  updated_at: string;
}

const DOC_COLUMNS =
  'stream, id, seq, rev, deleted, epoch, ct, size, author, sig, audit_author_seq, audit_prev_hash, audit_at, at';

// Commit notifications reach every instance of this process open on the same file.
const openInstances = new Map<string, Set<(heads: StreamHead[]) => void>>();

/** True while a store of this process has `file` open (used by restore to refuse clobbering it). */
export const isSqliteFileOpenInProcess = (file: string): boolean =>
  (openInstances.get(resolve(file))?.size ?? 0) > 0;

const invalid = (message: string): StoreError => new StoreError('INVALID', message);

const toBytes = (value: Uint8Array): Uint8Array =>
  value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);

const parseJsonObject = (text: string): JsonObject => JSON.parse(text) as JsonObject;

const timeMs = (value: string, what: string): number => {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw invalid(`${what} is not an ISO timestamp: ${value}`);
  return ms;
};

const isNonNegativeInt = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

const requireText = (value: unknown, what: string): void => {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${what} must be a non-empty string`);
};

const requireGeneration = (value: unknown): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid('wrappedRootGen must be a non-negative integer');
  }
  return value;
};

const sqliteCode = (error: unknown): string | undefined =>
  error instanceof Database.SqliteError ? error.code : undefined;

const toStoreError = (error: unknown): StoreError => {
  if (error instanceof StoreError) return error;
  const code = sqliteCode(error);
  let mapped: StoreErrorCode = 'INTERNAL';
  if (code === undefined) {
    if (error instanceof TypeError && /database connection is not open/i.test(error.message)) {
      mapped = 'UNAVAILABLE';
    }
  } else if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    mapped = 'ALREADY_EXISTS';
  } else if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    mapped = 'NOT_FOUND';
  } else if (code === 'SQLITE_CONSTRAINT_CHECK' || code === 'SQLITE_CONSTRAINT_NOTNULL') {
    mapped = 'INVALID';
  } else if (/^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|PROTOCOL)/.test(code)) {
    mapped = 'UNAVAILABLE';
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StoreError(mapped, message, { cause: error });
};

const rowToDoc = (r: DocRow): Doc => {
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
  if (r.audit_author_seq !== null && r.audit_at !== null) {
    doc.audit = { authorSeq: r.audit_author_seq, prevHash: r.audit_prev_hash, at: r.audit_at };
  }
  return doc;
};

const rowToAccount = (r: AccountRow): Account => {
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

const rowToDevice = (r: DeviceRow): Device => {
  const device: Device = {
    deviceId: r.device_id,
    accountId: r.account_id,
    cert: parseJsonObject(r.cert),
    devicePublicKey: r.device_public_key,
    createdAt: r.created_at,
  };
  if (r.revoked_at !== null) device.revokedAt = r.revoked_at;
  if (r.revocation !== null) device.revocation = parseJsonObject(r.revocation);
  return device;
};

const rowToChallenge = (r: ChallengeRow): Challenge => ({
  challengeId: r.challenge_id,
  deviceId: r.device_id,
  nonce: r.nonce,
  expiresAt: r.expires_at,
});

const rowToSession = (r: SessionRow): Session => ({
  tokenHash: r.token_hash,
  deviceId: r.device_id,
  accountId: r.account_id,
  expiresAt: r.expires_at,
});

const rowToGrant = (r: GrantRow): Grant => {
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
  return grant;
};

interface AcceptanceRow {
  grantee_id: string;
  patient_id: string;
  accepted_at: string;
}

const rowToAcceptance = (r: AcceptanceRow): Acceptance => ({
  granteeId: r.grantee_id,
  patientId: r.patient_id,
  acceptedAt: r.accepted_at,
});

const rowToEnvelope = (r: EnvelopeRow): Envelope => {
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

const rowToManifest = (r: ManifestRow): BlobManifest => ({
  blobId: r.blob_id,
  stream: r.stream,
  size: r.size,
  chunkSize: r.chunk_size,
  chunkCount: r.chunk_count,
  digests: JSON.parse(r.digests) as string[],
  createdBy: r.created_by,
  createdAt: r.created_at,
});

const rowToTombstone = (r: TombstoneRow): BlobTombstone => ({
  blobId: r.blob_id,
  stream: r.stream,
  deletedBy: r.deleted_by,
  deletedAt: r.deleted_at,
});

const rowToProvider = (r: ProviderRow): ProviderEntry => {
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

const rowToInvite = (r: InviteRow): Invite => {
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

/**
 * Why `row` (the invite named at registration, if stored) admits no registration of `role` at `nowMs`, or
 * null when it admits one. The invite rules live here only; the first that fails is the reason given.
 */
const inviteRefusal = (
  row: InviteRow | undefined,
  role: AccountRole,
  nowMs: number,
): InviteRefusal | null => {
  if (row === undefined) return 'unknown';
  if (row.revoked_at !== null) return 'revoked';
  if (row.expires_ms <= nowMs) return 'expired';
  if (row.uses_left <= 0) return 'used-up';
  if (row.role !== null && row.role !== role) return 'role';
  return null;
};

const validateEnvelope = (e: Envelope): void => {
  requireText(e.stream, 'stream');
  requireText(e.recipient, 'recipient');
  if (!isNonNegativeInt(e.epoch)) throw invalid('epoch must be a non-negative integer');
};

const validateDocWrite = (row: DocWrite): void => {
  const { doc, assumedRev } = row;
  requireText(doc.stream, 'doc.stream');
  requireText(doc.id, 'doc.id');
  requireText(doc.rev, 'doc.rev');
  requireText(doc.author, 'doc.author');
  if (!(doc.ct instanceof Uint8Array)) throw invalid('doc.ct must be a Uint8Array');
  if (typeof doc.deleted !== 'boolean') throw invalid('doc.deleted must be a boolean');
  if (!isNonNegativeInt(doc.epoch)) throw invalid('doc.epoch must be a non-negative integer');
  if (!isNonNegativeInt(doc.size)) throw invalid('doc.size must be a non-negative integer');
  if (doc.sig !== undefined && typeof doc.sig !== 'string') throw invalid('doc.sig must be a string');
  if (doc.audit !== undefined && !isNonNegativeInt(doc.audit.authorSeq)) {
    throw invalid('doc.audit.authorSeq must be a non-negative integer');
  }
  if (assumedRev !== null && typeof assumedRev !== 'string')
    throw invalid('assumedRev must be a string or null');
  if (row.expectedEpoch !== undefined && !isNonNegativeInt(row.expectedEpoch))
    throw invalid('expectedEpoch must be a non-negative integer');
};

const validateManifest = (m: BlobManifest): void => {
  requireText(m.blobId, 'blobId');
  requireText(m.stream, 'stream');
  if (!isNonNegativeInt(m.size)) throw invalid('size must be a non-negative integer');
  if (!isNonNegativeInt(m.chunkSize) || m.chunkSize === 0)
    throw invalid('chunkSize must be a positive integer');
  // An empty blob is one (sealed) empty chunk, as the protocol counts it.
  if (m.chunkCount !== Math.max(1, Math.ceil(m.size / m.chunkSize)))
    throw invalid('chunkCount must be max(1, ceil(size / chunkSize))');
  if (!Array.isArray(m.digests) || m.digests.length !== m.chunkCount) {
    throw invalid('digests must hold one entry per chunk');
  }
};

/**
 * Only what the uploader committed to: createdBy/createdAt describe the first announcement, and a resumed
 * upload (later, or from another device of the account) announces the same blob again.
 */
const sameManifest = (a: BlobManifest, b: BlobManifest): boolean =>
  a.blobId === b.blobId &&
  a.stream === b.stream &&
  a.size === b.size &&
  a.chunkSize === b.chunkSize &&
  a.chunkCount === b.chunkCount &&
  a.digests.length === b.digests.length &&
  a.digests.every((d, i) => d === b.digests[i]);

/** The schema from which the store runs with secure_delete (v8, blob deletion). */
const SECURE_DELETE_SCHEMA = 8;

/**
 * `meta` key present while a store migrated from before SECURE_DELETE_SCHEMA still needs its one rebuild
 * (value: the schema version it was migrated from).
 */
const REBUILD_PENDING_META_KEY = 'secure-delete-rebuild-pending';

/**
 * Migrates the schema; answers the version the file had (0 for a new one). The first step of opening a
 * store (exported so a test can stop after it, as a crash would).
 */
export const migrateSqliteSchema = (db: Database.Database): number => {
  const readVersion = (): number => db.pragma('user_version', { simple: true }) as number;
  const found = readVersion();
  if (readVersion() > MIGRATIONS.length) {
    throw new StoreError(
      'INTERNAL',
      `database schema version ${readVersion()} is newer than this server supports (${MIGRATIONS.length})`,
      { details: { schemaVersion: found, supportedSchemaVersion: MIGRATIONS.length } },
    );
  }
  if (found === MIGRATIONS.length) return found;
  // IMMEDIATE: two processes starting at once must not both apply the same migration.
  db.transaction(() => {
    const from = readVersion();
    for (let v = from; v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v] ?? '');
      db.pragma(`user_version = ${v + 1}`);
    }
    // With the migrations, so the rebuild they call for cannot be lost: it runs after this commits
    // (VACUUM cannot run in a transaction) and the flag goes only once it has (`rebuildIfPending`).
    if (from > 0 && from < SECURE_DELETE_SCHEMA) {
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(
        REBUILD_PENDING_META_KEY,
        String(from),
      );
    }
  }).immediate();
  return found;
};

/**
 * Rebuilds the file (VACUUM) when a migration from before secure_delete left REBUILD_PENDING_META_KEY,
 * then removes the key: a crash or failure before that leaves it for the next open, and a rebuild run
 * twice is only slower.
 */
const rebuildIfPending = (db: Database.Database): void => {
  const pending = db.prepare('SELECT 1 FROM meta WHERE key = ?').get(REBUILD_PENDING_META_KEY);
  if (pending === undefined) return;
  db.exec('VACUUM');
  db.prepare('DELETE FROM meta WHERE key = ?').run(REBUILD_PENDING_META_KEY);
  db.pragma('wal_checkpoint(TRUNCATE)');
};

type GrantPageArgs = [string, ...(string | number)[]];

/**
 * The `grants.listPage` statements, by side, filter (`all` or `unended`) and cursor (`first` page, or
 * `after` a key); parameters: the account id, then `now` (unended), then issued_at and grant_id (after),
 * then the limit.
 */
const grantPageStatements = (db: Database.Database) => {
  const make = (side: 'patient' | 'grantee', unended: boolean, after: boolean) =>
    db.prepare<GrantPageArgs, GrantRow>(
      `SELECT * FROM grants ${unended ? `INDEXED BY grants_unended_by_${side}` : ''}
       WHERE ${side}_id = ? ${unended ? 'AND revoked_at IS NULL AND expires_at > ?' : ''}
         ${after ? 'AND (issued_at, grant_id) < (?, ?)' : ''}
       ORDER BY issued_at DESC, grant_id DESC LIMIT ?`,
    );
  const sideOf = (side: 'patient' | 'grantee') => ({
    all: { first: make(side, false, false), after: make(side, false, true) },
    unended: { first: make(side, true, false), after: make(side, true, true) },
  });
  return { patient: sideOf('patient'), grantee: sideOf('grantee') };
};

const prepareStatements = (db: Database.Database) => ({
  metaGet: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
  metaPut: db.prepare<[string, string]>(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  ),
  serverStateGet: db.prepare<[string], { value: string; updated_at: string }>(
    'SELECT value, updated_at FROM server_state WHERE key = ?',
  ),
  serverStatePut: db.prepare<[string, string, string]>(
    `INSERT INTO server_state (key, value, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
  ),

  accountInsert: db.prepare<
    [string, string, string, string, string, number, string | null, string | null, string | null, string]
  >(
    `INSERT INTO accounts (account_id, role, identity_public_key, wrapping_public_key, wrapped_root,
       wrapped_root_gen, wrapped_root_sig, wrapping_key_sig, login_name, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ),
  accountRoleSigInsert: db.prepare<[string, string]>(
    'INSERT INTO account_role_sigs (account_id, sig) VALUES (?, ?)',
  ),
  accountGet: db.prepare<[string], AccountRow>(
    `SELECT a.*, r.sig AS role_sig FROM accounts a LEFT JOIN account_role_sigs r USING (account_id)
       WHERE a.account_id = ?`,
  ),
  accountByLogin: db.prepare<[string], AccountRow>(
    `SELECT a.*, r.sig AS role_sig FROM accounts a LEFT JOIN account_role_sigs r USING (account_id)
       WHERE a.login_name = ?`,
  ),
  // Any generation above the stored one, not only the next: a device ahead of a store restored from an
  // older backup publishes past its own generation (the route verified the account's signature over it).
  accountSetWrappedRoot: db.prepare<[string, number, string, string, number]>(
    `UPDATE accounts SET wrapped_root = ?, wrapped_root_gen = ?, wrapped_root_sig = ?
       WHERE account_id = ? AND wrapped_root_gen < ?`,
  ),
  accountSetWrappingKeySig: db.prepare<[string, string]>(
    'UPDATE accounts SET wrapping_key_sig = ? WHERE account_id = ?',
  ),
  // The first signature taken stays: OR IGNORE keeps a held row, and the SELECT inserts nothing for an
  // account that does not exist (the caller tells the two apart).
  accountRoleSigAdd: db.prepare<[string, string]>(
    `INSERT OR IGNORE INTO account_role_sigs (account_id, sig)
       SELECT account_id, ? FROM accounts WHERE account_id = ?`,
  ),
  accountSetWrappedRootSig: db.prepare<[string, string, number]>(
    `UPDATE accounts SET wrapped_root_sig = ?
       WHERE account_id = ? AND wrapped_root_gen = ? AND wrapped_root_sig IS NULL`,
  ),

  deviceInsert: db.prepare<[string, string, string, string, string, string | null]>(
    `INSERT INTO devices (device_id, account_id, cert, device_public_key, created_at, revoked_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  ),
  deviceGet: db.prepare<[string], DeviceRow>('SELECT * FROM devices WHERE device_id = ?'),
  devicesForAccount: db.prepare<[string], DeviceRow>(
    'SELECT * FROM devices WHERE account_id = ? ORDER BY created_at, device_id',
  ),
  // The first revocation's time is kept, and the first signed revocation: a device revoked before v13 takes
  // the one of a later repeat, so it can still be served.
  deviceRevoke: db.prepare<[string, string | null, string]>(
    `UPDATE devices SET revoked_at = coalesce(revoked_at, ?), revocation = coalesce(revocation, ?)
       WHERE device_id = ?`,
  ),

  challengeInsert: db.prepare<[string, string, string, string, number]>(
    'INSERT INTO challenges (challenge_id, device_id, nonce, expires_at, expires_ms) VALUES (?, ?, ?, ?, ?)',
  ),
  challengeTake: db.prepare<[string], ChallengeRow>(
    'DELETE FROM challenges WHERE challenge_id = ? RETURNING challenge_id, device_id, nonce, expires_at',
  ),
  challengesDeleteForDevice: db.prepare<[string]>('DELETE FROM challenges WHERE device_id = ?'),
  challengesDeleteExpired: db.prepare<[number]>('DELETE FROM challenges WHERE expires_ms <= ?'),

  sessionInsert: db.prepare<[string, string, string, string, number]>(
    'INSERT INTO sessions (token_hash, device_id, account_id, expires_at, expires_ms) VALUES (?, ?, ?, ?, ?)',
  ),
  sessionGet: db.prepare<[string], SessionRow>(
    `SELECT s.token_hash, s.device_id, s.account_id, s.expires_at FROM sessions s
     JOIN devices d ON d.device_id = s.device_id
     WHERE s.token_hash = ? AND d.revoked_at IS NULL`,
  ),
  sessionsDeleteForDevice: db.prepare<[string]>('DELETE FROM sessions WHERE device_id = ?'),
  sessionsDeleteExpired: db.prepare<[number]>('DELETE FROM sessions WHERE expires_ms <= ?'),

  grantInsert: db.prepare<
    [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string | null,
      string | null,
      string | null,
    ]
  >(
    `INSERT INTO grants (grant_id, patient_id, grantee_id, scope, start, expires_at, issued_at, signed,
       revoked_at, revocation, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ),
  grantGet: db.prepare<[string], GrantRow>('SELECT * FROM grants WHERE grant_id = ?'),
  grantsForPatient: db.prepare<[string], GrantRow>(
    'SELECT * FROM grants WHERE patient_id = ? ORDER BY issued_at, grant_id',
  ),
  grantsForGrantee: db.prepare<[string], GrantRow>(
    'SELECT * FROM grants WHERE grantee_id = ? ORDER BY issued_at, grant_id',
  ),
  // Timestamps are ISO strings as toISOString writes them (types.ts), so text order is time order.
  grantsUnendedForPair: db.prepare<[string, string, string], { n: number }>(
    `SELECT COUNT(*) AS n FROM grants
     WHERE patient_id = ? AND grantee_id = ? AND revoked_at IS NULL AND expires_at > ?`,
  ),
  grantsUnendedForPatient: db.prepare<[string, string], { n: number }>(
    'SELECT COUNT(*) AS n FROM grants WHERE patient_id = ? AND revoked_at IS NULL AND expires_at > ?',
  ),
  grantsUnendedForGrantee: db.prepare<[string, string], { n: number }>(
    'SELECT COUNT(*) AS n FROM grants WHERE grantee_id = ? AND revoked_at IS NULL AND expires_at > ?',
  ),
  // The grantee's unended grants through their index, each patient looked up among its accepted ones.
  grantsUnendedNotAccepted: db.prepare<[string, string], { n: number }>(
    `SELECT COUNT(*) AS n FROM grants g INDEXED BY grants_unended_by_grantee
     WHERE g.grantee_id = ? AND g.revoked_at IS NULL AND g.expires_at > ?
       AND NOT EXISTS (SELECT 1 FROM accepted_patients a
                       WHERE a.grantee_id = g.grantee_id AND a.patient_id = g.patient_id)`,
  ),

  acceptanceInsert: db.prepare<[string, string, string]>(
    'INSERT INTO accepted_patients (grantee_id, patient_id, accepted_at) VALUES (?, ?, ?)',
  ),
  acceptanceGet: db.prepare<[string, string], { accepted_at: string }>(
    'SELECT accepted_at FROM accepted_patients WHERE grantee_id = ? AND patient_id = ?',
  ),
  acceptanceDelete: db.prepare<[string, string]>(
    'DELETE FROM accepted_patients WHERE grantee_id = ? AND patient_id = ?',
  ),
  acceptanceCount: db.prepare<[string], { n: number }>(
    'SELECT COUNT(*) AS n FROM accepted_patients WHERE grantee_id = ?',
  ),
  acceptancePageFirst: db.prepare<[string, number], AcceptanceRow>(
    'SELECT * FROM accepted_patients WHERE grantee_id = ? ORDER BY patient_id LIMIT ?',
  ),
  acceptancePageAfter: db.prepare<[string, string, number], AcceptanceRow>(
    'SELECT * FROM accepted_patients WHERE grantee_id = ? AND patient_id > ? ORDER BY patient_id LIMIT ?',
  ),
  grantRevoke: db.prepare<[string, string, string]>(
    'UPDATE grants SET revoked_at = ?, revocation = ? WHERE grant_id = ? AND revoked_at IS NULL',
  ),
  grantsUnendedOfGrantee: db.prepare<[string, string], GrantRow>(
    `SELECT * FROM grants WHERE grantee_id = ? AND revoked_at IS NULL AND expires_at > ?
     ORDER BY issued_at, grant_id`,
  ),
  grantsUnendedOfPatient: db.prepare<[string, string], GrantRow>(
    `SELECT * FROM grants WHERE patient_id = ? AND revoked_at IS NULL AND expires_at > ?
     ORDER BY issued_at, grant_id`,
  ),
  // `listUnendedByPatient` / `listUnendedFrom`: the index's order is the answer's, so no sort and a page
  // stops at its limit; INDEXED BY because only it serves that order (a plan without it would sort all).
  grantsUnendedByPatientFirst: db.prepare<[string, string, number], GrantRow>(
    `SELECT * FROM grants INDEXED BY grants_unrevoked_by_grantee_patient
     WHERE grantee_id = ? AND revoked_at IS NULL AND expires_at > ?
     ORDER BY patient_id || '/', issued_at, grant_id LIMIT ?`,
  ),
  grantsUnendedByPatientAfter: db.prepare<[string, string, string, number], GrantRow>(
    `SELECT * FROM grants INDEXED BY grants_unrevoked_by_grantee_patient
     WHERE grantee_id = ? AND revoked_at IS NULL AND patient_id || '/' > ? AND expires_at > ?
     ORDER BY patient_id || '/', issued_at, grant_id LIMIT ?`,
  ),
  grantsUnendedFromPatients: db.prepare<[string, string, string], GrantRow>(
    `SELECT * FROM grants INDEXED BY grants_unrevoked_by_grantee_patient
     WHERE grantee_id = ? AND revoked_at IS NULL
       AND patient_id || '/' IN (SELECT value || '/' FROM json_each(?)) AND expires_at > ?
     ORDER BY patient_id || '/', issued_at, grant_id`,
  ),
  grantsEndedOfGrantee: db.prepare<[string, string, number], GrantRow>(
    `SELECT * FROM grants WHERE grantee_id = ? AND (revoked_at IS NOT NULL OR expires_at <= ?)
     ORDER BY issued_at DESC, grant_id DESC LIMIT ?`,
  ),
  grantsEndedOfPatient: db.prepare<[string, string, number], GrantRow>(
    `SELECT * FROM grants WHERE patient_id = ? AND (revoked_at IS NOT NULL OR expires_at <= ?)
     ORDER BY issued_at DESC, grant_id DESC LIMIT ?`,
  ),
  // `listPage`: one statement per side, cursor and filter, newest issued first. The key (issued_at, grant_id)
  // is compared as a row value, which the (…, issued_at) indexes serve as a range. Unended pages read
  // through the unended indexes (INDEXED BY: the planner would otherwise walk the ended rows too).
  grantPage: grantPageStatements(db),
  grantsEndedScopes: db.prepare<[string, string, string, number], { type: unknown; revoked: number }>(
    `SELECT DISTINCT json_extract(j.value, '$.type') AS type, g.revoked AS revoked
     FROM (SELECT scope, revoked_at IS NOT NULL AS revoked FROM grants
           WHERE patient_id = ? AND grantee_id = ? AND (revoked_at IS NOT NULL OR expires_at <= ?)
           ORDER BY issued_at DESC, grant_id DESC LIMIT ?) g, json_each(g.scope) j`,
  ),
  grantsStoredSince: db.prepare<[string, string, string], { n: number }>(
    'SELECT COUNT(*) AS n FROM grants WHERE patient_id = ? AND grantee_id = ? AND stored_at > ?',
  ),
  grantChangeBump: db.prepare<[string]>(
    `INSERT INTO grant_changes (grantee_id, position)
       VALUES (?, (SELECT coalesce(max(position), 0) + 1 FROM grant_changes))
     ON CONFLICT (grantee_id) DO UPDATE SET position = excluded.position`,
  ),
  grantChangePosition: db.prepare<[], { position: number }>(
    'SELECT coalesce(max(position), 0) AS position FROM grant_changes',
  ),
  grantChangesSince: db.prepare<[number], { grantee_id: string }>(
    'SELECT grantee_id FROM grant_changes WHERE position > ? ORDER BY position',
  ),

  headGet: db.prepare<[string], { head: number }>('SELECT head FROM stream_heads WHERE stream = ?'),
  restoredHeadGet: db.prepare<[string], { head: number }>('SELECT head FROM restored_heads WHERE stream = ?'),
  headPut: db.prepare<[string, number]>(
    'INSERT INTO stream_heads (stream, head) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET head = excluded.head',
  ),
  // length() of a blob is read from the record header: the ciphertext itself is not loaded. Its bytes
  // bound a conflict's answer (writeDocs' maxMasterBytes) before the stored version is loaded.
  docRev: db.prepare<[string, string], { rev: string; bytes: number }>(
    'SELECT rev, length(ct) AS bytes FROM docs WHERE stream = ? AND id = ?',
  ),
  docGet: db.prepare<[string, string], DocRow>(`SELECT ${DOC_COLUMNS} FROM docs WHERE stream = ? AND id = ?`),
  docInsert: db.prepare<
    [
      string,
      string,
      number,
      string,
      number,
      number,
      Uint8Array,
      number,
      string,
      string | null,
      number | null,
      string | null,
      string | null,
      string | null,
    ]
  >(`INSERT INTO docs (${DOC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
  docUpdate: db.prepare<
    [
      number,
      string,
      number,
      number,
      Uint8Array,
      number,
      string,
      string | null,
      number | null,
      string | null,
      string | null,
      string,
      string,
      string,
    ]
  >(
    `UPDATE docs SET seq = ?, rev = ?, deleted = ?, epoch = ?, ct = ?, size = ?, author = ?, sig = ?,
       audit_author_seq = ?, audit_prev_hash = ?, audit_at = ?, at = ?
     WHERE stream = ? AND id = ?`,
  ),
  docsRange: db.prepare<[string, number, number], DocRow>(
    `SELECT ${DOC_COLUMNS} FROM docs WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?`,
  ),
  // Reads only the account's audit entries in the window (the partial index holds audit rows only): one
  // range of docs_audit_by_author per device (devices_by_account), so the cost is the account's devices and
  // the entries counted.
  docAuditOfAccountSince: db.prepare<[string, string, string], { n: number; first: string | null }>(
    `SELECT COUNT(*) AS n, MIN(at) AS first FROM docs INDEXED BY docs_audit_by_author
     WHERE stream = ? AND author IN (SELECT device_id FROM devices WHERE account_id = ?) AND at >= ?
       AND audit_author_seq IS NOT NULL`,
  ),
  // Whether an author holds a chain position in an audit stream. The partial index's condition is repeated
  // so that it applies; INDEXED BY: docs_audit_by_author also matches (stream, author) and would read all
  // the author's entries.
  docAuditAt: db.prepare<[string, string, number], { id: string }>(
    `SELECT id FROM docs INDEXED BY docs_audit_by_position
     WHERE stream = ? AND author = ? AND audit_author_seq = ? AND audit_author_seq IS NOT NULL LIMIT 1`,
  ),
  // The author's (the server's or a device's) entry at its highest position, the positions `position-taken`
  // refuses by: the end of docs_audit_by_position's (stream, author) range, so one index step whatever the
  // stream holds. Not by seq: a device may store positions out of order (it sends entries acknowledged
  // before a restore again after newer ones). Of two entries at one position (a store from before v15), the
  // one inserted last (rowid, the index's tail).
  docAuditChainEnd: db.prepare<[string, string], DocRow>(
    `SELECT ${DOC_COLUMNS} FROM docs INDEXED BY docs_audit_by_position
     WHERE stream = ? AND author = ? AND audit_author_seq IS NOT NULL
     ORDER BY audit_author_seq DESC LIMIT 1`,
  ),

  envelopeInsert: db.prepare<[string, number, string, string, string, string, string | null, string]>(
    `INSERT INTO envelopes (stream, epoch, recipient, key_id, wrapped, created_by, sig, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ${ENVELOPE_ON_CONFLICT_SQL}`,
  ),
  // Both walk envelopes_by_recipient (recipient, stream, epoch) in the answer's order: only the recipient's
  // rows of the named streams are read, however many other recipients' rows those streams hold, and a
  // LIMIT stops the walk (no sort of everything first). LIMIT -1: no limit.
  envelopesForRecipient: db.prepare<[string, number], EnvelopeRow>(
    `SELECT * FROM envelopes INDEXED BY envelopes_by_recipient
     WHERE recipient = ? ORDER BY stream, epoch LIMIT ?`,
  ),
  envelopesForRecipientIn: db.prepare<[string, string, number], EnvelopeRow>(
    `SELECT * FROM envelopes INDEXED BY envelopes_by_recipient
     WHERE recipient = ? AND stream IN (SELECT value FROM json_each(?))
     ORDER BY stream, epoch LIMIT ?`,
  ),
  envelopeHolders: db.prepare<[string, number], EnvelopeHolder>(
    `SELECT stream, epoch, recipient, created_by AS createdBy FROM envelopes
     WHERE stream IN (SELECT value FROM json_each(?))
     ORDER BY stream, epoch, recipient LIMIT ?`,
  ),
  envelopeMaxEpochs: db.prepare<[string], { stream: string; epoch: number }>(
    `SELECT stream, max(epoch) AS epoch FROM envelopes WHERE stream IN (SELECT value FROM json_each(?))
     GROUP BY stream`,
  ),
  envelopeMaxEpoch: db.prepare<[string], { epoch: number | null }>(
    'SELECT max(epoch) AS epoch FROM envelopes WHERE stream = ?',
  ),

  manifestInsert: db.prepare<[string, string, number, number, number, string, string, string]>(
    `INSERT INTO blob_manifests (blob_id, stream, size, chunk_size, chunk_count, digests, created_by, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ),
  manifestGet: db.prepare<[string], ManifestRow>('SELECT * FROM blob_manifests WHERE blob_id = ?'),
  blobUsage: db.prepare<[number, number, string], { used: number }>(
    `SELECT coalesce(sum(size + chunk_count * ? + ?), 0) AS used FROM blob_manifests
     WHERE created_by IN (SELECT device_id FROM devices WHERE account_id = ?)`,
  ),
  chunkInsert: db.prepare<[string, number, Uint8Array]>(
    'INSERT INTO blob_chunks (blob_id, idx, bytes) VALUES (?, ?, ?) ON CONFLICT (blob_id, idx) DO NOTHING',
  ),
  chunkGet: db.prepare<[string, number], { bytes: Uint8Array }>(
    'SELECT bytes FROM blob_chunks WHERE blob_id = ? AND idx = ?',
  ),
  chunkIndexes: db.prepare<[string], { idx: number }>(
    'SELECT idx FROM blob_chunks WHERE blob_id = ? ORDER BY idx',
  ),
  chunksDelete: db.prepare<[string]>('DELETE FROM blob_chunks WHERE blob_id = ?'),
  manifestDelete: db.prepare<[string]>('DELETE FROM blob_manifests WHERE blob_id = ?'),
  tombstoneInsert: db.prepare<[string, string, string, string]>(
    'INSERT INTO blob_tombstones (blob_id, stream, deleted_by, deleted_at) VALUES (?, ?, ?, ?)',
  ),
  tombstoneGet: db.prepare<[string], TombstoneRow>('SELECT * FROM blob_tombstones WHERE blob_id = ?'),

  inviteInsert: db.prepare<
    [string, string | null, number, number, string, number, string, string | null, string | null]
  >(
    `INSERT INTO invites (code_hash, role, uses, uses_left, expires_at, expires_ms, created_at, note, revoked_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ),
  inviteGet: db.prepare<[string], InviteRow>('SELECT * FROM invites WHERE code_hash = ?'),
  inviteList: db.prepare<[], InviteRow>('SELECT * FROM invites ORDER BY created_at DESC, code_hash DESC'),
  // Only after inviteRefusal admitted the row, in the same BEGIN IMMEDIATE transaction (registerTx).
  inviteTake: db.prepare<[string]>('UPDATE invites SET uses_left = uses_left - 1 WHERE code_hash = ?'),
  inviteRevoke: db.prepare<[string, string]>(
    'UPDATE invites SET revoked_at = coalesce(revoked_at, ?) WHERE code_hash = ?',
  ),

  providerPut: db.prepare<[string, string, string, string, string, string | null, string, string, string]>(
    `INSERT INTO providers (account_id, display_name, specialty, clinic, identifier, contact, signed, updated_at,
       search_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (account_id) DO UPDATE SET display_name = excluded.display_name, specialty = excluded.specialty,
       clinic = excluded.clinic, identifier = excluded.identifier, contact = excluded.contact,
       signed = excluded.signed, updated_at = excluded.updated_at, search_text = excluded.search_text`,
  ),
  availabilityPut: db.prepare<[string, number, string, string]>(
    `INSERT INTO provider_availability (account_id, version, signed, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (account_id) DO UPDATE SET version = excluded.version, signed = excluded.signed,
       updated_at = excluded.updated_at WHERE excluded.version > provider_availability.version`,
  ),
  availabilityGet: db.prepare<
    [string],
    { account_id: string; version: number; signed: string; updated_at: string }
  >('SELECT account_id, version, signed, updated_at FROM provider_availability WHERE account_id = ?'),
  providerSearch: db.prepare<[string, number], ProviderRow>(
    `SELECT account_id, display_name, specialty, clinic, identifier, contact, signed, updated_at FROM providers
     WHERE instr(search_text, ?) > 0 ORDER BY display_name COLLATE NOCASE, account_id LIMIT ?`,
  ),
  // The next page of a search: strictly after the last (display name, account id) listed, in the same order.
  providerSearchAfter: db.prepare<[string, string, string, number], ProviderRow>(
    `SELECT account_id, display_name, specialty, clinic, identifier, contact, signed, updated_at FROM providers
     WHERE instr(search_text, ?) > 0 AND (display_name COLLATE NOCASE, account_id) > (?, ?)
     ORDER BY display_name COLLATE NOCASE, account_id LIMIT ?`,
  ),
});

type Statements = ReturnType<typeof prepareStatements>;

/** The invite a registration takes one use of (`accounts.register`). */
type InviteUse = { readonly codeHash: string; readonly now: string };

/**
 * A -wal holding anything with no database file beside it is what an interrupted move of the files leaves
 * (an older restore, an operator's copy). SQLite would create an empty database and delete the -wal, so
 * the server would start on an empty store, silently: refused instead (INTERNAL), both left as they are.
 */
const refuseOrphanWal = (file: string): void => {
  if (existsSync(file)) return;
  let walBytes: number;
  try {
    walBytes = statSync(`${file}-wal`).size;
  } catch {
    return;
  }
  if (walBytes === 0) return;
  throw new StoreError(
    'INTERNAL',
    `${file}-wal exists without ${file}: a move of the store's files was interrupted. Put the database ` +
      `file back (a restore keeps the replaced one as ${basename(file)}.replaced-<time>), or remove the ` +
      '-wal to start with an empty store',
    { details: { file } },
  );
};

/** Opens (creating if needed) `<dataDir>/hale.sqlite`, applies migrations and returns the ready store. */
export const openSqliteStore = async (options: SqliteStoreOptions): Promise<SqliteStore> => {
  const dataDir = resolve(options.dataDir);
  const file = join(dataDir, options.fileName ?? SQLITE_FILE_NAME);
  const reportListenerError =
    options.onListenerError ??
    ((error: unknown) => {
      console.error('[store] commit listener failed', error);
    });

  // Claimed before the database file is opened, so a refused open creates and migrates nothing.
  const lock: DataDirLock | null = (options.exclusive ?? true) ? lockDataDir(dataDir) : null;
  let db: Database.Database;
  try {
    refuseOrphanWal(file);
    // 0700 and 0600 (file-modes.ts); SQLite gives the -wal and -shm files the database file's mode.
    ensurePrivateDir(dataDir);
    createPrivateFile(file);
    db = new Database(file, { timeout: options.busyTimeoutMs ?? 5000 });
  } catch (error) {
    lock?.release();
    throw toStoreError(error);
  }

  let stmts: Statements | null = null;
  let closed = false;
  const listeners = new Set<CommitListener>();

  const deliver = (heads: StreamHead[]): void => {
    for (const listener of [...listeners]) {
      try {
        listener(heads);
      } catch (error) {
        reportListenerError(error);
      }
    }
  };

  const ready = (): Statements => {
    if (closed || !db.open) throw new StoreError('UNAVAILABLE', 'store is closed');
    if (stmts === null) throw new StoreError('UNAVAILABLE', 'store is not initialised');
    return stmts;
  };

  /** Runs one synchronous unit of work, mapping every failure to a StoreError rejection. */
  const call = async <T>(work: (s: Statements) => T): Promise<T> => {
    try {
      return work(ready());
    } catch (error) {
      if (error instanceof GuardRefused) throw error.reason;
      throw toStoreError(error);
    }
  };

  /**
   * Checks the arguments of a read of `granteeId`'s grants from `patientIds` unended at `at`: those of
   * `listUnendedFrom`, or of an access guard (`of`, naming the fields in the error).
   */
  const requireUnendedFrom = (granteeId: unknown, patientIds: unknown, at: unknown, of?: 'guard'): void => {
    const field = (name: string): string => (of === undefined ? name : `${of}.${name}`);
    requireText(granteeId, field('granteeId'));
    requireText(at, of === undefined ? 'now' : field('at'));
    if (!Array.isArray(patientIds)) throw invalid(`${field('patientIds')} must be an array`);
    for (const id of patientIds) requireText(id, field('patientId'));
  };
  /** `granteeId`'s grants from `patientIds` unended at `at` (`grants_unrevoked_by_grantee_patient`). */
  const unendedFrom = (
    s: Statements,
    granteeId: string,
    patientIds: readonly string[],
    at: string,
  ): Grant[] =>
    patientIds.length === 0
      ? []
      : s.grantsUnendedFromPatients.all(granteeId, JSON.stringify(patientIds), at).map(rowToGrant);

  /**
   * Runs `guard` (types.ts AccessGuard) inside the caller's transaction, before it writes: the grants are
   * read under the write lock, so no revocation commits between this read and the write.
   */
  const checkGuard = (s: Statements, guard: AccessGuard | undefined): void => {
    if (guard === undefined) return;
    const grants = unendedFrom(s, guard.granteeId, guard.patientIds, guard.at);
    const writerRevoked =
      guard.writer !== undefined && (s.deviceGet.get(guard.writer)?.revoked_at ?? null) !== null;
    try {
      guard.check(grants, writerRevoked);
    } catch (error) {
      throw new GuardRefused(error instanceof Error ? error : new Error(String(error)));
    }
  };
  const validateGuard = (guard: AccessGuard | undefined): void => {
    if (guard === undefined) return;
    requireUnendedFrom(guard.granteeId, guard.patientIds, guard.at, 'guard');
    if (guard.writer !== undefined) requireText(guard.writer, 'guard.writer');
    if (typeof guard.check !== 'function') throw invalid('guard.check must be a function');
  };

  const init = async (): Promise<void> => {
    if (closed) throw new StoreError('UNAVAILABLE', 'store is closed');
    if (stmts !== null) return;
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('recursive_triggers = ON');
      db.pragma('cache_size = -32768');
      db.pragma('journal_size_limit = 67108864');
      // Freed pages and cell space are zeroed, not left in the file: a deleted blob's bytes (and a
      // superseded document's ciphertext) are gone from the database file once checkpointed. It must hold
      // for every write, not only deletions: b-tree rebalancing leaves copies of cells behind otherwise.
      db.pragma('secure_delete = ON');
      migrateSqliteSchema(db);
      // Written before secure_delete: its free space and b-tree slack may hold copies of cells (blob
      // chunks, old ciphertext) that zeroing from now on would never reach. Rebuilt once, so that what is
      // deleted from now on really leaves the file; at a later open if this one stops before it is done.
      rebuildIfPending(db);
      stmts = prepareStatements(db);
      // Read first: the common case (it exists) writes nothing at open.
      if (stmts.metaGet.get(INCARNATION_META_KEY) === undefined) {
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(
          INCARNATION_META_KEY,
          newIncarnation(),
        );
      }
    } catch (error) {
      closed = true;
      try {
        db.close();
      } finally {
        lock?.release();
      }
      throw toStoreError(error);
    }
    let peers = openInstances.get(file);
    if (peers === undefined) {
      peers = new Set();
      openInstances.set(file, peers);
    }
    peers.add(deliver);
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    listeners.clear();
    const peers = openInstances.get(file);
    peers?.delete(deliver);
    if (peers?.size === 0) openInstances.delete(file);
    stmts = null;
    try {
      db.close();
    } catch (error) {
      throw toStoreError(error);
    } finally {
      // After the connection is closed, so the next holder never overlaps with this one.
      lock?.release();
    }
  };

  /**
   * As of now, which backup's incarnation a stored version was kept from: for `stream` and `seq`, the
   * incarnation of the store the last restore's backup was taken of, when that version was in the store at
   * that restore; undefined for one stored since, or when no restore recorded it for the current
   * incarnation (see header).
   */
  const keptFrom = (s: Statements): ((stream: string, seq: number) => string | undefined) => {
    const origin = restoreOrigin(s.metaGet.get(RESTORE_ORIGIN_META_KEY)?.value);
    if (origin === null || origin.into !== s.metaGet.get(INCARNATION_META_KEY)?.value) return () => undefined;
    return (stream, seq) => (seq <= (s.restoredHeadGet.get(stream)?.head ?? 0) ? origin.from : undefined);
  };

  const writeBatch = (
    s: Statements,
    rows: DocWrite[],
    now: string,
    maxMasterBytes: number | undefined,
    guard: AccessGuard | undefined,
  ) => {
    checkGuard(s, guard);
    const heads = new Map<string, number>();
    const results: DocWriteResult[] = [];
    let masters = 0;
    let masterBytes = 0;
    // The restore's origin, read at the batch's first conflict only (conflicts are rare).
    let keptIn: ReturnType<typeof keptFrom> | undefined;
    let positionTaken = false;
    // Inside the write lock: no envelope can be stored between this read and the commit.
    const epochs = new Map<string, number>();
    const epochOf = (stream: string): number => {
      let epoch = epochs.get(stream);
      if (epoch === undefined) {
        epoch = s.envelopeMaxEpoch.get(stream)?.epoch ?? 0;
        epochs.set(stream, epoch);
      }
      return epoch;
    };
    for (const { doc, assumedRev, expectedEpoch, expectRefused } of rows) {
      const current = s.docRev.get(doc.stream, doc.id);
      if (current !== undefined && isAuditStream(doc.stream)) {
        results.push({ status: 'append-only' });
        continue;
      }
      if (expectedEpoch !== undefined && epochOf(doc.stream) !== expectedEpoch) {
        results.push({ status: 'stale-epoch', epoch: epochOf(doc.stream) });
        continue;
      }
      if (current === undefined ? assumedRev !== null : current.rev !== assumedRev) {
        if (current !== undefined && maxMasterBytes !== undefined) {
          // Measured before it is loaded; thrown inside the transaction, so nothing of the batch commits.
          masterBytes += current.bytes;
          if (masters > 0 && masterBytes > maxMasterBytes) {
            throw new StoreError(
              'TOO_LARGE',
              `the stored versions this batch conflicts with exceed ${maxMasterBytes} bytes; nothing written`,
            );
          }
          masters++;
        }
        const master = current === undefined ? undefined : s.docGet.get(doc.stream, doc.id);
        if (master === undefined) {
          results.push({ status: 'conflict', master: null });
          continue;
        }
        keptIn ??= keptFrom(s);
        const kept = keptIn(master.stream, master.seq);
        results.push({
          status: 'conflict',
          master: rowToDoc(master),
          ...(kept === undefined ? {} : { keptFrom: kept }),
        });
        continue;
      }
      if (expectRefused === true) {
        // Thrown inside the transaction, so nothing of the batch commits: the writer's account of it
        // (sealed into the batch) leaves this row out.
        throw new StoreError(
          'CONFLICT',
          `${doc.stream} ${doc.id} holds the revision its row assumes, which the writer expected refused; nothing written`,
          { details: { stream: doc.stream, id: doc.id } },
        );
      }
      const a = doc.audit;
      // Only new audit rows get here (a stored id answered append-only above); earlier rows of the batch
      // are already inserted, so they are seen too.
      if (a !== undefined && isAuditStream(doc.stream)) {
        if (s.docAuditAt.get(doc.stream, doc.author, a.authorSeq) !== undefined) {
          results.push({ status: 'position-taken' });
          positionTaken = true;
          continue;
        }
      }
      const seq = (heads.get(doc.stream) ?? s.headGet.get(doc.stream)?.head ?? 0) + 1;
      heads.set(doc.stream, seq);
      if (current === undefined) {
        s.docInsert.run(
          doc.stream,
          doc.id,
          seq,
          doc.rev,
          doc.deleted ? 1 : 0,
          doc.epoch,
          doc.ct,
          doc.size,
          doc.author,
          doc.sig ?? null,
          a?.authorSeq ?? null,
          a?.prevHash ?? null,
          a?.at ?? null,
          now,
        );
      } else {
        s.docUpdate.run(
          seq,
          doc.rev,
          doc.deleted ? 1 : 0,
          doc.epoch,
          doc.ct,
          doc.size,
          doc.author,
          doc.sig ?? null,
          a?.authorSeq ?? null,
          a?.prevHash ?? null,
          a?.at ?? null,
          now,
          doc.stream,
          doc.id,
        );
      }
      results.push({ status: 'ok', seq });
    }
    if (positionTaken) {
      // Thrown so that the transaction rolls back what the batch's other rows inserted.
      throw new BatchNotWritten(
        results.map((r): DocWriteResult => (r.status === 'position-taken' ? r : { status: 'not-written' })),
      );
    }
    for (const [stream, head] of heads) s.headPut.run(stream, head);
    return { results, heads: [...heads].map(([stream, head]): StreamHead => ({ stream, head })) };
  };
  const writeTx = db.transaction(writeBatch);

  /**
   * Writes a blob write's access entries (types.ts AccessEntries) inside the caller's transaction, after
   * its write: CONFLICT (rolling the whole transaction back) unless every one is written. Answers the
   * heads they advanced, to announce once committed.
   */
  const writeEntries = (s: Statements, entries: AccessEntries | undefined): StreamHead[] => {
    if (entries === undefined || entries.rows.length === 0) return [];
    let written: ReturnType<typeof writeBatch>;
    try {
      written = writeBatch(s, entries.rows, entries.now, undefined, undefined);
    } catch (error) {
      if (!(error instanceof BatchNotWritten)) throw error;
      written = { results: error.results, heads: [] };
    }
    const refused = written.results.find((r) => r.status !== 'ok');
    if (refused !== undefined) {
      const { status } = refused;
      throw new StoreError('CONFLICT', `an access entry was not written (${status}); nothing written`, {
        details: { status },
      });
    }
    return written.heads;
  };
  /** Tells every instance open on this file of committed heads, as writeDocs does (in commit order). */
  const announce = (heads: StreamHead[]): void => {
    if (heads.length === 0) return;
    for (const peer of [...(openInstances.get(file) ?? [])]) peer(heads);
  };
  const validateEntries = (entries: AccessEntries | undefined): void => {
    if (entries === undefined) return;
    if (!Array.isArray(entries.rows)) throw invalid('entries.rows must be an array');
    entries.rows.forEach(validateDocWrite);
    requireText(entries.now, 'entries.now');
  };

  const insertEnvelope = (s: Statements, e: Envelope): { created: boolean } => {
    const { changes } = s.envelopeInsert.run(
      e.stream,
      e.epoch,
      e.recipient,
      e.keyId,
      e.wrapped,
      e.createdBy,
      e.sig ?? null,
      e.createdAt,
    );
    return { created: changes === 1 };
  };
  const envelopesTx = db.transaction((s: Statements, envelopes: readonly Envelope[]) =>
    envelopes.map((e) => insertEnvelope(s, e)),
  );

  const headsTx = db.transaction((s: Statements, streams: string[]) =>
    streams.map((stream): StreamHead => ({ stream, head: s.headGet.get(stream)?.head ?? 0 })),
  );

  const revokeTx = db.transaction(
    (s: Statements, deviceId: string, revokedAt: string, revocation: JsonObject | undefined) => {
      const signed = revocation === undefined ? null : JSON.stringify(revocation);
      if (s.deviceRevoke.run(revokedAt, signed, deviceId).changes === 0) {
        throw new StoreError('NOT_FOUND', `device ${deviceId} does not exist`);
      }
      s.sessionsDeleteForDevice.run(deviceId);
      s.challengesDeleteForDevice.run(deviceId);
      const row = s.deviceGet.get(deviceId);
      if (row === undefined) throw new StoreError('INTERNAL', 'revoked device vanished');
      return rowToDevice(row);
    },
  );

  const sessionTx = db.transaction((s: Statements, session: Session, expiresMs: number) => {
    const device = s.deviceGet.get(session.deviceId);
    if (device === undefined) throw new StoreError('NOT_FOUND', `device ${session.deviceId} does not exist`);
    if (device.account_id !== session.accountId) {
      throw invalid(`device ${session.deviceId} does not belong to account ${session.accountId}`);
    }
    s.sessionInsert.run(session.tokenHash, session.deviceId, session.accountId, session.expiresAt, expiresMs);
  });

  const grantRevokeTx = db.transaction(
    (s: Statements, grantId: string, revokedAt: string, revocation: string) => {
      const changed = s.grantRevoke.run(revokedAt, revocation, grantId).changes > 0;
      const row = s.grantGet.get(grantId);
      if (row === undefined) throw new StoreError('NOT_FOUND', `grant ${grantId} does not exist`);
      if (changed) s.grantChangeBump.run(row.grantee_id);
      return rowToGrant(row);
    },
  );

  const grantPutTx = db.transaction((s: Statements, g: Grant, now: string | null) => {
    s.grantInsert.run(
      g.grantId,
      g.patientId,
      g.granteeId,
      JSON.stringify(g.scope),
      g.start,
      g.expiresAt,
      g.issuedAt,
      JSON.stringify(g.signed),
      g.revokedAt ?? null,
      g.revocation === undefined ? null : JSON.stringify(g.revocation),
      now,
    );
    s.grantChangeBump.run(g.granteeId);
  });

  /** Check and insert in one BEGIN IMMEDIATE transaction: concurrent puts cannot both take the last place. */
  const acceptancePutTx = db.transaction(
    (s: Statements, a: Acceptance, max: number): 'added' | 'kept' | 'full' => {
      if (s.acceptanceGet.get(a.granteeId, a.patientId) !== undefined) return 'kept';
      if (s.acceptanceCount.get(a.granteeId)!.n >= max) return 'full';
      s.acceptanceInsert.run(a.granteeId, a.patientId, a.acceptedAt);
      return 'added';
    },
  );

  const grantChangesTx = db.transaction((s: Statements, since: number) => {
    const position = s.grantChangePosition.get()!.position;
    const granteeIds = s.grantChangesSince.all(since).map((r) => r.grantee_id);
    return { position, granteeIds };
  });

  /** Exactly one of the two, for the per-side grant lists. */
  const grantSide = (of: { patientId?: string; granteeId?: string }): ['patient' | 'grantee', string] => {
    if (of.patientId !== undefined && of.granteeId === undefined) return ['patient', of.patientId];
    if (of.granteeId !== undefined && of.patientId === undefined) return ['grantee', of.granteeId];
    throw invalid('give exactly one of patientId and granteeId');
  };

  const insertAccount = (s: Statements, a: Account): void => {
    requireText(a.accountId, 'accountId');
    s.accountInsert.run(
      a.accountId,
      a.role,
      a.identityPublicKey,
      a.wrappingPublicKey,
      JSON.stringify(a.wrappedRoot),
      requireGeneration(a.wrappedRootGen),
      a.wrappedRootSig,
      a.wrappingKeySig ?? null,
      a.loginName ?? null,
      a.createdAt,
    );
    if (a.roleSig !== undefined) s.accountRoleSigInsert.run(a.accountId, a.roleSig);
  };

  const insertDevice = (s: Statements, d: Device): void => {
    requireText(d.deviceId, 'deviceId');
    s.deviceInsert.run(
      d.deviceId,
      d.accountId,
      JSON.stringify(d.cert),
      d.devicePublicKey,
      d.createdAt,
      d.revokedAt ?? null,
    );
  };

  // Read, compare and write in one write transaction: the wrap compared is the one signed.
  const setWrappedRootSigTx = db.transaction(
    (
      s: Statements,
      accountId: string,
      expected: { readonly wrappedRoot: JsonObject; readonly gen: number; readonly sig: string },
    ) => {
      requireGeneration(expected.gen);
      requireText(expected.sig, 'sig');
      const row = s.accountGet.get(accountId);
      if (row === undefined) throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
      if (
        row.wrapped_root_gen !== expected.gen ||
        // Key order does not matter (the wrap is compared as a value, not as text).
        !isDeepStrictEqual(parseJsonObject(row.wrapped_root), expected.wrappedRoot)
      ) {
        throw new StoreError(
          'CONFLICT',
          `wrapped root is at generation ${row.wrapped_root_gen} with another wrap, not the one signed`,
          { details: { gen: row.wrapped_root_gen } },
        );
      }
      s.accountSetWrappedRootSig.run(expected.sig, accountId, expected.gen);
    },
  );

  // Run as .immediate only: the invite is read, judged and decremented under the write lock taken at BEGIN.
  const registerTx = db.transaction((s: Statements, a: Account, d: Device, invite: InviteUse | undefined) => {
    if (d.accountId !== a.accountId) {
      throw invalid(`device ${d.deviceId} names account ${d.accountId}, not ${a.accountId}`);
    }
    if (invite !== undefined) {
      const nowMs = timeMs(invite.now, 'invite.now');
      // Before the ids and the login name: without a usable invite nothing about them is revealed.
      const row = s.inviteGet.get(invite.codeHash);
      const reason = inviteRefusal(row, a.role, nowMs);
      if (reason !== null) {
        throw new StoreError('INVITE_INVALID', `invite not usable: ${reason}`, {
          details: reason === 'role' && row?.role ? { reason, role: row.role } : { reason },
        });
      }
      s.inviteTake.run(invite.codeHash);
    }
    // Checked by hand, not left to the constraints, so the caller learns which part is taken without
    // parsing SQLite's message (which would otherwise reach clients verbatim).
    const taken = (what: 'accountId' | 'loginName' | 'deviceId', message: string) =>
      new StoreError('ALREADY_EXISTS', message, { details: { taken: what } });
    if (s.accountGet.get(a.accountId) !== undefined) throw taken('accountId', 'account id is taken');
    if (a.loginName !== undefined && s.accountByLogin.get(a.loginName) !== undefined) {
      throw taken('loginName', 'login name is taken');
    }
    if (s.deviceGet.get(d.deviceId) !== undefined) throw taken('deviceId', 'device id is taken');
    insertAccount(s, a);
    insertDevice(s, d);
  });

  // Two rows when the account has a role signature: both or neither.
  const putAccountTx = db.transaction((s: Statements, a: Account) => insertAccount(s, a));

  const blobUsage = (s: Statements, accountId: string): number =>
    s.blobUsage.get(BLOB_QUOTA_CHUNK_BYTES, BLOB_QUOTA_MANIFEST_BYTES, accountId)?.used ?? 0;

  const manifestTx = db.transaction((s: Statements, m: BlobManifest, options: ManifestOptions) => {
    checkGuard(s, options.guard);
    const { quota } = options;
    const deleted = s.tombstoneGet.get(m.blobId);
    // Told only on the blob's own stream: elsewhere the id is taken, as a live blob's would be, so that
    // no one outside the stream learns whether (or when) it was deleted.
    if (deleted !== undefined && deleted.stream !== m.stream) {
      throw new StoreError('ALREADY_EXISTS', `blob ${m.blobId} has a different manifest`);
    }
    if (deleted !== undefined) {
      throw new StoreError('DELETED', `blob ${m.blobId} was deleted; its id is not used again`, {
        details: { deletedAt: deleted.deleted_at },
      });
    }
    const existing = s.manifestGet.get(m.blobId);
    if (existing !== undefined) {
      // A resumed upload: its sealed bytes (the digests) were committed, and their epoch checked, when the
      // manifest was first stored; a re-keying since does not undo that, as it does not undo a record.
      if (sameManifest(rowToManifest(existing), m)) return;
      throw new StoreError('ALREADY_EXISTS', `blob ${m.blobId} has a different manifest`);
    }
    // Inside the write lock, as writeDocs reads it: no envelope can be stored between this read and the commit.
    const epoch = s.envelopeMaxEpoch.get(m.stream)?.epoch ?? 0;
    if (options.expectedEpoch !== undefined && options.expectedEpoch !== epoch) {
      throw new StoreError(
        'STALE_EPOCH',
        `blob ${m.blobId} is sealed under epoch ${options.expectedEpoch}; ${m.stream} is at epoch ${epoch}`,
        { details: { epoch } },
      );
    }
    if (quota !== undefined) {
      const usedBytes = blobUsage(s, quota.accountId);
      const requestedBytes = blobQuotaBytes(m);
      if (usedBytes + requestedBytes > quota.maxBytes) {
        throw new StoreError(
          'QUOTA_EXCEEDED',
          `storing this blob needs ${requestedBytes} bytes; the account stores ${usedBytes} of its ${quota.maxBytes}`,
          { details: { usedBytes, requestedBytes, quotaBytes: quota.maxBytes } },
        );
      }
    }
    s.manifestInsert.run(
      m.blobId,
      m.stream,
      m.size,
      m.chunkSize,
      m.chunkCount,
      JSON.stringify(m.digests),
      m.createdBy,
      m.createdAt,
    );
  });

  const storeChunk = (s: Statements, blobId: string, index: number, bytes: Uint8Array): void => {
    const row = s.manifestGet.get(blobId);
    if (row === undefined) throw new StoreError('NOT_FOUND', `blob ${blobId} has no manifest`);
    if (!isNonNegativeInt(index) || index >= row.chunk_count) {
      throw invalid(`chunk index ${index} is outside blob ${blobId} (${row.chunk_count} chunks)`);
    }
    const { min, max } = sealedChunkBounds(
      { size: row.size, chunkSize: row.chunk_size, chunkCount: row.chunk_count },
      index,
    );
    if (bytes.byteLength < min || bytes.byteLength > max) {
      throw invalid(
        `chunk ${index} of blob ${blobId} must be ${min} bytes sealed (+ at most ${BLOB_CHUNK_OVERHEAD_BYTES}), got ${bytes.byteLength}`,
      );
    }
    if (s.chunkInsert.run(blobId, index, bytes).changes === 1) return;
    const stored = s.chunkGet.get(blobId, index);
    if (stored === undefined || !sameBytes(stored.bytes, bytes)) {
      throw new StoreError('ALREADY_EXISTS', `chunk ${index} of blob ${blobId} differs from the stored one`);
    }
  };
  const chunkTx = db.transaction((s: Statements, blobId: string, index: number, chunk: GuardedChunk) => {
    checkGuard(s, chunk.guard);
    storeChunk(s, blobId, index, chunk.bytes);
    return writeEntries(s, chunk.entries);
  });

  const blobDeleteTx = db.transaction(
    (
      s: Statements,
      blobId: string,
      deletion: { deletedBy: string; deletedAt: string },
      guard: AccessGuard | undefined,
      entries: AccessEntries | undefined,
    ) => {
      checkGuard(s, guard);
      const row = s.manifestGet.get(blobId);
      if (row === undefined) throw new StoreError('NOT_FOUND', `blob ${blobId} has no manifest`);
      // Chunks first: they reference the manifest.
      s.chunksDelete.run(blobId);
      s.manifestDelete.run(blobId);
      s.tombstoneInsert.run(blobId, row.stream, deletion.deletedBy, deletion.deletedAt);
      const heads = writeEntries(s, entries);
      return { tombstone: { blobId, stream: row.stream, ...deletion }, heads };
    },
  );

  const healthIntervalMs = options.healthIntervalMs ?? 2000;
  const healthMinFreeBytes = options.healthMinFreeBytes ?? HEALTH_MIN_FREE_BYTES;
  let lastHealth: { at: number; health: StoreHealth } | null = null;
  let heartbeatDelete: Database.Statement<[string]> | null = null;
  const heartbeatTx = db.transaction((s: Statements) => {
    s.metaPut.run(HEALTH_META_KEY, new Date().toISOString());
    (heartbeatDelete ??= db.prepare<[string]>('DELETE FROM meta WHERE key = ?')).run(HEALTH_META_KEY);
  });

  const store: SqliteStore = {
    file,
    db,
    init,
    close,

    async health() {
      if (closed || !db.open) return { ok: false, backend: 'sqlite', detail: 'closed' };
      const now = performance.now();
      if (lastHealth !== null && now - lastHealth.at < healthIntervalMs) return lastHealth.health;
      let health: StoreHealth;
      const free = freeBytes(dataDir);
      if (free !== null && free < healthMinFreeBytes) {
        const detail = `disk nearly full: less than ${healthMinFreeBytes} bytes free for the data directory`;
        health = { ok: false, backend: 'sqlite', detail };
      } else {
        try {
          // Durable like every other write (synchronous=FULL): the WAL must take it and fsync it.
          heartbeatTx(ready());
          health = { ok: true, backend: 'sqlite', detail: file };
        } catch (error) {
          health = {
            ok: false,
            backend: 'sqlite',
            detail: error instanceof Error ? error.message : String(error),
          };
        }
      }
      lastHealth = { at: now, health };
      return health;
    },

    accounts: {
      erase: (accountId) =>
        call(() => {
          requireText(accountId, 'accountId');
          return createEraseAccount(db)(accountId);
        }),
      put: (a) => call((s) => putAccountTx.immediate(s, a)),
      register: (a, d, options) =>
        call((s) => {
          const invite = options?.invite;
          if (invite !== undefined) requireText(invite.codeHash, 'invite.codeHash');
          registerTx.immediate(s, a, d, invite);
        }),
      get: (accountId) =>
        call((s) => {
          const row = s.accountGet.get(accountId);
          return row === undefined ? null : rowToAccount(row);
        }),
      getByLogin: (loginName) =>
        call((s) => {
          const row = s.accountByLogin.get(loginName);
          return row === undefined ? null : rowToAccount(row);
        }),
      updateWrappedRoot: (accountId, next) =>
        call((s) => {
          requireGeneration(next.gen);
          const { changes } = s.accountSetWrappedRoot.run(
            JSON.stringify(next.wrappedRoot),
            next.gen,
            next.sig,
            accountId,
            next.gen,
          );
          if (changes > 0) return;
          const current = s.accountGet.get(accountId);
          if (current === undefined) throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
          throw new StoreError(
            'CONFLICT',
            `wrapped root is at generation ${current.wrapped_root_gen}, not below ${next.gen}`,
            { details: { gen: current.wrapped_root_gen } },
          );
        }),
      setWrappingKeySig: (accountId, sig) =>
        call((s) => {
          requireText(sig, 'sig');
          const { changes } = s.accountSetWrappingKeySig.run(sig, accountId);
          if (changes === 0) throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
        }),
      setWrappedRootSig: (accountId, expected) =>
        call((s) => setWrappedRootSigTx.immediate(s, accountId, expected)),
      setRoleSig: (accountId, sig) =>
        call((s) => {
          requireText(sig, 'sig');
          const { changes } = s.accountRoleSigAdd.run(sig, accountId);
          if (changes === 0 && s.accountGet.get(accountId) === undefined) {
            throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
          }
        }),
    },

    devices: {
      put: (d) => call((s) => insertDevice(s, d)),
      get: (deviceId) =>
        call((s) => {
          const row = s.deviceGet.get(deviceId);
          return row === undefined ? null : rowToDevice(row);
        }),
      listForAccount: (accountId) => call((s) => s.devicesForAccount.all(accountId).map(rowToDevice)),
      revoke: (deviceId, revokedAt, revocation) =>
        call((s) => revokeTx.immediate(s, deviceId, revokedAt, revocation)),
    },

    challenges: {
      put: (c) =>
        call((s) => {
          requireText(c.challengeId, 'challengeId');
          s.challengeInsert.run(
            c.challengeId,
            c.deviceId,
            c.nonce,
            c.expiresAt,
            timeMs(c.expiresAt, 'expiresAt'),
          );
        }),
      take: (challengeId) =>
        call((s) => {
          const row = s.challengeTake.get(challengeId);
          return row === undefined ? null : rowToChallenge(row);
        }),
      deleteExpired: (now) => call((s) => s.challengesDeleteExpired.run(timeMs(now, 'now')).changes),
    },

    sessions: {
      put: (session) =>
        call((s) => {
          requireText(session.tokenHash, 'tokenHash');
          sessionTx.immediate(s, session, timeMs(session.expiresAt, 'expiresAt'));
        }),
      get: (tokenHash) =>
        call((s) => {
          const row = s.sessionGet.get(tokenHash);
          return row === undefined ? null : rowToSession(row);
        }),
      deleteForDevice: (deviceId) => call((s) => s.sessionsDeleteForDevice.run(deviceId).changes),
      deleteExpired: (now) => call((s) => s.sessionsDeleteExpired.run(timeMs(now, 'now')).changes),
    },

    grants: {
      put: (g, now) =>
        call((s) => {
          requireText(g.grantId, 'grantId');
          if (now !== undefined) requireText(now, 'now');
          grantPutTx.immediate(s, g, now ?? null);
        }),
      get: (grantId) =>
        call((s) => {
          const row = s.grantGet.get(grantId);
          return row === undefined ? null : rowToGrant(row);
        }),
      listForPatient: (patientId) => call((s) => s.grantsForPatient.all(patientId).map(rowToGrant)),
      listForGrantee: (granteeId) => call((s) => s.grantsForGrantee.all(granteeId).map(rowToGrant)),
      countUnended: ({ patientId, granteeId }, now) =>
        call((s) => {
          requireText(now, 'now');
          if (patientId !== undefined && granteeId !== undefined) {
            return s.grantsUnendedForPair.get(patientId, granteeId, now)!.n;
          }
          if (patientId !== undefined) return s.grantsUnendedForPatient.get(patientId, now)!.n;
          if (granteeId !== undefined) return s.grantsUnendedForGrantee.get(granteeId, now)!.n;
          throw invalid('countUnended needs a patientId or a granteeId');
        }),
      countUnendedNotAccepted: (granteeId, now) =>
        call((s) => {
          requireText(granteeId, 'granteeId');
          requireText(now, 'now');
          return s.grantsUnendedNotAccepted.get(granteeId, now)!.n;
        }),
      revoke: (grantId, revokedAt, revocation) =>
        call((s) => grantRevokeTx.immediate(s, grantId, revokedAt, JSON.stringify(revocation))),
      listUnended: (of, now) =>
        call((s) => {
          const [side, id] = grantSide(of);
          requireText(now, 'now');
          const statement = side === 'patient' ? s.grantsUnendedOfPatient : s.grantsUnendedOfGrantee;
          return statement.all(id, now).map(rowToGrant);
        }),
      listUnendedByPatient: (granteeId, now, { after, limit }) =>
        call((s) => {
          requireText(granteeId, 'granteeId');
          requireText(now, 'now');
          if (!Number.isSafeInteger(limit) || limit < 0) throw invalid(`limit must be a count, not ${limit}`);
          if (after === undefined)
            return s.grantsUnendedByPatientFirst.all(granteeId, now, limit).map(rowToGrant);
          if (typeof after !== 'string') throw invalid('after must be a string');
          return s.grantsUnendedByPatientAfter.all(granteeId, after, now, limit).map(rowToGrant);
        }),
      listUnendedFrom: (granteeId, patientIds, now) =>
        call((s) => {
          requireUnendedFrom(granteeId, patientIds, now);
          return unendedFrom(s, granteeId, patientIds, now);
        }),
      listEnded: (of, now, limit) =>
        call((s) => {
          const [side, id] = grantSide(of);
          requireText(now, 'now');
          if (!Number.isSafeInteger(limit) || limit < 0) throw invalid(`limit must be a count, not ${limit}`);
          const statement = side === 'patient' ? s.grantsEndedOfPatient : s.grantsEndedOfGrantee;
          return statement.all(id, now, limit).map(rowToGrant);
        }),
      listPage: (of, { after, unendedAt, limit }) =>
        call((s) => {
          const [side, id] = grantSide(of);
          if (!Number.isSafeInteger(limit) || limit < 0) throw invalid(`limit must be a count, not ${limit}`);
          const args: GrantPageArgs = [id];
          if (unendedAt !== undefined) {
            requireText(unendedAt, 'unendedAt');
            args.push(unendedAt);
          }
          if (after !== undefined) {
            requireText(after.issuedAt, 'after.issuedAt');
            requireText(after.grantId, 'after.grantId');
            args.push(after.issuedAt, after.grantId);
          }
          args.push(limit);
          const statement =
            s.grantPage[side][unendedAt === undefined ? 'all' : 'unended'][
              after === undefined ? 'first' : 'after'
            ];
          return statement.all(...args).map(rowToGrant);
        }),
      endedScopes: ({ patientId, granteeId }, now, limit) =>
        call((s) => {
          requireText(now, 'now');
          if (!Number.isSafeInteger(limit) || limit < 0) throw invalid(`limit must be a count, not ${limit}`);
          return s.grantsEndedScopes
            .all(patientId, granteeId, now, limit)
            .filter((r): r is { type: string; revoked: number } => typeof r.type === 'string')
            .map((r) => ({ type: r.type, revoked: r.revoked === 1 }));
        }),
      countStoredSince: ({ patientId, granteeId }, since) =>
        call((s) => {
          requireText(since, 'since');
          return s.grantsStoredSince.get(patientId, granteeId, since)!.n;
        }),
      changesSince: (since) =>
        call((s) => {
          if (!Number.isSafeInteger(since) || since < 0)
            throw invalid(`since must be a position, not ${since}`);
          return grantChangesTx(s, since);
        }),
    },

    acceptances: {
      put: (a, max) =>
        call((s) => {
          requireText(a.granteeId, 'granteeId');
          requireText(a.patientId, 'patientId');
          requireText(a.acceptedAt, 'acceptedAt');
          if (a.granteeId === a.patientId) throw invalid('an account cannot accept itself');
          if (!Number.isSafeInteger(max) || max < 0) throw invalid(`max must be a count, not ${max}`);
          return acceptancePutTx.immediate(s, a, max);
        }),
      delete: (granteeId, patientId) => call((s) => s.acceptanceDelete.run(granteeId, patientId).changes > 0),
      has: (granteeId, patientId) => call((s) => s.acceptanceGet.get(granteeId, patientId) !== undefined),
      count: (granteeId) => call((s) => s.acceptanceCount.get(granteeId)!.n),
      listPage: (granteeId, { after, limit }) =>
        call((s) => {
          if (!Number.isSafeInteger(limit) || limit < 0) throw invalid(`limit must be a count, not ${limit}`);
          const rows =
            after === undefined
              ? s.acceptancePageFirst.all(granteeId, limit)
              : s.acceptancePageAfter.all(granteeId, after, limit);
          return rows.map(rowToAcceptance);
        }),
    },

    docs: {
      writeDocs: (rows, now, maxMasterBytes, guard) =>
        call((s) => {
          rows.forEach(validateDocWrite);
          validateGuard(guard);
          if (maxMasterBytes !== undefined && !(maxMasterBytes >= 0)) {
            throw invalid('maxMasterBytes must be a non-negative number');
          }
          let written: ReturnType<typeof writeBatch>;
          try {
            written = writeTx.immediate(s, rows, now, maxMasterBytes, guard);
          } catch (error) {
            if (error instanceof BatchNotWritten) return error.results;
            throw error;
          }
          const { results, heads } = written;
          // Synchronously after COMMIT, so listeners see heads in commit order; deliver() contains throws.
          announce(heads);
          return results;
        }),

      readDocs: (stream, since, limit, maxBytes) =>
        call((s): DocPage => {
          if (!Number.isSafeInteger(since) || since < 0)
            throw invalid('since must be a non-negative integer');
          if (!Number.isSafeInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
          if (!(maxBytes > 0)) throw invalid('maxBytes must be positive');
          const docs: Doc[] = [];
          let bytes = 0;
          let done = true;
          // One indexed range scan; the extra row tells whether more remain without a second query.
          for (const row of s.docsRange.iterate(stream, since, limit + 1)) {
            if (docs.length === limit || (docs.length > 0 && bytes + row.ct.byteLength > maxBytes)) {
              done = false;
              break;
            }
            bytes += row.ct.byteLength;
            docs.push(rowToDoc(row));
          }
          return { docs, checkpoint: docs.at(-1)?.seq ?? since, done };
        }),

      getDoc: (stream, id) =>
        call((s) => {
          const row = s.docGet.get(stream, id);
          return row === undefined ? null : rowToDoc(row);
        }),

      streamHeads: (streams) =>
        // One read transaction so all heads come from the same snapshot.
        call((s) => headsTx(s, streams)),

      auditChainEnd: (stream, author) =>
        call((s) => {
          const row = s.docAuditChainEnd.get(stream, author);
          return row === undefined ? null : rowToDoc(row);
        }),

      auditEntriesOfAccountSince: (stream, accountId, since) =>
        call((s) => {
          const row = s.docAuditOfAccountSince.get(stream, accountId, since);
          return { count: row?.n ?? 0, first: row?.first ?? null };
        }),
    },

    envelopes: {
      put: (e) =>
        call((s) => {
          validateEnvelope(e);
          return insertEnvelope(s, e);
        }),
      putAll: (envelopes) =>
        call((s) => {
          envelopes.forEach(validateEnvelope);
          return envelopesTx.immediate(s, envelopes);
        }),
      list: (recipient, streams, limit) =>
        call((s) => {
          if (limit !== undefined && !isNonNegativeInt(limit))
            throw invalid(`limit must be a count, not ${String(limit)}`);
          const most = limit ?? -1;
          return (
            streams === undefined
              ? s.envelopesForRecipient.all(recipient, most)
              : s.envelopesForRecipientIn.all(recipient, JSON.stringify(streams), most)
          ).map(rowToEnvelope);
        }),
      currentEpoch: (stream) => call((s) => s.envelopeMaxEpoch.get(stream)?.epoch ?? null),
      currentEpochs: (streams) =>
        call((s) => {
          const found = new Map(
            s.envelopeMaxEpochs.all(JSON.stringify(streams)).map((r) => [r.stream, r.epoch]),
          );
          return streams.map((stream) => found.get(stream) ?? null);
        }),
      holders: (streams, limit) =>
        call((s) => s.envelopeHolders.all(JSON.stringify(streams), limit).map((r) => ({ ...r }))),
    },

    blobs: {
      putManifest: (m, options) =>
        call((s) => {
          validateManifest(m);
          const quota = options?.quota;
          if (quota !== undefined) {
            requireText(quota.accountId, 'quota.accountId');
            if (!isNonNegativeInt(quota.maxBytes))
              throw invalid('quota.maxBytes must be a non-negative integer');
          }
          validateGuard(options?.guard);
          const expectedEpoch = options?.expectedEpoch;
          if (expectedEpoch !== undefined && !isNonNegativeInt(expectedEpoch))
            throw invalid('expectedEpoch must be a non-negative integer');
          manifestTx.immediate(s, m, {
            ...(quota === undefined ? {} : { quota }),
            ...(options?.guard === undefined ? {} : { guard: options.guard }),
            ...(expectedEpoch === undefined ? {} : { expectedEpoch }),
          });
        }),
      usage: (accountId) => call((s) => blobUsage(s, accountId)),
      getManifest: (blobId) =>
        call((s) => {
          const row = s.manifestGet.get(blobId);
          return row === undefined ? null : rowToManifest(row);
        }),
      putChunk: (blobId, index, bytes, guard, entries) =>
        call((s) => {
          if (!(bytes instanceof Uint8Array)) throw invalid('chunk bytes must be a Uint8Array');
          validateGuard(guard);
          validateEntries(entries);
          announce(
            chunkTx.immediate(s, blobId, index, {
              bytes,
              ...(guard === undefined ? {} : { guard }),
              ...(entries === undefined ? {} : { entries }),
            }),
          );
        }),
      getChunk: (blobId, index) =>
        call((s) => {
          const row = s.chunkGet.get(blobId, index);
          return row === undefined ? null : toBytes(row.bytes);
        }),
      chunkIndexes: (blobId) => call((s) => s.chunkIndexes.all(blobId).map((r) => r.idx)),
      delete: (blobId, deletion, guard, entries) =>
        call((s) => {
          requireText(blobId, 'blobId');
          requireText(deletion.deletedBy, 'deletedBy');
          requireText(deletion.deletedAt, 'deletedAt');
          validateGuard(guard);
          validateEntries(entries);
          const { tombstone, heads } = blobDeleteTx.immediate(s, blobId, deletion, guard, entries);
          announce(heads);
          return tombstone;
        }),
      getTombstone: (blobId) =>
        call((s) => {
          const row = s.tombstoneGet.get(blobId);
          return row === undefined ? null : rowToTombstone(row);
        }),
    },

    availability: {
      put: (entry) =>
        call((s) => {
          requireText(entry.accountId, 'accountId');
          if (!Number.isSafeInteger(entry.version) || entry.version < 1)
            throw invalid('version must be a positive integer');
          const signed = JSON.stringify(entry.signed);
          const { changes } = s.availabilityPut.run(entry.accountId, entry.version, signed, entry.updatedAt);
          if (changes === 1) return { outcome: 'stored' as const, version: entry.version };
          const held = s.availabilityGet.get(entry.accountId);
          const version = held?.version ?? 0;
          const same = held !== undefined && version === entry.version && held.signed === signed;
          return { outcome: same ? ('same' as const) : ('stale' as const), version };
        }),
      get: (accountId) =>
        call((s) => {
          const row = s.availabilityGet.get(accountId);
          return row === undefined
            ? null
            : {
                accountId: row.account_id,
                version: row.version,
                signed: JSON.parse(row.signed) as JsonObject,
                updatedAt: row.updated_at,
              };
        }),
    },

    directory: {
      putProvider: (p) =>
        call((s) => {
          requireText(p.accountId, 'accountId');
          const searchText = [p.displayName, p.specialty, p.clinic, p.identifier]
            .map((field) => field.toLowerCase())
            .join(SEARCH_SEPARATOR);
          s.providerPut.run(
            p.accountId,
            p.displayName,
            p.specialty,
            p.clinic,
            p.identifier,
            p.contact ?? null,
            JSON.stringify(p.signed),
            p.updatedAt,
            searchText,
          );
        }),
      searchProviders: (q, limit, after) =>
        call((s) => {
          if (!Number.isSafeInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
          const needle = q.toLowerCase().replaceAll(SEARCH_SEPARATOR, '');
          const rows =
            after === undefined
              ? s.providerSearch.all(needle, limit)
              : s.providerSearchAfter.all(needle, after.displayName, after.accountId, limit);
          return rows.map(rowToProvider);
        }),
    },

    invites: {
      put: (invite) =>
        call((s) => {
          if (!/^[0-9a-f]{64}$/.test(invite.codeHash)) throw invalid('codeHash must be 64 hex digits');
          if (!Number.isSafeInteger(invite.uses) || invite.uses < 1) throw invalid('uses must be at least 1');
          if (!isNonNegativeInt(invite.usesLeft) || invite.usesLeft > invite.uses) {
            throw invalid('usesLeft must be between 0 and uses');
          }
          requireText(invite.createdAt, 'createdAt');
          s.inviteInsert.run(
            invite.codeHash,
            invite.role ?? null,
            invite.uses,
            invite.usesLeft,
            invite.expiresAt,
            timeMs(invite.expiresAt, 'expiresAt'),
            invite.createdAt,
            invite.note ?? null,
            invite.revokedAt ?? null,
          );
        }),
      list: () => call((s) => s.inviteList.all().map(rowToInvite)),
      revoke: (codeHash, revokedAt) =>
        call((s) => {
          requireText(revokedAt, 'revokedAt');
          s.inviteRevoke.run(revokedAt, codeHash);
          const row = s.inviteGet.get(codeHash);
          if (row === undefined) throw new StoreError('NOT_FOUND', 'no invite with this code');
          return rowToInvite(row);
        }),
    },

    meta: {
      get: (key) => call((s) => s.metaGet.get(key)?.value ?? null),
      put: (key, value) =>
        call((s) => {
          s.metaPut.run(key, value);
        }),
    },

    heads: sqliteHeads(db, (work) => call(() => work())),

    shl: sqliteShl(db, (work) => call(() => work())),

    serverState: {
      get: (key) =>
        call((s) => {
          const row = s.serverStateGet.get(key);
          return row === undefined ? null : { value: row.value, at: row.updated_at };
        }),
      put: (key, value, at) =>
        call((s) => {
          requireText(at, 'at');
          s.serverStatePut.run(key, value, at);
        }),
    },

    onCommitted(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };

  await init();
  return store;
};
