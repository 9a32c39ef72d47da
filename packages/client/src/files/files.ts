/**
 * Encrypted files on the device (`session.files`): document scans, lab-result and message attachments.
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
import { HaleError } from '../hale/hale-error';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { BehaviorSubject, Subject } from 'rxjs';
import {
  BLOB_CHUNK_SIZE,
  MAX_BLOB_SIZE,
  base64urlEncode,
  blobChunkCount,
  crockfordBase32Encode,
  hexEncode,
  keyId,
  openBytes,
  randomBytes,
  sealBytes,
  sealedKeyId,
  sha256,
  type Ed25519,
} from '@hale/crypto';
import { FileRefSchema, isAccountId, schemaIssues, type FileRef, type StreamType } from '@hale/model';
import {
  BLOB_EPOCH_VERSION,
  DEFAULT_CHUNK_BYTES,
  MAX_BLOB_BYTES,
  MIN_CHUNK_BYTES,
  isRecordId,
  isStreamId,
  validate,
  type HttpBlobCreateRequest,
  type HttpBlobManifestResponse,
  type StreamId,
} from '@hale/protocol';
import { AccountError, isAccountError } from '../account/errors';
import { serverSpeaks } from '../account/server-versions';
import { isHaleClientError, type HaleClientError } from '../api/errors';
import type { HttpApi } from '../api/http-api';
import { createSessionManager, type SessionDevice, type SessionManager } from '../api/session-manager';
import { CONNECTION_CODES, SyncError } from '../sync/connection';
import type { Keyring } from '../sync/keyring';
import type { DeviceMeta } from '../session/device-meta';
import {
  createUploadQueue,
  isQueuedBytesError,
  quotedName,
  type QueuedBytes,
  type QueuedEntry,
  type QueuedUpload,
  type UploadQueue,
} from './upload-queue';

/**
 * Stream types whose records hold FileRefs (HealthDocument `file`, LabResult and Message `attachments`):
 * the streams a file may be put in. Only ever appended to.
 */
export const FILE_STREAM_TYPES = [
  'document',
  'lab-result',
  'message',
] as const satisfies readonly StreamType[];
export type FileStreamType = (typeof FILE_STREAM_TYPES)[number];

/** Largest file: the smaller of what the crypto package seals and what the protocol carries. */
export const MAX_FILE_BYTES = Math.min(MAX_BLOB_SIZE, MAX_BLOB_BYTES);

/** Plaintext bytes per chunk unless the caller chooses fewer (at least MIN_CHUNK_BYTES). */
export const FILE_CHUNK_BYTES = Math.min(BLOB_CHUNK_SIZE, DEFAULT_CHUNK_BYTES);

/** What a held blob that fails get's checks is (files.ts `adoptHeld`): another file than the one queued. */
const NOT_THIS_FILE: ReadonlySet<string> = new Set([
  'TAMPERED',
  'NO_KEY',
  'CONTEXT_MISMATCH',
  'SIZE_MISMATCH',
  'HASH_MISMATCH',
]);

