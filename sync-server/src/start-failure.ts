// How main.ts reports a start (serve, backup, restore, invite) that cannot go on: one line for stderr that
// names the problem and what to do, for every failure the operator can act on — an expected refusal of the
// store (data directory in use, bad backup file, …), a store of a newer schema than this code (a downgrade),
// whatever the operating system refused (a port in use, a directory that cannot be created, a full or
// read-only disk), and what SQLite reports of the disk or the file (full; a store file damaged or not a
// database). Only what is left (a bug) gets null, and main.ts prints its stack trace.
//
// The newer-schema refusal is coded INTERNAL by the store (sqlite-store.ts, invite-store.ts), like a bug;
// it is told apart by what the refusal carries (details: schemaVersion above supportedSchemaVersion), not
// by opening the store file again after the failure.
import { userInfo } from 'node:os';
import path from 'node:path';
import { isStoreError, SQLITE_FILE_NAME } from './store/index';
import { isDirectory } from './store/file-modes';

export interface StartContext {
  /** serve and invite open the store (and migrate it); backup and restore only copy files. */
  command: 'serve' | 'backup' | 'restore' | 'invite' | 'migrate';
  dataDir: string;
  host: string;
  port: number;
}

interface SystemError {
  code: string;
  syscall: string;
  message: string;
  path?: string;
}

/** What `pick` finds in `error` or the first of its causes (up to five deep) it finds anything in. */
const inCauses = <T>(error: unknown, pick: (at: Error) => T | null): T | null => {
  let at: unknown = error;
  for (let depth = 0; depth < 5 && at instanceof Error; depth++) {
    const found = pick(at);
    if (found !== null) return found;
    at = at.cause;
  }
  return null;
};

/** A Node system error (an errno code and the call that failed): `error` itself or one of its causes. */
const systemErrorIn = (error: unknown): SystemError | null =>
  inCauses(error, (at) => {
    const { code, syscall, path: file } = at as { code?: unknown; syscall?: unknown; path?: unknown };
    return typeof code === 'string' && typeof syscall === 'string'
      ? { code, syscall, message: at.message, ...(typeof file === 'string' ? { path: file } : {}) }
      : null;
  });

/**
 * The SQLite result code (better-sqlite3's SqliteError `code`, e.g. SQLITE_FULL) of `error` or one of its
 * causes; null when none is one. SQLite reports a full disk and a damaged file without an errno.
 */
const sqliteCodeIn = (error: unknown): string | null =>
  inCauses(error, (at) => {
    const { code } = at as { code?: unknown };
    return typeof code === 'string' && code.startsWith('SQLITE_') ? code : null;
  });

const FULL_DISK_HINT = 'the disk (or the quota of this user) is full: free space on it';

/** One line for a store file SQLite finds damaged or not a database, by what the command was doing. */
const damagedStoreLine = (error: unknown, { command, dataDir }: StartContext): string => {
  const file = path.join(dataDir, SQLITE_FILE_NAME);
  // quick_check lists what it found one per line, up to a hundred: one line, and the first of them.
  const text = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, '; ');
  const said = text.length > 300 ? `${text.slice(0, 299)}…` : text;
  const restore =
    'restore the last good backup (docs/operations.md, "Backup and restore"), keeping the damaged file aside';
  return command === 'backup'
    ? `backup refused: the store ${file} is damaged (${said}); the backups you have are left as they are: ${restore}`
    : `the store ${file} is damaged or is not a Hale store (${said}): ${restore}, or choose another --data-dir (HALE_DATA_DIR)`;
};

/** The versions a store's newer-schema refusal carries; null for any other error. */
const newerSchemaIn = (error: unknown): { found: number; supported: number } | null => {
  if (!isStoreError(error, 'INTERNAL')) return null;
  const found = error.details?.['schemaVersion'];
  const supported = error.details?.['supportedSchemaVersion'];
  return typeof found === 'number' && typeof supported === 'number' && found > supported
    ? { found, supported }
    : null;
};

