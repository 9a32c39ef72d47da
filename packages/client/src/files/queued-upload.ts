/**
 * Uploading a file from the device's upload queue (enqueue's input checks, and one queued file sent).
 *
 * - Input is refused (INVALID_INPUT) before anything is copied or sent; the caller's bytes are copied.
 * - A queued file whose id the server already holds is adopted only if the held blob is this very file
 *   (its manifest and chunks check out); another file there → the id is taken, reported, nothing sent.
 * - A file the server holds the manifest of but can never complete (chunks lost) is `stuck`: the person is
 *   told to add it again (REDO).
 * - Failures are mapped for the queue (`queuedFailure`): what may pass is retried with its backoff; what
 *   cannot is reported once and the file kept or dropped as the queue's rules say.
 */
import { type StreamId, MIN_CHUNK_BYTES, DEFAULT_CHUNK_BYTES, isStreamId, isRecordId } from '@hale/protocol';
import { blobChunkCount, base64urlEncode, sha256, hexEncode, keyId, sealBytes } from '@hale/crypto';
import { type QueuedEntry, quotedName, isQueuedBytesError, type QueuedBytes } from './upload-queue';
import {
  type Upload,
  type FilesHttpApi,
  type FileEnqueueInput,
  MAX_FILE_BYTES,
  FILE_CHUNK_BYTES,
  checked,
  NameAndType,
  MAX_PUT_ATTEMPTS,
} from './file-types';
import {
  FileError,
  invalid,
  isFileError,
  REDO,
  fromQueued,
  NOT_THIS_FILE,
  noWriteKey,
  isStaleEpoch,
} from './file-errors';
import type { FilesState } from './file-types';
import type { FileSession } from './file-session';
import type { ChunkTransfer } from './chunk-transfer';

