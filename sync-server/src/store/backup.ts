/*
 * Online backup and restore of the SQLite store.
 *
 * Invariants:
 * - backupSqlite uses SQLite's online backup API (better-sqlite3 `db.backup()`), which copies pages in
 *   steps between event-loop turns, so the server keeps serving. Writes made through the same connection
 *   during the copy are carried into the backup; a write from another connection restarts the copy. The
 *   copy goes to a temporary file beside the destination, is checked and fsynced, and only then renamed
 *   onto the destination, so a crash never leaves a half-written file under the backup's name.
 * - Backing up from a file path opens it read-only and takes no data directory lock, so it works while a
 *   server runs on that directory (the `backup` command does this from a second process).
 * - restoreSqlite never touches the live file until the backup copy has passed PRAGMA integrity_check
 *   and carries a schema version this code understands. It claims the data directory like a server
 *   (data-dir-lock.ts) for its whole run, so it refuses a directory a server holds, even with force (that
 *   server would keep writing into the file moved aside, losing acknowledged writes), and no server can
 *   start mid-restore. It also refuses (UNAVAILABLE) while any other connection holds the target open,
 *   unless forced; the replaced file (with its -wal) is renamed aside, not deleted.
 *
 * Failure modes (StoreError): INVALID for a backup that does not open, fails the integrity check or has an
 * unknown schema, or a destination equal to the live file; NOT_FOUND for a missing backup file;
 * DATA_DIR_IN_USE when a server (or an open store of this process) holds the target directory;
 * UNAVAILABLE when another connection has the target store open; INTERNAL for anything else. Backups hold every secret the
 * store holds (e.g. the server's signing seed in meta): protect them like the data directory.
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { lockDataDir } from './data-dir-lock';
import {
  SQLITE_FILE_NAME,
  SQLITE_SCHEMA_VERSION,
  isSqliteFileOpenInProcess,
  type SqliteStore,
} from './sqlite-store';
import { StoreError } from './types';

export interface BackupOptions {
  /** Pages copied per event-loop turn (default 256): smaller yields more often to the server. */
  pagesPerStep?: number;
  /** Run PRAGMA quick_check on the copy before publishing it (default true). */
  verify?: boolean;
}

export interface BackupResult {
  file: string;
  bytes: number;
  pages: number;
  durationMs: number;
}

export interface RestoreOptions {
  /** Replace the store even though a connection holds it open (the old file is still moved aside). */
  force?: boolean;
  /** Defaults to `hale.sqlite`. */
  fileName?: string;
}

export interface RestoreResult {
  file: string;
  /** Where the replaced store was moved, or null when there was none. */
  movedAside: string | null;
}

const SIDE_FILES = ['-wal', '-shm'] as const;

const stamp = (): string => new Date().toISOString().replace(/[:.]/g, '-');

const tempName = (target: string, tag: string): string =>
  join(dirname(target), `.${basename(target)}.${tag}-${stamp()}-${Math.random().toString(36).slice(2, 8)}`);

const syncFile = (file: string): void => {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
};

const syncDir = (dir: string): void => {
  try {
    syncFile(dir);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic there.
  }
};

const removeWithSideFiles = (file: string): void => {
  for (const suffix of ['', ...SIDE_FILES, '-journal']) rmSync(file + suffix, { force: true });
};

