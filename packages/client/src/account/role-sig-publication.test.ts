// The role signature of an account registered without one: an unlocked device
// that holds the role first-hand publishes it (`publishRoleSig`, run by `unlock`), the server relays it from
// then on, and a device whose vault records it as published refuses an account answer without it
// (ROLE_UNSIGNED) — as does a join told to require it (`requireRoleSig`). Real server on a loopback port;
// a registration without it and dishonest answers are played by wrapping fetch or the HTTP API.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TEST_KDF, base64urlDecode, unwrapResult, verifyCanonical } from '@hale/crypto';
import { roleSignaturePayload, type HttpAccountResponse } from '@hale/protocol';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type FetchLike, type HttpApi } from '../api/http-api';
import {
  VAULT_KEY,
  createAccount,
  joinWithPassphrase,
  joinWithRecoveryKey,
  publishRoleSig,
  publishWrappingKey,
  unlock,
  type AccountDeps,
  type Role,
  type UnlockedAccount,
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

const loginName = (): string => `rolepub${++n}-${Date.now().toString(36)}`;

/** An HttpApi over the real server whose registrations go without the role signature. */
const registeringUnsigned = (): HttpApi => {
  const unsigned: FetchLike = async (url, init) => {
    if (`${init.method} ${new URL(url).pathname}` === 'POST /v1/accounts' && typeof init.body === 'string') {
      const { roleSig: _dropped, ...body } = JSON.parse(init.body) as Record<string, unknown>;
      return fetch(url, { ...init, body: JSON.stringify(body) });
    }
    return fetch(url, init);
  };
  return createHttpApi({ baseUrl: t.url, fetch: unsigned });
};

const deviceOn = (a: HttpApi, vault: MemoryVault = memoryVault()): AccountDeps & { vault: MemoryVault } => ({
  api: a,
  vault,
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
});

/** `base` whose account answers are changed by `change`. */
const answering = (base: HttpApi, change: (a: HttpAccountResponse) => HttpAccountResponse): HttpApi => ({
  ...base,
  getAccount: async (accountId) => change(await base.getAccount(accountId)),
});

const dropRoleSig = (a: HttpAccountResponse): HttpAccountResponse => {
  const { roleSig: _dropped, ...rest } = a;
  return rest;
};

const stored = (vault: MemoryVault): Record<string, unknown> =>
  JSON.parse(vault.entries().get(VAULT_KEY) ?? '{}') as Record<string, unknown>;

const roleSigVerifies = async (account: UnlockedAccount): Promise<boolean> => {
  const answer = await api.getAccount(account.accountId);
  if (answer.roleSig === undefined) return false;
  const payload = roleSignaturePayload(answer);
  const sig = unwrapResult(base64urlDecode(answer.roleSig));
  return verifyCanonical(ed, account.keys.identity.publicKey, payload.label, payload, sig);
};

/** An account registered without the role signature: the server holds none, the vault records none. */
const oldAccount = async (role: Role = 'patient') => {
  const vault = memoryVault();
  const name = loginName();
  const created = await createAccount(deviceOn(registeringUnsigned(), vault), {
    role,
    passphrase: PASS,
    loginName: name,
    deviceName: 'first',
  });
  const { roleSig: _published, ...record } = stored(vault);
  await vault.set(VAULT_KEY, JSON.stringify(record));
  expect((await api.getAccount(created.account.accountId)).roleSig).toBeUndefined();
  expect(stored(vault)).not.toHaveProperty('roleSig');
  return { ...created, vault, name };
};

describe('publishing the role signature of an account registered without it', () => {
  it('a new account on a current server records it as published at once', async () => {
    const vault = memoryVault();
    const { account } = await createAccount(deviceOn(api, vault), {
      role: 'provider',
      passphrase: PASS,
      deviceName: 'desk',
    });
    expect(stored(vault)).toMatchObject({ roleSig: 'published' });
    expect(await roleSigVerifies(account)).toBe(true);
  });

  it.each(['patient', 'provider'] as const)(
    'unlock publishes a %s account role; the server relays it; the vault records it',
    async (role) => {
      const { account, vault } = await oldAccount(role);
      await unlock({ vault, api, ed }, { passphrase: PASS });
      await vi.waitFor(() => expect(stored(vault)).toMatchObject({ roleSig: 'published' }), {
        timeout: 20_000,
        interval: 20,
      });
      const answer = await api.getAccount(account.accountId);
      expect(answer.role).toBe(role);
      expect(await roleSigVerifies(account)).toBe(true);
      // Idempotent once there: nothing more to send.
      expect(await publishRoleSig({ api, ed, vault }, { account })).toBe('present');
    },
  );

  it('a server answering another role than the vault holds is ROLE_REFUSED: nothing signed or sent', async () => {
    const { account, vault } = await oldAccount('patient');
    const flipped = answering(api, (a) => ({ ...a, role: 'provider' }));
    await accountError(publishRoleSig({ api: flipped, ed, vault }, { account }), 'ROLE_REFUSED');
    expect((await api.getAccount(account.accountId)).roleSig).toBeUndefined();
    expect(stored(vault)).not.toHaveProperty('roleSig');
  });
});

describe('after it is published', () => {
  it('the device that knows refuses an answer without it (ROLE_UNSIGNED), in every read of its account', async () => {
    const { account, vault } = await oldAccount();
    expect(await publishRoleSig({ api, ed, vault }, { account })).toBe('published');
    expect(stored(vault)).toMatchObject({ roleSig: 'published' });
    const dropping = answering(api, dropRoleSig);
    await accountError(publishRoleSig({ api: dropping, ed, vault }, { account }), 'ROLE_UNSIGNED');
    await accountError(publishWrappingKey({ api: dropping, ed, vault }, { account }), 'ROLE_UNSIGNED');
    // A signature that does not verify is refused as before.
    const strangers = (
      await createAccount(deviceOn(api), { role: 'patient', passphrase: PASS, deviceName: 'x' })
    ).account;
    const otherSig = (await api.getAccount(strangers.accountId)).roleSig;
    const forged = answering(api, (a) => ({ ...a, roleSig: otherSig ?? '' }));
    await accountError(publishRoleSig({ api: forged, ed, vault }, { account }), 'ROLE_REFUSED');
    // The record stays as it was; the honest server still answers.
    expect(stored(vault)).toMatchObject({ roleSig: 'published' });
    expect(await publishRoleSig({ api, ed, vault }, { account })).toBe('present');
  });

  it('a join told to require it refuses an answer without it; nothing registered or written', async () => {
    const { account, name, recoveryKey, vault } = await oldAccount('patient');
    const activeDevices = async () => (await api.getAccount(account.accountId)).devices.length;
    // Not yet published: a join that requires it is refused.
    const early = deviceOn(api);
    await accountError(
      joinWithPassphrase(early, { loginName: name, passphrase: PASS, deviceName: 'b', requireRoleSig: true }),
      'ROLE_UNSIGNED',
    );
    expect(early.vault.entries().size).toBe(0);
    expect(await publishRoleSig({ api, ed, vault }, { account })).toBe('published');
    // Published: a server that drops it is refused by a join that requires it, both kinds of join.
    const dropping = answering(api, dropRoleSig);
    const refused = deviceOn(dropping);
    await accountError(
      joinWithPassphrase(refused, {
        loginName: name,
        passphrase: PASS,
        deviceName: 'c',
        requireRoleSig: true,
      }),
      'ROLE_UNSIGNED',
    );
    await accountError(
      joinWithRecoveryKey(refused, {
        recoveryKey,
        newPassphrase: 'another long passphrase',
        deviceName: 'c',
        requireRoleSig: true,
      }),
      'ROLE_UNSIGNED',
    );
    expect(refused.vault.entries().size).toBe(0);
    expect(await activeDevices()).toBe(1);
    // The honest answer joins, and the joined vault knows from then on.
    const joined = deviceOn(api);
    const member = await joinWithPassphrase(joined, {
      loginName: name,
      passphrase: PASS,
      deviceName: 'd',
      requireRoleSig: true,
    });
    expect(member.role).toBe('patient');
    expect(stored(joined.vault)).toMatchObject({ roleSig: 'published' });
    await accountError(
      publishRoleSig({ api: dropping, ed, vault: joined.vault }, { account: member }),
      'ROLE_UNSIGNED',
    );
  });

  it('a join not told to require it takes an unsigned answer (unverified) and never signs that role itself', async () => {
    const { name, account, vault } = await oldAccount('provider');
    const joined = deviceOn(api);
    const member = await joinWithPassphrase(joined, { loginName: name, passphrase: PASS, deviceName: 'b' });
    expect(stored(joined.vault)).toMatchObject({ roleSig: 'unverified' });
    expect(await publishRoleSig({ api, ed, vault: joined.vault }, { account: member })).toBe('withheld');
    expect((await api.getAccount(member.accountId)).roleSig).toBeUndefined();
    // Once the first device published it, this one learns so, and refuses an answer without it from then on.
    expect(await publishRoleSig({ api, ed, vault }, { account })).toBe('published');
    expect(await publishRoleSig({ api, ed, vault: joined.vault }, { account: member })).toBe('present');
    expect(stored(joined.vault)).toMatchObject({ roleSig: 'published' });
    const dropping = answering(api, dropRoleSig);
    await accountError(
      publishRoleSig({ api: dropping, ed, vault: joined.vault }, { account: member }),
      'ROLE_UNSIGNED',
    );
  });
});
