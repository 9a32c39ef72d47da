// An account call's refusal in words: known codes by their key, others as the library says them.
import type { TFunction } from 'i18next';
import { loadedClient } from '../../boot/platform';

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
] as const;
const KNOWN: ReadonlySet<string> = new Set(ACCOUNT_ERRORS);

export const accountErrorText = (t: TFunction, e: unknown): string => {
  // The library is loaded by the time an account call fails (the unlock screen's path does not import it).
  const client = loadedClient();
  if (client?.isHaleError(e) === true) return KNOWN.has(e.code) ? t(`accountError.${e.code}`) : e.message;
  return e instanceof Error ? e.message : String(e);
};
