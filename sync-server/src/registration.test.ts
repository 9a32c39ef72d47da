// Who may sign up (config `registration`): open (as before), invite (a valid invite code, used up in the
// same step that stores the account) or closed (no new accounts; existing ones and their devices carry on).
// Real server on a loopback port, real SQLite file; invites are put in the store as the invite command does.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { accountSignaturePayload } from '@hale/protocol';
import { buildApp } from './app';
import type { ServerConfig } from './config';
import { formatInviteCode, inviteCodeHash, newInviteCode } from './store/invites';
import { openSqliteStore, type Invite, type SyncStore } from './store/index';
import {
  addDevice,
  http,
  makeRegistration,
  registerAccount,
  rowCounts,
  sessionToken,
  sign,
  startServer,
  type TestServer,
} from './testing/harness';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const t of servers.splice(0)) await t.stop();
});

const start = async (registration?: ServerConfig['registration'], dataDir?: string): Promise<TestServer> => {
  const t = await startServer({
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(registration === undefined ? {} : { config: { registration } }),
  });
  servers.push(t);
  return t;
};

/** A new invite in `t`'s store, as `hale-sync-server invite` makes one; returns the code. */
const newInvite = async (t: TestServer, extra: Partial<Invite> = {}): Promise<string> => {
  const code = newInviteCode();
  await t.store.invites.put({
    codeHash: inviteCodeHash(code),
    uses: 1,
    usesLeft: 1,
    expiresAt: new Date(t.clock.now + 24 * 3_600_000).toISOString(),
    createdAt: new Date(t.clock.now).toISOString(),
    ...extra,
  });
  return code;
};

const usesLeft = async (t: TestServer, code: string): Promise<number | undefined> =>
  (await t.store.invites.list()).find((i) => i.codeHash === inviteCodeHash(code))?.usesLeft;

const register = async (
  t: TestServer,
  invite?: string,
  role: 'patient' | 'provider' = 'patient',
): Promise<{ status: number; body: unknown }> => {
  const { body } = await makeRegistration(role);
  return http(t.url, 'POST', '/v1/accounts', invite === undefined ? body : { ...body, invite });
};

const serverInfo = async (t: TestServer) => (await http(t.url, 'GET', '/v1/server')).body;

const INVITE_REFUSAL = {
  code: 'INVITE_INVALID',
  message: 'this server needs a valid invite code to create an account; ask its operator for one',
};

describe('registration: open (the default)', () => {
  it('registers anyone, as before, ignoring an invite; says so in GET /v1/server', async () => {
    const t = await start();
    expect(await serverInfo(t)).toMatchObject({ registration: 'open' });
    expect((await register(t)).status).toBe(201);
    // A well-formed code that matches nothing: not checked, not needed.
    expect((await register(t, newInviteCode())).status).toBe(201);
    const code = await newInvite(t);
    expect((await register(t, code)).status).toBe(201);
    expect(await usesLeft(t, code)).toBe(1);
  });
});

describe('registration: closed', () => {
  it('refuses every new account and stores nothing', async () => {
    const t = await start('closed');
    expect(await serverInfo(t)).toMatchObject({ registration: 'closed' });
    const before = rowCounts(t.store);
    const code = await newInvite(t);
    const after = rowCounts(t.store);
    for (const invite of [undefined, code]) {
      const res = await register(t, invite);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'REGISTRATION_CLOSED' });
    }
    expect(rowCounts(t.store)).toEqual(after);
    expect(after).toEqual({ ...before, invites: (before['invites'] ?? 0) + 1 });
    expect(await usesLeft(t, code)).toBe(1);
  });

  it('existing accounts keep signing in, adding devices and joining', async () => {
    const open = await start('open');
    const account = await registerAccount(open);
    await open.server.close();
    await open.store.close();
    servers.splice(servers.indexOf(open), 1);

    const t = await start('closed', open.dataDir);
    expect((await register(t)).status).toBe(403);
    expect(await sessionToken(t, account.device)).toMatch(/^[A-Za-z0-9_.-]{16,}$/);
    const second = await addDevice(t, account);
    expect(await sessionToken(t, second)).toMatch(/^[A-Za-z0-9_.-]{16,}$/);
    const joined = await http(t.url, 'POST', '/v1/join', { loginName: account.loginName });
    expect(joined).toMatchObject({ status: 200, body: { accountId: account.accountId } });
  });
});