/** Codes of FileError. Stable strings the app switches on; only ever appended to. */
export const FILE_ERROR_CODES = [
  /** A field of the input is not what the call takes; `field` names it. Nothing was sent. */
  'INVALID_INPUT',
  /**
   * The session was opened without an HTTP API that has the blob routes (`api`: `createHttpApi(...)`).
   * Nothing was sent.
   */
  'NO_HTTP_API',
  /**
   * This device holds no key of the stream to seal with (no consent, a re-keying not confirmed yet, or not
   * synced yet), or none of its keys of the stream is the one a chunk names (sealed under a key this device
   * was never given, or under another stream's). Nothing was sent, or no bytes were returned.
   */
  'NO_KEY',
  /** A chunk does not hash to its manifest digest, or its seal does not authenticate: altered bytes. */
  'TAMPERED',
  /**
   * A chunk opens, but was sealed for another blob, index or epoch (a chunk served in place of another), or
   * the server files the blob under another blob id or stream than the caller's.
   */
  'CONTEXT_MISMATCH',
  /** The manifest's size or chunk count, or a chunk's length, differs from what the FileRef says. */
  'SIZE_MISMATCH',
  /** Every chunk opened, but the file's sha256 is not fileRef.sha256. */
  'HASH_MISMATCH',
  /**
   * The server does not hold every chunk of the blob. get: `retry` (a file another device enqueued may be
   * part uploaded: its queue sends the rest; or the server lost chunks, which that device's queue reports
   * as UPLOAD_SERVER_LOST). put: the server did not confirm every chunk sent; `retry` (put again with
   * `resumeBlobId`).
   */
  'INCOMPLETE',
  /**
   * No blob under this id was ever stored on the server (`serverCode` NOT_FOUND): a file another device
   * added may not be uploaded yet by that device (its upload queue sends it once online), or it was
   * removed before it was (cancelled, or purged with its stream, on that device) and never comes; the
   * server cannot tell which, and the message says both. `retry`: try again later. A file deleted on the
   * server is DELETED instead (servers before blob read tombstones answered NOT_FOUND for it too).
   */
  'NOT_FOUND',
  /**
   * The server refused this account the stream (`serverCode`: NO_CONSENT, CONSENT_REVOKED,
   * CONSENT_EXPIRED, or FORBIDDEN for read-only consent or a blob another grantee uploaded).
   */
  'FORBIDDEN',
  /**
   * No answer from the server (`serverCode` NETWORK, TIMEOUT, or STOPPED after goOffline()). `retry`; a put
   * is kept to resume.
   */
  'OFFLINE',
  /** Any other refusal (`serverCode`, e.g. QUOTA_EXCEEDED, RATE_LIMITED); `retry` as the server says. */
  'REFUSED',
  /**
   * put: the stream was re-keyed before (unknown to this device: the server refused the announce,
   * STALE_EPOCH) or during each of MAX_PUT_ATTEMPTS uploads of the file; each was deleted on the server
   * (best effort) or never stored, and no FileRef handed out. A queued upload: refused STALE_EPOCH at each
   * of MAX_PUT_ATTEMPTS announces (nothing stored; the queue tries again later). `retry`.
   */
  'KEY_CHANGED',
  /**
   * Fetching or reading the stream's keys failed other than by an answer of the server or the transport
   * (`cause`: e.g. KeyringError CLAIM_UNCONFIRMED, the device store). No FileRef or bytes handed out.
   */
  'KEYRING_FAILED',
  /**
   * enqueue: the device's upload queue holds its most files or bytes already (upload-queue.ts
   * MAX_QUEUED_UPLOADS, MAX_QUEUED_BYTES), or this files API has no device store to queue in. Nothing was
   * stored. `retry`: it passes once queued files are uploaded or cancelled.
   */
  'QUEUE_FULL',
  /**
   * The file was deleted on the server (`serverCode` BLOB_DELETED): it will not come back, and its id is
   * never used again. Not `retry`. (delete treats it as done.)
   */
  'DELETED',
  /**
   * The device store could not hand out the bytes of a file queued on this device (`cause`: the queue's
   * QueuedBytesError): `retry` when its read failed (an I/O error: it may pass); not `retry` when they are
   * lost or damaged there (a chunk not stored, or one that does not open at rest). Bytes that read fine but
   * do not match their FileRef are HASH_MISMATCH instead. enqueue: the upload queue stored on this device
   * cannot be read (damaged, or the store failed when the session opened it); nothing was stored, not
   * `retry` (this session never reads it again; it is not written over).
   */
  'STORAGE_FAILED',
] as const;
export type FileErrorCode = (typeof FILE_ERROR_CODES)[number];

