// createAccount whose registration answer is lost: the server takes a replay of the very registration it
// holds as success, and createAccount repeats it (bounded, with backoff) before giving up with a typed
// error. Real servers on loopback ports; the losses are injected by wrapping the HTTP API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TEST_KDF,
  decodeRecoveryKey,
  deriveAccountKeys,
  generateDeviceKeys,
  unwrapResult,
} from '@hale/crypto';
import { accountSignaturePayload } from '@hale/protocol';
import {
  ed,
  http,
  makeDeviceCert,
  makeRegistration,
  revokeDevice,
  sign,
  startServer,
  type TestServer,
} from '../../../../sync-server/src/testing/harness';
import { inviteCodeHash, newInviteCode } from '../../../../sync-server/src/store/invites';
import { HaleClientError } from '../api/errors';
import { createHttpApi, type HttpApi } from '../api/http-api';
import { createAccount, joinWithPassphrase, type AccountDeps, type CreateAccountInput } from './account';
import { accountError } from './account.test-util';
import { memoryVault, type MemoryVault } from './vault';

const PASS = 'correct horse battery staple';

let open: TestServer;
let inviteOnly: TestServer;
let api: HttpApi;
let inviteApi: HttpApi;
let n = 0;

beforeAll(async () => {
  [open, inviteOnly] = await Promise.all([
    startServer(),
    startServer({ config: { registration: 'invite' } }),
  ]);
  api = createHttpApi({ baseUrl: open.url, fetch });
  inviteApi = createHttpApi({ baseUrl: inviteOnly.url, fetch });
});

afterAll(async () => {
  await Promise.all([open.stop(), inviteOnly.stop()]);
});

const loginName = (): string => `lost${++n}-${Date.now().toString(36)}`;
const lost = (): HaleClientError => new HaleClientError({ code: 'NETWORK', status: 0, message: 'reset' });

/** Device deps over `a`, recording the waits createAccount asks for instead of sleeping. */
const device = (a: HttpApi): AccountDeps & { vault: MemoryVault; waits: number[] } => {
  const waits: number[] = [];
  return {
    api: a,
    vault: memoryVault(),
    ed,
    kdf: TEST_KDF,
    weakKdfForTests: true,
    waits,
    wait: (ms: number) => {
      waits.push(ms);
      return Promise.resolve();
    },
  };
};

/** `base` whose first `lose` registrations land but whose answers are lost, and whose account reads fail. */
const losingAnswers = (base: HttpApi, lose: number) => {
  const calls = { register: 0, getAccount: 0 };
  const wrapped: HttpApi = {
    ...base,
    register: async (body) => {
      calls.register++;
      const answer = await base.register(body);
      if (calls.register <= lose) throw lost();
      return answer;
    },
    getAccount: () => {
      calls.getAccount++;
      return Promise.reject(lost());
    },
  };
  return { api: wrapped, calls };
};

const input = (extra: Partial<CreateAccountInput> = {}): CreateAccountInput => ({
  role: 'patient',
  passphrase: PASS,
  deviceName: 'phone',
  ...extra,
});

const accountsNamed = (t: TestServer, name: string): number =>
  (t.store.db.prepare('SELECT count(*) AS n FROM accounts WHERE login_name = ?').get(name) as { n: number })
    .n;

describe('createAccount whose registration answer is lost', () => {
  it('repeats the same registration, which the server answers as the first time: the recovery key is shown', async () => {
    const name = loginName();
    const flaky = losingAnswers(api, 1);
    const deps = device(flaky.api);
    const { account, recoveryKey } = await createAccount(deps, input({ loginName: name }));
    // The account the server holds is the one whose recovery key the person was shown.
    const root = unwrapResult(decodeRecoveryKey(recoveryKey));
    expect(deriveAccountKeys(root).accountId).toBe(account.accountId);
    expect(flaky.calls.register).toBe(2);
    expect(deps.waits).toHaveLength(1);
    expect(accountsNamed(open, name)).toBe(1);
    expect(deps.vault.entries().size).toBe(1);
    // And the passphrase joins it, as for any account.
    const joined = await joinWithPassphrase(device(api), {
      loginName: name,
      passphrase: PASS,
      deviceName: 'tablet',
    });
    expect(joined.accountId).toBe(account.accountId);
  });

  it('on an invite server, the invite used by that very registration does not block its replay', async () => {
    const code = newInviteCode();
    await inviteOnly.store.invites.put({
      codeHash: inviteCodeHash(code),
      uses: 1,
      usesLeft: 1,
      expiresAt: new Date(inviteOnly.clock.now + 3_600_000).toISOString(),
      createdAt: new Date(inviteOnly.clock.now).toISOString(),
    });
    const name = loginName();
    const flaky = losingAnswers(inviteApi, 2);
    const deps = device(flaky.api);
    const { account } = await createAccount(deps, input({ loginName: name, invite: code }));
    expect(flaky.calls.register).toBe(3);
    expect(accountsNamed(inviteOnly, name)).toBe(1);
    const invite = (await inviteOnly.store.invites.list()).find((i) => i.codeHash === inviteCodeHash(code));
    expect(invite?.usesLeft).toBe(0);
    expect((await inviteApi.getAccount(account.accountId)).devices).toHaveLength(1);
  });

  it('gives up after a bounded number of attempts, backing off, with REGISTRATION_UNCONFIRMED', async () => {
    let registers = 0;
    const down: HttpApi = {
      ...api,
      register: () => {
        registers++;
        return Promise.reject(lost());
      },
      getAccount: () => Promise.reject(lost()),
    };
    const deps = device(down);
    const error = await accountError(
      createAccount(deps, input({ loginName: loginName() })),
      'REGISTRATION_UNCONFIRMED',
    );
    expect(error.message).toMatch(/join/);
    expect(registers).toBe(4);
    expect(deps.waits).toEqual([500, 1000, 2000]);
    expect(deps.vault.entries().size).toBe(0);
  });

  it('a login name another registration holds is LOGIN_NAME_TAKEN, first try or after a lost answer', async () => {
    const name = loginName();
    await createAccount(device(api), input({ loginName: name }));
    await accountError(createAccount(device(api), input({ loginName: name })), 'LOGIN_NAME_TAKEN');
    // A lost answer first: the retry's refusal is not this device's account (its check can tell).
    let registers = 0;
    const lostFirst: HttpApi = {
      ...api,
      register: (body) => (++registers === 1 ? Promise.reject(lost()) : api.register(body)),
    };
    await accountError(createAccount(device(lostFirst), input({ loginName: name })), 'LOGIN_NAME_TAKEN');
    expect(registers).toBe(2);
    expect(accountsNamed(open, name)).toBe(1);
  });
});

