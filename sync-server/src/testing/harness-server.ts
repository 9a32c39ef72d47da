// Test harness (harness-server): A real server on a loopback port over a real SQLite file, its endpoint,
// signing with the node Ed25519, and JSON over HTTP.
// Re-exported by harness.ts, which tests import.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { base64urlEncode, signCanonical, type Ed25519, type X25519 } from '@hale/crypto';
import { buildApp, type BuildAppOptions, type HaleServer } from '../app';
import { openSqliteStore, type SqliteStore, type SyncStore } from '../store/index';
import { createNodeEd25519, createNodeX25519 } from '@hale/crypto/node';

export const ed: Ed25519 = createNodeEd25519();
/** node:crypto's X25519 for the test devices' sealed boxes: the same boxes as tweetnacl's, faster. */
export const x25519: X25519 = createNodeX25519();

export const sign = async (secretKey: Uint8Array, payload: { label: string }): Promise<string> =>
  base64urlEncode(await signCanonical(ed, secretKey, payload.label, payload));

export interface TestServer {
  server: HaleServer;
  store: SqliteStore;
  dataDir: string;
  url: string;
  wsUrl: string;
  clock: { now: number; advance(ms: number): void };
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/** Where a server answers: an in-process TestServer, or a spawned process the tests talk to. */
export type Endpoint = Pick<TestServer, 'url' | 'wsUrl'>;

export const endpoint = (url: string): Endpoint => ({ url, wsUrl: `${url.replace('http', 'ws')}/sync` });

export const startServer = async (
  options: {
    dataDir?: string;
    config?: BuildAppOptions['config'];
    realClock?: boolean;
    /** The server's Ed25519 (a test may hold its signing or verifying at a chosen moment). */
    ed?: Ed25519;
    /** The store the app is given, made from the one opened (a test may hold its reads: held-reads.ts). */
    wrapStore?: (store: SqliteStore) => SyncStore;
    /** Where the server logs (none by default). */
    logger?: BuildAppOptions['logger'];
    /** The port to listen on (any free one by default): a restart on a stopped server's port. */
    port?: number;
  } = {},
): Promise<TestServer> => {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'hale-server-')));
  const store = await openSqliteStore({ dataDir });
  const clock = {
    now: Date.now(),
    advance(ms: number) {
      this.now += ms;
    },
  };
  const server = await buildApp({
    store: options.wrapStore?.(store) ?? store,
    now: options.realClock ? Date.now : () => clock.now,
    ...(options.ed === undefined ? {} : { ed: options.ed }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    config: {
      rateLimitPerDevice: { perSecond: 1e6, burst: 1e6 },
      rateLimitPerAddress: { perSecond: 1e6, burst: 1e6 },
      ...options.config,
    },
  });
  const address = await server.app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  return {
    server,
    store,
    dataDir,
    url: address,
    wsUrl: `${address.replace('http', 'ws')}/sync`,
    clock,
    async stop({ keepData = false } = {}) {
      await server.close();
      await store.close();
      if (!keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
};

/** An ISO timestamp, now by default. */
export const iso = (ms = Date.now()): string => new Date(ms).toISOString();

export const http = async (
  base: string,
  method: string,
  url: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: unknown }> => {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + url, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
};