describe('registration: invite', () => {
  it('says so in GET /v1/server; a valid code registers and is used up', async () => {
    const t = await start('invite');
    expect(await serverInfo(t)).toMatchObject({ registration: 'invite' });
    const code = await newInvite(t, { uses: 2, usesLeft: 2 });
    expect((await register(t, code)).status).toBe(201);
    expect(await usesLeft(t, code)).toBe(1);
    expect((await register(t, code)).status).toBe(201);
    expect(await usesLeft(t, code)).toBe(0);
    const res = await register(t, code);
    expect(res).toMatchObject({ status: 403, body: INVITE_REFUSAL });
  });

  it('no code, an unknown, expired, used-up or revoked one: the same refusal, nothing stored or used up', async () => {
    const t = await start('invite');
    const usedUp = await newInvite(t);
    expect((await register(t, usedUp)).status).toBe(201);
    const revoked = await newInvite(t);
    await t.store.invites.revoke(inviteCodeHash(revoked), new Date(t.clock.now).toISOString());
    const expiring = await newInvite(t, {
      expiresAt: new Date(t.clock.now + 60_000).toISOString(),
    });
    const fine = await newInvite(t);
    t.clock.advance(60_000);

    const before = rowCounts(t.store);
    const invitesBefore = await t.store.invites.list();
    for (const invite of [undefined, newInviteCode(), usedUp, revoked, expiring]) {
      const res = await register(t, invite);
      expect(res, String(invite)).toMatchObject({ status: 403, body: INVITE_REFUSAL });
      // Not even details that would tell the cases apart.
      expect(Object.keys(res.body as object).sort()).toEqual(['code', 'message']);
    }
    expect(rowCounts(t.store)).toEqual(before);
    expect(await t.store.invites.list()).toEqual(invitesBefore);
    // The one that is still valid still works.
    expect((await register(t, fine)).status).toBe(201);
  });

  it('a code formatted as shown (hyphens) is not the wire form: refused as a bad message, nothing used', async () => {
    const t = await start('invite');
    const code = await newInvite(t);
    const res = await register(t, formatInviteCode(code));
    expect(res).toMatchObject({ status: 400, body: { code: 'BAD_MESSAGE' } });
    expect(await usesLeft(t, code)).toBe(1);
  });

  it('a code for the other role: refused saying so, not used up; the named role registers', async () => {
    const t = await start('invite');
    const code = await newInvite(t, { role: 'provider' });
    const res = await register(t, code, 'patient');
    expect(res).toMatchObject({
      status: 403,
      body: { code: 'INVITE_INVALID', details: { role: 'provider' } },
    });
    expect(await usesLeft(t, code)).toBe(1);
    expect((await register(t, code, 'provider')).status).toBe(201);
  });

  it('without a usable code nothing tells whether a login name is taken; a taken one uses nothing up', async () => {
    const t = await start('invite');
    const code = await newInvite(t, { uses: 2, usesLeft: 2 });
    const { body } = await makeRegistration();
    expect((await http(t.url, 'POST', '/v1/accounts', { ...body, invite: code })).status).toBe(201);
    // Another person's registration, properly signed, asking for the same login name.
    const other = await makeRegistration();
    const account = { ...other.body.account, loginName: body.account.loginName };
    const sig = await sign(other.account.keys.identity.secretKey, accountSignaturePayload(account));
    const sameName = { ...other.body, account, sig };

    const probe = await http(t.url, 'POST', '/v1/accounts', { ...sameName, invite: newInviteCode() });
    expect(probe).toMatchObject({ status: 403, body: INVITE_REFUSAL });
    const taken = await http(t.url, 'POST', '/v1/accounts', { ...sameName, invite: code });
    expect(taken).toMatchObject({
      status: 409,
      body: { code: 'ALREADY_EXISTS', details: { taken: 'loginName' } },
    });
    expect(await usesLeft(t, code)).toBe(1);
  });

  it('two registrations racing for a single-use code: exactly one account', async () => {
    // A store that holds every registration until both have reached it (as a slower store could), so the
    // two requests truly overlap: a check of the invite made anywhere before the store's own atomic step
    // would pass for both.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'hale-registration-'));
    const inner = await openSqliteStore({ dataDir });
    let arrived = 0;
    let answered = 0;
    let release = (): void => undefined;
    const bothThere = new Promise<void>((resolve) => (release = resolve));
    const progress = (): void => {
      if (arrived + answered >= 2) release();
    };
    const store: SyncStore = {
      ...inner,
      accounts: {
        ...inner.accounts,
        register: async (...args) => {
          arrived++;
          progress();
          await bothThere;
          return inner.accounts.register(...args);
        },
      },
    };
    const server = await buildApp({
      store,
      config: { registration: 'invite', rateLimitPerAddress: { perSecond: 1e6, burst: 1e6 } },
    });
    try {
      const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const code = newInviteCode();
      await inner.invites.put({
        codeHash: inviteCodeHash(code),
        uses: 1,
        usesLeft: 1,
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        createdAt: new Date().toISOString(),
      });
      const before = rowCounts(inner);
      const bodies = await Promise.all([makeRegistration(), makeRegistration()]);
      const results = await Promise.all(
        bodies.map(({ body }) =>
          http(url, 'POST', '/v1/accounts', { ...body, invite: code }).finally(() => {
            answered++;
            progress();
          }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 403]);
      expect(results.find((r) => r.status === 403)?.body).toMatchObject(INVITE_REFUSAL);
      const after = rowCounts(inner);
      expect([after['accounts'], after['devices']]).toEqual([
        (before['accounts'] ?? 0) + 1,
        (before['devices'] ?? 0) + 1,
      ]);
      expect((await inner.invites.list())[0]?.usesLeft).toBe(0);
    } finally {
      await server.close();
      await inner.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
