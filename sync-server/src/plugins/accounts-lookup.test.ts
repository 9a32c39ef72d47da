// The batched account lookup (`POST /v1/accounts/lookup`, accounts.ts) against a real server and SQLite
// file: each account answered exactly as the single-account route answers it, unknown ones named, the
// answer kept within its byte limit by deferring what no longer fits, and every refusal (no session, too
// many ids, malformed ids, an oversized body, the address rate limit) answered with its code.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  HttpAccountsLookupResponse,
  MAX_ACCOUNT_LOOKUP_ANSWER_BYTES,
  MAX_ACCOUNTS_PER_LOOKUP,
  MAX_HTTP_BODY_BYTES,
  validate,
} from '@hale/protocol';
import {
  base64urlEncode,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  randomBytes,
} from '@hale/crypto';
import {
  addDevice,
  getAccountAnswer,
  http,
  makeDeviceCert,
  registerAccount,
  revokeDevice,
  rowCounts,
  sessionToken,
  startServer,
  type TestAccount,
  type TestServer,
} from '../testing/harness';

const URL_PATH = '/v1/accounts/lookup';

/** An account id no account has. */
const strangerId = () => deriveAccountKeys(generateRootSecret()).accountId;

describe('POST /v1/accounts/lookup', () => {
  let t: TestServer;
  let caller: TestAccount;
  let token: string;
  beforeEach(async () => {
    t = await startServer();
    caller = await registerAccount(t, 'provider');
    token = await sessionToken(t, caller.device);
  });
  afterEach(async () => {
    await t.stop();
  });

  /** `bearer` '' sends no Authorization header. */
  const lookup = (body: unknown, bearer = token) => http(t.url, 'POST', URL_PATH, body, bearer);

  it('answers each account as GET /v1/accounts/:accountId does, in the order asked, and names unknown ids', async () => {
    const a = await registerAccount(t);
    const b = await registerAccount(t);
    const second = await addDevice(t, a);
    const third = await addDevice(t, a);
    expect((await revokeDevice(t, a, third)).status).toBe(200);
    const nobody = strangerId();
    const res = await lookup({ accountIds: [b.accountId, nobody, a.accountId, caller.accountId] });
    expect(res.status).toBe(200);
    const checked = validate(HttpAccountsLookupResponse, res.body);
    if (!checked.ok) throw new Error(checked.error.message);
    expect(checked.value).toEqual({
      accounts: [
        await getAccountAnswer(t, b.accountId),
        await getAccountAnswer(t, a.accountId),
        await getAccountAnswer(t, caller.accountId),
      ],
      unknown: [nobody],
      deferred: [],
    });
    const answerA = checked.value.accounts[1]!;
    expect(answerA.devices.map((d) => d.cert.deviceId).sort()).toEqual(
      [a.device.deviceId, second.deviceId].sort(),
    );
    expect(answerA.revokedDevices).toEqual([third.deviceId]);
  });

  it('refuses a request without a session, or with a token that is not one, and reads nothing', async () => {
    const a = await registerAccount(t);
    const counts = rowCounts(t.store);
    expect(await lookup({ accountIds: [a.accountId] }, '')).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHENTICATED' },
    });
    expect(await lookup({ accountIds: [a.accountId] }, 'not-a-session-token-at-all')).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHENTICATED' },
    });
    expect(rowCounts(t.store)).toEqual(counts);
  });

  it('refuses more than MAX_ACCOUNTS_PER_LOOKUP ids as TOO_LARGE', async () => {
    const ids = Array.from({ length: MAX_ACCOUNTS_PER_LOOKUP + 1 }, strangerId);
    expect(await lookup({ accountIds: ids })).toMatchObject({ status: 413, body: { code: 'TOO_LARGE' } });
    // The bound itself is taken.
    const res = await lookup({ accountIds: ids.slice(0, MAX_ACCOUNTS_PER_LOOKUP) });
    expect(res.status).toBe(200);
    expect((res.body as { unknown: string[] }).unknown).toHaveLength(MAX_ACCOUNTS_PER_LOOKUP);
  });

  it('refuses malformed ids, a repeated id, an empty list and unknown fields as BAD_MESSAGE', async () => {
    const a = await registerAccount(t);
    for (const body of [
      { accountIds: ['not an account id'] },
      { accountIds: [`${a.accountId}x`] },
      { accountIds: [a.accountId.slice(1)] },
      { accountIds: [42] },
      { accountIds: [a.accountId, a.accountId] },
      { accountIds: [] },
      { accountIds: a.accountId },
      { accountIds: [a.accountId], devices: true },
      {},
    ]) {
      expect(await lookup(body), JSON.stringify(body)).toMatchObject({
        status: 400,
        body: { code: 'BAD_MESSAGE' },
      });
    }
  });

  it('refuses a body over MAX_HTTP_BODY_BYTES as TOO_LARGE', async () => {
    const res = await fetch(`${t.url}${URL_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ accountIds: [caller.accountId], pad: 'y'.repeat(MAX_HTTP_BODY_BYTES) }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 'TOO_LARGE' });
  });

  it('is counted against the address rate limit like every route', async () => {
    const limited = await startServer({ config: { rateLimitPerAddress: { perSecond: 1, burst: 4 } } });
    try {
      const a = await registerAccount(limited);
      const bearer = await sessionToken(limited, a.device);
      // Registration, challenge and session took three of the four; the clock does not move.
      expect((await http(limited.url, 'POST', URL_PATH, { accountIds: [a.accountId] }, bearer)).status).toBe(
        200,
      );
      expect(await http(limited.url, 'POST', URL_PATH, { accountIds: [a.accountId] }, bearer)).toMatchObject({
        status: 429,
        body: { code: 'RATE_LIMITED' },
      });
    } finally {
      await limited.stop();
    }
  });

  it('keeps its answer within MAX_ACCOUNT_LOOKUP_ANSWER_BYTES, deferring in order what no longer fits', async () => {
    // Accounts at the schema's most devices, with the longest names: a few of them fill an answer. Only
    // their size matters here, so the stored certificates are copies of one under other device ids.
    const big: TestAccount[] = [];
    const at = new Date(t.clock.now).toISOString();
    for (let i = 0; i < 12; i++) {
      const account = await registerAccount(t);
      const template = await makeDeviceCert(account, generateDeviceKeys(), 'x'.repeat(100));
      for (let d = 1; d < 1000; d++) {
        const deviceId = base64urlEncode(randomBytes(16));
        await t.store.devices.put({
          deviceId,
          accountId: account.accountId,
          cert: { ...template, cert: { ...template.cert, deviceId } },
          devicePublicKey: template.cert.devicePublicKey,
          createdAt: at,
        });
      }
      big.push(account);
    }
    const nobody = strangerId();
    const asked = [nobody, ...big.map((a) => a.accountId)];
    const res = await fetch(`${t.url}${URL_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ accountIds: asked }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_ACCOUNT_LOOKUP_ANSWER_BYTES);
    const checked = validate(HttpAccountsLookupResponse, JSON.parse(text));
    if (!checked.ok) throw new Error(checked.error.message);
    const { accounts, unknown, deferred } = checked.value;
    expect(accounts.length).toBeGreaterThan(0);
    expect(deferred.length).toBeGreaterThan(0);
    expect(unknown).toEqual([nobody]);
    // In the order asked: the answered ones first, the deferred ones after them.
    expect([...accounts.map((a) => a.accountId), ...deferred]).toEqual(big.map((a) => a.accountId));
    for (const a of accounts) expect(a.devices).toHaveLength(1000);
    // Asking again for the deferred ones answers them (or defers again, never dropping one).
    const again = await lookup({ accountIds: deferred });
    const next = validate(HttpAccountsLookupResponse, again.body);
    if (!next.ok) throw new Error(next.error.message);
    expect([...next.value.accounts.map((a) => a.accountId), ...next.value.deferred]).toEqual(deferred);
    expect(next.value.accounts.length).toBeGreaterThan(0);
  });
});
