/*
 * What a restore (backup.ts) carries from the store it replaces into the backup copy that replaces it.
 * Content stored after the backup (documents, accounts, devices, grants, blobs, directory entries) is not
 * carried: devices see the new incarnation and send it again. Carried is what, going back, would reuse
 * positions devices have passed or give back access someone took away:
 * - stream heads: the higher of the two, so no seq is served again and no checkpoint is above a head;
 * - audit documents the backup lacks, whole, at their own seq: the log and hash chains continue, unforked;
 * - device revocations (their sessions and challenges deleted), with the signed revocation;
 * - grant revocations with the signed revocation if it checks (else the grant still ends, reported), and
 *   the ends of grants a newer grant replaced (the newer grant, stored after the backup, is not: reported);
 * - higher passphrase-wrap generations and wrap, wrapping-key and role signatures, where they verify;
 * - key envelopes the backup lacks (recipient known); a revoked device's re-signed by an active one;
 * - invite revocations (uses after the backup are not: their accounts are gone too);
 * - sessions: only those the replaced store still has; pending challenges are all dropped;
 * - SMART Health Link revocations, passcode attempts, accesses and used tickets (restore-carry-links.ts);
 * - blob deletions: deleted in the copy too, tombstone kept.
 *
 * Invariants:
 * - Every carry only moves state forward and is keyed by ids: a store of another lineage matches nothing.
 * - Every restore records heads after the carry (`restored_heads`) and RESTORE_ORIGIN_META_KEY (`keptFrom`).
 *
 * Failure modes: a replaced store that does not open or read is reported (warnings) and carried from as
 * far as it reads, each kind in its own savepoint. Failures writing the copy itself throw (the caller
 * aborts the restore and leaves the live store in place).
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { base64urlDecode, verifyCanonical, type Ed25519 } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import {
  Incarnation,
  SignedRevocation,
  WrappedRoot,
  revocationSignaturePayload,
  roleSignaturePayload,
  validate,
  wrappedRootSignaturePayload,
  wrappingKeySignaturePayload,
} from '@hale/protocol';
import {
  ENVELOPE_ON_CONFLICT_SQL,
  INCARNATION_META_KEY,
  RESTORE_ORIGIN_META_KEY,
  newIncarnation,
} from './sqlite-store';
import { isAuditStream } from './types';
import { carryLinks, type LinkCarryCounts } from './restore-carry-links';

/** Rows carried (or, for sessions and challenges, dropped) per kind of state. */
export interface CarriedCounts extends LinkCarryCounts {
  streamHeads: number;
  auditDocs: number;
  deviceRevocations: number;
  grantRevocations: number;
  wrappedRoots: number;
  wrappingKeySigs: number;
  roleSigs: number;
  envelopes: number;
  inviteRevocations: number;
  sessionsDropped: number;
  challengesDropped: number;
  blobDeletions: number;
}

export interface CarryReport {
  /** Null when there was no store to carry from. */
  carried: CarriedCounts | null;
  /** The restored store's new incarnation. */
  incarnation: string;
  /** What the operator must know or redo; one line each. */
  warnings: string[];
}

/** What the operator must know when nothing could be carried; after a sentence saying why. */
export const NOTHING_CARRIED_WARNING =
  'Nothing made after this backup could be carried into the restored store: device and consent ' +
  'revocations, passphrase changes, key rotations, blob deletions, invite revocations and shared-link ' +
  'revocations made since the backup are undone — redo them (until then deleted blobs can be downloaded ' +
  'again, revoked invite codes admit sign-ups again and revoked shared links open again). ' +
  "The server's audit log continues from the backup's last entry: devices " +
  "that saw later entries report the server's chain as cut at the position they had verified " +
  '(`deleted`, naming the restore; its new entries are still listed) at every check until the loss is ' +
  'accepted on the device. Stream ' +
  'positions restart from the backup: devices that synced since must pull again from the start and send ' +
  'again what they hold (apps do so when they see the new incarnation).';

/** `meta` key of the server's signing seed (app.ts): one server, one seed, in every backup of its store. */
const SERVER_SEED_META_KEY = 'server-signing-seed';

