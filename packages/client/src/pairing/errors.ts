/**
 * Pairing failures a screen switches on (`isHaleError(e, code)`); what each means, its words and what to do: HALE_ERRORS (core/error-codes.ts).
 * Messages never carry a key, the root or a code.
 */
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';

/** The codes a `PairingError` carries; words and what to do are in `HALE_ERRORS`. */
export const PAIRING_ERROR_CODES = [
  'INVALID_PAIRING_CODE',
  'PAIRING_UNKNOWN',
  'PAIRING_TAKEN',
  'PAIRING_EXPIRED',
  'PAIRING_REFUSED',
  'PAIRING_CANCELLED',
  'PAIRING_TAMPERED',
  'PAIRING_WRONG_STATE',
  'PAIRING_UNSUPPORTED',
] as const satisfies readonly HaleErrorCode[];

/** One of `PAIRING_ERROR_CODES`. */
export type PairingErrorCode = (typeof PAIRING_ERROR_CODES)[number];

export class PairingError extends HaleError {
  readonly code: PairingErrorCode;
  /** The other device reported it (its `cancel`): this side has nothing to tell it. */
  readonly byOtherDevice: boolean;

  constructor(
    code: PairingErrorCode,
    message: string,
    options: { cause?: unknown; byOtherDevice?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PairingError';
    this.code = code;
    this.byOtherDevice = options.byOtherDevice === true;
  }
}

export const isPairingError = (e: unknown): e is PairingError => e instanceof PairingError;
