// A care call's refusal in words for a person: the code's sentence in the app's language where care has
// one (care.error.<code>), the error table's words otherwise; no connection always said the same way.
import type { TFunction } from 'i18next';
import { isHaleError, type HaleErrorCode } from '@hale/client';
import { haleErrorText } from '../i18n/error-words';

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
] as const satisfies readonly HaleErrorCode[];

const OFFLINE: ReadonlySet<HaleErrorCode> = new Set<HaleErrorCode>(['NETWORK', 'TIMEOUT', 'OFFLINE']);

export const careErrorText = (t: TFunction, e: unknown): string => {
  if (isHaleError(e)) {
    return OFFLINE.has(e.code) ? t('care.error.NETWORK') : haleErrorText(t, e, 'care.error');
  }
  return e instanceof Error ? e.message : String(e);
};
