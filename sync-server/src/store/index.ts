export * from './types';
export * from './shl-types';
export {
  INCARNATION_META_KEY,
  openSqliteStore,
  SQLITE_FILE_NAME,
  SQLITE_SCHEMA_VERSION,
} from './sqlite-store';
export type { SqliteStore, SqliteStoreOptions } from './sqlite-store';
export { backupSqlite, restoreSqlite } from './backup';
export type { BackupOptions, BackupResult, RestoreOptions, RestoreResult } from './backup';
