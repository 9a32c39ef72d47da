import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KDF } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type HttpApi } from '../api/http-api';
import { openSession } from '../api/session-manager';
import {
  VAULT_KEY,
  changePassphrase,
  createAccount,
  joinWithPassphrase,
  lock,
  unlock,
  unlockWithRecoveryKey,
  type AccountDeps,
  type UnlockedAccount,
} from './account';
import { accountError } from './account.test-util';
import { memoryVault, type MemoryVault } from './vault';

// A person who forgot the passphrase opens this device with the recovery key (keeping what only this device
// holds), then sets a new passphrase for the account.

const PASS = 'correct horse battery staple';
const NEW_PASS = 'a passphrase remembered';

let t: TestServer;
let api: HttpApi;
let counter = 0;

const device = (vault: MemoryVault = memoryVault()): AccountDeps & { vault: MemoryVault } => ({
  api,
  vault,
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
});

async function patient(): Promise<{
  deps: AccountDeps & { vault: MemoryVault };
  account: UnlockedAccount;
  recoveryKey: string;
  loginName: string;
}> {
  const deps = device();
  const loginName = `recover${++counter}-${Date.now().toString(36)}`;
  const { account, recoveryKey } = await createAccount(deps, {
    role: 'patient',
    passphrase: PASS,
    loginName,
    deviceName: 'phone',
  });
  return { deps, account, recoveryKey, loginName };
}

const tokenOf = async (account: UnlockedAccount) => (await openSession(api, account.device, ed)).token;

/** The recovery key with one character of its second group changed (a typo its group check finds). */
function mistyped(recoveryKey: string): string {
  const groups = recoveryKey.split('-');
  const group = groups[1]!;
  const first = group[0] === 'A' ? 'B' : 'A';
  groups[1] = first + group.slice(1);
  return groups.join('-');
}

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
});

afterAll(async () => {
  await t.stop();
});

describe('unlockWithRecoveryKey', () => {
  it('opens the account this device holds, offline, as the same device, and writes nothing', async () => {
    const { deps, account, recoveryKey } = await patient();
    lock(account);
    const vaultBefore = deps.vault.entries().get(VAULT_KEY);
    // No api: nothing may be sent.
    const opened = await unlockWithRecoveryKey({ vault: deps.vault }, { recoveryKey });
    expect(opened.accountId).toBe(account.accountId);
    expect(opened.device.deviceId).toBe(account.device.deviceId);
    expect(opened.role).toBe('patient');
    expect(deps.vault.entries().get(VAULT_KEY)).toBe(vaultBefore);
    // The passphrase is unchanged until the person sets a new one.
    expect((await unlock(deps, { passphrase: PASS })).accountId).toBe(account.accountId);
  });

  it('refuses a mistyped key (INVALID_RECOVERY_KEY, naming the group) and another account key (WRONG_RECOVERY_KEY)', async () => {
    const { deps, recoveryKey } = await patient();
    const other = await patient();
    const vaultBefore = deps.vault.entries().get(VAULT_KEY);
    const typo = await accountError(
      unlockWithRecoveryKey(deps, { recoveryKey: mistyped(recoveryKey) }),
      'INVALID_RECOVERY_KEY',
    );
    expect(typo.group).toBe(2);
    await accountError(unlockWithRecoveryKey(deps, { recoveryKey: other.recoveryKey }), 'WRONG_RECOVERY_KEY');
    expect(deps.vault.entries().get(VAULT_KEY)).toBe(vaultBefore);
  });

  it('NO_ACCOUNT on a device that holds none', async () => {
    const { recoveryKey } = await patient();
    await accountError(unlockWithRecoveryKey(device(), { recoveryKey }), 'NO_ACCOUNT');
  });
});

describe('changePassphrase with the recovery key', () => {
  it('sets a new passphrase without the old one: here, on the server, and for a device joined afterwards', async () => {
    const { deps, account, recoveryKey, loginName } = await patient();
    lock(account);
    const opened = await unlockWithRecoveryKey(deps, { recoveryKey });
    const genBefore = (await api.join({ loginName })).gen;
    await changePassphrase(deps, {
      account: opened,
      recoveryKey,
      newPassphrase: NEW_PASS,
      token: await tokenOf(opened),
    });
    expect((await api.join({ loginName })).gen).toBe(genBefore + 1);
    await accountError(unlock(deps, { passphrase: PASS }), 'WRONG_PASSPHRASE');
    expect((await unlock(deps, { passphrase: NEW_PASS })).device.deviceId).toBe(account.device.deviceId);
    const joined = await joinWithPassphrase(device(), {
      loginName,
      passphrase: NEW_PASS,
      deviceName: 'tablet',
    });
    expect(joined.accountId).toBe(account.accountId);
  });

  it('refuses another account key (WRONG_RECOVERY_KEY) and a mistyped one, sending and writing nothing', async () => {
    const { deps, account, recoveryKey, loginName } = await patient();
    const other = await patient();
    const token = await tokenOf(account);
    const vaultBefore = deps.vault.entries().get(VAULT_KEY);
    const served = await api.join({ loginName });
    // Nothing is asked of the server either: not even the wrap a passphrase change takes first.
    let asked = 0;
    const counted: AccountDeps = {
      ...deps,
      api: { ...api, getWrappedRoot: (t) => (asked++, api.getWrappedRoot(t)) },
    };
    await accountError(
      changePassphrase(counted, { account, recoveryKey: other.recoveryKey, newPassphrase: NEW_PASS, token }),
      'WRONG_RECOVERY_KEY',
    );
    await accountError(
      changePassphrase(counted, {
        account,
        recoveryKey: mistyped(recoveryKey),
        newPassphrase: NEW_PASS,
        token,
      }),
      'INVALID_RECOVERY_KEY',
    );
    expect(asked).toBe(0);
    expect(await api.join({ loginName })).toEqual(served);
    expect(deps.vault.entries().get(VAULT_KEY)).toBe(vaultBefore);
    expect((await unlock(deps, { passphrase: PASS })).accountId).toBe(account.accountId);
  });
});
