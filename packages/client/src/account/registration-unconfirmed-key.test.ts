// REGISTRATION_UNCONFIRMED: the registration was sent but no answer (nor a read-back) confirmed it. The
// account may exist on the server; without a login name the recovery key is the only way back into it, so
// the error carries it (never in its message). And ACCOUNT_NOT_SAVED: the account can be saved again
// once storage is freed (`saveAgain`). Real server on a loopback port; failures injected by wrapping.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { TEST_KDF, decodeRecoveryKey, deriveAccountKeys, unwrapResult } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { HaleClientError } from '../api/errors';
import { createHttpApi, type HttpApi } from '../api/http-api';
import { VAULT_KEY, createAccount, joinWithRecoveryKey, lock, unlock, type AccountDeps } from './account';
import { accountError } from './account.test-util';
import { memoryVault, type MemoryVault } from './vault';

const PASS = 'correct horse battery staple';

let t: TestServer;
let api: HttpApi;

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
});

afterAll(async () => {
  await t.stop();
});

const lost = (): HaleClientError => new HaleClientError({ code: 'NETWORK', status: 0, message: 'reset' });

const device = (a: HttpApi, vault: MemoryVault = memoryVault()): AccountDeps & { vault: MemoryVault } => ({
  api: a,
  vault,
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
  wait: () => Promise.resolve(),
});

/** The registration lands on the server, but every answer and every read-back is lost. */
const landingUnanswered = (): HttpApi => ({
  ...api,
  register: async (body) => {
    await api.register(body).catch(() => undefined);
    throw lost();
  },
  getAccount: () => Promise.reject(lost()),
});

describe('REGISTRATION_UNCONFIRMED keeps the account reachable', () => {
  it('without a login name: the error carries the recovery key, which joins the account that landed', async () => {
    const deps = device(landingUnanswered());
    const error = await accountError(
      createAccount(deps, { role: 'patient', passphrase: PASS, deviceName: 'phone' }),
      'REGISTRATION_UNCONFIRMED',
    );
    expect(deps.vault.entries().size).toBe(0);
    const { recoveryKey } = error;
    expect(typeof recoveryKey).toBe('string');
    // No secret in the message, nor where a log or a JSON dump of the error would show it.
    expect(error.message).not.toContain(recoveryKey);
    expect(error.message).not.toContain(PASS);
    expect(JSON.stringify(error)).not.toContain(recoveryKey);
    expect(inspect(error)).not.toContain(recoveryKey);
    expect(Object.keys(error)).not.toContain('recoveryKey');
    // The account did land: its recovery key joins it on another device.
    const accountId = deriveAccountKeys(unwrapResult(decodeRecoveryKey(recoveryKey ?? ''))).accountId;
    expect(await t.store.accounts.get(accountId)).toBeDefined();
    const joined = await joinWithRecoveryKey(device(api), {
      recoveryKey: recoveryKey ?? '',
      newPassphrase: 'another good passphrase',
      deviceName: 'phone again',
    });
    expect(joined.accountId).toBe(accountId);
    expect(joined.role).toBe('patient');
  });

  it('a refusal the server answered (nothing created) carries no recovery key', async () => {
    const closed: HttpApi = {
      ...api,
      register: () =>
        Promise.reject(new HaleClientError({ code: 'REGISTRATION_CLOSED', status: 403, message: 'closed' })),
    };
    const error = await accountError(
      createAccount(device(closed), { role: 'patient', passphrase: PASS, deviceName: 'phone' }),
      'REGISTRATION_CLOSED',
    );
    expect(error.recoveryKey).toBeUndefined();
  });
});

describe('ACCOUNT_NOT_SAVED: saveAgain', () => {
  /** A memory vault that refuses every write while `full` says so. */
  const fullVault = () => {
    const inner = memoryVault();
    const state = { full: true };
    const vault: MemoryVault = {
      ...inner,
      set: async (key, value) => {
        if (state.full) throw new Error('QuotaExceededError: disk full');
        return inner.set(key, value);
      },
    };
    return { vault, state };
  };

  it('stores the account once storage is freed; it then unlocks with its passphrase', async () => {
    const { vault, state } = fullVault();
    const created = await createAccount(device(api, vault), {
      role: 'provider',
      passphrase: PASS,
      deviceName: 'desk',
    });
    expect(created.notSaved?.code).toBe('ACCOUNT_NOT_SAVED');
    expect(created.saveAgain).toBeTypeOf('function');
    // Still full: the same failure again, nothing stored.
    const again = await accountError(created.saveAgain?.() ?? Promise.resolve(), 'ACCOUNT_NOT_SAVED');
    expect(again.cause).toBeInstanceOf(Error);
    expect(vault.entries().size).toBe(0);
    state.full = false;
    // Works after the account was locked too: what is written holds no secret in clear.
    lock(created.account);
    await created.saveAgain?.();
    expect(vault.entries().has(VAULT_KEY)).toBe(true);
    const opened = await unlock({ vault }, { passphrase: PASS });
    expect(opened.accountId).toBe(created.account.accountId);
    expect(opened.role).toBe('provider');
    // Saving again is idempotent once saved.
    await created.saveAgain?.();
  });

  it('never overwrites another account the vault got meanwhile: ACCOUNT_EXISTS', async () => {
    const { vault, state } = fullVault();
    const created = await createAccount(device(api, vault), {
      role: 'patient',
      passphrase: PASS,
      deviceName: 'desk',
    });
    state.full = false;
    await createAccount(device(api, vault), { role: 'patient', passphrase: PASS, deviceName: 'other' });
    const before = vault.entries().get(VAULT_KEY);
    await accountError(created.saveAgain?.() ?? Promise.resolve(), 'ACCOUNT_EXISTS');
    expect(vault.entries().get(VAULT_KEY)).toBe(before);
  });

  it('a saved account has no saveAgain', async () => {
    const created = await createAccount(device(api), { role: 'patient', passphrase: PASS, deviceName: 'a' });
    expect(created.saveAgain).toBeUndefined();
  });
});
