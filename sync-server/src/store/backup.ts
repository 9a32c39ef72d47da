/*
 * Online backup and restore of the SQLite store. Backups hold every secret the store holds (the server's
 * signing seed among them): protect them like the data directory.
 *
 * Invariants:
 * - A backup is one snapshot, as of the call (one read transaction, WAL): it never blocks writers.
 * - Its time is bounded by the store's size: over a pinned snapshot the online copy never restarts.
 * - The copy goes to a temp file, is checked and fsynced, then renamed: never a half-written backup.
 * - A backup is in rollback-journal mode, whole in one file: a -wal beside it is not part of it.
 * - Backing up is read-only and takes no data directory lock, so it runs beside a live server.
 * - A restore touches nothing live until the copy passes integrity_check with a known schema version.
 * - A restore claims the data directory as a restore throughout: refused where a server runs, even forced.
 * - A restore refuses (UNAVAILABLE) while another connection has the store open, unless forced.
 * - The replaced store is kept aside as `<file>.replaced-<time>`, never deleted.
 * - Swap (`replacementSteps`): a crash leaves the old store or the copy, never the copy beside the old -wal.
 * - A failed restore leaves the data directory as it found it (staging, lock file, created dirs removed).
 * - A restore carries what must not go back (restore-carry.ts); with nothing to carry from, it warns.
 * - Every restore gives the store a new incarnation; the copy keeps its schema version.
 *
 * Failure modes (StoreError): INVALID (a backup that does not open, fails the check, has an unknown schema
 * or is the live store by any path); NOT_FOUND (no backup file); DATA_DIR_IN_USE; UNAVAILABLE (store
 * open elsewhere); INTERNAL. What could not be carried is no error: `warnings` and `onWarning`, once the
 * copy is in place.
 */
import {
  chownSync,
  closeSync,
  constants as fsConstants,
  copyFileSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
import { LOCK_FILE_NAME, lockDataDir } from './data-dir-lock';
import { createPrivateFile, ensurePrivateDir, isDirectory, makePrivate } from './file-modes';
import { carryIntoRestored, type CarriedCounts } from './restore-carry';
import {
  SQLITE_FILE_NAME,
  SQLITE_SCHEMA_VERSION,
  isSqliteFileOpenInProcess,
  type SqliteStore,
} from './sqlite-store';
import { StoreError } from './types';

export interface BackupOptions {
  /**
   * Pages copied per event-loop turn (default 256): smaller yields more often to the server. The total
   * work is the same whatever the step: the snapshot is pinned, so the copy never restarts.
   */
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
  /**
   * Receives each warning (also in the result) once the copy is in place. Default: one line each on
   * stderr. If it throws, that warning goes to stderr instead and the restore still resolves: the store
   * has been replaced by then, and reporting failure would have the operator restore again.
   */
  onWarning?: (warning: string) => void;
}

export interface RestoreResult {
  file: string;
  /** Where the replaced store was moved, or null when there was none. */
  movedAside: string | null;
  /** What was carried from the replaced store (restore-carry.ts); null when nothing could be. */
  carried: CarriedCounts | null;
  /** The restored store's incarnation, new with this restore. */
  incarnation: string;
  /** What the operator must know or redo (e.g. nothing could be carried); empty when all went in. */
  warnings: string[];
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

/** The path with symbolic links resolved, as far as it exists; `path` itself when nothing of it does. */
const realPath = (path: string): string => {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realPath(parent), basename(path));
  }
};

/**
 * Whether `path` is `dir` or lies under it, by name and through symbolic links: the data directory holds
 * only the store, its side files and the lock (whose replacement would let a second server in), and a
 * backup kept there dies with it.
 */
const isInside = (dir: string, path: string): boolean =>
  [
    [dir, path],
    [realPath(dir), realPath(path)],
  ].some(([d = '', p = '']) => {
    const rel = relative(d, p);
    return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
  });

/**
 * Whether `a` and `b` name one file: by path, through symbolic links, or as two hard links of one inode.
 * By `stat` only, which opens no descriptor (a closed descriptor would drop the POSIX locks this process
 * holds on the file: data-dir-lock.ts).
 */
