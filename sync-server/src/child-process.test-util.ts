// Shared by the tests that run the server as a real child process (the bin, `npm start`, main.ts through
// tsx): start a command from the repository root on a free loopback port, collect what it writes, wait
// until it answers /healthz. Each child leads its own process group, so whatever a failed run left behind
// (the orphaned server of a broken start chain npm → sh → tsx → node included) is ended by that id after
// the file, and the temporary data directories go with it.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, vi } from 'vitest';
import { lockDataDir } from './store/data-dir-lock';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The server's start entry as `npm start` runs it: node with tsx's loader, so the child is the server. */
export const serverCommand = (...args: string[]): string[] => [
  process.execPath,
  '--import',
  'tsx',
  'sync-server/src/main.ts',
  ...args,
];

export interface Running {
  child: ChildProcessByStdio<null, Readable, Readable>;
  output: { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every process holding the pipes (the server included, when npm or a shell stands in between) is gone. */
  drained: Promise<unknown>;
}

export interface Serving extends Running {
  url: string;
  port: number;
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

/** Whether anything answers `/healthz` at `url` now. */
export const answers = (url: string): Promise<boolean> =>
  fetch(`${url}/healthz`).then(
    (res) => res.status === 200,
    () => false,
  );

/**
 * What a new server on `dataDir` and `port` needs, taken here at once and given back: the directory's lock
 * (refused while another process holds it) and the port (EADDRINUSE while anything listens on it).
 */
export const takeable = async (dataDir: string, port: number): Promise<void> => {
  lockDataDir(dataDir).release();
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  await new Promise((resolve) => server.close(resolve));
};

/**
 * Waits until `url` answers /healthz and, unless `quiet` (a log level without info lines), the child has
 * logged that it listens there: a free port can be taken by another test's server between `freePort` and
 * the child's listen, and that server's answer must not pass for this child's (which exits EADDRINUSE).
 */
const waitHealthy = async (url: string, r: Running, quiet: boolean): Promise<void> => {
  const deadline = Date.now() + 30_000;
  const ours = (): boolean =>
    quiet ||
    r.output.stdout.split('\n').some((line) => line.includes('server listening') && line.includes(url));
  while (Date.now() < deadline) {
    if (r.child.exitCode !== null) throw new Error(`exited early: ${r.output.stderr}${r.output.stdout}`);
    if ((await answers(url)) && ours()) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`did not become healthy: ${r.output.stderr}`);
};

/** Whether a start failed because its port was taken (start-failure.ts's line). */
const portTaken = (r: Running): boolean =>
  r.child.exitCode !== null && /port is in use/.test(r.output.stderr);

/** The children and temporary directories of one test file: call once per file; cleaned up after it. */
export const childProcesses = () => {
  // A test here starts several Node processes, each loading the server through tsx: seconds of CPU each on
  // a busy 2-core machine. The budget is per file, not a timing under test.
  vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
  const started: Running['child'][] = [];
  const dirs: string[] = [];

  afterAll(async () => {
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

  /** `args` started in its own process group, HOST set to loopback unless `env` says otherwise. */
  const start = (args: readonly string[], env: Record<string, string> = {}, cwd = ROOT): Running => {
    const [command, ...rest] = args;
    if (command === undefined) throw new Error('no command to start');
    const child = spawn(command, rest, {
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
    const drained = Promise.all([
      new Promise((resolve) => child.stdout.once('close', resolve)),
      new Promise((resolve) => child.stderr.once('close', resolve)),
    ]);
    return { child, output, exited, drained };
  };

  return {
    start,

    /** A new directory `hale-NAME-…` under the system's temporary directory. */
    tempDir: async (name: string): Promise<string> => {
      const d = await mkdtemp(path.join(tmpdir(), `hale-${name}-`));
      dirs.push(d);
      return d;
    },

    /** `args` serving `dataDir` on `port` (a free one if not given), once it answers /healthz. */
    serve: async (
      args: readonly string[],
      options: { dataDir: string; port?: number; env?: Record<string, string>; cwd?: string | undefined },
    ): Promise<Serving> => {
      const quiet = (options.env?.['HALE_LOG_LEVEL'] ?? process.env['HALE_LOG_LEVEL']) !== undefined;
      // A free port taken by another test's server before this child listened: another, twice at most.
      for (let attempt = 0; ; attempt++) {
        const port = options.port ?? (await freePort());
        const url = `http://127.0.0.1:${port}`;
        const r = start(
          args,
          { ...options.env, PORT: String(port), HALE_DATA_DIR: options.dataDir },
          options.cwd ?? ROOT,
        );
        try {
          await waitHealthy(url, r, quiet);
          return { ...r, url, port };
        } catch (error) {
          if (options.port !== undefined || attempt >= 2 || !portTaken(r)) throw error;
        }
      }
    },
  };
};
