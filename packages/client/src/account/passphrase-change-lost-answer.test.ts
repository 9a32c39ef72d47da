// A new passphrase wrap whose answer is lost on the way back (the server took it, the device never heard):
// the device must end up holding what the server serves, or the person is told the change failed while
// the server (and, once they refresh, the account's other devices) already open only with the new
// passphrase. Real server on a loopback port; the losses are injected by wrapping the HTTP API. A wrap
// refused CONFLICT is read back the same way: one sent twice (a retrying proxy or fetch wrapper: the first
// lands, the second is answered CONFLICT) completes; one that lost a race with another device's change
// is that device's change, told PASSPHRASE_CHANGED_ELSEWHERE (docs/client-api.md, Accounts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KDF } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { HaleClientError, isHaleClientError } from '../api/errors';
import { createHttpApi, type HttpApi } from '../api/http-api';
import { openSession } from '../api/session-manager';
import {
  changePassphrase,
  createAccount,
  heldWrappedRootGen,
  joinWithPassphrase,
  joinWithRecoveryKey,
  unlock,
  type AccountDeps,
  type UnlockedAccount,
} from './account';
import { accountError } from './account.test-util';
import { memoryVault, type MemoryVault } from './vault';

const P1 = 'first passphrase one';
const P2 = 'second passphrase two';

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

const lost = (): HaleClientError => new HaleClientError({ code: 'NETWORK', status: 0, message: 'reset' });

/**
 * `base` whose wrap PUTs fail NETWORK: `landed` ones after the server took them (the answer is lost),
 * else before they are sent. `readsFail` makes every later wrap read fail NETWORK too (still offline).
 */
