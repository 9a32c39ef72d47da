// Account operations racing each other or the app (an idle auto-lock, a second tap on "create"), and a
// registration whose answer is lost: what the vault and the server hold afterwards must still agree.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KDF, type Ed25519 } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { isHaleClientError } from '../api/errors';
import { createHttpApi, type FetchLike, type HttpApi } from '../api/http-api';
import { openSession } from '../api/session-manager';
import {
  VAULT_KEY,
  changePassphrase,
  createAccount,
  hasAccount,
  joinWithPassphrase,
  lock,
  removeLocalAccount,
  unlock,
  type UnlockedAccount,
} from './account';
import { isAccountError, type AccountErrorCode } from '../core/account-error';
import { memoryVault, type Vault } from './vault';

const PASS = 'correct horse battery staple';
const NEW = 'a brand new passphrase';

let t: TestServer;
let api: HttpApi;
let counter = 0;
const loginName = () => `race${++counter}-${Date.now().toString(36)}`;

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
});
afterAll(async () => {
  await t.stop();
});

const isWrapPut = (url: string, method: string) => method === 'PUT' && url.endsWith('/wrapped-root');

/** The global fetch, calling `afterAnswer` once the server has answered a matching request. */
function fetchWithHook(
  matches: (url: string, method: string) => boolean,
  afterAnswer: () => void,
): FetchLike {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (matches(url, init.method)) afterAnswer();
    return res;
  };
}

const outcomeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (isAccountError(e) || isHaleClientError(e) ? e.code : String(e)),
  );

const unlockOutcome = (vault: Vault, passphrase: string) => outcomeOf(unlock({ vault }, { passphrase }));

