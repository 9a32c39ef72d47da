/*
 * Sync-server nodes over one CouchDB-protocol server, for tests and `bench:cluster`: in this process
 * (`startCouchNode`, like harness.ts `startServer`) or as a child process that can be SIGKILLed
 * (`spawnCouchNode`, `npm start -- --store couchdb`). Each node opens its own store instance on the shared
 * databases, as separate machines would; nothing else is shared.
 *
 * Failure modes: a spawned node that does not answer /healthz within 60 s rejects its start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { buildApp, SERVER_KEY_META, type BuildAppOptions, type HaleServer } from '../app';
import { openCouchStore, type CouchStore } from '../store/couch/index';
import { randomBytes } from 'node:crypto';

export { startPouchServer, type PouchServer } from './pouchdb-server';

export interface CouchNode {
  url: string;
  wsUrl: string;
  store: CouchStore;
  server: HaleServer;
  stop(): Promise<void>;
}

export const startCouchNode = async (
  couchUrl: string,
  database: string,
  options: { config?: BuildAppOptions['config']; port?: number; logger?: BuildAppOptions['logger'] } = {},
): Promise<CouchNode> => {
  const store = await openCouchStore({ url: couchUrl, database, onListenerError: () => undefined });
  await store.init();
  await store.createMeta(SERVER_KEY_META, randomBytes(32).toString('base64url'));
  const server = await buildApp({
    store,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    config: {
      rateLimitPerDevice: { perSecond: 1e6, burst: 1e6 },
      rateLimitPerAddress: { perSecond: 1e6, burst: 1e6 },
      ...options.config,
    },
  });
  const url = await server.app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  return {
    url,
    wsUrl: `${url.replace('http', 'ws')}/sync`,
    store,
    server,
    stop: async () => {
      await server.close();
      await store.close();
    },
  };
};

export interface NodeProcess {
  url: string;
  wsUrl: string;
  child: ChildProcess;
  /** Ends the process with `signal` and resolves with its exit code once it is gone. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

const root = path.resolve(import.meta.dirname, '../../..');

/** A node as a child process: Node runs main.ts itself (tsx as a loader), so a SIGKILL reaches the server. */
export const spawnCouchNode = async (
  couchUrl: string,
  database: string,
  port: number,
): Promise<NodeProcess> => {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(root, 'sync-server/src/main.ts'),
      '--port',
      String(port),
      '--store',
      'couchdb',
      '--couch-db',
      database,
      '--log-level',
      'warn',
      '--rate-per-device',
      '100000',
      '--rate-per-address',
      '100000',
    ],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, HOST: '127.0.0.1', HALE_COUCH_URL: couchUrl },
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // Generous: under a loaded machine (nodes starting beside each other, a test running) a start takes long.
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node exited early: ${stderr}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`node did not answer /healthz: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    wsUrl: `${url.replace('http', 'ws')}/sync`,
    child,
    kill: (signal) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
};
