// A store written before blob deletion (schema < 8) ran without secure_delete: its free space and b-tree
// slack may hold copies of blob chunks that zeroing from then on never reaches. Migrating it rebuilds the
// file once, so a blob deleted afterwards leaves none of its bytes in the database file, as
// docs/operations.md says. The rebuild runs after the migrations committed: a crash (or a failed VACUUM,
// e.g. a full disk) between the two leaves a store at the current schema that was never rebuilt, which
// the next open must still rebuild.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import {
  migrateSqliteSchema,
  openSqliteStore,
  SQLITE_FILE_NAME,
  SQLITE_SCHEMA_VERSION,
  type SqliteStore,
} from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-secure-delete-');
const quiet = { onListenerError: () => undefined };
const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('base64url');
const chunk = () => new Uint8Array(randomBytes(MIN_CHUNK_BYTES + 40));

const put = async (store: SqliteStore, blobId: string, chunks: Uint8Array[]) => {
  await store.blobs.putManifest({
    blobId,
    stream: 'AAAAAAAAAAAAAAAAAAAAAA/document',
    size: chunks.length * MIN_CHUNK_BYTES,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount: chunks.length,
    digests: chunks.map(digest),
    createdBy: 'dev-1',
    createdAt: new Date(0).toISOString(),
  });
  for (const [i, c] of chunks.entries()) await store.blobs.putChunk(blobId, i, c);
};

/** How many 64-byte pieces of `chunks` the file holds. */
const piecesIn = (file: string, chunks: Uint8Array[]): number => {
  const bytes = readFileSync(file);
  let n = 0;
  for (const c of chunks) {
    for (let at = 0; at + 64 <= c.length; at += 64) {
      if (bytes.includes(Buffer.from(c.buffer, c.byteOffset + at, 64))) n++;
    }
  }
  return n;
};

/** A store as v7 wrote it (secure_delete off, SQLite's default, then the schema of v7), holding `first`. */
const writeV7Store = async (dataDir: string, first: Uint8Array[]): Promise<void> => {
  const store = await openSqliteStore({ dataDir, ...quiet });
  store.db.pragma('secure_delete = OFF');
  await put(store, 'blob-first', first);
  for (let b = 0; b < 20; b++) await put(store, `blob-${b}`, [chunk(), chunk(), chunk()]);
  store.db.exec(
    'DROP TABLE accepted_patients; DROP TABLE server_state; DROP TABLE blob_tombstones; ' +
      'ALTER TABLE devices DROP COLUMN revocation; ALTER TABLE docs DROP COLUMN creator; ' +
      'ALTER TABLE devices DROP COLUMN name_record; ALTER TABLE devices DROP COLUMN name_seq; ' +
      'ALTER TABLE grants DROP COLUMN superseded_by; ALTER TABLE shl_links DROP COLUMN types; ' +
      'ALTER TABLE shl_links DROP COLUMN sealed; ALTER TABLE shl_accesses DROP COLUMN sealed_recipient',
  );
  store.db.pragma('user_version = 7');
  await store.close();
};

/** Opens the store, deletes `first` and expects none of its bytes left in the file, the others whole. */
const expectRebuiltOnOpen = async (dataDir: string, first: Uint8Array[]): Promise<void> => {
  const store = await openSqliteStore({ dataDir, ...quiet });
  try {
    expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    await store.blobs.delete('blob-first', { deletedBy: 'dev-1', deletedAt: new Date(1).toISOString() });
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    expect(piecesIn(store.file, first)).toBe(0);
    expect(await store.blobs.chunkIndexes('blob-7')).toEqual([0, 1, 2]);
  } finally {
    await store.close();
  }
};

it('a store from before v8 is rebuilt when migrated: a blob it held leaves nothing behind once deleted', async () => {
  const dataDir = join(newDir(), 'data');
  const first = [chunk(), chunk(), chunk()];
  await writeV7Store(dataDir, first);
  await expectRebuiltOnOpen(dataDir, first);
});

it('a pre-v8 store whose migration committed but whose rebuild did not run is rebuilt at the next open', async () => {
  const dataDir = join(newDir(), 'data');
  const first = [chunk(), chunk(), chunk()];
  await writeV7Store(dataDir, first);
  // The upgraded server's first start gets as far as the migrations, then dies.
  const raw = new Database(join(dataDir, SQLITE_FILE_NAME));
  expect(migrateSqliteSchema(raw)).toBe(7);
  raw.close();

  await expectRebuiltOnOpen(dataDir, first);
  // Rebuilt once: later opens do not rebuild again (the file is left as it is).
  const before = readFileSync(join(dataDir, SQLITE_FILE_NAME));
  const store = await openSqliteStore({ dataDir, ...quiet });
  await store.close();
  expect(readFileSync(join(dataDir, SQLITE_FILE_NAME)).equals(before)).toBe(true);
});
