// A restore from a store's own file that has its write-ahead log beside it: the old disk's hale.sqlite after
// a crash or power loss (never checkpointed), or a `.replaced-<time>` aside whose checkpoint a forced restore
// could not make. What the server acknowledged last is in that -wal only; a restore that copies the main
// file's bytes alone drops it without a word (or refuses a good store whose schema is still in the -wal).
// A file written by `backup` is different: it is the whole backup, and a -wal beside it (copied there by
// hand) is some other database's, which SQLite would replay onto it all the same.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backupSqlite, restoreSqlite } from './backup';
import { isoAt, makeDocInput } from './conformance';
import { openSqliteStore, SQLITE_FILE_NAME, type SqliteStore } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-restore-wal-');
const S = 'pat/lab-result';

const write = async (store: SqliteStore, id: string): Promise<void> => {
  const [result] = await store.docs.writeDocs(
    [{ doc: makeDocInput(S, id, '1-x'), assumedRev: null }],
    isoAt(1),
  );
  expect(result?.status).toBe('ok');
};

/** The store's file and its -wal as they are on disk now, while the store is open: what a crash leaves. */
const copyAsCrashLeftIt = (store: SqliteStore, to: string): string => {
  mkdirSync(to, { recursive: true });
  const copy = join(to, SQLITE_FILE_NAME);
  copyFileSync(store.file, copy);
  copyFileSync(`${store.file}-wal`, `${copy}-wal`);
  return copy;
};

const restoredHead = async (from: string): Promise<number> => {
  const dataDir = join(newDir(), 'data');
  const { warnings } = await restoreSqlite(from, dataDir, { onWarning: () => undefined });
  // Applied, and said so: a -wal copied beside an older backup by hand would have been applied too.
  expect(warnings.filter((w) => w.startsWith(`${from}-wal beside ${from} was applied`))).toHaveLength(1);
  const restored = await openSqliteStore({ dataDir });
  try {
    return (await restored.docs.streamHeads([S]))[0]?.head ?? 0;
  } finally {
    await restored.close();
  }
};

describe('restore from a file with its -wal beside it', () => {
  it('keeps the commits that are only in the -wal', async () => {
    const store = await openSqliteStore({ dataDir: newDir() });
    try {
      await write(store, 'doc-1');
      store.db.pragma('wal_checkpoint(TRUNCATE)');
      // Acknowledged, in the -wal only.
      await write(store, 'doc-2');
      await write(store, 'doc-3');
      const head = (await store.docs.streamHeads([S]))[0]?.head ?? 0;
      const from = copyAsCrashLeftIt(store, join(newDir(), 'old-disk'));
      expect(existsSync(`${from}-wal`)).toBe(true);
      expect(await restoredHead(from)).toBe(head);
    } finally {
      await store.close();
    }
  });

  it('restores a store whose schema is still in the -wal (never checkpointed)', async () => {
    const store = await openSqliteStore({ dataDir: newDir() });
    try {
      store.db.pragma('wal_autocheckpoint = 0');
      await write(store, 'doc-1');
      const head = (await store.docs.streamHeads([S]))[0]?.head ?? 0;
      const from = copyAsCrashLeftIt(store, join(newDir(), 'old-disk'));
      expect(await restoredHead(from)).toBe(head);
    } finally {
      await store.close();
    }
  });
});

/** Each file in `dir` with a digest of its bytes, to see that nothing there changed. */
const filesIn = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir).map((name) => [
      name,
      createHash('sha256')
        .update(readFileSync(join(dir, name)))
        .digest('hex'),
    ]),
  );

describe('restore from a file written by backup, with a -wal beside it', () => {
  it('restores the backup alone, says the -wal was not applied, and leaves the files there as they were', async () => {
    const store = await openSqliteStore({ dataDir: newDir() });
    try {
      await write(store, 'doc-1');
      const backupDir = newDir();
      const backup = join(backupDir, 'hale-backup.sqlite');
      await backupSqlite(store, backup);
      // The store moves on; its -wal, copied beside the backup by hand, holds doc-2: another database's.
      store.db.pragma('wal_checkpoint(TRUNCATE)');
      await write(store, 'doc-2');
      copyFileSync(`${store.file}-wal`, `${backup}-wal`);
      const beside = filesIn(backupDir);

      const warnings: string[] = [];
      const dataDir = join(newDir(), 'data');
      await restoreSqlite(backup, dataDir, { onWarning: (w) => warnings.push(w) });
      const restored = await openSqliteStore({ dataDir });
      try {
        expect(restored.db.pragma('integrity_check', { simple: true })).toBe('ok');
        expect((await restored.docs.readDocs(S, 0, 10, 1e9)).docs.map((d) => d.id)).toEqual(['doc-1']);
      } finally {
        await restored.close();
      }
      expect(
        warnings.filter((w) => w.startsWith(`${backup}-wal beside the backup was not applied`)),
      ).toHaveLength(1);
      expect(filesIn(backupDir)).toEqual(beside);
    } finally {
      await store.close();
    }
  });
});
