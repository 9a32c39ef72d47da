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
 * carrying from a store of another lineage changes nothing (its link ids match none). A copy or replaced
 * store from before links (schema v19) has nothing to carry. A log row's sealed viewer name (v24) is carried
 * where the copy has the column; a copy from before keeps the row without the name. Runs inside the
 * caller's savepoint.
 */
import type Database from 'better-sqlite3';

export interface LinkCarryCounts {
  linkRevocations: number;
  linkLocks: number;
  linkAccesses: number;
}

const hasColumn = (db: Database.Database, table: string, column: string): boolean =>
  db
    .prepare<[], { name: string }>(`PRAGMA table_info(${table})`)
    .all()
    .some((c) => c.name === column);

const hasTable = (db: Database.Database, table: string): boolean =>
  db
    .prepare<[string], { n: number }>(
      "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
    )
    .get(table)?.n === 1;

interface LinkRow {
  link_id: string;
  revoked_at: string | null;
  attempts_left: number;
  access_count: number;
  last_access_at: string | null;
  ticket_hash: string | null;
}

export const carryLinks = (from: Database.Database, copy: Database.Database, n: LinkCarryCounts): void => {
  if (!hasTable(from, 'shl_links') || !hasTable(copy, 'shl_links')) return;
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
  const sealedFrom = hasColumn(from, 'shl_accesses', 'sealed_recipient');
  const sealedCopy = hasColumn(copy, 'shl_accesses', 'sealed_recipient');
  const logAfter = from.prepare<
    [string, number],
    { seq: number; at: string; outcome: string; recipient: string; sealed: string | null }
  >(
    `SELECT seq, at, outcome, recipient, ${sealedFrom ? 'sealed_recipient' : 'NULL'} AS sealed
     FROM shl_accesses WHERE link_id = ? AND seq > ? ORDER BY seq`,
  );
  const appendSealed = sealedCopy
    ? copy.prepare<[string, number, string, string, string, string | null]>(
        `INSERT INTO shl_accesses (link_id, seq, at, outcome, recipient, sealed_recipient)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
    : null;
  const append = copy.prepare<[string, number, string, string, string]>(
    'INSERT INTO shl_accesses (link_id, seq, at, outcome, recipient) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
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
      const values = [link.link_id, row.seq, row.at, row.outcome, row.recipient] as const;
      n.linkAccesses += (appendSealed?.run(...values, row.sealed) ?? append.run(...values)).changes;
    }
    counted.run({ count: link.access_count, last: link.last_access_at, id: link.link_id });
    if (current.ticket_hash !== null && current.ticket_hash !== link.ticket_hash)
      dropTicket.run(link.link_id);
  }
};
