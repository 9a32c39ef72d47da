/*
 * The mapping of every failure of the SQLite store to a StoreError (argument checks: store-checks.ts).
 *
 * | SQLite error | StoreError |
 * | --- | --- |
 * | PRIMARYKEY / UNIQUE constraint | ALREADY_EXISTS |
 * | FOREIGNKEY constraint | NOT_FOUND |
 * | CHECK / NOT NULL constraint | INVALID |
 * | BUSY, LOCKED, FULL, IOERR, CANTOPEN, READONLY, PROTOCOL; a closed connection | UNAVAILABLE |
 * | anything else | INTERNAL |
 *
 * A StoreError passes unchanged.
 */
import Database from 'better-sqlite3';
import { StoreError, type StoreErrorCode } from './types';

const sqliteCode = (error: unknown): string | undefined =>
  error instanceof Database.SqliteError ? error.code : undefined;

export const toStoreError = (error: unknown): StoreError => {
  if (error instanceof StoreError) return error;
  const code = sqliteCode(error);
  let mapped: StoreErrorCode = 'INTERNAL';
  if (code === undefined) {
    if (error instanceof TypeError && /database connection is not open/i.test(error.message)) {
      mapped = 'UNAVAILABLE';
    }
  } else if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    mapped = 'ALREADY_EXISTS';
  } else if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    mapped = 'NOT_FOUND';
  } else if (code === 'SQLITE_CONSTRAINT_CHECK' || code === 'SQLITE_CONSTRAINT_NOTNULL') {
    mapped = 'INVALID';
  } else if (/^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|PROTOCOL)/.test(code)) {
    mapped = 'UNAVAILABLE';
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StoreError(mapped, message, { cause: error });
};
