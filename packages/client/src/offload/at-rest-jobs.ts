/**
 * The at-rest envelope itself: sealing and opening one value under its binding, the jobs an offload runs
 * (`runAtRestJob`, on a worker thread too) and the errors they fail with. The format and what opening
 * checks are described in at-rest-encryption.ts, the RxDB wrapper built on this. A module of its own so
 * that a crypto worker loads no RxDB.
 */
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';
import {
  assertJsonValue,
  base64urlDecode,
  base64urlEncode,
  SECRETBOX_KEY_LENGTH,
  SECRETBOX_MAC_LENGTH,
  SECRETBOX_NONCE_LENGTH,
  sealSecretbox,
  openSecretbox,
} from '@hale/crypto';
import {
  AT_REST_OPEN_FAILURES,
  AT_REST_UNEXPECTED_FAILURE,
  atRestDecryptText,
  type AtRestDecryptReason,
} from './at-rest-open-failures';

/** AtRestError's codes; what each means, its words and what to do: HALE_ERRORS (core/error-codes.ts). */
export const AT_REST_ERROR_CODES = [
  'AT_REST_DECRYPT_FAILED',
  'AT_REST_ENCRYPT_FAILED',
  'AT_REST_INVALID_KEY',
  'AT_REST_UNSUPPORTED_SCHEMA',
  'AT_REST_QUERY_ON_ENCRYPTED_FIELD',
  'AT_REST_NO_KEY',
  'AT_REST_CLOSED',
] as const satisfies readonly HaleErrorCode[];
/**
 * One of `AT_REST_ERROR_CODES`. A session meets `AT_REST_DECRYPT_FAILED`, `AT_REST_ENCRYPT_FAILED` and
 * `AT_REST_CLOSED`; the others are mistakes in assembling one.
 */
export type AtRestErrorCode = (typeof AT_REST_ERROR_CODES)[number];

/** What an `AtRestError` carries beside its code (`e.details`): why a value did not open, and where. */
export interface AtRestErrorDetails {
  readonly reason?: AtRestDecryptReason | 'NOT_JSON';
  readonly database?: string;
  readonly collection?: string;
  readonly documentId?: string;
  readonly field?: string;
}

