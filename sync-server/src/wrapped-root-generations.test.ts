// A passphrase change is taken at any generation above the stored one, when signed by the account at that
// generation: a device whose generation is ahead of the server's (the server was restored from an older
// backup) publishes past its own, and must not be refused. A replay, an older generation or a signature
// over another generation is still refused, changing nothing (against a real server and SQLite file).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpWrappedRootState, validate, wrappedRootSignaturePayload } from '@hale/protocol';
import { TEST_KDF, wrapRootWithPassphrase } from '@hale/crypto';
import {
  http,
  registerAccount,
  sessionToken,
  sign,
  startServer,
  type TestAccount,
  type TestServer,
} from './testing/harness';
import { MAX_WRAPPED_ROOT_STEP } from './plugins/accounts';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.stop();
});

const PATH = '/v1/accounts/me/wrapped-root';

const wrappedRootOf = async (token: string): Promise<HttpWrappedRootState> => {
  const res = await http(t.url, 'GET', PATH, undefined, token);
  expect(res.status).toBe(200);
  const checked = validate(HttpWrappedRootState, res.body);
  if (!checked.ok) throw new Error(checked.error.message);
  return checked.value;
};

const wrapOf = async (account: TestAccount, passphrase: string) =>
  (await wrapRootWithPassphrase(account.root, passphrase, TEST_KDF)) as HttpWrappedRootState['wrappedRoot'];

const put = async (
  token: string,
  account: TestAccount,
  wrappedRoot: HttpWrappedRootState['wrappedRoot'],
  gen: number,
  { signedGen = gen, signer = account }: { signedGen?: number; signer?: TestAccount } = {},
) => {
  const payload = wrappedRootSignaturePayload({ accountId: account.accountId, wrappedRoot, gen: signedGen });
  const sig = await sign(signer.keys.identity.secretKey, payload);
  return http(t.url, 'PUT', PATH, { wrappedRoot, gen, sig }, token);
};

describe('a passphrase change past the next generation', () => {
  it('is taken when signed at its generation, and served as the current wrap', async () => {
    const account = await registerAccount(t);
    const token = await sessionToken(t, account.device);
    expect((await wrappedRootOf(token)).gen).toBe(0);
    const ahead = await wrapOf(account, 'a device ahead of the server');
    expect(await put(token, account, ahead, 3)).toEqual({
      status: 200,
      body: { accountId: account.accountId, gen: 3 },
    });
    const served = await wrappedRootOf(token);
    expect(served).toMatchObject({ accountId: account.accountId, gen: 3, wrappedRoot: ahead });
    expect((await t.store.accounts.get(account.accountId))?.wrappedRootSig).toBe(served.sig);
    // The next one after it, as ever.
    const next = await wrapOf(account, 'the one after it');
    expect(await put(token, account, next, 4)).toMatchObject({ status: 200, body: { gen: 4 } });
  });

  it('a replay, an older generation, or one signed over another generation or by another account: refused, nothing changed', async () => {
    const account = await registerAccount(t);
    const stranger = await registerAccount(t);
    const token = await sessionToken(t, account.device);
    const held = await wrapOf(account, 'the stored generation');
    expect((await put(token, account, held, 2)).status).toBe(200);
    const before = await wrappedRootOf(token);
    const other = await wrapOf(account, 'a wrap the account did not make');
    for (const gen of [2, 1]) {
      expect(await put(token, account, other, gen)).toMatchObject({
        status: 409,
        body: { code: 'CONFLICT', details: { gen: 2 } },
      });
    }
    expect(await put(token, account, other, 5, { signedGen: 4 })).toMatchObject({
      status: 401,
      body: { code: 'BAD_SIGNATURE' },
    });
    expect(await put(token, account, other, 5, { signer: stranger })).toMatchObject({
      status: 401,
      body: { code: 'BAD_SIGNATURE' },
    });
    expect(await wrappedRootOf(token)).toEqual(before);
  });

  it('one further than MAX_WRAPPED_ROOT_STEP past the stored generation: refused, so the range cannot be used up', async () => {
    const account = await registerAccount(t);
    const token = await sessionToken(t, account.device);
    const jump = await wrapOf(account, 'to the top of the range');
    for (const gen of [MAX_WRAPPED_ROOT_STEP + 1, 2 ** 31 - 1]) {
      expect(await put(token, account, jump, gen)).toMatchObject({
        status: 400,
        body: { code: 'BAD_MESSAGE', details: { gen: 0 } },
      });
    }
    expect((await wrappedRootOf(token)).gen).toBe(0);
    // Up to the step, taken; the next change from there as ever.
    expect(await put(token, account, jump, MAX_WRAPPED_ROOT_STEP)).toMatchObject({ status: 200 });
    const next = await wrapOf(account, 'the next one');
    expect(await put(token, account, next, MAX_WRAPPED_ROOT_STEP + 1)).toMatchObject({ status: 200 });
  });
});
