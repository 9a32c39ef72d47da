// The store refuses a second audit entry (another id) at a chain position (stream, author,
// audit.authorSeq) already held, and stores nothing of the batch that carries it; the lookup is indexed,
// and a store that already holds such duplicates (written before) still migrates and opens. The daily
// cap's count of an account's entries (`auditEntriesOfAccountSince`) and the chain end a refusal names
// (`auditChainEnd`: the highest position, however stored) read by index too.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { backupSqlite, restoreSqlite } from './backup';
import { auditWrite as entry, isoAt, makeDocInput } from './conformance';
import { openSqliteStore, SCHEMA_MIGRATIONS, SQLITE_FILE_NAME, SQLITE_SCHEMA_VERSION } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-audit-position-');
const quiet = { onListenerError: () => {} };
const A = 'pat/audit';

/** SQLite's plan for `sql` in a fresh store, a line a step. */
const planOf = async (sql: string, ...params: unknown[]): Promise<string> => {
  const store = await openSqliteStore({ dataDir: newDir(), ...quiet });
  try {
    const plan = store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>;
    return plan.map((r) => r.detail).join('\n');
  } finally {
    await store.close();
  }
};

/**
 * A store file at schema v14 (before the position index) in a new directory holding `rows` of author `dev`
 * in stream A as [id, position, receive time index], as builds before the check could leave them.
 */
const v14Store = (rows: ReadonlyArray<readonly [id: string, position: number, at: number]>): string => {
  const dataDir = newDir();
  const old = new Database(join(dataDir, SQLITE_FILE_NAME));
  for (const sql of SCHEMA_MIGRATIONS.slice(0, 14)) old.exec(sql);
  old.pragma('user_version = 14');
  const insert = old.prepare(
    `INSERT INTO docs (stream, id, seq, rev, deleted, epoch, ct, size, author, sig, audit_author_seq,
       audit_prev_hash, audit_at, at) VALUES (?, ?, ?, ?, 0, 0, x'00', 1, 'dev', 'sig', ?, NULL, ?, ?)`,
  );
  rows.forEach(([id, position, at], i) =>
    insert.run(A, id, i + 1, `1-${id}`, position, isoAt(at), isoAt(at)),
  );
  old.prepare('INSERT INTO stream_heads (stream, head) VALUES (?, ?)').run(A, rows.length);
  old.close();
  return dataDir;
};

describe('audit chain positions in the sqlite store', () => {
  it('refuses a batch carrying a new entry at a held position: position-taken, nothing of it written', async () => {
    const store = await openSqliteStore({ dataDir: newDir(), ...quiet });
    try {
      expect(await store.docs.writeDocs([entry(A, 'd1', 'dev', 1)], isoAt(1))).toStrictEqual([
        { status: 'ok', seq: 1 },
      ]);
      let notified = 0;
      store.onCommitted(() => notified++);
      const before = await store.docs.streamHeads([A, 'pat/allergy']);

      const results = await store.docs.writeDocs(
        [
          entry(A, 'd2', 'dev', 2),
          { doc: makeDocInput('pat/allergy', 'a1', '1-a1'), assumedRev: null },
          entry(A, 'dup', 'dev', 1),
        ],
        isoAt(2),
      );
      expect(results).toStrictEqual([
        { status: 'not-written' },
        { status: 'not-written' },
        { status: 'position-taken' },
      ]);
      expect(await store.docs.streamHeads([A, 'pat/allergy'])).toStrictEqual(before);
      expect(await store.docs.getDoc(A, 'd2')).toBeNull();
      expect(await store.docs.getDoc('pat/allergy', 'a1')).toBeNull();
      expect(await store.docs.getDoc(A, 'dup')).toBeNull();
      expect(notified).toBe(0);

      // Two new entries at one position in one batch: the second is refused.
      expect(
        await store.docs.writeDocs([entry(A, 'd2', 'dev', 2), entry(A, 'd2b', 'dev', 2)], isoAt(3)),
      ).toStrictEqual([{ status: 'not-written' }, { status: 'position-taken' }]);

      // The stored entry again is append-only as before (the sync service acknowledges an exact copy),
      // not a position taken; other authors, other streams and the next position are free.
      expect(
        await store.docs.writeDocs(
          [
            entry(A, 'd1', 'dev', 1),
            entry(A, 's1', 'srv', 1),
            entry('other/audit', 'o1', 'dev', 1),
            entry(A, 'd2', 'dev', 2),
          ],
          isoAt(4),
        ),
      ).toStrictEqual([
        { status: 'append-only' },
        { status: 'ok', seq: 2 },
        { status: 'ok', seq: 1 },
        { status: 'ok', seq: 3 },
      ]);
      // An audit header on a record outside an audit stream is no chain position of the log.
      const header = { authorSeq: 1, prevHash: null, at: isoAt(5) };
      expect(
        await store.docs.writeDocs(
          [
            {
              doc: makeDocInput('pat/allergy', 'x1', '1-x1', { author: 'dev', audit: header }),
              assumedRev: null,
            },
            {
              doc: makeDocInput('pat/allergy', 'x2', '1-x2', { author: 'dev', audit: header }),
              assumedRev: null,
            },
          ],
          isoAt(5),
        ),
      ).toStrictEqual([
        { status: 'ok', seq: 1 },
        { status: 'ok', seq: 2 },
      ]);
    } finally {
      await store.close();
    }
  });

  it('looks positions up through docs_audit_by_position, not a scan of the stream', async () => {
    const plan = await planOf(
      `SELECT 1 FROM docs INDEXED BY docs_audit_by_position
       WHERE stream = ? AND author = ? AND audit_author_seq = ? AND audit_author_seq IS NOT NULL LIMIT 1`,
      A,
      'dev',
      1,
    );
    expect(plan).toMatch(/docs_audit_by_position \(stream=\? AND author=\? AND audit_author_seq=\?\)/);
  });

  it('migrates a v14 store that already holds two entries at one position; the next one there is refused', async () => {
    // As two tabs of one device left it before the device lock: two entries at position 1.
    const dataDir = v14Store([
      ['tab-a', 1, 1],
      ['tab-b', 1, 1],
    ]);

    const store = await openSqliteStore({ dataDir, ...quiet });
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      const index = store.db
        .prepare("SELECT sql FROM sqlite_master WHERE name = 'docs_audit_by_position'")
        .get() as { sql: string } | undefined;
      // Not UNIQUE: it could not be built over the pair above.
      expect(index?.sql).toMatch(/^CREATE INDEX .*WHERE audit_author_seq IS NOT NULL$/s);
      // Both stay: the log is append-only, and devices report the fork they already saw.
      expect((await store.docs.readDocs(A, 0, 10, 1 << 20)).docs.map((d) => d.id)).toStrictEqual([
        'tab-a',
        'tab-b',
      ]);
      expect(await store.docs.writeDocs([entry(A, 'tab-c', 'dev', 1)], isoAt(2))).toStrictEqual([
        { status: 'position-taken' },
      ]);
      expect(await store.docs.writeDocs([entry(A, 'd2', 'dev', 2)], isoAt(2))).toStrictEqual([
        { status: 'ok', seq: 3 },
      ]);
    } finally {
      await store.close();
    }
  });

  it('carries two entries at one position made after the backup into the restored store, which refuses a third', async () => {
    const dataDir = newDir();
    const backupFile = join(newDir(), 'backup.sqlite');
    const store = await openSqliteStore({ dataDir, ...quiet });
    try {
      await store.docs.writeDocs([entry(A, 'd1', 'dev', 1)], isoAt(1));
      await backupSqlite(store, backupFile);
      // Stored past the check, as a build before it did (the triggers refuse only updates and deletes).
      const insert = store.db.prepare(
        `INSERT INTO docs (stream, id, seq, rev, deleted, epoch, ct, size, author, sig, audit_author_seq,
           audit_prev_hash, audit_at, at) VALUES (?, ?, ?, ?, 0, 0, x'00', 1, 'dev', 'sig', 2, 'h1', ?, ?)`,
      );
      insert.run(A, 'tab-a', 2, '1-a', isoAt(2), isoAt(2));
      insert.run(A, 'tab-b', 3, '1-b', isoAt(2), isoAt(2));
      store.db.prepare('UPDATE stream_heads SET head = 3 WHERE stream = ?').run(A);
    } finally {
      await store.close();
    }

    const result = await restoreSqlite(backupFile, dataDir, { onWarning: () => {} });
    expect(result.carried?.auditDocs).toBe(2);
    const restored = await openSqliteStore({ dataDir, ...quiet });
    try {
      expect((await restored.docs.readDocs(A, 0, 10, 1 << 20)).docs.map((d) => d.id)).toStrictEqual([
        'd1',
        'tab-a',
        'tab-b',
      ]);
      expect(await restored.docs.writeDocs([entry(A, 'tab-c', 'dev', 2)], isoAt(3))).toStrictEqual([
        { status: 'position-taken' },
      ]);
    } finally {
      await restored.close();
    }
  });
});

