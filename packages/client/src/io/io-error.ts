/**
 * Errors of records in and out (FHIR import, export forms, summaries, SMART Health Links).
 *
 * | code | when | nothing written? |
 * |---|---|---|
 * | `IMPORT_REFUSED` | the file is refused whole (`reason`: a FHIR_IMPORT_FAILURES code of @hale/model; `issues` name paths) | ✓ |
 * | `IMPORT_FAILED` | a write or upload failed midway; the records written by this import were removed again | ✓ (rolled back) |
 * | `LINK_REFUSED` | the server refused a link call (`status`, its code in the message) | ✓ |
 * | `LINK_INVALID` | a `shlink:/` text that is no SMART Health Link, or content that does not decrypt | — |
 * | `LINK_NOT_FOUND` | the link is unknown, expired, revoked or locked (the spec's 404) | — |
 * | `LINK_PASSCODE_WRONG` | the passcode was wrong (`remainingAttempts` says how many tries are left) | — |
 *
 * Codes: RECORDS_IO_ERROR_CODES, of the one append-only table HALE_ERRORS (core/error-codes.ts).
 */
import type { FhirImportFailureReason, FhirImportIssue } from '@hale/model';
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';

export const RECORDS_IO_ERROR_CODES = [
  'IMPORT_REFUSED',
  'IMPORT_FAILED',
  'LINK_REFUSED',
  'LINK_INVALID',
  'LINK_NOT_FOUND',
  'LINK_PASSCODE_WRONG',
] as const satisfies readonly HaleErrorCode[];
export type RecordsIoErrorCode = (typeof RECORDS_IO_ERROR_CODES)[number];

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
