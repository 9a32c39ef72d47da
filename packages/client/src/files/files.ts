/**
 * Encrypted files (`session.files`): document scans, lab-result and message attachments. A file is a blob
 * (docs/protocol.md, "Blob manifests"), its chunks sealed under the stream's write key, bound to {blobId,
 * chunkIndex, epoch}. Parts: file-session.ts (requests, keys, kept uploads), chunk-transfer.ts (chunks on the
 * wire), queued-upload.ts (a queued file's upload), upload-queue.ts, file-types.ts, file-errors.ts.
 *
 * Invariants:
 * - Input and FileRefs (FileRefSchema, the protocol's id form) are checked before anything is sent.
 * - put hashes a copy of the caller's bytes before its first await; the copy is zeroed when put settles.
 * - put's FileRef names a blob sealed under the key the stream writes with once the upload is confirmed.
 * - Re-keyed meanwhile: the blob is deleted (best effort), sealed anew; MAX_PUT_ATTEMPTS, then KEY_CHANGED.
 * - A re-keying unknown here is caught by the server (STALE_EPOCH at the announce).
 * - A put is a new blob under a fresh random 128-bit id: deleting one file never removes another's.
 * - Cut off with `retry`: kept in memory (`keep`), resumed only via `resumeBlobId`, keys fetched first.
 * - An upload dropped from memory stays on the server (quota) until `delete` with the error's blobId.
 * - delete reads the manifest first: a blob of another stream is refused (CONTEXT_MISMATCH).
 * - get answers bytes only once every chunk (chunk-transfer.ts) and the whole file checked out; else zeroed.
 * - A blob held in part is INCOMPLETE with `retry`: an enqueued file's FileRef is out before its upload ends.
 * - enqueue answers a FileRef made here, sending nothing; its upload keeps that id (queued-upload.ts).
 * - get of a queued FileRef answers the queued copy (checked against its sha256); delete cancels it.
 * - A garbled 2xx (BAD_RESPONSE) is `retry`: the queue tries again, a put is kept to resume.
 * - Locked or closed: nothing is started or sent (AccountError LOCKED); kept uploads are dropped.
 * Costs: put holds the plaintext and the sealed chunks not yet confirmed; get, one sealed chunk and the file.
 * Failure modes: FileError (FILE_ERROR_CODES; mapping in file-errors.ts); AccountError LOCKED.
 */
import { createFileSession } from './file-session';
import { createChunkTransfer } from './chunk-transfer';
import { createQueuedUpload } from './queued-upload';
import { Subject, BehaviorSubject } from 'rxjs';
import { isAccountError } from '../core/account-error';
import { isRecordId } from '@hale/protocol';
import type { FileRef } from '@hale/model';
import { blobChunkCount, base64urlEncode, sha256, hexEncode, keyId, sealBytes } from '@hale/crypto';
import { type QueuedEntry, type UploadQueue, createUploadQueue, type QueuedUpload } from './upload-queue';
import {
  type FilesDeps,
  type UploadProgress,
  MAX_KEPT_UPLOADS,
  MAX_KEPT_BYTES,
  type Upload,
  type FileLocation,
  type FileEnqueueInput,
  MAX_FILE_BYTES,
  MAX_PUT_ATTEMPTS,
  type FilePutInput,
  newBlobId,
  checkFileRef,
  type FilesState,
} from './file-types';
import { FileError, invalid, isFileError, fromQueued, noWriteKey, isStaleEpoch } from './file-errors';

export {
  FILE_STREAM_TYPES,
  type FileStreamType,
  MAX_FILE_BYTES,
  FILE_CHUNK_BYTES,
  type FilesHttpApi,
  type MaybeFilesHttpApi,
  MAX_KEPT_UPLOADS,
  MAX_KEPT_BYTES,
  MAX_PUT_ATTEMPTS,
  type FilesDeps,
  type FilesQueueDeps,
  type FileEnqueueInput,
  type FilePutInput,
  type FileLocation,
  type UploadProgress,
} from './file-types';
export {
  FILE_ERROR_CODES,
  type FileErrorCode,
  type FileErrorExtra,
  FileError,
  isFileError,
} from './file-errors';

