/**
 * The one error type of the device's server calls (HTTP API, session manager; the sync engine reuses it).
 *
 * Invariants: `code` is a protocol ErrorCode from ERROR_CODES, or `NETWORK` (no answer: offline, DNS,
 * connection reset), `BAD_RESPONSE` (an answer that is not what the protocol promises: wrong status,
 * a redirect, not JSON, fails its schema) or `TIMEOUT` (no complete answer within the call's time limit).
 * The client's own codes are append-only like the protocol's. `retry` says whether the same request may
 * succeed later unchanged (ERROR_CODES[code].retry; NETWORK and TIMEOUT always; BAD_RESPONSE when the
 * status was 5xx or 429). A code a newer server invented is kept in `wireCode` and mapped to the known
 * code of its HTTP class, so callers can always switch on `code`. Messages never carry key material or
 * plaintext, and the client writes no bearer token into one.
 */
import { HaleError } from '../core/hale-error';
import { ERROR_CODES, isErrorCode, type ClientAction, type ErrorCode } from '@hale/protocol';

/** The protocol's codes and three of the client's own; all of them in HALE_ERRORS (core/error-codes.ts). */
export type HaleClientErrorCode = ErrorCode | 'NETWORK' | 'BAD_RESPONSE' | 'TIMEOUT';

/**
 * The fields a `HaleClientError` is made from (`codeForStatus` and `errorFromWire` fill them from an answer).
 */
export interface HaleClientErrorInit {
  readonly code: HaleClientErrorCode;
  readonly message: string;
  /**
   * HTTP status, or 0 when there was no answer (NETWORK, TIMEOUT before any) or the request was refused
   * before sending.
   */
  readonly status: number;
  readonly details?: Readonly<Record<string, unknown>>;
  /** The code exactly as the server sent it, when it differs from `code` (a newer server's code). */
  readonly wireCode?: string;
  readonly retry?: boolean;
}

/** An HTTP call to the sync server answered with a protocol error or failed to reach it (`code`, `status`, `retry`). */
export class HaleClientError extends HaleError {
  readonly code: HaleClientErrorCode;
  readonly status: number;
  readonly retry: boolean;
  readonly action: ClientAction;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly wireCode?: string;

  constructor(init: HaleClientErrorInit) {
    super(init.message);
    this.name = 'HaleClientError';
    this.code = init.code;
    this.status = init.status;
    this.retry = init.retry ?? defaultRetry(init.code, init.status);
    this.action = actionFor(init.code, this.retry);
    if (init.details !== undefined) this.details = init.details;
    if (init.wireCode !== undefined) this.wireCode = init.wireCode;
  }

  /** The error as JSON: its code, message, status and retry. */
  toJSON(): { code: HaleClientErrorCode; message: string; status: number; retry: boolean } {
    return { code: this.code, message: this.message, status: this.status, retry: this.retry };
  }
}

/** Whether `e` is a `HaleClientError`: a server or network failure of the HTTP API. */
export const isHaleClientError = (e: unknown): e is HaleClientError => e instanceof HaleClientError;

function defaultRetry(code: HaleClientErrorCode, status: number): boolean {
  if (code === 'NETWORK' || code === 'TIMEOUT') return true;
  if (code === 'BAD_RESPONSE') return status >= 500 || status === 429;
  return ERROR_CODES[code].retry;
}

function actionFor(code: HaleClientErrorCode, retry: boolean): ClientAction {
  if (code === 'NETWORK' || code === 'TIMEOUT') return 'backoff';
  if (code === 'BAD_RESPONSE') return retry ? 'backoff' : 'fix-request';
  return ERROR_CODES[code].action;
}

/** The known code of an HTTP status class, for codes this build does not know yet. */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'CONFLICT';
    case 413:
      return 'TOO_LARGE';
    case 429:
      return 'RATE_LIMITED';
    case 503:
      return 'UNAVAILABLE';
    default:
      return status >= 500 ? 'INTERNAL' : 'BAD_MESSAGE';
  }
}

/** Builds the error for a well-formed error body, whatever code it names. */
export function errorFromWire(
  wireCode: string,
  message: string,
  status: number,
  details?: Readonly<Record<string, unknown>>,
): HaleClientError {
  const known = isErrorCode(wireCode);
  const code = known ? wireCode : codeForStatus(status);
  return new HaleClientError({
    code,
    message,
    status,
    ...(details === undefined ? {} : { details }),
    ...(known ? {} : { wireCode }),
  });
}
