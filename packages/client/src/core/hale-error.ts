/**
 * The one error type of the client: every expected failure a call of `@hale/client` rejects or throws
 * with is a `HaleError` (its areas' classes, `AccountError`, `RecordError`, `ConsentError`, … extend it).
 *
 * | member | meaning |
 * |---|---|
 * | `code` | a `HaleErrorCode`: stable, from the one append-only table (error-codes.ts); switch on it |
 * | `message` | a human sentence, never key material or record content |
 * | `field` | the input field concerned, when one is (validation, a final field, a file's input) |
 * | `recordId` | the record concerned, when one is |
 * | `issues` | every field at fault with why, for a VALIDATION_FAILED (`field` is the first; `rule`: a write rule's code) |
 *
 * `isHaleError(e)` tells one from anything else (a bug); `isHaleError(e, code)` checks its code too.
 */

import type { HaleErrorCode } from './error-codes';

/** An expected failure of a call of `@hale/client`, with its `code` from HALE_ERRORS (see the header). */
export abstract class HaleError extends Error {
  abstract readonly code: HaleErrorCode;
  declare field?: string | undefined;
  declare recordId?: string | undefined;
  declare issues?:
    readonly { readonly field: string; readonly reason: string; readonly rule?: string }[] | undefined;
}

/** Whether `e` is a HaleError (an expected failure), and of `code` when given (HALE_ERRORS has each). */
export function isHaleError(e: unknown): e is HaleError;
export function isHaleError<C extends HaleErrorCode>(
  e: unknown,
  code: C,
): e is HaleError & { readonly code: C };
export function isHaleError(e: unknown, code?: string): boolean {
  return e instanceof HaleError && (code === undefined || e.code === code);
}

/**
 * Names the record (`recordId`) or input field (`field`) a failure concerns where the error does not name
 * one itself: the declared session calls it with the id or field its caller passed. Answers `e` as given.
 */
export function concerning(
  e: unknown,
  about: { readonly recordId?: string; readonly field?: string },
): unknown {
  if (!(e instanceof HaleError)) return e;
  if (e.recordId === undefined && about.recordId !== undefined) e.recordId = about.recordId;
  if (e.field === undefined && about.field !== undefined) e.field = about.field;
  return e;
}
