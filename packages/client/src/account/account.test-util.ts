import { expect } from 'vitest';
import { isAccountError, type AccountError, type AccountErrorCode } from '../core/account-error';

/** Awaits `promise`, which must reject with an AccountError of `code`; returns that error. */
export async function accountError(promise: Promise<unknown>, code: AccountErrorCode): Promise<AccountError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isAccountError(error)) throw new Error(`expected AccountError ${code}, got ${String(error)}`);
  expect(error.code).toBe(code);
  return error;
}
