/*
 * The CouchDB `SyncStore` (types.ts): stateless over a CouchDB 3 cluster (or pouchdb-server), reached
 * through PouchDB's core with pouchdb-adapter-http. Any number of instances (server nodes) may share one.
 *
 * | database         | holds                                                                    |
 * | ---------------- | ------------------------------------------------------------------------ |
 * | `<name>`         | the materialized documents (docs.ts, accounts.ts, grants.ts, blobs.ts, …) |
 * | `<name>-log`     | the shard logs and transaction documents (log.ts), followed by `_changes` |
 *
 * Invariants:
 * - Atomicity and isolation come from the shard logs (log.ts); no node holds state another needs: a
 *   commit a node stopped in the middle of is completed (or aborted) by the next node touching its shards.
 * - Notification (types.ts): local commits are announced to local listeners once applied, synchronously;
 *   commits applied through other instances are announced when this instance's `_changes` follower sees
 *   them marked applied (changes.ts), with the events a live hub acts on (`onRemoteChange`). Own commits
 *   are not announced twice.
 * - No data-directory lock: the store holds no local state. init() creates the databases if missing and
 *   the store's incarnation once (a create: of racing nodes, one wins and all read it).
 * - Requests ask for answers uncompressed (`accept-encoding: identity`): CouchDB does not compress them,
 *   pouchdb-server gzips them when asked, which costs both ends more CPU than the bytes cost on a LAN.
 * - health() is ok only while a read of the data database answers (at most once per `healthIntervalMs`,
 *   repeating its last answer in between); a closed store is reported at once.
 * Failure modes: CouchDB unreachable → UNAVAILABLE (writes are refused, nothing is acknowledged; the store
 * recovers by itself when CouchDB answers again); closed → UNAVAILABLE; see db.ts for the mapping.
 */
import { randomUUID } from 'node:crypto';
import PouchDB from 'pouchdb-core';
import httpAdapter from 'pouchdb-adapter-http';
import { newIncarnation, INCARNATION_META_KEY } from '../sqlite-store';
import {
  StoreError,
  type CommitListener,
  type ProviderEntry,
  type RemoteChange,
  type StoreHealth,
  type SyncStore,
} from '../types';
import { couchAccounts } from './accounts';
import { couchAvailability } from './availability';
import { couchBlobs } from './blobs';
import { couchErase } from './erase';
import { followCommits } from './changes';
import type { Ctx } from './context';
import { key, wrapDb, type Db } from './db';
import { couchDocs, couchHeads } from './docs';
import { couchGrants } from './grants';
import { couchShl, type CouchShl } from './shl';
import { couchImport, type CouchImport } from './migration-writes';
import { createShardLog } from './log';
import { isGone } from './ops';
import { pickLeaf } from './conflicts';
import { invalid, requireText } from '../store-checks';

const Pouch = PouchDB.plugin(httpAdapter);

export interface CouchStoreOptions {
  /** CouchDB's URL, credentials included if it needs them (`http://user:pass@host:5984`). */
  url: string;
  /** Name of the data database (default `hale`); the log database is `<name>-log`. */
  database?: string;
  /** This instance's id in commits (default random): its own commits are not announced twice. */
  node?: string;
  /** Milliseconds a request may take before it counts as unreachable (default 10 s). */
  requestTimeoutMs?: number;
  healthIntervalMs?: number;
  onListenerError?: (error: unknown) => void;
  /** The HTTP client (default the global fetch): a test may fail requests at a chosen moment. */
  fetch?: typeof fetch;
}

export interface CouchStore extends SyncStore {
  readonly url: string;
  readonly node: string;
  onRemoteChange(listener: (change: RemoteChange) => void): () => void;
  /** Stores `value` under meta `key` only if the key holds none (of racing nodes, the first wins). */
  createMeta(key: string, value: string): Promise<void>;
  /** True while nothing was ever committed to this store (a migration's target must be). */
  isEmpty(): Promise<boolean>;
  /** What only `migrate` writes (migration-writes.ts). */
  readonly migration: CouchImport;
  readonly shl: CouchShl;
}

/** The URL without its credentials, for logs and health details. */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid url)';
  }
};

const SEARCH_SEPARATOR = '\u0001';
/** ASCII case folding, as SQLite's NOCASE orders directory entries. */
const nocase = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

