/**
 * Errors of the care flows (messages, appointments, availability, plans, co-signatures, kept entries).
 * Codes: CARE_ERROR_CODES; what each means, its words and what to do: HALE_ERRORS (core/error-codes.ts).
 */
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';

/** The codes a `CareError` carries; each one's words and what to do are in `HALE_ERRORS`. */
export const CARE_ERROR_CODES = [
  'INVALID_INPUT',
  'NOT_FOUND',
  'NOT_YOURS',
  'WRONG_STATE',
  'SLOT_TAKEN',
  'NOT_A_SLOT',
  'NO_GRANT',
  'NO_AVAILABILITY',
  'AVAILABILITY_FORGED',
  'NOT_A_PROVIDER',
  'NOTHING_KEPT',
] as const satisfies readonly HaleErrorCode[];
/** One of `CARE_ERROR_CODES`. */
export type CareErrorCode = (typeof CARE_ERROR_CODES)[number];

/** A refused care action (`CareErrorCode`: booking, messages, plans, notes): nothing was written. */
export class CareError extends HaleError {
  constructor(
    readonly code: CareErrorCode,
    message: string,
    options: { field?: string; recordId?: string } = {},
  ) {
    super(message);
    this.name = 'CareError';
    if (options.field !== undefined) this.field = options.field;
    if (options.recordId !== undefined) this.recordId = options.recordId;
  }
}
