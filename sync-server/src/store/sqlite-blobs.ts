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
 * Failure modes: tombstoned id → DELETED on its own stream, ALREADY_EXISTS elsewhere; another manifest or
 * chunk under the id → ALREADY_EXISTS; epoch moved → STALE_EPOCH; over quota → QUOTA_EXCEEDED; chunk of
 * no manifest → NOT_FOUND; chunk out of bounds → INVALID.
 */
import {
  BLOB_CHUNK_OVERHEAD_BYTES,
  BLOB_QUOTA_CHUNK_BYTES,
  BLOB_QUOTA_MANIFEST_BYTES,
  StoreError,
  blobQuotaBytes,
  sealedChunkBounds,
  type AccessEntries,
  type AccessGuard,
  type BlobManifest,
  type BlobQuota,
  type SyncStore,
} from './types';
import { sameBytes } from './bytes';
import { rowToManifest, rowToTombstone, toBytes } from './sqlite-rows';
import { invalid, isNonNegativeInt, requireText, validateManifest } from './sqlite-checks';
import { checkGuard, validateGuard } from './sqlite-guard';
import { validateEntries, writeEntries } from './sqlite-docs';
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

/**
 * Only what the uploader committed to: createdBy/createdAt describe the first announcement, and a resumed
 * upload (later, or from another device of the account) announces the same blob again.
 */
const sameManifest = (a: BlobManifest, b: BlobManifest): boolean =>
  a.blobId === b.blobId &&
  a.stream === b.stream &&
  a.size === b.size &&
  a.chunkSize === b.chunkSize &&
  a.chunkCount === b.chunkCount &&
  a.digests.length === b.digests.length &&
  a.digests.every((d, i) => d === b.digests[i]);

const blobUsage = (s: Statements, accountId: string): number =>
  s.blobUsage.get(BLOB_QUOTA_CHUNK_BYTES, BLOB_QUOTA_MANIFEST_BYTES, accountId)?.used ?? 0;

const storeChunk = (s: Statements, blobId: string, index: number, bytes: Uint8Array): void => {
  const row = s.manifestGet.get(blobId);
  if (row === undefined) throw new StoreError('NOT_FOUND', `blob ${blobId} has no manifest`);
  if (!isNonNegativeInt(index) || index >= row.chunk_count) {
    throw invalid(`chunk index ${index} is outside blob ${blobId} (${row.chunk_count} chunks)`);
  }
  const { min, max } = sealedChunkBounds(
    { size: row.size, chunkSize: row.chunk_size, chunkCount: row.chunk_count },
    index,
  );
  if (bytes.byteLength < min || bytes.byteLength > max) {
    throw invalid(
      `chunk ${index} of blob ${blobId} must be ${min} bytes sealed (+ at most ${BLOB_CHUNK_OVERHEAD_BYTES}), got ${bytes.byteLength}`,
    );
  }
  if (s.chunkInsert.run(blobId, index, bytes).changes === 1) return;
  const stored = s.chunkGet.get(blobId, index);
  if (stored === undefined || !sameBytes(stored.bytes, bytes)) {
    throw new StoreError('ALREADY_EXISTS', `chunk ${index} of blob ${blobId} differs from the stored one`);
  }
};

export const sqliteBlobs = ({ db, call, announce }: SqliteContext): Pick<SyncStore, 'blobs'> => {
  const manifestTx = db.transaction((s: Statements, m: BlobManifest, options: ManifestOptions) => {
    checkGuard(s, options.guard);
    const { quota } = options;
    const deleted = s.tombstoneGet.get(m.blobId);
    // Told only on the blob's own stream: elsewhere the id is taken, as a live blob's would be, so that
    // no one outside the stream learns whether (or when) it was deleted.
    if (deleted !== undefined && deleted.stream !== m.stream) {
      throw new StoreError('ALREADY_EXISTS', `blob ${m.blobId} has a different manifest`);
    }
    if (deleted !== undefined) {
      throw new StoreError('DELETED', `blob ${m.blobId} was deleted; its id is not used again`, {
        details: { deletedAt: deleted.deleted_at },
      });
    }
    const existing = s.manifestGet.get(m.blobId);
    if (existing !== undefined) {
      // A resumed upload: its sealed bytes (the digests) were committed, and their epoch checked, when the
      // manifest was first stored; a re-keying since does not undo that, as it does not undo a record.
      if (sameManifest(rowToManifest(existing), m)) return;
      throw new StoreError('ALREADY_EXISTS', `blob ${m.blobId} has a different manifest`);
    }
    // Inside the write lock, as writeDocs reads it: no envelope can be stored between this read and the commit.
    const epoch = s.envelopeMaxEpoch.get(m.stream)?.epoch ?? 0;
    if (options.expectedEpoch !== undefined && options.expectedEpoch !== epoch) {
      throw new StoreError(
        'STALE_EPOCH',
        `blob ${m.blobId} is sealed under epoch ${options.expectedEpoch}; ${m.stream} is at epoch ${epoch}`,
        { details: { epoch } },
      );
    }
    if (quota !== undefined) {
      const usedBytes = blobUsage(s, quota.accountId);
      const requestedBytes = blobQuotaBytes(m);
      if (usedBytes + requestedBytes > quota.maxBytes) {
        throw new StoreError(
          'QUOTA_EXCEEDED',
          `storing this blob needs ${requestedBytes} bytes; the account stores ${usedBytes} of its ${quota.maxBytes}`,
          { details: { usedBytes, requestedBytes, quotaBytes: quota.maxBytes } },
        );
      }
    }
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
      const row = s.manifestGet.get(blobId);
      if (row === undefined) throw new StoreError('NOT_FOUND', `blob ${blobId} has no manifest`);
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
          validateManifest(m);
          const quota = options?.quota;
          if (quota !== undefined) {
            requireText(quota.accountId, 'quota.accountId');
            if (!isNonNegativeInt(quota.maxBytes))
              throw invalid('quota.maxBytes must be a non-negative integer');
          }
          validateGuard(options?.guard);
          const expectedEpoch = options?.expectedEpoch;
          if (expectedEpoch !== undefined && !isNonNegativeInt(expectedEpoch))
            throw invalid('expectedEpoch must be a non-negative integer');
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
          if (!(bytes instanceof Uint8Array)) throw invalid('chunk bytes must be a Uint8Array');
          validateGuard(guard);
          validateEntries(entries);
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
          requireText(blobId, 'blobId');
          requireText(deletion.deletedBy, 'deletedBy');
          requireText(deletion.deletedAt, 'deletedAt');
          validateGuard(guard);
          validateEntries(entries);
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
