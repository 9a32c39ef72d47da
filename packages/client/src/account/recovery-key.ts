/** A recovery key as typed: decoded to the account's root, and checked to be a given account's. */
import { constantTimeEqual, decodeRecoveryKey } from '@hale/crypto';
import { AccountError } from '../core/account-error';
import type { UnlockedAccount } from './account-deps';

export const wrongRecoveryKey = (): never => {
  throw new AccountError('WRONG_RECOVERY_KEY', "the recovery key is not this device's account's");
};

/** Refuses a recovery key that is mistyped (INVALID_RECOVERY_KEY) or not `account`'s (WRONG_RECOVERY_KEY). */
export function requireRecoveryKeyOf(account: UnlockedAccount, recoveryKey: string): void {
  const root = rootOfRecoveryKey(recoveryKey);
  try {
    if (!constantTimeEqual(root, account.root)) wrongRecoveryKey();
  } finally {
    root.fill(0);
  }
}

/** The root a recovery key encodes; INVALID_RECOVERY_KEY when it is mistyped. */
export function rootOfRecoveryKey(recoveryKey: string): Uint8Array {
  const decoded = decodeRecoveryKey(recoveryKey);
  if (decoded.ok) return decoded.value;
  const { group, message } = decoded.error;
  throw new AccountError('INVALID_RECOVERY_KEY', message, group === undefined ? {} : { group });
}
