// The account answer relays the account's own signature over its wrapping key, so other accounts can
// check the key they wrap stream keys to instead of trusting the server with it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import { type HttpAccountResponse, wrappingKeySignaturePayload } from '@hale/protocol';
import { base64urlDecode, base64urlEncode, verifyCanonical } from '@hale/crypto';
import {
  ed,
  getAccountAnswer,
  http,
  makeRegistration,
  registerAccount,
  sessionToken,
  sign,
  startServer,
  type TestServer,
} from './testing/harness';

/** Whether `answer.wrappingKeySig` is the answer's identity key over the answer's wrapping key. */
const verifies = async (answer: HttpAccountResponse): Promise<boolean> => {
  if (answer.wrappingKeySig === undefined) return false;
  const identity = base64urlDecode(answer.identityPublicKey);
  const sig = base64urlDecode(answer.wrappingKeySig);
  if (!identity.ok || !sig.ok) return false;
  const payload = wrappingKeySignaturePayload(answer);
  return verifyCanonical(ed, identity.value, payload.label, payload, sig.value);
};

describe('account answer: the wrapping key, signed by the account', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    await t.stop();
  });

  const getAccount = (accountId: string) => getAccountAnswer(t, accountId);

  it('relays the signature given at registration, and it verifies with the identity key', async () => {
    const account = await registerAccount(t, 'provider');
    const answer = await getAccount(account.accountId);
    expect(answer.wrappingPublicKey).toBe(base64urlEncode(account.keys.wrapping.publicKey));
    expect(answer.wrappingKeySig).toBeDefined();
    expect(await verifies(answer)).toBe(true);
    // It vouches for that key only: the same signature does not verify another key.
    const substituted = { ...answer, wrappingPublicKey: base64urlEncode(nacl.box.keyPair().publicKey) };
    expect(await verifies(substituted)).toBe(false);
  });

  it('refuses a registration whose wrapping-key signature does not verify, storing nothing', async () => {
    const { body, account } = await makeRegistration('provider');
    const other = base64urlEncode(nacl.box.keyPair().publicKey);
    const wrongSig = await sign(
      account.keys.identity.secretKey,
      wrappingKeySignaturePayload({ ...body.account, wrappingPublicKey: other }),
    );
    const res = await http(t.url, 'POST', '/v1/accounts', { ...body, wrappingKeySig: wrongSig });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'BAD_SIGNATURE' });
    expect(await t.store.accounts.get(account.accountId)).toBeNull();
  });

  it('answers an account registered without the signature without one, until the account publishes it', async () => {
    const { body, account } = await makeRegistration('provider');
    const { wrappingKeySig, ...legacy } = body;
    expect((await http(t.url, 'POST', '/v1/accounts', legacy)).status).toBe(201);
    expect((await getAccount(account.accountId)).wrappingKeySig).toBeUndefined();

    const token = await sessionToken(t, account.device);
    // Only a signature over the key registered with the account is taken.
    const forOther = await sign(
      account.keys.identity.secretKey,
      wrappingKeySignaturePayload({
        ...body.account,
        wrappingPublicKey: base64urlEncode(nacl.box.keyPair().publicKey),
      }),
    );
    const refused = await http(t.url, 'PUT', '/v1/accounts/me/wrapping-key', { sig: forOther }, token);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 'BAD_SIGNATURE' });
    expect((await getAccount(account.accountId)).wrappingKeySig).toBeUndefined();
    // Without a session: refused.
    const anonymous = await http(t.url, 'PUT', '/v1/accounts/me/wrapping-key', { sig: wrappingKeySig });
    expect(anonymous.status).toBe(401);

    const published = await http(
      t.url,
      'PUT',
      '/v1/accounts/me/wrapping-key',
      { sig: wrappingKeySig },
      token,
    );
    expect(published).toEqual({ status: 200, body: { accountId: account.accountId } });
    const answer = await getAccount(account.accountId);
    expect(answer.wrappingKeySig).toBe(wrappingKeySig);
    expect(await verifies(answer)).toBe(true);
  });
});
