/**
 * The records API's errors and size limit.
 *
 * - RecordError carries a stable code (RECORD_ERROR_CODES, of the one table HALE_ERRORS); `NOT_WRITABLE_BECAUSE` maps the sync engine's
 *   reasons a stream is not writable to words.
 * - MAX_RECORD_BYTES: half of what a document may carry after its envelope, so a record and the document a
 *   concurrent edit of it makes both reach the server; larger → VALIDATION_FAILED (`tooLarge`).
 * - `unplainField`: a value that is not plain JSON data (a class instance, a function, a cycle) names its field.
 */
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';
import type { ValidationFailed, RecordKind, ValidationIssue } from '@hale/model';
import { MAX_DOC_BYTES } from '@hale/protocol';

/**
 * Why this device may not write a stream, as far as it knows (`whyNotWritable`): no consent it knows of
 * covers it (never granted, or ended before this session opened), consent lets it read only (a read
 * grant, or a write grant ended while a read grant lasts), or access to it ended: expired, or revoked
 * (the account's device revoked counts as revoked).
 */
export type NotWritableReason = 'no-consent' | 'read-only' | 'expired' | 'revoked';

/** RecordError's codes; what each means, its words and what to do: HALE_ERRORS (core/error-codes.ts). */
export const RECORD_ERROR_CODES = [
  'VALIDATION_FAILED',
  'NOT_FOUND',
  'NOT_STORABLE',
  'NOT_WRITABLE',
  'KIND_MISMATCH',
  'ALREADY_EXISTS',
  'RECORD_CHANGED',
  'RECORD_FINAL',
  'AUTHOR_MISMATCH',
  'NOT_AUTHOR',
] as const satisfies readonly HaleErrorCode[];
/** The codes a `RecordError` carries; words and what to do are in `HALE_ERRORS`. */
export type RecordErrorCode = (typeof RECORD_ERROR_CODES)[number];

/** A refused records call (`RecordErrorCode`): nothing was written. */
export class RecordError extends HaleError {
  constructor(
    readonly code: RecordErrorCode,
    message: string,
    readonly detail?: ValidationFailed,
    /** The field refused, for RECORD_FINAL and AUTHOR_MISMATCH (`detail` names them for VALIDATION_FAILED). */
    override readonly field?: string,
    /** Why the stream may not be written, for NOT_WRITABLE (see NotWritableReason). */
    readonly reason?: NotWritableReason,
  ) {
    super(message);
    this.name = 'RecordError';
    // A form shows each issue at its field: the model's issues, and the first of them as `field`.
    if (detail !== undefined) {
      this.issues = detail.issues;
      this.field ??= detail.issues[0]?.field;
    }
  }
}

/** How a NOT_WRITABLE refusal says its reason: what the person can ask the patient for follows from it. */
export const NOT_WRITABLE_BECAUSE: Record<NotWritableReason, string> = {
  'no-consent': 'no consent covers it',
  'read-only': 'consent to it is read-only',
  expired: 'consent to it expired',
  revoked: 'consent to it was revoked',
};

/**
 * Room in a sealed document (MAX_DOC_BYTES counts its bytes) for what it carries besides two copies of
 * the record: the seal (version, key id, nonce, MAC), the sealed binding and tag (stream, id, epoch,
 * revision), the content's own fields (kind, updatedAt, by, conflict), the `_conflictFrom` a conflict
 * adds to the other side's copy and the `_recordFrom` it adds beside it. Ids and account ids have fixed
 * lengths: 617 bytes at the most, with the longest kind and stream type and 16-digit epoch and revision
 * (records-size.test.ts seals that case).
 */
const DOC_ENVELOPE_BYTES = 1024;

/**
 * Largest record (its JSON, in UTF-8 bytes) `add`, `update` and `resolveConflict` write. Half of what
 * one document may carry: when two devices edit the record at once, the merged version keeps the other
 * side in `conflictData`, in the same document, so two copies of the record must fit one. (Sides of
 * further unsettled conflicts add more: such a version is held unsent as TOO_LARGE by the sync engine.)
 */
