// createAccount whose registration reached the server but whose vault write on the device then fails
// (disk full, quota, a storage error): the login name (and any invite) is used up on the server, so the
// person must still be shown the recovery key, keep a usable account and be told the device did not keep
// it. Real server on a loopback port; the vault failures are injected by wrapping a memory vault.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KDF, decodeRecoveryKey, deriveAccountKeys, unwrapResult } from '@hale/crypto';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { HaleClientError } from '../api/errors';
import { createHttpApi, type HttpApi } from '../api/http-api';
import { openSession } from '../api/session-manager';
import {
  VAULT_KEY,
  VAULT_WRITE_ATTEMPTS,
  createAccount,
  hasAccount,
  joinWithPassphrase,
  joinWithRecoveryKey,
  unlock,
  type AccountDeps,
  type CreateAccountInput,
} from './account';
import { accountError } from './account.test-util';
import { isAccountError } from '../core/account-error';
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

const loginName = (): string => `unsaved${++n}-${Date.now().toString(36)}`;

/**
 * A memory vault whose first `failures` writes throw (a full disk); `writes` counts the attempts. With
 * `landing`, a failing write still stores the value before it throws (a storage that reports an error
 * after the write went through).
 */
const failingVault = (failures: number, landing = false) => {
  const inner = memoryVault();
  let writes = 0;
  const vault: MemoryVault = {
    ...inner,
    set: async (key, value) => {
      writes++;
      if (writes > failures) return inner.set(key, value);
      if (landing) await inner.set(key, value);
      throw new Error('QuotaExceededError: disk full');
    },
  };
  return { vault, writes: () => writes };
};

const device = (vault: MemoryVault = memoryVault(), a: HttpApi = api) => {
  const waits: number[] = [];
  const deps: AccountDeps & { vault: MemoryVault } = {
    api: a,
    vault,
    ed,
    kdf: TEST_KDF,
    weakKdfForTests: true,
    wait: (ms: number) => {
      waits.push(ms);
      return Promise.resolve();
    },
  };
  return { deps, waits };
};

const input = (extra: Partial<CreateAccountInput> = {}): CreateAccountInput => ({
  role: 'patient',
  passphrase: PASS,
  deviceName: 'phone',
  ...extra,
});

