// A passphrase wrap the server refuses CONFLICT (`putWrappedRoot`), and what the device makes of it.
// - Sent twice: something between the app and the server (a retrying proxy, a fetch wrapper, a platform
//   HTTP stack retrying a PUT after a reset) sends the same PUT again; the first lands, the second is
//   answered CONFLICT. The change went through and the device follows it (docs/client-api.md, HTTP API:
//   "`putWrappedRoot` answers `CONFLICT` to its own replay, which `changePassphrase` settles by reading
//   the wrap back").
// - Two devices at once from the same generation (docs/protocol.md "Passphrase generations": "one gets
//   CONFLICT"): the loser is told PASSPHRASE_CHANGED_ELSEWHERE, the AccountError for a change made on
//   another device, and its vault takes the winner's wrap.
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
  joinWithRecoveryKey,
  unlock,
  type AccountDeps,
  type UnlockedAccount,
} from './account';
import { memoryVault, type MemoryVault } from './vault';

const P1 = 'first passphrase one';
const P2 = 'second passphrase two';
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

/** A fetch that sends every PUT of the wrapped root twice (a retrying intermediary) and answers the second. */
const replayingFetch: typeof fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (init?.method === 'PUT' && url.endsWith('/v1/accounts/me/wrapped-root')) {
    const first = await fetch(input, init);
    await first.arrayBuffer();
    return fetch(input, init);
  }
  return fetch(input, init);
};

const replayingApi = (): HttpApi => createHttpApi({ baseUrl: t.url, fetch: replayingFetch });

describe('a passphrase-change PUT sent twice, the second answered CONFLICT', () => {
  it('is settled by reading the wrap back: the change completes and the vault holds the new passphrase', async () => {
    const d = deps(replayingApi());
    const { account } = await createAccount(d, {
      role: 'patient',
      passphrase: P1,
      loginName: `replay-${Date.now().toString(36)}`,
      deviceName: 'laptop',
    });
    const outcome = await changePassphrase(d, {
      account,
      oldPassphrase: P1,
      newPassphrase: P2,
      token: await tokenOf(account),
    }).then(
      () => 'ok',
      (e: unknown) => `${(e as { name?: string }).name}:${(e as { code?: string }).code}`,
    );
    // The server holds the new wrap (the first PUT landed) ...
    expect((await api.getWrappedRoot(await tokenOf(account))).gen).toBe(1);
    // ... so the change must be reported done and this device must open with the new passphrase.
    expect(outcome).toBe('ok');
    expect(await heldWrappedRootGen(d, account)).toBe(1);
    await unlock({ vault: d.vault }, { passphrase: P2 });
  });

  it('joining with the recovery key completes too: the new device opens with the passphrase it set', async () => {
    const { recoveryKey } = await createAccount(deps(replayingApi()), {
      role: 'patient',
      passphrase: P1,
      loginName: `replay-join-${Date.now().toString(36)}`,
      deviceName: 'laptop',
    });
    const d = deps(replayingApi());
    const tablet = await joinWithRecoveryKey(d, { recoveryKey, newPassphrase: P2, deviceName: 'tablet' });
    expect((await api.getWrappedRoot(await tokenOf(tablet))).gen).toBe(1);
    expect(await heldWrappedRootGen(d, tablet)).toBe(1);
    await unlock({ vault: d.vault }, { passphrase: P2 });
  });
});

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
