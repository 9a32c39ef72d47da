// A restore ends by swapping files: the replaced store goes aside, the prepared copy takes its name. A
// crash (power loss, kill) can stop it after any of those steps, and the next start opens whatever the
// data directory then holds. At every point that must be the replaced store, whole (with what its -wal
// held), or the copy — never an empty store (which a start would silently create, with a new
// incarnation), and never the copy with the replaced store's -wal replayed onto it.
import { copyFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { backupSqlite, replacementSteps } from './backup';
import { isoAt, makeDocInput } from './conformance';
import { openSqliteStore, SQLITE_FILE_NAME, type SqliteStore } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-restore-crash-');
const quiet = { onListenerError: () => undefined };
const S = 'pat/allergy';

const write = async (store: SqliteStore, ids: string[]) => {
  await store.docs.writeDocs(
    ids.map((id) => ({ doc: makeDocInput(S, id, '1-x'), assumedRev: null })),
    isoAt(1),
  );
};

/** What the data directory opens to: 'old', 'new', or what else it holds. */
const opensTo = async (dataDir: string): Promise<string> => {
  let store: SqliteStore;
  try {
    store = await openSqliteStore({ dataDir, ...quiet });
  } catch (error) {
    return `refused: ${error instanceof Error ? error.message : String(error)}`;
  }
  try {
    const integrity = store.db.pragma('integrity_check', { simple: true });
    const page = await store.docs.readDocs(S, 0, 1000, 1e9);
    const ids = page.docs.map((d) => d.id).sort();
    const held = `${ids.join(',')} (integrity ${String(integrity)})`;
    if (integrity !== 'ok') return held;
    if (ids.join(',') === 'old-1,old-late') return 'old';
    if (ids.join(',') === 'new-1') return 'new';
    return held;
  } finally {
    await store.close();
  }
};

it('a crash after any step of the swap leaves the replaced store or the copy in place', async () => {
  // The replaced store as a killed server leaves it: 'old-late' committed into its -wal only.
  const crashed = newDir();
  const old = await openSqliteStore({ dataDir: newDir(), ...quiet });
  await write(old, ['old-1']);
  old.db.pragma('wal_checkpoint(TRUNCATE)');
  await write(old, ['old-late']);
  copyFileSync(old.file, join(crashed, SQLITE_FILE_NAME));
  copyFileSync(`${old.file}-wal`, join(crashed, `${SQLITE_FILE_NAME}-wal`));
  await old.close();

  // The copy that replaces it (a backup of another store), in WAL mode as restore makes it before the swap.
  const source = await openSqliteStore({ dataDir: newDir(), ...quiet });
  await write(source, ['new-1']);
  const backupFile = join(newDir(), 'backup.sqlite');
  await backupSqlite(source, backupFile);
  await source.close();

  const setUp = () => {
    const dataDir = newDir();
    for (const suffix of ['', '-wal']) {
      copyFileSync(join(crashed, SQLITE_FILE_NAME + suffix), join(dataDir, SQLITE_FILE_NAME + suffix));
    }
    const staging = join(dataDir, '.hale.sqlite.restore-test');
    copyFileSync(backupFile, staging);
    const copy = new Database(staging);
    copy.pragma('journal_mode = WAL');
    // The last connection's close takes its -wal away, as prepareCopy's does.
    copy.close();
    return { dataDir, staging, target: join(dataDir, SQLITE_FILE_NAME) };
  };
  expect(await opensTo(setUp().dataDir)).toBe('old');

  const count = replacementSteps(setUp().staging, setUp().target).steps.length;
  const seen: string[] = [];
  for (let n = 0; n <= count; n++) {
    const { dataDir, staging, target } = setUp();
    const { steps, aside } = replacementSteps(staging, target);
    for (const step of steps.slice(0, n)) step.run();
    const outcome = await opensTo(dataDir);
    seen.push(`after ${n} (${steps[n - 1]?.name ?? 'none'}): ${outcome}`);
    if (n === count) {
      // All done: the copy is in place, and the replaced store is kept aside, whole.
      expect(aside).not.toBeNull();
      expect(existsSync(aside ?? '')).toBe(true);
      const kept = await openSqliteStore({
        dataDir,
        fileName: basename(aside ?? ''),
        exclusive: false,
        ...quiet,
      });
      try {
        expect((await kept.docs.readDocs(S, 0, 10, 1e9)).docs.map((d) => d.id).sort()).toEqual([
          'old-1',
          'old-late',
        ]);
      } finally {
        await kept.close();
      }
    }
  }
  expect(seen.filter((line) => !/: (old|new)$/.test(line))).toEqual([]);
  expect(seen.at(-1)).toMatch(/: new$/);
});