describe('createAccount whose vault write fails after the registration', () => {
  it('still answers the account and its recovery key, with ACCOUNT_NOT_SAVED, and the passphrase joins it', async () => {
    const name = loginName();
    const full = failingVault(Infinity);
    const { deps, waits } = device(full.vault);
    const created = await createAccount(deps, input({ loginName: name }));
    const { account, recoveryKey, notSaved } = created;

    // The recovery key is the account the server holds.
    const root = unwrapResult(decodeRecoveryKey(recoveryKey));
    expect(deriveAccountKeys(root).accountId).toBe(account.accountId);
    // The device was told, with a code; the key is not in the message (errors get logged).
    expect(notSaved?.code).toBe('ACCOUNT_NOT_SAVED');
    expect(isAccountError(notSaved)).toBe(true);
    expect(notSaved?.message).not.toContain(recoveryKey);
    expect(notSaved?.message).not.toContain(recoveryKey.replace(/-/g, ''));
    expect(notSaved?.message).not.toContain(PASS);
    expect((notSaved?.cause as Error | undefined)?.message).toMatch(/disk full/);
    // The write was tried again, backing off, before giving up; nothing is in the vault.
    expect(full.writes()).toBe(VAULT_WRITE_ATTEMPTS);
    expect(waits).toHaveLength(VAULT_WRITE_ATTEMPTS - 1);
    expect(full.vault.entries().size).toBe(0);
    expect(await hasAccount(deps)).toBe(false);

    // The account is usable for now: its keys were not zeroed and its device signs in.
    expect(account.root.some((b) => b !== 0)).toBe(true);
    expect((await openSession(api, account.device, ed)).token).toBeTruthy();
    // The login name is used up by this account, and the passphrase joins it (e.g. after a restart).
    await accountError(createAccount(device().deps, input({ loginName: name })), 'LOGIN_NAME_TAKEN');
    const joined = await joinWithPassphrase(device().deps, {
      loginName: name,
      passphrase: PASS,
      deviceName: 'phone again',
    });
    expect(joined.accountId).toBe(account.accountId);
  });

  it('an account without a login name is reached again with the recovery key it answered', async () => {
    const { deps } = device(failingVault(Infinity).vault);
    const { account, recoveryKey, notSaved } = await createAccount(deps, input());
    expect(notSaved?.code).toBe('ACCOUNT_NOT_SAVED');
    const joined = await joinWithRecoveryKey(device().deps, {
      recoveryKey,
      newPassphrase: `${PASS} 2`,
      deviceName: 'phone again',
    });
    expect(joined.accountId).toBe(account.accountId);
  });

  it('a write that fails once is tried again: saved, no ACCOUNT_NOT_SAVED, and the device unlocks', async () => {
    const flaky = failingVault(1);
    const { deps, waits } = device(flaky.vault);
    const created = await createAccount(deps, input({ loginName: loginName() }));
    expect(created.notSaved).toBeUndefined();
    expect('notSaved' in created).toBe(false);
    expect(flaky.writes()).toBe(2);
    expect(waits).toHaveLength(1);
    expect([...flaky.vault.entries().keys()]).toEqual([VAULT_KEY]);
    const opened = await unlock({ vault: flaky.vault }, { passphrase: PASS });
    expect(opened.accountId).toBe(created.account.accountId);
  });

  it('a write reported failed that did store the record is read back as saved', async () => {
    const liar = failingVault(Infinity, true);
    const { deps } = device(liar.vault);
    const created = await createAccount(deps, input({ loginName: loginName() }));
    expect(created.notSaved).toBeUndefined();
    expect(liar.writes()).toBe(1);
    const opened = await unlock({ vault: liar.vault }, { passphrase: PASS });
    expect(opened.accountId).toBe(created.account.accountId);
  });

  it('a registration whose answer was lost, then a failed vault write: still the account and its key', async () => {
    let registers = 0;
    const lossy: HttpApi = {
      ...api,
      register: async (body) => {
        const answer = await api.register(body);
        if (++registers === 1) throw new HaleClientError({ code: 'NETWORK', status: 0, message: 'reset' });
        return answer;
      },
    };
    const name = loginName();
    const { deps } = device(failingVault(Infinity).vault, lossy);
    const { account, recoveryKey, notSaved } = await createAccount(deps, input({ loginName: name }));
    // The answer was lost; the lookup between attempts found the account with this device.
    expect(registers).toBe(1);
    expect(notSaved?.code).toBe('ACCOUNT_NOT_SAVED');
    expect(deriveAccountKeys(unwrapResult(decodeRecoveryKey(recoveryKey))).accountId).toBe(account.accountId);
    const joined = await joinWithPassphrase(device().deps, {
      loginName: name,
      passphrase: PASS,
      deviceName: 'tablet',
    });
    expect(joined.accountId).toBe(account.accountId);
  });

  it('does not overwrite a record another writer put in the vault meanwhile', async () => {
    const inner = memoryVault();
    let writes = 0;
    const vault: MemoryVault = {
      ...inner,
      set: async () => {
        writes++;
        // Another Vault object over the same storage (not serialised with this one) wrote first.
        await inner.set(VAULT_KEY, '{"someone":"else"}');
        throw new Error('conflict');
      },
    };
    const { notSaved } = await createAccount(device(vault).deps, input({ loginName: loginName() }));
    expect(notSaved?.code).toBe('ACCOUNT_NOT_SAVED');
    expect(writes).toBe(1);
    expect(inner.entries().get(VAULT_KEY)).toBe('{"someone":"else"}');
  });
});

describe('createAccount whose injected storage and wait throw at the call instead of rejecting', () => {
  it('a vault read that throws while the write is read back: still the account, its key, ACCOUNT_NOT_SAVED', async () => {
    const inner = memoryVault();
    let broken = false;
    const vault: MemoryVault = {
      ...inner,
      get: (key) => {
        if (broken) throw new Error('storage unavailable');
        return inner.get(key);
      },
      set: () => {
        broken = true;
        return Promise.reject(new Error('QuotaExceededError: disk full'));
      },
    };
    const { deps } = device(vault);
    const created = await createAccount(deps, input());
    expect(created.notSaved?.code).toBe('ACCOUNT_NOT_SAVED');
    expect(deriveAccountKeys(unwrapResult(decodeRecoveryKey(created.recoveryKey))).accountId).toBe(
      created.account.accountId,
    );
  });

  it('a wait that throws between registration attempts: the account is looked up, not given up', async () => {
    let registers = 0;
    const { deps } = device(memoryVault(), {
      ...api,
      register: async (body) => {
        registers++;
        const answer = await api.register(body);
        if (registers === 1) throw new HaleClientError({ code: 'NETWORK', status: 0, message: 'reset' });
        return answer;
      },
      getAccount: () => Promise.reject(new HaleClientError({ code: 'NETWORK', status: 0, message: 'reset' })),
    });
    const wait = (): Promise<void> => {
      throw new Error('timers unavailable');
    };
    const created = await createAccount({ ...deps, wait }, input());
    expect(registers).toBe(2);
    expect(created.notSaved).toBeUndefined();
  });
});