async function newAccount(vault: Vault): Promise<{ account: UnlockedAccount; token: string }> {
  const { account } = await createAccount(
    { api, vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
    { role: 'patient', passphrase: PASS, loginName: loginName(), deviceName: 'phone' },
  );
  return { account, token: (await openSession(api, account.device, ed)).token };
}

describe('changePassphrase and lock()', () => {
  it('locked while the server takes the new wrap: the change completes and the vault opens with the new passphrase', async () => {
    const vault = memoryVault();
    const { account, token } = await newAccount(vault);
    const slowApi = createHttpApi({ baseUrl: t.url, fetch: fetchWithHook(isWrapPut, () => lock(account)) });

    await changePassphrase(
      { api: slowApi, vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
      { account, oldPassphrase: PASS, newPassphrase: NEW, token },
    );

    expect(await unlockOutcome(vault, NEW)).toBe('ok');
    expect(await unlockOutcome(vault, PASS)).toBe('WRONG_PASSPHRASE');
    expect((await api.getWrappedRoot(token)).gen).toBe(1);
    expect(JSON.parse((await vault.get(VAULT_KEY)) ?? '{}')).toMatchObject({ gen: 1 });
  });

  it('locked before the new wrap is sent: LOCKED, and the server and the vault keep the old passphrase', async () => {
    const vault = memoryVault();
    const { account, token } = await newAccount(vault);
    // The wrap signature is the only signature changePassphrase makes: the auto-lock fires just before it.
    const lockingEd: Ed25519 = {
      name: ed.name,
      verify: ed.verify,
      sign: (secretKey, msg) => {
        lock(account);
        return ed.sign(secretKey, msg);
      },
    };

    const outcome = await outcomeOf(
      changePassphrase(
        { api, vault, ed: lockingEd, kdf: TEST_KDF, weakKdfForTests: true },
        { account, oldPassphrase: PASS, newPassphrase: NEW, token },
      ),
    );

    expect(outcome).toBe('LOCKED');
    expect((await api.getWrappedRoot(token)).gen).toBe(0);
    expect(await unlockOutcome(vault, PASS)).toBe('ok');
  });
});

describe('operations on one vault are serialised', () => {
  it('two createAccount calls at once: the second is ACCOUNT_EXISTS and registers nothing on the server', async () => {
    const vault = memoryVault();
    const deps = { api, vault, ed, kdf: TEST_KDF, weakKdfForTests: true };
    const [first, second] = [loginName(), loginName()];
    const [a, b] = await Promise.allSettled([
      createAccount(deps, { role: 'patient', passphrase: PASS, loginName: first, deviceName: 'a' }),
      createAccount(deps, { role: 'patient', passphrase: PASS, loginName: second, deviceName: 'b' }),
    ]);

    expect(a.status).toBe('fulfilled');
    expect(b.status === 'rejected' && isAccountError(b.reason) && b.reason.code).toBe(
      'ACCOUNT_EXISTS' satisfies AccountErrorCode,
    );
    const held = JSON.parse((await vault.get(VAULT_KEY)) ?? '{}') as { accountId?: string };
    expect(held.accountId).toBe(a.status === 'fulfilled' ? a.value.account.accountId : 'none');
    expect(await outcomeOf(api.join({ loginName: first }))).toBe('ok');
    expect(await outcomeOf(api.join({ loginName: second }))).toBe('NOT_FOUND');
  });

  it('a create and a passphrase join at once: the join is ACCOUNT_EXISTS and adds no device', async () => {
    const existingLogin = loginName();
    const { account: existing } = await createAccount(
      { api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true },
      { role: 'patient', passphrase: PASS, loginName: existingLogin, deviceName: 'laptop' },
    );
    const vault = memoryVault();
    const deps = { api, vault, ed, kdf: TEST_KDF, weakKdfForTests: true };
    const [created, joined] = await Promise.allSettled([
      createAccount(deps, { role: 'patient', passphrase: PASS, loginName: loginName(), deviceName: 'a' }),
      joinWithPassphrase(deps, { loginName: existingLogin, passphrase: PASS, deviceName: 'b' }),
    ]);

    expect(created.status).toBe('fulfilled');
    expect(joined.status === 'rejected' && isAccountError(joined.reason) && joined.reason.code).toBe(
      'ACCOUNT_EXISTS',
    );
    expect((await api.getAccount(existing.accountId)).devices).toHaveLength(1);
    expect(await unlockOutcome(vault, PASS)).toBe('ok');
  });

  it('removeLocalAccount while changePassphrase awaits the server: the account stays removed', async () => {
    const vault = memoryVault();
    const { account, token } = await newAccount(vault);
    let removal: Promise<void> | undefined;
    const slowApi = createHttpApi({
      baseUrl: t.url,
      fetch: fetchWithHook(isWrapPut, () => {
        removal = removeLocalAccount({ vault });
      }),
    });

    await changePassphrase(
      { api: slowApi, vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
      { account, oldPassphrase: PASS, newPassphrase: NEW, token },
    );
    await removal;

    expect(removal).toBeDefined();
    expect(await hasAccount({ vault })).toBe(false);
  });
});

describe('createAccount when the registration answer is lost', () => {
  it('a 201 whose body cannot be read: the account landed, so it is returned usable with its recovery key', async () => {
    const cut: FetchLike = async (url, init) => {
      const res = await fetch(url, init);
      if (!(init.method === 'POST' && url.endsWith('/v1/accounts'))) return res;
      await res.arrayBuffer();
      const reset = () => Promise.reject(new TypeError('terminated: other side closed'));
      return {
        status: res.status,
        ok: res.ok,
        headers: res.headers,
        json: reset,
        text: reset,
        arrayBuffer: reset,
      };
    };
    const vault = memoryVault();

    const { account, recoveryKey } = await createAccount(
      { api: createHttpApi({ baseUrl: t.url, fetch: cut }), vault, ed, kdf: TEST_KDF, weakKdfForTests: true },
      { role: 'patient', passphrase: PASS, loginName: loginName(), deviceName: 'x' },
    );

    expect(recoveryKey.split('-')).toHaveLength(14);
    expect(await unlockOutcome(vault, PASS)).toBe('ok');
    const server = await api.getAccount(account.accountId);
    expect(server.devices.map((d) => d.cert.deviceId)).toEqual([account.device.deviceId]);
  });
});
