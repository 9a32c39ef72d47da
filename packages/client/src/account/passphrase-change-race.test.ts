// Two devices of one account change the passphrase at the same moment, from the same generation
// (docs/protocol.md "Passphrase generations": "of two devices changing it at once from the same generation
// one gets CONFLICT"). What the losing device's person is told, and what its vault holds afterwards.
// docs/client-api.md: failures of account functions are AccountError with a stable code the UI switches on
// (the table under "## Accounts"); `changePassphrase` "first takes a newer wrap from the server (the
// passphrase was changed on another device). If it did and oldPassphrase does not open that wrap ... it fails
// PASSPHRASE_CHANGED_ELSEWHERE: the vault now holds that newer wrap". The loser's situation is exactly
// that one, found one request later: the account's passphrase is now the other device's.
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
import { memoryVault, type MemoryVault } from './vault';

const P1 = 'first passphrase one';
const LAPTOP_NEW = 'laptop passphrase two';
const PHONE_NEW = 'phone passphrase three';

let t: TestServer;
let api: HttpApi;

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
});
afterAll(async () => {
  await t.stop();
});

const deps = (a: HttpApi): AccountDeps & { vault: MemoryVault } => ({
  api: a,
  vault: memoryVault(),
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
});
const tokenOf = async (account: UnlockedAccount) => (await openSession(api, account.device, ed)).token;

describe('two devices change the passphrase at once', () => {
  it('the loser is told with an AccountError (PASSPHRASE_CHANGED_ELSEWHERE) and follows the winner', async () => {
    const loginName = `race-${Date.now().toString(36)}`;
    const laptopDeps = deps(api);
    const { account: laptop } = await createAccount(laptopDeps, {
      role: 'patient',
      passphrase: P1,
      loginName,
      deviceName: 'laptop',
    });
    // The phone's PUT reaches the server just after the laptop's change landed.
    let laptopChanged: Promise<void> | undefined;
    const racing: HttpApi = {
      ...api,
      putWrappedRoot: async (body, token) => {
        laptopChanged ??= changePassphrase(laptopDeps, {
          account: laptop,
          oldPassphrase: P1,
          newPassphrase: LAPTOP_NEW,
          token: await tokenOf(laptop),
        });
        await laptopChanged;
        return api.putWrappedRoot(body, token);
      },
    };
    const phoneDeps = deps(racing);
    const phone = await joinWithPassphrase(phoneDeps, { loginName, passphrase: P1, deviceName: 'phone' });

    const error = await changePassphrase(phoneDeps, {
      account: phone,
      oldPassphrase: P1,
      newPassphrase: PHONE_NEW,
      token: await tokenOf(phone),
    }).then(
      () => null,
      (e: unknown) => e as { name?: string; code?: string },
    );
    // The laptop's change stands on the server.
    expect((await api.getWrappedRoot(await tokenOf(laptop))).gen).toBe(1);
    expect({ name: error?.name, code: error?.code }).toEqual({
      name: 'AccountError',
      code: 'PASSPHRASE_CHANGED_ELSEWHERE',
    });
    // As the code promises: the phone's vault now holds the account's current wrap.
    expect(await heldWrappedRootGen(phoneDeps, phone)).toBe(1);
    await unlock({ vault: phoneDeps.vault }, { passphrase: LAPTOP_NEW });
  });
});