export interface FileErrorExtra {
  readonly field?: string;
  readonly serverCode?: string;
  readonly blobId?: string;
  readonly retry?: boolean;
  readonly cause?: unknown;
}

export class FileError extends HaleError {
  readonly code: FileErrorCode;
  /** Whether the same call may succeed later unchanged. */
  readonly retry: boolean;
  // `field` (HaleError): INVALID_INPUT's input field at fault (`fileName`, `bytes`, `fileRef.sha256`, …).
  /** The code the server (or the transport: NETWORK, TIMEOUT) answered. */
  readonly serverCode?: string;
  readonly blobId?: string;

  constructor(code: FileErrorCode, message: string, extra: FileErrorExtra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'FileError';
    this.code = code;
    this.retry = extra.retry ?? false;
    if (extra.field !== undefined) this.field = extra.field;
    if (extra.serverCode !== undefined) this.serverCode = extra.serverCode;
    if (extra.blobId !== undefined) this.blobId = extra.blobId;
  }
}

export const isFileError = (e: unknown): e is FileError => e instanceof FileError;

/** The HTTP routes files use: a bearer session and the blob routes. */
export type FilesHttpApi = Pick<
  HttpApi,
  'challenge' | 'session' | 'serverInfo' | 'createBlob' | 'putChunk' | 'getBlob' | 'getChunk' | 'deleteBlob'
>;

/** An HTTP API that may lack the blob routes (a session opened for the passphrase watch only). */
export type MaybeFilesHttpApi = Pick<HttpApi, 'challenge' | 'session'> & Partial<FilesHttpApi>;

const hasBlobRoutes = (api: MaybeFilesHttpApi): api is FilesHttpApi =>
  typeof api.serverInfo === 'function' &&
  typeof api.createBlob === 'function' &&
  typeof api.putChunk === 'function' &&
  typeof api.getBlob === 'function' &&
  typeof api.getChunk === 'function' &&
  typeof api.deleteBlob === 'function';

/** Most uploads kept to resume (see the header). */
export const MAX_KEPT_UPLOADS = 8;
/** Most bytes of sealed chunks kept to resume, all kept uploads together (see the header). */
export const MAX_KEPT_BYTES = 64 * 1024 * 1024;
/** Most uploads of one put, each overtaken by a re-keying, before it fails KEY_CHANGED. */
export const MAX_PUT_ATTEMPTS = 3;

export interface FilesDeps {
  readonly accountId: string;
  readonly api: MaybeFilesHttpApi | undefined;
  /** The session's own copy of the device key (zeroed by its close()): what authenticating signs with. */
  readonly device: SessionDevice;
  readonly ed: Ed25519;
  readonly now?: () => number;
  readonly keyring: Pick<Keyring, 'writeKey' | 'heldKeyWithId' | 'refresh'>;
  /** Throws AccountError LOCKED once the account is locked (the session's `assertUsable`). */
  readonly assertUnlocked: () => void;
  /** Whether the session may still use its keys: not once locked, nor after close(). */
  readonly usable: () => boolean;
  /** Bounds of the uploads kept to resume; MAX_KEPT_UPLOADS and MAX_KEPT_BYTES by default. */
  readonly keep?: { readonly uploads: number; readonly bytes: number };
  /** The device's upload queue (`enqueue`, upload-queue.ts); without it enqueue refuses QUEUE_FULL. */
  readonly queue?: FilesQueueDeps;
}