const zeroCounts = (): CarriedCounts => ({
  streamHeads: 0,
  auditDocs: 0,
  deviceRevocations: 0,
  grantRevocations: 0,
  wrappedRoots: 0,
  wrappingKeySigs: 0,
  roleSigs: 0,
  envelopes: 0,
  inviteRevocations: 0,
  sessionsDropped: 0,
  challengesDropped: 0,
  blobDeletions: 0,
  linkRevocations: 0,
  linkLocks: 0,
  linkAccesses: 0,
});

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Records in the copy what this restore leaves: every stream's head as it stands (after the carry), and
 * the backup's own incarnation beside `incarnation`, the one the restore gives it. Runs in the restore's
 * last transaction, before the incarnation is replaced. A backup without a valid incarnation records no
 * origin (any earlier one is removed): no device can have synced with a store of no incarnation.
 */
const recordRestore = (copy: Database.Database, incarnation: string): void => {
  const from = copy
    .prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?')
    .get(INCARNATION_META_KEY)?.value;
  copy.prepare('DELETE FROM restored_heads').run();
  copy.prepare('INSERT INTO restored_heads (stream, head) SELECT stream, head FROM stream_heads').run();
  if (from !== undefined && validate(Incarnation, from).ok) {
    copy
      .prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(RESTORE_ORIGIN_META_KEY, JSON.stringify({ into: incarnation, from }));
  } else {
    copy.prepare('DELETE FROM meta WHERE key = ?').run(RESTORE_ORIGIN_META_KEY);
  }
};

const verifies = async (
  ed: Ed25519,
  publicKeyText: string,
  payload: { label: string },
  sigText: unknown,
): Promise<boolean> => {
  if (typeof sigText !== 'string') return false;
  const key = base64urlDecode(publicKeyText);
  const sig = base64urlDecode(sigText);
  if (!key.ok || !sig.ok) return false;
  try {
    return await verifyCanonical(ed, key.value, payload.label, payload, sig.value);
  } catch {
    return false;
  }
};

const parseJson = (text: unknown): unknown => {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};

interface GrantRevocationCarry {
  grantId: string;
  revokedAt: string;
  /**
   * The signed revocation as stored, or null when it failed the check or the grant was replaced by another
   * (it has none): the grant still ends.
   */
  revocation: string | null;
}

interface AccountCarry {
  accountId: string;
  wrappedRoot?: { text: string; gen: number; sig: string };
  /** Signature over the copy's own, still unsigned generation-0 wrap. */
  gen0Sig?: string;
  wrappingKeySig?: string;
  /** The identity signature over the account's role, published after the backup. */
  roleSig?: string;
}

type Row = Record<string, unknown>;

/**
 * Carries (see header) from the store file `replacedFile` (null when none existed) into `copy`, an open
 * read-write connection on the backup copy that nothing else uses, and gives it a new incarnation.
 * Never writes to `replacedFile`.
 */
