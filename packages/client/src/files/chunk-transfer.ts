/**
 * Chunks on the wire: sending an upload's sealed chunks, and checking and opening what `get` fetches.
 *
 * - A chunk the server confirmed and lacks at the end is reported with its index (`confirmedThenLost`).
 * - A manifest is checked against the FileRef and the caller's stream (blob id, stream, size, chunking):
 *   filed elsewhere → CONTEXT_MISMATCH.
 * - Each chunk opens only under the key its envelope names for {blobId, chunkIndex, epoch} and must hash to
 *   the manifest's digest; any failure names the chunk.
 */
import type { HttpBlobManifestResponse } from '@hale/protocol';
import type { FileRef } from '@hale/model';
import { blobChunkCount, base64urlEncode, sha256, sealedKeyId, openBytes } from '@hale/crypto';
import { type Upload, type FilesHttpApi, manifestOf } from './file-types';
import { FileError, fromKeyring } from './file-errors';
import type { FilesState } from './file-types';
import type { FileSession } from './file-session';

export const createChunkTransfer = (s: FilesState, up: Pick<FileSession, 'assertOpen' | 'call'>) => {
  const { uploadProgress$ } = s;
  const keyring = s.deps.keyring;
  const { assertOpen, call } = up;
  /**
   * Errors of `send` for chunks the server confirmed and lacks at the end, with those chunks' indexes: a
   * queued file still holds them on this device (uploadQueued tells it apart, `lostOnServer`).
   */
  const confirmedThenLost = new WeakMap<FileError, readonly number[]>();

  /**
   * Sends what the server lacks of `u`; settles with the server holding every chunk, or throws.
   * `beforeRequest` (a queued file: throws once it was removed from the queue) runs before the announce
   * and before each chunk, so a file cancelled during its upload is not sent on to the end. `announced`
   * runs once the server took the announce: it holds this manifest under the id.
   */
  const send = async (
    api: FilesHttpApi,
    u: Upload,
    beforeRequest?: () => void,
    announced?: () => void,
  ): Promise<void> => {
    const confirm = (have: readonly number[]): Set<number> => {
      for (const i of have) if (i < u.sealed.length) u.sealed[i] = null;
      return new Set(have);
    };
    beforeRequest?.();
    let have = confirm(
      (await call(api, (t) => api.createBlob(manifestOf(u), t), 'put: announcing the file', u.blobId)).have,
    );
    announced?.();
    const total = u.digests.length;
    uploadProgress$.next({ blobId: u.blobId, done: have.size, total });
    for (let i = 0; i < u.sealed.length; i++) {
      const sealed = u.sealed[i];
      // Null: confirmed by the server before this upload was cut off and resumed.
      if (have.has(i) || !sealed) continue;
      beforeRequest?.();
      const answer = await call(
        api,
        (t) => api.putChunk(u.blobId, i, sealed, t),
        `put: chunk ${i}`,
        u.blobId,
      );
      have = confirm(answer.have);
      uploadProgress$.next({ blobId: u.blobId, done: have.size, total });
    }
    const missing = u.digests.map((_, i) => i).filter((i) => !have.has(i));
    if (missing.length === 0) return;
    // Chunks the server confirmed before and lacks now cannot be sent again (their sealed bytes are gone).
    const lost = missing.some((i) => u.sealed[i] === null);
    const error = new FileError(
      lost ? 'REFUSED' : 'INCOMPLETE',
      lost
        ? `put: the server no longer holds chunks it confirmed (${missing.join(', ')}); put the file again`
        : `put: the server did not confirm chunks ${missing.join(', ')}; put again with resumeBlobId to resume`,
      { blobId: u.blobId, retry: !lost },
    );
    if (lost) confirmedThenLost.set(error, missing);
    throw error;
  };

  /**
   * Finds, for a sealed chunk's key id, the stream key of this device it names and that key's epoch: among
   * the keys the keyring holds, then, not found, once more after one fetch of the stream's envelopes (the
   * keyring may not know its latest epochs yet). At most one fetch per call, however many epochs the
   * stream has.
   */
  const keyNamed = async (
    stream: string,
    wanted: string,
    known: Map<string, { epoch: number; key: Uint8Array }>,
    blobId: string,
  ): Promise<{ epoch: number; key: Uint8Array } | null> => {
    const hit = known.get(wanted);
    if (hit) return hit;
    try {
      let held = keyring.heldKeyWithId(stream, wanted);
      if (!held) {
        await keyring.refresh([stream]);
        assertOpen();
        held = keyring.heldKeyWithId(stream, wanted);
      }
      if (held) known.set(wanted, held);
      return held;
    } catch (e) {
      throw fromKeyring(e, 'get: fetching the stream keys', blobId);
    }
  };

  /** CONTEXT_MISMATCH unless the server files the blob under `blobId` in `stream`. */
  const checkPlace = (m: HttpBlobManifestResponse, blobId: string, stream: string, what: string): void => {
    if (m.blobId !== blobId || m.stream !== stream) {
      throw new FileError(
        'CONTEXT_MISMATCH',
        `${what}: the server files blob ${m.blobId} under ${m.stream}, not ${blobId} under ${stream}`,
        { blobId },
      );
    }
  };

  /** The manifest, checked against the FileRef and the caller's stream. */
  const checkManifest = (m: HttpBlobManifestResponse, ref: FileRef, stream: string): number => {
    const blobId = ref.blobId;
    checkPlace(m, blobId, stream, 'get');
    const misstated = () =>
      new FileError(
        'SIZE_MISMATCH',
        `get: the server's manifest (${m.size} bytes in ${m.chunkCount} chunks of ${m.chunkSize}) does not ` +
          `describe the file's ${ref.size} bytes`,
        { blobId },
      );
    // Compared first: get bounded ref.size (MAX_FILE_BYTES) and the schema the chunk size, so the count
    // below cannot throw.
    if (m.size !== ref.size) throw misstated();
    const count = blobChunkCount(m.size, m.chunkSize);
    if (m.chunkCount !== count || m.digests.length !== count) throw misstated();
    if (!m.complete) {
      // `retry`: an enqueued file's FileRef is out before its upload ends; the rest may still come.
      throw new FileError(
        'INCOMPLETE',
        `get: the server holds ${m.have.length} of the file's ${count} chunks: the device that added it ` +
          'may still be uploading it (try again later), or the server lost the others',
        { blobId, retry: true },
      );
    }
    return count;
  };

  const openFailure = (code: string, what: string, i: number, blobId: string, message: string): FileError => {
    const said = `${what}: chunk ${i}: ${message}`;
    if (code === 'CONTEXT_MISMATCH') return new FileError('CONTEXT_MISMATCH', said, { blobId });
    if (code === 'WRONG_KEY') return new FileError('NO_KEY', said, { blobId });
    return new FileError('TAMPERED', said, { blobId });
  };

  /**
   * Opens the sealed chunks of one blob into `out` (its plaintext, `out.length` its size), each checked as
   * get checks it (see the header): its manifest digest, a key of the stream this device holds named by its
   * key id, one epoch for the whole blob, its context {blobId, chunkIndex, epoch} and its length. `what`
   * begins each error's message. The caller checks the whole plaintext's sha256 and zeroes `out` on failure.
   */
  const chunkOpener = (
    blob: { blobId: string; stream: string; digests: readonly string[]; chunkSize: number },
    out: Uint8Array,
    what: string,
  ) => {
    const { blobId, stream } = blob;
    const keys = new Map<string, { epoch: number; key: Uint8Array }>();
    let fileEpoch: number | null = null;
    return async (i: number, sealed: Uint8Array): Promise<void> => {
      if (base64urlEncode(sha256(sealed)) !== blob.digests[i]) {
        throw new FileError('TAMPERED', `${what}: chunk ${i} does not match its digest`, { blobId });
      }
      const named = sealedKeyId(sealed);
      if (!named.ok) throw openFailure(named.error.code, what, i, blobId, named.error.message);
      const held = await keyNamed(stream, named.value, keys, blobId);
      if (!held) {
        throw new FileError(
          'NO_KEY',
          `${what}: chunk ${i} is sealed under no key of ${stream} this device holds`,
          { blobId },
        );
      }
      // A blob is sealed under one epoch (put never mixes them): another is a chunk of something else.
      if (fileEpoch !== null && held.epoch !== fileEpoch) {
        throw new FileError('CONTEXT_MISMATCH', `${what}: chunk ${i} is sealed under another epoch`, {
          blobId,
        });
      }
      fileEpoch = held.epoch;
      assertOpen();
      const opened = openBytes(held.key, { blobId, chunkIndex: i, epoch: held.epoch }, sealed);
      if (!opened.ok) throw openFailure(opened.error.code, what, i, blobId, opened.error.message);
      const start = i * blob.chunkSize;
      const expected = Math.min(blob.chunkSize, out.length - start);
      if (opened.value.length !== expected) {
        opened.value.fill(0);
        throw new FileError(
          'SIZE_MISMATCH',
          `${what}: chunk ${i} holds ${opened.value.length} bytes, not ${expected}`,
          { blobId },
        );
      }
      out.set(opened.value, start);
      opened.value.fill(0);
    };
  };

  return { confirmedThenLost, send, checkPlace, checkManifest, chunkOpener };
};

export type ChunkTransfer = ReturnType<typeof createChunkTransfer>;
