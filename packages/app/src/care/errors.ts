// A care call's refusal in words for a person: the code's sentence in the app's language where there is
// one (care.error.<code>), the library's own sentence otherwise; no connection always said the same way.
import type { TFunction } from 'i18next';
import { isHaleError } from '@hale/client';

/** Codes with a sentence of their own (i18n.test.ts checks each exists in every language). */
export const CARE_ERROR_TEXTS = [
  'NETWORK',
  'NO_GRANT',
  'SLOT_TAKEN',
  'NOT_A_SLOT',
  'NO_AVAILABILITY',
  'AVAILABILITY_FORGED',
  'WRONG_STATE',
  'NOT_YOURS',
  'KEY_CHANGED',
  'BAD_INVITE',
  'UNKNOWN_ACCOUNT',
  'BAD_SCOPE',
  'BAD_EXPIRY',
  'BAD_GRANT',
  'LOCKED',
  'NO_KEY',
  'HASH_MISMATCH',
] as const;

const OFFLINE = new Set(['NETWORK', 'TIMEOUT', 'OFFLINE', 'NOT_CONNECTED']);

export const careErrorText = (t: TFunction, e: unknown): string => {
  if (isHaleError(e)) {
    const code = OFFLINE.has(e.code) ? 'NETWORK' : e.code;
    return (CARE_ERROR_TEXTS as readonly string[]).includes(code) ? t(`care.error.${code}`) : e.message;
  }
  return e instanceof Error ? e.message : String(e);
};
