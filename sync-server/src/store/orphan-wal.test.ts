// A -wal with no database file beside it is what an interrupted file move leaves (an operator's copy). Opened as it is, SQLite creates an empty database and deletes the -wal
// (it does not replay a -wal onto an empty file): the server would start on an empty store with a new
// incarnation, silently. The store refuses to open instead and leaves both as they are.
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { isoAt, makeDocInput } from './conformance';
import { openSqliteStore, SQLITE_FILE_NAME } from './sqlite-store';
import { isStoreError } from './types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-orphan-wal-');
const quiet = { onListenerError: () => undefined };

it('refuses to open a data directory holding a -wal but no database file, and changes nothing', async () => {
  const store = await openSqliteStore({ dataDir: newDir(), ...quiet });
  await store.docs.writeDocs([{ doc: makeDocInput('pat/allergy', 'a', '1-x'), assumedRev: null }], isoAt(1));
  const dataDir = newDir();
  const file = join(dataDir, SQLITE_FILE_NAME);
  copyFileSync(`${store.file}-wal`, `${file}-wal`);
  await store.close();

  const error = await openSqliteStore({ dataDir, ...quiet }).then(
    async (opened) => {
      await opened.close();
      return null;
    },
    (e: unknown) => e,
  );
  expect(isStoreError(error, 'INTERNAL'), `expected StoreError INTERNAL, got ${String(error)}`).toBe(true);
  expect(String(error)).toMatch(/-wal.*without|replaced-/);
  expect(existsSync(file)).toBe(false);
  expect(existsSync(`${file}-wal`)).toBe(true);

  // An empty -wal holds nothing to lose: the store opens (empty), and the refusal left no claim behind.
  writeFileSync(`${file}-wal`, new Uint8Array(0));
  const opened = await openSqliteStore({ dataDir, ...quiet });
  expect(await opened.docs.streamHeads(['pat/allergy'])).toStrictEqual([{ stream: 'pat/allergy', head: 0 }]);
  await opened.close();
});

it('SQLite replays a -wal onto another WAL-mode database: nothing ties it to its own (why a restore removes it)', () => {
  const dir = newDir();
  const a = new Database(join(dir, 'a.db'));
  a.pragma('journal_mode = WAL');
  a.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a1')");
  a.pragma('wal_checkpoint(TRUNCATE)');
  a.exec("INSERT INTO t VALUES ('a2')");
  copyFileSync(join(dir, 'a.db-wal'), join(dir, 'b.db-wal.saved'));
  a.close();
  const b = new Database(join(dir, 'b.db'));
  b.pragma('journal_mode = WAL');
  b.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('b1'), ('b2'), ('b3')");
  b.close();
  copyFileSync(join(dir, 'b.db-wal.saved'), join(dir, 'b.db-wal'));
  const reopened = new Database(join(dir, 'b.db'));
  try {
    expect(reopened.prepare('SELECT x FROM t ORDER BY x').pluck().all()).toEqual(['a1', 'a2']);
  } finally {
    reopened.close();
  }
});
