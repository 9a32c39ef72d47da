// A restore run as root (sudo) into the data directory of a server that runs as its own user (systemd
// `User=hale`): what the restore puts there must stay that user's, or the server cannot open its own store
// ("cannot lock data directory …: unable to open database file"). Runs only as root, the one user that can
// give files away.
import { chownSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backupSqlite, restoreSqlite } from './backup';
import { LOCK_FILE_NAME } from './data-dir-lock';
import { openSqliteStore, SQLITE_FILE_NAME } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-restore-owner-');
/** The server's user in the test: nobody's ids on Debian. */
const SERVER = { uid: 65534, gid: 65534 };

const backupFile = async (): Promise<string> => {
  const store = await openSqliteStore({ dataDir: newDir() });
  try {
    return (await backupSqlite(store, join(newDir(), 'hale-backup.sqlite'))).file;
  } finally {
    await store.close();
  }
};

const ownerOf = (file: string): { uid: number; gid: number } => {
  const { uid, gid } = statSync(file);
  return { uid, gid };
};

describe.runIf(process.getuid?.() === 0)('restore run as root', () => {
  it("into the server user's empty data directory: the store and the lock file are that user's", async () => {
    const dataDir = join(newDir(), 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    chownSync(dataDir, SERVER.uid, SERVER.gid);
    await restoreSqlite(await backupFile(), dataDir, { onWarning: () => undefined });
    expect(ownerOf(join(dataDir, SQLITE_FILE_NAME))).toEqual(SERVER);
    expect(ownerOf(join(dataDir, LOCK_FILE_NAME))).toEqual(SERVER);
  });

  it("over the server user's store: the restored store is that user's", async () => {
    const dataDir = join(newDir(), 'data');
    await (await openSqliteStore({ dataDir })).close();
    for (const file of [dataDir, join(dataDir, SQLITE_FILE_NAME), join(dataDir, LOCK_FILE_NAME)]) {
      chownSync(file, SERVER.uid, SERVER.gid);
    }
    await restoreSqlite(await backupFile(), dataDir, { onWarning: () => undefined });
    expect(ownerOf(join(dataDir, SQLITE_FILE_NAME))).toEqual(SERVER);
  });

  it('into a directory it creates: root keeps what it made (no other owner to give it)', async () => {
    const dataDir = join(newDir(), 'new', 'data');
    await restoreSqlite(await backupFile(), dataDir, { onWarning: () => undefined });
    expect(ownerOf(join(dataDir, SQLITE_FILE_NAME)).uid).toBe(0);
  });
});