/**
 * Files of a device session (`session.files`): end-to-end encrypted on the server in chunks of
 * `FILE_CHUNK_BYTES`, in a stream that carries files (`FILE_STREAM_TYPES`).
 * - `enqueue` queues an upload that survives restarts (at most `MAX_QUEUED_UPLOADS` and `MAX_QUEUED_BYTES`).
 * - Queued files of a stream whose access ended go with its records.
 *
 * @throws `FileError` (`FILE_ERROR_CODES`); a locked account or closed session is `AccountError` `LOCKED`.
 */
export const createFiles = (deps: FilesDeps) => {
  const uploadProgress$ = new Subject<UploadProgress>();
  const keep = deps.keep ?? { uploads: MAX_KEPT_UPLOADS, bytes: MAX_KEPT_BYTES };
  /** Uploads cut off with `retry`, by blob id, oldest first: what a put with `resumeBlobId` takes. */
  const kept = new Map<string, Upload>();
  const state: FilesState = { deps, keep, kept, uploadProgress$ };

  const { assertOpen, requireApi, call, streamOf, writeKeyOf, refreshKeys, keepUpload, claim, discard } =
    createFileSession(state);
  const { confirmedThenLost, send, checkPlace, checkManifest, chunkOpener } = createChunkTransfer(state, {
    assertOpen,
    call,
  });
  const { checkInput, copyInput, cannotComplete, lostOnServer, deletedNotOurs, uploadQueued } =
    createQueuedUpload(state, {
      assertOpen,
      requireApi,
      call,
      streamOf,
      writeKeyOf,
      refreshKeys,
      confirmedThenLost,
      send,
      checkPlace,
      chunkOpener,
    });
  const queueDeps = deps.queue;
  const queue: UploadQueue | null = queueDeps
    ? createUploadQueue({
        meta: queueDeps.meta,
        ...(queueDeps.bounds ? { bounds: queueDeps.bounds } : {}),
        ...(queueDeps.retry ? { retry: queueDeps.retry } : {}),
        now: deps.now ?? Date.now,
        usable: deps.usable,
        online: queueDeps.online,
        upload: uploadQueued,
        verdict: (e, entry) => {
          if (!deps.usable() || isAccountError(e)) return 'stop';
          if (!isFileError(e)) return 'retry';
          if (cannotComplete.has(e)) return 'stuck';
          if (lostOnServer.has(e)) return 'lost';
          // Deleted on the server: never uploaded under its id again, so it leaves the device, if what was
          // deleted was this file (queuedFailure).
          if (e.code === 'DELETED') return deletedNotOurs.has(e) ? 'failed' : 'deleted';
          // No key may come (a key envelope not synced yet), unless this device may no longer write there.
          if (e.code === 'NO_KEY' || e.code === 'KEYRING_FAILED') {
            return queueDeps.whyNotWritable?.(entry.stream) ? 'failed' : 'retry';
          }
          // A garbled success answer is no refusal (`retry`): the file waits and is sent again.
          return e.retry ? 'retry' : 'failed';
        },
        describe: (e) => {
          if (isFileError(e)) {
            return {
              code: e.code,
              ...(e.serverCode === undefined ? {} : { serverCode: e.serverCode }),
              message: e.message,
            };
          }
          const code = e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : 'ERROR';
          return { code, message: e instanceof Error ? e.message : String(e) };
        },
        deleteRemote: async (blobId) => {
          const api = requireApi();
          await call(api, (t) => api.deleteBlob(blobId, t), 'cancel: deleting the upload', blobId);
        },
        ...(queueDeps.report ? { report: queueDeps.report } : {}),
        ...(queueDeps.clearReport ? { clearReport: queueDeps.clearReport } : {}),
        full: (message) => new FileError('QUEUE_FULL', message, { retry: true }),
        unreadable: (message) => new FileError('STORAGE_FAILED', `enqueue: ${message}`),
        purgedWhileStored: (message, blobId) => new FileError('FORBIDDEN', `enqueue: ${message}`, { blobId }),
      })
    : null;
  if (queue && queueDeps) {
    let stopListening: (() => void) | null = null;
    let stopNow = false;
    const listen = (online: boolean, connected?: boolean): void => {
      queue.onlineChanged(online, connected);
      if (deps.usable()) return;
      // Closed or locked: nothing more is uploaded in this session (see upload-queue.ts).
      stopNow = true;
      stopListening?.();
    };
    stopListening = queueDeps.onOnlineChange(listen);
    if (stopNow) stopListening();
    // Access to a stream ended: what was queued for it goes with its records (as the
    // stream's changes never sent are removed with it, their content not kept).
    queueDeps.onStreamPurged?.((stream) => {
      // One file the store fails to remove must not leave the stream's other files on the device; it is
      // tried again with the queue's backoff (upload-queue.ts `purgeStream`).
      void queue.purgeStream(stream).catch(() => undefined);
    });
  }

  /** The queued entry of `blobId`, once the queue was read; null when it is not queued here. */
  const queuedEntry = async (blobId: string): Promise<QueuedEntry | null> => {
    if (!queue) return null;
    await queue.ready;
    return queue.entry(blobId);
  };

  return {
    /**
     * Seals `bytes` into chunks under the stream's current write key and uploads them as a new blob;
     * answers the FileRef to put in a record, once the stream still writes under that key. After a failure
     * with `retry`, a put with `resumeBlobId: error.blobId` sends only the chunks the server lacks (see the
     * header).
     */
    async put(input: FilePutInput): Promise<FileRef> {
      assertOpen();
      const api = requireApi();
      // Checked before anything of the input is read (a missing input is INVALID_INPUT, not a TypeError).
      const { stream, chunkSize } = checkInput(input);
      const { resumeBlobId } = input;
      if (resumeBlobId !== undefined && !(typeof resumeBlobId === 'string' && isRecordId(resumeBlobId))) {
        throw invalid('resumeBlobId', 'must be the blobId of a FileError an earlier put failed with');
      }
      const { plain, digest } = copyInput(input.bytes);
      const file = { stream, chunkSize, size: plain.length, sha256: digest };
      /** The upload this put owns: kept if the put fails with `retry`. */
      let current = resumeBlobId === undefined ? null : claim(resumeBlobId, file);
      try {
        // A stored manifest is resumed by the server whatever was re-keyed since: this device's view of
        // the stream's key is made current first, so a kept upload under a replaced key is sealed anew.
        if (current) await refreshKeys(stream, 'put: fetching the stream keys', current.blobId);
        for (let attempt = 1; attempt <= MAX_PUT_ATTEMPTS; attempt++) {
          const write = await writeKeyOf(stream, 'put: fetching the stream key', current?.blobId);
          if (!write) {
            throw noWriteKey('put', stream);
          }
          const writeKeyId = keyId(write.key);
          if (current && (current.epoch !== write.epoch || current.keyId !== writeKeyId)) {
            // Its chunks are sealed under a key the stream no longer writes with: not finished, not kept.
            const { blobId } = current;
            current = null;
            await discard(api, blobId, 'put: deleting an upload sealed under an old key');
          }
          if (!current) {
            const blobId = newBlobId();
            const sealed: Uint8Array[] = [];
            for (let i = 0; i < blobChunkCount(plain.length, chunkSize); i++) {
              const part = plain.subarray(i * chunkSize, Math.min(plain.length, (i + 1) * chunkSize));
              sealed.push(sealBytes(write.key, { blobId, chunkIndex: i, epoch: write.epoch }, part));
            }
            current = {
              ...file,
              blobId,
              epoch: write.epoch,
              keyId: writeKeyId,
              digests: sealed.map((s) => base64urlEncode(sha256(s))),
              sealed,
            };
          }
          const u = current;
          try {
            await send(api, u);
          } catch (e) {
            if (!isStaleEpoch(e)) throw e;
            // Re-keyed before the announce, unknown to this device: nothing was stored under the id. Sealed
            // anew (a new blob) under the key the stream writes with once the keys are fetched again.
            current = null;
            await refreshKeys(stream, 'put: fetching the stream keys', u.blobId);
            continue;
          }
          // Re-keyed during the upload (a grant ended): the old key is the ended grantee's too.
          const after = await writeKeyOf(stream, 'put: checking the stream key', u.blobId);
          if (after && after.epoch === u.epoch && keyId(after.key) === u.keyId) {
            current = null;
            return {
              blobId: u.blobId,
              fileName: input.fileName,
              mediaType: input.mediaType,
              size: u.size,
              sha256: digest,
            };
          }
          current = null;
          await discard(api, u.blobId, 'put: deleting an upload the stream was re-keyed during');
          if (!after) {
            throw new FileError(
              'NO_KEY',
              `put: this device no longer holds the key ${stream} writes with (re-keyed during the upload, ` +
                'not confirmed yet); the upload was deleted',
            );
          }
        }
        throw new FileError(
          'KEY_CHANGED',
          `put: ${stream} was re-keyed before or during each of ${MAX_PUT_ATTEMPTS} uploads; none was kept`,
          { retry: true },
        );
      } catch (e) {
        if (current && isFileError(e) && e.retry && deps.usable()) keepUpload(current);
        throw e;
      } finally {
        plain.fill(0);
      }
    },

    /**
     * Queues the file on this device and answers its FileRef at once, without a connection: sealed under
     * the stream's write key and uploaded when the device is online (upload-queue.ts). Refused, with
     * nothing stored: input as put's (INVALID_INPUT), a stream this device may not write (FORBIDDEN; also
     * when its access ends while the file is being stored: what was stored is removed), a full queue
     * (QUEUE_FULL), a stored queue that cannot be read (STORAGE_FAILED, not `retry`).
     */
    async enqueue(input: FileEnqueueInput): Promise<FileRef> {
      assertOpen();
      requireApi();
      const { stream, chunkSize } = checkInput(input);
      // Refused before the bytes are copied and hashed (up to MAX_FILE_BYTES of work).
      const why = queueDeps?.whyNotWritable?.(stream);
      if (why) {
        throw new FileError(
          'FORBIDDEN',
          `enqueue: this device may not write ${stream} (${why}); nothing was stored`,
        );
      }
      if (!queue) {
        throw new FileError('QUEUE_FULL', 'enqueue: this files API has no device store to queue in');
      }
      const { plain, digest } = copyInput(input.bytes);
      try {
        const ref: FileRef = {
          blobId: newBlobId(),
          fileName: input.fileName,
          mediaType: input.mediaType,
          size: plain.length,
          sha256: digest,
        };
        // A purge of the stream that ran while the chunks were being stored purges this file too: the
        // queue refuses the enqueue then (FORBIDDEN, `purgedWhileStored`).
        await queue.enqueue(ref, stream, chunkSize, plain);
        // Access may have ended meanwhile without a purge reaching the queue (yet): the file would stay,
        // kept and refused, for a stream this device no longer writes. Refused as at the start; no FileRef
        // was handed out.
        const ended = queueDeps?.whyNotWritable?.(stream);
        if (ended) {
          const removed = await queue.cancel(ref.blobId).then(
            () => true,
            () => false,
          );
          throw new FileError(
            'FORBIDDEN',
            `enqueue: this device may no longer write ${stream} (${ended}); ` +
              (removed
                ? 'nothing was stored'
                : 'the file could not be removed from this device: cancelUpload removes it'),
            { blobId: ref.blobId },
          );
        }
        return ref;
      } finally {
        plain.fill(0);
      }
    },

    /** The files queued on this device, oldest first (see QueuedUpload); emits on every change. */
    uploads$: queue ? queue.uploads$ : new BehaviorSubject<readonly QueuedUpload[]>([]).asObservable(),
    /** After the announce and after each chunk of every upload (put and queued): chunks confirmed of all. */
    uploadProgress$: uploadProgress$.asObservable(),
    /** The files queued on this device now, oldest first (see QueuedUpload); empty before `uploadsRead`. */
    uploads: (): readonly QueuedUpload[] => (queue ? queue.uploads() : []),
    /**
     * Settles once the queue stored on this device was read (uploads() lists nothing before): true, or
     * false when it cannot be read (nothing is listed or uploaded then, and enqueue refuses). Never rejects.
     */
    uploadsRead: (): Promise<boolean> => (queue ? queue.ready : Promise.resolve(true)),

    /**
     * Removes queued file `blobId` and its bytes from this device; what reached the server is deleted
     * there, best effort. False when no such file is queued.
     */
    async cancelUpload(blobId: string): Promise<boolean> {
      assertOpen();
      if (typeof blobId !== 'string' || !isRecordId(blobId)) throw invalid('blobId', 'must be a blob id');
      return queue ? queue.cancel(blobId) : false;
    },

    /** Queues again a file refused for good (`state: 'failed'`); false when there is none such. */
    async retryUpload(blobId: string): Promise<boolean> {
      assertOpen();
      if (typeof blobId !== 'string' || !isRecordId(blobId)) throw invalid('blobId', 'must be a blob id');
      return queue ? queue.retry(blobId) : false;
    },

    /**
     * The file's bytes, once every check passed (see the header); nothing otherwise. `location` is the
     * stream the record holding the FileRef is in. `onProgress` is told the bytes received after each
     * chunk from the server (a file still queued here is read at once, untold).
     */
    async get(
      fileRef: FileRef,
      location: FileLocation,
      options: { readonly onProgress?: (receivedBytes: number, size: number) => void } = {},
    ): Promise<Uint8Array> {
      assertOpen();
      const api = requireApi();
      const ref = checkFileRef(fileRef);
      const stream = streamOf(location);
      if (ref.size > MAX_FILE_BYTES) {
        throw invalid('fileRef.size', `is over the ${MAX_FILE_BYTES} bytes a file may have`);
      }
      const { blobId } = ref;
      const queued = await queuedEntry(blobId);
      if (queued) {
        // Not uploaded yet: this device's own copy, checked as the server's would be.
        if (queued.stream !== stream) {
          throw new FileError('CONTEXT_MISMATCH', `get: queued file ${blobId} is in another stream`, {
            blobId,
          });
        }
        if (queued.ref.size !== ref.size) {
          throw new FileError('SIZE_MISMATCH', `get: queued file ${blobId} has another size`, { blobId });
        }
        if (queued.ref.sha256 !== ref.sha256) {
          throw new FileError('HASH_MISMATCH', `get: queued file ${blobId} has another sha256`, { blobId });
        }
        const own = await queue!.read(blobId).catch((e: unknown) => {
          // A store closed under the read answers nothing: LOCKED, not lost.
          assertOpen();
          throw fromQueued(e, 'get', blobId);
        });
        assertOpen();
        // Null: uploaded and removed meanwhile; the server has it.
        if (own) return own;
      }
      const manifest = await call(api, (t) => api.getBlob(blobId, t), 'get: the manifest', blobId);
      const count = checkManifest(manifest, ref, stream);
      const out = new Uint8Array(ref.size);
      try {
        const place = chunkOpener(
          { blobId, stream, digests: manifest.digests, chunkSize: manifest.chunkSize },
          out,
          'get',
        );
        for (let i = 0; i < count; i++) {
          await place(i, await call(api, (t) => api.getChunk(blobId, i, t), `get: chunk ${i}`, blobId));
          options.onProgress?.(Math.min((i + 1) * manifest.chunkSize, ref.size), ref.size);
        }
        if (hexEncode(sha256(out)) !== ref.sha256) {
          throw new FileError('HASH_MISMATCH', "get: the file's sha256 is not the one its FileRef names", {
            blobId,
          });
        }
        return out;
      } catch (e) {
        out.fill(0);
        throw e;
      }
    },

    /**
     * Deletes the file on the server for good (its id is never used again), once the server files it in
     * `location`, the stream of the record holding the FileRef: a blob of another stream is refused
     * (CONTEXT_MISMATCH) and nothing deleted. A file deleted already counts as done (BLOB_DELETED: a retry
     * after a lost answer); one never stored is NOT_FOUND (`retry`) and nothing is deleted. Records holding
     * its FileRef are not changed.
     */
    async delete(fileRef: FileRef, location: FileLocation): Promise<void> {
      assertOpen();
      const api = requireApi();
      const { blobId } = checkFileRef(fileRef);
      const stream = streamOf(location);
      const queued = await queuedEntry(blobId);
      if (queued) {
        if (queued.stream !== stream) {
          throw new FileError('CONTEXT_MISMATCH', `delete: queued file ${blobId} is in another stream`, {
            blobId,
          });
        }
        // Cancels the upload (and deletes what reached the server, best effort: upload-queue.ts).
        if (await queue!.cancel(blobId)) return;
      }
      // Never stored (NOT_FOUND): nothing is deleted, not even asked for. The deletion route names no
      // stream, so a blob announced under the id meanwhile (the id is public once a record names it), in
      // any stream, would be the one it removed.
      const manifest = await call(api, (t) => api.getBlob(blobId, t), 'delete: the manifest', blobId).catch(
        (e: unknown) => {
          // Deleted already: a tombstone is kept for good, so nothing else can be under the id. The
          // deletion route answers it as done to whoever may delete in the stream.
          if (isFileError(e) && e.code === 'DELETED') return null;
          throw e;
        },
      );
      if (manifest) checkPlace(manifest, blobId, stream, 'delete');
      kept.delete(blobId);
      try {
        await call(api, (t) => api.deleteBlob(blobId, t), 'delete', blobId);
      } catch (e) {
        if (isFileError(e) && e.serverCode === 'BLOB_DELETED') return;
        throw e;
      }
    },
  };
};

/** The files part of a device session: what `createFiles` answers. */
export type Files = ReturnType<typeof createFiles>;
