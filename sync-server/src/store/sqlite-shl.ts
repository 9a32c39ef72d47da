/*
 * The SQLite store's SMART Health Links (shl-types.ts `ShlStore`): `shl_links`, `shl_accesses` and
 * `shl_one_time` (sqlite-schema.ts; rows leave `label` NULL, `contents` '[]' and `recipient` '': the
 * details and viewer names are sealed, in `sealed` and `sealed_recipient`). Writes that decide (an access, a revocation, a ticket) run in one IMMEDIATE transaction,
 * so two viewers racing on the last passcode attempt take one attempt each and at most the attempts left.
 * Failure modes: every error goes through the caller's `call` (closed store → UNAVAILABLE, a taken id →
 * ALREADY_EXISTS); NOT_FOUND here for a link of another patient or none.
 */
import type Database from 'better-sqlite3';
import { StoreError } from './types';
import type { ShlAccess, ShlAccessWrite, ShlLink, ShlLinkListing, ShlStore } from './shl-types';

type Run = <T>(work: () => T) => Promise<T>;

/** A link's columns with `one_time` (0 or 1) from `shl_one_time`. */
const LINKS = `SELECT l.*, EXISTS (SELECT 1 FROM shl_one_time o WHERE o.link_id = l.link_id) AS one_time
  FROM shl_links l`;

interface LinkRow {
  link_id: string;
  token_hash: string;
  patient_id: string;
  types: string | null;
  sealed: string | null;
  label: string | null;
  passcode_hash: string | null;
  attempts_left: number;
  emergency: number;
  one_time: number;
  contents: string;
  content_type: string;
  jwe: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  access_count: number;
  last_access_at: string | null;
}

const toLink = (r: LinkRow): ShlLink => {
  const contents = JSON.parse(r.contents) as NonNullable<ShlLink['contents']>;
  return {
    linkId: r.link_id,
    tokenHash: r.token_hash,
    patientId: r.patient_id,
    // A row stored in clear (before sealing) has its types in `contents` only.
    types: r.types === null ? [...new Set(contents.map((c) => c.type))] : (JSON.parse(r.types) as string[]),
    ...(r.sealed === null ? { contents } : { sealed: r.sealed }),
    ...(r.label === null ? {} : { label: r.label }),
    ...(r.passcode_hash === null ? {} : { passcodeHash: r.passcode_hash }),
    attemptsLeft: r.attempts_left,
    emergency: r.emergency === 1,
    ...(r.one_time === 1 ? { oneTime: true } : {}),
    contentType: r.content_type,
    jwe: r.jwe,
    createdAt: r.created_at,
    ...(r.expires_at === null ? {} : { expiresAt: r.expires_at }),
    ...(r.revoked_at === null ? {} : { revokedAt: r.revoked_at }),
    accessCount: r.access_count,
    ...(r.last_access_at === null ? {} : { lastAccessAt: r.last_access_at }),
  };
};

interface AccessRow {
  at: string;
  outcome: ShlAccess['outcome'];
  recipient: string;
  sealed_recipient: string | null;
}

const toAccess = (r: AccessRow): ShlAccess =>
  r.sealed_recipient === null
    ? { at: r.at, outcome: r.outcome, recipient: r.recipient }
    : { at: r.at, outcome: r.outcome, sealedRecipient: r.sealed_recipient };

const toListing = (r: LinkRow): ShlLinkListing => {
  const { tokenHash: _t, passcodeHash, jwe: _j, ...rest } = toLink(r);
  return { ...rest, passcode: passcodeHash !== undefined };
};

