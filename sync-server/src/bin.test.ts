// The package's `bin` (`hale-sync-server`: the path npm links into node_modules/.bin, run directly or
// through `npx`) as a supervisor runs it: the stop signal goes to the one process that was started, never
// to its process group. The server must get it, drain, close the store and give the data directory up,
// so the next start on it succeeds — no orphaned server keeps the port or the directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const started: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  // Whatever a failed run left behind (the orphaned server of a broken start chain included): each child
  // leads its own process group, ended here by that id.
  for (const child of started) {
    if (child.pid === undefined) continue;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

const start = (args: readonly string[], env: Record<string, string>, cwd = ROOT) => {
  const child = spawn(args[0]!, args.slice(1), {
    cwd,
    env: { ...process.env, HOST: '127.0.0.1', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (output.stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (output.stderr += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // Every process holding the pipes (the server included, when npm or a shell stands in between) is gone.
  const drained = Promise.all([
    new Promise((resolve) => child.stdout.once('close', resolve)),
    new Promise((resolve) => child.stderr.once('close', resolve)),
  ]);
  return { child, output, exited, drained };
};

const answers = (url: string): Promise<boolean> =>
  fetch(`${url}/healthz`).then(
    (res) => res.status === 200,
    () => false,
  );

const waitHealthy = async (url: string, r: ReturnType<typeof start>): Promise<void> => {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (r.child.exitCode !== null) throw new Error(`exited early: ${r.output.stderr}${r.output.stdout}`);
    if (await answers(url)) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`did not become healthy: ${r.output.stderr}`);
};

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
      const dataDir = await mkdtemp(path.join(tmpdir(), 'hale-bin-'));
      dirs.push(dataDir);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const r = start(command(), { PORT: String(port), HALE_DATA_DIR: dataDir }, cwd);
      await waitHealthy(url, r);

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
      expect(await answers(url)).toBe(false);

      // The directory is free: a new server takes it at once (a lingering one would refuse it).
      const next = start([process.execPath, '--import', 'tsx', 'sync-server/src/main.ts'], {
        PORT: String(port),
        HALE_DATA_DIR: dataDir,
      });
      await waitHealthy(url, next);
      next.child.kill('SIGTERM');
      expect(await next.exited).toEqual({ code: 0, signal: null });
    });
  }

  it('--help through the bin exits 0 with the usage text', async () => {
    const r = start([declaredBin(), '--help'], {});
    expect(await r.exited).toEqual({ code: 0, signal: null });
    expect(r.output.stdout).toContain('Usage: hale-sync-server');
  });
});