/** What the upload queue needs of the session (session.ts wires it). */
export interface FilesQueueDeps {
  /** The device store the queue lies in (sealed at rest). */
  readonly meta: DeviceMeta;
  /** Whether queued files may upload now: connected and caught up (the session: sync status `online`). */
  readonly online: () => boolean;
  /**
   * Calls `listener` with `online()` at once and at each change, and with whether the link is up
   * (`connected`: also while catching up, e.g. after an access change; `online` when not given): only a
   * return after the link was down retries every waiting file at once. Answers a function that stops it.
   */
  readonly onOnlineChange: (listener: (online: boolean, connected?: boolean) => void) => () => void;
  /** Why this device may not write `stream` (the engine's `whyNotWritable`), or null. */
  readonly whyNotWritable?: (stream: string) => string | null;
  /**
   * A queued file failed for good, for the sync state's `errors`: refused (UPLOAD_REFUSED), lost in part
   * on this device so it can never be completed (UPLOAD_STUCK), or lost by the server after it confirmed
   * chunks (UPLOAD_SERVER_LOST; upload-queue.ts UPLOAD_FAILURE_CODES).
   */
  readonly report?: (issue: { code: string; message: string; stream: string; id: string }) => void;
  /** Drops an issue `report` made once its cause ended (the engine's `clearIssues`). */
  readonly clearReport?: (issue: { code: string; stream: string; id: string }) => void;
  /**
   * Calls `listener` with each stream whose records this device purged (access ended): its queued files
   * are removed with them, unsent (UPLOAD_PURGED), as unsent record changes are. Answers a function that
   * stops it.
   */
  readonly onStreamPurged?: (listener: (stream: string) => void) => () => void;
  readonly bounds?: { readonly uploads: number; readonly bytes: number };
  readonly retry?: { readonly baseMs: number; readonly maxMs: number };
}

/** What `enqueue` takes: put's input, without resuming (a queued file resumes by itself). */
export type FileEnqueueInput = Omit<FilePutInput, 'resumeBlobId'>;

export interface FilePutInput {
  /** The patient whose stream the file goes in; this account by default. */
  readonly patientId?: string;
  readonly type: FileStreamType;
  readonly bytes: Uint8Array;
  readonly fileName: string;
  readonly mediaType: string;
  /** Plaintext bytes per chunk, MIN_CHUNK_BYTES…DEFAULT_CHUNK_BYTES; FILE_CHUNK_BYTES by default. */
  readonly chunkSize?: number;
  /**
   * The `blobId` of the FileError with `retry` an earlier put of these bytes failed with: resumes that
   * upload, sending only the chunks the server lacks, when it can (see the header); a new blob otherwise.
   */
  readonly resumeBlobId?: string;
}

/** Where a file is: the stream of `type` of `patientId` (this account by default). */
export interface FileLocation {
  readonly patientId?: string;
  readonly type: FileStreamType;
}

/** One blob's upload, owned by the put running it or kept after a failure to resume (see the header). */
interface Upload {
  readonly blobId: string;
  readonly stream: StreamId;
  readonly epoch: number;
  readonly keyId: string;
  readonly size: number;
  readonly chunkSize: number;
  /** The plaintext's sha256 (hex): a resume must be of the same bytes. */
  readonly sha256: string;
  readonly digests: readonly string[];
  /** Sealed chunks the server has not confirmed yet; null once it has. */
  readonly sealed: Array<Uint8Array | null>;
}

const pendingBytes = (u: Upload): number => u.sealed.reduce((n, s) => n + (s?.length ?? 0), 0);

const CONSENT_CODES: ReadonlySet<string> = new Set([
  'NO_CONSENT',
  'CONSENT_REVOKED',
  'CONSENT_EXPIRED',
  'FORBIDDEN',
]);

/** NO_KEY: this device cannot write `stream` now (`what`: the call that needed the key). */
const noWriteKey = (what: string, stream: string, blobId?: string): FileError =>
  new FileError(
    'NO_KEY',
    `${what}: this device holds no key to write ${stream} (no write consent, a re-keying not confirmed yet, or ` +
      'not synced yet)',
    blobId === undefined ? {} : { blobId },
  );

