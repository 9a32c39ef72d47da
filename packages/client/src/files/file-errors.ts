/**
 * The files API's errors: FileError with a stable code (FILE_ERROR_CODES), and how failures from the
 * server, the transport, the keyring and the upload queue's storage become one.
 *
 * | from | becomes |
 * | ---- | ------- |
 * | no answer (CONNECTION_CODES) | OFFLINE, `retry` |
 * | a consent refusal (CONSENT_CODES) | FORBIDDEN |
 * | BLOB_DELETED | DELETED |
 * | NOT_FOUND (never stored under the id) | NOT_FOUND, `retry` (another device may not have uploaded it yet) |
 * | any other answer, a garbled 2xx included | REFUSED (`retry` when the request's is, or for a garbled 2xx) |
 * | a keyring failure that is none of these | KEYRING_FAILED |
 * | the queue's stored bytes changed / unreadable | HASH_MISMATCH / STORAGE_FAILED (`retry` on READ_FAILED) |
 *
 * - `serverCode` and `cause` are kept.
 * - LOCKED (AccountError) and FileErrors pass through unchanged; a bug is never dressed up as a refusal.
 */
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';
import { isAccountError } from '../core/account-error';
import { isHaleClientError, type HaleClientError } from '../api/errors';
import { SyncError, CONNECTION_CODES } from '../sync/connection';
import { isQueuedBytesError } from './upload-queue';

/** What a held blob that fails get's checks is (queued-upload.ts `adoptHeld`): another file than the one queued. */
export const NOT_THIS_FILE: ReadonlySet<string> = new Set([
  'TAMPERED',
  'NO_KEY',
  'CONTEXT_MISMATCH',
  'SIZE_MISMATCH',
  'HASH_MISMATCH',
]);

/** FileError's codes; what each means, its words and what to do: HALE_ERRORS (core/error-codes.ts). */
export const FILE_ERROR_CODES = [
  'INVALID_INPUT',
  'NO_HTTP_API',
  'NO_KEY',
  'TAMPERED',
  'CONTEXT_MISMATCH',
  'SIZE_MISMATCH',
  'HASH_MISMATCH',
  'INCOMPLETE',
  'NOT_FOUND',
  'FORBIDDEN',
  'OFFLINE',
  'REFUSED',
  'KEY_CHANGED',
  'KEYRING_FAILED',
  'QUEUE_FULL',
  'DELETED',
  'STORAGE_FAILED',
] as const satisfies readonly HaleErrorCode[];

/** One of `FILE_ERROR_CODES`, the codes a `FileError` carries; words and what to do are in `HALE_ERRORS`. */
export type FileErrorCode = (typeof FILE_ERROR_CODES)[number];

/** What a `FileError` carries beside its code: the input field concerned, the server's code, the file. */
export interface FileErrorExtra {
  readonly field?: string;
  readonly serverCode?: string;
  readonly blobId?: string;
  readonly retry?: boolean;
  readonly cause?: unknown;
}

/** A refused or failed file operation (`FileErrorCode`): nothing partial is kept as the file. */
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

/** Whether `e` is a `FileError` (`e.retry` says whether the same call may succeed later). */
export const isFileError = (e: unknown): e is FileError => e instanceof FileError;

const CONSENT_CODES: ReadonlySet<string> = new Set([
  'NO_CONSENT',
  'CONSENT_REVOKED',
  'CONSENT_EXPIRED',
  'FORBIDDEN',
]);

/** NO_KEY: this device cannot write `stream` now (`what`: the call that needed the key). */
export const noWriteKey = (what: string, stream: string, blobId?: string): FileError =>
  new FileError(
    'NO_KEY',
    `${what}: this device holds no key to write ${stream} (no write consent, a re-keying not confirmed yet, or ` +
      'not synced yet)',
    blobId === undefined ? {} : { blobId },
  );

/** A server's or the transport's refusal as a FileError; anything else (LOCKED, a bug) as it is. */
export const fromServer = (e: unknown, what: string, blobId?: string): unknown => {
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
export const fromKeyring = (e: unknown, what: string, blobId?: string): unknown => {
  const known = fromServer(e, what, blobId);
  if (isFileError(known) || (isAccountError(known) && known.code === 'LOCKED')) return known;
  const reason = e instanceof Error ? `${e.name}${'code' in e ? ` ${String(e.code)}` : ''}` : typeof e;
  return new FileError('KEYRING_FAILED', `${what}: the stream's keys could not be read (${reason})`, {
    cause: e,
    ...(blobId === undefined ? {} : { blobId }),
  });
};

export const invalid = (field: string, reason: string): FileError =>
  new FileError('INVALID_INPUT', `${field} ${reason}; nothing was sent`, { field });

/**
 * The server refused an announce for a re-keying this device did not know of yet (STALE_EPOCH): nothing
 * was stored under the blob id, so the file may be sealed anew, under that id or another.
 */
export const isStaleEpoch = (e: unknown): boolean => isFileError(e) && e.serverCode === 'STALE_EPOCH';

/** The queue's failure to hand out stored bytes (QueuedBytesError) as a FileError; anything else as it is. */
export const fromQueued = (e: unknown, what: string, blobId: string): unknown => {
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
export const REDO =
  'records naming it point to a file that will never be complete; cancel it (cancelUpload), add the file ' +
  'again and put the new FileRef in those records';
