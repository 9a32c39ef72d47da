// health() answers whether the store can take a write, not whether it can answer a read: a full or
// read-only disk still serves `SELECT 1` from the page cache. And a flood of health checks must not
// become a flood of writes.
import { statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { http, startServer, type TestServer } from '../testing/harness';
import { HEALTH_META_KEY, openSqliteStore, type SqliteStore } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-health-');
const stores: SqliteStore[] = [];
const servers: TestServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
  for (const store of stores.splice(0)) await store.close();
});

const open = async (options: { healthIntervalMs?: number; healthMinFreeBytes?: number }) => {
  const dataDir = newDir();
  const store = await openSqliteStore({ dataDir, ...options });
  stores.push(store);
  return store;
};

const changes = (store: SqliteStore): number =>
  (store.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;

const metaRows = (store: SqliteStore): number =>
  (store.db.prepare('SELECT count(*) AS n FROM meta').get() as { n: number }).n;

/** Bytes in the store's WAL after emptying it, so that any later commit shows as growth. */
const emptyWal = (store: SqliteStore): (() => number) => {
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  return () => statSync(`${store.file}-wal`).size;
};

describe('store health', () => {
  it('fails while the store cannot write, though it can still read, and recovers with it', async () => {
    const store = await open({ healthIntervalMs: 0 });
    const rows = metaRows(store);
    const walBytes = emptyWal(store);
    expect(walBytes()).toBe(0);
    expect(await store.health()).toMatchObject({ ok: true, backend: 'sqlite' });
    // It committed a write (the WAL took it), and left the store as it was.
    expect(walBytes()).toBeGreaterThan(0);
    expect(await store.meta.get(HEALTH_META_KEY)).toBeNull();
    expect(metaRows(store)).toBe(rows);
    // Writes now fail as on a read-only or failing disk; reads still answer.
    store.db.pragma('query_only = ON');
    expect(await store.meta.get(HEALTH_META_KEY)).toBeNull();
    const failing = await store.health();
    expect(failing).toMatchObject({ ok: false, backend: 'sqlite' });
    expect(failing.detail).toMatch(/readonly/);
    store.db.pragma('query_only = OFF');
    expect(await store.health()).toMatchObject({ ok: true });
  });

  it('fails while the disk has less free space than the largest write needs', async () => {
    const store = await open({ healthIntervalMs: 0, healthMinFreeBytes: Number.MAX_SAFE_INTEGER });
    const walBytes = emptyWal(store);
    const health = await store.health();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/^disk nearly full/);
    // Refused before writing anything.
    expect(walBytes()).toBe(0);
  });

  it('writes at most once per interval and repeats its answer in between, but reports a close at once', async () => {
    const store = await open({ healthIntervalMs: 3_600_000 });
    const before = changes(store);
    for (let i = 0; i < 50; i++) expect((await store.health()).ok).toBe(true);
    // One heartbeat: its insert and its delete.
    expect(changes(store) - before).toBe(2);
    await store.close();
    expect(await store.health()).toMatchObject({ ok: false, detail: 'closed' });
  });

  it('/healthz answers 503 with a typed UNAVAILABLE body while the store cannot write', async () => {
    const t = await startServer();
    servers.push(t);
    t.store.db.pragma('query_only = ON');
    const res = await http(t.url, 'GET', '/healthz');
    t.store.db.pragma('query_only = OFF');
    expect(res.status).toBe(503);
    const body = res.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['code', 'message']);
    expect(body.code).toBe('UNAVAILABLE');
    expect(body.message).toMatch(/^store unavailable: .*readonly/);
  });
});
