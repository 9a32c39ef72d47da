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
 *   can name it by reading the header bytes without SQLite (which the exclusive lock would block), and
 *   what it is into application_id (offset 68, in the same transaction): 0 for a store (a server, or
 *   `invite` on a stopped server's store), RESTORE_HOLDER_ID for a restore. Refused processes must tell
 *   them apart: `invite` writes beside a running server, but a write beside a restore lands in the store
 *   the restore is about to move aside and is lost (invite-store.ts); and "stop it first" is the wrong
 *   advice for a restore.
 * - POSIX fcntl locks belong to the process and are ALL dropped when the process closes ANY descriptor
 *   of the file. This process must therefore never open server.lock with node:fs while it holds it: the
 *   pid read below runs only after `held` (keyed by inode, so any path to the directory) has shown that
 *   the holder is another process. SQLite's own connections are safe (its unix VFS defers such closes).
 * - Network file systems may not honour fcntl locks; the data directory belongs on a local disk anyway.
 * - A directory created here is 0700 and a lock file created here 0600 (file-modes.ts); the file is
 *   created before SQLite opens it, and only when missing, so no descriptor of a held lock is closed.
 *
 * Failure modes (StoreError): DATA_DIR_IN_USE (details: dataDir, pid or null, holder) when held elsewhere;
 * UNAVAILABLE when the directory or lock file cannot be created or opened; INTERNAL otherwise.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { createPrivateFile, ensurePrivateDir } from './file-modes';
import { StoreError } from './types';

export const LOCK_FILE_NAME = 'server.lock';

/** Who claims a data directory: an open store (a server, `invite`), or a restore replacing the store. */
export type LockHolder = 'store' | 'restore';

/** application_id of a lock file a restore holds ('REST'); a store writes 0. */
const RESTORE_HOLDER_ID = 0x52455354;

export interface DataDirLock {
  /** Absolute data directory. */
  readonly dataDir: string;
  /** Absolute path of the lock file. */
  readonly file: string;
  /** Gives the directory up; idempotent. The OS does the same when the process ends. */
  release(): void;
}

/** Locks this process holds, by the lock file's `dev:ino` (two paths to one directory are one lock). */
const held = new Map<string, LockHolder>();

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

/**
 * The holder's pid (null when unreadable) and kind from the header. Only call when no lock of this process
 * is on `file`.
 */
const readHolder = (file: string): { pid: number | null; holder: LockHolder } => {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const header = Buffer.alloc(100);
    if (readSync(fd, header, 0, 100, 0) < 100) return { pid: null, holder: 'store' };
    if (header.toString('latin1', 0, 16) !== SQLITE_MAGIC) return { pid: null, holder: 'store' };
    const pid = header.readUInt32BE(60);
    const holder = header.readUInt32BE(68) === RESTORE_HOLDER_ID ? 'restore' : 'store';
    return { pid: pid > 0 ? pid : null, holder };
  } catch {
    return { pid: null, holder: 'store' };
  } finally {
    if (fd !== null) closeSync(fd);
  }
};

const inUse = (dataDir: string, pid: number | null, holder: LockHolder, sameProcess: boolean): StoreError => {
  const by = pid === null ? '' : ` (pid ${pid})`;
  const message =
    holder === 'restore'
      ? `a restore is replacing the store in ${dataDir}${by}; run this again once it has finished`
      : sameProcess
        ? `${dataDir} is already open in this process${by}; close that store first`
        : `another Hale server is using ${dataDir}${by}; stop it first`;
  return new StoreError('DATA_DIR_IN_USE', message, { details: { dataDir, pid, holder } });
};

const sqliteCode = (error: unknown): string => (error instanceof Database.SqliteError ? error.code : '');

/** Errors from the file system or SQLite (they carry a string code) as opposed to bugs. */
const hasCode = (error: unknown): boolean =>
  error instanceof Error && typeof (error as { code?: unknown }).code === 'string';

/**
 * Claims `dataDir` (created if missing) for this process until `release()` or process exit, as `holder`
 * (default 'store'). Throws DATA_DIR_IN_USE at once, without waiting, when another process or store holds it.
 */
export const lockDataDir = (dataDir: string, holder: LockHolder = 'store'): DataDirLock => {
  const dir = resolve(dataDir);
  const file = join(dir, LOCK_FILE_NAME);
  // Before any descriptor of the file is opened in this process (see header).
  const inode = inodeOf(file);
  const heldHere = inode === null ? undefined : held.get(inode);
  if (heldHere !== undefined) throw inUse(dir, process.pid, heldHere, true);

  let db: Database.Database | null = null;
  try {
    ensurePrivateDir(dir);
    createPrivateFile(file);
    db = new Database(file, { timeout: 0 });
    // EXCLUSIVE locking mode keeps the lock a write transaction took until the connection closes.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.pragma(`user_version = ${process.pid}`);
    // Always written: the file may be left from a holder of the other kind.
    db.pragma(`application_id = ${holder === 'restore' ? RESTORE_HOLDER_ID : 0}`);
    db.exec('COMMIT');
  } catch (error) {
    db?.close();
    const code = sqliteCode(error);
    // Not held by this process (checked above), so reading the holder's pid cannot drop a lock of ours.
    if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
      const other = readHolder(file);
      throw inUse(dir, other.pid, other.holder, false);
    }
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
  held.set(key, holder);
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
