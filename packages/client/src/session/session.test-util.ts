// Test inputs for sessions opened directly (no server account): a fresh patient account, unlocked.
import { deriveAccountKeys, generateDeviceKeys, generateRootSecret } from '@hale/crypto';
import type { UnlockedAccount } from '../account/account';

export const anAccount = (): UnlockedAccount => {
  const root = generateRootSecret();
  const keys = deriveAccountKeys(root);
  return {
    accountId: keys.accountId,
    role: 'patient',
    root,
    keys,
    device: generateDeviceKeys(),
    deviceName: 't',
  };
};
