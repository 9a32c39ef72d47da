// A join whose device registration answer is lost (the server stored the certificate, the device heard a
// reset or a proxy's 502): the join must not fail leaving that certificate active on the account, where
// it counts against the device cap with no key behind it, and each retried join would add another.
// Real server on a loopback port; the loss is injected by wrapping the HTTP API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KDF } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { HaleClientError, isHaleClientError } from '../api/errors';
import { createHttpApi, type HttpApi } from '../api/http-api';
import { createAccount, joinWithPassphrase, unlock, type AccountDeps } from './account';
import { memoryVault, type MemoryVault } from './vault';

const PASS = 'correct horse battery staple';

let t: TestServer;
let api: HttpApi;
let n = 0;

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
});
afterAll(async () => {
  await t.stop();
});

const lost = (): HaleClientError =>
  new HaleClientError({ code: 'BAD_RESPONSE', status: 502, message: 'answer is not JSON', retry: true });

/** `base` whose first `losses` addDevice calls reach the server and then lose their answer. */
const losingAdds = (base: HttpApi, losses: number) => {
  const calls = { add: 0 };
  const wrapped: HttpApi = {
    ...base,
    addDevice: async (body) => {
      calls.add++;
      const answer = await base.addDevice(body);
      if (calls.add <= losses) throw lost();
      return answer;
    },
  };
  return { api: wrapped, calls };
};

const deps = (a: HttpApi): AccountDeps & { vault: MemoryVault } => ({
  api: a,
  vault: memoryVault(),
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
});

async function patient() {
  const loginName = `lostadd${++n}-${Date.now().toString(36)}`;
  const { account } = await createAccount(deps(api), {
    role: 'patient',
    passphrase: PASS,
    loginName,
    deviceName: 'laptop',
  });
  return { loginName, accountId: account.accountId };
}

const activeDevices = async (accountId: string) =>
  (await api.getAccount(accountId)).devices.map((d) => d.cert.deviceId);

describe('join whose device registration answer is lost', () => {
  it('once: the join completes with the stored certificate, and no other device is left active', async () => {
    const p = await patient();
    const flaky = losingAdds(api, 1);
    const phone = deps(flaky.api);
    const joined = await joinWithPassphrase(phone, {
      loginName: p.loginName,
      passphrase: PASS,
      deviceName: 'phone',
    });
    expect(flaky.calls.add).toBe(2);
    const active = await activeDevices(p.accountId);
    expect(active).toHaveLength(2);
    expect(active).toContain(joined.device.deviceId);
    await unlock({ vault: phone.vault }, { passphrase: PASS });
  });

  it('every time: the join fails with the loss, and the certificate it stored is revoked, not left active', async () => {
    const p = await patient();
    const flaky = losingAdds(api, Number.POSITIVE_INFINITY);
    const phone = deps(flaky.api);
    const e = await joinWithPassphrase(phone, {
      loginName: p.loginName,
      passphrase: PASS,
      deviceName: 'phone',
    }).catch((error: unknown) => error);
    expect(isHaleClientError(e) && e.code).toBe('BAD_RESPONSE');
    const server = await api.getAccount(p.accountId);
    expect(server.devices).toHaveLength(1);
    expect(server.revokedDevices).toHaveLength(1);
    expect(phone.vault.entries().size).toBe(0);
  });

  it('refused (not an unknown outcome): not sent again, nothing to revoke', async () => {
    const p = await patient();
    const calls = { add: 0 };
    const refusing: HttpApi = {
      ...api,
      addDevice: async () => {
        calls.add++;
        throw new HaleClientError({ code: 'TOO_MANY_DEVICES', status: 409, message: 'full' });
      },
    };
    const e = await joinWithPassphrase(deps(refusing), {
      loginName: p.loginName,
      passphrase: PASS,
      deviceName: 'phone',
    }).catch((error: unknown) => error);
    expect(isHaleClientError(e) && e.code).toBe('TOO_MANY_DEVICES');
    expect(calls.add).toBe(1);
    expect((await api.getAccount(p.accountId)).revokedDevices).toHaveLength(0);
  });

  it('a success whose body cannot be read (a proxy rewrote the 200): the certificate it stored is revoked', async () => {
    const p = await patient();
    let adds = 0;
    const garbling: HttpApi = {
      ...api,
      addDevice: async (body) => {
        adds++;
        await api.addDevice(body);
        throw new HaleClientError({ code: 'BAD_RESPONSE', status: 200, message: 'answer is not JSON' });
      },
    };
    const e = await joinWithPassphrase(deps(garbling), {
      loginName: p.loginName,
      passphrase: PASS,
      deviceName: 'phone',
    }).catch((error: unknown) => error);
    expect(isHaleClientError(e) && e.code).toBe('BAD_RESPONSE');
    expect(adds).toBe(2);
    const server = await api.getAccount(p.accountId);
    expect(server.devices).toHaveLength(1);
    expect(server.revokedDevices).toHaveLength(1);
  });
});
