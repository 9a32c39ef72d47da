/*
 * The SQLite store's signed stream heads (types.ts `heads`): one statement per stream (`signed_heads`) and
 * the rows it covers (`signed_head_rows`), both written in one transaction that first checks the stream's
 * current seq (`stream_heads`) and the kept statement's seq.
 *
 * | call | reads / writes                                   | refuses                                    |
 * | ---- | ------------------------------------------------ | ------------------------------------------ |
 * | rows | stream_heads + docs (id, rev, deleted), one read | —                                          |
 * | keep | deletes then inserts the stream's rows, upserts  | `moved` (seq changed), `stale` (higher one) |
 * | get  | signed_heads + one page of rows, one read        | —                                          |
 *
 * Invariants: a page is read in one transaction, so it never mixes two statements; `keep` is IMMEDIATE, so
 * no write of the stream commits between its seq check and its write. Failure modes: every error goes
 * through the caller's `call` (closed store → UNAVAILABLE, constraint → INVALID/ALREADY_EXISTS, …).
 */
import type Database from 'better-sqlite3';
import type { HeadRow, JsonObject, KeepHeadResult, KeptHead, SyncStore } from './types';
import { StoreError } from './types';

type Run = <T>(work: () => T) => Promise<T>;

interface RowOut {
  id: string;
  rev: string;
  deleted: number;
}

const toRow = (r: RowOut): HeadRow => ({ id: r.id, rev: r.rev, deleted: r.deleted === 1 });

const parseSigned = (text: string): JsonObject => {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new StoreError('INTERNAL', 'a kept stream head is not a JSON object');
  return Object.fromEntries(Object.entries(value));
};

export const sqliteHeads = (db: Database.Database, run: Run): SyncStore['heads'] => {
  let prepared: ReturnType<typeof prepare> | null = null;
  const prepare = () => ({
    head: db.prepare<[string], { head: number }>('SELECT head FROM stream_heads WHERE stream = ?'),
    docRows: db.prepare<[string], RowOut>('SELECT id, rev, deleted FROM docs WHERE stream = ? ORDER BY id'),
    kept: db.prepare<[string], { seq: number; signed: string }>(
      'SELECT seq, signed FROM signed_heads WHERE stream = ?',
    ),
    upsert: db.prepare<[string, number, string]>(
      `INSERT INTO signed_heads (stream, seq, signed) VALUES (?, ?, ?)
       ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, signed = excluded.signed`,
    ),
    dropRows: db.prepare<[string]>('DELETE FROM signed_head_rows WHERE stream = ?'),
    addRow: db.prepare<[string, string, string, number]>(
      'INSERT INTO signed_head_rows (stream, id, rev, deleted) VALUES (?, ?, ?, ?)',
    ),
    page: db.prepare<[string, string, number], RowOut>(
      'SELECT id, rev, deleted FROM signed_head_rows WHERE stream = ? AND id > ? ORDER BY id LIMIT ?',
    ),
  });
  const s = () => (prepared ??= prepare());

  const rowsTx = db.transaction((stream: string) => ({
    seq: s().head.get(stream)?.head ?? 0,
    rows: s().docRows.all(stream).map(toRow),
  }));
  const keepTx = db.transaction((head: KeptHead, rows: readonly HeadRow[]): KeepHeadResult => {
    const current = s().head.get(head.stream)?.head ?? 0;
    if (current !== head.seq) return { status: 'moved', seq: current };
    const kept = s().kept.get(head.stream);
    if (kept !== undefined && kept.seq > head.seq) return { status: 'stale', seq: kept.seq };
    s().upsert.run(head.stream, head.seq, JSON.stringify(head.signed));
    s().dropRows.run(head.stream);
    for (const r of rows) s().addRow.run(head.stream, r.id, r.rev, r.deleted ? 1 : 0);
    return { status: 'ok' };
  });
  const getTx = db.transaction((stream: string, after: string, limit: number) => {
    const kept = s().kept.get(stream);
    if (kept === undefined) return null;
    return {
      head: { stream, seq: kept.seq, signed: parseSigned(kept.signed) },
      rows: s().page.all(stream, after, limit).map(toRow),
    };
  });

  return {
    rows: (stream) => run(() => rowsTx(stream)),
    keep: (head, rows) => run(() => keepTx.immediate(head, rows)),
    get: (stream, after, limit) => {
      if (!Number.isInteger(limit) || limit < 0)
        return Promise.reject(new StoreError('INVALID', 'limit must be a non-negative integer'));
      return run(() => getTx(stream, after ?? '', limit));
    },
  };
};
