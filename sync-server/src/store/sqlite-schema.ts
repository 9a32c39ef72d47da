/*
 * The SQLite store's schema: its migrations (PRAGMA user_version), of which the first is the baseline, the
 * whole schema of a new file.
 *
 * Invariants:
 * - MIGRATIONS[i] upgrades user_version i to i + 1. Until the first release (the first version tag) a change
 *   edits the baseline; from that release on a released entry is never edited (schema changes are new
 *   entries).
 * - Migrations run in one BEGIN IMMEDIATE transaction, so two processes opening at once never both apply one.
 * - Audit rows (streams ending `/audit`) are append-only by trigger; recursive_triggers=ON (set at open)
 *   makes REPLACE conflict resolution fire them too.
 *
 * Failure modes: a file newer than this code → INTERNAL (details: schemaVersion, supportedSchemaVersion);
 * a failing step rolls every step of the open back.
 */
import type Database from 'better-sqlite3';
import { StoreError } from './types';

const AUDIT_TRIGGER_WHEN = `substr(OLD.stream, -6) = '/audit'`;

/**
 * Version 1, the baseline: every table of the store. Column order is the order `SELECT *` returns.
 */
const BASELINE = `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;

  -- wrapped_root_gen and wrapped_root_sig: the passphrase wrap's generation and the identity signature over
  -- it, so other devices of the account take a newer wrap and refuse a replayed older one.
  -- wrapping_key_sig: the identity signature over the wrapping key, relayed so other accounts wrap only to a
  -- key the account published.
  CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('patient', 'provider')),
    identity_public_key TEXT NOT NULL,
    wrapping_public_key TEXT NOT NULL,
    wrapped_root TEXT NOT NULL,
    login_name TEXT UNIQUE,
    created_at TEXT NOT NULL,
    wrapped_root_gen INTEGER NOT NULL DEFAULT 0,
    wrapped_root_sig TEXT,
    wrapping_key_sig TEXT
  );

  -- The identity signature over the account's role (roleSignaturePayload), relayed so a joining device
  -- takes the role only as the account signed it.
  CREATE TABLE account_role_sigs (
    account_id TEXT PRIMARY KEY REFERENCES accounts (account_id),
    sig TEXT NOT NULL
  ) WITHOUT ROWID;

  -- revocation: the device's signed revocation as the account sent it (SignedDeviceRevocation, JSON), served
  -- with the device so readers can check what the device signed before it.
  -- name_record, name_seq: the device's newest name record (SignedDeviceName, JSON, sealed: the server cannot
  -- read the name) and its seq, replaced only by a higher seq; NULL while the name is the certificate's.
  CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    cert TEXT NOT NULL,
    device_public_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    revocation TEXT,
    name_record TEXT,
    name_seq INTEGER CHECK (name_seq >= 1)
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

  -- stored_at: the server's receive time, by which grants issued per pair are rate-capped.
  -- superseded_by: the grant that replaced this one (grants.supersede), set with revoked_at in the
  -- transaction that stores the new grant, so every reading of unended grants (revoked_at IS NULL, and
  -- the indexes on it) treats a replaced grant as ended, as a revoked one.
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
    revocation TEXT,
    stored_at TEXT,
    superseded_by TEXT
  );
  CREATE INDEX grants_by_patient ON grants (patient_id, issued_at);
  CREATE INDEX grants_by_grantee ON grants (grantee_id, issued_at);
  -- Access decisions read only unended grants (ended ones pile up: they are the consent history).
  CREATE INDEX grants_unended_by_grantee ON grants (grantee_id, revoked_at, expires_at);
  CREATE INDEX grants_unended_by_patient ON grants (patient_id, revoked_at, expires_at);
  CREATE INDEX grants_by_pair_stored ON grants (patient_id, grantee_id, stored_at);
  CREATE INDEX grants_by_pair_issued ON grants (patient_id, grantee_id, issued_at);
  -- A grantee's unrevoked grants by patient as stream ids order them (patient_id || '/'), then by issue: a
  -- listStreams page reads the grants of the patients it lists, and a pull those of the patients it names
  -- (listUnendedByPatient, listUnendedFrom), instead of all the grantee's. Expired ones are skipped on
  -- expires_at in the entry, without reading their rows.
  CREATE INDEX grants_unrevoked_by_grantee_patient
    ON grants (grantee_id, patient_id || '/', issued_at, grant_id, expires_at) WHERE revoked_at IS NULL;

  -- Per grantee, the position of its last grant change, so a live hub finds changed accounts with one small
  -- query instead of reloading all.
  CREATE TABLE grant_changes (
    grantee_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX grant_changes_by_position ON grant_changes (position);

  -- Patients a grantee accepted (acceptPatient): their grants to it do not count toward its cap on grants
  -- from strangers. Keyed by grantee first: the cap check, the count and the listing read one grantee's rows.
  CREATE TABLE accepted_patients (
    grantee_id TEXT NOT NULL REFERENCES accounts (account_id),
    patient_id TEXT NOT NULL REFERENCES accounts (account_id),
    accepted_at TEXT NOT NULL,
    PRIMARY KEY (grantee_id, patient_id),
    CHECK (grantee_id <> patient_id)
  ) WITHOUT ROWID;

  CREATE TABLE stream_heads (
    stream TEXT PRIMARY KEY,
    head INTEGER NOT NULL CHECK (head >= 0)
  ) WITHOUT ROWID;

  -- Each stream's head as the last restore left it, so the store tells a version it held at the restore
  -- from one stored since, whatever their seqs (RESTORE_ORIGIN_META_KEY). Empty until a restore.
  CREATE TABLE restored_heads (
    stream TEXT PRIMARY KEY,
    head INTEGER NOT NULL CHECK (head >= 0)
  ) WITHOUT ROWID;

  -- A rowid table: rows carry kilobytes of ciphertext, too large for a clustered WITHOUT ROWID b-tree.
  -- creator: the account whose push first stored the record (set on insert, never on update), by which the
  -- server judges who may change it (sync-push.ts notTheAuthor).
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
    at TEXT NOT NULL,
    creator TEXT
  );
  CREATE UNIQUE INDEX docs_by_stream_seq ON docs (stream, seq);
  CREATE UNIQUE INDEX docs_by_stream_id ON docs (stream, id);
  -- A device's audit appends to one patient's stream by receive time, so the sync service caps them per
  -- rolling window (auditEntriesOfAccountSince) reading only the entries it counts. Partial: rows without
  -- an audit header (every record write) are not in it, so only audit appends pay for it.
  CREATE INDEX docs_audit_by_author ON docs (stream, author, at)
    WHERE audit_author_seq IS NOT NULL;
  -- An author's audit entries in one stream by chain position, so writeDocs finds at once whether a new
  -- entry's position is held (position-taken), in its transaction. Partial as above.
  CREATE INDEX docs_audit_by_position ON docs (stream, author, audit_author_seq)
    WHERE audit_author_seq IS NOT NULL;

  CREATE TRIGGER docs_audit_no_update BEFORE UPDATE ON docs
    WHEN ${AUDIT_TRIGGER_WHEN} OR substr(NEW.stream, -6) = '/audit'
    BEGIN SELECT RAISE(ABORT, 'audit documents are append-only'); END;
  CREATE TRIGGER docs_audit_no_delete BEFORE DELETE ON docs
    WHEN ${AUDIT_TRIGGER_WHEN}
    BEGIN SELECT RAISE(ABORT, 'audit documents are append-only'); END;

  -- Signed stream heads (sqlite-heads.ts): per stream the newest statement a patient device signed and the
  -- server accepted, and the rows it covers (id, rev, deleted: what docs hold in clear), so it can be served
  -- with its leaves after the rows change.
  CREATE TABLE signed_heads (
    stream TEXT PRIMARY KEY,
    seq INTEGER NOT NULL CHECK (seq >= 0),
    signed TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE signed_head_rows (
    stream TEXT NOT NULL,
    id TEXT NOT NULL,
    rev TEXT NOT NULL,
    deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    PRIMARY KEY (stream, id)
  ) WITHOUT ROWID;

  CREATE TABLE envelopes (
    stream TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    key_id TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sig TEXT,
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
  -- An account's blob usage (for its quota) sums the manifests its devices created.
  CREATE INDEX blob_manifests_by_creator ON blob_manifests (created_by);

  -- Chunk bytes live apart from the manifest so listing or checking a blob never pages them in.
  CREATE TABLE blob_chunks (
    blob_id TEXT NOT NULL REFERENCES blob_manifests (blob_id),
    idx INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (blob_id, idx)
  );

  -- A deleted blob's id is kept so it is never announced again.
  CREATE TABLE blob_tombstones (
    blob_id TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    deleted_by TEXT NOT NULL,
    deleted_at TEXT NOT NULL
  ) WITHOUT ROWID;

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

  -- Each provider's signed availability (the directory's bookable hours), the highest version it published.
  CREATE TABLE provider_availability (
    account_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version >= 1),
    signed TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;

  -- Invite codes for registration in invite mode, kept only as hashes (invites.ts).
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

  -- What the server process records about itself at start (e.g. its registration mode, which the invite
  -- command reports), one row per key, apart from meta (the store's own identity and secrets).
  CREATE TABLE server_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;

  -- SMART Health Links (sqlite-shl.ts): each link's routing, limits and ciphertext, and its access log.
  CREATE TABLE shl_links (
    link_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    patient_id TEXT NOT NULL REFERENCES accounts (account_id),
    label TEXT,
    passcode_hash TEXT,
    attempts_left INTEGER NOT NULL CHECK (attempts_left >= 0),
    emergency INTEGER NOT NULL CHECK (emergency IN (0, 1)),
    contents TEXT NOT NULL,
    content_type TEXT NOT NULL,
    jwe TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    access_count INTEGER NOT NULL DEFAULT 0,
    last_access_at TEXT,
    ticket_hash TEXT,
    ticket_expires_ms INTEGER,
    types TEXT,
    sealed TEXT
  ) WITHOUT ROWID;
  CREATE INDEX shl_links_by_patient ON shl_links (patient_id, created_at);
  CREATE INDEX shl_links_by_ticket ON shl_links (ticket_hash) WHERE ticket_hash IS NOT NULL;
  CREATE TABLE shl_accesses (
    link_id TEXT NOT NULL REFERENCES shl_links (link_id),
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    recipient TEXT NOT NULL,
    sealed_recipient TEXT,
    PRIMARY KEY (link_id, seq)
  ) WITHOUT ROWID;
  -- A link is one-time when it has a row here.
  CREATE TABLE shl_one_time (
    link_id TEXT PRIMARY KEY REFERENCES shl_links (link_id)
  ) WITHOUT ROWID;
`;

/** Index i holds the SQL that upgrades user_version i to i + 1 (see the header for when entries change). */
const MIGRATIONS: readonly string[] = [BASELINE];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** Migrates the schema, the first step of opening a store. */
export const migrateSqliteSchema = (db: Database.Database): void => {
  const readVersion = (): number => db.pragma('user_version', { simple: true }) as number;
  const found = readVersion();
  if (found > MIGRATIONS.length) {
    throw new StoreError(
      'INTERNAL',
      `database schema version ${found} is newer than this server supports (${MIGRATIONS.length})`,
      { details: { schemaVersion: found, supportedSchemaVersion: MIGRATIONS.length } },
    );
  }
  if (found === MIGRATIONS.length) return;
  // IMMEDIATE: two processes starting at once must not both apply the same migration.
  db.transaction(() => {
    const from = readVersion();
    for (let v = from; v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v] ?? '');
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();
};