export const sqliteShl = (db: Database.Database, run: Run): ShlStore => {
  let prepared: ReturnType<typeof prepare> | null = null;
  const prepare = () => ({
    insert: db.prepare(
      `INSERT INTO shl_links (link_id, token_hash, patient_id, types, sealed, passcode_hash, attempts_left,
         emergency, contents, content_type, jwe, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?)`,
    ),
    list: db.prepare<[string, number], LinkRow>(
      `${LINKS} WHERE l.patient_id = ? ORDER BY l.created_at DESC, l.link_id LIMIT ?`,
    ),
    byToken: db.prepare<[string], LinkRow>(`${LINKS} WHERE l.token_hash = ?`),
    own: db.prepare<[string, string], LinkRow>(`${LINKS} WHERE l.link_id = ? AND l.patient_id = ?`),
    revoke: db.prepare<[string, string]>(
      'UPDATE shl_links SET revoked_at = coalesce(revoked_at, ?) WHERE link_id = ?',
    ),
    opened: db.prepare<[string, string, string]>(
      `UPDATE shl_links SET access_count = access_count + 1, last_access_at = ?,
         revoked_at = CASE WHEN EXISTS (SELECT 1 FROM shl_one_time o WHERE o.link_id = shl_links.link_id)
           THEN ? ELSE revoked_at END
       WHERE link_id = ? AND revoked_at IS NULL AND attempts_left > 0`,
    ),
    wrong: db.prepare<[string, string]>(
      `UPDATE shl_links SET attempts_left = attempts_left - 1, last_access_at = ?
       WHERE link_id = ? AND revoked_at IS NULL AND attempts_left > 0`,
    ),
    counts: db.prepare<[string], { attempts_left: number; access_count: number }>(
      'SELECT attempts_left, access_count FROM shl_links WHERE link_id = ?',
    ),
    nextSeq: db.prepare<[string], { seq: number }>(
      'SELECT coalesce(max(seq), 0) + 1 AS seq FROM shl_accesses WHERE link_id = ?',
    ),
    oneTime: db.prepare<[string]>('INSERT INTO shl_one_time (link_id) VALUES (?)'),
    log: db.prepare(
      `INSERT INTO shl_accesses (link_id, seq, at, outcome, recipient, sealed_recipient)
       VALUES (?, ?, ?, ?, '', ?)`,
    ),
    accesses: db.prepare<[string, number], AccessRow>(
      `SELECT at, outcome, recipient, sealed_recipient FROM shl_accesses WHERE link_id = ?
       ORDER BY seq DESC LIMIT ?`,
    ),
    since: db.prepare<[string, string, number], AccessRow & { linkId: string }>(
      `SELECT a.link_id AS linkId, a.at, a.outcome, a.recipient, a.sealed_recipient FROM shl_accesses a
       JOIN shl_links l ON l.link_id = a.link_id
       WHERE l.patient_id = ? AND a.at > ? ORDER BY a.at, a.link_id, a.seq LIMIT ?`,
    ),
    putTicket: db.prepare<[string, number, string]>(
      'UPDATE shl_links SET ticket_hash = ?, ticket_expires_ms = ? WHERE link_id = ?',
    ),
    byTicket: db.prepare<[string, number], LinkRow>(
      `${LINKS} WHERE l.ticket_hash = ? AND l.ticket_expires_ms > ?`,
    ),
    dropTicket: db.prepare<[string]>(
      'UPDATE shl_links SET ticket_hash = NULL, ticket_expires_ms = NULL WHERE link_id = ?',
    ),
  });
  const s = () => (prepared ??= prepare());
  const ownLink = (patientId: string, linkId: string): LinkRow => {
    const row = s().own.get(linkId, patientId);
    if (row === undefined) throw new StoreError('NOT_FOUND', 'no such link of this patient');
    return row;
  };

  const logTx = db.transaction((linkId: string, access: ShlAccessWrite) => {
    let outcome = access.outcome;
    if (outcome !== 'refused') {
      const changed =
        outcome === 'opened'
          ? s().opened.run(access.at, access.at, linkId).changes
          : s().wrong.run(access.at, linkId).changes;
      // Revoked or locked by an access that committed first: logged all the same, as refused.
      if (changed === 0) outcome = 'refused';
    }
    const counts = s().counts.get(linkId);
    if (counts === undefined) return null;
    s().log.run(linkId, s().nextSeq.get(linkId)?.seq ?? 1, access.at, outcome, access.sealedRecipient);
    return outcome === access.outcome
      ? { attemptsLeft: counts.attempts_left, accessCount: counts.access_count }
      : null;
  });
  const createTx = db.transaction((link: Parameters<ShlStore['create']>[0]) => {
    s().insert.run(
      link.linkId,
      link.tokenHash,
      link.patientId,
      JSON.stringify(link.types),
      link.sealed,
      link.passcodeHash ?? null,
      link.attemptsLeft,
      link.emergency ? 1 : 0,
      link.contentType,
      link.jwe,
      link.createdAt,
      link.expiresAt ?? null,
    );
    if (link.oneTime === true) s().oneTime.run(link.linkId);
  });
  const revokeTx = db.transaction((patientId: string, linkId: string, at: string) => {
    ownLink(patientId, linkId);
    s().revoke.run(at, linkId);
    return toListing(ownLink(patientId, linkId));
  });
  const takeTicketTx = db.transaction((ticketHash: string, nowMs: number) => {
    const row = s().byTicket.get(ticketHash, nowMs);
    if (row === undefined) return null;
    s().dropTicket.run(row.link_id);
    return toLink(row);
  });

  return {
    create: (link) => run(() => createTx.immediate(link)),
    list: (patientId, limit) => run(() => s().list.all(patientId, limit).map(toListing)),
    byToken: (tokenHash) =>
      run(() => {
        const row = s().byToken.get(tokenHash);
        return row === undefined ? null : toLink(row);
      }),
    revoke: (patientId, linkId, at) => run(() => revokeTx.immediate(patientId, linkId, at)),
    recordAccess: (linkId, access) => run(() => logTx.immediate(linkId, access)),
    accesses: (patientId, linkId, limit) =>
      run(() => {
        ownLink(patientId, linkId);
        return s().accesses.all(linkId, limit).map(toAccess);
      }),
    accessesSince: (patientId, since, limit) =>
      run(() =>
        s()
          .since.all(patientId, since, limit)
          .map((r) => ({ linkId: r.linkId, ...toAccess(r) })),
      ),
    putTicket: (linkId, ticketHash, expiresMs) =>
      run(() => {
        s().putTicket.run(ticketHash, expiresMs, linkId);
      }),
    takeTicket: (ticketHash, nowMs) => run(() => takeTicketTx.immediate(ticketHash, nowMs)),
  };
};
