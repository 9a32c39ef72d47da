/*
 * Embedded `SyncStore` on one SQLite file (better-sqlite3) in the data directory: opening, closing and the
 * commit announcements; each part of the interface is a module of its own, given a SqliteContext.
 *
 * | module | holds |
 * | --- | --- |
 * | sqlite-schema.ts | the schema: its baseline and migrations (user_version) |
 * | sqlite-statements.ts, sqlite-rows.ts, sqlite-errors.ts | prepared statements, row mapping, error mapping (argument checks: store-checks.ts) |
 * | sqlite-accounts.ts, sqlite-sessions.ts | accounts, devices, invites, registration; challenges, sessions |
 * | sqlite-grants.ts, sqlite-guard.ts | grants, acceptances; access guards on writes |
 * | sqlite-docs.ts, sqlite-envelopes.ts, sqlite-blobs.ts | documents and sequences, key envelopes, blobs |
 * | sqlite-directory.ts, sqlite-health.ts, sqlite-incarnation.ts | provider directory, health(), the store's identity |
 * | sqlite-heads.ts, sqlite-shl.ts, sqlite-erase.ts | signed heads, SMART Health Links, account erasure |
 *
 * Invariants:
 * - journal_mode=WAL with synchronous=FULL: FULL fsyncs the WAL on every commit, which "acknowledged =
 *   durable" needs (NORMAL syncs only at checkpoints, so a power loss could roll back acknowledged writes).
 * - Every write that reads before it writes is one BEGIN IMMEDIATE transaction: the write lock is taken up
 *   front, so other connections and processes on the same file serialise instead of racing.
 * - Commit listeners run synchronously after COMMIT returns, for every instance of this process open on
 *   the same file; a throwing listener is reported, never undoes or fails the committed write.
 * - secure_delete=ON: SQLite zeroes what it frees, so deleted bytes are not left readable in the file (the
 *   WAL's older frames keep them until overwritten; backups taken before keep them).
 * - One open store per data directory, across processes: opening claims the directory (data-dir-lock.ts)
 *   before the database file is touched, and close() gives it up after the connection is closed; the OS
 *   drops it if the process dies. `exclusive: false` skips the claim for tools and tests.
 * - A data directory holding a non-empty -wal but no database file is refused: SQLite would start an empty
 *   database there and delete the -wal. Only restore (backup.ts) replaces files.
 * - What the open creates is the server user's only: the directory 0700, the database file 0600 before
 *   SQLite opens it (its -wal and -shm take the file's mode).
 * - `server_state` holds what the server process records at start (one statement per key); a restore
 *   leaves the backup's rows, which the restored store's next start overwrites.
 *
 * Failure modes: data directory held by another process or store → DATA_DIR_IN_USE (nothing changed); a
 * -wal without its database file → INTERNAL; a closed store → UNAVAILABLE; the rest as sqlite-errors.ts
 * maps it.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { lockDataDir, type DataDirLock } from './data-dir-lock';
import { createPrivateFile, ensurePrivateDir } from './file-modes';
import { StoreError, type CommitListener, type StreamHead, type SyncStore } from './types';
import { sqliteHeads } from './sqlite-heads';
import { sqliteShl } from './sqlite-shl';
import { migrateSqliteSchema } from './sqlite-schema';
import { INCARNATION_META_KEY, newIncarnation } from './sqlite-incarnation';
import { prepareStatements, type Statements } from './sqlite-statements';
import { requireText } from './store-checks';
import { toStoreError } from './sqlite-errors';
import { GuardRefused } from './sqlite-guard';
import type { SqliteContext } from './sqlite-context';
import { sqliteAccounts } from './sqlite-accounts';
import { sqliteSessions } from './sqlite-sessions';
import { sqliteGrants } from './sqlite-grants';
import { sqliteDocs } from './sqlite-docs';
import { sqliteEnvelopes } from './sqlite-envelopes';
import { sqliteBlobs } from './sqlite-blobs';
import { sqliteDirectory } from './sqlite-directory';
import { HEALTH_MIN_FREE_BYTES, sqliteHealth } from './sqlite-health';

export {
  INCARNATION_META_KEY,
  RESTORE_ORIGIN_META_KEY,
  RestoreOrigin,
  newIncarnation,
  restoreOrigin,
} from './sqlite-incarnation';
export { SQLITE_SCHEMA_VERSION } from './sqlite-schema';
export { ENVELOPE_ON_CONFLICT_SQL } from './sqlite-statements';
export { HEALTH_META_KEY, HEALTH_MIN_FREE_BYTES } from './sqlite-health';

export const SQLITE_FILE_NAME = 'hale.sqlite';

export interface SqliteStoreOptions {
  dataDir: string;
  /** Defaults to `hale.sqlite`. */
  fileName?: string;
  /** How long a call waits for another connection's write lock before UNAVAILABLE. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Receives errors thrown by commit listeners. Default: console.error. */
  onListenerError?: (error: unknown) => void;
  /**
   * Claim the data directory for this store (default true): a second claim, from another process or
   * this one, fails with DATA_DIR_IN_USE. false is only for tools and tests that write beside a running
   * store on purpose; such writes bypass the server's in-process state (audit chain lock, live hub).
   */
  exclusive?: boolean;
  /**
   * health() writes a heartbeat at most once per this many milliseconds (default 2000) and repeats its
   * last answer in between, so a flood of health checks cannot become a flood of writes and fsyncs.
   */
  healthIntervalMs?: number;
  /** health() fails while the data directory's file system has less free space (default HEALTH_MIN_FREE_BYTES). */
  healthMinFreeBytes?: number;
}

