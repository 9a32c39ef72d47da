// The account record across app versions: a newer build's added fields are read past and kept; a newer
// format is refused as VAULT_TOO_NEW (update the app), never mistaken for a damaged vault.
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
  unlock,
  type AccountDeps,
} from './account';
import { accountError } from './account.test-util';
import { isAccountError, type AccountError } from '../core/account-error';
import { VAULT_RECORD_VERSION, memoryVault, parseVaultRecord, type MemoryVault } from './vault';

const PASS = 'correct horse battery staple';
const NEW_PASS = 'a different passphrase';

let t: TestServer;
let api: HttpApi;
let counter = 0;
/** A record as this build writes it (from a real account), and the deps of the device that holds it. */
let written: Record<string, unknown>;
let holder: AccountDeps & { vault: MemoryVault };

const loginName = () => `vault${++counter}-${Date.now().toString(36)}`;
const device = (vault: MemoryVault = memoryVault()) => ({
  api,
  vault,
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
});
const stored = (vault: MemoryVault) => JSON.parse(vault.entries().get(VAULT_KEY)!) as Record<string, unknown>;

function thrownBy(fn: () => unknown): AccountError {
  try {
    fn();
  } catch (e) {
    if (isAccountError(e)) return e;
    throw e;
  }
  throw new Error('expected an AccountError');
}

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
  holder = device();
  await createAccount(holder, { role: 'patient', passphrase: PASS, loginName: loginName(), deviceName: 'd' });
  written = stored(holder.vault);
});

afterAll(async () => {
  await t.stop();
});

describe('parseVaultRecord', () => {
  it('reads a record of this build as it is', () => {
    expect(written['v']).toBe(VAULT_RECORD_VERSION);
    expect(parseVaultRecord(JSON.stringify(written))).toStrictEqual(written);
  });

  it('reads past fields a newer build added: top-level ones kept as they are, nested ones dropped', () => {
    const wrappedRoot = written['wrappedRoot'] as Record<string, unknown>;
    const newer = {
      ...written,
      laterFlag: true,
      laterState: { gen: 4, list: ['a'] },
      wrappedRoot: { ...wrappedRoot, laterNested: 1 },
    };
    const record = parseVaultRecord(JSON.stringify(newer));
    expect(record).toStrictEqual({ ...written, laterFlag: true, laterState: { gen: 4, list: ['a'] } });
  });

  it('still checks every field it knows: VAULT_CORRUPT, added fields or not', () => {
    for (const broken of [
      { ...written, gen: -1 },
      { ...written, deviceName: '' },
      { ...written, wrappingKeyPublished: false },
      { ...written, wrappedRoot: { ...(written['wrappedRoot'] as object), nonce: 'short' } },
      { ...written, accountId: undefined },
      { ...written, v: 0 },
      { ...written, v: '2' },
      { ...written, v: 1.5 },
    ]) {
      for (const text of [JSON.stringify(broken), JSON.stringify({ ...broken, laterFlag: true })]) {
        expect(thrownBy(() => parseVaultRecord(text)).code, text.slice(0, 80)).toBe('VAULT_CORRUPT');
      }
    }
    for (const text of ['not json', '[]', 'null', '"a string"']) {
      expect(thrownBy(() => parseVaultRecord(text)).code, text).toBe('VAULT_CORRUPT');
    }
  });

  it('refuses a record in a newer format as VAULT_TOO_NEW, telling to update the app', () => {
    for (const v of [VAULT_RECORD_VERSION + 1, 99]) {
      for (const record of [
        { ...written, v },
        { v, entirely: 'different' },
      ]) {
        const e = thrownBy(() => parseVaultRecord(JSON.stringify(record)));
        expect(e.code).toBe('VAULT_TOO_NEW');
        expect(e.message).toMatch(/update the app/);
      }
    }
  });
});

describe('the account record written by a newer app version', () => {
  it('opens, and keeps the fields it added when this build rewrites the record', async () => {
    const deps = device();
    await createAccount(deps, { role: 'patient', passphrase: PASS, loginName: loginName(), deviceName: 'd' });
    const newer: Record<string, unknown> = { ...stored(deps.vault), laterState: { mode: 'x', n: 2 } };
    await deps.vault.set(VAULT_KEY, JSON.stringify(newer));

    const account = await unlock(deps, { passphrase: PASS });
    const token = (await openSession(api, account.device, ed)).token;
    await changePassphrase(deps, { account, oldPassphrase: PASS, newPassphrase: NEW_PASS, token });

    const after = stored(deps.vault);
    expect(after['gen']).toBe(1);
    expect(after['wrappedRoot']).not.toEqual(newer['wrappedRoot']);
    expect(after['laterState']).toEqual({ mode: 'x', n: 2 });
    expect((await unlock(deps, { passphrase: NEW_PASS })).accountId).toBe(account.accountId);
  });

  it('in a newer format: unlock is VAULT_TOO_NEW; create and join refuse to overwrite it', async () => {
    const vault = memoryVault();
    const text = JSON.stringify({ ...written, v: VAULT_RECORD_VERSION + 1 });
    await vault.set(VAULT_KEY, text);
    const deps = device(vault);
    await accountError(unlock(deps, { passphrase: PASS }), 'VAULT_TOO_NEW');
    await accountError(
      createAccount(deps, { role: 'patient', passphrase: PASS, loginName: loginName(), deviceName: 'd' }),
      'ACCOUNT_EXISTS',
    );
    await accountError(
      joinWithPassphrase(deps, { loginName: 'nobody-here', passphrase: PASS, deviceName: 'd' }),
      'ACCOUNT_EXISTS',
    );
    expect(vault.entries().get(VAULT_KEY)).toBe(text);
  });
});