export const createQueuedUpload = (
  s: FilesState,
  up: Pick<FileSession, 'assertOpen' | 'requireApi' | 'call' | 'streamOf' | 'writeKeyOf' | 'refreshKeys'> &
    Pick<ChunkTransfer, 'confirmedThenLost' | 'send' | 'checkPlace' | 'chunkOpener'>,
) => {
  const {
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
  } = up;
  /**
   * Refuses put's and enqueue's input (INVALID_INPUT) before anything is copied or sent; answers its stream
   * and chunk size.
   */
  const checkInput = (input: FileEnqueueInput): { stream: StreamId; chunkSize: number } => {
    // Plain JavaScript may pass anything: no input is refused as such, not as a missing stream.
    if (typeof input !== 'object' || input === null) {
      throw invalid(
        'input',
        'must be an object: { patientId?, type, bytes, fileName, mediaType, chunkSize? }',
      );
    }
    const stream = streamOf(input);
    const { bytes } = input;
    if (!(bytes instanceof Uint8Array)) throw invalid('bytes', 'must be a Uint8Array');
    if (bytes.length > MAX_FILE_BYTES) {
      throw invalid('bytes', `must be at most ${MAX_FILE_BYTES} bytes (this file has ${bytes.length})`);
    }
    const chunkSize = input.chunkSize ?? FILE_CHUNK_BYTES;
    if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_BYTES || chunkSize > DEFAULT_CHUNK_BYTES) {
      throw invalid('chunkSize', `must be a whole number from ${MIN_CHUNK_BYTES} to ${DEFAULT_CHUNK_BYTES}`);
    }
    checked(NameAndType, { fileName: input.fileName, mediaType: input.mediaType }, '');
    return { stream, chunkSize };
  };

  /**
   * One synchronous step from the caller's bytes to the copy and its hash (see the header). A new array,
   * not `bytes.slice()`: a Buffer's slice is a view, and the copy is zeroed at the end.
   */
  const copyInput = (bytes: Uint8Array) => {
    const plain = new Uint8Array(bytes);
    return { plain, digest: hexEncode(sha256(plain)) };
  };

  /** The manifest the server holds under a queued file's id; null when it never stored one. */
  const heldManifest = (api: FilesHttpApi, blobId: string) =>
    call(api, (t) => api.getBlob(blobId, t), 'upload: the manifest', blobId).catch((e: unknown) => {
      if (isFileError(e) && e.code === 'NOT_FOUND' && e.serverCode === 'NOT_FOUND') return null;
      throw e;
    });

  /**
   * Errors of a queued file this device lost bytes of and can never complete (`stuck`, `plainLost`): the
   * queue's verdict 'stuck' (UPLOAD_STUCK), told apart from a refusal without reading the message.
   */
  const cannotComplete = new WeakSet<FileError>();
  const lostHere = (e: FileError): FileError => {
    cannotComplete.add(e);
    return e;
  };

  /**
   * Errors of a queued file whose chunks the server lost after confirming them (`queuedFailure`): the queue's
   * verdict 'lost' (UPLOAD_SERVER_LOST), told apart from a refusal without reading the message.
   */
  const lostOnServer = new WeakSet<FileError>();

  /**
   * `e` of uploading a queued file, as the error that says what the person can do where put's words would
   * not: the server lost chunks it had confirmed (the sealed chunks are still stored on this device,
   * upload-queue.ts, so a retry sends them again), or it deleted the file (never uploaded under this id).
   */
  const queuedFailure = (e: unknown, entry: QueuedEntry): unknown => {
    if (!isFileError(e)) return e;
    const { blobId, fileName } = entry.ref;
    if (e.code === 'DELETED' && !announcedHere.has(blobId)) {
      const error = new FileError(
        'DELETED',
        `upload: the server holds the id of "${quotedName(fileName)}" as deleted and never took this ` +
          "device's upload under it in this session: a device of the patient deleted what an earlier " +
          'session announced, or another writer of the stream, who read the id in a record, announced it ' +
          'first and deleted it. This device keeps the file: cancel it (cancelUpload) if it was deleted ' +
          'on purpose; if it is still wanted, add it again and put the new FileRef in the records naming it',
        { blobId, cause: e, ...(e.serverCode === undefined ? {} : { serverCode: e.serverCode }) },
      );
      deletedNotOurs.add(error);
      return error;
    }
    if (e.code === 'DELETED') {
      return new FileError(
        'DELETED',
        `upload: "${quotedName(fileName)}" was deleted on the server (by a device that may delete it) ` +
          'before its upload finished, and is never taken under this id again: cancel it (cancelUpload); ' +
          'if the file is still wanted, add it again and put the new FileRef in the records naming it',
        { blobId, cause: e, ...(e.serverCode === undefined ? {} : { serverCode: e.serverCode }) },
      );
    }
    const missing = confirmedThenLost.get(e);
    if (missing === undefined) return e;
    const error = new FileError(
      'INCOMPLETE',
      `upload: the server lost chunk${missing.length === 1 ? '' : 's'} ${missing.join(', ')} of ` +
        `"${quotedName(fileName)}" after confirming ${missing.length === 1 ? 'it' : 'them'} (a ` +
        "fault of the server's storage: tell its operator if it recurs); this device still holds the file: " +
        'retryUpload sends it again from this device',
      { blobId, cause: e },
    );
    lostOnServer.add(error);
    return error;
  };

  /**
   * Queued files whose manifest the server took from this session (`send`'s `announced`): a deletion of
   * one of them is of this file, made by a device that may delete it. Before that, the id is public (its
   * FileRef is in records) and another writer of the stream may have announced it first.
   */
  const announcedHere = new Set<string>();
  /** DELETED of a queued file the server never took from this session: kept, not removed (queuedFailure). */
  const deletedNotOurs = new WeakSet<FileError>();

  /**
   * An announce refused ALREADY_EXISTS whose held manifest and chunks are not this file's: another writer of
   * the stream announced the id first (it reads the FileRef in a record before this device uploads).
   */
  const idTaken = (entry: QueuedEntry, why: string): FileError =>
    new FileError(
      'CONTEXT_MISMATCH',
      `upload: the server holds another file under the id of "${quotedName(entry.ref.fileName)}" (${why}): ` +
        'another device that may write to the stream announced the id first. This device keeps the file: ' +
        'to upload it, add it again and put the new FileRef in the records naming this one, then cancel ' +
        'this upload (cancelUpload)',
      { blobId: entry.ref.blobId },
    );

  /** A queued file the server holds the manifest of and can never complete (see uploadQueued). */
  const stuck = (entry: QueuedEntry, gone: readonly number[], why: string): FileError =>
    lostHere(
      new FileError(
        'INCOMPLETE',
        `upload: "${quotedName(entry.ref.fileName)}" cannot be completed: ${why}; the server holds its ` +
          'manifest without ' +
          `chunk${gone.length === 1 ? '' : 's'} ${gone.join(', ')}, which cannot be sealed again (the digests ` +
          `are committed): ${REDO}`,
        { blobId: entry.ref.blobId },
      ),
    );

  /**
   * A plaintext chunk of a queued file with nothing of it on the server, which is not there to seal: the
   * file cannot be uploaded (READ_FAILED, which may pass, as `fromQueued`).
   */
  const plainLost = (e: unknown, entry: QueuedEntry): unknown => {
    // A store closed under the read answers nothing: LOCKED, not lost.
    assertOpen();
    const { blobId, fileName } = entry.ref;
    if (!isQueuedBytesError(e) || e.code === 'READ_FAILED') return fromQueued(e, 'upload', blobId);
    return lostHere(
      new FileError(
        e.code === 'MISMATCH' ? 'HASH_MISMATCH' : 'STORAGE_FAILED',
        `upload: the copy of "${quotedName(fileName)}" queued on this device is ` +
          `${e.code === 'MISMATCH' ? 'damaged' : 'lost'} ` +
          `(${e.message}) and the server holds nothing of it, so it cannot be uploaded: ${REDO}`,
        { blobId, cause: e },
      ),
    );
  };

  /**
   * The server refused a queued file's announce ALREADY_EXISTS: it holds another manifest under the id, one
   * an earlier session of this device announced (an announce that arrived after this session found nothing
   * there and sealed anew), or one another writer of the stream announced first. Finished as the server
   * holds it only when every chunk it lacks is held here under the digest it committed to and the whole,
   * its chunks and these, opens as get opens it to this file's sha256; stuck when chunks are missing on
   * both sides (a re-sealing overwrote the sealed chunks stored before it); refused (`idTaken`, the file
   * kept) when the manifest or its chunks are another file's.
   */
  const adoptHeld = async (
    api: FilesHttpApi,
    entry: QueuedEntry,
    u: Upload,
    refusal: unknown,
    stored: QueuedBytes,
  ) => {
    const m = await heldManifest(api, u.blobId);
    if (m === null) throw refusal;
    checkPlace(m, u.blobId, u.stream, 'upload');
    if (m.size !== u.size || m.chunkSize !== u.chunkSize || m.digests.length !== u.digests.length) {
      throw idTaken(entry, 'another size or chunk size');
    }
    const have = new Set(m.have);
    const sealed: Array<Uint8Array | null> = [];
    const gone: number[] = [];
    m.digests.forEach((digest, i) => {
      const own = u.sealed[i];
      if (have.has(i)) sealed.push(null);
      else if (own && base64urlEncode(sha256(own)) === digest) sealed.push(own);
      else gone.push(i);
    });
    if (gone.length > 0) {
      throw stuck(
        entry,
        gone,
        'an earlier session of this device announced it under other sealed chunks, or another device ' +
          'that may write to the stream announced its id first',
      );
    }
    const out = new Uint8Array(u.size);
    let digest: string;
    try {
      const place = chunkOpener(m, out, 'upload: checking the file the server holds');
      for (let i = 0; i < sealed.length; i++) {
        const own = sealed[i];
        await place(
          i,
          own ?? (await call(api, (t) => api.getChunk(u.blobId, i, t), `upload: chunk ${i}`, u.blobId)),
        );
      }
      digest = hexEncode(sha256(out));
    } catch (e) {
      if (isFileError(e) && NOT_THIS_FILE.has(e.code)) throw idTaken(entry, e.message);
      throw e;
    } finally {
      out.fill(0);
    }
    if (digest !== entry.ref.sha256) throw idTaken(entry, 'other bytes');
    await send(api, { ...u, digests: [...m.digests], sealed }, stored.assertQueued, () =>
      announcedHere.add(u.blobId),
    );
  };

  /**
   * Uploads a queued file under its own blob id (upload-queue.ts): sealed under the stream's current write
   * key unless a sealing is stored already, stored before the first announce, then sent as put sends. A
   * sealed chunk lost on this device (not stored, or not opening at rest) is decided by what the server
   * holds: no manifest, the file is sealed anew from its plaintext; the manifest and that chunk, nothing is
   * lost; the manifest without that chunk, the file can never be completed (INCOMPLETE, not `retry`).
   */
  const uploadQueued = (entry: QueuedEntry, stored: QueuedBytes): Promise<void> =>
    sendQueued(entry, stored).catch((e: unknown) => {
      throw queuedFailure(e, entry);
    });

  const sendQueued = async (entry: QueuedEntry, stored: QueuedBytes): Promise<void> => {
    assertOpen();
    const api = requireApi();
    const { blobId, size, sha256: digest } = entry.ref;
    const { stream, chunkSize } = entry;
    if (!isStreamId(stream) || !isRecordId(blobId)) {
      throw new FileError('INVALID_INPUT', `upload: the queued file's stream or blob id is malformed`, {
        blobId,
      });
    }
    const count = blobChunkCount(size, chunkSize);
    let sealing = entry.sealing;
    for (let attempt = 1; ; attempt++) {
      const write = await writeKeyOf(stream, 'upload: fetching the stream key', blobId);
      if (!write) {
        throw noWriteKey('upload', stream, blobId);
      }
      const writeKeyId = keyId(write.key);
      let sealed: Array<Uint8Array | null> | null = null;
      if (sealing) {
        const rekeyed = sealing.epoch !== write.epoch || sealing.keyId !== writeKeyId;
        // Sealed anew only if the server holds nothing under the id: once it holds the manifest it takes no
        // other bytes under it, and records may name the id already. Asked before the sealed chunks are
        // read when re-keyed: holding nothing, they are not needed.
        let manifest = rekeyed ? await heldManifest(api, blobId) : undefined;
        const held: Array<Uint8Array | null> = [];
        const lost: number[] = [];
        if (manifest !== null) {
          for (let i = 0; i < count; i++) {
            const chunk = await stored.readSealed(i).catch((e: unknown) => {
              if (isQueuedBytesError(e, 'UNREADABLE')) return null;
              throw fromQueued(e, 'upload', blobId);
            });
            if (!chunk) lost.push(i);
            held.push(chunk);
          }
          // A store closed under the reads answers nothing: LOCKED, not lost.
          assertOpen();
          if (manifest === undefined && lost.length > 0) manifest = await heldManifest(api, blobId);
        }
        if (manifest === null) {
          await stored.dropSealing();
          sealing = undefined;
        } else {
          const have = new Set(manifest?.have ?? []);
          const gone = lost.filter((i) => !have.has(i));
          if (gone.length > 0) {
            throw stuck(entry, gone, 'sealed chunks were lost on this device before the server stored them');
          }
          // Null: a chunk lost here that the server holds.
          sealed = held;
        }
      }
      if (!sealing || !sealed) {
        const fresh: Uint8Array[] = [];
        for (let i = 0; i < count; i++) {
          // Of its length, as the queue checks (upload-queue.ts).
          const part = await stored.readPlain(i).catch((e: unknown) => {
            throw plainLost(e, entry);
          });
          assertOpen();
          fresh.push(sealBytes(write.key, { blobId, chunkIndex: i, epoch: write.epoch }, part));
          part.fill(0);
        }
        sealing = {
          epoch: write.epoch,
          keyId: writeKeyId,
          digests: fresh.map((c) => base64urlEncode(sha256(c))),
        };
        // Stored before the announce (see upload-queue.ts).
        await stored.saveSealing(sealing, fresh);
        sealed = fresh;
      }
      const upload: Upload = {
        blobId,
        stream,
        epoch: sealing.epoch,
        keyId: sealing.keyId,
        size,
        chunkSize,
        sha256: digest,
        digests: sealing.digests,
        sealed,
      };
      // Null before sending: lost here, held by the server (`send` nulls what it confirms as it goes).
      const notHere = sealed.flatMap((chunk, i) => (chunk ? [] : [i]));
      try {
        await send(api, upload, stored.assertQueued, () => announcedHere.add(blobId));
        return;
      } catch (e) {
        // Lost by the server too: no copy is left to send again (else `queuedFailure`: retry sends it).
        const gone = (isFileError(e) ? (confirmedThenLost.get(e) ?? []) : []).filter((i) =>
          notHere.includes(i),
        );
        if (gone.length > 0) {
          throw stuck(entry, gone, 'the server lost sealed chunks it held that were lost on this device too');
        }
        if (isFileError(e) && e.serverCode === 'ALREADY_EXISTS') {
          return adoptHeld(api, entry, upload, e, stored);
        }
        if (!isStaleEpoch(e)) throw e;
      }
      // The stream was re-keyed before this announce and this device did not know yet: the server stored
      // nothing under the id, so the file is sealed anew under the same id (records may name it already),
      // once the keys are fetched again. Bounded: the queue's backoff takes over after that.
      await stored.dropSealing();
      sealing = undefined;
      if (attempt >= MAX_PUT_ATTEMPTS) {
        throw new FileError(
          'KEY_CHANGED',
          `upload: ${stream} was re-keyed past the key this device knows at each of ${MAX_PUT_ATTEMPTS} ` +
            'announces; nothing was stored, it is tried again later',
          { blobId, retry: true },
        );
      }
      await refreshKeys(stream, 'upload: fetching the stream keys', blobId);
    }
  };

  return {
    checkInput,
    copyInput,
    cannotComplete,
    lostOnServer,
    deletedNotOurs,
    uploadQueued,
  };
};

export type QueuedUploadParts = ReturnType<typeof createQueuedUpload>;
