// A weak KDF is a named, test-only choice (`weakKdfForTests`): without it a device neither makes a weak
// wrap nor derives from weak parameters a server serves. Real server on a loopback port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCTION_KDF, TEST_KDF } from '@hale/crypto';
import {
  ed,
  makeRegistration,
  startServer,
  type TestServer,
} from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type FetchLike, type HttpApi } from '../api/http-api';
import { openSession } from '../api/session-manager';
import {
  changePassphrase,
  createAccount,
  joinWithPassphrase,
  joinWithRecoveryKey,
  type AccountDeps,
} from './account';
import { accountError } from './account.test-util';
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

const loginName = (): string => `kdf${++n}-${Date.now().toString(36)}`;

/** Deps over a fresh API on the server, recording the path of every request sent. */
const counted = (
  extra: Pick<AccountDeps, 'kdf' | 'weakKdfForTests'>,
): AccountDeps & { vault: MemoryVault; sent: string[] } => {
  const sent: string[] = [];
  const recording: FetchLike = (url, init) => {
    sent.push(new URL(url).pathname);
    return fetch(url, init);
  };
  return {
    api: createHttpApi({ baseUrl: t.url, fetch: recording }),
    vault: memoryVault(),
    ed,
    ...extra,
    sent,
  };
};

describe('KDF strength', () => {
  it('createAccount with weak settings and no test flag: WEAK_KDF, nothing sent', async () => {
    const deps = counted({ kdf: TEST_KDF });
    const input = { role: 'patient' as const, passphrase: PASS, loginName: loginName(), deviceName: 'x' };
    await accountError(createAccount(deps, input), 'WEAK_KDF');
    expect(deps.sent).toEqual([]);
    expect(deps.vault.entries().size).toBe(0);
    // The flag, and only it, makes the weak choice.
    await createAccount(counted({ kdf: TEST_KDF, weakKdfForTests: true }), input);
  });

  it('changePassphrase and a recovery-key join with weak settings and no flag: WEAK_KDF, nothing changed', async () => {
    const owner = counted({ kdf: TEST_KDF, weakKdfForTests: true });
    const { account, recoveryKey } = await createAccount(owner, {
      role: 'patient',
      passphrase: PASS,
      deviceName: 'laptop',
    });
    const token = (await openSession(api, account.device, ed)).token;
    const unflagged = { ...owner, weakKdfForTests: false };
    const before = await owner.vault.get('hale.account');
    await accountError(
      changePassphrase(unflagged, {
        account,
        oldPassphrase: PASS,
        newPassphrase: 'another passphrase',
        token,
      }),
      'WEAK_KDF',
    );
    expect(await owner.vault.get('hale.account')).toBe(before);
    expect((await api.getWrappedRoot(token)).gen).toBe(0);
    const tablet = counted({ kdf: TEST_KDF });
    await accountError(
      joinWithRecoveryKey(tablet, { recoveryKey, newPassphrase: 'another passphrase', deviceName: 'tablet' }),
      'WEAK_KDF',
    );
    expect(tablet.sent).toEqual([]);
  });

  it('a join refuses to derive from weak parameters the server serves, unless the test flag is set', async () => {
    const { body, account } = await makeRegistration();
    expect((await api.register(body)).accountId).toBe(account.accountId);
    // A production device (no kdf given): the served wrap is TEST_KDF-weak.
    const production = counted({});
    const error = await accountError(
      joinWithPassphrase(production, {
        loginName: account.loginName,
        passphrase: 'correct horse battery staple',
        deviceName: 'p',
      }),
      'WEAK_KDF',
    );
    expect(error.message).toMatch(/KDF|key derivation/);
    expect(production.sent).toEqual(['/v1/join']);
    expect(production.vault.entries().size).toBe(0);
    const flagged = counted({ weakKdfForTests: true });
    const joined = await joinWithPassphrase(flagged, {
      loginName: account.loginName,
      passphrase: 'correct horse battery staple',
      deviceName: 'q',
    });
    expect(joined.accountId).toBe(account.accountId);
    expect(PRODUCTION_KDF.N).toBeGreaterThan(TEST_KDF.N);
  });
});