/** A server's or the transport's refusal as a FileError; anything else (LOCKED, a bug) as it is. */
const fromServer = (e: unknown, what: string, blobId?: string): unknown => {
  if (isFileError(e) || isAccountError(e)) return e;
  if (!isHaleClientError(e) && !(e instanceof SyncError)) return e;
  const extra = { serverCode: e.code, cause: e, ...(blobId === undefined ? {} : { blobId }) };
  if (CONNECTION_CODES.has(e.code)) {
    return new FileError('OFFLINE', `${what}: no answer from the server (${e.message})`, {
      ...extra,
      retry: true,
    });
  }
  if (CONSENT_CODES.has(e.code)) {
    return new FileError('FORBIDDEN', `${what}: the server refused access (${e.code}): ${e.message}`, extra);
  }
  if (e.code === 'BLOB_DELETED') {
    return new FileError('DELETED', `${what}: the file was deleted on the server`, extra);
  }
  if (e.code === 'NOT_FOUND') {
    // Never stored under the id, which is all the server knows: a file another device added may still
    // wait in that device's upload queue (`retry`), or it was removed there before it was uploaded
    // (cancelled, purged) and never comes. The message says both, not a guess of one.
    return new FileError(
      'NOT_FOUND',
      `${what}: the server has no file under this id; it may not have been uploaded yet by the device that ` +
        'added it (try again later), or it was removed',
      { ...extra, retry: true },
    );
  }
  // An answer the device cannot take is no refusal the server chose: said so (the code stays REFUSED).
  const said =
    e.code === 'BAD_RESPONSE'
      ? `the server's answer breaks the protocol (${e.code})`
      : `the server refused (${e.code})`;
  return new FileError('REFUSED', `${what}: ${said}: ${e.message}`, {
    ...extra,
    retry: e.retry || isGarbledSuccess(e),
  });
};

/**
 * A success answer (HTTP 2xx) the device could not take (BAD_RESPONSE: not JSON, breaking the route's
 * schema, too large, another 2xx than the route's): the server refused nothing and may well have done what
 * was asked; what garbled it (a captive portal's page, a proxy, a fault of the server) may pass. Not
 * `retry` as a request (api/errors.ts), but `retry` as a FileError: a put is kept to resume, and the upload
 * queue tries the file again with its backoff.
 */
const isGarbledSuccess = (e: HaleClientError | SyncError): boolean =>
  e.code === 'BAD_RESPONSE' && isHaleClientError(e) && e.status >= 200 && e.status < 300;

/**
 * A keyring failure as a FileError: the server's or the transport's answer as `fromServer`, AccountError
 * LOCKED as it is, anything else KEYRING_FAILED with it as the cause.
 */
const fromKeyring = (e: unknown, what: string, blobId?: string): unknown => {
  const known = fromServer(e, what, blobId);
  if (isFileError(known) || (isAccountError(known) && known.code === 'LOCKED')) return known;
  const reason = e instanceof Error ? `${e.name}${'code' in e ? ` ${String(e.code)}` : ''}` : typeof e;
  return new FileError('KEYRING_FAILED', `${what}: the stream's keys could not be read (${reason})`, {
    cause: e,
    ...(blobId === undefined ? {} : { blobId }),
  });
};

const invalid = (field: string, reason: string): FileError =>
  new FileError('INVALID_INPUT', `${field} ${reason}; nothing was sent`, { field });

const NameAndType = Type.Pick(FileRefSchema, ['fileName', 'mediaType']);

/**
 * `value` checked against `schema`; a refusal as INVALID_INPUT naming the first field at fault, as
 * `${prefix}${field}` (`prefix` alone, without its dot, for the value as a whole), in the model's words.
 */
const checked = <S extends TSchema>(schema: S, value: unknown, prefix: string): Static<S> => {
  const result = validate(schema, value);
  if (result.ok) return result.value;
  const issue = schemaIssues(schema, value)[0];
  const field = issue === undefined || issue.field === '(record)' ? '' : issue.field;
  const name = field === '' ? prefix.replace(/\.$/, '') || 'input' : `${prefix}${field}`;
  throw invalid(name, issue?.reason ?? 'is not valid');
};

