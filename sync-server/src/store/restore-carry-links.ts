/*
 * What a restore carries of SMART Health Links (restore-carry.ts) from the store it replaces into the
 * backup copy, for the links the copy holds (matched by id; links created after the backup are content and
 * are not carried):
 *
 * | made after the backup          | carried as                                                            |
 * | ------------------------------ | --------------------------------------------------------------------- |
 * | a revocation (a card rotated)  | `revoked_at`, where the copy has none: a revoked link stays revoked    |
 * | passcode attempts taken        | `attempts_left`, the lower of the two: a locked link stays locked      |
 * | accesses logged                | the log rows above the copy's last seq of that link; `access_count` and |
 * |                                | `last_access_at`, the higher of the two: no disclosure is forgotten     |
 * | a one-time file ticket used    | the copy's ticket dropped unless the replaced store still holds it     |
 *
 * Invariants: only moves state forward (revoked stays revoked, attempts only go down, counts only up), so
 * carrying from a store of another lineage changes nothing (its link ids match none). A log row goes with
 * its sealed viewer name. Runs inside the caller's savepoint.
 */
import type Database from 'better-sqlite3';

export interface LinkCarryCounts {
  linkRevocations: number;
  linkLocks: number;
  linkAccesses: number;
}

interface LinkRow {
  link_id: string;
  revoked_at: string | null;
  attempts_left: number;
  access_count: number;
  last_access_at: string | null;
  ticket_hash: string | null;
}

export const carryLinks = (from: Database.Database, copy: Database.Database, n: LinkCarryCounts): void => {
  const inCopy = copy.prepare<[string], LinkRow>(
    `SELECT link_id, revoked_at, attempts_left, access_count, last_access_at, ticket_hash
     FROM shl_links WHERE link_id = ?`,
  );
  const revoke = copy.prepare<[string, string]>(
    'UPDATE shl_links SET revoked_at = ? WHERE link_id = ? AND revoked_at IS NULL',
  );
  const lock = copy.prepare<[{ attempts: number; id: string }]>(
    'UPDATE shl_links SET attempts_left = @attempts WHERE link_id = @id AND attempts_left > @attempts',
  );
  const counted = copy.prepare<[{ count: number; last: string | null; id: string }]>(
    `UPDATE shl_links SET access_count = max(access_count, @count),
       last_access_at = CASE WHEN @last IS NOT NULL AND (last_access_at IS NULL OR @last > last_access_at)
         THEN @last ELSE last_access_at END
     WHERE link_id = @id`,
  );
  const dropTicket = copy.prepare<[string]>(
    'UPDATE shl_links SET ticket_hash = NULL, ticket_expires_ms = NULL WHERE link_id = ?',
  );
  const lastSeq = copy.prepare<[string], { seq: number }>(
    'SELECT coalesce(max(seq), 0) AS seq FROM shl_accesses WHERE link_id = ?',
  );
  const logAfter = from.prepare<
    [string, number],
    { seq: number; at: string; outcome: string; recipient: string; sealed: string | null }
  >(
    `SELECT seq, at, outcome, recipient, sealed_recipient AS sealed
     FROM shl_accesses WHERE link_id = ? AND seq > ? ORDER BY seq`,
  );
  const append = copy.prepare<[string, number, string, string, string, string | null]>(
    `INSERT INTO shl_accesses (link_id, seq, at, outcome, recipient, sealed_recipient)
     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const links = from
    .prepare<[], LinkRow>(
      'SELECT link_id, revoked_at, attempts_left, access_count, last_access_at, ticket_hash FROM shl_links',
    )
    .iterate();
  for (const link of links) {
    const current = inCopy.get(link.link_id);
    if (current === undefined) continue;
    if (link.revoked_at !== null) n.linkRevocations += revoke.run(link.revoked_at, link.link_id).changes;
    n.linkLocks += lock.run({ attempts: link.attempts_left, id: link.link_id }).changes;
    for (const row of logAfter.all(link.link_id, lastSeq.get(link.link_id)?.seq ?? 0)) {
      n.linkAccesses += append.run(
        link.link_id,
        row.seq,
        row.at,
        row.outcome,
        row.recipient,
        row.sealed,
      ).changes;
    }
    counted.run({ count: link.access_count, last: link.last_access_at, id: link.link_id });
    if (current.ticket_hash !== null && current.ticket_hash !== link.ticket_hash)
      dropTicket.run(link.link_id);
  }
};
