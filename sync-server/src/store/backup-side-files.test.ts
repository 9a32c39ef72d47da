// `backup` of a stopped server's store leaves the data directory as it found it: the read-only connection
// that copies it makes the store's -wal and -shm (SQLite needs them to read a WAL-mode file) but, being
// read-only, cannot remove them at its close. Left behind, empty, they are files the operations guide
// says are there only while the server runs. Beside a running server (or another open connection) they
// are that connection's and stay.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { backupSqlite } from './backup';
import { LOCK_FILE_NAME } from './data-dir-lock';
import { isoAt, makeDocInput } from './conformance';
import { openSqliteStore, SQLITE_FILE_NAME } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-backup-side-');
const S = 'pat/lab-result';

const doc = (id: string) => ({ doc: makeDocInput(S, id, '1-x'), assumedRev: null });

describe('backup and the side files of the store', () => {
  it('of a stopped store: leaves no -wal or -shm beside the store or the backup', async () => {
    const dataDir = newDir();
    const store = await openSqliteStore({ dataDir });
    await store.docs.writeDocs([doc('a')], isoAt(1));
    await store.close();
    expect(readdirSync(dataDir).sort()).toEqual([SQLITE_FILE_NAME, LOCK_FILE_NAME]);

    const out = newDir();
    await backupSqlite(join(dataDir, SQLITE_FILE_NAME), join(out, 'b.sqlite'));
    expect(readdirSync(dataDir).sort()).toEqual([SQLITE_FILE_NAME, LOCK_FILE_NAME]);
    expect(readdirSync(out)).toEqual(['b.sqlite']);
  });

  it('beside a running store: its -wal and -shm stay, and so do the writes only its -wal holds', async () => {
    const dataDir = newDir();
    const store = await openSqliteStore({ dataDir });
    try {
      // No checkpoint since: the document is in the -wal only.
      store.db.pragma('wal_autocheckpoint = 0');
      await store.docs.writeDocs([doc('a')], isoAt(1));
      const backup = join(newDir(), 'b.sqlite');
      await backupSqlite(join(dataDir, SQLITE_FILE_NAME), backup);
      expect(readdirSync(dataDir)).toEqual(
        expect.arrayContaining([`${SQLITE_FILE_NAME}-wal`, `${SQLITE_FILE_NAME}-shm`]),
      );
      await store.docs.writeDocs([doc('b')], isoAt(2));
      expect((await store.docs.getDoc(S, 'a'))?.id).toBe('a');
      const copy = new Database(backup, { readonly: true });
      try {
        expect(copy.prepare('SELECT id FROM docs').all()).toEqual([{ id: 'a' }]);
      } finally {
        copy.close();
      }
    } finally {
      await store.close();
    }
    const reopened = await openSqliteStore({ dataDir });
    try {
      expect((await reopened.docs.getDoc(S, 'b'))?.id).toBe('b');
    } finally {
      await reopened.close();
    }
  });
});