export const MAX_RECORD_BYTES = Math.floor((MAX_DOC_BYTES - DOC_ENVELOPE_BYTES) / 2);

/**
 * UTF-8 length of a JSON text. JSON.stringify writes no lone surrogate (it escapes them), so every
 * surrogate is half of a pair: 4 bytes for 2 units.
 */
const utf8Length = (text: string): number => {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    bytes += unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff) ? 1 : 2;
  }
  return bytes;
};

/**
 * UTF-8 bytes of `value` as JSON. The canonical JSON that is sealed has the same length: the same
 * tokens, with the keys in another order.
 */
export const jsonBytes = (value: unknown): number => {
  const text = JSON.stringify(value) ?? '';
  // A UTF-16 unit is at most 3 bytes of UTF-8: a record this short needs no count.
  return text.length * 3 <= MAX_RECORD_BYTES ? text.length : utf8Length(text);
};

const formatBytes = (bytes: number): string =>
  bytes >= 1_000_000
    ? `${(bytes / 1_000_000).toFixed(1)} MB`
    : bytes >= 1000
      ? `${Math.round(bytes / 1000)} kB`
      : `${bytes} bytes`;

/** The refusal of a record over MAX_RECORD_BYTES, naming its largest field. Only runs on the failure. */
export const tooLarge = (kind: RecordKind, record: Record<string, unknown>, size: number): RecordError => {
  let largest = '';
  let largestBytes = 0;
  for (const [field, value] of Object.entries(record)) {
    const bytes = utf8Length(JSON.stringify(value) ?? '');
    if (bytes > largestBytes) [largest, largestBytes] = [field, bytes];
  }
  let [got, limit] = [formatBytes(size), formatBytes(MAX_RECORD_BYTES)];
  if (got === limit) [got, limit] = [`${size} bytes`, `${MAX_RECORD_BYTES} bytes`];
  const reason = `takes ${formatBytes(largestBytes)}, the most of a record too large to sync (${got}; at most ${limit})`;
  const message =
    `this ${kind} record (${String(record['id'])}) is too large to sync (${got}; at most ${limit}); its largest field is ` +
    `${largest} (${formatBytes(largestBytes)}). Shorten it or split it into several records.`;
  return new RecordError('VALIDATION_FAILED', message, {
    code: 'VALIDATION_FAILED',
    kind,
    message,
    issues: [{ field: largest, reason }],
  });
};

/**
 * The first place in `value`, a record that passed validation, that JSON (and so the store and the seal)
 * would not carry as validation read it: an object that is no plain object or array (a class instance,
 * whose fields validation reads through its prototype's getters and JSON does not see), or a property
 * that is not enumerable (validation reads it, JSON drops it). Either would store a record other than the
 * one validated, or fail in the store with no field named. Records parsed from JSON have neither.
 */
export const unplainField = (value: unknown, field: string): ValidationIssue | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  const array = Array.isArray(value);
  const proto: unknown = Object.getPrototypeOf(value);
  if (array ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) {
    return {
      field,
      reason: 'must be plain data (an object or an array as JSON has them), not a class instance',
    };
  }
  const enumerable = new Set(Object.keys(value));
  const hidden = Object.getOwnPropertyNames(value).find(
    (key) => !enumerable.has(key) && !(array && key === 'length'),
  );
  const at = (key: string): string =>
    array ? `${field}[${key}]` : field === '(record)' ? key : `${field}.${key}`;
  if (hidden !== undefined) {
    return {
      field: at(hidden),
      reason: 'must be an enumerable property: JSON, and so the store, would drop it',
    };
  }
  for (const [key, item] of Object.entries(value)) {
    const issue = unplainField(item, at(key));
    if (issue !== undefined) return issue;
  }
  return undefined;
};
