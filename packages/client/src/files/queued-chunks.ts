/**
 * A queued file's stored chunks: read back as stored or refused as what went wrong, the sealed ones
 * written, and the chunks no index entry names removed.
 *
 * Invariants:
 * - An enqueue writes the chunks first, the index entry last: a crash in between leaves chunks no entry
 *   names, removed at the next start (`orphans`). A failed write removes what it wrote; nothing is queued.
 * - A chunk is handed out (`read`, `readPlain`, `readSealed`) only as stored, or refused as what went
 *   wrong (QueuedBytesError): not stored (MISSING), stored but never readable (UNREADABLE: it fails to
 *   open at rest, or is not a chunk's text, which device-meta reports as META_INVALID), a failed read of the store that may pass (READ_FAILED), or
 *   read fine but not the FileRef's bytes (MISMATCH). A chunk read is never taken for wrong bytes.
 */
import type { QueueCore } from './upload-queue-core';
import { base64urlDecode, base64urlEncode } from '@hale/crypto';
import { isDeviceMetaError } from '../store/device-meta';
import { isAtRestError } from '../store/at-rest-encryption';
import {
  type QueuedEntry,
  chunkKey,
  CHUNK_PREFIX,
  QueuedBytesError,
  ChunkText,
  type QueuedBytes,
} from './upload-queue-store';

export const createQueuedChunks = (q: QueueCore) => {
  /** Chunks of files the index does not name (a crash during an enqueue or a removal), removed. */
  const removeOrphans = async (): Promise<void> => {
    const keys = await q.meta.keys(CHUNK_PREFIX);
    if (keys === null) return;
    const plain = new Set(q.entries.flatMap(q.chunkKeysOf).filter((k) => /-p\d+$/.test(k)));
    // Sealed chunks only of a sealing the index holds: else a crash came before the index was written.
    const sealed = new Set(
      q.entries
        .filter((e) => e.sealing)
        .flatMap(q.chunkKeysOf)
        .filter((k) => /-s\d+$/.test(k)),
    );
    const orphans = keys.filter((k) => !plain.has(k) && !sealed.has(k));
    if (orphans.length > 0) await q.meta.remove(orphans);
  };
  /**
   * A stored chunk (null: not stored). Read strictly (a value failing its schema is reported by device-meta
   * and refused, not answered as absent): a chunk stored but unreadable is not one never stored.
   */
  const readChunk = async (blobId: string, kind: 'p' | 's', index: number): Promise<Uint8Array | null> => {
    const what = `queued file ${blobId}: ${kind === 'p' ? 'chunk' : 'sealed chunk'} ${index}`;
    const damaged = (cause?: unknown) =>
      new QueuedBytesError(
        'UNREADABLE',
        blobId,
        `${what} is not a chunk's text on this device (damaged)`,
        cause,
      );
    let text: string | null;
    try {
      text = await q.meta.get(chunkKey(blobId, kind, index), ChunkText, { strict: true });
    } catch (e) {
      if (isDeviceMetaError(e, 'META_INVALID')) throw damaged(e);
      // A value that fails to open at rest fails every time; any other error of the store may pass.
      const lasting = isAtRestError(e, 'AT_REST_DECRYPT_FAILED');
      throw new QueuedBytesError(
        lasting ? 'UNREADABLE' : 'READ_FAILED',
        blobId,
        `${what} ${lasting ? 'does not open on this device (damaged at rest)' : 'could not be read from the device store'}`,
        e,
      );
    }
    if (text === null) return null;
    const bytes = base64urlDecode(text);
    if (bytes.ok) return bytes.value;
    throw damaged();
  };

  /** Plaintext chunk `index` of `e` as stored (null: not stored), refused when not of its length. */
  const plainChunk = async (e: QueuedEntry, index: number): Promise<Uint8Array | null> => {
    const bytes = await readChunk(e.ref.blobId, 'p', index);
    if (bytes && bytes.length !== Math.min(e.chunkSize, e.ref.size - index * e.chunkSize)) {
      bytes.fill(0);
      throw new QueuedBytesError(
        'MISMATCH',
        e.ref.blobId,
        `queued file ${e.ref.blobId}: chunk ${index} has the wrong length on this device`,
      );
    }
    return bytes;
  };

  const bytesOf = (e: QueuedEntry): QueuedBytes => {
    const blobId = e.ref.blobId;
    const assertQueued = (): void => {
      if (q.cancelled.has(blobId)) throw new Error(`queued file ${blobId} was q.cancelled`);
    };
    return {
      async readPlain(index) {
        const bytes = await plainChunk(e, index);
        if (!bytes) {
          throw new QueuedBytesError(
            'MISSING',
            blobId,
            `queued file ${blobId}: chunk ${index} is not stored on this device`,
          );
        }
        return bytes;
      },
      readSealed: (index) => readChunk(blobId, 's', index),
      async saveSealing(sealing, sealed) {
        for (let i = 0; i < sealed.length; i++) {
          assertQueued();
          await q.meta.set(chunkKey(blobId, 's', i), base64urlEncode(sealed[i]!));
        }
        assertQueued();
        await q.updateIndex((current) =>
          current.map((x) => (x.ref.blobId === blobId ? { ...x, sealing } : x)),
        );
      },
      async dropSealing() {
        await q.updateIndex((current) =>
          current.map((x) => {
            if (x.ref.blobId !== blobId || !x.sealing) return x;
            const { sealing: _dropped, ...rest } = x;
            return rest;
          }),
        );
      },
      assertQueued,
    };
  };
  return { removeOrphans, readChunk, plainChunk, bytesOf };
};

export type QueuedChunks = ReturnType<typeof createQueuedChunks>;
