// A pairing's refusal in words: the library's pairing codes by their key, the rest as account errors say them.
import type { TFunction } from 'i18next';
import { PAIRING_ERROR_CODES, isHaleError } from '@hale/client';
import { accountErrorText } from '../start/account-errors';

/** The library's pairing codes (PAIRING_ERROR_CODES) each said by its key, `pairing.error.<code>`. */
export const pairingErrorText = (t: TFunction, e: unknown): string =>
  isHaleError(e) && (PAIRING_ERROR_CODES as readonly string[]).includes(e.code)
    ? t(`pairing.error.${e.code}`)
    : accountErrorText(t, e);

/** Six digits as a person compares them: `123 456`. */
export const groupDigits = (sas: string): string =>
  /^\d{6}$/.test(sas) ? `${sas.slice(0, 3)} ${sas.slice(3)}` : sas;
