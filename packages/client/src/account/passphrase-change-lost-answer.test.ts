// A new passphrase wrap whose answer is lost on the way back (the server took it, the device never heard):
// the device must end up holding what the server serves, or the person is told the change failed while
// the server (and, once they refresh, the account's other devices) already open only with the new
// passphrase. Real server on a loopback port; the losses are injected by wrapping the HTTP API. A wrap
// refused CONFLICT is read back the same way: one sent twice (a retrying proxy or fetch wrapper: the first
// lands, the second is answered CONFLICT) completes; one that lost a race with another device's change
// is that device's change, told PASSPHRASE_CHANGED_ELSEWHERE (the TSDoc of @hale/client/advanced, Accounts).
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
  refreshWrappedRoot,
  unlock,
  type AccountDeps,
  type UnlockedAccount,
} from './account';
import { accountError } from './account.test-util';
import { memoryVault, type MemoryVault, type Vault } from './vault';

const P1 = 'first passphrase one';
const P2 = 'second passphrase two';
const P3 = 'third passphrase three';

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

describe('a recovery-key join racing a passphrase change on another device', () => {
  it('fails PASSPHRASE_CHANGED_ELSEWHERE: its certificate revoked, nothing in its vault, the other change in force', async () => {
    const laptop = await patient(api);
    // The tablet read generation 0; its new wrap reaches the server just after the laptop's change landed.
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
    const tablet = deps(racing);
    await accountError(
      joinWithRecoveryKey(tablet, {
        recoveryKey: laptop.recoveryKey,
        newPassphrase: P3,
        deviceName: 'tablet',
      }),
      'PASSPHRASE_CHANGED_ELSEWHERE',
    );
    expect(tablet.vault.entries().size).toBe(0);
    const server = await api.getAccount(laptop.account.accountId);
    // The certificate registered to read the wrap is revoked, as after any join that fails past it.
    expect(server.devices.map((d) => d.cert.deviceId)).toEqual([laptop.account.device.deviceId]);
    expect(server.revokedDevices).toHaveLength(1);
    expect(await serverGen(laptop.account)).toBe(1);
    // The laptop's passphrase is the one in force: a join with it works, the tablet's never was set.
    await joinWithPassphrase(deps(api), { loginName: laptop.loginName, passphrase: P2, deviceName: 'phone' });
  });

  it('a CONFLICT with no newer signed wrap on the server stays the server error (nothing was changed elsewhere)', async () => {
    const p = await patient(api);
    const refusing: HttpApi = {
      ...api,
      putWrappedRoot: () =>
        Promise.reject(new HaleClientError({ code: 'CONFLICT', status: 409, message: 'conflict' })),
    };
    const tablet = deps(refusing);
    const e = await joinWithRecoveryKey(tablet, {
      recoveryKey: p.recoveryKey,
      newPassphrase: P3,
      deviceName: 'tablet',
    }).catch((error: unknown) => error);
    expect(isHaleClientError(e) && e.code).toBe('CONFLICT');
    expect(tablet.vault.entries().size).toBe(0);
    expect((await api.getAccount(p.account.accountId)).revokedDevices).toHaveLength(1);
  });
});

/** `base` whose writes fail (storage full) while `full.on`; `landing` ones store the value before failing. */
const fillable = (base: MemoryVault, landing = false) => {
  const full = { on: false };
  const diskFull = new Error('disk full');
  const vault: Vault = {
    ...base,
    set: async (key, value) => {
      if (!full.on) return base.set(key, value);
      if (landing) await base.set(key, value);
      throw diskFull;
    },
  };
  return { vault, full, diskFull };
};

describe('changePassphrase whose vault write fails', () => {
  it('after the server took the new wrap: PASSPHRASE_NOT_SAVED, and a refresh stores the new passphrase', async () => {
    const p = await patient(api);
    const storage = fillable(p.deps.vault);
    storage.full.on = true;
    const e = await accountError(
      changePassphrase(
        { ...p.deps, vault: storage.vault },
        { account: p.account, oldPassphrase: P1, newPassphrase: P2, token: await tokenOf(p.account) },
      ),
      'PASSPHRASE_NOT_SAVED',
    );
    expect(e.cause).toBe(storage.diskFull);
    // The server holds the new passphrase; this device's vault still the old one.
    expect(await serverGen(p.account)).toBe(1);
    expect(await heldWrappedRootGen(p.deps, p.account)).toBe(0);
    await unlock({ vault: p.deps.vault }, { passphrase: P1 });
    await joinWithPassphrase(deps(api), { loginName: p.loginName, passphrase: P2, deviceName: 'phone' });
    // Storage freed: the vault update is retried by taking the server's wrap.
    storage.full.on = false;
    expect(
      await refreshWrappedRoot(
        { api, vault: storage.vault, ed },
        { account: p.account, token: await tokenOf(p.account) },
      ),
    ).toEqual({ status: 'updated', gen: 1 });
    await unlock({ vault: p.deps.vault }, { passphrase: P2 });
  });

  it('before anything was sent (taking a newer wrap failed): the storage error itself, the server unchanged', async () => {
    const laptop = await patient(api);
    const phoneDeps = deps(api);
    const phone = await joinWithPassphrase(phoneDeps, {
      loginName: laptop.loginName,
      passphrase: P1,
      deviceName: 'phone',
    });
    await changePassphrase(laptop.deps, {
      account: laptop.account,
      oldPassphrase: P1,
      newPassphrase: P2,
      token: await tokenOf(laptop.account),
    });
    const storage = fillable(phoneDeps.vault);
    storage.full.on = true;
    const e = await changePassphrase(
      { ...phoneDeps, vault: storage.vault },
      { account: phone, oldPassphrase: P2, newPassphrase: P3, token: await tokenOf(phone) },
    ).catch((error: unknown) => error);
    expect(e).toBe(storage.diskFull);
    expect(await serverGen(laptop.account)).toBe(1);
    await joinWithPassphrase(deps(api), {
      loginName: laptop.loginName,
      passphrase: P2,
      deviceName: 'tablet',
    });
  });

  it('a write reported failed that did store the new wrap: the change completes', async () => {
    const p = await patient(api);
    const storage = fillable(p.deps.vault, true);
    storage.full.on = true;
    await changePassphrase(
      { ...p.deps, vault: storage.vault },
      { account: p.account, oldPassphrase: P1, newPassphrase: P2, token: await tokenOf(p.account) },
    );
    expect(await heldWrappedRootGen(p.deps, p.account)).toBe(1);
    await unlock({ vault: p.deps.vault }, { passphrase: P2 });
  });
});