describe('auditEntriesOfAccountSince', () => {
  it("reads the account's devices by index and each device's entries in the window by index", async () => {
    const plan = await planOf(
      `SELECT COUNT(*) AS n, MIN(at) AS first FROM docs INDEXED BY docs_audit_by_author
       WHERE stream = ? AND author IN (SELECT device_id FROM devices WHERE account_id = ?) AND at >= ?
         AND audit_author_seq IS NOT NULL`,
      A,
      'clinic',
      isoAt(0),
    );
    expect(plan).toMatch(/docs_audit_by_author \(stream=\? AND author=\? AND at>\?\)/);
    expect(plan).toMatch(/devices_by_account \(account_id=\?\)/);
    expect(plan).not.toMatch(/SCAN (devices|docs)\b/);
  });

  it('reads the chain end (auditChainEnd) at the end of docs_audit_by_position, with no sort and no scan', async () => {
    const plan = await planOf(
      `SELECT * FROM docs INDEXED BY docs_audit_by_position
       WHERE stream = ? AND author = ? AND audit_author_seq IS NOT NULL
       ORDER BY audit_author_seq DESC LIMIT 1`,
      A,
      'dev',
    );
    expect(plan).toMatch(/SEARCH docs USING INDEX docs_audit_by_position \(stream=\? AND author=\?/);
    expect(plan).not.toMatch(/TEMP B-TREE|SCAN docs\b/);
  });

  it('answers the highest position as the chain end on a v14 store holding two entries at one position, stored before a later one', async () => {
    // Two tabs of one device at position 2, and its entry at position 1 stored last (sent again).
    const dataDir = v14Store([
      ['tab-a', 2, 1],
      ['tab-b', 2, 1],
      ['one', 1, 2],
    ]);
    const store = await openSqliteStore({ dataDir, ...quiet });
    try {
      // The author's latest by seq is `one`, at position 1.
      expect((await store.docs.getDoc(A, 'one'))?.seq).toBe(3);
      // Of the two at the highest position, the one stored last.
      expect((await store.docs.auditChainEnd(A, 'dev'))?.id).toBe('tab-b');
      await store.docs.writeDocs([entry(A, 'three', 'dev', 3)], isoAt(3));
      expect((await store.docs.auditChainEnd(A, 'dev'))?.audit?.authorSeq).toBe(3);
    } finally {
      await store.close();
    }
  });
});
