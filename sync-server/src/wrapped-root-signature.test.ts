// Generation 0 of an account's passphrase wrap is signed by the account like every later one, at
// registration (required). The server stores only a signature that verifies with the account's identity key
// over exactly the wrap it registers, so it can never vouch for another wrap or relabel a later one (against
// a real server and SQLite file).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpWrappedRootState, validate, wrappedRootSignaturePayload } from '@hale/protocol';
import { TEST_KDF, wrapRootWithPassphrase } from '@hale/crypto';
import {
  http,
  makeRegistration,
  registerAccount,
  sessionToken,
  sign,
  startServer,
  type TestAccount,
  type TestServer,
} from './testing/harness';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.stop();
});

const PATH = '/v1/accounts/me/wrapped-root';

const wrappedRootOf = async (token: string, server: TestServer = t): Promise<HttpWrappedRootState> => {
  const res = await http(server.url, 'GET', PATH, undefined, token);
  expect(res.status).toBe(200);
  const checked = validate(HttpWrappedRootState, res.body);
  if (!checked.ok) throw new Error(checked.error.message);
  return checked.value;
};

const signWrap = (
  account: TestAccount,
  wrappedRoot: HttpWrappedRootState['wrappedRoot'],
  gen: number,
  signer: TestAccount = account,
) =>
  sign(
    signer.keys.identity.secretKey,
    wrappedRootSignaturePayload({ accountId: account.accountId, wrappedRoot, gen }),
  );

describe('registration', () => {
  it('refuses a registration without the generation-0 signature, storing nothing', async () => {
    const { body, account } = await makeRegistration('patient');
    const { wrappedRootSig: _left, ...unsigned } = body;
    const res = await http(t.url, 'POST', '/v1/accounts', unsigned);
    expect(res).toMatchObject({ status: 400, body: { code: 'BAD_MESSAGE' } });
    expect(await t.store.accounts.get(account.accountId)).toBeNull();
  });

  it('stores the generation-0 signature it carries and serves it with the wrap', async () => {
    const { body, account } = await makeRegistration('patient');
    expect((await http(t.url, 'POST', '/v1/accounts', body)).status).toBe(201);
    const state = await wrappedRootOf(await sessionToken(t, account.device));
    expect(state).toEqual({
      accountId: account.accountId,
      wrappedRoot: body.account.wrappedRoot,
      gen: 0,
      sig: body.wrappedRootSig,
    });
    const joined = await http(t.url, 'POST', '/v1/join', { loginName: account.loginName });
    expect(joined.body).toEqual(state);
  });

  it('refuses a generation-0 signature that does not verify over the registered wrap, storing nothing', async () => {
    const { body, account } = await makeRegistration('patient');
    const stranger = await registerAccount(t);
    const otherWrap = (await wrapRootWithPassphrase(account.root, 'another passphrase', TEST_KDF)) as never;
    const forged = [
      // Over another wrap of the same root, over generation 1, by another account's key.
      await signWrap(account, otherWrap, 0),
      await signWrap(account, body.account.wrappedRoot, 1),
      await signWrap(account, body.account.wrappedRoot, 0, stranger),
    ];
    for (const wrappedRootSig of forged) {
      const res = await http(t.url, 'POST', '/v1/accounts', { ...body, wrappedRootSig });
      expect(res).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
      expect(await t.store.accounts.get(account.accountId)).toBeNull();
    }
    expect((await http(t.url, 'POST', '/v1/accounts', body)).status).toBe(201);
  });
});

describe('generation 0 after registration', () => {
  it('is not taken again: a PUT at generation 0 is CONFLICT, the wrap unchanged', async () => {
    const account = await registerAccount(t);
    const token = await sessionToken(t, account.device);
    const generation0 = await wrappedRootOf(token);
    const sig = await signWrap(account, generation0.wrappedRoot, 0);
    const again = await http(
      t.url,
      'PUT',
      PATH,
      { wrappedRoot: generation0.wrappedRoot, gen: 0, sig },
      token,
    );
    expect(again).toMatchObject({ status: 409, body: { code: 'CONFLICT', details: { gen: 0 } } });
    const next = (await wrapRootWithPassphrase(account.root, 'second passphrase', TEST_KDF)) as never;
    const changed = await http(
      t.url,
      'PUT',
      PATH,
      { wrappedRoot: next, gen: 1, sig: await signWrap(account, next, 1) },
      token,
    );
    expect(changed.status).toBe(200);
    const late = await http(t.url, 'PUT', PATH, { wrappedRoot: generation0.wrappedRoot, gen: 0, sig }, token);
    expect(late).toMatchObject({ status: 409, body: { code: 'CONFLICT', details: { gen: 1 } } });
    expect(await wrappedRootOf(token)).toMatchObject({ gen: 1, wrappedRoot: next });
  });
});
