// docs/client-api.md (HTTP API, "A retry failure of a write ... leaves its outcome unknown"):
// "`putWrappedRoot` answers `CONFLICT` to its own replay, which `changePassphrase` settles by reading the
// wrap back." A replay happens when something between the app and the server (a retrying proxy, a fetch
// wrapper, a platform HTTP stack retrying an idempotent PUT after a reset) sends the same PUT twice: the
// first lands, the second is answered CONFLICT. The change did go through; the device must follow it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KDF } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type HttpApi } from '../api/http-api';
import { openSession } from '../api/session-manager';
import {
  changePassphrase,
  createAccount,
  heldWrappedRootGen,
  joinWithRecoveryKey,
  unlock,
  type AccountDeps,
  type UnlockedAccount,
} from './account';
import { memoryVault, type MemoryVault } from './vault';

const P1 = 'first passphrase one';
const P2 = 'second passphrase two';

let t: TestServer;
let api: HttpApi;

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
});
afterAll(async () => {
  await t.stop();
});

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

const replayingDeps = (): AccountDeps & { vault: MemoryVault } => ({
  api: createHttpApi({ baseUrl: t.url, fetch: replayingFetch }),
  vault: memoryVault(),
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
});

const tokenOf = async (account: UnlockedAccount) => (await openSession(api, account.device, ed)).token;

describe('a passphrase-change PUT sent twice, the second answered CONFLICT', () => {
  it('is settled by reading the wrap back: the change completes and the vault holds the new passphrase', async () => {
    const deps = replayingDeps();
    const { account } = await createAccount(deps, {
      role: 'patient',
      passphrase: P1,
      loginName: `replay-${Date.now().toString(36)}`,
      deviceName: 'laptop',
    });
    const outcome = await changePassphrase(deps, {
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
    expect(await heldWrappedRootGen(deps, account)).toBe(1);
    await unlock({ vault: deps.vault }, { passphrase: P2 });
  });

  it('joining with the recovery key completes too: the new device opens with the passphrase it set', async () => {
    const { recoveryKey } = await createAccount(replayingDeps(), {
      role: 'patient',
      passphrase: P1,
      loginName: `replay-join-${Date.now().toString(36)}`,
      deviceName: 'laptop',
    });
    const deps = replayingDeps();
    const tablet = await joinWithRecoveryKey(deps, { recoveryKey, newPassphrase: P2, deviceName: 'tablet' });
    expect((await api.getWrappedRoot(await tokenOf(tablet))).gen).toBe(1);
    expect(await heldWrappedRootGen(deps, tablet)).toBe(1);
    await unlock({ vault: deps.vault }, { passphrase: P2 });
  });
});
