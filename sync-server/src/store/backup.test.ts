import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { backupSqlite, restoreSqlite } from './backup';
import { LOCK_FILE_NAME } from './data-dir-lock';
import { isoAt, makeDocInput } from './conformance';
import {
  INCARNATION_META_KEY,
  openSqliteStore,
  SQLITE_FILE_NAME,
  SQLITE_SCHEMA_VERSION,
  type SqliteStore,
} from './sqlite-store';
import { isStoreError, type StoreErrorCode } from './types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-backup-');
const S = 'pat/lab-result';
const CT_BYTES = 1024;

const writeDocs = async (store: SqliteStore, from: number, count: number): Promise<void> => {
  const rows = Array.from({ length: count }, (_, i) => ({
    doc: makeDocInput(S, `doc-${from + i}`, '1-x', { ct: new Uint8Array(CT_BYTES).fill((from + i) % 256) }),
    assumedRev: null,
  }));
  const results = await store.docs.writeDocs(rows, isoAt(1));
  expect(results.every((r) => r.status === 'ok')).toBe(true);
};

const headOf = async (store: SqliteStore): Promise<number> =>
  (await store.docs.streamHeads([S]))[0]?.head ?? -1;

const rejectsWith = async (promise: Promise<unknown>, code: StoreErrorCode): Promise<void> => {
  let error: unknown = null;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  expect(isStoreError(error, code), `expected StoreError ${code}, got ${String(error)}`).toBe(true);
};

const seededStore = async (docs: number): Promise<SqliteStore> => {
  const store = await openSqliteStore({ dataDir: newDir() });
  await writeDocs(store, 0, docs);
  await store.meta.put('server-id', 'srv-1');
  return store;
};

