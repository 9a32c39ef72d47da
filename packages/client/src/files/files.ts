/**
 * Encrypted files on the device (`session.files`): document scans, lab-result and message attachments.
 * This file composes the API; file-session.ts (requests, keys, kept uploads), chunk-transfer.ts (chunks on the
 * wire), queued-upload.ts (the upload queue's sends), file-types.ts and file-errors.ts hold the parts.
 *
 * A file is a blob on the sync server (docs/protocol.md, "Blob manifests") in one of a patient's streams
 * that carry files (FILE_STREAM_TYPES). It is cut into chunks of `chunkSize` plaintext bytes, each sealed
 * with `sealBytes` under the stream's current write key (`keyring.writeKey`, the key the engine seals
 * records with) and bound to {blobId, chunkIndex, epoch}; the manifest lists the sha256 of each sealed
 * chunk. What a record keeps is the FileRef: blobId, fileName, mediaType, size and the plaintext's sha256.
 *
 * Invariants:
 * - Nothing is sent before the input passed: `type` one of FILE_STREAM_TYPES, `patientId` an account id,
 *   `bytes` at most MAX_FILE_BYTES, `chunkSize` within the protocol's bounds, fileName and mediaType as the
 *   model's FileRefSchema takes them, `resumeBlobId` (if given) of the protocol's id form. A FileRef handed
 *   to get or delete is checked against FileRefSchema (and its blobId against the protocol's id form),
 *   never taken on trust.
 * - put copies the caller's bytes and hashes the copy in one synchronous step, before its first await:
 *   the FileRef describes exactly what was sealed, even if the caller changes the array later. The copy is
 *   zeroed when put settles.
 * - A FileRef put answers names a blob sealed under the key the stream writes with once the upload is
 *   done: after the server confirmed every chunk, put asks `writeKey` again, and if the stream was re-keyed
 *   meanwhile (a grant ended: the old key is the ended grantee's too) or this device no longer holds its
 *   write key, the blob is deleted on the server (best effort) and the file sealed anew under the current
 *   key and uploaded again, at most MAX_PUT_ATTEMPTS uploads in all; then FileError KEY_CHANGED (`retry`),
 *   or NO_KEY, with no FileRef handed out. A re-keying before the upload that this device did not know of
 *   yet (put right after connecting) the server catches: an announce names the epoch its chunks are sealed
 *   under and a new manifest under a replaced epoch is refused (STALE_EPOCH, nothing stored), as a record
 *   push is; put then fetches the stream's keys again (`refreshKeys`) and seals anew under a new blob id,
 *   within the same MAX_PUT_ATTEMPTS. A resume announces a manifest the server may hold already, which it
 *   does not compare with the current epoch (its bytes were committed when stored), so put fetches the
 *   keys first and a kept upload under a replaced key is sealed anew. A re-keying after the last check is
 *   like one after a record was written. What reached the server under the old key stays readable to a
 *   holder of that key who has a copy the server kept (or a blob the best-effort delete missed); no
 *   FileRef names it.
 * - The announce names its epoch only to a server whose `GET /v1/server` `versions` include
 *   BLOB_EPOCH_VERSION (asked once per api object, server-versions.ts; a failed read fails the call as
 *   any refusal of the server's does, e.g. OFFLINE with `retry` for no answer): an older server refuses
 *   the field. Against one the announce goes without it and nothing catches a re-keying this device did
 *   not know of: such a file of put or the queue is sealed under the replaced key and stays so, as before
 *   the server checked (put's own check after the upload catches only a re-keying this device learned of
 *   meanwhile).
 * - Each put uploads a blob of its own under a fresh random id, also of bytes put before: no two
 *   successful puts answer the same blob, so deleting one attachment never removes another's file.
 * - A put resumes a cut-off upload only when asked: `resumeBlobId`, the `blobId` of the FileError with
 *   `retry` an earlier put failed with. An upload that failed for a reason that can pass (no answer, the
 *   server busy: `retry`) is kept in memory (blob id, manifest, and the sealed chunks the server has not
 *   confirmed); a put naming it, of the same bytes into the same stream with the same chunk size, takes it
 *   (no other put can take it while it runs) and announces the same manifest again: the server answers
 *   which chunks it holds, only the others are sent. Otherwise (not kept, another file's, being resumed by
 *   another put) the put starts a new blob. A kept upload taken when the stream writes under another key (a
 *   re-keying since) is deleted on the server, best effort, and the file is sealed anew. An upload that
 *   runs is never deleted by another put; an upload refused for good is not kept.
 * - Kept uploads are bounded: at most `keep.uploads` (MAX_KEPT_UPLOADS) of them and `keep.bytes`
 *   (MAX_KEPT_BYTES) of sealed chunks; the oldest are dropped from memory first (not deleted on the
 *   server), but the one just cut off is always kept. A resume of a dropped one starts a new blob. After
 *   close() or a lock every kept upload is dropped (below). A dropped upload stays on the server, counting against
 *   the quota, until deleted (`delete` with the error's blobId).
 * - delete deletes only a blob the server files in the caller's stream: it reads the manifest first and
 *   refuses (CONTEXT_MISMATCH, nothing deleted) a blob of another stream. A FileRef comes from a record any
 *   writer of that record's stream may have made; without this check a grantee with write consent to
 *   messages could make the patient's app delete a document's file through a message attachment.
 * - Blob ids are 128 random bits in Crockford base32 (26 characters): the protocol's id form and within the
 *   model's BLOB_ID_PATTERN, and not guessable, so no one can announce a put's id first. An enqueued file's
 *   id is not secret: its FileRef is in records that sync before the queue uploads it, so another writer of
 *   the patient's streams may announce it first. The queue never takes such a blob for the file (see
 *   `adoptHeld` and the deletion rule below) and keeps the file, refused, until the person acts.
 * - get hands out bytes only once the whole file passed every check: per chunk, its sealed bytes hash to
 *   the manifest's digest, its key id names a key of the stream this device holds, it opens under that key
 *   (authentic) with the expected context {blobId, chunkIndex, epoch}, every chunk under the same epoch, and
 *   its plaintext has the length the manifest's chunk size gives it; the manifest's blob id, stream, size
 *   and chunk count agree with the FileRef and the caller's stream; the whole plaintext's sha256 equals
 *   fileRef.sha256. The manifest is the server's word and proves nothing alone: the FileRef comes from an
 *   authenticated record, so a server that alters, swaps, drops or reorders chunks, or misstates the size,
 *   is caught. On any failure the bytes assembled so far are zeroed and nothing is returned. A blob the
 *   server holds only part of is INCOMPLETE with `retry`: `enqueue` hands out its FileRef before the
 *   upload, which the queue of the device that added it resumes (a lost chunk tells on that device:
 *   UPLOAD_SERVER_LOST), so the rest may still come.
 * - Once the account is locked or the session closed, nothing more is started or sent (AccountError
 *   LOCKED; every request checks first) and kept uploads are dropped at the next call. The bearer token is obtained with the
 *   session's own copy of the device key (createSessionManager), and renewed once when the server says it
 *   expired.
 * - enqueue (offline first) answers a FileRef made on the device (a fresh blob id; size and sha256 of the
 *   copy) without sending anything, and keeps the copy in the device's upload queue (upload-queue.ts, its
 *   header: storage, bounds, when it uploads, crash safety). `uploadQueued` seals a queued file under the
 *   stream's write key at upload time (as this device knows it: the session lets the queue upload only
 *   once caught up after connecting, when this connection's epochs are known) and sends it as put does
 *   (`send`), under the blob id already handed out: unlike put, a re-keying once the server holds its
 *   manifest does not start a new blob (the id is in records already, and the server takes no other bytes
 *   under it), so such a file stays sealed under the older key, also when the next session of the device
 *   finishes it. A re-keying before the server held it is caught at the announce (STALE_EPOCH: nothing
 *   stored): the sealing is dropped, the keys fetched again and the file sealed anew under the same blob
 *   id, at most MAX_PUT_ATTEMPTS announces in one upload, then KEY_CHANGED (`retry`: the queue's backoff).
 *   A success answer this device cannot take (HTTP 2xx, BAD_RESPONSE: not JSON, off its schema; a captive
 *   portal's page, say) is no refusal: `retry` (`isGarbledSuccess`), so the queue keeps the file and tries
 *   it again with its backoff, as after no answer, and a put is kept to resume.
 *   A sealed chunk lost on this device (not stored, or not opening at rest) is decided by what the server
 *   holds, asked first (announcing would store the manifest): none, the file is sealed anew from its
 *   plaintext; the manifest and that chunk, the rest is sent; the manifest without it, the file can never
 *   be completed (INCOMPLETE, not `retry`: sealing is randomized and the digest committed). A plaintext
 *   chunk lost when it is needed (nothing on the server) fails it too (STORAGE_FAILED, or HASH_MISMATCH
 *   for one of the wrong length; not `retry`); both messages say the records naming it point to a file
 *   that will never be complete, and the file stays listed until cancelled. Such a file is 'stuck' to the
 *   queue, reported UPLOAD_STUCK (the errors `stuck` and `plainLost` make, marked `cannotComplete`), apart
 *   from a refusal (UPLOAD_REFUSED): the app tells them apart by code, not by the message. Chunks the
 *   server confirmed during an upload and lacks at its end (lost by the server) fail it for good as
 *   UPLOAD_SERVER_LOST (`queuedFailure`, marked `lostOnServer`): the sealed chunks are still stored here, so
 *   retryUpload sends them again (one also lost here is stuck instead). A file deleted on the server
 *   (DELETED) after the server took its announce from this session (`announcedHere`: only the patient's
 *   devices may then delete it) is never taken under its id again: the queue removes it with its
 *   bytes (get then asks the server: DELETED) and reports it once, UPLOAD_DELETED; only when the device
 *   store cannot remove it is it refused, its message saying to cancel it, not to retry. Deleted before
 *   that (what an earlier session announced, or a blob another writer announced first under the public id
 *   and deleted: this device cannot tell them apart), it is refused and kept (DELETED, UPLOAD_REFUSED), its
 *   message saying to cancel it or add it again. When access to
 *   a stream ends, each of its queued files is removed in turn (UPLOAD_PURGED); one the store fails to
 *   remove is reported UPLOAD_PURGE_FAILED, the others still go, and it is tried again with the
 *   queue's backoff until removed, by the next session if this one ends first; a purge that comes while
 *   the session is locked, or the stored queue could not be read, is recorded for the next session, and
 *   a file being enqueued when its stream's purge ran is purged with it (enqueue refused FORBIDDEN)
 *   (upload-queue.ts `purgeStream`). Messages quote a file's
 *   name shortened (`quotedName`). An announce
 *   refused ALREADY_EXISTS (an earlier session's announce arrived after this one found nothing and sealed
 *   anew; or another writer announced the id first) takes what the server holds only if every chunk it
 *   lacks is held here under its digest and the whole, its chunks read back, opens as get opens it to the
 *   FileRef's sha256; INCOMPLETE (UPLOAD_STUCK) as above when chunks are missing on both sides;
 *   CONTEXT_MISMATCH (UPLOAD_REFUSED, the file kept) when it is another file. The server refuses a late
 *   announce of this device under a replaced epoch (STALE_EPOCH), so it can arrive only under the current
 *   one.
 *   get of a FileRef queued here answers the queued bytes (checked against its sha256; a copy the device
 *   store cannot read is STORAGE_FAILED, bytes that read but differ HASH_MISMATCH);
 *   delete of one cancels it. `uploadsRead` settles once the stored queue was read; a queue stored that
 *   cannot be read (damaged: device-meta reports it) is never written over, and enqueue then refuses
 *   (STORAGE_FAILED, not `retry`), storing nothing.
 * - No platform API: HTTP through the injected HttpApi, hashing and sealing from @hale/crypto.
 * Costs: put holds a copy of the plaintext until it settles, and a sealed copy until each chunk is
 * confirmed (a re-keying during the upload: sealed again); get holds the sealed chunk in flight and the
 * plaintext. Sealing and opening run on the calling thread, chunks one at a time. Finding the key a chunk
 * names (`keyNamed`): a look among the keys the keyring holds (one key id hash per epoch held), and, for
 * a key not held, one fetch of the stream's envelopes per get, however many epochs the stream has.
 *
 * Failure modes: FileError (FILE_ERROR_CODES; QUEUE_FULL for an enqueue past the queue's bounds;
 * STORAGE_FAILED for a queued file's bytes the device store cannot hand out, `retry` for a failed read, and
 * for an enqueue onto a stored queue that cannot be read; get: DELETED
 * for a file deleted on the server, NOT_FOUND with `retry` for one never stored there (not uploaded yet by
 * the device that added it, or removed there before it was: the server cannot tell); REFUSED with
 * `serverCode` BAD_RESPONSE for an answer breaking the protocol (`retry` for a garbled 2xx, which may pass;
 * otherwise as the HTTP API says); `field` for INVALID_INPUT, `serverCode` for what
 * the server or the transport answered, `blobId` when one is known, `retry` when the same call may
 * succeed later;
 * a keyring failure that is no answer of the server's as KEYRING_FAILED with its `cause`); AccountError
 * LOCKED for a locked account or a closed session.
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

export const createFiles = (deps: FilesDeps) => {
  const uploadProgress$ = new Subject<UploadProgress>();
  const keep = deps.keep ?? { uploads: MAX_KEPT_UPLOADS, bytes: MAX_KEPT_BYTES };
  /** Uploads cut off with `retry`, by blob id, oldest first: what a put with `resumeBlobId` takes. */
  const kept = new Map<string, Upload>();
  const state: FilesState = { deps, keep, kept, uploadProgress$ };

  const {
    assertOpen,
    requireApi,
    call,
    streamOf,
    writeKeyOf,
    refreshKeys,
    keepUpload,
    claim,
    discard,
    speaksBlobEpoch,
  } = createFileSession(state);
  const { confirmedThenLost, send, checkPlace, checkManifest, chunkOpener } = createChunkTransfer(state, {
    assertOpen,
    call,
    speaksBlobEpoch,
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
    // Access to a stream ended: what was queued for it goes with its records (docs/client-advanced.md, Consent:
    // changes never sent are removed with the stream, their content not kept).
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

export type Files = ReturnType<typeof createFiles>;
