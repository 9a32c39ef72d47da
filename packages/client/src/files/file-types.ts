/**
 * What the files API takes and answers, its limits, and the checks of what it is handed.
 *
 * - Limits: MAX_FILE_BYTES per file, FILE_CHUNK_BYTES per chunk by default; kept uploads bounded by
 *   MAX_KEPT_UPLOADS and MAX_KEPT_BYTES; MAX_PUT_ATTEMPTS uploads per put.
 * - `checkFileRef`: a FileRef is checked against FileRefSchema and its blobId against the protocol's id
 *   form, never taken on trust; `checked` names the first field at fault (INVALID_INPUT), nothing sent.
 * - `manifestOf`: the announce, naming the epoch the chunks are sealed under.
 */
import { type StreamType, FileRefSchema, schemaIssues, type FileRef } from '@hale/model';
import {
  MAX_BLOB_SIZE,
  BLOB_CHUNK_SIZE,
  type Ed25519,
  crockfordBase32Encode,
  randomBytes,
} from '@hale/crypto';
import {
  MAX_BLOB_BYTES,
  DEFAULT_CHUNK_BYTES,
  type StreamId,
  validate,
  isRecordId,
  type HttpBlobCreateRequest,
} from '@hale/protocol';
import type { Subject } from 'rxjs';
import type { HttpApi } from '../api/http-api';
import type { SessionDevice } from '../api/session-manager';
import type { Keyring } from '../sync/keyring';
import type { DeviceMeta } from '../store/device-meta';
import { Type, type TSchema, type Static } from '@sinclair/typebox';
import { invalid } from './file-errors';

/**
 * Stream types whose records hold FileRefs (HealthDocument `file`, LabResult and Message `attachments`):
 * the streams a file may be put in. Only ever appended to.
 */
export const FILE_STREAM_TYPES = [
  'document',
  'lab-result',
  'message',
] as const satisfies readonly StreamType[];

/** One of `FILE_STREAM_TYPES`: a stream type that carries files. */
export type FileStreamType = (typeof FILE_STREAM_TYPES)[number];

/** Largest file: the smaller of what the crypto package seals and what the protocol carries. */
export const MAX_FILE_BYTES = Math.min(MAX_BLOB_SIZE, MAX_BLOB_BYTES);

/** Plaintext bytes per chunk unless the caller chooses fewer (at least MIN_CHUNK_BYTES). */
export const FILE_CHUNK_BYTES = Math.min(BLOB_CHUNK_SIZE, DEFAULT_CHUNK_BYTES);

/** The HTTP routes files use: a bearer session and the blob routes. */
export type FilesHttpApi = Pick<
  HttpApi,
  'challenge' | 'session' | 'createBlob' | 'putChunk' | 'getBlob' | 'getChunk' | 'deleteBlob'
>;

/** An HTTP API that may lack the blob routes (a session opened for the passphrase watch only). */
export type MaybeFilesHttpApi = Pick<HttpApi, 'challenge' | 'session'> & Partial<FilesHttpApi>;

export const hasBlobRoutes = (api: MaybeFilesHttpApi): api is FilesHttpApi =>
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

/**
 * What `createFiles` is built from: the account, the HTTP API's blob routes, the keyring, the device's store.
 */
export interface FilesDeps {
  readonly accountId: string;
  readonly api: MaybeFilesHttpApi | undefined;
  /** The session's own copy of the device key (zeroed by its close()): what authenticating signs with. */
  readonly device: SessionDevice;
  readonly ed: Ed25519;
  /** The clock (default `Date.now`). */
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

/** What `files.put` uploads: the bytes, file name and media type, into a patient's stream. */
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
export interface Upload {
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

export const pendingBytes = (u: Upload): number => u.sealed.reduce((n, s) => n + (s?.length ?? 0), 0);

export const NameAndType = Type.Pick(FileRefSchema, ['fileName', 'mediaType']);

/**
 * `value` checked against `schema`; a refusal as INVALID_INPUT naming the first field at fault, as
 * `${prefix}${field}` (`prefix` alone, without its dot, for the value as a whole), in the model's words.
 */
export const checked = <S extends TSchema>(schema: S, value: unknown, prefix: string): Static<S> => {
  const result = validate(schema, value);
  if (result.ok) return result.value;
  const issue = schemaIssues(schema, value)[0];
  const field = issue === undefined || issue.field === '(record)' ? '' : issue.field;
  const name = field === '' ? prefix.replace(/\.$/, '') || 'input' : `${prefix}${field}`;
  throw invalid(name, issue?.reason ?? 'is not valid');
};

export const checkFileRef = (value: unknown): FileRef => {
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

export const isFileStreamType = (value: unknown): value is FileStreamType =>
  FILE_STREAM_TYPES.some((type) => type === value);

export const newBlobId = (): string => crockfordBase32Encode(randomBytes(16));

/** `u`'s announce. */
export const manifestOf = (u: Upload): HttpBlobCreateRequest => ({
  blobId: u.blobId,
  stream: u.stream,
  size: u.size,
  chunkSize: u.chunkSize,
  chunkCount: u.digests.length,
  digests: [...u.digests],
  epoch: u.epoch,
});

/** How far an upload got: chunks the server confirmed of the file's chunks (`files.uploadProgress$`). */
export interface UploadProgress {
  readonly blobId: string;
  readonly done: number;
  readonly total: number;
}

/** What the parts of `createFiles` share: its dependencies, the upload bounds and the uploads kept to resume. */
export interface FilesState {
  readonly deps: FilesDeps;
  readonly keep: { readonly uploads: number; readonly bytes: number };
  /** Uploads cut off with `retry`, by blob id, oldest first: what a put with `resumeBlobId` takes. */
  readonly kept: Map<string, Upload>;
  readonly uploadProgress$: Subject<UploadProgress>;
}
