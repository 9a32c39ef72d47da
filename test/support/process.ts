// The sync server as a real child process (so it can be SIGKILLed), on a fixed loopback port.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });

const root = path.resolve(import.meta.dirname, '../..');

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/** Whether anything answers `/healthz` at `url` now. */
export const answers = (url: string): Promise<boolean> =>
  fetch(`${url}/healthz`).then(
    (res) => res.status === 200,
    () => false,
  );

/** How long a spawned server may take to answer its health check. */
export const START_WAIT_MS = 60_000;

export const spawnServer = async (dataDir: string, port: number): Promise<ServerProcess> => {
  const url = `http://127.0.0.1:${port}`;
  // Otherwise the health check below could be answered by that server instead of the new one.
  if (await answers(url)) throw new Error(`a server already answers on port ${port}`);
  // Node itself runs main.ts (tsx as a loader), so the child's pid is the server's: the tsx CLI would run
  // the server as a grandchild, which a SIGKILL of the CLI leaves running.
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(root, 'sync-server/src/main.ts'),
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOST: '127.0.0.1' } },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // Node compiles the server's modules on start (tsx): on a loaded 2-core machine that alone has taken
  // over 20 s.
  const until = Date.now() + START_WAIT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early: ${stderr}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`server did not start in ${String(START_WAIT_MS / 1000)} s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    kill: (signal) =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
};