const wrap = (error: unknown, fallback: string): StoreError =>
  error instanceof StoreError
    ? error
    : new StoreError('INTERNAL', `${fallback}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });

/** Copies a live store (or a store file path) to `destFile` without stopping writers. */
export const backupSqlite = async (
  source: SqliteStore | string,
  destFile: string,
  options: BackupOptions = {},
): Promise<BackupResult> => {
  if (destFile.trim() === '') throw new StoreError('INVALID', 'backup destination is empty');
  const dest = resolve(destFile);
  const sourceFile = typeof source === 'string' ? resolve(source) : source.file;
  if (dest === sourceFile || SIDE_FILES.some((s) => dest === sourceFile + s)) {
    throw new StoreError('INVALID', 'backup destination is the live store file');
  }
  if (typeof source !== 'string' && !source.db.open) throw new StoreError('UNAVAILABLE', 'store is closed');
  if (typeof source === 'string' && !existsSync(sourceFile)) {
    throw new StoreError('NOT_FOUND', `no store file at ${sourceFile}`);
  }
  const started = Date.now();
  const temp = tempName(dest, 'partial');
  let db: Database.Database | null = null;
  try {
    mkdirSync(dirname(dest), { recursive: true });
    db =
      typeof source === 'string'
        ? new Database(sourceFile, { readonly: true, fileMustExist: true })
        : source.db;
    const pagesPerStep = options.pagesPerStep ?? 256;
    const meta = await db.backup(temp, { progress: () => pagesPerStep });
    if (options.verify ?? true) {
      const check = new Database(temp, { fileMustExist: true });
      try {
        const result = check.pragma('quick_check', { simple: true });
        if (result !== 'ok')
          throw new StoreError('INTERNAL', `backup copy failed quick_check: ${String(result)}`);
      } finally {
        check.close();
      }
    }
    syncFile(temp);
    // Side files of an older backup under this name would be replayed onto the new copy.
    for (const suffix of SIDE_FILES) rmSync(dest + suffix, { force: true });
    renameSync(temp, dest);
    syncDir(dirname(dest));
    return {
      file: dest,
      bytes: statSync(dest).size,
      pages: meta.totalPages,
      durationMs: Date.now() - started,
    };
  } catch (error) {
    removeWithSideFiles(temp);
    throw wrap(error, 'backup failed');
  } finally {
    if (typeof source === 'string') db?.close();
  }
};

/** Throws INVALID unless `file` opens, passes integrity_check and carries a schema this code knows. */
const verifyCopy = (file: string): void => {
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true });
  } catch (error) {
    throw new StoreError('INVALID', 'backup does not open as SQLite', { cause: error });
  }
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok')
      throw new StoreError('INVALID', `backup fails integrity_check: ${String(integrity)}`);
    const version = db.pragma('user_version', { simple: true });
    if (typeof version !== 'number' || version < 1 || version > SQLITE_SCHEMA_VERSION) {
      throw new StoreError('INVALID', `backup has unsupported schema version ${String(version)}`);
    }
    const docs = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'docs'").get();
    if (docs === undefined) throw new StoreError('INVALID', 'backup is not a Hale store');
    db.pragma('journal_mode = WAL');
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw new StoreError(
      'INVALID',
      `backup is unreadable: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  } finally {
    db.close();
  }
};

/**
 * True when some connection (this process or another) holds the file open: an exclusive-mode
 * connection cannot take the lock then, even in WAL mode.
 */
const isLockedByOthers = (file: string): boolean => {
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    return false;
  } catch (error) {
    const code = error instanceof Database.SqliteError ? error.code : '';
    return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
  } finally {
    db?.close();
  }
};

/** Replaces the store in `dataDir` with a checked copy of `backupFile`; the old store is moved aside. */
export const restoreSqlite = async (
  backupFile: string,
  dataDir: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> => {
  const from = resolve(backupFile);
  const target = join(resolve(dataDir), options.fileName ?? SQLITE_FILE_NAME);
  if (!existsSync(from)) throw new StoreError('NOT_FOUND', `backup file ${from} does not exist`);
  if (from === target) throw new StoreError('INVALID', 'backup file is the store file itself');

  // First, before anything is copied: a running server refuses the restore at once; force does not
  // override it (see header).
  const lock = lockDataDir(dataDir);
  const staging = tempName(target, 'restore');
  try {
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(from, staging);
    verifyCopy(staging);
    syncFile(staging);

    if (existsSync(target) && options.force !== true) {
      if (isSqliteFileOpenInProcess(target) || isLockedByOthers(target)) {
        throw new StoreError(
          'UNAVAILABLE',
          `store ${target} is open in another connection; close it or restore with force`,
        );
      }
    }

    // A leftover -wal must go too, even without a main file: SQLite would replay it onto the new file.
    let movedAside: string | null = null;
    const present = ['', ...SIDE_FILES].filter((suffix) => existsSync(target + suffix));
    if (present.length > 0) {
      const aside = `${target}.replaced-${stamp()}`;
      for (const suffix of present) renameSync(target + suffix, aside + suffix);
      movedAside = aside;
    }
    renameSync(staging, target);
    syncDir(dirname(target));
    return { file: target, movedAside };
  } catch (error) {
    removeWithSideFiles(staging);
    throw wrap(error, 'restore failed');
  } finally {
    lock.release();
  }
};
