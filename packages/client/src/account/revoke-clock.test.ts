// revokeDevice signs its revocation with this device's clock (`now`); a server refuses a revokedAt far
// from its own clock, naming the field and its time. A lost phone must still be revocable from a device
// whose clock is off, so the revocation is then signed once more at the server's time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KDF } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { isHaleClientError } from '../api/errors';
import { createHttpApi, type HttpApi } from '../api/http-api';
import { createAccount, joinWithPassphrase, lock, revokeDevice, type AccountDeps } from './account';
import { accountError } from './account.test-util';
import { memoryVault } from './vault';

const PASS = 'correct horse battery staple';
const HOUR = 3_600_000;

let t: TestServer;
let api: HttpApi;

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
});
afterAll(async () => {
  await t.stop();
});

const deps = (now?: () => number): AccountDeps => ({
  api,
  vault: memoryVault(),
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
  ...(now === undefined ? {} : { now }),
});

describe('revokeDevice from a device whose clock is wrong', () => {
  for (const [what, offset] of [
    ['an hour behind', -HOUR],
    ['an hour ahead', HOUR],
  ] as const) {
    it(`${what}: the server refuses its revokedAt, so it is signed again at the server's time and stands`, async () => {
      const loginName = `clock${offset > 0 ? 'ahead' : 'behind'}-${Date.now().toString(36)}`;
      const { account } = await createAccount(deps(), {
        role: 'patient',
        passphrase: PASS,
        loginName,
        deviceName: 'laptop',
      });
      const phone = await joinWithPassphrase(deps(), { loginName, passphrase: PASS, deviceName: 'phone' });
      const sent: string[] = [];
      const watched: HttpApi = {
        ...api,
        revokeDevice: async (body) => {
          sent.push(body.revocation.revokedAt);
          return api.revokeDevice(body);
        },
      };
      const answer = await revokeDevice(
        { ...deps(() => t.clock.now + offset), api: watched },
        { account, deviceId: phone.device.deviceId },
      );
      expect(answer.deviceId).toBe(phone.device.deviceId);
      expect(sent).toEqual([
        new Date(t.clock.now + offset).toISOString(),
        new Date(t.clock.now).toISOString(),
      ]);
      expect((await api.getAccount(account.accountId)).revokedDevices).toEqual([phone.device.deviceId]);
      const kept = await api.getAccountDevice(account.accountId, phone.device.deviceId);
      expect(kept.revocation?.revocation.revokedAt).toBe(new Date(t.clock.now).toISOString());
    });
  }

  it('locked while the first revocation was refused: LOCKED, and nothing signed by the zeroed key is sent', async () => {
    const loginName = `clocklock-${Date.now().toString(36)}`;
    const { account } = await createAccount(deps(), {
      role: 'patient',
      passphrase: PASS,
      loginName,
      deviceName: 'laptop',
    });
    const phone = await joinWithPassphrase(deps(), { loginName, passphrase: PASS, deviceName: 'phone' });
    let calls = 0;
    const watched: HttpApi = {
      ...api,
      revokeDevice: async (body) => {
        calls++;
        const answer = api.revokeDevice(body);
        // An idle auto-lock while the server's refusal is on its way back.
        if (calls === 1) lock(account);
        return answer;
      },
    };
    await accountError(
      revokeDevice(
        { ...deps(() => t.clock.now + HOUR), api: watched },
        { account, deviceId: phone.device.deviceId },
      ),
      'LOCKED',
    );
    expect(calls).toBe(1);
    expect((await api.getAccount(account.accountId)).revokedDevices).toEqual([]);
  });

  it('any other refusal is not retried', async () => {
    const loginName = `clockother-${Date.now().toString(36)}`;
    const { account } = await createAccount(deps(), {
      role: 'patient',
      passphrase: PASS,
      loginName,
      deviceName: 'laptop',
    });
    let calls = 0;
    const watched: HttpApi = {
      ...api,
      revokeDevice: async (body) => {
        calls++;
        return api.revokeDevice(body);
      },
    };
    const error: unknown = await revokeDevice(
      { ...deps(() => t.clock.now + HOUR), api: watched },
      { account, deviceId: 'D0000000000000000000000000' },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isHaleClientError(error)).toBe(true);
    expect(calls).toBe(1);
  });
});
