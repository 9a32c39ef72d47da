// `npm start` as a supervisor runs it (Docker `CMD ["npm", "start"]`, systemd with KillMode=process): the
// stop signal goes to the one process that was started, never to its process group. The server must get
// it, drain, close the store and give the data directory up, so the next start on it succeeds.
import { spawn, type ChildProcess } from 'node:child_process';
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

const start = (args: string[], env: Record<string, string>) => {
  const child = spawn(args[0]!, args.slice(1), {
    cwd: ROOT,
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
  return { child, output, exited };
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

describe('stopping `npm start` with one signal to the started process', () => {
  for (const [name, command] of [
    ['npm start (repository root)', ['npm', 'start']],
    ['npm start --workspace=@hale/sync-server', ['npm', 'start', '--workspace=@hale/sync-server']],
  ] as const) {
    it(`${name}: SIGTERM drains the server, frees the port and the data directory`, async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'hale-start-signals-'));
      dirs.push(dataDir);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const r = start([...command], { PORT: String(port), HALE_DATA_DIR: dataDir });
      await waitHealthy(url, r);

      r.child.kill('SIGTERM');
      expect(await r.exited).toEqual({ code: 0, signal: null });
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
});
