/*
 * The SQLite store's schema: its migrations (PRAGMA user_version) and the one rebuild that secure_delete
 * calls for.
 *
 * Invariants:
 * - MIGRATIONS[i] upgrades user_version i to i + 1; a released entry is never edited (schema changes are
 *   new entries).
 * - Migrations run in one BEGIN IMMEDIATE transaction, so two processes opening at once never both apply one.
 * - Audit rows (streams ending `/audit`) are append-only by trigger; recursive_triggers=ON (set at open)
 *   makes REPLACE conflict resolution fire them too.
 * - A store written before v8 (without secure_delete) is rebuilt once (VACUUM): the migration's
 *   transaction leaves REBUILD_PENDING_META_KEY in meta, which only a finished rebuild removes, so an open
 *   that stopped between the two rebuilds at the next open.
 *
 * Failure modes: a file newer than this code → INTERNAL (details: schemaVersion, supportedSchemaVersion);
 * a failing step rolls every step of the open back.
 */
import type Database from 'better-sqlite3';
import { SHL_ONE_TIME_SQL, SHL_SEALED_SQL, SHL_TABLES_SQL } from './sqlite-shl';
import { StoreError } from './types';

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

const AUDIT_TRIGGER_WHEN = `substr(OLD.stream, -6) = '/audit'`;

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
  // v20 → v21: each record's creator, the account whose push first stored it (set on insert, never on
  // update), so the server judges who may change a record by its creator, not by its latest version's
  // device (sync-push.ts `notTheAuthor`). Rows stored before have none (NULL): the server falls back to the
  // account of the stored version's device for them. A column: a test that sets the version back drops it.
  `
  ALTER TABLE docs ADD COLUMN creator TEXT;
  `,
  // v21 → v22: a device's newest name record (SignedDeviceName, JSON, sealed: the server cannot read the
  // name) and its seq, replaced only by a higher seq (`devices.rename`). Devices never renamed have none
  // (NULL): their name is the certificate's (seq 0). Columns: a test that sets the version back drops them.
  `
  ALTER TABLE devices ADD COLUMN name_record TEXT;
  ALTER TABLE devices ADD COLUMN name_seq INTEGER CHECK (name_seq >= 1);
  `,
  // v22 → v23: the grant that replaced a grant (`grants.supersede`), by id. Set with `revoked_at` (the
  // server's time of the end) in the transaction that stores the new grant, so every reading of unended
  // grants (`revoked_at IS NULL`, and the indexes on it) treats a replaced grant as ended, as a revoked one.
  // Grants never replaced have none (NULL). A column: a test that sets the version back drops it.
  `
  ALTER TABLE grants ADD COLUMN superseded_by TEXT;
  `,
  // v23 → v24: shared links' record types and label and counts sealed by the patient's device, and each
  // access's viewer name sealed by the server (sqlite-shl.ts). Rows from before keep theirs in clear.
  SHL_SEALED_SQL,
];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** The migrations, for tests that build a file at an older schema version. Not part of the store API. */
export const SCHEMA_MIGRATIONS: readonly string[] = MIGRATIONS;

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
export const rebuildIfPending = (db: Database.Database): void => {
  const pending = db.prepare('SELECT 1 FROM meta WHERE key = ?').get(REBUILD_PENDING_META_KEY);
  if (pending === undefined) return;
  db.exec('VACUUM');
  db.prepare('DELETE FROM meta WHERE key = ?').run(REBUILD_PENDING_META_KEY);
  db.pragma('wal_checkpoint(TRUNCATE)');
};
