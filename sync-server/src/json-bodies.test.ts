// HTTP JSON bodies are read as the WebSocket frames are: UTF-8 only (a body declared in another charset, or
// whose bytes are not UTF-8, is refused rather than read as something else), and a member name repeated
// within an object, or named __proto__, is refused naming the member rather than the last copy winning
// or the body being called "not valid JSON". Every refusal is the typed body at the table's status.
import { afterEach, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@hale/protocol';
import { registerAccount, startServer, type TestServer } from './testing/harness';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

const post = async (body: string | Uint8Array, contentType = 'application/json') => {
  const res = await fetch(`${t!.url}/v1/auth/challenge`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
};

const refused = (issue: { path: string; reason: string | RegExp }) => ({
  status: ERROR_CODES.BAD_MESSAGE.http,
  type: expect.stringMatching(/^application\/json/) as unknown,
  body: {
    code: 'BAD_MESSAGE',
    message: expect.any(String) as unknown,
    details: { issues: [{ path: issue.path, reason: expect.stringMatching(issue.reason) as unknown }] },
  },
});

describe('JSON request bodies', () => {
  it('refuses a member name repeated within an object, naming it', async () => {
    t = await startServer();
    const a = await registerAccount(t);
    const id = a.device.deviceId;
    expect(await post(`{"deviceId":"${'A'.repeat(22)}","deviceId":"${id}"}`)).toStrictEqual(
      refused({ path: '/deviceId', reason: /^duplicate member name/ }),
    );
    // Spelt with an escape, the same name.
    expect(await post(`{"deviceId":"${id}","\\u0064eviceId":"${id}"}`)).toStrictEqual(
      refused({ path: '/deviceId', reason: /^duplicate member name/ }),
    );
    expect((await post(`{"deviceId":"${id}"}`)).status).toBe(200);
    // A leading byte-order mark is taken, as before the strict reading.
    expect((await post(`\uFEFF{"deviceId":"${id}"}`)).status).toBe(200);
  });

  it('refuses unparsed a body with more structure than any request (200,000 members, deep nesting)', async () => {
    t = await startServer();
    const members = `{${Array.from({ length: 200_000 }, (_, i) => `"${i.toString(36)}":1`).join(',')}}`;
    expect(members.length).toBeLessThan(2 * 1024 * 1024);
    expect(await post(members)).toStrictEqual(
      refused({ path: '/', reason: /^holds more than 262144 values/ }),
    );
    expect(await post(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).toStrictEqual(
      refused({ path: '/', reason: /^nests objects and arrays deeper than 32/ }),
    );
  });

  it('names a repeated member deep in a body by a pointer cut to 200 characters', async () => {
    t = await startServer();
    // Within the nesting a body may have (MAX_CLIENT_FRAME_DEPTH), a path of 30 × 21 characters.
    const depth = 30;
    const answer = await post(`${'{"abcdefghijklmnopqrst":'.repeat(depth)}{"x":1,"x":2}${'}'.repeat(depth)}`);
    expect(answer.status).toBe(ERROR_CODES.BAD_MESSAGE.http);
    const { details } = answer.body as { details: { issues: Array<{ path: string }> } };
    expect(details.issues[0]!.path.length).toBeLessThanOrEqual(200);
    expect(JSON.stringify(answer.body).length).toBeLessThan(2_000);
  });

  it('refuses a __proto__ member naming it, not as invalid JSON', async () => {
    t = await startServer();
    const a = await registerAccount(t);
    const answer = await post(`{"deviceId":"${a.device.deviceId}","__proto__":{"admin":true}}`);
    expect(answer).toStrictEqual(refused({ path: '/__proto__', reason: /__proto__/ }));
    expect((answer.body as { message: string }).message).not.toMatch(/not valid JSON/);
  });

  it('refuses a body declared in a charset other than UTF-8, and one whose bytes are not UTF-8', async () => {
    t = await startServer();
    const a = await registerAccount(t);
    const body = `{"deviceId":"${a.device.deviceId}"}`;
    for (const type of [
      'application/json; charset=latin1',
      'application/json; charset=ISO-8859-1',
      'application/json;charset="utf-16"',
      // Named twice, even alike: not read as the first (which a reader of the last would not share).
      'application/json; charset=utf-8; charset=latin1',
      'application/json; charset=latin1; charset=utf-8',
      'application/json; charset=utf-8; CHARSET="utf-8"',
    ]) {
      expect(await post(body, type), type).toStrictEqual(refused({ path: '/', reason: /charset/ }));
    }
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=UTF-8',
      'application/json;charset="utf-8"',
      'application/json; charset=utf8',
    ]) {
      expect((await post(body, type)).status, type).toBe(200);
    }
    const notUtf8 = Buffer.concat([
      Buffer.from('{"deviceId":"'),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from('"}'),
    ]);
    expect(await post(notUtf8)).toStrictEqual(refused({ path: '/', reason: /UTF-8/ }));
  });
});
