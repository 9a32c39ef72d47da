import { ERROR_CODES, isErrorCode, type ErrorCode } from '@hale/protocol';
import { isStoreError, type StoreErrorCode } from './store/index';
import { ServiceError } from './core/sync-service';

export interface HttpError {
  status: number;
  body: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

const STORE_ERROR_CODES: Readonly<Record<StoreErrorCode, ErrorCode>> = {
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  NOT_FOUND: 'NOT_FOUND',
  INVALID: 'BAD_MESSAGE',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
  CONFLICT: 'CONFLICT',
  // Only raised while opening a store, never by a request; mapped for completeness.
  DATA_DIR_IN_USE: 'UNAVAILABLE',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  // The registration route answers it itself (plugins/accounts.ts); mapped for completeness, details withheld.
  INVITE_INVALID: 'INVITE_INVALID',
  DELETED: 'BLOB_DELETED',
  TOO_LARGE: 'TOO_LARGE',
  STALE_EPOCH: 'STALE_EPOCH',
};

/** Store errors whose details are the client's business (the others' name server internals). */
const STORE_DETAILS_SHOWN: ReadonlySet<StoreErrorCode> = new Set([
  'QUOTA_EXCEEDED',
  'DELETED',
  'STALE_EPOCH',
]);

/** Maps anything thrown in a handler to the one error-code table; unknown errors become INTERNAL. */
export const toHttpError = (error: unknown): HttpError => {
  if (error instanceof ServiceError) {
    const body: HttpError['body'] = { code: error.code, message: error.message };
    if (error.details) body.details = error.details;
    return { status: ERROR_CODES[error.code].http, body };
  }
  if (isStoreError(error)) {
    const code = STORE_ERROR_CODES[error.code];
    const body: HttpError['body'] = { code, message: error.message };
    if (error.details !== undefined && STORE_DETAILS_SHOWN.has(error.code))
      body.details = { ...error.details };
    return { status: ERROR_CODES[code].http, body };
  }
  const e = error as { validation?: unknown; statusCode?: number; code?: string; message?: string };
  if (e && e.validation) {
    return { status: 400, body: { code: 'BAD_MESSAGE', message: e.message ?? 'invalid request' } };
  }
  if (e && e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { status: 413, body: { code: 'TOO_LARGE', message: 'request body too large' } };
  }
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code: ErrorCode =
      e.statusCode === 413 ? 'TOO_LARGE' : e.statusCode === 404 ? 'NOT_FOUND' : 'BAD_MESSAGE';
    return {
      status: e.statusCode === 413 ? 413 : e.statusCode === 404 ? 404 : 400,
      body: { code, message: e.message ?? code },
    };
  }
  if (e && typeof e.code === 'string' && isErrorCode(e.code)) {
    return { status: ERROR_CODES[e.code].http, body: { code: e.code, message: e.message ?? e.code } };
  }
  return { status: 500, body: { code: 'INTERNAL', message: 'internal error' } };
};

/**
 * Destroys an upgrade request's socket once its refusal is sent: Node handed the socket over for the
 * upgrade, and a refusal answered before @fastify/websocket's hook (or outside routing) leaves it to
 * nobody, so it would stay open, and so would the server on close().
 */
export const endUpgradeOnAnswer = (
  request: { headers: { upgrade?: string | undefined }; raw: { socket: { destroy: () => void } } },
  reply: { raw: { once: (event: 'finish', listener: () => void) => unknown } },
): void => {
  if (request.headers.upgrade !== undefined) reply.raw.once('finish', () => request.raw.socket.destroy());
};
