// A device name the server would refuse (empty, over 100 characters) is refused at the boundary, as a code
// the app can show, before a key is derived or anything is sent: not as the server's BAD_MESSAGE after the
// passphrase work, and never after the registration has landed.
import { describe, expect, it } from 'vitest';
import { TEST_KDF, encodeRecoveryKey, generateRootSecret } from '@hale/crypto';
import { ed } from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type FetchLike } from '../api/http-api';
import { createAccount, joinWithPassphrase, joinWithRecoveryKey, type AccountDeps } from './account';
import { accountError } from './account.test-util';
import { memoryVault } from './vault';

const PASS = 'correct horse battery';

/** A device whose every request is recorded and then fails. */
function offlineDevice(): { deps: AccountDeps; sent: string[] } {
  const sent: string[] = [];
  const fetch: FetchLike = async (url) => {
    sent.push(new URL(url).pathname);
    throw new Error('offline');
  };
  return {
    deps: {
      api: createHttpApi({ baseUrl: 'http://server.invalid', fetch }),
      vault: memoryVault(),
      ed,
      kdf: TEST_KDF,
      weakKdfForTests: true,
      wait: () => Promise.resolve(),
    },
    sent,
  };
}

describe('device names', () => {
  for (const [what, deviceName] of [
    ['empty', ''],
    ['over 100 characters', 'p'.repeat(101)],
    ['over 100 UTF-16 units (as the server counts)', '📱'.repeat(51)],
  ] as const) {
    it(`${what}: INVALID_DEVICE_NAME from create and both joins, nothing sent`, async () => {
      const create = offlineDevice();
      await accountError(
        createAccount(create.deps, { role: 'patient', passphrase: PASS, loginName: 'jane', deviceName }),
        'INVALID_DEVICE_NAME',
      );
      const join = offlineDevice();
      await accountError(
        joinWithPassphrase(join.deps, { loginName: 'jane', passphrase: PASS, deviceName }),
        'INVALID_DEVICE_NAME',
      );
      const recover = offlineDevice();
      await accountError(
        joinWithRecoveryKey(recover.deps, {
          recoveryKey: encodeRecoveryKey(generateRootSecret()),
          newPassphrase: PASS,
          deviceName,
        }),
        'INVALID_DEVICE_NAME',
      );
      expect([...create.sent, ...join.sent, ...recover.sent]).toEqual([]);
    });
  }

  it('takes 1 to 100 characters as they are', async () => {
    for (const deviceName of ['p', 'p'.repeat(100), "Jane's 📱"]) {
      const { deps, sent } = offlineDevice();
      await expect(
        joinWithPassphrase(deps, { loginName: 'jane', passphrase: PASS, deviceName }),
      ).rejects.toMatchObject({ code: 'NETWORK' });
      expect(sent).toEqual(['/v1/join']);
    }
  });
});
