/**
 * The one error type of the client: every expected failure a call of `@hale/client` rejects or throws
 * with is a `HaleError` (its areas' classes, `AccountError`, `RecordError`, `ConsentError`, … extend it).
 *
 * | member | meaning |
 * |---|---|
 * | `code` | stable, from the append-only tables the area classes name (`HaleErrorCode`); switch on it |
 * | `message` | a human sentence, never key material or record content |
 * | `field` | the input field concerned, when one is (validation, a final field, a file's input) |
 * | `recordId` | the record concerned, when one is |
 * | `issues` | every field at fault with why, for a VALIDATION_FAILED (`field` is the first; `rule`: a write rule's code) |
 *
 * `isHaleError(e)` tells one from anything else (a bug); `isHaleError(e, code)` checks its code too.
 */

export abstract class HaleError extends Error {
  abstract readonly code: string;
  declare field?: string | undefined;
  declare recordId?: string | undefined;
  declare issues?:
    readonly { readonly field: string; readonly reason: string; readonly rule?: string }[] | undefined;
}

/**
 * Whether `e` is a HaleError (an expected failure), and of `code` when given. Its codes are the protocol's
 * table (`ERROR_CODES`) and the client's own (AccountErrorCode, RecordErrorCode, ConsentErrorCode,
 * FileErrorCode, AuditErrorCode, AtRestErrorCode; a sync issue's code).
 */
export function isHaleError(e: unknown): e is HaleError;
export function isHaleError<C extends string>(e: unknown, code: C): e is HaleError & { readonly code: C };
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
