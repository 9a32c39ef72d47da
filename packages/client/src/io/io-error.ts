/**
 * Errors of records in and out (FHIR import, export forms, summaries, SMART Health Links).
 *
 * `detail` carries: `reason` and `issues` (IMPORT_REFUSED: a FHIR_IMPORT_FAILURES code of @hale/model, the
 * paths at fault), `status` (LINK_REFUSED), `remainingAttempts` (LINK_PASSCODE_WRONG). Nothing is written on
 * any of them (IMPORT_FAILED: the records this import wrote were removed again).
 *
 * Codes: RECORDS_IO_ERROR_CODES; what each means, its words and what to do: HALE_ERRORS (core/error-codes.ts).
 */
import type { FhirImportFailureReason, FhirImportIssue } from '@hale/model';
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';

/** The codes a `RecordsIoError` carries; words and what to do are in `HALE_ERRORS`. */
export const RECORDS_IO_ERROR_CODES = [
  'IMPORT_REFUSED',
  'IMPORT_FAILED',
  'LINK_REFUSED',
  'LINK_INVALID',
  'LINK_NOT_FOUND',
  'LINK_PASSCODE_WRONG',
] as const satisfies readonly HaleErrorCode[];
/** One of `RECORDS_IO_ERROR_CODES`. */
export type RecordsIoErrorCode = (typeof RECORDS_IO_ERROR_CODES)[number];

/** A refused import or export (`RecordsIoErrorCode`): an import writes all of a batch or none of it. */
export class RecordsIoError extends HaleError {
  constructor(
    readonly code: RecordsIoErrorCode,
    message: string,
    readonly detail: {
      readonly reason?: FhirImportFailureReason;
      readonly issues?: readonly FhirImportIssue[];
      readonly status?: number;
      readonly remainingAttempts?: number;
    } = {},
  ) {
    super(message);
    this.name = 'RecordsIoError';
  }
}