export interface SqliteStore extends SyncStore {
  /** Absolute path of the database file. */
  readonly file: string;
  /** The raw connection, for online backup and maintenance. Writing through it bypasses the contract. */
  readonly db: Database.Database;
}

// Commit notifications reach every instance of this process open on the same file.
const openInstances = new Map<string, Set<(heads: StreamHead[]) => void>>();

/** True while a store of this process has `file` open (used by restore to refuse clobbering it). */
export const isSqliteFileOpenInProcess = (file: string): boolean =>
  (openInstances.get(resolve(file))?.size ?? 0) > 0;

/**
 * A -wal holding anything with no database file beside it is what an interrupted move of the files leaves
 * (an operator's copy). SQLite would create an empty database and delete the -wal, so
 * the server would start on an empty store, silently: refused instead (INTERNAL), both left as they are.
 */
const refuseOrphanWal = (file: string): void => {
  if (existsSync(file)) return;
  let walBytes: number;
  try {
    walBytes = statSync(`${file}-wal`).size;
  } catch {
    return;
  }
  if (walBytes === 0) return;
  throw new StoreError(
    'INTERNAL',
    `${file}-wal exists without ${file}: a move of the store's files was interrupted. Put the database ` +
      `file back (a restore keeps the replaced one as ${basename(file)}.replaced-<time>), or remove the ` +
      '-wal to start with an empty store',
    { details: { file } },
  );
};