const checkFileRef = (value: unknown): FileRef => {
  const ref = checked(FileRefSchema, value, 'fileRef.');
  // The model takes any base64url id; this protocol stores blobs under ULID-form ids only.
  if (!isRecordId(ref.blobId)) {
    throw invalid(
      'fileRef.blobId',
      'is not the id of a blob this server stores (26 Crockford base32 characters)',
    );
  }
  return ref;
};

const isFileStreamType = (value: unknown): value is FileStreamType =>
  FILE_STREAM_TYPES.some((type) => type === value);

const newBlobId = (): string => crockfordBase32Encode(randomBytes(16));

/** `u`'s announce; `epoch` only for a server that takes it (BLOB_EPOCH_VERSION: an older one refuses it). */
const manifestOf = (u: Upload, withEpoch: boolean): HttpBlobCreateRequest => ({
  blobId: u.blobId,
  stream: u.stream,
  size: u.size,
  chunkSize: u.chunkSize,
  chunkCount: u.digests.length,
  digests: [...u.digests],
  ...(withEpoch ? { epoch: u.epoch } : {}),
});

/**
 * The server refused an announce for a re-keying this device did not know of yet (STALE_EPOCH): nothing
 * was stored under the blob id, so the file may be sealed anew, under that id or another.
 */
const isStaleEpoch = (e: unknown): boolean => isFileError(e) && e.serverCode === 'STALE_EPOCH';

/** The queue's failure to hand out stored bytes (QueuedBytesError) as a FileError; anything else as it is. */
const fromQueued = (e: unknown, what: string, blobId: string): unknown => {
  if (!isQueuedBytesError(e)) return e;
  if (e.code === 'MISMATCH') {
    return new FileError('HASH_MISMATCH', `${what}: ${e.message}`, { blobId, cause: e });
  }
  return new FileError('STORAGE_FAILED', `${what}: ${e.message}`, {
    blobId,
    cause: e,
    retry: e.code === 'READ_FAILED',
  });
};

/** What the person can do about a queued file that cannot be completed (see uploadQueued). */
const REDO =
  'records naming it point to a file that will never be complete; cancel it (cancelUpload), add the file ' +
  'again and put the new FileRef in those records';

/** How far an upload got: chunks the server confirmed of the file's chunks (`files.uploadProgress$`). */
export interface UploadProgress {
  readonly blobId: string;
  readonly done: number;
  readonly total: number;
}

