/*
 * Rules every SyncStore applies alike: which streams are audit streams, the byte bounds of a sealed blob
 * chunk, and what a blob counts against its uploader's quota.
 *
 * Invariants: a blob's quota charge is computed from its manifest alone, at least what the blob can ever
 * take on disk, so an upload is refused before any chunk is written.
 */
export const AUDIT_STREAM_SUFFIX = '/audit';

/**
 * Sealing headroom of one blob chunk (version, key id, nonce, MAC, bound context); the protocol's
 * CHUNK_SEAL_OVERHEAD_BYTES. Manifests describe plaintext sizes, stored chunks are sealed.
 */
export const BLOB_CHUNK_OVERHEAD_BYTES = 1024;

/**
 * The byte lengths a stored (sealed) chunk `index` of a blob may have: its plaintext share of the
 * manifest's size (the remainder for the last chunk) plus at most BLOB_CHUNK_OVERHEAD_BYTES. Callers
 * check the index against chunkCount first.
 */
export const sealedChunkBounds = (
  manifest: { readonly size: number; readonly chunkSize: number; readonly chunkCount: number },
  index: number,
): { min: number; max: number } => {
  const min =
    index < manifest.chunkCount - 1 ? manifest.chunkSize : manifest.size - manifest.chunkSize * index;
  return { min, max: min + BLOB_CHUNK_OVERHEAD_BYTES };
};

export const isAuditStream = (stream: string): boolean => stream.endsWith(AUDIT_STREAM_SUFFIX);

/** The account whose blob usage a new manifest counts against, and how much it may reserve in all. */
export interface BlobQuota {
  accountId: string;
  maxBytes: number;
}

/** Per chunk: BLOB_CHUNK_OVERHEAD_BYTES of sealing headroom and 64 for its digest in the manifest. */
export const BLOB_QUOTA_CHUNK_BYTES = BLOB_CHUNK_OVERHEAD_BYTES + 64;
/** Per manifest: its row (ids, stream, sizes, times). */
export const BLOB_QUOTA_MANIFEST_BYTES = 512;

/**
 * Bytes a blob counts against its uploader's quota, from its manifest alone, from the moment the manifest
 * is stored (so an upload is refused before any chunk is written, and chunks never need a check): its
 * declared size, per chunk the sealing headroom a stored chunk may take plus room for its digest in the
 * manifest, and the manifest's own row. At least what the blob can ever take on disk.
 */
export const blobQuotaBytes = (manifest: { readonly size: number; readonly chunkCount: number }): number =>
  manifest.size + manifest.chunkCount * BLOB_QUOTA_CHUNK_BYTES + BLOB_QUOTA_MANIFEST_BYTES;
