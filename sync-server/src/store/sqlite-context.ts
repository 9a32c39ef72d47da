/*
 * What the SQLite store's modules (sqlite-accounts.ts, sqlite-grants.ts, sqlite-docs.ts, …) are given by
 * openSqliteStore, instead of sharing one closure.
 *
 * | member | what it guarantees |
 * | --- | --- |
 * | db | the open connection; a module builds its transactions on it (db.transaction) |
 * | call | runs one synchronous unit of work with the prepared statements; closed or uninitialised store → UNAVAILABLE, every other failure a StoreError (toStoreError), except an access guard's refusal, which reaches the caller unchanged |
 * | announce | tells every instance of this process open on the file of committed heads, synchronously after COMMIT (in commit order); a throwing listener is reported, never undoes the write |
 */
import type Database from 'better-sqlite3';
import type { StreamHead } from './types';
import type { Statements } from './sqlite-statements';

export interface SqliteContext {
  readonly db: Database.Database;
  readonly call: <T>(work: (s: Statements) => T) => Promise<T>;
  readonly announce: (heads: StreamHead[]) => void;
}
