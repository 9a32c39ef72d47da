// The package's `bin` (`hale-sync-server`: the path npm links into node_modules/.bin, run directly or
// through `npx`) as a supervisor runs it: the stop signal goes to the one process that was started, never
// to its process group. The server must get it, drain, close the store and give the data directory up,
// so the next start on it succeeds — no orphaned server keeps the port or the directory.
import { readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, answers, childProcesses, takeable } from './child-process.test-util';

const children = childProcesses();

/** The bin as sync-server/package.json declares it. */
const declaredBin = (): string => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'sync-server/package.json'), 'utf8')) as {
    bin?: Record<string, string>;
  };
  const bin = pkg.bin?.['hale-sync-server'];
  if (bin === undefined) throw new Error('sync-server/package.json declares no hale-sync-server bin');
  return path.join(ROOT, 'sync-server', bin);
};

describe('the hale-sync-server bin, stopped with one signal to the started process', () => {
  it('npm links the declared bin (package.json and the lock file agree)', () => {
    expect(realpathSync(path.join(ROOT, 'node_modules/.bin/hale-sync-server'))).toBe(
      realpathSync(declaredBin()),
    );
  });

  // `to`: who gets the signal. A supervisor signals the process it started; a terminal's Ctrl-C (and
  // `kill -- -PGID`) signals the whole foreground group. npx runs the bin through `sh -c`, which dies of a
  // signal sent to it alone without passing it on, so npx is for a terminal only (docs/operations.md).
  const cases: Array<{ name: string; command: () => string[]; cwd?: string; to: 'process' | 'group' }> = [
    {
      name: 'node_modules/.bin/hale-sync-server',
      command: () => [path.join(ROOT, 'node_modules/.bin/hale-sync-server')],
      to: 'process',
    },
    {
      name: 'the declared bin, from another working directory',
      command: () => [declaredBin()],
      cwd: tmpdir(),
      to: 'process',
    },
    {
      name: 'npx hale-sync-server (signal to its group)',
      command: () => ['npx', '--no-install', 'hale-sync-server'],
      to: 'group',
    },
  ];
  for (const { name, command, cwd, to } of cases) {
    it(`${name}: serves; SIGTERM drains the server, frees the port and the data directory`, async () => {
      const dataDir = await children.tempDir('bin');
      const r = await children.serve(command(), { dataDir, cwd });

      if (to === 'process') {
        r.child.kill('SIGTERM');
        expect(await r.exited).toEqual({ code: 0, signal: null });
      } else {
        // npm itself dies of the signal; the server's own exit shows in what it wrote before closing
        // its end of the pipe.
        process.kill(-r.child.pid!, 'SIGTERM');
        await r.exited;
      }
      await r.drained;
      expect(r.output.stdout).toContain('shutting down');
      expect(r.output.stdout).toContain('store closed cleanly');
      expect(await answers(r.url)).toBe(false);

      // The directory and the port are free: what a new server takes, taken at once (a lingering one
      // would hold both).
      await takeable(dataDir, r.port);
    });
  }

  it('--help through the bin exits 0 with the usage text', async () => {
    const r = children.start([declaredBin(), '--help']);
    expect(await r.exited).toEqual({ code: 0, signal: null });
    expect(r.output.stdout).toContain('Usage: hale-sync-server');
  });
});
