// A restore from a store's own file that has its write-ahead log beside it: the old disk's hale.sqlite after
// a crash or power loss (never checkpointed), or a `.replaced-<time>` aside whose checkpoint a forced restore
// could not make. What the server acknowledged last is in that -wal only; a restore that copies the main
// file's bytes alone drops it without a word (or refuses a good store whose schema is still in the -wal).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restoreSqlite } from './backup';
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
  await restoreSqlite(from, dataDir, { onWarning: () => undefined });
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
