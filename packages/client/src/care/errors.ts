/**
 * Errors of the care flows (messages, appointments, availability, plans, co-signatures, kept entries).
 * Codes are append-only: a screen switches on them.
 */
import { HaleError } from '../core/hale-error';

export const CARE_ERROR_CODES = [
  /** An input the flow refuses (a time zone no calendar knows, an empty message, a window ending first). */
  'INVALID_INPUT',
  /** The record named is not held here, or is of another kind. */
  'NOT_FOUND',
  /** The move is not this account's to make (only the provider confirms, only the patient accepts). */
  'NOT_YOURS',
  /** The appointment's status does not allow the move (a cancelled one is not confirmed). */
  'WRONG_STATE',
  /** Another booking of this provider's time was confirmed first. */
  'SLOT_TAKEN',
  /** The slot is not among the provider's published free slots. */
  'NOT_A_SLOT',
  /** The patient has not given the provider write access to the record kind the flow needs. */
  'NO_GRANT',
  /** The provider published no availability (or the server keeps none). */
  'NO_AVAILABILITY',
  /** The availability served is not signed by the provider's identity key, or is not the provider's. */
  'AVAILABILITY_FORGED',
  /** Only a provider account publishes availability or keeps its own entries. */
  'NOT_A_PROVIDER',
  /** Nothing was kept of this patient (no entry of this account's while a grant stood). */
  'NOTHING_KEPT',
] as const;
export type CareErrorCode = (typeof CARE_ERROR_CODES)[number];

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