/** Opens (creating if needed) `<dataDir>/hale.sqlite`, applies migrations and returns the ready store. */
export const openSqliteStore = async (options: SqliteStoreOptions): Promise<SqliteStore> => {
  const dataDir = resolve(options.dataDir);
  const file = join(dataDir, options.fileName ?? SQLITE_FILE_NAME);
  const reportListenerError =
    options.onListenerError ??
    ((error: unknown) => {
      console.error('[store] commit listener failed', error);
    });

  // Claimed before the database file is opened, so a refused open creates and migrates nothing.
  const lock: DataDirLock | null = (options.exclusive ?? true) ? lockDataDir(dataDir) : null;
  let db: Database.Database;
  try {
    refuseOrphanWal(file);
    // 0700 and 0600 (file-modes.ts); SQLite gives the -wal and -shm files the database file's mode.
    ensurePrivateDir(dataDir);
    createPrivateFile(file);
    db = new Database(file, { timeout: options.busyTimeoutMs ?? 5000 });
  } catch (error) {
    lock?.release();
    throw toStoreError(error);
  }

  let stmts: Statements | null = null;
  let closed = false;
  const listeners = new Set<CommitListener>();

  const deliver = (heads: StreamHead[]): void => {
    for (const listener of [...listeners]) {
      try {
        listener(heads);
      } catch (error) {
        reportListenerError(error);
      }
    }
  };

  const ready = (): Statements => {
    if (closed || !db.open) throw new StoreError('UNAVAILABLE', 'store is closed');
    if (stmts === null) throw new StoreError('UNAVAILABLE', 'store is not initialised');
    return stmts;
  };

  /** Runs one synchronous unit of work, mapping every failure to a StoreError rejection. */
  const call = async <T>(work: (s: Statements) => T): Promise<T> => {
    try {
      return work(ready());
    } catch (error) {
      if (error instanceof GuardRefused) throw error.reason;
      throw toStoreError(error);
    }
  };

  const init = async (): Promise<void> => {
    if (closed) throw new StoreError('UNAVAILABLE', 'store is closed');
    if (stmts !== null) return;
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('recursive_triggers = ON');
      db.pragma('cache_size = -32768');
      db.pragma('journal_size_limit = 67108864');
      // Freed pages and cell space are zeroed, not left in the file: a deleted blob's bytes (and a
      // superseded document's ciphertext) are gone from the database file once checkpointed. It must hold
      // for every write, not only deletions: b-tree rebalancing leaves copies of cells behind otherwise.
      db.pragma('secure_delete = ON');
      migrateSqliteSchema(db);
      stmts = prepareStatements(db);
      // Read first: the common case (it exists) writes nothing at open.
      if (stmts.metaGet.get(INCARNATION_META_KEY) === undefined) {
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(
          INCARNATION_META_KEY,
          newIncarnation(),
        );
      }
    } catch (error) {
      closed = true;
      try {
        db.close();
      } finally {
        lock?.release();
      }
      throw toStoreError(error);
    }
    let peers = openInstances.get(file);
    if (peers === undefined) {
      peers = new Set();
      openInstances.set(file, peers);
    }
    peers.add(deliver);
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    listeners.clear();
    const peers = openInstances.get(file);
    peers?.delete(deliver);
    if (peers?.size === 0) openInstances.delete(file);
    stmts = null;
    try {
      db.close();
    } catch (error) {
      throw toStoreError(error);
    } finally {
      // After the connection is closed, so the next holder never overlaps with this one.
      lock?.release();
    }
  };

  /** Tells every instance open on this file of committed heads, as writeDocs does (in commit order). */
  const announce = (heads: StreamHead[]): void => {
    if (heads.length === 0) return;
    for (const peer of [...(openInstances.get(file) ?? [])]) peer(heads);
  };

  const ctx: SqliteContext = { db, call, announce };

  const store: SqliteStore = {
    file,
    db,
    init,
    close,

    health: sqliteHealth({
      db,
      dataDir,
      file,
      intervalMs: options.healthIntervalMs ?? 2000,
      minFreeBytes: options.healthMinFreeBytes ?? HEALTH_MIN_FREE_BYTES,
      isClosed: () => closed,
      ready,
    }),

    ...sqliteAccounts(ctx),
    ...sqliteSessions(ctx),
    ...sqliteGrants(ctx),
    ...sqliteDocs(ctx),
    ...sqliteEnvelopes(ctx),
    ...sqliteBlobs(ctx),
    ...sqliteDirectory(ctx),

    meta: {
      get: (key) => call((s) => s.metaGet.get(key)?.value ?? null),
      put: (key, value) =>
        call((s) => {
          s.metaPut.run(key, value);
        }),
    },

    heads: sqliteHeads(db, (work) => call(() => work())),

    shl: sqliteShl(db, (work) => call(() => work())),

    serverState: {
      get: (key) =>
        call((s) => {
          const row = s.serverStateGet.get(key);
          return row === undefined ? null : { value: row.value, at: row.updated_at };
        }),
      put: (key, value, at) =>
        call((s) => {
          requireText(at, 'at');
          s.serverStatePut.run(key, value, at);
        }),
    },

    onCommitted(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };

  await init();
  return store;
};