export const carryIntoRestored = async (
  copy: Database.Database,
  replacedFile: string | null,
  ed: Ed25519 = createNodeEd25519(),
): Promise<CarryReport> => {
  const warnings: string[] = [];
  const incarnation = newIncarnation();
  // Blobs deleted below leave none of their bytes in the copy (as the store itself deletes them).
  copy.pragma('secure_delete = ON');
  const setIncarnation = copy.prepare(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );

  let old: Database.Database | null = null;
  if (replacedFile !== null && existsSync(replacedFile)) {
    try {
      old = new Database(replacedFile, { readonly: true, fileMustExist: true });
      const seedOf = (db: Database.Database): string | null =>
        db
          .prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?')
          .get(SERVER_SEED_META_KEY)?.value ?? null;
      const oldSeed = seedOf(old);
      const copySeed = seedOf(copy);
      if (oldSeed !== null && copySeed !== null && oldSeed !== copySeed) {
        old.close();
        old = null;
        warnings.push(
          `The replaced store is another server's (its signing key differs from the backup's). ${NOTHING_CARRIED_WARNING}`,
        );
      }
    } catch (error) {
      old?.close();
      old = null;
      warnings.push(`The replaced store could not be read (${message(error)}). ${NOTHING_CARRIED_WARNING}`);
    }
  } else {
    warnings.push(`No store was replaced (the data directory held none). ${NOTHING_CARRIED_WARNING}`);
  }

  if (old === null) {
    copy
      .transaction(() => {
        // Sessions revoked or logged out after the backup cannot be told from the others: all go, and
        // devices authenticate again (the backup's sessions have usually expired anyway).
        copy.prepare('DELETE FROM sessions').run();
        copy.prepare('DELETE FROM challenges').run();
        recordRestore(copy, incarnation);
        setIncarnation.run(INCARNATION_META_KEY, incarnation);
      })
      .immediate();
    return { carried: null, incarnation, warnings };
  }

  try {
    const counts = zeroCounts();
    const from = old;
    const failed = (what: string, error: unknown): void => {
      warnings.push(
        `Could not carry ${what} from the replaced store (${message(error)}): the restored store has them ` +
          'as of the backup; redo them by hand where you can.',
      );
    };

    // Phase 1, reads and signature checks (async), before the one write transaction below.
    let grantCarries: GrantRevocationCarry[] = [];
    try {
      grantCarries = await checkedGrantRevocations(from, copy, ed, warnings);
    } catch (error) {
      failed('consent (grant) revocations made after the backup', error);
    }
    let accountCarries: AccountCarry[] = [];
    try {
      accountCarries = await checkedAccountState(from, copy, ed, warnings);
    } catch (error) {
      failed('passphrase changes made after the backup', error);
    }

    // Phase 2: one transaction, each kind in its own savepoint (a nested better-sqlite3 transaction).
    // A kind's counts are added only once its savepoint holds: a rolled-back kind carried nothing.
    const kind = (what: string, work: (n: CarriedCounts) => void): void => {
      const n = zeroCounts();
      try {
        copy.transaction(() => work(n))();
      } catch (error) {
        failed(what, error);
        return;
      }
      for (const key of Object.keys(n) as Array<keyof CarriedCounts>) counts[key] += n[key];
    };
    copy
      .transaction(() => {
        kind('audit entries and stream positions', (n) => {
          const copyHead = copy.prepare<[string], { head: number }>(
            'SELECT head FROM stream_heads WHERE stream = ?',
          );
          const upsertHead = copy.prepare<[string, number]>(
            `INSERT INTO stream_heads (stream, head) VALUES (?, ?)
             ON CONFLICT (stream) DO UPDATE SET head = excluded.head WHERE excluded.head > stream_heads.head`,
          );
          const auditAfter = from.prepare<[string, number], Row>(
            'SELECT * FROM docs WHERE stream = ? AND seq > ? ORDER BY seq',
          );
          const insertDoc = copy.prepare(
            `INSERT INTO docs (stream, id, seq, rev, deleted, epoch, ct, size, author, sig, audit_author_seq,
               audit_prev_hash, audit_at, creator, at)
             VALUES (@stream, @id, @seq, @rev, @deleted, @epoch, @ct, @size, @author, @sig, @audit_author_seq,
               @audit_prev_hash, @audit_at, @creator, @at)
             ON CONFLICT DO NOTHING`,
          );
          const heads = from
            .prepare<[], { stream: string; head: number }>('SELECT stream, head FROM stream_heads')
            .all();
          for (const { stream, head } of heads) {
            const before = copyHead.get(stream)?.head ?? 0;
            if (isAuditStream(stream)) {
              // Appended after the backup in this lineage: every seq above the backup's head is free.
              for (const row of auditAfter.all(stream, before)) {
                n.auditDocs += insertDoc.run({
                  stream: row.stream,
                  id: row.id,
                  seq: row.seq,
                  rev: row.rev,
                  deleted: row.deleted,
                  epoch: row.epoch,
                  ct: row.ct,
                  size: row.size,
                  author: row.author,
                  sig: row.sig ?? null,
                  audit_author_seq: row.audit_author_seq ?? null,
                  audit_prev_hash: row.audit_prev_hash ?? null,
                  audit_at: row.audit_at ?? null,
                  creator: row.creator ?? null,
                  at: row.at,
                }).changes;
              }
            }
            if (Number.isSafeInteger(head) && head > before) {
              n.streamHeads += upsertHead.run(stream, head).changes;
            }
          }
        });

        kind('device revocations made after the backup', (n) => {
          const revoke = copy.prepare<[string, string | null, string]>(
            'UPDATE devices SET revoked_at = ?, revocation = ? WHERE device_id = ? AND revoked_at IS NULL',
          );
          const dropSessions = copy.prepare<[string]>('DELETE FROM sessions WHERE device_id = ?');
          const revoked = from
            .prepare<[], { device_id: string; revoked_at: string; revocation: string | null }>(
              'SELECT device_id, revoked_at, revocation FROM devices WHERE revoked_at IS NOT NULL',
            )
            .all();
          for (const { device_id, revoked_at, revocation } of revoked) {
            if (revoke.run(revoked_at, revocation, device_id).changes === 0) continue;
            n.deviceRevocations++;
            n.sessionsDropped += dropSessions.run(device_id).changes;
          }
        });

        kind('consent (grant) revocations made after the backup', (n) => {
          const revoke = copy.prepare<[string, string | null, string]>(
            'UPDATE grants SET revoked_at = ?, revocation = ? WHERE grant_id = ? AND revoked_at IS NULL',
          );
          for (const g of grantCarries) {
            n.grantRevocations += revoke.run(g.revokedAt, g.revocation, g.grantId).changes;
          }
        });

        kind('passphrase changes made after the backup', (n) => {
          for (const a of accountCarries) {
            if (a.wrappedRoot !== undefined) {
              const { text, gen, sig } = a.wrappedRoot;
              n.wrappedRoots += copy
                .prepare<[string, number, string, string, number]>(
                  `UPDATE accounts SET wrapped_root = ?, wrapped_root_gen = ?, wrapped_root_sig = ?
                   WHERE account_id = ? AND wrapped_root_gen < ?`,
                )
                .run(text, gen, sig, a.accountId, gen).changes;
            }
            if (a.gen0Sig !== undefined) {
              n.wrappedRoots += copy
                .prepare<[string, string]>(
                  `UPDATE accounts SET wrapped_root_sig = ?
                   WHERE account_id = ? AND wrapped_root_gen = 0 AND wrapped_root_sig IS NULL`,
                )
                .run(a.gen0Sig, a.accountId).changes;
            }
            if (a.wrappingKeySig !== undefined) {
              n.wrappingKeySigs += copy
                .prepare<[string, string]>(
                  'UPDATE accounts SET wrapping_key_sig = ? WHERE account_id = ? AND wrapping_key_sig IS NULL',
                )
                .run(a.wrappingKeySig, a.accountId).changes;
            }
            if (a.roleSig !== undefined) {
              // The store's own rule: the first signature taken stays (OR IGNORE).
              n.roleSigs += copy
                .prepare<[string, string]>(
                  'INSERT OR IGNORE INTO account_role_sigs (account_id, sig) VALUES (?, ?)',
                )
                .run(a.accountId, a.roleSig).changes;
            }
          }
        });

        kind('key envelopes (key rotations) made after the backup', (n) => {
          const insert = copy.prepare(
            `INSERT INTO envelopes (stream, epoch, recipient, key_id, wrapped, created_by, sig, created_at)
             SELECT @stream, @epoch, @recipient, @key_id, @wrapped, @created_by, @sig, @created_at
             WHERE EXISTS (SELECT 1 FROM accounts WHERE account_id = @recipient)
             ${ENVELOPE_ON_CONFLICT_SQL}`,
          );
          for (const row of from.prepare<[], Row>('SELECT * FROM envelopes').iterate()) {
            n.envelopes += insert.run({
              stream: row.stream,
              epoch: row.epoch,
              recipient: row.recipient,
              key_id: row.key_id,
              wrapped: row.wrapped,
              created_by: row.created_by,
              sig: row.sig ?? null,
              created_at: row.created_at,
            }).changes;
          }
        });

        kind('invite revocations made after the backup', (n) => {
          const revoke = copy.prepare<[string, string]>(
            'UPDATE invites SET revoked_at = ? WHERE code_hash = ? AND revoked_at IS NULL',
          );
          const revoked = from
            .prepare<[], { code_hash: string; revoked_at: string }>(
              'SELECT code_hash, revoked_at FROM invites WHERE revoked_at IS NOT NULL',
            )
            .all();
          for (const { code_hash, revoked_at } of revoked) {
            n.inviteRevocations += revoke.run(revoked_at, code_hash).changes;
          }
        });

        kind('blob deletions made after the backup', (n) => {
          const keep = copy.prepare<[string, string, string, string]>(
            `INSERT INTO blob_tombstones (blob_id, stream, deleted_by, deleted_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (blob_id) DO NOTHING`,
          );
          const dropChunks = copy.prepare<[string]>('DELETE FROM blob_chunks WHERE blob_id = ?');
          const dropManifest = copy.prepare<[string]>('DELETE FROM blob_manifests WHERE blob_id = ?');
          const tombstones = from
            .prepare<[], { blob_id: string; stream: string; deleted_by: string; deleted_at: string }>(
              'SELECT blob_id, stream, deleted_by, deleted_at FROM blob_tombstones',
            )
            .iterate();
          for (const t of tombstones) {
            dropChunks.run(t.blob_id);
            const dropped = dropManifest.run(t.blob_id).changes;
            const kept = keep.run(t.blob_id, t.stream, t.deleted_by, t.deleted_at).changes;
            if (dropped > 0 || kept > 0) n.blobDeletions++;
          }
        });

        kind('shared-link revocations, locks and accesses after the backup', (n) =>
          carryLinks(from, copy, n),
        );

        kind('the ends of sessions (logouts, expiries) after the backup', (n) => {
          const live = new Set(
            from
              .prepare<[], { token_hash: string }>('SELECT token_hash FROM sessions')
              .all()
              .map((s) => s.token_hash),
          );
          const drop = copy.prepare<[string]>('DELETE FROM sessions WHERE token_hash = ?');
          const sessions = copy.prepare<[], { token_hash: string }>('SELECT token_hash FROM sessions').all();
          for (const { token_hash } of sessions) {
            if (!live.has(token_hash)) n.sessionsDropped += drop.run(token_hash).changes;
          }
        });

        counts.challengesDropped = copy.prepare('DELETE FROM challenges').run().changes;
        recordRestore(copy, incarnation);
        setIncarnation.run(INCARNATION_META_KEY, incarnation);
      })
      .immediate();
    return { carried: counts, incarnation, warnings };
  } finally {
    old.close();
  }
};

