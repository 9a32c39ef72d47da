// A data directory (or backup path) on a file system that takes no new directories, such as /proc: Node's
// recursive mkdir there never returns (mkdir answers ENOENT although the parent exists, and it tries the
// parent again, forever), so the server spun at 100 % CPU instead of starting or failing. It must exit 1
// within a bounded time, with one line naming the path and what to do. Real processes, as an operator runs
// them.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childProcesses, freePort, serverCommand } from './child-process.test-util';
import { openSqliteStore } from './store/index';

const children = childProcesses();

/** Generous for a tsx start on a busy machine; a spinning start never ends at all. */
const BOUND_MS = 20_000;

const runBounded = async (args: string[], env: Record<string, string> = {}) => {
  const r = children.start(serverCommand(...args), env);
  const outcome = await Promise.race([
    r.exited.then((exit) => ({ ...exit, timedOut: false })),
    new Promise<{ code: null; signal: null; timedOut: true }>((resolve) =>
      setTimeout(() => resolve({ code: null, signal: null, timedOut: true }), BOUND_MS),
    ),
  ]);
  if (outcome.timedOut && r.child.pid !== undefined) process.kill(-r.child.pid, 'SIGKILL');
  await r.drained;
  return { ...outcome, ...r.output };
};

const expectOneLine = (r: { code: number | null; timedOut: boolean; stdout: string; stderr: string }) => {
  expect({ timedOut: r.timedOut, code: r.code }).toEqual({ timedOut: false, code: 1 });
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.slice(0, -1).split('\n')).toHaveLength(1);
  return r.stderr;
};

// A name no process directory has, so /proc surely lacks it.
const underProc = path.join('/proc', `hale-no-such-${process.pid}`, 'data');

describe.skipIf(!existsSync('/proc/self'))('a path under /proc, where no directory can be made', () => {
  it('serve: exits 1 in bounded time with one line naming the data directory and what to do', async () => {
    const r = await runBounded([], { HALE_DATA_DIR: underProc, PORT: String(await freePort()) });
    const line = expectOneLine(r);
    expect(line).toContain(path.dirname(underProc));
    expect(line).toMatch(/--data-dir/);
    // Not the ENOENT hint "a part of the path does not exist": /proc does.
    expect(line).toMatch(/takes no new directories/);
  }, 60_000);

  it('backup --out under /proc: exits 1 in bounded time with one line naming the path', async () => {
    const dataDir = await children.tempDir('proc-backup');
    const store = await openSqliteStore({ dataDir });
    await store.close();
    const out = path.join(underProc, 'backup.sqlite');
    const r = await runBounded(['backup', '--out', out], { HALE_DATA_DIR: dataDir });
    const line = expectOneLine(r);
    expect(line).toContain(path.dirname(underProc));
    expect(line).toMatch(/takes no new directories.*choose another path/);
  }, 60_000);
});
