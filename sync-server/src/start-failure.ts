// How main.ts reports a start (serve, backup, restore, invite) that cannot go on: one line for stderr that
// names the problem and what to do, for every failure the operator can act on — an expected refusal of the
// store (data directory in use, bad backup file, …), a store of a newer schema than this code (a downgrade),
// and whatever the operating system refused (a port in use, a directory that cannot be created, a full or
// read-only disk). Only what is left (a bug) gets null, and main.ts prints its stack trace.
//
// The newer-schema refusal is coded INTERNAL by the store (sqlite-store.ts, invite-store.ts) like a bug,
// so it is told apart here by the fact itself: the store file's schema version is above this code's. That
// is read only after an INTERNAL failure, read-only and without the directory lock.
import { userInfo } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { isStoreError, SQLITE_FILE_NAME, SQLITE_SCHEMA_VERSION } from './store/index';

export interface StartContext {
  /** serve and invite open the store (and migrate it); backup and restore only copy files. */
  command: 'serve' | 'backup' | 'restore' | 'invite';
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

/** A Node system error (an errno code and the call that failed): `error` itself or one of its causes. */
const systemErrorIn = (error: unknown): SystemError | null => {
  let at: unknown = error;
  for (let depth = 0; depth < 5 && at instanceof Error; depth++) {
    const { code, syscall, path: file } = at as { code?: unknown; syscall?: unknown; path?: unknown };
    if (typeof code === 'string' && typeof syscall === 'string') {
      return { code, syscall, message: at.message, ...(typeof file === 'string' ? { path: file } : {}) };
    }
    at = at.cause;
  }
  return null;
};

/** The schema version of the store file in `dataDir`, or null when it cannot be read. */
const storeSchemaVersion = (dataDir: string): number | null => {
  try {
    const db = new Database(path.join(dataDir, SQLITE_FILE_NAME), { readonly: true, fileMustExist: true });
    try {
      const version: unknown = db.pragma('user_version', { simple: true });
      return typeof version === 'number' ? version : null;
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
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
      return `a part of the path does not exist: check it, or ${another}`;
    case 'ENOSPC':
    case 'EDQUOT':
      return 'the disk (or the quota of this user) is full: free space on it';
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
  if (isStoreError(error, 'INTERNAL') && (context.command === 'serve' || context.command === 'invite')) {
    const version = storeSchemaVersion(context.dataDir);
    if (version !== null && version > SQLITE_SCHEMA_VERSION) {
      const file = path.join(context.dataDir, SQLITE_FILE_NAME);
      return (
        `the store ${file} is at schema version ${version}, newer than this version of Hale supports ` +
        `(${SQLITE_SCHEMA_VERSION}): a newer version of Hale upgraded it. Run that newer version of Hale ` +
        '(the running server\'s version, if one runs), or roll back as docs/operations.md "Upgrades" says: ' +
        'restore, with the newer version, the backup taken before the upgrade'
      );
    }
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
