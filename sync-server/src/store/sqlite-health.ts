/*
 * The SQLite store's health() (types.ts).
 *
 * Invariants:
 * - ok only if the data directory's disk has `minFreeBytes` free (the store's default: HEALTH_MIN_FREE_BYTES) and a
 *   transaction that writes and removes a heartbeat row in `meta` commits durably; the store is left as it was.
 * - Runs at most once per `intervalMs` (the store's default: 2000) and repeats its last answer in between, so a flood
 *   of health checks cannot become a flood of writes and fsyncs; a closed store is reported at once.
 *
 * Failure modes: none thrown; every failure is an answer with ok: false and a detail.
 */
import { statfsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { MAX_FRAME_BYTES } from '@hale/protocol';
import type { StoreHealth } from './types';
import type { Statements } from './sqlite-statements';

/**
 * `meta` key of health()'s heartbeat, a row written and removed in one transaction: a read would succeed
 * from the page cache on a full or read-only disk, and the removal leaves the store as it was.
 */
export const HEALTH_META_KEY = 'health-heartbeat';

/**
 * Room for the largest write the protocol allows, twice: once into the WAL, once into the database at the
 * checkpoint. A full disk still takes small writes into WAL space freed by the last checkpoint, so the
 * heartbeat alone can pass while every real push fails.
 */
export const HEALTH_MIN_FREE_BYTES = 2 * MAX_FRAME_BYTES;

/** Free bytes for this user on `dir`'s file system, or null where the platform cannot say. */
const freeBytes = (dir: string): number | null => {
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
};

export interface SqliteHealthOptions {
  db: Database.Database;
  /** The data directory, whose file system's free space is checked. */
  dataDir: string;
  /** The database file, the detail of a healthy answer. */
  file: string;
  /** At most one heartbeat per this many milliseconds; the last answer is repeated in between. */
  intervalMs: number;
  /** health() fails while the data directory's file system has less free space. */
  minFreeBytes: number;
  /** True once the store is closed. */
  isClosed: () => boolean;
  /** The prepared statements; throws while the store is closed or not initialised. */
  ready: () => Statements;
}

export const sqliteHealth = ({
  db,
  dataDir,
  file,
  intervalMs,
  minFreeBytes,
  isClosed,
  ready,
}: SqliteHealthOptions): (() => Promise<StoreHealth>) => {
  let lastHealth: { at: number; health: StoreHealth } | null = null;
  let heartbeatDelete: Database.Statement<[string]> | null = null;
  const heartbeatTx = db.transaction((s: Statements) => {
    s.metaPut.run(HEALTH_META_KEY, new Date().toISOString());
    (heartbeatDelete ??= db.prepare<[string]>('DELETE FROM meta WHERE key = ?')).run(HEALTH_META_KEY);
  });

  return async () => {
    if (isClosed() || !db.open) return { ok: false, backend: 'sqlite', detail: 'closed' };
    const now = performance.now();
    if (lastHealth !== null && now - lastHealth.at < intervalMs) return lastHealth.health;
    let health: StoreHealth;
    const free = freeBytes(dataDir);
    if (free !== null && free < minFreeBytes) {
      const detail = `disk nearly full: less than ${minFreeBytes} bytes free for the data directory`;
      health = { ok: false, backend: 'sqlite', detail };
    } else {
      try {
        // Durable like every other write (synchronous=FULL): the WAL must take it and fsync it.
        heartbeatTx(ready());
        health = { ok: true, backend: 'sqlite', detail: file };
      } catch (error) {
        health = {
          ok: false,
          backend: 'sqlite',
          detail: error instanceof Error ? error.message : String(error),
        };
      }
    }
    lastHealth = { at: now, health };
    return health;
  };
};
