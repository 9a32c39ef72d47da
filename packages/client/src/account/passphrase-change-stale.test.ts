// changePassphrase on a device that missed a change made on another device: the person typed the
// passphrase this device knew, which is no longer the account's. Real server on a loopback port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KDF } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type HttpApi } from '../api/http-api';
import { openSession } from '../api/session-manager';
import {
  changePassphrase,
  createAccount,
  heldWrappedRootGen,
  joinWithPassphrase,
  unlock,
  type AccountDeps,
  type UnlockedAccount,
} from './account';
import { accountError } from './account.test-util';
import { memoryVault, type MemoryVault } from './vault';

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

const device = (): AccountDeps & { vault: MemoryVault } => ({
  api,
  vault: memoryVault(),
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
});
const tokenOf = async (account: UnlockedAccount): Promise<string> =>
  (await openSession(api, account.device, ed)).token;
const serverGen = async (account: UnlockedAccount): Promise<number> =>
  (await api.getWrappedRoot(await tokenOf(account))).gen;

/** A laptop and a phone of one account, both at generation 0 under P1. */
const twoDevices = async () => {
  const laptop = device();
  const phone = device();
  const loginName = `stale${++n}-${Date.now().toString(36)}`;
  const { account: onLaptop } = await createAccount(laptop, {
    role: 'patient',
    passphrase: P1,
    loginName,
    deviceName: 'laptop',
  });
  const onPhone = await joinWithPassphrase(phone, { loginName, passphrase: P1, deviceName: 'phone' });
  return { laptop, phone, onLaptop, onPhone };
};

describe('changePassphrase refused on a device that missed a change', () => {
  it('with the passphrase this device knew: PASSPHRASE_CHANGED_ELSEWHERE, the vault holds the newer wrap', async () => {
    const { laptop, phone, onLaptop, onPhone } = await twoDevices();
    await changePassphrase(laptop, {
      account: onLaptop,
      oldPassphrase: P1,
      newPassphrase: P2,
      token: await tokenOf(onLaptop),
    });
    expect(await heldWrappedRootGen(phone, onPhone)).toBe(0);
    const error = await accountError(
      changePassphrase(phone, {
        account: onPhone,
        oldPassphrase: P1,
        newPassphrase: P3,
        token: await tokenOf(onPhone),
      }),
      'PASSPHRASE_CHANGED_ELSEWHERE',
    );
    expect(error.message).toMatch(/another device/);
    // As documented: the phone took generation 1 (it now opens with P2, not P1) and sent nothing.
    expect(await heldWrappedRootGen(phone, onPhone)).toBe(1);
    expect(await serverGen(onPhone)).toBe(1);
    expect((await unlock({ vault: phone.vault }, { passphrase: P2 })).accountId).toBe(onPhone.accountId);
    await accountError(unlock({ vault: phone.vault }, { passphrase: P1 }), 'WRONG_PASSPHRASE');
    // Then the change goes through with the passphrase set on the laptop.
    await changePassphrase(phone, {
      account: onPhone,
      oldPassphrase: P2,
      newPassphrase: P3,
      token: await tokenOf(onPhone),
    });
    expect(await serverGen(onPhone)).toBe(2);
  });

  it('with a wrong passphrase and nothing newer on the server: WRONG_PASSPHRASE, nothing written', async () => {
    const { phone, onPhone } = await twoDevices();
    const before = await phone.vault.get('hale.account');
    await accountError(
      changePassphrase(phone, {
        account: onPhone,
        oldPassphrase: P3,
        newPassphrase: P2,
        token: await tokenOf(onPhone),
      }),
      'WRONG_PASSPHRASE',
    );
    expect(await phone.vault.get('hale.account')).toBe(before);
    expect(await serverGen(onPhone)).toBe(0);
  });
});
