/**
 * Pairing failures a screen switches on (`isHaleError(e, code)`). Append-only; messages say what happened
 * and what the person can do, and never carry a key, the root or a code.
 */
import { HaleError } from '../core/hale-error';

export const PAIRING_ERROR_CODES = [
  /** What was typed or scanned is no pairing code (10 letters and digits). Nothing was sent. */
  'INVALID_PAIRING_CODE',
  /** No pairing has this code on this server (mistyped, expired, finished or cancelled). */
  'PAIRING_UNKNOWN',
  /** Another device already answered this code; if that was not you, cancel on the new device. */
  'PAIRING_TAKEN',
  /** The pairing's 10 minutes ran out before it finished; start again on the new device. */
  'PAIRING_EXPIRED',
  /** The other device cancelled (its person refused, or saw other digits). */
  'PAIRING_REFUSED',
  /** This device cancelled (`cancel`, `refuse`). */
  'PAIRING_CANCELLED',
  /**
   * A message did not pass its check: a reveal that does not open its commitment, a box that does not
   * authenticate, a key that is no key. The server (or someone) changed what was relayed; nothing was taken.
   */
  'PAIRING_TAMPERED',
  /** A call made at the wrong moment (e.g. `confirm` before the digits are shown, `approve` twice). */
  'PAIRING_WRONG_STATE',
  /** This server has no pairing relay (an older server): join with the passphrase or the recovery key. */
  'PAIRING_UNSUPPORTED',
] as const;

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
