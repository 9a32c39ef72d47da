/**
 * The upload queue's stored form (device meta): its index, chunks, pending purges, and their schemas.
 *
 * - Keys: INDEX_KEY (the index, queue order), PURGES_KEY (purges begun), `chunkKey` per chunk (plain or
 *   sealed); everything read back is checked against its schema before use.
 * - Limits: MAX_QUEUED_UPLOADS files and MAX_QUEUED_BYTES in all; retries back off per UPLOAD_RETRY.
 * - Stored bytes that are missing, unreadable, fail to read or differ from what was queued →
 *   QueuedBytesError (QUEUED_BYTES_FAILURES).
 */
import { Type, type Static } from '@sinclair/typebox';
import { FileRefSchema } from '@hale/model';
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';

/** Most files queued (see the header). */
export const MAX_QUEUED_UPLOADS = 50;

/** Most plaintext bytes queued, all files together (see the header). */
export const MAX_QUEUED_BYTES = 200 * 1024 * 1024;

/** Backoff after a failure that can pass: 5 s, doubling up to 10 min. */
export const UPLOAD_RETRY = { baseMs: 5_000, maxMs: 10 * 60_000 } as const;

export const INDEX_KEY = 'upload-queue';

/** Purges still to be done (see the header): the blob id and stream of each file. */
export const PURGES_KEY = 'upload-purges';

export const CHUNK_PREFIX = 'upload-chunk-';

export const chunkKey = (blobId: string, kind: 'p' | 's', index: number): string =>
  `${CHUNK_PREFIX}${blobId}-${kind}${index}`;

/** A chunk's base64url text: at most 1 MiB of bytes (DEFAULT_CHUNK_BYTES) plus a seal's overhead. */
export const ChunkText = Type.String({ maxLength: 1_500_000 });

const IsoText = Type.String({ maxLength: 40 });

const UploadErrorSchema = Type.Object({
  code: Type.String({ maxLength: 64 }),
  serverCode: Type.Optional(Type.String({ maxLength: 64 })),
  message: Type.String({ maxLength: 2000 }),
  at: IsoText,
});

/** The failure a queued upload keeps: its code, message and whether it is retried. */
export type UploadErrorInfo = Static<typeof UploadErrorSchema>;

const SealingSchema = Type.Object({
  epoch: Type.Integer({ minimum: 0 }),
  keyId: Type.String({ maxLength: 128 }),
  digests: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100_000 }),
});

export type Sealing = Static<typeof SealingSchema>;

const QueuedEntrySchema = Type.Object({
  ref: FileRefSchema,
  stream: Type.String({ maxLength: 128 }),
  chunkSize: Type.Integer({ minimum: 1 }),
  queuedAt: IsoText,
  failed: Type.Optional(UploadErrorSchema),
  sealing: Type.Optional(SealingSchema),
  /**
   * The code `failed` was reported as (UPLOAD_FAILURE_CODES). Any text the schema takes: a code a later
   * build appends must not make this build refuse the whole index (it lists such a file as refused).
   */
  failedAs: Type.Optional(Type.String({ maxLength: 64 })),
});

export type QueuedEntry = Static<typeof QueuedEntrySchema>;

export const QueueIndexSchema = Type.Array(QueuedEntrySchema, { maxItems: 10_000 });

/**
 * A purge still to be done: of file `blobId`; or, without `blobId`, of every file of `stream` queued when
 * it was recorded (a purge that came while the stored index could not be read, so its files were not
 * known: `storeOwedStreams`).
 */
export const PendingPurgesSchema = Type.Array(
  Type.Object({
    blobId: Type.Optional(Type.String({ maxLength: 64 })),
    stream: Type.String({ maxLength: 128 }),
  }),
  { maxItems: 10_000 },
);

export type PendingPurges = Static<typeof PendingPurgesSchema>;

/**
 * Why a stored chunk of a queued file was not handed out (QueuedBytesError). Only ever appended to.
 * MISSING: not stored (lost on this device); UNREADABLE: stored, but it never reads (it fails to open at
 * rest, or is not a chunk's text); READ_FAILED: the store failed to read it (an I/O error: may pass);
 * MISMATCH: read fine, but not the bytes the file's FileRef describes (a chunk's length, the sha256).
 */
export const QUEUED_BYTES_FAILURES = [
  'MISSING',
  'UNREADABLE',
  'READ_FAILED',
  'MISMATCH',
] as const satisfies readonly HaleErrorCode[];

export type QueuedBytesFailure = (typeof QUEUED_BYTES_FAILURES)[number];

export class QueuedBytesError extends HaleError {
  readonly code: QueuedBytesFailure;
  readonly blobId: string;

  constructor(code: QueuedBytesFailure, blobId: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'QueuedBytesError';
    this.code = code;
    this.blobId = blobId;
  }
}

export const isQueuedBytesError = (e: unknown, code?: QueuedBytesFailure): e is QueuedBytesError =>
  e instanceof QueuedBytesError && (code === undefined || e.code === code);

/** What an upload of one queued file reads and writes of its stored bytes. */
export interface QueuedBytes {
  /** Plaintext chunk `index`; rejects with QueuedBytesError when it cannot be handed out. */
  readPlain(index: number): Promise<Uint8Array>;
  /**
   * Sealed chunk `index` as stored by `saveSealing`; null when it is not stored; rejects with
   * QueuedBytesError UNREADABLE or READ_FAILED.
   */
  readSealed(index: number): Promise<Uint8Array | null>;
  /** Stores the sealed chunks, then the sealing in the index (see the header); rejects once cancelled. */
  saveSealing(sealing: Sealing, sealed: readonly Uint8Array[]): Promise<void>;
  /** Forgets a sealing nothing of reached the server (sealed anew under another key). */
  dropSealing(): Promise<void>;
  /**
   * Throws once the file was removed from the queue (cancel, `files.delete`, the purge of its stream):
   * the upload calls it before each request, so nothing more of a removed file is sent.
   */
  readonly assertQueued: () => void;
}
