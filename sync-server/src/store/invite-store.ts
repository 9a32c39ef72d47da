/*
 * The store as `hale-sync-server invite` opens it: with the server stopped, or beside the running server.
 *
 * Why a second connection is sound here: the data directory lock (data-dir-lock.ts) keeps a second
 * *server* off the data, because a server's in-process state (the audit chain lock, the live hub) assumes
 * it is alone. Invites are in none of that state: the server reads an invite only inside the registration
 * transaction, so an invite written by another connection counts from the next registration on, and SQLite
 * serialises the writes (WAL, BEGIN IMMEDIATE, busy timeout). So the command never needs the server
 * stopped, an admin port or a token.
 *
 * Invariants:
 * - The store file must exist: the command never creates a store (a mistyped --data-dir would otherwise get
 *   a new, empty store whose invites no server ever reads).
 * - Server stopped (the directory lock is free): the store is opened the ordinary way, claiming the
 *   directory and migrating it like a server start.
 * - Server running (DATA_DIR_IN_USE): opened beside it (`exclusive: false`) only when the file is not at a
 *   newer schema version than this code's, so this command never writes a schema it does not know.
 * - Never beside a restore (a DATA_DIR_IN_USE whose holder is a restore, backup.ts): what it wrote would go
 *   into the store the restore moves aside and be lost (a revocation made after the restore read what to
 *   carry, any new code) while the command reported success. Refused instead, with the lock's one line.
 *   Checked twice: when the claim is refused, and again once the connection beside is open, because a
 *   server may stop and a restore start between the two. From the second check on, a restore that
 *   starts later finds this open connection and refuses to run (backup.ts), unless forced; one that
 *   started before is seen by the check. Were the directory free by then (the server stopped), it is
 *   claimed for as long as the command runs, so no restore starts meanwhile.
 *
 * Failure modes (StoreError): NOT_FOUND when there is no store file; DATA_DIR_IN_USE (details.holder
 * 'restore') while a restore replaces the store; UNAVAILABLE when the file cannot be opened;
 * INTERNAL when it is at a newer schema version (details: schemaVersion, supportedSchemaVersion, as openSqliteStore's);
 * else as openSqliteStore.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { lockDataDir, type DataDirLock } from './data-dir-lock';
import { openSqliteStore, SQLITE_FILE_NAME, SQLITE_SCHEMA_VERSION, type SqliteStore } from './sqlite-store';
import { isStoreError, StoreError } from './types';

export interface InviteStore {
  store: SqliteStore;
  /** True when a running server holds the data directory and the store was opened beside it. */
  besideRunningServer: boolean;
}

const schemaVersionOf = (file: string): number => {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
};

const heldByRestore = (error: StoreError): boolean => error.details?.['holder'] === 'restore';

export const openInviteStore = async (dataDir: string): Promise<InviteStore> => {
  const dir = resolve(dataDir);
  const file = join(dir, SQLITE_FILE_NAME);
  if (!existsSync(file)) {
    throw new StoreError(
      'NOT_FOUND',
      `no Hale store at ${file}: check --data-dir (HALE_DATA_DIR), or start the server once to create it`,
    );
  }
  try {
    return { store: await openSqliteStore({ dataDir: dir }), besideRunningServer: false };
  } catch (error) {
    if (!isStoreError(error, 'DATA_DIR_IN_USE') || heldByRestore(error)) throw error;
  }
  let version: number;
  try {
    version = schemaVersionOf(file);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new StoreError('UNAVAILABLE', `cannot read ${file}: ${why}`, { cause: error });
  }
  if (version > SQLITE_SCHEMA_VERSION) {
    throw new StoreError(
      'INTERNAL',
      `the store is at schema version ${version}, newer than this version of Hale supports ` +
        `(${SQLITE_SCHEMA_VERSION}): run the invite command of the running server's version`,
      { details: { schemaVersion: version, supportedSchemaVersion: SQLITE_SCHEMA_VERSION } },
    );
  }
  const store = await openSqliteStore({ dataDir: dir, exclusive: false });
  // The second check (see header), now that this connection is open.
  let lock: DataDirLock;
  try {
    lock = lockDataDir(dir);
  } catch (error) {
    if (isStoreError(error, 'DATA_DIR_IN_USE') && !heldByRestore(error)) {
      return { store, besideRunningServer: true };
    }
    await store.close();
    throw error;
  }
  const close = store.close.bind(store);
  store.close = async () => {
    try {
      await close();
    } finally {
      lock.release();
    }
  };
  return { store, besideRunningServer: false };
};
