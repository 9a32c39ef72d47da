// createAccount against servers whose registration is invite-only, closed or older than registration
// control: real servers on loopback ports over real SQLite files; invites put in the store as the server's
// invite command does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KDF } from '@hale/crypto';
import { startServer, ed, type TestServer } from '../../../../sync-server/src/testing/harness';
import { formatInviteCode, inviteCodeHash, newInviteCode } from '../../../../sync-server/src/store/invites';
import type { Invite } from '../../../../sync-server/src/store/types';
import { createHttpApi, type FetchLike, type HttpApi } from '../api/http-api';
import { createAccount, registrationMode, type AccountDeps, type CreateAccountInput } from './account';
import { accountError } from './account.test-util';
import { memoryVault, type MemoryVault } from './vault';

const PASS = 'correct horse battery staple';

let inviteOnly: TestServer;
let closed: TestServer;
let open: TestServer;
let inviteApi: HttpApi;

beforeAll(async () => {
  [inviteOnly, closed, open] = await Promise.all([
    startServer({ config: { registration: 'invite' } }),
    startServer({ config: { registration: 'closed' } }),
    startServer(),
  ]);
  inviteApi = createHttpApi({ baseUrl: inviteOnly.url, fetch });
});

afterAll(async () => {
  await Promise.all([inviteOnly.stop(), closed.stop(), open.stop()]);
});

const deps = (api: HttpApi = inviteApi): AccountDeps & { vault: MemoryVault } => ({
  api,
  vault: memoryVault(),
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
});

const input = (extra: Partial<CreateAccountInput> = {}): CreateAccountInput => ({
  role: 'patient',
  passphrase: PASS,
  deviceName: 'phone',
  ...extra,
});

const newInvite = async (t: TestServer, extra: Partial<Invite> = {}): Promise<string> => {
  const code = newInviteCode();
  await t.store.invites.put({
    codeHash: inviteCodeHash(code),
    uses: 1,
    usesLeft: 1,
    expiresAt: new Date(t.clock.now + 3_600_000).toISOString(),
    createdAt: new Date(t.clock.now).toISOString(),
    ...extra,
  });
  return code;
};

const usesLeft = async (t: TestServer, code: string) =>
  (await t.store.invites.list()).find((i) => i.codeHash === inviteCodeHash(code))?.usesLeft;

const accountCount = (t: TestServer): number =>
  (t.store.db.prepare('SELECT count(*) AS n FROM accounts').get() as { n: number }).n;

describe('registrationMode', () => {
  it("reads the server's mode; a server older than registration control is open", async () => {
    expect(await registrationMode({ api: inviteApi })).toBe('invite');
    expect(await registrationMode({ api: createHttpApi({ baseUrl: closed.url, fetch }) })).toBe('closed');
    expect(await registrationMode({ api: createHttpApi({ baseUrl: open.url, fetch }) })).toBe('open');
    const answering = (registration: string | null): HttpApi =>
      createHttpApi({ baseUrl: open.url, fetch: serverInfoSays(registration, []) });
    expect(await registrationMode({ api: answering(null) })).toBe('open');
    expect(await registrationMode({ api: answering('approval') })).toBe('unknown');
  });
});

describe('createAccount with an invite code', () => {
  it('takes the code as the operator showed it, or as a person retyped it; the server uses it up', async () => {
    const code = await newInvite(inviteOnly, { uses: 2, usesLeft: 2 });
    const first = deps();
    const { account } = await createAccount(first, input({ invite: formatInviteCode(code) }));
    expect((await inviteApi.getAccount(account.accountId)).accountId).toBe(account.accountId);
    expect(await first.vault.get('hale.account')).not.toBeNull();
    const retyped = ` ${formatInviteCode(code).toLowerCase().replaceAll('-', ' ')} `;
    await createAccount(deps(), input({ invite: retyped }));
    expect(await usesLeft(inviteOnly, code)).toBe(0);
  });

  it('refusals become AccountErrors a person can act on; nothing stored on the server or in the vault', async () => {
    const before = accountCount(inviteOnly);
    const usedUp = await newInvite(inviteOnly, { usesLeft: 0 });
    const forProviders = await newInvite(inviteOnly, { role: 'provider' });

    const none = deps();
    const required = await accountError(createAccount(none, input()), 'INVITE_REQUIRED');
    expect(required.message).toMatch(/needs an invite code .* ask the server's operator/);
    expect(none.vault.entries().size).toBe(0);

    for (const invite of [formatInviteCode(newInviteCode()), usedUp]) {
      const d = deps();
      const invalid = await accountError(createAccount(d, input({ invite })), 'INVITE_INVALID');
      expect(invalid.message).toMatch(/not accepted: .* ask the server's operator for a new one/);
      expect(d.vault.entries().size).toBe(0);
    }

    const wrongRole = await accountError(
      createAccount(deps(), input({ invite: forProviders })),
      'INVITE_WRONG_ROLE',
    );
    expect(wrongRole.role).toBe('provider');
    expect(await usesLeft(inviteOnly, forProviders)).toBe(1);
    expect(accountCount(inviteOnly)).toBe(before);
    await createAccount(deps(), input({ role: 'provider', invite: forProviders }));
    expect(accountCount(inviteOnly)).toBe(before + 1);
  });

  it('what is not an invite code even once folded is refused before anything is sent', async () => {
    const sent: string[] = [];
    const counting: FetchLike = (url, init) => {
      sent.push(url);
      return fetch(url, init);
    };
    const d = deps(createHttpApi({ baseUrl: inviteOnly.url, fetch: counting }));
    const e = await accountError(createAccount(d, input({ invite: 'not-a-code' })), 'INVITE_INVALID');
    expect(e.message).toMatch(/not an invite code/);
    expect(sent).toEqual([]);
  });
});

describe('createAccount on a closed server', () => {
  it('is REGISTRATION_CLOSED, with or without an invite; nothing stored', async () => {
    const api = createHttpApi({ baseUrl: closed.url, fetch });
    const before = accountCount(closed);
    for (const invite of [undefined, formatInviteCode(newInviteCode())]) {
      const d = deps(api);
      const e = await accountError(
        createAccount(d, input(invite === undefined ? {} : { invite })),
        'REGISTRATION_CLOSED',
      );
      expect(e.message).toMatch(/takes no new accounts; ask its operator/);
      expect(d.vault.entries().size).toBe(0);
    }
    expect(accountCount(closed)).toBe(before);
  });
});

/**
 * A fetch to a real server whose `GET /v1/server` answer carries `registration` as given (null: left out,
 * as a server older than registration control answers), recording the register bodies sent.
 */
function serverInfoSays(registration: string | null, registerBodies: unknown[]): FetchLike {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (url.endsWith('/v1/accounts') && init.method === 'POST' && typeof init.body === 'string') {
      registerBodies.push(JSON.parse(init.body));
    }
    if (!url.endsWith('/v1/server')) return res;
    const body = (await res.json()) as Record<string, unknown>;
    delete body['registration'];
    if (registration !== null) body['registration'] = registration;
    return new Response(JSON.stringify(body), { status: 200 });
  };
}

describe('createAccount against a server older than registration control', () => {
  it('leaves the invite out (such a server refuses the field, and is open) and registers', async () => {
    const bodies: unknown[] = [];
    const api = createHttpApi({ baseUrl: open.url, fetch: serverInfoSays(null, bodies) });
    const { account } = await createAccount(deps(api), input({ invite: formatInviteCode(newInviteCode()) }));
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).not.toHaveProperty('invite');
    expect((await api.getAccount(account.accountId)).accountId).toBe(account.accountId);
  });
});
