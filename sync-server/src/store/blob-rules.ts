/*
 * The decisions both stores take on blobs (types.ts `blobs`), given what each store read: pure functions,
 * input → return or StoreError. The stores do the reads, in their own transaction or commit, and call
 * these in this order: argument checks, tombstone, existing manifest, epoch, quota (putManifest); manifest,
 * chunk bounds, stored chunk (putChunk).
 *
 * Failure modes:
 * - malformed arguments → INVALID (before anything is read);
 * - tombstoned id → DELETED on its own stream, ALREADY_EXISTS on another (no one outside the stream learns
 *   whether it was deleted);
 * - another manifest under the id, or another chunk at the index → ALREADY_EXISTS;
 * - `expectedEpoch` is not the stream's epoch → STALE_EPOCH; over quota → QUOTA_EXCEEDED;
 * - no manifest → NOT_FOUND; chunk index or length out of its manifest's bounds → INVALID.
 */
import { sameBytes } from './bytes';
import { StoreError } from './store-errors';
import {
  invalid,
  isNonNegativeInt,
  requireText,
  validateEntries,
  validateGuard,
  validateManifest,
} from './store-checks';
import { BLOB_CHUNK_OVERHEAD_BYTES, sealedChunkBounds, type BlobQuota } from './store-rules';
import type { AccessEntries, AccessGuard, BlobManifest, BlobTombstone } from './types';

/** The arguments of `blobs.putManifest`, checked in this order. */
export const validatePutManifest = (
  m: BlobManifest,
  options: { quota?: BlobQuota; guard?: AccessGuard; expectedEpoch?: number } | undefined,
): void => {
  validateManifest(m);
  const quota = options?.quota;
  if (quota !== undefined) {
    requireText(quota.accountId, 'quota.accountId');
    if (!isNonNegativeInt(quota.maxBytes)) throw invalid('quota.maxBytes must be a non-negative integer');
  }
  validateGuard(options?.guard);
  const expectedEpoch = options?.expectedEpoch;
  if (expectedEpoch !== undefined && !isNonNegativeInt(expectedEpoch))
    throw invalid('expectedEpoch must be a non-negative integer');
};

/** The arguments of `blobs.putChunk` besides the blob id and index (checked against the manifest later). */
export const validatePutChunk = (
  bytes: unknown,
  guard: AccessGuard | undefined,
  entries: AccessEntries | undefined,
): void => {
  if (!(bytes instanceof Uint8Array)) throw invalid('chunk bytes must be a Uint8Array');
  validateGuard(guard);
  validateEntries(entries);
};

/** The arguments of `blobs.delete`. */
export const validateBlobDelete = (
  blobId: string,
  deletion: { deletedBy: string; deletedAt: string },
  guard: AccessGuard | undefined,
  entries: AccessEntries | undefined,
): void => {
  requireText(blobId, 'blobId');
  requireText(deletion.deletedBy, 'deletedBy');
  requireText(deletion.deletedAt, 'deletedAt');
  validateGuard(guard);
  validateEntries(entries);
};

/**
 * Only what the uploader committed to: createdBy/createdAt describe the first announcement, and a resumed
 * upload (later, or from another device of the account) announces the same blob again.
 */
export const sameManifest = (a: BlobManifest, b: BlobManifest): boolean =>
  a.blobId === b.blobId &&
  a.stream === b.stream &&
  a.size === b.size &&
  a.chunkSize === b.chunkSize &&
  a.chunkCount === b.chunkCount &&
  a.digests.length === b.digests.length &&
  a.digests.every((d, i) => d === b.digests[i]);

/** The stored manifest of `blobId`, or NOT_FOUND. */
export const requireManifest = <T>(blobId: string, found: T | null | undefined): T => {
  if (found === null || found === undefined) {
    throw new StoreError('NOT_FOUND', `blob ${blobId} has no manifest`);
  }
  return found;
};

/** A new manifest under a deleted id: DELETED on the blob's own stream, ALREADY_EXISTS elsewhere. */
export const refuseTombstoned = (
  m: BlobManifest,
  tombstone: Pick<BlobTombstone, 'stream' | 'deletedAt'> | null,
): void => {
  if (tombstone === null) return;
  // Told only on the blob's own stream: elsewhere the id is taken, as a live blob's would be, so that
  // no one outside the stream learns whether (or when) it was deleted.
  if (tombstone.stream !== m.stream) {
    throw new StoreError('ALREADY_EXISTS', `blob ${m.blobId} has a different manifest`);
  }
  throw new StoreError('DELETED', `blob ${m.blobId} was deleted; its id is not used again`, {
    details: { deletedAt: tombstone.deletedAt },
  });
};

/**
 * Whether `m` resumes the upload of the stored manifest (nothing to store, nothing checked again: its
 * epoch was checked when first stored); false when none is stored; ALREADY_EXISTS when it differs.
 */
export const resumesUpload = (m: BlobManifest, existing: BlobManifest | null): boolean => {
  if (existing === null) return false;
  if (sameManifest(existing, m)) return true;
  throw new StoreError('ALREADY_EXISTS', `blob ${m.blobId} has a different manifest`);
};

/** STALE_EPOCH (details: the current epoch) unless `expectedEpoch` is absent or the stream's `epoch`. */
export const requireEpoch = (m: BlobManifest, expectedEpoch: number | undefined, epoch: number): void => {
  if (expectedEpoch !== undefined && expectedEpoch !== epoch) {
    throw new StoreError(
      'STALE_EPOCH',
      `blob ${m.blobId} is sealed under epoch ${expectedEpoch}; ${m.stream} is at epoch ${epoch}`,
      { details: { epoch } },
    );
  }
};

/** QUOTA_EXCEEDED when `requestedBytes` more would take the account past `quota.maxBytes`. */
export const requireQuotaRoom = (quota: BlobQuota, usedBytes: number, requestedBytes: number): void => {
  if (usedBytes + requestedBytes > quota.maxBytes) {
    throw new StoreError(
      'QUOTA_EXCEEDED',
      `storing this blob needs ${requestedBytes} bytes; the account stores ${usedBytes} of its ${quota.maxBytes}`,
      { details: { usedBytes, requestedBytes, quotaBytes: quota.maxBytes } },
    );
  }
};

/** INVALID unless `index` is one of the manifest's chunks and `bytes` a sealed chunk of its length. */
export const requireChunkFits = (
  manifest: { readonly size: number; readonly chunkSize: number; readonly chunkCount: number },
  blobId: string,
  index: number,
  bytes: Uint8Array,
): void => {
  if (!isNonNegativeInt(index) || index >= manifest.chunkCount) {
    throw invalid(`chunk index ${index} is outside blob ${blobId} (${manifest.chunkCount} chunks)`);
  }
  const { min, max } = sealedChunkBounds(manifest, index);
  if (bytes.byteLength < min || bytes.byteLength > max) {
    throw invalid(
      `chunk ${index} of blob ${blobId} must be ${min} bytes sealed (+ at most ${BLOB_CHUNK_OVERHEAD_BYTES}), got ${bytes.byteLength}`,
    );
  }
};

/** A chunk stored again at a taken index: ALREADY_EXISTS unless the stored bytes are the same. */
export const requireSameChunk = (
  blobId: string,
  index: number,
  stored: Uint8Array | undefined,
  bytes: Uint8Array,
): void => {
  if (stored === undefined || !sameBytes(stored, bytes)) {
    throw new StoreError('ALREADY_EXISTS', `chunk ${index} of blob ${blobId} differs from the stored one`);
  }
};
