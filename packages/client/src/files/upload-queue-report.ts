/**
 * What the upload queue shows a person: each queued file's state, and the failure reports it makes.
 *
 * - UPLOAD_FAILURE_CODES: UPLOAD_REFUSED, UPLOAD_STUCK, UPLOAD_SERVER_LOST, each with ADVICE in words.
 * - Messages are bounded (MAX_REPORT_MESSAGE shown, MAX_STORED_MESSAGE stored); a file name is quoted cut in
 *   the middle (`quotedName`).
 */
import { cutMiddle } from '../core/cut-middle';
import type { DeviceMeta } from '../store/device-meta';
import type { UploadErrorInfo, QueuedEntry, QueuedBytes } from './upload-queue-store';

/**
 * How a queued file failed for good: the code it is reported as in the sync state's `errors` (SyncIssue
 * `code`, `id` its blob id) and listed as (`QueuedUpload.failure`). Stable strings; only ever appended to.
 * UPLOAD_REFUSED: refused (by the server: quota, size, consent, deleted; or this device may no longer write
 * the stream); `retry` may pass once the cause is gone (a file deleted on the server is removed instead, see
 * the header; only one the store could not remove is refused, its message saying to cancel it). UPLOAD_STUCK: this device lost part of the file (plaintext chunks, or sealed chunks
 * whose digests the server committed to), so it can never be completed from here: records naming it point
 * to a file that will never be complete; cancel it, add the file again. UPLOAD_SERVER_LOST: the server
 * lost chunks it had confirmed (a fault of its storage); this device still holds the file, and `retry`
 * sends what the server lacks.
 */
export const UPLOAD_FAILURE_CODES = ['UPLOAD_REFUSED', 'UPLOAD_STUCK', 'UPLOAD_SERVER_LOST'] as const;

/** One of `UPLOAD_FAILURE_CODES`: why a queued upload stopped. */
export type UploadFailureCode = (typeof UPLOAD_FAILURE_CODES)[number];

/** The code a stored failure is listed as (see UPLOAD_FAILURE_CODES and the header). */
export const failureOf = (failedAs: string | undefined): UploadFailureCode =>
  UPLOAD_FAILURE_CODES.find((code) => code === failedAs) ?? 'UPLOAD_REFUSED';

/**
 * Longest report message (`report`): the sync state keeps issue messages of at most this many characters
 * and cuts longer ones at the end (sync/engine.ts MAX_ISSUE_MESSAGE), where the advice is.
 */
export const MAX_REPORT_MESSAGE = 500;

/** Longest file name quoted in a message: a longer one is shortened in its middle (`quotedName`). */
const MAX_QUOTED_NAME = 60;

/** Longest stored failure message (UploadErrorSchema): a longer one would make the index unreadable. */
export const MAX_STORED_MESSAGE = 2000;

/**
 * A file's name as messages quote it: at most MAX_QUOTED_NAME characters, a longer one shortened in its
 * middle (its start and its extension kept), so that a long name cannot push out what the message says.
 */
export const quotedName = (fileName: string): string => cutMiddle(fileName, MAX_QUOTED_NAME, 16);

/** What the person can do about a file failed as `failedAs`, unless its error's message says it. */
export const ADVICE: Record<UploadFailureCode, string> = {
  UPLOAD_REFUSED: 'retryUpload once the cause is gone, or cancelUpload to remove it',
  UPLOAD_STUCK: 'cancel it (cancelUpload), add the file again',
  UPLOAD_SERVER_LOST: 'retryUpload sends it again from this device',
};

/**
 * `queued`: waiting for the connection or for its next attempt (`nextAttemptAt`, after a failure that can
 * pass, `lastError`); `uploading`; `failed`: for good (`lastError`; `failure`: refused or stuck), waiting for
 * cancel or retry.
 */
export type QueuedUploadState = 'queued' | 'uploading' | 'failed';

/** A queued file as the app lists it (`files.uploads()`). */
export interface QueuedUpload {
  readonly blobId: string;
  readonly stream: string;
  readonly patientId: string;
  readonly type: string;
  readonly fileName: string;
  readonly mediaType: string;
  readonly size: number;
  readonly queuedAt: string;
  readonly state: QueuedUploadState;
  /** Attempts that failed in this session. */
  readonly attempts: number;
  readonly lastError: UploadErrorInfo | null;
  readonly nextAttemptAt: string | null;
  /**
   * Of a `failed` file, which failure it is (the code it was reported as, UPLOAD_FAILURE_CODES): refused,
   * stuck (lost in part on this device: cancel it and add the file again), or lost by the server after it
   * confirmed it (retry); null unless `failed`.
   */
  readonly failure: UploadFailureCode | null;
}

export interface UploadQueueDeps {
  readonly meta: DeviceMeta;
  readonly bounds?: { readonly uploads: number; readonly bytes: number };
  readonly retry?: { readonly baseMs: number; readonly maxMs: number };
  readonly now: () => number;
  readonly usable: () => boolean;
  readonly online: () => boolean;
  /** Seals (if not sealed yet) and sends; settles once the server confirmed every chunk. */
  readonly upload: (entry: QueuedEntry, bytes: QueuedBytes) => Promise<void>;
  /**
   * 'retry' with backoff; for good, 'failed' (refused: UPLOAD_REFUSED), 'stuck' (bytes lost on this
   * device, it can never be completed: UPLOAD_STUCK) or 'lost' (the server lost chunks it had confirmed:
   * UPLOAD_SERVER_LOST); 'deleted' (deleted on the server: removed from the queue with its bytes,
   * reported UPLOAD_DELETED; marked 'failed' only when the index cannot be written); or 'stop' (locked or
   * closed: the file stays as it was).
   */
  readonly verdict: (
    error: unknown,
    entry: QueuedEntry,
  ) => 'retry' | 'failed' | 'stuck' | 'lost' | 'deleted' | 'stop';
  readonly describe: (error: unknown) => { code: string; serverCode?: string; message: string };
  /** Deletes the blob on the server; may reject (best effort). */
  readonly deleteRemote: (blobId: string) => Promise<void>;
  readonly report?: (issue: { code: string; message: string; stream: string; id: string }) => void;
  /** Drops this queue's reported issue `code` of file `id` once its cause ended (a purge retried and passed). */
  readonly clearReport?: (issue: { code: string; stream: string; id: string }) => void;
  /** The error an enqueue past the bounds is refused with. */
  readonly full: (message: string) => Error;
  /** The error an enqueue is refused with when the stored index cannot be read (`ready` false). */
  readonly unreadable: (message: string) => Error;
  /**
   * The error an enqueue is refused with when its stream was purged while the file was being stored: the
   * file is purged with it (removed unsent, as the stream's others), not queued.
   */
  readonly purgedWhileStored: (message: string, blobId: string) => Error;
}