describe('the server and a replayed registration', () => {
  const post = (body: unknown) => http(open.url, 'POST', '/v1/accounts', body);

  it('answers the byte-identical registration as the first time, and refuses any other body for it', async () => {
    const { body, account } = await makeRegistration();
    const first = await post(body);
    const replayed = await post(body);
    expect([first.status, replayed.status]).toEqual([201, 201]);
    expect(replayed.body).toEqual(first.body);
    expect(accountsNamed(open, account.loginName)).toBe(1);
    // The same account with another device certificate (validly signed): refused as before.
    const otherCert = await makeDeviceCert(account, generateDeviceKeys());
    const otherDevice = await post({ ...body, device: otherCert });
    expect([otherDevice.status, otherDevice.body]).toMatchObject([409, { code: 'ALREADY_EXISTS' }]);
    // Another account under the same login name: refused, naming the login name, as before.
    const rival = await makeRegistration();
    const rivalAccount = { ...rival.body.account, loginName: account.loginName };
    const rivalBody = {
      ...rival.body,
      account: rivalAccount,
      sig: await sign(rival.account.keys.identity.secretKey, accountSignaturePayload(rivalAccount)),
    };
    const taken = await post(rivalBody);
    expect([taken.status, taken.body]).toMatchObject([
      409,
      { code: 'ALREADY_EXISTS', details: { taken: 'loginName' } },
    ]);
  });

  it('does not answer a replay as success once the account moved on (device revoked)', async () => {
    const { body, account } = await makeRegistration();
    expect((await post(body)).status).toBe(201);
    expect((await revokeDevice(open, account, account.device)).status).toBe(200);
    expect((await post(body)).status).toBe(409);
  });
});

describe('createAccount whose registration succeeded with an answer that cannot be read', () => {
  /** A 2xx whose body a proxy rewrote: the HTTP API's BAD_RESPONSE, with the status it came with. */
  const garbled = (status: number): HaleClientError =>
    new HaleClientError({ code: 'BAD_RESPONSE', status, message: 'the answer is not JSON' });

  it('looks the account up: the server holds it, so it is created and the recovery key shown', async () => {
    const name = loginName();
    let registers = 0;
    const deps = device({
      ...api,
      register: async (body) => {
        registers++;
        await api.register(body);
        throw garbled(201);
      },
    });
    const { account, recoveryKey } = await createAccount(deps, input({ loginName: name }));
    expect(deriveAccountKeys(unwrapResult(decodeRecoveryKey(recoveryKey))).accountId).toBe(account.accountId);
    // Not sent again: a replay's answer would be as unreadable. The lookup told.
    expect(registers).toBe(1);
    expect(accountsNamed(open, name)).toBe(1);
    expect(deps.vault.entries().size).toBe(1);
  });

  it('the lookup failing too: REGISTRATION_UNCONFIRMED, which carries the recovery key', async () => {
    const name = loginName();
    const deps = device({
      ...api,
      register: async (body) => {
        await api.register(body);
        throw garbled(201);
      },
      getAccount: () => Promise.reject(lost()),
    });
    const e = await accountError(createAccount(deps, input({ loginName: name })), 'REGISTRATION_UNCONFIRMED');
    expect(typeof e.recoveryKey).toBe('string');
    expect(accountsNamed(open, name)).toBe(1);
  });

  it('a refusal with a readable body is still taken as it is: no lookup', async () => {
    let lookups = 0;
    const deps = device({
      ...api,
      register: () => Promise.reject(garbled(400)),
      getAccount: (id) => {
        lookups++;
        return api.getAccount(id);
      },
    });
    expect((await createAccount(deps, input()).catch((e: unknown) => e)) as HaleClientError).toMatchObject({
      code: 'BAD_RESPONSE',
      status: 400,
    });
    expect(lookups).toBe(0);
  });
});
