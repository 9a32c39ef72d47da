// The data directory, the store with its side files and the lock file are the server user's only, from
// creation, under the usual umask 022; what the operator created is left as it is and reported.
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupSqlite, restoreSqlite } from './backup';
import { LOCK_FILE_NAME } from './data-dir-lock';
import { createPrivateFile, ensurePrivateDir, loosePermissions } from './file-modes';
import { openSqliteStore, SQLITE_FILE_NAME } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

/** Octal, so that a failure reads '644' rather than 420. */
const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8);

const newDir = useTempDirs('hale-modes-');
// The umask most servers run with: it would make new files 0644 and directories 0755.
let umask = 0;
beforeAll(() => {
  umask = process.umask(0o022);
});
afterAll(() => {
  process.umask(umask);
});

describe('file modes', () => {
  it('creates the data directory 0700 and the store, its WAL side files and the lock file 0600', async () => {
    const dataDir = join(newDir(), 'nested', 'data');
    const store = await openSqliteStore({ dataDir });
    await store.init();
    await store.meta.put('server-signing-seed', 'secret');
    const files = readdirSync(dataDir).sort();
    // Every file there while the server runs (the lock journal appears only while the lock is taken).
    expect(files).toEqual(
      expect.arrayContaining([
        LOCK_FILE_NAME,
        SQLITE_FILE_NAME,
        `${SQLITE_FILE_NAME}-shm`,
        `${SQLITE_FILE_NAME}-wal`,
      ]),
    );
    expect({
      dataDir: modeOf(dataDir),
      parent: modeOf(join(dataDir, '..')),
      ...Object.fromEntries(files.map((f) => [f, modeOf(join(dataDir, f))])),
    }).toEqual({
      dataDir: '700',
      parent: '700',
      ...Object.fromEntries(files.map((f) => [f, '600'])),
    });
    await store.close();
  });

  it('leaves a directory and store the operator made as they are, and names them as readable by others', async () => {
    const dataDir = join(newDir(), 'data');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    writeFileSync(join(dataDir, SQLITE_FILE_NAME), '');
    chmodSync(join(dataDir, SQLITE_FILE_NAME), 0o640);
    expect(loosePermissions([dataDir, join(dataDir, SQLITE_FILE_NAME), join(dataDir, 'missing')])).toEqual([
      { path: dataDir, mode: '0755' },
      { path: join(dataDir, SQLITE_FILE_NAME), mode: '0640' },
    ]);
    const store = await openSqliteStore({ dataDir });
    await store.init();
    await store.close();
    expect([modeOf(dataDir), modeOf(join(dataDir, SQLITE_FILE_NAME))]).toEqual(['755', '640']);
    // A private directory is not reported.
    chmodSync(dataDir, 0o700);
    expect(loosePermissions([dataDir])).toEqual([]);
  });

  it('createPrivateFile creates an empty 0600 file and leaves an existing one untouched', () => {
    const dir = newDir();
    const fresh = join(dir, 'fresh');
    createPrivateFile(fresh);
    expect([modeOf(fresh), statSync(fresh).size]).toEqual(['600', 0]);
    const existing = join(dir, 'existing');
    writeFileSync(existing, 'kept');
    chmodSync(existing, 0o644);
    createPrivateFile(existing);
    expect([modeOf(existing), statSync(existing).size]).toEqual(['644', 4]);
    ensurePrivateDir(join(dir, 'a', 'b'));
    expect([modeOf(join(dir, 'a')), modeOf(join(dir, 'a', 'b'))]).toEqual(['700', '700']);
  });

  it('writes a backup 0600 into a 0700 directory, and a restored store 0600 even from a looser backup file', async () => {
    const root = newDir();
    const dataDir = join(root, 'data');
    const store = await openSqliteStore({ dataDir });
    await store.init();
    await store.meta.put('server-signing-seed', 'secret');
    const backup = join(root, 'backups', 'nightly', 'hale.sqlite');
    await backupSqlite(store, backup);
    await store.close();
    expect([modeOf(join(root, 'backups', 'nightly')), modeOf(backup)]).toEqual(['700', '600']);
    // An operator copied the backup around with cp: it came back 0644.
    chmodSync(backup, 0o644);
    const target = join(root, 'restored');
    await restoreSqlite(backup, target, { onWarning: () => undefined });
    expect([modeOf(target), modeOf(join(target, SQLITE_FILE_NAME))]).toEqual(['700', '600']);
  });
});