const currentUser = (): string => {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
};

const listenFailure = (error: SystemError, { host, port }: StartContext): string => {
  const where = `cannot listen on ${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `${where}: the port is in use (another Hale server, or another program); stop that, or choose another port (--port, PORT)`;
    case 'EACCES':
      return `${where}: not permitted (a port below 1024 needs privileges); use a higher port behind your TLS proxy (--port, PORT)`;
    case 'EADDRNOTAVAIL':
      return `${where}: ${host} is not an address of this machine; check --host (HOST), or use 0.0.0.0 for every interface`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${where}: the host name ${host} does not resolve; check --host (HOST)`;
    default:
      return `${where}: ${error.message}`;
  }
};

/** What to do about a file system refusal, after the message that names the path. */
const fileSystemHint = (error: SystemError, { dataDir }: StartContext): string | null => {
  const inDataDir =
    error.path !== undefined &&
    (error.path === dataDir || error.path.startsWith(dataDir + path.sep) || dataDir.startsWith(error.path));
  const another = inDataDir ? 'choose another --data-dir (HALE_DATA_DIR)' : 'choose another path';
  switch (error.code) {
    case 'EACCES':
    case 'EPERM':
      return `the user ${currentUser()} may not write there: give it that directory (chown, chmod 700), or ${another}`;
    case 'EROFS':
      return `the file system is mounted read-only: ${another}`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `a part of the path is a file, not a directory: ${another}`;
    case 'ENOENT':
      // mkdir answers ENOENT, with the parent there, on a file system that takes no new directories.
      if (error.syscall === 'mkdir' && error.path !== undefined && isDirectory(path.dirname(error.path))) {
        return `the file system there takes no new directories (like /proc or /sys): ${another}`;
      }
      return `a part of the path does not exist: check it, or ${another}`;
    case 'ENOSPC':
    case 'EDQUOT':
      return FULL_DISK_HINT;
    default:
      return null;
  }
};

/** One line (without its newline) for a start failure the operator can act on; null for a bug. */
export const startFailureLine = (error: unknown, context: StartContext): string | null => {
  const system = systemErrorIn(error);
  // At start only listen() looks a name up.
  if (system !== null && (system.syscall === 'listen' || system.syscall === 'getaddrinfo')) {
    return listenFailure(system, context);
  }
  const newer = newerSchemaIn(error);
  if (newer !== null && (context.command === 'serve' || context.command === 'invite')) {
    const file = path.join(context.dataDir, SQLITE_FILE_NAME);
    return (
      `the store ${file} is at schema version ${newer.found}, newer than this version of Hale supports ` +
      `(${newer.supported}): a newer version of Hale upgraded it. Run that newer version of Hale ` +
      '(the running server\'s version, if one runs), or roll back as docs/operations.md "Upgrades" says: ' +
      'restore, with the newer version, the backup taken before the upgrade'
    );
  }
  const sqlite = sqliteCodeIn(error);
  if (sqlite === 'SQLITE_FULL') {
    return `${error instanceof Error ? error.message : String(error)}; ${FULL_DISK_HINT}`;
  }
  // A restore checks its backup file itself and says so; these are the store (or the copy made of it).
  if ((sqlite?.startsWith('SQLITE_CORRUPT') || sqlite === 'SQLITE_NOTADB') && context.command !== 'restore') {
    return damagedStoreLine(error, context);
  }
  if (isStoreError(error) && error.code !== 'INTERNAL') {
    const hint = system === null ? null : fileSystemHint(system, context);
    return hint === null ? error.message : `${error.message}; ${hint}`;
  }
  if (system !== null) {
    const hint = fileSystemHint(system, context);
    const message = error instanceof Error ? error.message : system.message;
    return hint === null ? message : `${message}; ${hint}`;
  }
  return null;
};