/**
 * Revocations the replaced store has for grants the copy holds unrevoked, checked against the patient's key;
 * and the ends of grants another grant replaced, which carry no revocation.
 */
const checkedGrantRevocations = async (
  from: Database.Database,
  copy: Database.Database,
  ed: Ed25519,
  warnings: string[],
): Promise<GrantRevocationCarry[]> => {
  const inCopy = copy.prepare<[string], { patient_id: string; revoked_at: string | null; key: string }>(
    `SELECT g.patient_id, g.revoked_at, a.identity_public_key AS key
     FROM grants g JOIN accounts a ON a.account_id = g.patient_id WHERE g.grant_id = ?`,
  );
  const rows = from
    .prepare<
      [],
      {
        grant_id: string;
        patient_id: string;
        revoked_at: string;
        revocation: string | null;
        superseded_by: string | null;
      }
    >(
      'SELECT grant_id, patient_id, revoked_at, revocation, superseded_by FROM grants WHERE revoked_at IS NOT NULL',
    )
    .all();
  const out: GrantRevocationCarry[] = [];
  for (const row of rows) {
    const current = inCopy.get(row.grant_id);
    if (current === undefined || current.revoked_at !== null || current.patient_id !== row.patient_id)
      continue;
    if (row.superseded_by !== null) {
      // Replaced after the backup (the replacement is stored with the old grant's end, in one transaction,
      // so a backup holding it holds the end too): the replacement is gone with the backup, the end stays.
      warnings.push(
        `grant ${row.grant_id}: replaced after the backup by grant ${row.superseded_by}, which the backup ` +
          'does not hold: the grant stays ended and its replacement is gone (the patient shares again)',
      );
      out.push({ grantId: row.grant_id, revokedAt: row.revoked_at, revocation: null });
      continue;
    }
    const signed = validate(SignedRevocation, parseJson(row.revocation));
    const ok =
      signed.ok &&
      signed.value.revocation.grantId === row.grant_id &&
      signed.value.revocation.patientId === row.patient_id &&
      (await verifies(
        ed,
        current.key,
        revocationSignaturePayload(signed.value.revocation),
        signed.value.sig,
      ));
    if (!ok) {
      warnings.push(
        `grant ${row.grant_id}: its stored revocation fails the check; the grant is ended without it`,
      );
    }
    out.push({ grantId: row.grant_id, revokedAt: row.revoked_at, revocation: ok ? row.revocation : null });
  }
  return out;
};

