// The store refuses a second audit entry (another id) at a chain position (stream, author,
// audit.authorSeq) already held, and stores nothing of the batch that carries it; the lookup is indexed.
// The daily
// cap's count of an account's entries (`auditEntriesOfAccountSince`) and the chain end a refusal names
// (`auditChainEnd`: the highest position, however stored) read by index too.
import { describe, expect, it } from 'vitest';
import { auditWrite as entry, isoAt, makeDocInput } from './conformance';
import { openSqliteStore } from './sqlite-store';
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

  it('answers the highest position as the chain end, not the latest stored', async () => {
    const store = await openSqliteStore({ dataDir: newDir(), ...quiet });
    try {
      // The entry at position 1 stored after the one at position 2 (sent again).
      expect(await store.docs.writeDocs([entry(A, 'two', 'dev', 2)], isoAt(1))).toStrictEqual([
        { status: 'ok', seq: 1 },
      ]);
      expect(await store.docs.writeDocs([entry(A, 'one', 'dev', 1)], isoAt(2))).toStrictEqual([
        { status: 'ok', seq: 2 },
      ]);
      expect((await store.docs.auditChainEnd(A, 'dev'))?.id).toBe('two');
      await store.docs.writeDocs([entry(A, 'three', 'dev', 3)], isoAt(3));
      expect((await store.docs.auditChainEnd(A, 'dev'))?.audit?.authorSeq).toBe(3);
    } finally {
      await store.close();
    }
  });
});
