/*
 * The SQLite store's blobs (types.ts `blobs`): manifests, chunks, quota and deletion.
 *
 * Invariants:
 * - A manifest, a chunk and a deletion are each one BEGIN IMMEDIATE transaction: the access guard is checked
 *   first (sqlite-guard.ts), the access entries written last (sqlite-docs.ts writeEntries), their heads
 *   announced after COMMIT.
 * - A new manifest's `expectedEpoch` is compared with the stream's highest envelope epoch read inside its
 *   transaction; a resumed upload (the same manifest again) is not checked again.
 * - A deletion removes the chunks and the manifest and writes the tombstone in one transaction; a manifest
 *   checks for a tombstone inside its own, so a deleted id is never stored again. secure_delete (set at
 *   open) zeroes the freed bytes.
 * - Quota: an account's usage is the manifests its devices created (BLOB_QUOTA_* overheads included), read
 *   in the manifest's transaction.
 *
 * Failure modes: as blob-rules.ts (the decisions this store shares with the CouchDB store).
 */
import {
  BLOB_QUOTA_CHUNK_BYTES,
  BLOB_QUOTA_MANIFEST_BYTES,
  blobQuotaBytes,
  type AccessEntries,
  type AccessGuard,
  type BlobManifest,
  type BlobQuota,
  type SyncStore,
} from './types';
import * as blobRules from './blob-rules';
import { rowToManifest, rowToTombstone, toBytes } from './sqlite-rows';
import { checkGuard } from './sqlite-guard';
import { writeEntries } from './sqlite-docs';
import type { Statements } from './sqlite-statements';
import type { SqliteContext } from './sqlite-context';

/** What `blobs.putManifest` passes its transaction besides the manifest. */
interface ManifestOptions {
  quota?: BlobQuota;
  guard?: AccessGuard;
  expectedEpoch?: number;
}
/** A chunk `blobs.putChunk` stores, with the guard it passes first and the access entries it carries. */
interface GuardedChunk {
  bytes: Uint8Array;
  guard?: AccessGuard;
  entries?: AccessEntries;
}

const blobUsage = (s: Statements, accountId: string): number =>
  s.blobUsage.get(BLOB_QUOTA_CHUNK_BYTES, BLOB_QUOTA_MANIFEST_BYTES, accountId)?.used ?? 0;

const storeChunk = (s: Statements, blobId: string, index: number, bytes: Uint8Array): void => {
  const row = blobRules.requireManifest(blobId, s.manifestGet.get(blobId));
  blobRules.requireChunkFits(
    { size: row.size, chunkSize: row.chunk_size, chunkCount: row.chunk_count },
    blobId,
    index,
    bytes,
  );
  if (s.chunkInsert.run(blobId, index, bytes).changes === 1) return;
  blobRules.requireSameChunk(blobId, index, s.chunkGet.get(blobId, index)?.bytes, bytes);
};

export const sqliteBlobs = ({ db, call, announce }: SqliteContext): Pick<SyncStore, 'blobs'> => {
  const manifestTx = db.transaction((s: Statements, m: BlobManifest, options: ManifestOptions) => {
    checkGuard(s, options.guard);
    const { quota } = options;
    const deleted = s.tombstoneGet.get(m.blobId);
    blobRules.refuseTombstoned(m, deleted === undefined ? null : rowToTombstone(deleted));
    const existing = s.manifestGet.get(m.blobId);
    // A resumed upload: its sealed bytes (the digests) were committed, and their epoch checked, when the
    // manifest was first stored; a re-keying since does not undo that, as it does not undo a record.
    if (blobRules.resumesUpload(m, existing === undefined ? null : rowToManifest(existing))) return;
    // Inside the write lock, as writeDocs reads it: no envelope can be stored between this read and the commit.
    blobRules.requireEpoch(m, options.expectedEpoch, s.envelopeMaxEpoch.get(m.stream)?.epoch ?? 0);
    if (quota !== undefined)
      blobRules.requireQuotaRoom(quota, blobUsage(s, quota.accountId), blobQuotaBytes(m));
    s.manifestInsert.run(
      m.blobId,
      m.stream,
      m.size,
      m.chunkSize,
      m.chunkCount,
      JSON.stringify(m.digests),
      m.createdBy,
      m.createdAt,
    );
  });

  const chunkTx = db.transaction((s: Statements, blobId: string, index: number, chunk: GuardedChunk) => {
    checkGuard(s, chunk.guard);
    storeChunk(s, blobId, index, chunk.bytes);
    return writeEntries(s, chunk.entries);
  });

  const blobDeleteTx = db.transaction(
    (
      s: Statements,
      blobId: string,
      deletion: { deletedBy: string; deletedAt: string },
      guard: AccessGuard | undefined,
      entries: AccessEntries | undefined,
    ) => {
      checkGuard(s, guard);
      const row = blobRules.requireManifest(blobId, s.manifestGet.get(blobId));
      // Chunks first: they reference the manifest.
      s.chunksDelete.run(blobId);
      s.manifestDelete.run(blobId);
      s.tombstoneInsert.run(blobId, row.stream, deletion.deletedBy, deletion.deletedAt);
      const heads = writeEntries(s, entries);
      return { tombstone: { blobId, stream: row.stream, ...deletion }, heads };
    },
  );

  return {
    blobs: {
      putManifest: (m, options) =>
        call((s) => {
          blobRules.validatePutManifest(m, options);
          const quota = options?.quota;
          const expectedEpoch = options?.expectedEpoch;
          manifestTx.immediate(s, m, {
            ...(quota === undefined ? {} : { quota }),
            ...(options?.guard === undefined ? {} : { guard: options.guard }),
            ...(expectedEpoch === undefined ? {} : { expectedEpoch }),
          });
        }),
      usage: (accountId) => call((s) => blobUsage(s, accountId)),
      getManifest: (blobId) =>
        call((s) => {
          const row = s.manifestGet.get(blobId);
          return row === undefined ? null : rowToManifest(row);
        }),
      putChunk: (blobId, index, bytes, guard, entries) =>
        call((s) => {
          blobRules.validatePutChunk(bytes, guard, entries);
          announce(
            chunkTx.immediate(s, blobId, index, {
              bytes,
              ...(guard === undefined ? {} : { guard }),
              ...(entries === undefined ? {} : { entries }),
            }),
          );
        }),
      getChunk: (blobId, index) =>
        call((s) => {
          const row = s.chunkGet.get(blobId, index);
          return row === undefined ? null : toBytes(row.bytes);
        }),
      chunkIndexes: (blobId) => call((s) => s.chunkIndexes.all(blobId).map((r) => r.idx)),
      delete: (blobId, deletion, guard, entries) =>
        call((s) => {
          blobRules.validateBlobDelete(blobId, deletion, guard, entries);
          const { tombstone, heads } = blobDeleteTx.immediate(s, blobId, deletion, guard, entries);
          announce(heads);
          return tombstone;
        }),
      getTombstone: (blobId) =>
        call((s) => {
          const row = s.tombstoneGet.get(blobId);
          return row === undefined ? null : rowToTombstone(row);
        }),
    },
  };
};
