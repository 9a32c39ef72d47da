// An account call's refusal in words: codes an account screen says its own way by their key
// (accountError.<code>), every other code by the error table's words (error-words.ts).
import type { TFunction } from 'i18next';
import type { HaleErrorCode } from '@hale/client';
import { loadedClient } from '../../boot/platform';
import { haleErrorText } from '../../i18n/error-words';

export const ACCOUNT_ERRORS = [
  'WRONG_PASSPHRASE',
  'INVALID_RECOVERY_KEY',
  'NO_ACCOUNT',
  'ACCOUNT_NOT_FOUND',
  'ACCOUNT_EXISTS',
  'WEAK_PASSPHRASE',
  'SESSION_ALREADY_OPEN',
  'INVALID_LOGIN_NAME',
  'REGISTRATION_CLOSED',
  'INVITE_REQUIRED',
  'INVITE_INVALID',
  'NETWORK',
  'TIMEOUT',
  'ALREADY_EXISTS',
  'CONFLICT',
  'NOT_FOUND',
  'UNAUTHENTICATED',
  'RATE_LIMITED',
  'DEVICE_REVOKED',
  'TOO_MANY_DEVICES',
  'VAULT_CORRUPT',
] as const satisfies readonly HaleErrorCode[];

export const accountErrorText = (t: TFunction, e: unknown): string => {
  // The library is loaded by the time an account call fails (the unlock screen's path does not import it).
  const client = loadedClient();
  if (client?.isHaleError(e) === true) return haleErrorText(t, e, 'accountError');
  return e instanceof Error ? e.message : String(e);
};
