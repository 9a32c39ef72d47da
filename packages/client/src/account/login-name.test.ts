import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KDF } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type FetchLike } from '../api/http-api';
import {
  VAULT_KEY,
  createAccount,
  joinWithPassphrase,
  normalizeLoginName,
  type AccountDeps,
} from './account';
import { isAccountError, type AccountError } from '../core/account-error';
import { memoryVault } from './vault';

const PASS = 'correct horse battery';

/** A device with no connection: every request is recorded (path and JSON body) and then fails. */
function offlineDevice(): { deps: AccountDeps; sent: Array<{ path: string; body: unknown }> } {
  const sent: Array<{ path: string; body: unknown }> = [];
  const fetch: FetchLike = async (url, init) => {
    sent.push({
      path: new URL(url).pathname,
      body: typeof init.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined,
    });
    throw new Error('offline');
  };
  const api = createHttpApi({ baseUrl: 'http://server.invalid', fetch });
  return {
    deps: {
      api,
      vault: memoryVault(),
      ed,
      kdf: TEST_KDF,
      weakKdfForTests: true,
      wait: () => Promise.resolve(),
    },
    sent,
  };
}

async function refused(promise: Promise<unknown>): Promise<AccountError> {
  const error = await promise.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  if (!isAccountError(error)) throw error;
  return error;
}

describe('joinWithPassphrase: the login name as a phone keyboard types it', () => {
  it('looks up the folded name: capitals lowered, surrounding spaces dropped, full-width forms folded', async () => {
    for (const typed of ['Jane.doe ', ' JANE.DOE', '\u00a0jane.doe\t', 'ｊａｎｅ．ｄｏｅ']) {
      const { deps, sent } = offlineDevice();
      const input = { loginName: typed, passphrase: PASS, deviceName: 'phone' };
      await expect(joinWithPassphrase(deps, input)).rejects.toMatchObject({ code: 'NETWORK' });
      expect(sent, JSON.stringify(typed)).toEqual([{ path: '/v1/join', body: { loginName: 'jane.doe' } }]);
    }
  });

  it('refuses a name that is still not a login name as INVALID_LOGIN_NAME, sending nothing', async () => {
    for (const typed of ['Jane Doe', 'jd', '.jane', 'jane/doe', 'jäne', 'a'.repeat(65), '   ']) {
      const { deps, sent } = offlineDevice();
      const input = { loginName: typed, passphrase: PASS, deviceName: 'phone' };
      const error = await refused(joinWithPassphrase(deps, input));
      expect(error.code, JSON.stringify(typed)).toBe('INVALID_LOGIN_NAME');
      expect(error.message).toMatch(/3 to 64 characters: lower-case letters a-z, digits 0-9/);
      expect(sent).toEqual([]);
      expect(await deps.vault.get(VAULT_KEY)).toBeNull();
    }
  });
});

describe('createAccount: the login name', () => {
  it('registers the folded name', async () => {
    const { deps, sent } = offlineDevice();
    const input = {
      role: 'patient' as const,
      passphrase: PASS,
      loginName: ' Jane.Doe ',
      deviceName: 'phone',
    };
    expect((await refused(createAccount(deps, input))).code).toBe('REGISTRATION_UNCONFIRMED');
    const register = sent.find((s) => s.path === '/v1/accounts');
    expect(register?.body).toMatchObject({ account: { loginName: 'jane.doe' } });
  });

  it('refuses an invalid one as INVALID_LOGIN_NAME before registering anything', async () => {
    const { deps, sent } = offlineDevice();
    const input = { role: 'patient' as const, passphrase: PASS, loginName: 'Jane Doe', deviceName: 'phone' };
    expect((await refused(createAccount(deps, input))).code).toBe('INVALID_LOGIN_NAME');
    expect(sent).toEqual([]);
    expect(await deps.vault.get(VAULT_KEY)).toBeNull();
  });

  it('normalizeLoginName answers the name as registered', () => {
    expect(normalizeLoginName('  Alice.Smith_2 ')).toBe('alice.smith_2');
    expect(() => normalizeLoginName('alice smith')).toThrow(/login name has 3 to 64 characters/);
  });
});

describe('against a real server', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('an account created as "Jane.Doe…" is joined as " jane.DOE… " and both vaults hold the folded name', async () => {
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const suffix = Date.now().toString(36);
    const first = { api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true };
    const { account } = await createAccount(first, {
      role: 'patient',
      passphrase: PASS,
      loginName: `Jane.Doe-${suffix}`,
      deviceName: 'laptop',
    });
    expect(account.loginName).toBe(`jane.doe-${suffix}`);
    const second = { api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true };
    const joined = await joinWithPassphrase(second, {
      loginName: ` jane.DOE-${suffix.toUpperCase()} `,
      passphrase: PASS,
      deviceName: 'phone',
    });
    expect(joined.accountId).toBe(account.accountId);
    expect(joined.loginName).toBe(`jane.doe-${suffix}`);
    for (const vault of [first.vault, second.vault]) {
      const record = JSON.parse((await vault.get(VAULT_KEY)) ?? '{}') as { loginName?: string };
      expect(record.loginName).toBe(`jane.doe-${suffix}`);
    }
  });
});
