/*
 * Starts `pouchdb-server` (a CouchDB-protocol server from npm, a devDependency) on a loopback port for
 * tests and benchmarks: LevelDB files in a temporary directory (or in memory), its config and log files
 * there too. Not part of the server: imported only by tests and `bench:cluster`.
 *
 * Invariants: `start` resolves once the server answers `GET /`; `kill` ends it with SIGKILL (nothing
 * flushed); `restart` starts it again on the same port and directory (what was on disk is kept);
 * `stop` ends it and removes the directory. Failure modes: rejects when it does not answer within 20 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PouchServer {
  readonly url: string;
  readonly port: number;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** One CouchDB HTTP request with a JSON body, answered as JSON (what a test reads or writes behind the store). */
  request(path: string, init?: { method: string; body: unknown }): Promise<Record<string, unknown>>;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

const answers = async (url: string): Promise<boolean> => {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
};

export const startPouchServer = async (options: { inMemory?: boolean } = {}): Promise<PouchServer> => {
  const dir = mkdtempSync(join(tmpdir(), 'hale-pouchdb-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const bin = createRequire(import.meta.url).resolve('pouchdb-server/bin/pouchdb-server');
  let child: ChildProcess | null = null;
  const launch = async (): Promise<void> => {
    const args = [
      bin,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--dir',
      join(dir, 'db'),
      '--config',
      join(dir, 'config.json'),
      '--no-stdout-logs',
    ];
    if (options.inMemory === true) args.push('--in-memory');
    child = spawn(process.execPath, args, { cwd: dir, stdio: 'ignore' });
    // Its start loads many modules: on a loaded machine it took over 20 s (within the 60 s hook limit).
    const deadline = Date.now() + 45_000;
    const started = child;
    while (!(await answers(url))) {
      if (started.exitCode !== null)
        throw new Error(`pouchdb-server exited (${started.exitCode}) before answering on ${url}`);
      if (Date.now() > deadline) throw new Error(`pouchdb-server did not answer on ${url}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    child = null;
    if (current === null || current.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      current.once('exit', () => resolve());
      current.kill(signal);
    });
  };
  await launch();
  return {
    url,
    port,
    request: async (path, init) => {
      const response = await fetch(`${url}/${path}`, {
        ...(init === undefined ? {} : { method: init.method, body: JSON.stringify(init.body) }),
        headers: { 'content-type': 'application/json' },
      });
      return (await response.json()) as Record<string, unknown>;
    },
    kill: () => end('SIGKILL'),
    restart: async () => {
      await end('SIGKILL');
      await launch();
    },
    stop: async () => {
      await end('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
