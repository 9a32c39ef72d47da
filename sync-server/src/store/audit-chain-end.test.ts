// `auditChainEnd` in the sqlite store: the author's entry at its highest chain position, read as one step of
// docs_audit_by_position (v15) however the author's entries were stored, and answered on a store that holds
// two entries at one position from before the store refused a second.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { auditWrite as entry, isoAt } from './conformance';
import { openSqliteStore, SCHEMA_MIGRATIONS, SQLITE_FILE_NAME } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-audit-chain-end-');
const quiet = { onListenerError: () => {} };
const A = 'pat/audit';

describe('auditChainEnd in the sqlite store', () => {
  it('reads the end of docs_audit_by_position, with no sort and no scan', async () => {
    const store = await openSqliteStore({ dataDir: newDir(), ...quiet });
    try {
      const plan = (
        store.db
          .prepare(
            `EXPLAIN QUERY PLAN SELECT * FROM docs INDEXED BY docs_audit_by_position
             WHERE stream = ? AND author = ? AND audit_author_seq IS NOT NULL
             ORDER BY audit_author_seq DESC LIMIT 1`,
          )
          .all(A, 'dev') as Array<{ detail: string }>
      )
        .map((r) => r.detail)
        .join('\n');
      expect(plan).toMatch(/SEARCH docs USING INDEX docs_audit_by_position \(stream=\? AND author=\?/);
      expect(plan).not.toMatch(/TEMP B-TREE|SCAN docs\b/);
    } finally {
      await store.close();
    }
  });

  it('answers the highest position on a v14 store holding two entries at one position, stored before a later one', async () => {
    const dataDir = newDir();
    const old = new Database(join(dataDir, SQLITE_FILE_NAME));
    for (const sql of SCHEMA_MIGRATIONS.slice(0, 14)) old.exec(sql);
    old.pragma('user_version = 14');
    const insert = old.prepare(
      `INSERT INTO docs (stream, id, seq, rev, deleted, epoch, ct, size, author, sig, audit_author_seq,
         audit_prev_hash, audit_at, at) VALUES (?, ?, ?, ?, 0, 0, x'00', 1, 'dev', 'sig', ?, NULL, ?, ?)`,
    );
    // Two tabs of one device at position 2, and its entry at position 1 stored last (sent again).
    insert.run(A, 'tab-a', 1, '1-a', 2, isoAt(1), isoAt(1));
    insert.run(A, 'tab-b', 2, '1-b', 2, isoAt(1), isoAt(1));
    insert.run(A, 'one', 3, '1-one', 1, isoAt(2), isoAt(2));
    old.prepare('INSERT INTO stream_heads (stream, head) VALUES (?, 3)').run(A);
    old.close();

    const store = await openSqliteStore({ dataDir, ...quiet });
    try {
      expect((await store.docs.lastAuditEntry(A, 'dev'))?.id).toBe('one');
      // Of the two at the highest position, the one stored last.
      expect((await store.docs.auditChainEnd(A, 'dev'))?.id).toBe('tab-b');
      await store.docs.writeDocs([entry(A, 'three', 'dev', 3)], isoAt(3));
      expect((await store.docs.auditChainEnd(A, 'dev'))?.audit?.authorSeq).toBe(3);
    } finally {
      await store.close();
    }
  });
});
