// A joining device takes the account's role (patient or provider) only as the account signed it: the
// server relays the identity key's signature over {accountId, identityPublicKey, role} (`roleSig`), and a
// server answering another role than the one signed is refused before anything is registered or written.
// Real server on a loopback port; the dishonest answers are injected by wrapping the HTTP API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KDF, base64urlDecode, unwrapResult, verifyCanonical } from '@hale/crypto';
import { roleSignaturePayload, type HttpAccountResponse } from '@hale/protocol';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type HttpApi } from '../api/http-api';
import {
  VAULT_KEY,
  createAccount,
  joinWithPassphrase,
  joinWithRecoveryKey,
  type AccountDeps,
  type Role,
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

const loginName = (): string => `role${++n}-${Date.now().toString(36)}`;

const device = (a: HttpApi): AccountDeps & { vault: MemoryVault } => ({
  api: a,
  vault: memoryVault(),
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
});

const other = (role: Role): Role => (role === 'patient' ? 'provider' : 'patient');

/** `base` whose account answers are changed by `change`. */
const answering = (base: HttpApi, change: (a: HttpAccountResponse) => HttpAccountResponse): HttpApi => ({
  ...base,
  getAccount: async (accountId) => change(await base.getAccount(accountId)),
});

const activeDevices = async (accountId: string): Promise<number> =>
  (await api.getAccount(accountId)).devices.length;

describe('the account role at a join', () => {
  it('the server relays the signature a new account made over its role', async () => {
    const { account } = await createAccount(device(api), {
      role: 'provider',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'desk',
    });
    const answer = await api.getAccount(account.accountId);
    expect(answer.roleSig).toBeDefined();
    const payload = roleSignaturePayload(answer);
    expect(payload).toEqual({
      label: 'hale/account-role/v1',
      accountId: account.accountId,
      identityPublicKey: answer.identityPublicKey,
      role: 'provider',
    });
    const sig = unwrapResult(base64urlDecode(answer.roleSig ?? ''));
    expect(await verifyCanonical(ed, account.keys.identity.publicKey, payload.label, payload, sig)).toBe(
      true,
    );
  });

  it.each(['patient', 'provider'] as const)(
    'a %s account answered as the other role is refused at a passphrase join: nothing registered or written',
    async (role) => {
      const name = loginName();
      const { account } = await createAccount(device(api), {
        role,
        passphrase: PASS,
        loginName: name,
        deviceName: 'first',
      });
      const flipped = answering(api, (a) => ({ ...a, role: other(a.role) }));
      const deps = device(flipped);
      const error = await accountError(
        joinWithPassphrase(deps, { loginName: name, passphrase: PASS, deviceName: 'second' }),
        'ROLE_REFUSED',
      );
      expect(error.message).not.toContain(PASS);
      expect(deps.vault.entries().size).toBe(0);
      expect(await activeDevices(account.accountId)).toBe(1);
      // The honest answer joins as ever, with the role the account signed.
      const joined = await joinWithPassphrase(device(api), {
        loginName: name,
        passphrase: PASS,
        deviceName: 'second',
      });
      expect(joined.role).toBe(role);
    },
  );

  it('a signature that does not verify is refused too (a role signed by another key, or garbage)', async () => {
    const name = loginName();
    const { account } = await createAccount(device(api), {
      role: 'patient',
      passphrase: PASS,
      loginName: name,
      deviceName: 'first',
    });
    const stranger = await createAccount(device(api), {
      role: 'provider',
      passphrase: PASS,
      loginName: loginName(),
      deviceName: 'x',
    });
    const strangerSig = (await api.getAccount(stranger.account.accountId)).roleSig;
    for (const roleSig of [strangerSig, 'A'.repeat(86)]) {
      const forged = answering(api, (a) => ({ ...a, role: 'provider', ...(roleSig ? { roleSig } : {}) }));
      const deps = device(forged);
      await accountError(
        joinWithPassphrase(deps, { loginName: name, passphrase: PASS, deviceName: 'second' }),
        'ROLE_REFUSED',
      );
      expect(deps.vault.entries().size).toBe(0);
    }
    expect(await activeDevices(account.accountId)).toBe(1);
  });

  it('a recovery-key join answered with the other role is refused: no device left, no wrap sent', async () => {
    const { account, recoveryKey } = await createAccount(device(api), {
      role: 'patient',
      passphrase: PASS,
      deviceName: 'first',
    });
    const flipped = answering(api, (a) => ({ ...a, role: 'provider' }));
    const deps = device(flipped);
    await accountError(
      joinWithRecoveryKey(deps, { recoveryKey, newPassphrase: 'a brand new passphrase', deviceName: 'new' }),
      'ROLE_REFUSED',
    );
    expect(deps.vault.entries().size).toBe(0);
    expect(await activeDevices(account.accountId)).toBe(1);
    // The passphrase was not changed: the server still serves generation 0.
    const state = await t.store.accounts.get(account.accountId);
    expect(state?.wrappedRootGen).toBe(0);
  });

  it('the joined vault holds the signed role', async () => {
    const name = loginName();
    await createAccount(device(api), {
      role: 'provider',
      passphrase: PASS,
      loginName: name,
      deviceName: 'a',
    });
    const deps = device(api);
    await joinWithPassphrase(deps, { loginName: name, passphrase: PASS, deviceName: 'b' });
    const record = JSON.parse(deps.vault.entries().get(VAULT_KEY) ?? '{}') as { role?: string };
    expect(record.role).toBe('provider');
  });
});