const isSameFile = (a: string, b: string): boolean => {
  if (a === b || realPath(a) === realPath(b)) return true;
  try {
    const [sa, sb] = [statSync(a), statSync(b)];
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
};

/**
 * Removes the -wal and -shm that a read-only connection made beside `file` and could not remove at its
 * close (a read-only connection never does): a backup of a stopped server's store left them in the data
 * directory, empty, where the operator is told they are there only while a server runs. Through SQLite,
 * not by unlinking: a read-write connection's close removes them only if it is the last one on the file
 * (it takes the exclusive lock to checkpoint first), so a server or another program that opened the store
 * meanwhile keeps its own. Its checkpoint of the empty -wal writes nothing. Best effort: left behind, they
 * are harmless.
 */
const closeSideFiles = (file: string): void => {
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    // A connection that never read the file never opened its -wal, and its close would leave it.
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
  } catch {
    // See above.
  } finally {
    db?.close();
  }
};

/** Copies a live store (or a store file path) to `destFile` without stopping writers. */
export const backupSqlite = async (
  source: SqliteStore | string,
  destFile: string,
  options: BackupOptions = {},
): Promise<BackupResult> => {
  if (destFile.trim() === '') throw new StoreError('INVALID', 'backup destination is empty');
  const dest = resolve(destFile);
  const sourceFile = typeof source === 'string' ? resolve(source) : source.file;
  if (isInside(dirname(sourceFile), dest)) {
    throw new StoreError(
      'INVALID',
      `backup destination ${dest} is inside the data directory ${dirname(sourceFile)}: write backups elsewhere`,
    );
  }
  if (typeof source !== 'string' && !source.db.open) throw new StoreError('UNAVAILABLE', 'store is closed');
  if (typeof source === 'string' && !existsSync(sourceFile)) {
    throw new StoreError('NOT_FOUND', `no store file at ${sourceFile}`);
  }
  // Refused before the copy is made: the rename at the end would fail only after the whole store was copied.
  if (isDirectory(dest)) {
    throw new StoreError(
      'INVALID',
      `backup destination ${dest} is a directory: name the backup file in it (e.g. ${join(dest, 'hale-backup.sqlite')})`,
    );
  }
  const started = Date.now();
  const temp = tempName(dest, 'partial');
  // Whether the side files the copying connection needs are its own (see closeSideFiles).
  const sideFilesWereThere = SIDE_FILES.some((suffix) => existsSync(sourceFile + suffix));
  let db: Database.Database | null = null;
  try {
    // Before anything asynchronous, so the snapshot is the store as of this call (see header).
    db = new Database(sourceFile, { readonly: true, fileMustExist: true });
    db.exec('BEGIN');
    // BEGIN is deferred: the first read takes the snapshot, which the transaction then holds.
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
    // The copy holds what the store holds (signing seed, wrapped roots, login names): 0700 / 0600.
    ensurePrivateDir(dirname(dest));
    createPrivateFile(temp);
    const pagesPerStep = options.pagesPerStep ?? 256;
    const meta = await db.backup(temp, { progress: () => pagesPerStep });
    const check = new Database(temp, { fileMustExist: true });
    try {
      // The backup API copies the store's header, WAL mode included. Out of it, the backup is one file
      // that needs no -wal, and restore can tell it from a store's own file, whose -wal belongs to it.
      const mode = check.pragma('journal_mode = DELETE', { simple: true });
      if (mode !== 'delete') {
        throw new StoreError('INTERNAL', `backup copy stayed in journal mode ${String(mode)}`);
      }
      if (options.verify ?? true) {
        const result = check.pragma('quick_check', { simple: true });
        // As SQLite's own error for a damaged file, so it is reported as one (start-failure.ts).
        if (result !== 'ok')
          throw new StoreError('INTERNAL', `backup copy failed quick_check: ${String(result)}`, {
            cause: new Database.SqliteError(`quick_check: ${String(result)}`, 'SQLITE_CORRUPT'),
          });
      }
    } finally {
      check.close();
    }
    syncFile(temp);
    // Side files of an older backup under this name would be replayed (or, a journal, rolled back) onto
    // the new copy by whatever opens it.
    for (const suffix of [...SIDE_FILES, '-journal']) rmSync(dest + suffix, { force: true });
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
    // Ends the read transaction too.
    db?.close();
    if (!sideFilesWereThere) closeSideFiles(sourceFile);
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
 * Whether `file` is a SQLite file in rollback-journal mode (header bytes 18 and 19 are 1; WAL mode makes
 * them 2): what `backup` writes, never what the store is. Read from the header, not through SQLite, which
 * would open a -wal beside it whatever the mode says.
 */
const isRollbackJournalFile = (file: string): boolean => {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    if (readSync(fd, header, 0, header.length, 0) < header.length) return false;
  } finally {
    closeSync(fd);
  }
  return header.toString('latin1', 0, 16) === 'SQLite format 3\0' && header[18] === 1 && header[19] === 1;
};

/**
 * Copies the backup file to `staging`; answers the warnings about a -wal beside it. A file that `backup`
 * wrote is whole on its own and has no -wal, and is copied as bytes. A store's own file may have one
 * beside it (the old disk's hale.sqlite after a crash or power loss, never checkpointed; a
 * `.replaced-<time>` aside whose checkpoint a forced restore could not make): the commits the server
 * acknowledged last are then in that -wal only, and the file's bytes alone would silently lose them (or
 * be refused as no store while even its schema is still in the -wal). Such a file is read through SQLite,
 * read-only, which reads its -wal too; the online backup API copies that whole state to `staging`.
 *
 * The two are told apart by the journal mode in the file's header: `backup` writes rollback-journal mode,
 * the store always runs in WAL mode. A -wal beside a rollback-journal file was put there by hand and is
 * another database's; SQLite does not check that (it would replay it, and a restore would quietly mix
 * pages of two databases), so that file is copied as bytes, the -wal is not opened (nothing beside `from`
 * changes), and a warning names it.
 */
const copyBackupFile = async (from: string, staging: string): Promise<string[]> => {
  const wal = `${from}-wal`;
  if (!existsSync(wal) || statSync(wal).size === 0) {
    copyFileSync(from, staging);
    return [];
  }
  if (isRollbackJournalFile(from)) {
    copyFileSync(from, staging);
    return [
      `${wal} beside the backup was not applied: ${from} was written by backup and is whole on its ` +
        'own, so that -wal belongs to another database (SQLite would have mixed its pages in). It was ' +
        'left as it is.',
    ];
  }
  // 0600 from the start (the copy holds the signing seed); the backup API writes into the empty file.
  createPrivateFile(staging);
  let db: Database.Database | null = null;
  try {
    db = new Database(from, { readonly: true, fileMustExist: true });
    await db.backup(staging);
  } catch (error) {
    throw new StoreError(
      'INVALID',
      `backup ${from} with its write-ahead log ${wal} does not read as SQLite: ` +
        `${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  } finally {
    db?.close();
  }
  return [
    `${wal} beside ${from} was applied with it, as a store's own file's -wal (a store from a crashed ` +
      'server, or a .replaced aside). If it was copied there by hand, it belongs to another database: ' +
      'move it away and restore again.',
  ];
};

/**
 * Carries into the checked copy at `staging` what the store at `replaced` (null: none) knows since the
 * backup. Leaves no side file beside `staging`.
 */
const prepareCopy = async (
  staging: string,
  replaced: string | null,
): Promise<Awaited<ReturnType<typeof carryIntoRestored>>> => {
  const db = new Database(staging, { fileMustExist: true });
  let report: Awaited<ReturnType<typeof carryIntoRestored>>;
  try {
    report = await carryIntoRestored(db, replaced);
  } finally {
    // The last connection to close checkpoints the WAL into the file and deletes it.
    db.close();
  }
  if (existsSync(staging + '-wal')) throw new StoreError('INTERNAL', 'the restored copy kept a WAL file');
  rmSync(staging + '-shm', { force: true });
  return report;
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

/**
 * Whom what a restore creates in the data directory must belong to: the owner of the store it replaces,
 * else of the directory, when this process runs as root (a restore run with sudo) and that owner is
 * another user (the server's, `User=hale`). Left root's, the restored store and a new lock file would keep
 * that server from opening its own store ("unable to open database file"). Null otherwise: a user that is
 * not root cannot give files away, and a directory root owns (one this restore created) names no one else.
 */
const ownerToKeep = (target: string): { uid: number; gid: number } | null => {
  if (process.getuid?.() !== 0) return null;
  const { uid, gid } = statSync(existsSync(target) ? target : dirname(target));
  return uid === 0 ? null : { uid, gid };
};

/** `dir` and those of its ancestors that do not exist, deepest first: what creating `dir` creates. */
const missingDirs = (dir: string): string[] => {
  const missing: string[] = [];
  for (let at = dir; !existsSync(at); at = dirname(at)) {
    missing.push(at);
    if (dirname(at) === at) break;
  }
  return missing;
};

/**
 * Checkpoints the store at `file` into its main file, so that the file alone is the whole store. Best
 * effort: a store that cannot be (damaged, which the carry already reported; or held by a connection a
 * forced restore overrides) keeps in its -wal what it committed since, and is replaced a step later.
 */
const checkpointInto = (file: string): void => {
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // See above.
  } finally {
    db?.close();
  }
};

const errorCode = (error: unknown): unknown =>
  error instanceof Error && 'code' in error ? (error as { code: unknown }).code : undefined;

/**
 * A second name for `file` at `to` (a copy where hard links are not possible); durable before it returns.
 * Never replaces what is at `to` (not this restore's to overwrite), and leaves no partial copy when it
 * throws.
 */
const keepAs = (file: string, to: string): void => {
  try {
    linkSync(file, to);
    return;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') throw error;
  }
  try {
    copyFileSync(file, to, fsConstants.COPYFILE_EXCL);
  } catch (error) {
    // EEXIST: someone else's file, created between the link and the copy; anything else: our partial copy.
    if (errorCode(error) !== 'EEXIST') rmSync(to, { force: true });
    throw error;
  }
  try {
    syncFile(to);
  } catch (error) {
    rmSync(to, { force: true });
    throw error;
  }
};

/**
 * Keeps each of `suffixes` of `target` aside under `aside`, all or none: when one fails, the ones already
 * made are removed again, since an aside main file without its -wal passes for a whole store an operator
 * might restore from. `target` is only read (linked or copied), so it stays as it was.
 */
const keepAllAside = (target: string, aside: string, suffixes: readonly string[]): void => {
  const made: string[] = [];
  try {
    for (const suffix of suffixes) {
      keepAs(target + suffix, aside + suffix);
      made.push(aside + suffix);
    }
  } catch (error) {
    for (const file of made) {
      try {
        rmSync(file, { force: true });
      } catch {
        // The failure reported below matters more; an aside left here is whole up to its missing part.
      }
    }
    syncDir(dirname(target));
    throw new StoreError(
      'INTERNAL',
      `could not keep the replaced store aside as ${aside} (the store was not replaced): ` +
        `${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
};

export interface ReplacementStep {
  readonly name: string;
  readonly run: () => void;
}

/**
 * The steps, in order, that put the prepared copy at `staging` (no side files) in place of the store at
 * `target` (run them all); `aside` is where the replaced store is kept, null when there is none. Separate
 * so that a test can stop after any step, as a crash would. A crash after any of them leaves `target`
 * the replaced store, whole, or the copy:
 * 1. the replaced store is checkpointed (its -wal emptied into the main file), so its main file alone is
 *    all of it: removing its -wal later loses nothing;
 * 2. the replaced store gets second names under `aside` (hard links: `target` is untouched); all of them
 *    or, when one fails, none (those made are removed again, and the restore fails with `target` as it
 *    was);
 * 3. its -wal and -shm are removed from under `target`. SQLite does not tie a -wal to its main file (no
 *    check against the database header: a -wal beside another WAL-mode file is replayed onto it), so
 *    none may be left when the copy takes the name;
 * 4. the copy is renamed onto `target`, atomically replacing the main file.
 * A store that cannot be checkpointed (damaged) loses in step 3 what only its -wal held; it is still
 * whole under `aside`.
 */
export const replacementSteps = (
  staging: string,
  target: string,
): { aside: string | null; steps: ReplacementStep[] } => {
  // A leftover -wal must go too, even without a main file: SQLite would replay it onto the new file.
  const present = () => ['', ...SIDE_FILES].filter((suffix) => existsSync(target + suffix));
  const aside = present().length > 0 ? `${target}.replaced-${stamp()}` : null;
  const dir = dirname(target);
  const steps: ReplacementStep[] = [];
  if (aside !== null) {
    steps.push(
      {
        name: 'checkpoint the replaced store',
        run: () => {
          if (existsSync(target)) checkpointInto(target);
        },
      },
      {
        name: 'keep the replaced store aside',
        run: () => {
          keepAllAside(target, aside, present());
          syncDir(dir);
        },
      },
      {
        name: 'remove its side files',
        run: () => {
          for (const suffix of SIDE_FILES) rmSync(target + suffix, { force: true });
          syncDir(dir);
        },
      },
    );
  }
  steps.push({
    name: 'rename the copy into place',
    run: () => {
      renameSync(staging, target);
      syncDir(dir);
    },
  });
  return { aside, steps };
};

const warnOnStderr = (warning: string): void => {
  try {
    process.stderr.write(`warning: ${warning}\n`);
  } catch {
    // Nowhere left to say it; it is still in the result's `warnings`.
  }
};

/**
 * Gives each warning to `onWarning` (stderr by default), after the copy is in place. Never throws: the
 * store is already replaced, and a caller told the restore failed would retry it (a second restore, a new
 * incarnation again for every device). A warning the callback throws on goes to stderr instead, so the
 * operator still sees it; the callback's own error is dropped.
 */
const reportWarnings = (warnings: readonly string[], onWarning: ((w: string) => void) | undefined): void => {
  for (const warning of warnings) {
    try {
      (onWarning ?? warnOnStderr)(warning);
    } catch {
      warnOnStderr(warning);
    }
  }
};

/**
 * Replaces the store in `dataDir` with a checked copy of `backupFile`; the old store is kept aside.
 * Resolves once the copy is in place, whatever `onWarning` does: the warnings are reported only then (a
 * restore that fails earlier has nothing to warn about), each is in the result, and one that `onWarning`
 * throws on is written to stderr instead of rejecting a restore that has happened.
 */
export const restoreSqlite = async (
  backupFile: string,
  dataDir: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> => {
  const from = resolve(backupFile);
  const target = join(resolve(dataDir), options.fileName ?? SQLITE_FILE_NAME);
  if (!existsSync(from)) throw new StoreError('NOT_FOUND', `backup file ${from} does not exist`);
  // By any path to it (a symbolic link to the data directory or to the file, a hard link): a store
  // "restored" from itself changes nothing but its incarnation, which makes every device send and pull
  // everything again and counts as a restore in their hold-back of repeated ones.
  if (isSameFile(from, target)) throw new StoreError('INVALID', 'backup file is the store file itself');

  // What a failed restore takes away again (see header).
  const createdDirs = missingDirs(resolve(dataDir));
  const lockFileExisted = existsSync(join(resolve(dataDir), LOCK_FILE_NAME));
  // First, before anything is copied: a running server refuses the restore at once; force does not
  // override it (see header).
  const lock = lockDataDir(dataDir, 'restore');
  const staging = tempName(target, 'restore');
  let failed = false;
  try {
    ensurePrivateDir(dirname(target));
    const copyWarnings = await copyBackupFile(from, staging);
    // copyFileSync gives the copy the backup file's mode.
    makePrivate(staging);
    verifyCopy(staging);
    syncFile(staging);

    if (existsSync(target) && options.force !== true) {
      if (isSqliteFileOpenInProcess(target) || isLockedByOthers(target)) {
        throw new StoreError(
          'UNAVAILABLE',
          `store ${target} is open in another connection (a sqlite3 shell, another program); close it, or restore with --force`,
        );
      }
    }

    const report = await prepareCopy(staging, existsSync(target) ? target : null);
    const owner = ownerToKeep(target);
    if (owner !== null) {
      chownSync(staging, owner.uid, owner.gid);
      if (!lockFileExisted) chownSync(lock.file, owner.uid, owner.gid);
    }
    syncFile(staging);

    const swap = replacementSteps(staging, target);
    for (const step of swap.steps) step.run();
    const warnings = [...copyWarnings, ...report.warnings];
    // The restore has happened: nothing from here on may make it report failure (see onWarning).
    reportWarnings(warnings, options.onWarning);
    return {
      file: target,
      movedAside: swap.aside,
      carried: report.carried,
      incarnation: report.incarnation,
      warnings,
    };
  } catch (error) {
    failed = true;
    removeWithSideFiles(staging);
    if (!lockFileExisted) {
      // While held: a server that opened the file before the unlink tries its lock at once, never again,
      // and is refused; one that comes after it makes a new file. (Windows refuses to unlink a held file:
      // it stays, as it always did.)
      for (const suffix of ['', '-journal']) {
        try {
          rmSync(lock.file + suffix, { force: true });
        } catch {
          // Left behind, as before; its presence means nothing (data-dir-lock.ts).
        }
      }
    }
    throw wrap(error, 'restore failed');
  } finally {
    lock.release();
    if (failed) {
      for (const dir of createdDirs) {
        try {
          rmdirSync(dir);
        } catch {
          break; // Not empty (someone else's files, or a server that started meanwhile): kept.
        }
      }
    }
  }
};
