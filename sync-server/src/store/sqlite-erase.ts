/**
 * The SQLite store's `accounts.erase` (types.ts): one account's rows, all of them, in one IMMEDIATE
 * transaction.
 *
 * | rows | chosen by |
 * |---|---|
 * | docs (audit included), stream_heads, restored_heads, signed_heads, signed_head_rows, blob_manifests, blob_chunks, blob_tombstones | stream in `${accountId}/…` (a range: `/` < `0`, and account ids may hold `_`, which LIKE would take as a wildcard) |
 * | envelopes | stream in that range, or `recipient` = the account |
 * | grants, accepted_patients | the account as patient or grantee; grantees of its grants get a grant-change bump |
 * | shl_links, shl_accesses, providers, provider_availability, account_role_sigs | the account |
 * | sessions, challenges, devices, accounts | the account and its devices |
 *
 * Invariants: all or nothing (an error rolls every delete back); the append-only trigger on audit
 * documents is lifted for this transaction only (dropped and created again from its stored SQL inside it,
 * so a rollback restores it too); secure_delete (set on the connection) zeroes what is freed.
 */
import type Database from 'better-sqlite3';
import { StoreError } from './types';
import type { AccountErasure } from './types';

const AUDIT_TRIGGER = 'docs_audit_no_delete';

export function createEraseAccount(db: Database.Database): (accountId: string) => AccountErasure {
  const run = (sql: string, ...args: string[]): number => db.prepare(sql).run(...args).changes;
  const tx = db.transaction((accountId: string): AccountErasure => {
    const account = db.prepare('SELECT role FROM accounts WHERE account_id = ?').get(accountId);
    if (account === undefined) throw new StoreError('NOT_FOUND', `account ${accountId} not found`);
    const lo = `${accountId}/`;
    const hi = `${accountId}0`;
    const inStreams = (column = 'stream'): string => `${column} >= ? AND ${column} < ?`;
    const deviceIds = db
      .prepare<[string], { device_id: string }>('SELECT device_id FROM devices WHERE account_id = ?')
      .all(accountId)
      .map((r) => r.device_id);
    const granteeIds = db
      .prepare<[string, string], { grantee_id: string }>(
        'SELECT DISTINCT grantee_id FROM grants WHERE patient_id = ? AND grantee_id <> ?',
      )
      .all(accountId, accountId)
      .map((r) => r.grantee_id);

    const trigger = db
      .prepare<[string], { sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?")
      .get(AUDIT_TRIGGER);
    if (trigger !== undefined) db.exec(`DROP TRIGGER ${AUDIT_TRIGGER}`);
    const docs = run(`DELETE FROM docs WHERE ${inStreams()}`, lo, hi);
    if (trigger !== undefined) db.exec(trigger.sql);

    for (const table of ['stream_heads', 'restored_heads', 'signed_heads', 'signed_head_rows']) {
      run(`DELETE FROM ${table} WHERE ${inStreams()}`, lo, hi);
    }
    const envelopes = run(`DELETE FROM envelopes WHERE (${inStreams()}) OR recipient = ?`, lo, hi, accountId);
    run(
      `DELETE FROM blob_chunks WHERE blob_id IN (SELECT blob_id FROM blob_manifests WHERE ${inStreams()})`,
      lo,
      hi,
    );
    const blobs = run(`DELETE FROM blob_manifests WHERE ${inStreams()}`, lo, hi);
    run(`DELETE FROM blob_tombstones WHERE ${inStreams()}`, lo, hi);

    const grants = run('DELETE FROM grants WHERE patient_id = ? OR grantee_id = ?', accountId, accountId);
    run('DELETE FROM grant_changes WHERE grantee_id = ?', accountId);
    const bump = db.prepare<[string]>(
      `INSERT INTO grant_changes (grantee_id, position)
         VALUES (?, (SELECT coalesce(max(position), 0) + 1 FROM grant_changes))
       ON CONFLICT (grantee_id) DO UPDATE SET position = excluded.position`,
    );
    for (const grantee of granteeIds) bump.run(grantee);
    run('DELETE FROM accepted_patients WHERE grantee_id = ? OR patient_id = ?', accountId, accountId);

    run(
      'DELETE FROM shl_accesses WHERE link_id IN (SELECT link_id FROM shl_links WHERE patient_id = ?)',
      accountId,
    );
    run('DELETE FROM shl_links WHERE patient_id = ?', accountId);
    for (const table of ['providers', 'provider_availability', 'account_role_sigs']) {
      run(`DELETE FROM ${table} WHERE account_id = ?`, accountId);
    }
    run('DELETE FROM sessions WHERE account_id = ?', accountId);
    const byDevice = db.prepare<[string]>('DELETE FROM challenges WHERE device_id = ?');
    for (const deviceId of deviceIds) byDevice.run(deviceId);
    run('DELETE FROM devices WHERE account_id = ?', accountId);
    run('DELETE FROM accounts WHERE account_id = ?', accountId);
    return { docs, blobs, grants, envelopes, deviceIds, granteeIds };
  });
  return (accountId) => tx.immediate(accountId);
}
