// What a failed restore leaves behind, and what its refusals tell the operator: a restore that fails into
// a directory it created takes the directory and its lock file away again (a mistyped --data-dir is not
// left as an empty store directory with a server.lock); a lock file it found stays; the refusal while
// another program holds the store names the flag that overrides it.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { backupSqlite, restoreSqlite } from './backup';
import { LOCK_FILE_NAME, lockDataDir } from './data-dir-lock';
import { openSqliteStore, SQLITE_FILE_NAME } from './sqlite-store';
import { isStoreError, type StoreError } from './types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-restore-failure-');

const caught = async (promise: Promise<unknown>): Promise<StoreError> => {
  try {
    await promise;
  } catch (error) {
    if (isStoreError(error)) return error;
    throw error;
  }
  throw new Error('expected a StoreError');
};

const garbageBackup = (): string => {
  const file = join(newDir(), 'not-a-backup.sqlite');
  writeFileSync(file, 'this is not a SQLite file at all, but long enough to be read as one '.repeat(100));
  return file;
};

describe('a failed restore', () => {
  it('into a new directory leaves neither the directory nor a lock file', async () => {
    const parent = newDir();
    const target = join(parent, 'new', 'data');
    expect((await caught(restoreSqlite(garbageBackup(), target))).code).toBe('INVALID');
    expect(existsSync(join(target, LOCK_FILE_NAME))).toBe(false);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
    // The directory is free: a server could start there at once.
    lockDataDir(target).release();
  });

  it('into an existing directory without a lock file removes only the one it made', async () => {
    const target = newDir();
    writeFileSync(join(target, 'operator-notes.txt'), 'mine');
    expect((await caught(restoreSqlite(garbageBackup(), target))).code).toBe('INVALID');
    expect(readdirSync(target)).toEqual(['operator-notes.txt']);
  });

  it('over a store a server used keeps the lock file it found', async () => {
    const target = newDir();
    const store = await openSqliteStore({ dataDir: target });
    await store.close();
    const before = readdirSync(target).sort();
    expect(before).toContain(LOCK_FILE_NAME);
    expect((await caught(restoreSqlite(garbageBackup(), target))).code).toBe('INVALID');
    expect(readdirSync(target).sort()).toEqual(before);
  });
});

describe('the refusal while another program has the store open', () => {
  it('names --force', async () => {
    const source = await openSqliteStore({ dataDir: newDir() });
    const backupFile = join(newDir(), 'b.sqlite');
    await backupSqlite(source, backupFile);
    await source.close();
    const target = newDir();
    await (await openSqliteStore({ dataDir: target })).close();
    const foreign = new Database(join(target, SQLITE_FILE_NAME));
    try {
      foreign.prepare('SELECT count(*) FROM sqlite_schema').get();
      const refusal = await caught(restoreSqlite(backupFile, target));
      expect(refusal.code).toBe('UNAVAILABLE');
      expect(refusal.message).toContain('--force');
    } finally {
      foreign.close();
    }
  });
});
