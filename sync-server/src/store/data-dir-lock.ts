/*
 * One Hale server process per data directory.
 *
 * Why: SQLite keeps the file consistent across processes, but the server also keeps state that assumes
 * it is alone on its data (the per-patient audit chain lock, the live hub that hears only its own
 * commits). Two processes on one directory could fork the server's audit hash chain, which every patient
 * device then reports as tampering. So whoever opens the store for writing claims the directory first.
 *
 * Mechanism: `<dataDir>/server.lock` is a tiny SQLite database held with locking_mode=EXCLUSIVE after a
 * write transaction, i.e. SQLite's own byte-range locks (fcntl on unix, LockFileEx on Windows), no
 * native dependency. Invariants:
 * - The OS drops the lock when the process ends however it ends (SIGKILL, crash, power loss), so there
 *   is no stale lock to clean up and a crash never blocks the restart. The file itself is left behind
 *   (with server.lock-journal while held or after a kill); its presence means nothing.
 * - Within one process SQLite tracks locks per inode, so a second lock of the same directory is refused
 *   here too; releasing (closing the connection) lets a later open of the same process take it again.
 * - The holder writes its pid into the header's user_version field (offset 60), so a refused process
 *   can name it by reading the header bytes without SQLite (which the exclusive lock would block).
 * - POSIX fcntl locks belong to the process and are ALL dropped when the process closes ANY descriptor
 *   of the file. This process must therefore never open server.lock with node:fs while it holds it: the
 *   pid read below runs only after `held` (keyed by inode, so any path to the directory) has shown that
 *   the holder is another process. SQLite's own connections are safe (its unix VFS defers such closes).
 * - Network file systems may not honour fcntl locks; the data directory belongs on a local disk anyway.
 * - A directory created here is 0700 and a lock file created here 0600 (file-modes.ts); the file is
 *   created before SQLite opens it, and only when missing, so no descriptor of a held lock is closed.
 *
 * Failure modes (StoreError): DATA_DIR_IN_USE (details: dataDir, pid or null) when held elsewhere;
 * UNAVAILABLE when the directory or lock file cannot be created or opened; INTERNAL otherwise.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { createPrivateFile, ensurePrivateDir } from './file-modes';
import { StoreError } from './types';

export const LOCK_FILE_NAME = 'server.lock';

export interface DataDirLock {
  /** Absolute data directory. */
  readonly dataDir: string;
  /** Absolute path of the lock file. */
  readonly file: string;
  /** Gives the directory up; idempotent. The OS does the same when the process ends. */
  release(): void;
}

/** Locks this process holds, by the lock file's `dev:ino` (two paths to one directory are one lock). */
const held = new Set<string>();

const inodeOf = (file: string): string | null => {
  try {
    // stat opens no descriptor, so it cannot drop a lock this process holds (see header).
    const s = statSync(file);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
  }
};

const SQLITE_MAGIC = 'SQLite format 3\0';

/** The holder's pid from the header, or null. Only call when no lock of this process is on `file`. */
const readHolderPid = (file: string): number | null => {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const header = Buffer.alloc(100);
    if (readSync(fd, header, 0, 100, 0) < 100) return null;
    if (header.toString('latin1', 0, 16) !== SQLITE_MAGIC) return null;
    const pid = header.readUInt32BE(60);
    return pid > 0 ? pid : null;
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
};

const inUse = (dataDir: string, pid: number | null, sameProcess: boolean): StoreError =>
  new StoreError(
    'DATA_DIR_IN_USE',
    sameProcess
      ? `${dataDir} is already open in this process (pid ${pid}); close that store first`
      : `another Hale server is using ${dataDir}${pid === null ? '' : ` (pid ${pid})`}; stop it first`,
    { details: { dataDir, pid } },
  );

const sqliteCode = (error: unknown): string => (error instanceof Database.SqliteError ? error.code : '');

/** Errors from the file system or SQLite (they carry a string code) as opposed to bugs. */
const hasCode = (error: unknown): boolean =>
  error instanceof Error && typeof (error as { code?: unknown }).code === 'string';

/**
 * Claims `dataDir` (created if missing) for this process until `release()` or process exit. Throws
 * DATA_DIR_IN_USE at once, without waiting, when another process or store holds it.
 */
export const lockDataDir = (dataDir: string): DataDirLock => {
  const dir = resolve(dataDir);
  const file = join(dir, LOCK_FILE_NAME);
  // Before any descriptor of the file is opened in this process (see header).
  const inode = inodeOf(file);
  if (inode !== null && held.has(inode)) throw inUse(dir, process.pid, true);

  let db: Database.Database | null = null;
  try {
    ensurePrivateDir(dir);
    createPrivateFile(file);
    db = new Database(file, { timeout: 0 });
    // EXCLUSIVE locking mode keeps the lock a write transaction took until the connection closes.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.pragma(`user_version = ${process.pid}`);
    db.exec('COMMIT');
  } catch (error) {
    db?.close();
    const code = sqliteCode(error);
    // Not held by this process (checked above), so reading the holder's pid cannot drop a lock of ours.
    if (/^SQLITE_(BUSY|LOCKED)/.test(code)) throw inUse(dir, readHolderPid(file), false);
    if (/^SQLITE_(NOTADB|CORRUPT)/.test(code)) {
      // A holder only ever writes a valid header: this is foreign garbage or a torn write at power loss.
      const message = `${file} is not a Hale lock file; remove it if no Hale server is running`;
      throw new StoreError('UNAVAILABLE', message, { cause: error });
    }
    const message = `cannot lock data directory ${dir}: ${error instanceof Error ? error.message : String(error)}`;
    throw new StoreError(hasCode(error) ? 'UNAVAILABLE' : 'INTERNAL', message, { cause: error });
  }

  const connection = db;
  const key = inodeOf(file) ?? file;
  held.add(key);
  let released = false;
  return {
    dataDir: dir,
    file,
    release() {
      if (released) return;
      released = true;
      held.delete(key);
      connection.close();
    },
  };
};