describe('backupSqlite / restoreSqlite', () => {
  it('backs up while writes continue; the backup is the store as of the call, and restores', async () => {
    const store = await seededStore(2000);
    const backupFile = join(newDir(), 'backups', 'hale-backup.sqlite');
    let backupDone = false;
    let written = 2000;
    let writesDuringBackup = 0;
    const writer = (async () => {
      while (!backupDone) {
        await writeDocs(store, written, 10);
        written += 10;
        writesDuringBackup++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const headAtCall = await headOf(store);
    // A few pages per step so the copy spans many event-loop turns with writes in between.
    const copied = backupSqlite(store, backupFile, { pagesPerStep: 8 });
    const result = await copied.finally(() => {
      backupDone = true;
    });
    await writer;
    expect(result.file).toBe(backupFile);
    expect(result.bytes).toBeGreaterThan(2000 * CT_BYTES);
    expect(writesDuringBackup).toBeGreaterThan(3);

    const target = newDir();
    const warnings: string[] = [];
    const restored = await restoreSqlite(backupFile, target, { onWarning: (w) => warnings.push(w) });
    expect(restored).toMatchObject({ file: join(target, SQLITE_FILE_NAME), movedAside: null, carried: null });
    const copy = await openSqliteStore({ dataDir: target });
    try {
      // One pinned snapshot: exactly the store when backupSqlite was called, none of the writes after.
      expect(await headOf(copy)).toBe(headAtCall);
      expect(headAtCall).toBeGreaterThanOrEqual(2000);
      const page = await copy.docs.readDocs(S, 0, 100_000, Number.MAX_SAFE_INTEGER);
      expect(page.docs.map((d) => d.seq)).toEqual(Array.from({ length: headAtCall }, (_, i) => i + 1));
      const live = await store.docs.readDocs(S, 0, headAtCall, Number.MAX_SAFE_INTEGER);
      expect(page.docs.map((d) => [d.id, d.rev, d.ct[0]])).toEqual(
        live.docs.map((d) => [d.id, d.rev, d.ct[0]]),
      );
      expect(await copy.meta.get('server-id')).toBe('srv-1');
      // The restored store takes new writes and continues the sequence.
      await writeDocs(copy, 1_000_000, 1);
      expect(await headOf(copy)).toBe(headAtCall + 1);
    } finally {
      await copy.close();
      await store.close();
    }
  });

  it('a backup finishes while another connection commits between every step of the copy', async () => {
    // The server writes through its own connection while `backup` copies from another (the CLI's case).
    // SQLite's backup API restarts whenever the source changes under it between steps, so without a
    // pinned snapshot this copy never ends while the writes go on. The writer gives up after GIVE_UP
    // commits, far more than the copy has steps, so a copy that restarts ends only after the writer
    // stopped, and the count tells.
    const GIVE_UP = 2_000;
    const store = await seededStore(2000);
    const backupFile = join(newDir(), 'busy.sqlite');
    let backupDone = false;
    let commits = 0;
    const copying = backupSqlite(store.file, backupFile, { pagesPerStep: 8 });
    const writer = (async () => {
      while (!backupDone && commits < GIVE_UP) {
        await writeDocs(store, 10_000 + commits, 1);
        commits++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      const result = await copying.finally(() => {
        backupDone = true;
      });
      const commitsWhenDone = commits;
      await writer;
      expect(result.pages).toBeGreaterThan(8 * 50);
      expect(commitsWhenDone).toBeGreaterThan(10);
      expect(commitsWhenDone).toBeLessThan(GIVE_UP);
      const copy = new Database(backupFile, { readonly: true });
      expect(copy.prepare('SELECT count(*) AS n FROM docs').get()).toEqual({ n: 2000 });
      copy.close();
    } finally {
      backupDone = true;
      await writer;
      await store.close();
    }
  });

  it('refuses a data dir with no store file (NOT_FOUND) and creates neither the store nor the backup', async () => {
    const out = join(newDir(), 'backups', 'hale-backup.sqlite');
    // A data dir that exists but holds no store, and one that does not exist at all.
    const empty = newDir();
    const missing = join(newDir(), 'no-such-dir');
    for (const dataDir of [empty, missing]) {
      await rejectsWith(backupSqlite(join(dataDir, SQLITE_FILE_NAME), out), 'NOT_FOUND');
      expect(existsSync(join(dataDir, SQLITE_FILE_NAME))).toBe(false);
      expect(existsSync(out)).toBe(false);
      expect(existsSync(join(out, '..'))).toBe(false);
    }
    expect(readdirSync(empty)).toEqual([]);
    expect(existsSync(missing)).toBe(false);
  });

  it('backs up from a file path and refuses the live file as destination', async () => {
    const store = await seededStore(20);
    try {
      const dest = join(newDir(), 'by-path.sqlite');
      await backupSqlite(store.file, dest);
      const check = new Database(dest, { readonly: true });
      expect(check.prepare('SELECT count(*) AS n FROM docs').get()).toEqual({ n: 20 });
      check.close();
      await rejectsWith(backupSqlite(store, store.file), 'INVALID');
      expect(await headOf(store)).toBe(20);
      // A newer backup replaces an older one of the same name.
      await writeDocs(store, 20, 5);
      await backupSqlite(store, dest);
      const again = new Database(dest, { readonly: true });
      expect(again.prepare('SELECT count(*) AS n FROM docs').get()).toEqual({ n: 25 });
      again.close();
    } finally {
      await store.close();
    }
    await rejectsWith(backupSqlite(store, join(newDir(), 'closed.sqlite')), 'UNAVAILABLE');
  });

  it('refuses a destination that is a directory before copying anything, naming a file to give instead', async () => {
    const store = await seededStore(3);
    try {
      const parent = newDir();
      const dir = join(parent, 'backups');
      mkdirSync(dir);
      for (const dest of [dir, `${dir}/`]) {
        const error = await backupSqlite(store, dest).catch((e: unknown) => e);
        expect(isStoreError(error, 'INVALID') && error.message).toMatch(
          /is a directory: name the backup file/,
        );
      }
      // Nothing was written beside it or in it (no partial copy).
      expect(readdirSync(parent)).toEqual(['backups']);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('refuses any destination inside the data directory, the lock file included, and writes nothing there', async () => {
    const store = await seededStore(3);
    const dataDir = dirname(store.file);
    try {
      const lock = join(dataDir, LOCK_FILE_NAME);
      const lockBefore = readFileSync(lock);
      const before = readdirSync(dataDir).sort();
      const link = join(newDir(), 'link-to-data');
      symlinkSync(dataDir, link);
      for (const dest of [
        lock,
        join(dataDir, 'backup.sqlite'),
        join(dataDir, 'backups', 'nightly.sqlite'),
        join(dataDir, 'sub', '..', 'x.sqlite'),
        dataDir,
        join(link, 'via-link.sqlite'),
      ]) {
        await rejectsWith(backupSqlite(store, dest), 'INVALID');
        await rejectsWith(backupSqlite(store.file, dest), 'INVALID');
      }
      expect(readFileSync(lock).equals(lockBefore)).toBe(true);
      expect(readdirSync(dataDir).sort()).toEqual(before);
      // A sibling whose name starts like the data directory's is outside it.
      const sibling = join(`${dataDir}-backups`, 'ok.sqlite');
      await backupSqlite(store, sibling);
      expect(existsSync(sibling)).toBe(true);
      rmSync(`${dataDir}-backups`, { recursive: true, force: true });
    } finally {
      await store.close();
    }
  });

  it('refuses to replace an open store unless forced, then moves the old file aside', async () => {
    const source = await seededStore(5);
    const backupFile = join(newDir(), 'b.sqlite');
    await backupSqlite(source, backupFile);
    await source.close();

    const target = newDir();
    const live = await openSqliteStore({ dataDir: target });
    await writeDocs(live, 100, 1);
    // A store holding the data directory (as a running server does) refuses it even with force: the server
    // would go on writing into the file moved aside.
    await rejectsWith(restoreSqlite(backupFile, target), 'DATA_DIR_IN_USE');
    await rejectsWith(restoreSqlite(backupFile, target, { force: true }), 'DATA_DIR_IN_USE');
    expect(await headOf(live)).toBe(1);
    expect(readdirSync(target).filter((f) => f.includes('restore') || f.includes('replaced'))).toEqual([]);
    await live.close();

    // A store of this process that does not hold the directory is still seen.
    const beside = await openSqliteStore({ dataDir: target, exclusive: false });
    await rejectsWith(restoreSqlite(backupFile, target), 'UNAVAILABLE');
    await beside.close();

    // A connection this module does not know about (e.g. another process) is detected through the lock.
    const foreign = new Database(join(target, SQLITE_FILE_NAME));
    foreign.prepare('SELECT count(*) FROM docs').get();
    await rejectsWith(restoreSqlite(backupFile, target), 'UNAVAILABLE');
    const forced = await restoreSqlite(backupFile, target, { force: true });
    foreign.close();

    expect(forced.movedAside).not.toBeNull();
    expect(existsSync(forced.movedAside ?? '')).toBe(true);
    const restored = await openSqliteStore({ dataDir: target });
    try {
      expect(await headOf(restored)).toBe(5);
      expect(await restored.docs.getDoc(S, 'doc-100')).toBeNull();
    } finally {
      await restored.close();
    }
    const aside = new Database(forced.movedAside ?? '', { readonly: true });
    expect(aside.prepare('SELECT id FROM docs').all()).toEqual([{ id: 'doc-100' }]);
    aside.close();
  });

  it('restores over a closed store without force', async () => {
    const source = await seededStore(3);
    const backupFile = join(newDir(), 'b.sqlite');
    await backupSqlite(source, backupFile);
    await source.close();
    const target = newDir();
    const old = await openSqliteStore({ dataDir: target });
    await old.close();
    const result = await restoreSqlite(backupFile, target);
    expect(result.movedAside).toMatch(/hale\.sqlite\.replaced-/);
    const restored = await openSqliteStore({ dataDir: target });
    expect(await headOf(restored)).toBe(3);
    await restored.close();
  });

  it('refuses to restore the store from itself, by whatever path names it, and leaves it untouched', async () => {
    const target = newDir();
    const live = await openSqliteStore({ dataDir: target });
    await writeDocs(live, 0, 2);
    const incarnation = await live.meta.get(INCARNATION_META_KEY);
    await live.close();
    const store = join(target, SQLITE_FILE_NAME);
    const before = readFileSync(store);

    // The data directory through a symbolic link (/var/lib/hale -> /srv/hale), the file through one (a
    // "latest backup" link pointed at the store), and a hard link to it.
    const links = newDir();
    const linkedDir = join(links, 'data');
    symlinkSync(target, linkedDir);
    const linkedFile = join(links, 'latest.sqlite');
    symlinkSync(store, linkedFile);
    const hardLink = join(links, 'hard.sqlite');
    linkSync(store, hardLink);
    for (const [from, dataDir] of [
      [store, target],
      [store, linkedDir],
      [join(linkedDir, SQLITE_FILE_NAME), target],
      [linkedFile, target],
      [hardLink, target],
    ] as const) {
      await rejectsWith(restoreSqlite(from, dataDir, { onWarning: () => undefined }), 'INVALID');
    }
    expect(readFileSync(store).equals(before)).toBe(true);
    expect(readdirSync(target).filter((f) => f.includes('restore') || f.includes('replaced'))).toEqual([]);
    const reopened = await openSqliteStore({ dataDir: target });
    try {
      // A restore would have given it a new one, sending every device to pull and push everything again.
      expect(await reopened.meta.get(INCARNATION_META_KEY)).toBe(incarnation);
    } finally {
      await reopened.close();
    }
  });

  it('refuses damaged, foreign and missing backups and leaves the store untouched', async () => {
    const source = await seededStore(300);
    const good = join(newDir(), 'good.sqlite');
    await backupSqlite(source, good);
    await source.close();

    const target = newDir();
    const live = await openSqliteStore({ dataDir: target });
    await writeDocs(live, 0, 2);
    await live.close();
    const before = readFileSync(join(target, SQLITE_FILE_NAME));

    const dir = newDir();
    const truncated = join(dir, 'truncated.sqlite');
    writeFileSync(truncated, readFileSync(good));
    truncateSync(truncated, Math.floor(readFileSync(good).byteLength / 2));
    const garbage = join(dir, 'garbage.sqlite');
    writeFileSync(garbage, new Uint8Array(8192).fill(0x5a));
    const foreign = join(dir, 'foreign.sqlite');
    const other = new Database(foreign);
    other.exec('CREATE TABLE t (x)');
    other.close();

    for (const bad of [truncated, garbage, foreign]) await rejectsWith(restoreSqlite(bad, target), 'INVALID');
    await rejectsWith(restoreSqlite(join(dir, 'missing.sqlite'), target), 'NOT_FOUND');
    expect(readFileSync(join(target, SQLITE_FILE_NAME)).equals(before)).toBe(true);
    const leftovers = readdirSync(target).filter((f) => f.includes('restore'));
    expect(leftovers).toEqual([]);
  });

  it('refuses a backup at a schema version this code does not know, naming it, and leaves the store untouched', async () => {
    const source = await seededStore(10);
    const newer = join(newDir(), 'newer.sqlite');
    await backupSqlite(source, newer);
    await source.close();
    const raw = new Database(newer);
    raw.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    raw.close();
    const target = newDir();
    await (await openSqliteStore({ dataDir: target })).close();
    const before = readFileSync(join(target, SQLITE_FILE_NAME));
    let error: unknown = null;
    try {
      await restoreSqlite(newer, target);
    } catch (caught) {
      error = caught;
    }
    expect(isStoreError(error, 'INVALID')).toBe(true);
    expect((error as Error).message).toBe(
      `backup has unsupported schema version ${SQLITE_SCHEMA_VERSION + 1}`,
    );
    expect(readFileSync(join(target, SQLITE_FILE_NAME)).equals(before)).toBe(true);
  });
});
