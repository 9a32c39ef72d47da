/*
 * Modes of what the server writes to disk: the data directory, the store, the lock file and backups.
 *
 * Why: these files hold the server's audit-signing seed, every account's passphrase-wrapped root and
 * every login name. They belong to the server's user alone, whatever the umask (022 would give 0755
 * directories and 0644 files, readable by every local user).
 *
 * Invariants:
 * - Directories the server creates are 0700, files it creates 0600, from the moment they exist: the file
 *   is created with that mode before SQLite (or anything else) opens it, so there is no window in which
 *   it is readable by others. SQLite creates `-wal`, `-shm` and `-journal` side files with the mode of
 *   their database file, so they are 0600 too.
 * - `createPrivateFile` opens a descriptor only on a file it has just created (O_EXCL). A descriptor
 *   closed on a file that SQLite has open in this process would drop that process's POSIX locks on it
 *   (see data-dir-lock.ts); a file that did not exist a moment ago has no such locks.
 * - What the operator made is left alone: an existing directory or file keeps its mode (a backup agent's
 *   group may need to read it); `loosePermissions` names it so that start-up can warn.
 *
 * Failure modes: file system errors (EACCES, ENOSPC, ENOTDIR, ...) are thrown as they are; callers map
 * them to their own errors.
 */
import { closeSync, constants, mkdirSync, openSync, chmodSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` and its missing parents with mode 0700; an existing directory is left as it is. Not Node's
 * recursive mkdir: where mkdir answers ENOENT although the parent exists (/proc), that one tries the parent
 * again forever. Here each level is tried at most twice, so the ENOENT is thrown.
 */
export const ensurePrivateDir = (dir: string): void => {
  try {
    mkdirSync(dir, { mode: PRIVATE_DIR_MODE });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && isDirectory(dir)) return;
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    ensurePrivateDir(parent);
    try {
      mkdirSync(dir, { mode: PRIVATE_DIR_MODE });
    } catch (again) {
      // Made by someone else meanwhile.
      if ((again as NodeJS.ErrnoException).code === 'EEXIST' && isDirectory(dir)) return;
      throw again;
    }
  }
};

/** Whether `file` is a directory (false when it is missing or cannot be read). */
export const isDirectory = (file: string): boolean => {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
};

/**
 * Creates `file` empty with mode 0600 unless it exists (then nothing happens: it is neither opened nor
 * changed). SQLite takes an empty file as an empty database, and `VACUUM INTO` and the backup API write
 * into one, so call this before handing a new path to them.
 */
export const createPrivateFile = (file: string): void => {
  let fd: number;
  try {
    fd = openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, PRIVATE_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  closeSync(fd);
};

/** Sets `file` to 0600: for a file that something else created and this code owns (a finished copy). */
export const makePrivate = (file: string): void => {
  chmodSync(file, PRIVATE_FILE_MODE);
};

/**
 * Those of `paths` that exist and that group or other may read, write or enter, with their permission
 * bits, for a start-up warning. Missing paths are skipped (they will be created private).
 */
export const loosePermissions = (paths: readonly string[]): Array<{ path: string; mode: string }> => {
  const loose: Array<{ path: string; mode: string }> = [];
  for (const path of paths) {
    let mode: number;
    try {
      mode = statSync(path).mode & 0o777;
    } catch {
      continue;
    }
    if ((mode & 0o077) !== 0) loose.push({ path, mode: `0${mode.toString(8).padStart(3, '0')}` });
  }
  return loose;
};
