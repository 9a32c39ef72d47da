// `auditEntriesOfAccountSince`: an account's audit appends to one stream from a receive time on, summed
// over all its devices (revoked ones too), never the server's or another account's; read by index.
import { describe, expect, it } from 'vitest';
import { isoAt, makeAccount, makeDevice, makeDocInput } from './conformance';
import { openSqliteStore } from './sqlite-store';
import type { DocWrite } from './types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-audit-account-');
const quiet = { onListenerError: () => {} };
const A = 'pat/audit';

const entry = (stream: string, id: string, author: string, authorSeq: number): DocWrite => ({
  doc: makeDocInput(stream, id, `1-${id}`, {
    author,
    sig: `sig-${id}`,
    audit: { authorSeq, prevHash: null, at: isoAt(authorSeq) },
  }),
  assumedRev: null,
});

describe('auditEntriesOfAccountSince', () => {
  it("counts every device of the account, from a receive time on, and no other author's entries", async () => {
    const store = await openSqliteStore({ dataDir: newDir(), ...quiet });
    try {
      await store.accounts.register(makeAccount('clinic', { role: 'provider' }), makeDevice('c1', 'clinic'));
      await store.devices.put(makeDevice('c2', 'clinic'));
      await store.devices.put(makeDevice('c3', 'clinic'));
      await store.accounts.register(makeAccount('other', { role: 'provider' }), makeDevice('o1', 'other'));
      expect(await store.docs.auditEntriesOfAccountSince(A, 'clinic', isoAt(0))).toStrictEqual({
        count: 0,
        first: null,
      });

      await store.docs.writeDocs([entry(A, 'a', 'c1', 1), entry(A, 'b', 'c2', 1)], isoAt(1));
      await store.docs.writeDocs([entry(A, 'c', 'c3', 1), entry(A, 'd', 'c1', 2)], isoAt(2));
      await store.devices.revoke('c3', isoAt(3));
      // Not counted: the server's entries, another account's, the account's in another stream, and a row
      // of one of its devices without an audit header.
      await store.docs.writeDocs(
        [
          entry(A, 's', 'srv', 1),
          entry(A, 'o', 'o1', 1),
          entry('other/audit', 'x', 'c1', 1),
          { doc: makeDocInput(A, 'bare', '1-bare', { author: 'c2' }), assumedRev: null },
        ],
        isoAt(3),
      );

      expect(await store.docs.auditEntriesOfAccountSince(A, 'clinic', isoAt(0))).toStrictEqual({
        count: 4,
        first: isoAt(1),
      });
      expect(await store.docs.auditEntriesOfAccountSince(A, 'clinic', isoAt(2))).toStrictEqual({
        count: 2,
        first: isoAt(2),
      });
      expect(await store.docs.auditEntriesOfAccountSince(A, 'other', isoAt(0))).toStrictEqual({
        count: 1,
        first: isoAt(3),
      });
      expect(await store.docs.auditEntriesOfAccountSince(A, 'nobody', isoAt(0))).toStrictEqual({
        count: 0,
        first: null,
      });
    } finally {
      await store.close();
    }
  });

  it("reads the account's devices by index and each device's entries in the window by index", async () => {
    const store = await openSqliteStore({ dataDir: newDir(), ...quiet });
    try {
      const plan = store.db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT COUNT(*) AS n, MIN(at) AS first FROM docs INDEXED BY docs_audit_by_author
           WHERE stream = ? AND author IN (SELECT device_id FROM devices WHERE account_id = ?) AND at >= ?
             AND audit_author_seq IS NOT NULL`,
        )
        .all(A, 'clinic', isoAt(0)) as Array<{ detail: string }>;
      const details = plan.map((r) => r.detail).join('\n');
      expect(details).toMatch(/docs_audit_by_author \(stream=\? AND author=\? AND at>\?\)/);
      expect(details).toMatch(/devices_by_account \(account_id=\?\)/);
      expect(details).not.toMatch(/SCAN (devices|docs)\b/);
    } finally {
      await store.close();
    }
  });
});
