// openInviteStore between its two looks at who holds the data directory: the running server it first saw
// may stop, and a restore start, before its connection beside is open. The holders are real second
// processes taking the lock through the same code; the moment between the two looks is where the test
// swaps them (the open beside, wrapped).
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { restoreSqlite, backupSqlite } from './backup';
import { openInviteStore } from './invite-store';
import type * as SqliteStoreModule from './sqlite-store';
import { isSqliteFileOpenInProcess, openSqliteStore, SQLITE_FILE_NAME } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';
import { isStoreError, type StoreError } from './types';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

/** Runs before the store is opened beside a holder (`exclusive: false`), once. */
const beforeBeside = vi.hoisted(() => ({ run: null as null | (() => Promise<void>) }));

vi.mock('./sqlite-store', async (importOriginal) => {
  const actual = await importOriginal<typeof SqliteStoreModule>();
  return {
    ...actual,
    openSqliteStore: async (options: Parameters<typeof actual.openSqliteStore>[0]) => {
      const hook = beforeBeside.run;
      if (options.exclusive === false && hook !== null) {
        beforeBeside.run = null;
        await hook();
      }
      return actual.openSqliteStore(options);
    },
  };
});

const newDir = useTempDirs('hale-invite-store-');
const children: ChildProcess[] = [];
afterEach(() => {
  beforeBeside.run = null;
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

const LOCKER = `
import { lockDataDir } from './sync-server/src/store/data-dir-lock.ts';
const [dir, holder] = process.argv.slice(1);
lockDataDir(dir, holder);
console.log('locked');
setInterval(() => {}, 60_000);
`;

/** Another process holding `dir` as `holder` (a server's store, or a restore), once it says so. */
const holdIn = async (dir: string, holder: 'store' | 'restore'): Promise<ChildProcess> => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', LOCKER, dir, holder],
    {
      cwd: ROOT,
    },
  );
  children.push(child);
  await new Promise<void>((done, fail) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (out.includes('locked\n')) done();
    });
    child.once('exit', () => fail(new Error(`holder exited: ${out}`)));
  });
  return child;
};

const stop = async (child: ChildProcess): Promise<void> => {
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGKILL');
  await exited;
};

const storeIn = async (): Promise<string> => {
  const dataDir = newDir();
  await (await openSqliteStore({ dataDir })).close();
  return dataDir;
};

const refusal = async (promise: Promise<unknown>): Promise<StoreError> => {
  try {
    await promise;
  } catch (error) {
    if (isStoreError(error)) return error;
    throw error;
  }
  throw new Error('expected a StoreError');
};

describe('openInviteStore beside a holder', () => {
  it('refuses a restore at once, and one that took over from the server before the connection opened', async () => {
    const dataDir = await storeIn();
    const restoring = await holdIn(dataDir, 'restore');
    const first = await refusal(openInviteStore(dataDir));
    expect(first.code).toBe('DATA_DIR_IN_USE');
    expect(first.details).toMatchObject({ holder: 'restore', pid: restoring.pid });
    expect(first.message).toBe(
      `a restore is replacing the store in ${dataDir} (pid ${restoring.pid}); run this again once it has finished`,
    );
    await stop(restoring);

    const server = await holdIn(dataDir, 'store');
    let restore: ChildProcess | null = null;
    beforeBeside.run = async () => {
      await stop(server);
      restore = await holdIn(dataDir, 'restore');
    };
    const second = await refusal(openInviteStore(dataDir));
    expect(restore).not.toBeNull();
    expect(second.details).toMatchObject({ holder: 'restore', pid: restore!.pid });
    // Nothing left open on the store the restore replaces.
    expect(isSqliteFileOpenInProcess(join(dataDir, SQLITE_FILE_NAME))).toBe(false);
  });

  it('beside a running server it holds no claim; the server gone meanwhile, it claims the directory until closed', async () => {
    const dataDir = await storeIn();
    const server = await holdIn(dataDir, 'store');
    const beside = await openInviteStore(dataDir);
    expect(beside.besideRunningServer).toBe(true);
    await beside.store.close();

    beforeBeside.run = () => stop(server);
    const alone = await openInviteStore(dataDir);
    expect(alone.besideRunningServer).toBe(false);
    const backup = join(newDir(), 'b.sqlite');
    await backupSqlite(join(dataDir, SQLITE_FILE_NAME), backup);
    // No restore starts while the command writes.
    const refused = await refusal(restoreSqlite(backup, dataDir));
    expect(refused.code).toBe('DATA_DIR_IN_USE');
    await alone.store.close();
    await restoreSqlite(backup, dataDir, { onWarning: () => undefined });
  });
});
