// A start that cannot go on, as a self-hoster meets it: the server (or a command) exits 1 with one line on
// stderr saying what is wrong and what to do, never a stack trace. A store of a newer schema (after a
// downgrade), a port in use, a data directory that cannot be created, a backup that is not there. A start
// that fails does not count as the last start that `invite` reports. Real SQLite files; a start is a real
// process, and so is the command beside this process's lock; the other commands run in this process
// (cli.ts, as main.ts runs them).
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childProcesses, freePort, serverCommand, type Running } from './child-process.test-util';
import { runCli } from './cli.test-util';
import { lockDataDir } from './store/data-dir-lock';
import { isoAt, makeDocInput } from './store/conformance';
import { openSqliteStore, SQLITE_FILE_NAME, SQLITE_SCHEMA_VERSION } from './store/index';

const children = childProcesses();

const run = async (args: string[], env: Record<string, string> = {}) => {
  // The web app is left out: whether it was built must not change what a failed start prints.
  const r: Running = children.start(serverCommand(...args), { HALE_APP_DIR: 'none', ...env });
  const exit = await r.exited;
  await r.drained;
  return { ...exit, ...r.output };
};

/** Exit status 1, nothing on stdout, and exactly one line on stderr: no stack trace. */
const expectOneLine = (r: { code: number | null; stdout: string; stderr: string }): string => {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.slice(0, -1).split('\n')).toHaveLength(1);
  return r.stderr;
};

const listeners: Server[] = [];
const mounts: string[] = [];
afterAll(async () => {
  for (const l of listeners) await new Promise((resolve) => l.close(resolve));
  for (const m of mounts) execFileSync('umount', [m]);
});

/** A store of 500 documents of 1 KiB (≈ 1 MiB of pages), closed. */
const seededStore = async (): Promise<string> => {
  const dataDir = await children.tempDir('seeded');
  const store = await openSqliteStore({ dataDir });
  const rows = Array.from({ length: 500 }, (_, i) => ({
    doc: makeDocInput('pat/lab-result', `d${i}`, '1-x', { ct: new Uint8Array(1024).fill(i % 256) }),
    assumedRev: null,
  }));
  await store.docs.writeDocs(rows, isoAt(1));
  await store.close();
  return dataDir;
};

/** A small tmpfs to fill, where this machine lets the test mount one (root with CAP_SYS_ADMIN); else null. */
const smallDisk = async (): Promise<string | null> => {
  const dir = await children.tempDir('small-disk');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=300k', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  mounts.push(dir);
  return dir;
};

/** A store in a new directory whose schema version a newer Hale would have left: 99. */
const newerStore = async (): Promise<string> => {
  const dataDir = await children.tempDir('newer');
  const store = await openSqliteStore({ dataDir });
  store.db.pragma('user_version = 99');
  await store.close();
  return dataDir;
};

describe('a start that cannot go on', () => {
  it('a store of a newer schema: the server and invite say so in one line, and what to do', async () => {
    const dataDir = await newerStore();
    const env = { HALE_DATA_DIR: dataDir, PORT: String(await freePort()) };
    const served = expectOneLine(await run([], env));
    const listed = expectOneLine(await runCli(['invite', '--list'], env));
    for (const line of [served, listed]) {
      expect(line).toContain(
        `schema version 99, newer than this version of Hale supports (${SQLITE_SCHEMA_VERSION})`,
      );
      // What to do: the newer version, or the documented roll-back.
      expect(line).toMatch(/newer version of Hale/);
      expect(line).toMatch(/restore/);
    }
    // Beside a running server (here: the directory held by this process) the same.
    const lock = lockDataDir(dataDir);
    try {
      expect(expectOneLine(await run(['invite'], env))).toContain('schema version 99');
    } finally {
      lock.release();
    }
  });

  it('a port in use: one line naming it; the failed start is not recorded as the last one', async () => {
    const port = await freePort();
    const taken = createServer();
    listeners.push(taken);
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    const dataDir = await children.tempDir('port');
    const env = { HALE_DATA_DIR: dataDir, PORT: String(port), HALE_REGISTRATION: 'closed' };
    const line = expectOneLine(await run([], env));
    expect(line).toContain(`127.0.0.1:${port}`);
    expect(line).toContain('in use');
    expect(line).toMatch(/--port/);
    // The store it opened was closed and the directory given back: invite takes it, and reports no start.
    const listed = await runCli(['invite', '--list'], { HALE_DATA_DIR: dataDir });
    expect(listed.code).toBe(0);
    expect(listed.stderr).toContain('registration mode of this server is unknown');
    expect(listed.stderr).not.toContain('closed');
  });

  it('a data directory that cannot be created: one line, with what to do', async () => {
    const parent = await children.tempDir('notdir');
    const file = path.join(parent, 'a-file');
    writeFileSync(file, 'not a directory');
    const line = expectOneLine(
      await run([], { HALE_DATA_DIR: path.join(file, 'data'), PORT: String(await freePort()) }),
    );
    expect(line).toContain(path.join(file, 'data'));
    expect(line).toMatch(/not a directory/i);
    expect(line).toMatch(/--data-dir/);
  });

  it('restore from a backup file that is not there: one line naming it', async () => {
    const dataDir = await children.tempDir('restore-missing');
    const missing = path.join(dataDir, 'no-such-backup.sqlite');
    const line = expectOneLine(
      await runCli(['restore', '--from', missing, '--data-dir', path.join(dataDir, 'new')]),
    );
    expect(line).toContain(missing);
  });

  it('a store file that is not a database: the server says so in one line, and what to do', async () => {
    const dataDir = await children.tempDir('not-a-db');
    writeFileSync(path.join(dataDir, SQLITE_FILE_NAME), 'not a database '.repeat(500), { mode: 0o600 });
    const line = expectOneLine(await run([], { HALE_DATA_DIR: dataDir, PORT: String(await freePort()) }));
    expect(line).toContain(path.join(dataDir, SQLITE_FILE_NAME));
    expect(line).toMatch(/damaged or is not a Hale store.*restore the last good backup/);
  });

  it('backup of a damaged store: refused in one line, no copy left', async () => {
    const dataDir = await seededStore();
    const fd = openSync(path.join(dataDir, SQLITE_FILE_NAME), 'r+');
    writeSync(fd, Buffer.alloc(8192, 0xff), 0, 8192, 4096 * 50);
    closeSync(fd);
    const out = path.join(await children.tempDir('backup-out'), 'b.sqlite');
    const line = expectOneLine(await runCli(['backup', '--out', out, '--data-dir', dataDir]));
    expect(line).toMatch(/^backup refused: the store .* is damaged/);
    expect(existsSync(out)).toBe(false);
  });

  it('backup onto a full disk: one line saying to free space', async (context) => {
    const disk = await smallDisk();
    if (disk === null) return context.skip();
    const dataDir = await seededStore();
    const line = expectOneLine(
      await runCli(['backup', '--out', path.join(disk, 'b.sqlite'), '--data-dir', dataDir]),
    );
    expect(line).toMatch(/full: free space on it/);
  });
});