/** A stored document could not be sealed or opened at rest (`AtRestErrorCode`, with where it failed). */
export class AtRestError extends HaleError {
  override readonly name = 'AtRestError';
  readonly code: AtRestErrorCode;
  readonly details: AtRestErrorDetails;
  constructor(code: AtRestErrorCode, message: string, details: AtRestErrorDetails = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/** Whether `error` is an `AtRestError`, of `code` when given. */
export function isAtRestError(error: unknown, code?: AtRestErrorCode): error is AtRestError {
  return error instanceof AtRestError && (code === undefined || error.code === code);
}

/** Bytes of the at-rest key (a secretbox key derived from the account's root). */
export const AT_REST_KEY_LENGTH = SECRETBOX_KEY_LENGTH;
const NONCE_LENGTH = SECRETBOX_NONCE_LENGTH;
export const VALUE_PREFIX = 'v1.';
/** Version inside the sealed plaintext (it binds the clear digest `h`). */
const PLAINTEXT_VERSION = 2;

export const isAtRestKey = (key: unknown): key is Uint8Array =>
  key instanceof Uint8Array && key.length === AT_REST_KEY_LENGTH;

/**
 * What refuses a key that is not AT_REST_KEY_LENGTH bytes: the wrapper, a job, and a worker
 * (answer-crypto-message.ts).
 */
export const invalidAtRestKey = (): AtRestError =>
  new AtRestError('AT_REST_INVALID_KEY', `at-rest key must be ${AT_REST_KEY_LENGTH} bytes`);

/** Per instance this wrapper made: its query answering ids only, read from the inner storage (`queryIds`). */
export interface SealContext {
  readonly db: string;
  readonly c: string;
  readonly i: string;
  readonly f: string;
  readonly r: string;
  /**
   * Digest of the document's clear fields (`createClearDigests`); the wrapper always sets it. A context
   * without it seals a value that opens only under a context without it (hand-made jobs).
   */
  readonly h?: string;
}

const NO_HEADER = new Uint8Array(0);
const decoder = new TextDecoder('utf-8', { fatal: true });

/** One batch of at-rest work, as sent to an offload (plain data: it crosses a thread boundary). */
export type AtRestJob =
  | {
      readonly op: 'seal';
      readonly key: Uint8Array;
      readonly items: ReadonlyArray<{ readonly context: SealContext; readonly value: unknown }>;
    }
  | {
      readonly op: 'open';
      readonly key: Uint8Array;
      readonly items: ReadonlyArray<{ readonly context: SealContext; readonly stored: unknown }>;
    };

/**
 * A sealed value and `bound`, the binding sealed with it (`boundText` of its context), which the wrapper
 * compares with the slot it asked for; null for a value that is not JSON.
 */
export type AtRestSealOutcome = { readonly envelope: string; readonly bound: string } | null;

/** An opened value and `bound`, the binding found inside its envelope (`boundText`), or why it did not open. */
export type AtRestOpenOutcome =
  | { readonly ok: true; readonly value: unknown; readonly bound: string }
  | { readonly ok: false; readonly reason: AtRestDecryptReason; readonly message: string };

/** What an at-rest job answers: the sealed envelopes, or the opened values. */
export type AtRestJobResult =
  | { readonly op: 'seal'; readonly envelopes: readonly AtRestSealOutcome[] }
  | { readonly op: 'open'; readonly values: readonly AtRestOpenOutcome[] };

/**
 * The binding an envelope carries, as one text compared whole: db, c, i, f, r and h (null in a plaintext
 * sealed before clear digests, or a context without one).
 */
export const boundText = (b: {
  readonly db: string;
  readonly c: string;
  readonly i: string;
  readonly f: string;
  readonly r: string;
  readonly h?: string | undefined;
}): string => JSON.stringify([b.db, b.c, b.i, b.f, b.r, b.h ?? null]);

/**
 * Does one batch of at-rest work; what an offload runs on the other side. A value that is not JSON
 * answers `null`; an envelope that does not open answers its reason. Never throws for bad items; a
 * key that is not 32 bytes throws `AT_REST_INVALID_KEY` (the whole job fails, not each item).
 */
export function runAtRestJob(job: AtRestJob): AtRestJobResult {
  if (!isAtRestKey(job.key)) {
    throw invalidAtRestKey();
  }
  if (job.op === 'seal') {
    return {
      op: 'seal',
      envelopes: job.items.map(({ context, value }): AtRestSealOutcome => {
        try {
          return { envelope: seal(job.key, context, value), bound: boundText(context) };
        } catch {
          return null;
        }
      }),
    };
  }
  return {
    op: 'open',
    values: job.items.map(({ context, stored }): AtRestOpenOutcome => {
      try {
        const parsed = openPlaintext(job.key, context, stored, {});
        // What the envelope was found to bind (openPlaintext checked it against `context`): the wrapper
        // compares it with the slot it asked for, so an outcome answered for another item is caught.
        return { ok: true, value: parsed.d, bound: boundText(parsed) };
      } catch (error) {
        return isAtRestError(error)
          ? {
              ok: false,
              reason:
                error.details.reason === undefined || error.details.reason === 'NOT_JSON'
                  ? 'MALFORMED'
                  : error.details.reason,
              message: error.message,
            }
          : { ok: false, reason: 'MALFORMED', message: AT_REST_UNEXPECTED_FAILURE };
      }
    }),
  };
}

export function seal(key: Uint8Array | null, context: SealContext, value: unknown): string {
  if (key === null) throw new AtRestError('AT_REST_NO_KEY', 'no at-rest key: this storage can only remove');
  let plaintext: string;
  try {
    assertJsonValue(value);
    plaintext = JSON.stringify({ v: PLAINTEXT_VERSION, ...context, d: value });
  } catch {
    throw new AtRestError('AT_REST_ENCRYPT_FAILED', 'value is not JSON', {
      reason: 'NOT_JSON',
      collection: context.c,
      documentId: context.i,
      field: context.f,
    });
  }
  const out = sealSecretbox(NO_HEADER, key, plaintext);
  return VALUE_PREFIX + base64urlEncode(out);
}

export function open(
  key: Uint8Array | null,
  context: SealContext,
  stored: unknown,
  where: AtRestErrorDetails,
): unknown {
  return openPlaintext(key, context, stored, where).d;
}

/** The checked plaintext of an envelope: its binding (equal to `context`'s; `h` absent before digests) and value. */
function openPlaintext(
  key: Uint8Array | null,
  context: SealContext,
  stored: unknown,
  where: AtRestErrorDetails,
): { db: string; c: string; i: string; f: string; r: string; h?: string | undefined; d: unknown } {
  if (key === null) throw new AtRestError('AT_REST_NO_KEY', 'no at-rest key: this storage can only remove');
  if (typeof stored !== 'string' || !stored.startsWith(VALUE_PREFIX)) {
    throw openFailure(AT_REST_OPEN_FAILURES.notEnvelope, where);
  }
  const decoded = base64urlDecode(stored.slice(VALUE_PREFIX.length));
  const box = decoded.ok ? decoded.value : null;
  if (box === null || box.length < NONCE_LENGTH + SECRETBOX_MAC_LENGTH) {
    throw openFailure(AT_REST_OPEN_FAILURES.notEnvelope, where);
  }
  const plain = openSecretbox(key, box.subarray(0, NONCE_LENGTH), box.subarray(NONCE_LENGTH));
  if (plain === null) throw openFailure(AT_REST_OPEN_FAILURES.tampered, where);
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(plain));
  } catch {
    throw openFailure(AT_REST_OPEN_FAILURES.notJson, where);
  }
  if (
    !isRecord(parsed) ||
    parsed['v'] !== PLAINTEXT_VERSION ||
    parsed['h'] !== context.h ||
    parsed['db'] !== context.db ||
    parsed['c'] !== context.c ||
    parsed['i'] !== context.i ||
    parsed['f'] !== context.f ||
    parsed['r'] !== context.r
  ) {
    throw openFailure(AT_REST_OPEN_FAILURES.otherBinding, where);
  }
  if (!('d' in parsed)) throw openFailure(AT_REST_OPEN_FAILURES.noContent, where);
  const { db, c, i, f, r } = context;
  return { db, c, i, f, r, h: context.h, d: parsed['d'] };
}

/** The error of an open that failed for `failure` (one of AT_REST_OPEN_FAILURES). */
function openFailure(
  failure: { readonly reason: AtRestDecryptReason; readonly what: string },
  where: AtRestErrorDetails,
): AtRestError {
  return decryptError(failure.reason, failure.what, where);
}

export function decryptError(
  reason: AtRestDecryptReason,
  what: string,
  where: AtRestErrorDetails,
): AtRestError {
  return new AtRestError('AT_REST_DECRYPT_FAILED', atRestDecryptText(what), {
    ...where,
    reason,
  });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
