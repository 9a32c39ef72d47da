// Registration with a small-order identity key, over real HTTP against a real server and SQLite file. The
// neutral point (y = 1) as a public key verifies (R = neutral, S = 0) for every message, so whoever names
// it can sign a registration, its device certificate and its wraps without any secret key; the shared
// Ed25519 input checks refuse such keys, so the registration is refused as unsigned and nothing is stored.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accountIdFromIdentityKey, base64urlEncode } from '@hale/crypto';
import { http, makeRegistration, rowCounts, startServer, type TestServer } from '../testing/harness';

const NEUTRAL = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));
/** R = the neutral point, S = 0: valid under the neutral key for any message, by the curve equation alone. */
const ANY_MESSAGE_SIG = base64urlEncode(Uint8Array.from({ length: 64 }, (_, i) => (i === 0 ? 1 : 0)));

describe('registration refuses a small-order identity key', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    await t.stop();
  });

  it('the neutral point as identity key, every signature (R = neutral, S = 0): BAD_SIGNATURE, nothing stored', async () => {
    const { body } = await makeRegistration();
    const accountId = accountIdFromIdentityKey(NEUTRAL);
    const identityPublicKey = base64urlEncode(NEUTRAL);
    const forged = {
      account: { ...body.account, accountId, identityPublicKey },
      device: {
        ...body.device,
        cert: { ...body.device.cert, accountId, identityPublicKey },
        sig: ANY_MESSAGE_SIG,
      },
      sig: ANY_MESSAGE_SIG,
      wrappingKeySig: ANY_MESSAGE_SIG,
      wrappedRootSig: ANY_MESSAGE_SIG,
    };
    const before = rowCounts(t.store);
    const res = await http(t.url, 'POST', '/v1/accounts', forged);
    expect(res).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
    expect(rowCounts(t.store)).toEqual(before);
    expect(await t.store.accounts.get(accountId)).toBeNull();
  });

  it('the same registration under its genuine identity key is taken (the forgery alone is what is refused)', async () => {
    const { body, account } = await makeRegistration();
    const res = await http(t.url, 'POST', '/v1/accounts', body);
    expect(res.status).toBe(201);
    expect(await t.store.accounts.get(account.accountId)).not.toBeNull();
  });
});
