import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isoAt, makeAccount, makeDevice, makeDocInput, runStoreConformance } from './conformance';
import { openSqliteStore, SQLITE_FILE_NAME, SQLITE_SCHEMA_VERSION, type SqliteStore } from './sqlite-store';
import { isStoreError, type StoreErrorCode } from './types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-store-');
const quiet = { onListenerError: () => {} };

runStoreConformance(
  'sqlite',
  async () => {
    const dir = newDir();
    const store = await openSqliteStore({ dataDir: join(dir, 'data'), ...quiet });
    return { store, cleanup: () => store.close() };
  },
  {
    makeSharedPair: async () => {
      const dataDir = newDir();
      const a = await openSqliteStore({ dataDir, ...quiet });
      // Two instances on one file on purpose (the second as a tool beside a server would open it).
      const b = await openSqliteStore({ dataDir, exclusive: false, ...quiet });
      return {
        stores: [a, b],
        cleanup: async () => {
          await a.close();
          await b.close();
        },
      };
    },
  },
);

const rejectsWith = async (promise: Promise<unknown>, code: StoreErrorCode): Promise<void> => {
  let error: unknown = null;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  expect(isStoreError(error, code), `expected StoreError ${code}, got ${String(error)}`).toBe(true);
};

describe('sqlite store specifics', () => {
  const open = async (dataDir: string): Promise<SqliteStore> => openSqliteStore({ dataDir, ...quiet });

  it('creates the data directory and hale.sqlite with WAL, FULL sync, foreign keys and the latest schema', async () => {
    const dataDir = join(newDir(), 'nested', 'data');
    const store = await open(dataDir);
    try {
      expect(store.file).toBe(join(dataDir, SQLITE_FILE_NAME));
      expect(existsSync(store.file)).toBe(true);
      expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
      expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    } finally {
      await store.close();
    }
  });

  it('readDocs is one range scan over the (stream, seq) index', async () => {
    const store = await open(newDir());
    try {
      const plan = store.db
        .prepare('EXPLAIN QUERY PLAN SELECT * FROM docs WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?')
        .all('s', 0, 10) as Array<{ detail: string }>;
      const details = plan.map((row) => row.detail).join('\n');
      expect(details).toMatch(/docs_by_stream_seq \(stream=\? AND seq>\?\)/);
      expect(details).not.toMatch(/TEMP B-TREE/);
    } finally {
      await store.close();
    }
  });

  it('the trigger refuses raw UPDATE, DELETE and REPLACE of audit rows through the db handle', async () => {
    const store = await open(newDir());
    try {
      await store.docs.writeDocs(
        [
          { doc: makeDocInput('pat/audit', 'e1', '1-e1'), assumedRev: null },
          { doc: makeDocInput('pat/allergy', 'a1', '1-a1'), assumedRev: null },
        ],
        isoAt(1),
      );
      const raw = store.db;
      expect(() => raw.prepare("UPDATE docs SET rev = 'forged' WHERE stream = 'pat/audit'").run()).toThrow(
        /append-only/,
      );
      expect(() => raw.prepare("DELETE FROM docs WHERE stream = 'pat/audit'").run()).toThrow(/append-only/);
      expect(() =>
        raw
          .prepare(
            `INSERT OR REPLACE INTO docs (stream, id, seq, rev, deleted, epoch, ct, size, author, at)
             VALUES ('pat/audit', 'e1', 9, 'forged', 0, 1, x'00', 1, 'evil', 'now')`,
          )
          .run(),
      ).toThrow(/append-only/);
      expect(() =>
        raw.prepare("UPDATE docs SET stream = 'pat/audit', id = 'x' WHERE id = 'a1'").run(),
      ).toThrow(/append-only/);
      const stored = await store.docs.getDoc('pat/audit', 'e1');
      expect(stored?.rev).toBe('1-e1');
      expect(stored?.seq).toBe(1);
      // Non-audit rows stay writable through the handle (the trigger is not a blanket lock).
      expect(raw.prepare("UPDATE docs SET size = 5 WHERE id = 'a1'").run().changes).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('data survives close and reopen, and sequence allocation continues', async () => {
    const dataDir = newDir();
    const first = await open(dataDir);
    await first.accounts.put(makeAccount('acc-1', { loginName: 'alice' }));
    await first.meta.put('server-id', 'srv-1');
    await first.envelopes.put({
      stream: 'pat/allergy',
      epoch: 2,
      recipient: 'acc-1',
      keyId: 'k2',
      wrapped: 'w',
      createdBy: 'd',
      createdAt: isoAt(0),
    });
    await first.docs.writeDocs(
      Array.from({ length: 50 }, (_, i) => ({
        doc: makeDocInput('pat/allergy', `d${i}`, '1-x'),
        assumedRev: null,
      })),
      isoAt(1),
    );
    await first.close();

    const second = await open(dataDir);
    try {
      expect((await second.accounts.getByLogin('alice'))?.accountId).toBe('acc-1');
      expect(await second.meta.get('server-id')).toBe('srv-1');
      expect(await second.envelopes.currentEpoch('pat/allergy')).toBe(2);
      expect(await second.docs.streamHeads(['pat/allergy'])).toStrictEqual([
        { stream: 'pat/allergy', head: 50 },
      ]);
      const page = await second.docs.readDocs('pat/allergy', 0, 100, 1_000_000);
      expect(page.docs).toHaveLength(50);
      const [next] = await second.docs.writeDocs(
        [{ doc: makeDocInput('pat/allergy', 'later', '1-x'), assumedRev: null }],
        isoAt(2),
      );
      expect(next).toStrictEqual({ status: 'ok', seq: 51 });
    } finally {
      await second.close();
    }
  });

  it('a batch failing inside SQLite rolls back entirely and notifies no one', async () => {
    const store = await open(newDir());
    try {
      store.db.exec(`CREATE TEMP TRIGGER boom BEFORE INSERT ON main.docs WHEN NEW.id = 'boom'
        BEGIN SELECT RAISE(ABORT, 'boom'); END`);
      let notified = 0;
      store.onCommitted(() => notified++);
      await rejectsWith(
        store.docs.writeDocs(
          [
            { doc: makeDocInput('pat/allergy', 'fine', '1-x'), assumedRev: null },
            { doc: makeDocInput('pat/allergy', 'boom', '1-x'), assumedRev: null },
          ],
          isoAt(1),
        ),
        'INTERNAL',
      );
      expect(await store.docs.getDoc('pat/allergy', 'fine')).toBeNull();
      expect(await store.docs.streamHeads(['pat/allergy'])).toStrictEqual([
        { stream: 'pat/allergy', head: 0 },
      ]);
      expect(notified).toBe(0);
      const [ok] = await store.docs.writeDocs(
        [{ doc: makeDocInput('pat/allergy', 'fine', '1-x'), assumedRev: null }],
        isoAt(2),
      );
      expect(ok).toStrictEqual({ status: 'ok', seq: 1 });
    } finally {
      await store.close();
    }
  });

  it('reports a throwing commit listener through onListenerError', async () => {
    const reported: unknown[] = [];
    const store = await openSqliteStore({ dataDir: newDir(), onListenerError: (e) => reported.push(e) });
    try {
      store.onCommitted(() => {
        throw new Error('listener bug');
      });
      await store.docs.writeDocs(
        [{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }],
        isoAt(1),
      );
      expect(reported).toHaveLength(1);
      expect(String(reported[0])).toMatch(/listener bug/);
    } finally {
      await store.close();
    }
  });

  it('maps a write lock held elsewhere to UNAVAILABLE', async () => {
    const dataDir = newDir();
    const store = await openSqliteStore({ dataDir, busyTimeoutMs: 50, ...quiet });
    const other = new Database(store.file);
    try {
      other.exec('BEGIN IMMEDIATE');
      await rejectsWith(
        store.docs.writeDocs([{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }], isoAt(1)),
        'UNAVAILABLE',
      );
      other.exec('ROLLBACK');
      const [ok] = await store.docs.writeDocs(
        [{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }],
        isoAt(1),
      );
      expect(ok?.status).toBe('ok');
    } finally {
      other.close();
      await store.close();
    }
  });

  it('judges a registration’s invite only under the write lock, never from a snapshot a pending write changes', async () => {
    const dataDir = newDir();
    const store = await openSqliteStore({ dataDir, busyTimeoutMs: 50, ...quiet });
    const other = new Database(store.file);
    const codeHash = 'cd'.repeat(32);
    const register = (n: number) =>
      store.accounts.register(makeAccount(`acc-${n}`), makeDevice(`dev-${n}`, `acc-${n}`), {
        invite: { codeHash, now: isoAt(1) },
      });
    try {
      // Another connection (the invite command beside the server) is writing the invite, not yet committed.
      other.exec('BEGIN IMMEDIATE');
      other
        .prepare(
          `INSERT INTO invites (code_hash, role, uses, uses_left, expires_at, expires_ms, created_at)
           VALUES (?, NULL, 1, 1, ?, ?, ?)`,
        )
        .run(codeHash, isoAt(100), Date.parse(isoAt(100)), isoAt(0));
      // Read before the lock, the invite would be refused as unknown; the registration waits for the lock.
      await rejectsWith(register(1), 'UNAVAILABLE');
      other.exec('COMMIT');
      await register(2);
      expect((await store.invites.list()).map((i) => i.usesLeft)).toEqual([0]);
      expect(await store.accounts.get('acc-1')).toBeNull();
    } finally {
      other.close();
      await store.close();
    }
  });

  it('refuses a database whose schema is newer than this code', async () => {
    const dataDir = newDir();
    const store = await open(dataDir);
    store.db.pragma('user_version = 99');
    await store.close();
    await rejectsWith(open(dataDir), 'INTERNAL');
  });

  it('stores a 32 MiB blob chunk by chunk and reads it back by chunk', async () => {
    const store = await open(newDir());
    try {
      const chunkSize = 1024 * 1024;
      const chunkCount = 32;
      await store.blobs.putManifest({
        blobId: 'big',
        stream: 'pat/document',
        size: chunkSize * chunkCount - 100,
        chunkSize,
        chunkCount,
        digests: Array.from({ length: chunkCount }, (_, i) => `d${i}`),
        createdBy: 'dev',
        createdAt: isoAt(0),
      });
      for (let i = 0; i < chunkCount; i++) {
        const length = i === chunkCount - 1 ? chunkSize - 100 : chunkSize;
        await store.blobs.putChunk('big', i, new Uint8Array(length).fill(i));
      }
      expect(await store.blobs.chunkIndexes('big')).toEqual(Array.from({ length: chunkCount }, (_, i) => i));
      const last = await store.blobs.getChunk('big', chunkCount - 1);
      expect(last?.byteLength).toBe(chunkSize - 100);
      expect(last?.[0]).toBe(chunkCount - 1);
      const manifestRowBytes = store.db
        .prepare<[], { n: number }>('SELECT length(digests) + length(stream) AS n FROM blob_manifests')
        .get();
      expect(manifestRowBytes?.n).toBeLessThan(1000);
    } finally {
      await store.close();
    }
  });
});