const losing = (base: HttpApi, opts: { landed: boolean; readsFail?: boolean }) => {
  const calls = { put: 0 };
  let offline = false;
  const wrapped: HttpApi = {
    ...base,
    putWrappedRoot: async (body, token) => {
      calls.put++;
      if (!opts.landed) throw lost();
      await base.putWrappedRoot(body, token);
      offline = opts.readsFail === true;
      throw lost();
    },
    getWrappedRoot: (token) => (offline ? Promise.reject(lost()) : base.getWrappedRoot(token)),
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

const tokenOf = async (account: UnlockedAccount) => (await openSession(api, account.device, ed)).token;
const serverGen = async (account: UnlockedAccount) => (await api.getWrappedRoot(await tokenOf(account))).gen;

async function patient(a: HttpApi) {
  const loginName = `lostwrap${++n}-${Date.now().toString(36)}`;
  const d = deps(a);
  const { account, recoveryKey } = await createAccount(d, {
    role: 'patient',
    passphrase: P1,
    loginName,
    deviceName: 'laptop',
  });
  return { loginName, recoveryKey, account, deps: d };
}

describe('changePassphrase whose answer is lost', () => {
  it('the server took the new wrap: the change completes, and this device opens with the new passphrase only', async () => {
    const flaky = losing(api, { landed: true });
    const p = await patient(flaky.api);
    await changePassphrase(p.deps, {
      account: p.account,
      oldPassphrase: P1,
      newPassphrase: P2,
      token: await tokenOf(p.account),
    });
    expect(flaky.calls.put).toBe(1);
    expect(await serverGen(p.account)).toBe(1);
    expect(await heldWrappedRootGen(p.deps, p.account)).toBe(1);
    await unlock({ vault: p.deps.vault }, { passphrase: P2 });
    await accountError(unlock({ vault: p.deps.vault }, { passphrase: P1 }), 'WRONG_PASSPHRASE');
    // A new device joins with the same passphrase this one now opens with.
    await joinWithPassphrase(deps(api), { loginName: p.loginName, passphrase: P2, deviceName: 'phone' });
  });

  it('the server took it and answered a success whose body cannot be read: read back, the change completes', async () => {
    let puts = 0;
    const garbling: HttpApi = {
      ...api,
      putWrappedRoot: async (body, token) => {
        puts++;
        await api.putWrappedRoot(body, token);
        throw new HaleClientError({ code: 'BAD_RESPONSE', status: 200, message: 'answer is not JSON' });
      },
    };
    const p = await patient(garbling);
    await changePassphrase(p.deps, {
      account: p.account,
      oldPassphrase: P1,
      newPassphrase: P2,
      token: await tokenOf(p.account),
    });
    expect(puts).toBe(1);
    expect(await serverGen(p.account)).toBe(1);
    await unlock({ vault: p.deps.vault }, { passphrase: P2 });
  });

  it('the wrap never reached the server: the network error stands and nothing changed anywhere', async () => {
    const flaky = losing(api, { landed: false });
    const p = await patient(flaky.api);
    const e = await changePassphrase(p.deps, {
      account: p.account,
      oldPassphrase: P1,
      newPassphrase: P2,
      token: await tokenOf(p.account),
    }).catch((error: unknown) => error);
    expect(isHaleClientError(e) && e.code).toBe('NETWORK');
    expect(await serverGen(p.account)).toBe(0);
    expect(await heldWrappedRootGen(p.deps, p.account)).toBe(0);
    await unlock({ vault: p.deps.vault }, { passphrase: P1 });
  });

  it('still offline after the loss: the network error stands, and the next change takes the landed wrap', async () => {
    const flaky = losing(api, { landed: true, readsFail: true });
    const p = await patient(flaky.api);
    const e = await changePassphrase(p.deps, {
      account: p.account,
      oldPassphrase: P1,
      newPassphrase: P2,
      token: await tokenOf(p.account),
    }).catch((error: unknown) => error);
    expect(isHaleClientError(e) && e.code).toBe('NETWORK');
    expect(await serverGen(p.account)).toBe(1);
    // Online again, the person tries the same change once more: it is already done.
    await changePassphrase(
      { ...p.deps, api },
      { account: p.account, oldPassphrase: P2, newPassphrase: P2, token: await tokenOf(p.account) },
    );
    await unlock({ vault: p.deps.vault }, { passphrase: P2 });
  });
});

describe('joinWithRecoveryKey whose new wrap answer is lost', () => {
  it('the server took it: the join completes and the device is usable, not revoked', async () => {
    const p = await patient(api);
    const flaky = losing(api, { landed: true });
    const phone = deps(flaky.api);
    const joined = await joinWithRecoveryKey(phone, {
      recoveryKey: p.recoveryKey,
      newPassphrase: P2,
      deviceName: 'phone',
    });
    expect(flaky.calls.put).toBe(1);
    expect(await serverGen(joined)).toBe(1);
    expect(await heldWrappedRootGen(phone, joined)).toBe(1);
    const server = await api.getAccount(joined.accountId);
    expect(server.devices.map((d) => d.cert.deviceId)).toContain(joined.device.deviceId);
    await unlock({ vault: phone.vault }, { passphrase: P2 });
  });
});

/** `base` whose every wrap PUT reaches the server twice (a retrying intermediary), answered by the second. */
const replaying = (base: HttpApi): HttpApi => ({
  ...base,
  putWrappedRoot: async (body, token) => {
    await base.putWrappedRoot(body, token);
    return base.putWrappedRoot(body, token);
  },
});

describe('a new wrap sent twice, the second answered CONFLICT', () => {
  it('changePassphrase completes: the vault holds the new passphrase', async () => {
    const p = await patient(replaying(api));
    await changePassphrase(p.deps, {
      account: p.account,
      oldPassphrase: P1,
      newPassphrase: P2,
      token: await tokenOf(p.account),
    });
    expect(await serverGen(p.account)).toBe(1);
    expect(await heldWrappedRootGen(p.deps, p.account)).toBe(1);
    await unlock({ vault: p.deps.vault }, { passphrase: P2 });
  });

  it('joinWithRecoveryKey completes too: the new device opens with the passphrase it set', async () => {
    const { recoveryKey } = await patient(api);
    const d = deps(replaying(api));
    const tablet = await joinWithRecoveryKey(d, { recoveryKey, newPassphrase: P2, deviceName: 'tablet' });
    expect(await serverGen(tablet)).toBe(1);
    expect(await heldWrappedRootGen(d, tablet)).toBe(1);
    await unlock({ vault: d.vault }, { passphrase: P2 });
  });
});

describe('two devices change the passphrase at once', () => {
  it('the loser fails PASSPHRASE_CHANGED_ELSEWHERE and its vault follows the winner', async () => {
    const laptop = await patient(api);
    // The phone's PUT reaches the server just after the laptop's change landed.
    let laptopChanged: Promise<void> | undefined;
    const racing: HttpApi = {
      ...api,
      putWrappedRoot: async (body, token) => {
        laptopChanged ??= changePassphrase(laptop.deps, {
          account: laptop.account,
          oldPassphrase: P1,
          newPassphrase: P2,
          token: await tokenOf(laptop.account),
        });
        await laptopChanged;
        return api.putWrappedRoot(body, token);
      },
    };
    const phoneDeps = deps(racing);
    const phone = await joinWithPassphrase(phoneDeps, {
      loginName: laptop.loginName,
      passphrase: P1,
      deviceName: 'phone',
    });
    await accountError(
      changePassphrase(phoneDeps, {
        account: phone,
        oldPassphrase: P1,
        newPassphrase: 'the phone passphrase',
        token: await tokenOf(phone),
      }),
      'PASSPHRASE_CHANGED_ELSEWHERE',
    );
    expect(await serverGen(laptop.account)).toBe(1);
    expect(await heldWrappedRootGen(phoneDeps, phone)).toBe(1);
    await unlock({ vault: phoneDeps.vault }, { passphrase: P2 });
  });
});
