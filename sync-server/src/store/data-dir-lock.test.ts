// The data directory lock: one open store per directory, in this process and across processes, released
// by close() and by the death of the holder (SIGKILL included). The server-level view (a second
// `npm start`, restore and backup beside a running server) is in process.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isoAt, makeDocInput } from './conformance';
import { LOCK_FILE_NAME, lockDataDir } from './data-dir-lock';
import { openSqliteStore, SQLITE_FILE_NAME } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';
import { isStoreError, type StoreError } from './types';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

const newDir = useTempDirs('hale-lock-');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

const quiet = { onListenerError: () => {} };

const caught = async (promise: Promise<unknown>): Promise<StoreError> => {
  try {
    await promise;
  } catch (error) {
    if (isStoreError(error)) return error;
    throw error;
  }
  throw new Error('expected a StoreError');
};

// A real second process taking the lock through the same code (tsx loads the TypeScript).
const LOCKER = `
import { lockDataDir } from './sync-server/src/store/data-dir-lock.ts';
const [dir, mode] = process.argv.slice(1);
try {
  const lock = lockDataDir(dir);
  console.log('locked');
  if (mode === 'probe') lock.release();
  else setInterval(() => {}, 60_000);
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }));
}
`;

const locker = (dir: string, mode: 'hold' | 'probe') => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', LOCKER, dir, mode], {
    cwd: ROOT,
  });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const firstLine = new Promise<string>((resolveLine, reject) => {
    child.stdout.on('data', () => {
      if (out.includes('\n')) resolveLine(out.split('\n')[0] ?? '');
    });
    child.once('exit', () => (out.includes('\n') ? undefined : reject(new Error(`locker exited: ${out}`))));
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return { child, firstLine, exited };
};

/** What another process gets when it tries to lock `dir` now. */
const probe = (dir: string): Promise<string> => locker(dir, 'probe').firstLine;

describe('data directory lock', () => {
  it('refuses a second store on the directory in this process until the first is closed', async () => {
    const dataDir = newDir();
    const first = await openSqliteStore({ dataDir, ...quiet });
    await first.docs.writeDocs([{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }], isoAt(1));

    const refused = await caught(openSqliteStore({ dataDir, ...quiet }));
    expect(refused.code).toBe('DATA_DIR_IN_USE');
    expect(refused.details).toEqual({ dataDir, pid: process.pid, holder: 'store' });
    expect(refused.message).toContain(dataDir);
    // Another path to the same directory is the same lock.
    const link = join(newDir(), 'link');
    symlinkSync(dataDir, link);
    expect((await caught(openSqliteStore({ dataDir: link, ...quiet }))).code).toBe('DATA_DIR_IN_USE');
    expect(() => lockDataDir(dataDir)).toThrow(/already open in this process/);

    // The refusals did not disturb the first store, nor its hold on the directory towards other processes.
    expect((await first.docs.streamHeads(['p/allergy']))[0]?.head).toBe(1);
    const answer = await probe(dataDir);
    expect(answer, 'another process took the lock: this process dropped its fcntl lock').not.toBe('locked');
    const other = JSON.parse(answer) as { code: string; message: string };
    expect(other.code).toBe('DATA_DIR_IN_USE');
    expect(other.message).toBe(`another Hale server is using ${dataDir} (pid ${process.pid}); stop it first`);

    await first.close();
    const again = await openSqliteStore({ dataDir, ...quiet });
    try {
      expect((await again.docs.streamHeads(['p/allergy']))[0]?.head).toBe(1);
    } finally {
      await again.close();
    }
    // Closing twice releases nothing twice; the directory is free for another process afterwards.
    await again.close();
    expect(await probe(dataDir)).toBe('locked');
  });

  it('a refused open creates and migrates nothing', async () => {
    const dataDir = newDir();
    const lock = lockDataDir(dataDir);
    try {
      expect((await caught(openSqliteStore({ dataDir, ...quiet }))).code).toBe('DATA_DIR_IN_USE');
      expect(existsSync(join(dataDir, SQLITE_FILE_NAME))).toBe(false);
    } finally {
      lock.release();
    }
    lock.release();
    const store = await openSqliteStore({ dataDir, ...quiet });
    await store.close();
  });

  it('refuses a directory another process holds, naming its pid, and is free at once after SIGKILL', async () => {
    const dataDir = newDir();
    const holder = locker(dataDir, 'hold');
    expect(await holder.firstLine).toBe('locked');
    const before = readdirSync(dataDir).sort();

    const refused = await caught(openSqliteStore({ dataDir, ...quiet }));
    expect(refused.code).toBe('DATA_DIR_IN_USE');
    expect(refused.details).toEqual({ dataDir, pid: holder.child.pid, holder: 'store' });
    expect(refused.message).toBe(
      `another Hale server is using ${dataDir} (pid ${holder.child.pid}); stop it first`,
    );
    expect(readdirSync(dataDir).sort()).toEqual(before);
    expect(before).not.toContain(SQLITE_FILE_NAME);

    holder.child.kill('SIGKILL');
    await holder.exited;
    const store = await openSqliteStore({ dataDir, ...quiet });
    try {
      expect((await store.health()).ok).toBe(true);
      expect(JSON.parse(await probe(dataDir))).toMatchObject({ code: 'DATA_DIR_IN_USE' });
    } finally {
      await store.close();
    }
  });

  it('an open that fails after claiming the directory gives it back', async () => {
    const dataDir = newDir();
    const store = await openSqliteStore({ dataDir, ...quiet });
    store.db.pragma('user_version = 999');
    await store.close();
    expect((await caught(openSqliteStore({ dataDir, ...quiet }))).code).toBe('INTERNAL');
    lockDataDir(dataDir).release();
  });

  it('exclusive: false opens beside a holder without claiming the directory', async () => {
    const dataDir = newDir();
    const owner = await openSqliteStore({ dataDir, ...quiet });
    const beside = await openSqliteStore({ dataDir, exclusive: false, ...quiet });
    try {
      await beside.docs.writeDocs(
        [{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }],
        isoAt(1),
      );
      expect(await owner.docs.getDoc('p/allergy', 'a')).not.toBeNull();
    } finally {
      await beside.close();
    }
    // Closing the non-exclusive store released nothing.
    expect((await caught(openSqliteStore({ dataDir, ...quiet }))).code).toBe('DATA_DIR_IN_USE');
    await owner.close();
  });

  it('says what to do with a lock file that is not one', async () => {
    const dataDir = newDir();
    writeFileSync(
      join(dataDir, LOCK_FILE_NAME),
      'not a database, just some text that is long enough '.repeat(4),
    );
    const error = await caught(openSqliteStore({ dataDir, ...quiet }));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/is not a Hale lock file; remove it if no Hale server is running/);
  });
});
