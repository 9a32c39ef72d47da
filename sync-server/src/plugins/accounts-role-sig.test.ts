// The account's signature over its role (`roleSig`): verified at registration before
// anything is stored, kept, relayed with the account answer (single and lookup), part of what a replayed
// registration must match; published later by an account registered without it (`roleSig` beside `sig` on
// `PUT /v1/accounts/me/wrapping-key`), verified against the stored account, never replaced. Real HTTP
// against a real server and SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64urlEncode } from '@hale/crypto';
import { roleSignaturePayload } from '@hale/protocol';
import {
  http,
  makeRegistration,
  registerAccount,
  rowCounts,
  sessionToken,
  sign,
  startServer,
  type TestServer,
} from '../testing/harness';

let t: TestServer;

beforeAll(async () => {
  t = await startServer();
});

afterAll(async () => {
  await t.stop();
});

const post = (body: unknown) => http(t.url, 'POST', '/v1/accounts', body);

/** A registration with the role signature, as a client sends it. */
const withRoleSig = async (role: 'patient' | 'provider' = 'provider') => {
  const { body, account } = await makeRegistration(role);
  const roleSig = await sign(account.keys.identity.secretKey, roleSignaturePayload(body.account));
  return { body: { ...body, roleSig }, account, roleSig };
};

describe('the role signature', () => {
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

  describe('published later by an account registered without it', () => {
    /** A registered account without `roleSig` (as an older client registered), with a session and sigs. */
    const legacyAccount = async (role: 'patient' | 'provider' = 'patient') => {
      const { body, account } = await makeRegistration(role);
      expect((await post(body)).status).toBe(201);
      const token = await sessionToken(t, account.device);
      const roleSig = await sign(account.keys.identity.secretKey, roleSignaturePayload(body.account));
      return { body, account, token, roleSig, wrappingKeySig: body.wrappingKeySig };
    };
    const publish = (token: string | undefined, body: unknown) =>
      http(t.url, 'PUT', '/v1/accounts/me/wrapping-key', body, token);
    const served = async (accountId: string) =>
      (await http(t.url, 'GET', `/v1/accounts/${accountId}`)).body as { roleSig?: string };

    it('is taken beside the wrapping-key signature and relayed from then on', async () => {
      const { account, token, roleSig, wrappingKeySig } = await legacyAccount('provider');
      expect(await served(account.accountId)).not.toHaveProperty('roleSig');
      const res = await publish(token, { sig: wrappingKeySig, roleSig });
      expect(res).toEqual({ status: 200, body: { accountId: account.accountId } });
      expect(await served(account.accountId)).toMatchObject({ role: 'provider', roleSig });
      // Sent again (a lost answer, or another device of the account): the same, nothing else changes.
      expect((await publish(token, { sig: wrappingKeySig, roleSig })).status).toBe(200);
      expect((await served(account.accountId)).roleSig).toBe(roleSig);
    });

    it("a signature over another role, or by another account's key, is BAD_SIGNATURE with nothing stored", async () => {
      const { body, account, token, wrappingKeySig } = await legacyAccount('patient');
      const otherRole = await sign(
        account.keys.identity.secretKey,
        roleSignaturePayload({ ...body.account, role: 'provider' }),
      );
      const stranger = await registerAccount(t, 'patient');
      // The stranger's own, valid role signature: signed by its key over its own account.
      const strangersOwn = await sign(
        stranger.keys.identity.secretKey,
        roleSignaturePayload({
          accountId: stranger.accountId,
          identityPublicKey: base64urlEncode(stranger.keys.identity.publicKey),
          role: 'patient',
        }),
      );
      const otherKey = await sign(stranger.keys.identity.secretKey, roleSignaturePayload(body.account));
      for (const roleSig of [otherRole, otherKey, strangersOwn, 'A'.repeat(86)]) {
        const before = rowCounts(t.store);
        const res = await publish(token, { sig: wrappingKeySig, roleSig });
        expect(res).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
        expect(rowCounts(t.store)).toEqual(before);
      }
      expect(await served(account.accountId)).not.toHaveProperty('roleSig');
      expect((await t.store.accounts.get(account.accountId))?.roleSig).toBeUndefined();
    });

    it('a stored one is never replaced: a different signature is refused and the stored one stays', async () => {
      const registered = await withRoleSig('patient');
      expect((await post(registered.body)).status).toBe(201);
      const token = await sessionToken(t, registered.account.device);
      const flipped = await sign(
        registered.account.keys.identity.secretKey,
        roleSignaturePayload({ ...registered.body.account, role: 'provider' }),
      );
      const res = await publish(token, { sig: registered.body.wrappingKeySig, roleSig: flipped });
      expect(res).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
      expect((await served(registered.account.accountId)).roleSig).toBe(registered.roleSig);
      // The store itself keeps the first one whatever it is handed later (the route verifies first).
      await t.store.accounts.setRoleSig(registered.account.accountId, 'another-signature');
      expect((await t.store.accounts.get(registered.account.accountId))?.roleSig).toBe(registered.roleSig);
    });

    it('without a session, or without the wrapping-key signature, nothing is taken', async () => {
      const { account, token, roleSig, wrappingKeySig } = await legacyAccount();
      expect((await publish(undefined, { sig: wrappingKeySig, roleSig })).status).toBe(401);
      expect((await publish(token, { roleSig })).status).toBe(400);
      expect(await served(account.accountId)).not.toHaveProperty('roleSig');
    });
  });
});
