/*
 * The SQLite store's prepared statements, one object shared by its modules (`Statements`), prepared once
 * the schema is migrated (init).
 *
 * Invariants:
 * - An envelope is stored once per (stream, epoch, recipient), except that one created by a device revoked
 *   since is replaced by one of the same key id from an active device of the same account
 *   (ENVELOPE_ON_CONFLICT_SQL, also a restore's carry, restore-carry.ts).
 * - Timestamps are ISO strings as toISOString writes them (types.ts), so text order is time order.
 * - Statements that must walk one index name it (INDEXED BY): the comment beside each says why.
 */
import type Database from 'better-sqlite3';
import type { EnvelopeHolder } from './types';
import {
  DOC_COLUMNS,
  type AcceptanceRow,
  type AccountRow,
  type ChallengeRow,
  type DeviceRow,
  type DocRow,
  type EnvelopeRow,
  type GrantRow,
  type InviteRow,
  type ManifestRow,
  type ProviderRow,
  type SessionRow,
  type TombstoneRow,
} from './sqlite-rows';

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

export type GrantPageArgs = [string, ...(string | number)[]];

/**
 * The `grants.listPage` statements, by side, filter (`all` or `unended`) and cursor (`first` page, or
 * `after` a key); parameters: the account id, then `now` (unended), then issued_at and grant_id (after),
 * then the limit.
 */
export const grantPageStatements = (db: Database.Database) => {
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

export const prepareStatements = (db: Database.Database) => ({
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
  // The first revocation's time is kept, and the first signed revocation.
  deviceRevoke: db.prepare<[string, string, string]>(
    `UPDATE devices SET revoked_at = coalesce(revoked_at, ?), revocation = coalesce(revocation, ?)
       WHERE device_id = ?`,
  ),
  // Compare-and-set (`devices.rename`): only an active device, only to a higher seq (none stored = 0).
  deviceRename: db.prepare<[string, number, string, number]>(
    `UPDATE devices SET name_record = ?, name_seq = ?
       WHERE device_id = ? AND revoked_at IS NULL AND coalesce(name_seq, 0) < ?`,
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
      string | null,
    ]
  >(
    `INSERT INTO grants (grant_id, patient_id, grantee_id, scope, start, expires_at, issued_at, signed,
       revoked_at, revocation, stored_at, superseded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
  // `grants.supersede`: ends the replaced grant only while it is of the pair and unended at `now`.
  grantSupersedeEnd: db.prepare<[string, string, string, string, string, string]>(
    `UPDATE grants SET revoked_at = ?, superseded_by = ?
     WHERE grant_id = ? AND patient_id = ? AND grantee_id = ? AND revoked_at IS NULL AND expires_at > ?`,
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
      string | null,
    ]
  >(`INSERT INTO docs (${DOC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
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
    // Not `creator`: a record's creator is the one its first row was stored with (store-records.ts `Doc`).
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
  // before a restore again after newer ones).
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

export type Statements = ReturnType<typeof prepareStatements>;