export const openCouchStore = async (options: CouchStoreOptions): Promise<CouchStore> => {
  // fetch refuses a URL holding credentials: they travel as a Basic authorization header instead.
  const parsed = new URL(options.url);
  const authorization =
    parsed.username === ''
      ? null
      : `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`;
  parsed.username = '';
  parsed.password = '';
  const base = parsed.toString().replace(/\/+$/, '');
  const name = options.database ?? 'hale';
  const node = options.node ?? randomUUID();
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const report =
    options.onListenerError ?? ((error: unknown) => console.error('[store] commit listener failed', error));
  const fetchImpl = options.fetch ?? fetch;
  /** Credentials, and answers uncompressed (pouchdb-server gzips them when asked: CPU on both ends). */
  const withHeaders = (init: RequestInit): RequestInit => {
    const headers = new Headers(init.headers);
    headers.set('accept-encoding', 'identity');
    if (authorization !== null) headers.set('authorization', authorization);
    return { ...init, headers };
  };
  const fetchWithTimeout = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const response = await fetchImpl(
      url,
      withHeaders({ ...init, signal: init.signal ?? AbortSignal.timeout(timeoutMs) }),
    );
    // 202: a cluster stored the write on fewer than `w` copies (a partition): not acknowledged as written
    // (conflicts.ts). Answered as a 503, which the store maps to UNAVAILABLE and does not repeat.
    if (response.status === 202 && (init.method ?? 'GET') !== 'GET') {
      return new Response(
        JSON.stringify({ error: 'unavailable', reason: 'write accepted by fewer than w copies' }),
        {
          status: 503,
          headers: { 'content-type': 'application/json' },
        },
      );
    }
    return response;
  };
  const pouchOptions = { fetch: fetchWithTimeout, skip_setup: true };
  const rawData = new Pouch(`${base}/${name}`, pouchOptions);
  const rawLog = new Pouch(`${base}/${name}-log`, pouchOptions);
  let closed = false;
  let initialised = false;
  const guard = (): void => {
    if (closed) throw new StoreError('UNAVAILABLE', 'store is closed');
  };
  const data: Db = wrapDb(rawData, guard, pickLeaf);
  const logDb: Db = wrapDb(rawLog, guard);
  const listeners = new Set<CommitListener>();
  const remote = new Set<(change: RemoteChange) => void>();
  const linkAccesses = new Set<(access: { patientId: string; linkId: string }) => void>();
  const tell = <T>(set: Set<(value: T) => void>, value: T): void => {
    for (const listener of [...set]) {
      try {
        listener(value);
      } catch (error) {
        report(error);
      }
    }
  };
  const deliver: CommitListener = (heads) => {
    if (heads.length === 0) return;
    for (const listener of [...listeners]) {
      try {
        listener(heads);
      } catch (error) {
        report(error);
      }
    }
  };
  const ctx: Ctx = { data, log: createShardLog(logDb, data, node), node, announce: deliver };
  let follower: { stop(): void } | null = null;
  const eraser = couchErase(ctx);
  const accountParts = couchAccounts(ctx);

  const ensureDb = async (url: string): Promise<void> => {
    const response = await fetchImpl(
      url,
      withHeaders({ method: 'PUT', signal: AbortSignal.timeout(timeoutMs) }),
    ).catch((error: unknown) => {
      const reason =
        error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new StoreError('UNAVAILABLE', reason, { cause: error });
    });
    if (response.status !== 201 && response.status !== 202 && response.status !== 412) {
      throw new StoreError(
        response.status >= 500 ? 'UNAVAILABLE' : 'INTERNAL',
        `could not create database: HTTP ${response.status}`,
      );
    }
  };

  const metaGet = async (id: string): Promise<{ value: string; at?: string } | null> => {
    const doc = await data.get(id);
    return doc === null || isGone(doc)
      ? null
      : { value: doc.value as string, ...(typeof doc.at === 'string' ? { at: doc.at } : {}) };
  };
  const metaPut = async (id: string, fields: Record<string, unknown>): Promise<void> => {
    for (;;) {
      const current = await data.get(id);
      const doc = { _id: id, ...fields, ...(current?._rev === undefined ? {} : { _rev: current._rev }) };
      if (await data.put(doc)) return;
    }
  };

  const init = async (): Promise<void> => {
    guard();
    if (initialised) return;
    await ensureDb(`${base}/${name}`);
    await ensureDb(`${base}/${name}-log`);
    await data.create({ _id: key('M', INCARNATION_META_KEY), value: newIncarnation() });
    follower = followCommits(rawLog, {
      node,
      onHeads: deliver,
      onChange: (change) => tell(remote, change),
      onLinkAccess: (access) => tell(linkAccesses, access),
      onError: () => undefined,
    });
    initialised = true;
    // Erasures a stopped node left half done (erase.ts): finished in the background; a failure waits
    // for the next start or an erase of the account.
    eraser.finishPending().catch((error: unknown) => {
      if (!closed) report(error);
    });
  };

  const healthIntervalMs = options.healthIntervalMs ?? 1000;
  let lastHealth: { at: number; health: StoreHealth } | null = null;

  const store: CouchStore = {
    url: redactUrl(base),
    node,
    init,
    close: async () => {
      if (closed) return;
      closed = true;
      listeners.clear();
      remote.clear();
      linkAccesses.clear();
      follower?.stop();
      await Promise.allSettled([rawData.close(), rawLog.close()]);
    },
    health: async () => {
      if (closed) return { ok: false, backend: 'couchdb', detail: 'closed' };
      const now = performance.now();
      if (lastHealth !== null && now - lastHealth.at < healthIntervalMs) return lastHealth.health;
      let health: StoreHealth;
      try {
        await rawData.info();
        health = { ok: true, backend: 'couchdb', detail: `${redactUrl(base)}/${name}` };
      } catch (error) {
        health = {
          ok: false,
          backend: 'couchdb',
          detail: `CouchDB unreachable: ${error instanceof Error ? error.message : String(error)}`,
        };
      }
      lastHealth = { at: now, health };
      return health;
    },
    ...accountParts,
    accounts: { ...accountParts.accounts, erase: (accountId) => eraser.erase(accountId) },
    ...couchGrants(ctx),
    ...couchBlobs(ctx),
    docs: couchDocs(ctx),
    heads: couchHeads(ctx),
    availability: couchAvailability(data),
    shl: {
      ...couchShl(ctx),
      onRemoteAccess(listener) {
        linkAccesses.add(listener);
        return () => {
          linkAccesses.delete(listener);
        };
      },
    },
    directory: {
      putProvider: async (p) => {
        requireText(p.accountId, 'accountId');
        const search = [p.displayName, p.specialty, p.clinic, p.identifier]
          .map((f) => f.toLowerCase())
          .join(SEARCH_SEPARATOR);
        await metaPut(key('P', p.accountId), { entry: p, search });
      },
      searchProviders: async (q, limit, after) => {
        if (!Number.isSafeInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
        const needle = q.toLowerCase().replaceAll(SEARCH_SEPARATOR, '');
        const order = (a: ProviderEntry, b: ProviderEntry): number => {
          const [x, y] = [nocase(a.displayName), nocase(b.displayName)];
          if (x !== y) return x < y ? -1 : 1;
          return a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0;
        };
        const bound =
          after === undefined
            ? null
            : ({ displayName: after.displayName, accountId: after.accountId } as ProviderEntry);
        return (await data.range('P|'))
          .filter((d) => !isGone(d) && (d.search as string).includes(needle))
          .map((d) => ({ ...(d.entry as ProviderEntry) }))
          .filter((e) => bound === null || order(e, bound) > 0)
          .sort(order)
          .slice(0, limit);
      },
    },
    meta: {
      get: async (k) => (await metaGet(key('M', k)))?.value ?? null,
      put: (k, value) => metaPut(key('M', k), { value }),
    },
    serverState: {
      get: async (k) => {
        const found = await metaGet(key('SS', k));
        return found === null ? null : { value: found.value, at: found.at ?? '' };
      },
      put: async (k, value, at) => {
        requireText(at, 'at');
        await metaPut(key('SS', k), { value, at });
      },
    },
    onCommitted(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    isEmpty: async () => (await logDb.range('l|', { limit: 1, includeDocs: false })).length === 0,
    migration: couchImport(ctx),
    createMeta: async (k, value) => {
      await data.create({ _id: key('M', k), value });
    },
    onRemoteChange(listener) {
      remote.add(listener);
      return () => {
        remote.delete(listener);
      };
    },
  };
  return store;
};
