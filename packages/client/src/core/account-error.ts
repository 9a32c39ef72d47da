/**
 * Account and device-session lifecycle failures that are not transport errors (those stay
 * HaleClientError). Codes: ACCOUNT_ERROR_CODES; what each means, its words and what to do: HALE_ERRORS (core/error-codes.ts).
 * Messages never contain a passphrase, key or root.
 */
import { HaleError } from './hale-error';
import type { HaleErrorCode } from './error-codes';
import type { AccountRole } from '@hale/protocol';

/** The codes an `AccountError` carries; each one's words and what to do are in `HALE_ERRORS`. */
export const ACCOUNT_ERROR_CODES = [
  'WRONG_PASSPHRASE',
  'INVALID_RECOVERY_KEY',
  'NO_ACCOUNT',
  'ACCOUNT_NOT_FOUND',
  'ACCOUNT_EXISTS',
  'ACCOUNT_MISMATCH',
  'VAULT_CORRUPT',
  'BAD_WRAPPED_ROOT',
  'WEAK_PASSPHRASE',
  'LOCKED',
  'NOT_A_PROVIDER',
  'WRAPPED_ROOT_REFUSED',
  'SESSION_ALREADY_OPEN',
  'VAULT_TOO_NEW',
  'INVALID_LOGIN_NAME',
  'WRAPPED_ROOT_UNSIGNED',
  'REGISTRATION_CLOSED',
  'INVITE_REQUIRED',
  'INVITE_INVALID',
  'INVITE_WRONG_ROLE',
  'REGISTRATION_UNCONFIRMED',
  'LOGIN_NAME_TAKEN',
  'PASSPHRASE_CHANGED_ELSEWHERE',
  'WEAK_KDF',
  'WRONG_RECOVERY_KEY',
  'INVALID_DEVICE_NAME',
  'ACCOUNT_NOT_SAVED',
  'ROLE_REFUSED',
  'ROLE_UNSIGNED',
  'PASSPHRASE_NOT_SAVED',
  'INVALID_PROFILE',
] as const satisfies readonly HaleErrorCode[];

/** One of `ACCOUNT_ERROR_CODES`. */
export type AccountErrorCode = (typeof ACCOUNT_ERROR_CODES)[number];

/** The input field each code concerns (`field` of the error): a form marks it. */
const FIELD_OF: Partial<Record<AccountErrorCode, string>> = {
  WRONG_PASSPHRASE: 'passphrase',
  WEAK_PASSPHRASE: 'passphrase',
  INVALID_RECOVERY_KEY: 'recoveryKey',
  WRONG_RECOVERY_KEY: 'recoveryKey',
  INVALID_LOGIN_NAME: 'loginName',
  LOGIN_NAME_TAKEN: 'loginName',
  INVALID_DEVICE_NAME: 'deviceName',
  INVITE_REQUIRED: 'invite',
  INVITE_INVALID: 'invite',
  INVITE_WRONG_ROLE: 'invite',
};

/** A refused or failed account action (`AccountErrorCode`: sign-up, unlock, pairing, devices). */
export class AccountError extends HaleError {
  readonly code: AccountErrorCode;
  /** INVALID_RECOVERY_KEY: 1-based index of the first group that failed its check. */
  readonly group?: number;
  /** INVITE_WRONG_ROLE: the role the invite code is for. */
  readonly role?: AccountRole;
  /**
   * REGISTRATION_UNCONFIRMED: the recovery key of the account that may have been created (the only copy).
   * Not enumerable: a logger or JSON.stringify of the error leaves it out; read it only to show it.
   */
  declare readonly recoveryKey?: string;

  constructor(
    code: AccountErrorCode,
    message: string,
    extra: {
      readonly group?: number;
      readonly role?: AccountRole;
      readonly cause?: unknown;
      readonly recoveryKey?: string;
      /** The input field at fault, where the code alone does not name it (INVALID_PROFILE). */
      readonly field?: string;
    } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'AccountError';
    this.code = code;
    const field = extra.field ?? FIELD_OF[code];
    if (field !== undefined) this.field = field;
    if (extra.group !== undefined) this.group = extra.group;
    if (extra.role !== undefined) this.role = extra.role;
    if (extra.recoveryKey !== undefined) {
      Object.defineProperty(this, 'recoveryKey', { value: extra.recoveryKey, enumerable: false });
    }
  }
}

/** Whether `e` is an `AccountError`. */
export const isAccountError = (e: unknown): e is AccountError => e instanceof AccountError;
