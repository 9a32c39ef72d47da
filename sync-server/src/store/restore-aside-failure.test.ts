// A restore keeps the store it replaces aside, as `<file>.replaced-<time>` and its side files, before the
// copy takes the name. When keeping it aside fails part-way, the restore fails (the operator must learn
// that the store was not replaced) and takes away the aside files it made: a `.replaced-<time>` without
// its -wal looks like a whole store to restore from, and is not. The store itself stays as it was.
import { mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backupSqlite, restoreSqlite } from './backup';
import { isoAt, makeDocInput } from './conformance';
import { openSqliteStore, SQLITE_FILE_NAME, type SqliteStore } from './sqlite-store';
import { isStoreError } from './types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-restore-aside-');
const S = 'pat/lab-result';

afterEach(() => {
  vi.useRealTimers();
});

const write = async (store: SqliteStore, id: string): Promise<void> => {
  const [result] = await store.docs.writeDocs(
    [{ doc: makeDocInput(S, id, '1-x'), assumedRev: null }],
    isoAt(1),
  );
  expect(result?.status).toBe('ok');
};

describe('a restore whose move-aside of the replaced store fails', () => {
  it('fails, leaves no partial .replaced files, and leaves the store as it was', async () => {
    const source = await openSqliteStore({ dataDir: newDir() });
    await write(source, 'new-1');
    const backup = join(newDir(), 'b.sqlite');
    await backupSqlite(source, backup);
    await source.close();

    const dataDir = newDir();
    const old = await openSqliteStore({ dataDir });
    await write(old, 'old-1');
    await old.close();
    const target = join(dataDir, SQLITE_FILE_NAME);
    // Another program holds the store open (so its -wal and -shm stay), which a forced restore overrides:
    // the aside is then three files, and the last can fail after the first two were made.
    const foreign = new Database(target);
    try {
      foreign.prepare('SELECT count(*) FROM docs').get();
      const before = readdirSync(dataDir).sort();
      expect(before).toEqual(expect.arrayContaining([`${SQLITE_FILE_NAME}-wal`, `${SQLITE_FILE_NAME}-shm`]));

      // The aside's name comes from the clock; a directory in the way of its -shm makes that step fail.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2030-01-02T03:04:05.678Z'));
      const blocker = `${target}.replaced-2030-01-02T03-04-05-678Z-shm`;
      mkdirSync(blocker);

      let error: unknown = null;
      try {
        await restoreSqlite(backup, dataDir, { force: true, onWarning: () => undefined });
      } catch (caught) {
        error = caught;
      }
      expect(isStoreError(error, 'INTERNAL'), String(error)).toBe(true);
      // Only the directory the test put there is new; the restore's staging copy is gone too.
      expect(readdirSync(dataDir).sort()).toEqual([...before, basename(blocker)].sort());
      expect(foreign.prepare('SELECT id FROM docs').all()).toEqual([{ id: 'old-1' }]);
    } finally {
      foreign.close();
    }

    const reopened = await openSqliteStore({ dataDir });
    try {
      expect(reopened.db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect((await reopened.docs.readDocs(S, 0, 10, 1e9)).docs.map((d) => d.id)).toEqual(['old-1']);
    } finally {
      await reopened.close();
    }
  });
});