export const createFiles = (deps: FilesDeps) => {
  const { keyring } = deps;
  const uploadProgress$ = new Subject<UploadProgress>();
  const keep = deps.keep ?? { uploads: MAX_KEPT_UPLOADS, bytes: MAX_KEPT_BYTES };
  /** Uploads cut off with `retry`, by blob id, oldest first: what a put with `resumeBlobId` takes. */
  const kept = new Map<string, Upload>();
  let sessions: SessionManager | null = null;

  const assertOpen = (): void => {
    if (deps.usable()) return;
    kept.clear();
    deps.assertUnlocked();
    throw new AccountError('LOCKED', 'the device session was closed; open it again');
  };

  const requireApi = (): FilesHttpApi => {
    const { api } = deps;
    if (api === undefined || !hasBlobRoutes(api)) {
      throw new FileError(
        'NO_HTTP_API',
        'the device session was opened without an HTTP API with the blob routes: pass api: createHttpApi(...)',
      );
    }
    return api;
  };

  /** Runs one authenticated request; refusals as FileError (`fromServer`). */
  const call = async <T>(
    api: FilesHttpApi,
    request: (token: string) => Promise<T>,
    what: string,
    blobId?: string,
  ): Promise<T> => {
    assertOpen();
    sessions ??= createSessionManager({
      api,
      device: deps.device,
      ed: deps.ed,
      ...(deps.now ? { now: deps.now } : {}),
    });
    try {
      return await sessions.withToken(request);
    } catch (e) {
      throw fromServer(e, what, blobId);
    }
  };

  const streamOf = (location: FileLocation | undefined): StreamId => {
    if (typeof location !== 'object' || location === null) {
      throw invalid('location', 'must name the stream: { patientId?, type }');
    }
    if (!isFileStreamType(location.type)) {
      throw invalid('type', `must be one of ${FILE_STREAM_TYPES.join(', ')}`);
    }
    const patientId = location.patientId ?? deps.accountId;
    if (!isAccountId(patientId)) throw invalid('patientId', 'must be an account id');
    return `${patientId}/${location.type}`;
  };

  /** The key the stream writes with now, or null; after it, the session is still open. */
  const writeKeyOf = async (stream: string, what: string, blobId?: string) => {
    let write: Awaited<ReturnType<typeof keyring.writeKey>>;
    try {
      write = await keyring.writeKey(stream);
    } catch (e) {
      throw fromKeyring(e, what, blobId);
    }
    assertOpen();
    return write;
  };

  /**
   * Fetches the stream's key envelopes again: after STALE_EPOCH (the server's epoch is past this device's
   * view) and before a resume (a kept upload is finished only under the key the stream writes with now).
   */
  const refreshKeys = async (stream: string, what: string, blobId?: string): Promise<void> => {
    try {
      await keyring.refresh([stream]);
    } catch (e) {
      throw fromKeyring(e, what, blobId);
    }
    assertOpen();
  };

  /** Keeps `u` to resume; past the bounds the oldest are dropped, never `u` itself (see the header). */
  const keepUpload = (u: Upload): void => {
    kept.delete(u.blobId);
    kept.set(u.blobId, u);
    let bytes = 0;
    for (const k of kept.values()) bytes += pendingBytes(k);
    for (const [blobId, k] of kept) {
      if (k === u || (kept.size <= keep.uploads && bytes <= keep.bytes)) break;
      kept.delete(blobId);
      bytes -= pendingBytes(k);
    }
  };

  /** Takes kept upload `blobId` if it is one of this file (see the header); it is no longer kept then. */
  const claim = (blobId: string, like: Omit<Upload, 'blobId' | 'epoch' | 'keyId' | 'digests' | 'sealed'>) => {
    const u = kept.get(blobId);
    if (
      !u ||
      u.stream !== like.stream ||
      u.chunkSize !== like.chunkSize ||
      u.size !== like.size ||
      u.sha256 !== like.sha256
    ) {
      return null;
    }
    kept.delete(blobId);
    return u;
  };

  /** Deletes a blob no FileRef names, best effort: only a lock or a close stops the put. */
  const discard = async (api: FilesHttpApi, blobId: string, what: string): Promise<void> => {
    await call(api, (t) => api.deleteBlob(blobId, t), what, blobId).catch((e: unknown) => {
      if (isAccountError(e)) throw e;
    });
  };

  /**
   * Whether the server takes `epoch` in an announce (its `GET /v1/server` `versions`, read once per api
   * object: server-versions.ts); a failed read as `fromServer` (no answer: OFFLINE, `retry`).
   */
  const speaksBlobEpoch = async (api: FilesHttpApi, blobId: string): Promise<boolean> => {
    assertOpen();
    let speaks: boolean;
    try {
      speaks = await serverSpeaks(api, BLOB_EPOCH_VERSION);
    } catch (e) {
      throw fromServer(e, 'put: asking the server its protocol versions', blobId);
    }
    assertOpen();
    return speaks;
  };

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
    const withEpoch = await speaksBlobEpoch(api, u.blobId);
    beforeRequest?.();
    let have = confirm(
      (
        await call(
          api,
          (t) => api.createBlob(manifestOf(u, withEpoch), t),
          'put: announcing the file',
          u.blobId,
        )
      ).have,
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
      // `retry`: an enqueued file's FileRef is out before its upload ends (see the header).
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