/** Newer passphrase wraps, wrapping-key and role signatures of accounts the copy holds, checked. */
const checkedAccountState = async (
  from: Database.Database,
  copy: Database.Database,
  ed: Ed25519,
  warnings: string[],
): Promise<AccountCarry[]> => {
  const roleSigIn = (db: Database.Database) =>
    db.prepare<[string], { sig: string }>('SELECT sig FROM account_role_sigs WHERE account_id = ?');
  const copyRoleSig = roleSigIn(copy);
  const oldRoleSig = roleSigIn(from);
  const inCopy = copy.prepare<
    [string],
    {
      identity_public_key: string;
      wrapping_public_key: string;
      wrapped_root: string;
      wrapped_root_gen: number;
      wrapped_root_sig: string | null;
      wrapping_key_sig: string | null;
      role: unknown;
    }
  >(
    `SELECT identity_public_key, wrapping_public_key, wrapped_root, role,
       wrapped_root_gen, wrapped_root_sig, wrapping_key_sig
     FROM accounts WHERE account_id = ?`,
  );
  const out: AccountCarry[] = [];
  for (const row of from.prepare<[], Row>('SELECT * FROM accounts').all()) {
    const accountId = row.account_id;
    if (typeof accountId !== 'string') continue;
    const current = inCopy.get(accountId);
    if (current === undefined || current.identity_public_key !== row.identity_public_key) continue;
    const carry: AccountCarry = { accountId };
    const gen = row.wrapped_root_gen;
    if (typeof gen === 'number' && Number.isSafeInteger(gen) && gen > current.wrapped_root_gen) {
      const wrappedRoot = validate(WrappedRoot, parseJson(row.wrapped_root));
      if (
        wrappedRoot.ok &&
        typeof row.wrapped_root === 'string' &&
        typeof row.wrapped_root_sig === 'string' &&
        (await verifies(
          ed,
          current.identity_public_key,
          wrappedRootSignaturePayload({ accountId, wrappedRoot: wrappedRoot.value, gen }),
          row.wrapped_root_sig,
        ))
      ) {
        carry.wrappedRoot = { text: row.wrapped_root, gen, sig: row.wrapped_root_sig };
      } else {
        warnings.push(
          `account ${accountId}: its passphrase wrap of generation ${gen} fails the check and was not ` +
            `carried; the restored store has generation ${current.wrapped_root_gen}: the patient must ` +
            'change the passphrase again',
        );
      }
    } else if (
      gen === 0 &&
      current.wrapped_root_gen === 0 &&
      current.wrapped_root_sig === null &&
      typeof row.wrapped_root_sig === 'string'
    ) {
      // Published after the backup by an account registered without it; it must sign the copy's own wrap
      // (else it stays unsigned and the account's next unlock publishes it again).
      const copyWrap = validate(WrappedRoot, parseJson(current.wrapped_root));
      if (
        copyWrap.ok &&
        (await verifies(
          ed,
          current.identity_public_key,
          wrappedRootSignaturePayload({ accountId, wrappedRoot: copyWrap.value, gen: 0 }),
          row.wrapped_root_sig,
        ))
      ) {
        carry.gen0Sig = row.wrapped_root_sig;
      }
    }
    const keySig = row.wrapping_key_sig;
    if (
      current.wrapping_key_sig === null &&
      typeof keySig === 'string' &&
      current.wrapping_public_key === row.wrapping_public_key &&
      (await verifies(
        ed,
        current.identity_public_key,
        wrappingKeySignaturePayload({
          accountId,
          identityPublicKey: current.identity_public_key,
          wrappingPublicKey: current.wrapping_public_key,
        }),
        keySig,
      ))
    ) {
      carry.wrappingKeySig = keySig;
    }
    const roleSig = oldRoleSig.get(accountId)?.sig;
    const role = current.role;
    if (
      roleSig !== undefined &&
      copyRoleSig.get(accountId) === undefined &&
      (role === 'patient' || role === 'provider') &&
      row.role === role &&
      (await verifies(
        ed,
        current.identity_public_key,
        roleSignaturePayload({ accountId, identityPublicKey: current.identity_public_key, role }),
        roleSig,
      ))
    ) {
      carry.roleSig = roleSig;
    }
    if (
      carry.wrappedRoot !== undefined ||
      carry.gen0Sig !== undefined ||
      carry.wrappingKeySig !== undefined ||
      carry.roleSig !== undefined
    ) {
      out.push(carry);
    }
  }
  return out;
};
