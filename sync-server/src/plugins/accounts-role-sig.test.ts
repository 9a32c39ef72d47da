// The account's signature over its role (`roleSig`, ROLE_SIG_VERSION): verified at registration before
// anything is stored, kept, relayed with the account answer (single and lookup), part of what a replayed
// registration must match. Real HTTP against a real server and SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_SIG_VERSION, roleSignaturePayload } from '@hale/protocol';
import { http, makeRegistration, rowCounts, sign, startServer, type TestServer } from '../testing/harness';

let t: TestServer;

beforeAll(async () => {
  t = await startServer();
});

afterAll(async () => {
  await t.stop();
});

const post = (body: unknown) => http(t.url, 'POST', '/v1/accounts', body);

/** A registration with the role signature, as a client of ROLE_SIG_VERSION sends it. */
const withRoleSig = async (role: 'patient' | 'provider' = 'provider') => {
  const { body, account } = await makeRegistration(role);
  const roleSig = await sign(account.keys.identity.secretKey, roleSignaturePayload(body.account));
  return { body: { ...body, roleSig }, account, roleSig };
};

describe('the role signature', () => {
  it('the server lists ROLE_SIG_VERSION', async () => {
    const info = await http(t.url, 'GET', '/v1/server');
    expect((info.body as { versions: number[] }).versions).toContain(ROLE_SIG_VERSION);
  });

  it('is kept and relayed with the account, and replays must carry the same one', async () => {
    const { body, account, roleSig } = await withRoleSig('provider');
    expect((await post(body)).status).toBe(201);
    const answer = await http(t.url, 'GET', `/v1/accounts/${account.accountId}`);
    expect(answer.body).toMatchObject({ role: 'provider', roleSig });
    // A replay without it is another registration: refused.
    const { roleSig: _dropped, ...without } = body;
    expect((await post(without)).status).toBe(409);
    expect((await post(body)).status).toBe(201);
  });

  it('a signature over another role, or by another key, is BAD_SIGNATURE with nothing stored', async () => {
    const { body, account } = await makeRegistration('patient');
    const otherRole = await sign(
      account.keys.identity.secretKey,
      roleSignaturePayload({ ...body.account, role: 'provider' }),
    );
    const stranger = await makeRegistration('patient');
    const otherKey = await sign(stranger.account.keys.identity.secretKey, roleSignaturePayload(body.account));
    for (const roleSig of [otherRole, otherKey]) {
      const before = rowCounts(t.store);
      const res = await post({ ...body, roleSig });
      expect(res).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
      expect(rowCounts(t.store)).toEqual(before);
    }
    expect(await t.store.accounts.get(account.accountId)).toBeNull();
  });

  it('an account registered without it is answered without it', async () => {
    const { body, account } = await makeRegistration('patient');
    expect((await post(body)).status).toBe(201);
    const answer = await http(t.url, 'GET', `/v1/accounts/${account.accountId}`);
    expect(answer.status).toBe(200);
    expect(answer.body).not.toHaveProperty('roleSig');
  });
});
