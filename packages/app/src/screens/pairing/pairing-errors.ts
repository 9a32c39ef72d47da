// A pairing's refusal in words: the library's pairing codes by their key, the rest as account errors say them.
import type { TFunction } from 'i18next';
import { isHaleError } from '@hale/client';
import { accountErrorText } from '../start/account-errors';

export const PAIRING_ERRORS = [
  'INVALID_PAIRING_CODE',
  'PAIRING_UNKNOWN',
  'PAIRING_TAKEN',
  'PAIRING_EXPIRED',
  'PAIRING_REFUSED',
  'PAIRING_CANCELLED',
  'PAIRING_TAMPERED',
  'PAIRING_WRONG_STATE',
  'PAIRING_UNSUPPORTED',
] as const;
const KNOWN: ReadonlySet<string> = new Set(PAIRING_ERRORS);

export const pairingErrorText = (t: TFunction, e: unknown): string =>
  isHaleError(e) && KNOWN.has(e.code) ? t(`pairing.error.${e.code}`) : accountErrorText(t, e);

/** Six digits as a person compares them: `123 456`. */
export const groupDigits = (sas: string): string =>
  /^\d{6}$/.test(sas) ? `${sas.slice(0, 3)} ${sas.slice(3)}` : sas;
