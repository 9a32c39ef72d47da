// Device authentication refusals, attempted against a real server on a loopback port: an answer to the
// sync socket's challenge or to an HTTP session challenge that the device's key did not sign over that
// challenge is refused BAD_SIGNATURE and yields no session; an HTTP session token stops working once
// SESSION_TTL_MS has passed on the server's clock (SESSION_EXPIRED).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpChallengeResponse, SESSION_TTL_MS, authSignaturePayload, validate } from '@hale/protocol';
import { base64urlEncode, randomBytes } from '@hale/crypto';
import {
  http,
  openWs,
  registerAccount,
  rowCounts,
  sessionToken,
  sign,
  startServer,
  type TestDevice,
  type TestServer,
  type WsClient,
} from './testing/harness';

/** Signatures a device's challenge answer might carry that its own key did not make over that challenge. */
const wrongSignatures = (
  device: TestDevice,
  other: TestDevice,
  challenge: { nonce: string; serverId: string },
) => {
  const payload = { nonce: challenge.nonce, deviceId: device.deviceId, serverId: challenge.serverId };
  return {
    // The right payload, signed by another device's key (one the server also knows).
    'by another key': () => sign(other.keys.secretKey, authSignaturePayload(payload)),
    // The device's own key, over another nonce (an answer to an earlier challenge, replayed).
    'over another nonce': () =>
      sign(
        device.keys.secretKey,
        authSignaturePayload({ ...payload, nonce: base64urlEncode(randomBytes(32)) }),
      ),
  };
};

describe('the sync socket refuses an auth its device did not sign', () => {
  let t: TestServer;
  const clients: WsClient[] = [];
  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await t.stop();
  });

  const hello = async (device: TestDevice) => {
    const c = await openWs(t);
    clients.push(c);
    const challenge = await c.request({ t: 'hello', versions: [1], deviceId: device.deviceId });
    if (challenge.t !== 'challenge') throw new Error(`expected challenge, got ${challenge.t}`);
    return { c, challenge };
  };

  for (const kind of ['by another key', 'over another nonce'] as const) {
    it(`signed ${kind}: BAD_SIGNATURE, closed 4001, never ready`, async () => {
      const { device } = await registerAccount(t);
      const other = await registerAccount(t);
      const { c, challenge } = await hello(device);
      const sig = await wrongSignatures(device, other.device, challenge)[kind]();
      const reply = await c.request({ t: 'auth', sig });
      expect(reply).toMatchObject({ t: 'error', code: 'BAD_SIGNATURE' });
      expect(await c.closed).toEqual({ code: 4001, reason: 'BAD_SIGNATURE' });
      expect(c.unsolicited.map((f) => f.t)).not.toContain('ready');
      expect(t.server.hub.size()).toBe(0);

      // The same device answering its own challenge correctly is served.
      const honest = await hello(device);
      const good = await sign(
        device.keys.secretKey,
        authSignaturePayload({
          nonce: honest.challenge.nonce,
          deviceId: device.deviceId,
          serverId: honest.challenge.serverId,
        }),
      );
      expect((await honest.c.request({ t: 'auth', sig: good })).t).toBe('ready');
      expect(t.server.hub.size()).toBe(1);
    });
  }
});

describe('HTTP sessions', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startServer();
  });
  afterEach(async () => {
    await t.stop();
  });

  const challengeFor = async (device: TestDevice) => {
    const res = await http(t.url, 'POST', '/v1/auth/challenge', { deviceId: device.deviceId });
    const checked = validate(HttpChallengeResponse, res.body);
    if (!checked.ok) throw new Error(`challenge: ${res.status} ${JSON.stringify(res.body)}`);
    return checked.value;
  };
  const answer = (challenge: HttpChallengeResponse, device: TestDevice, sig: string) =>
    http(t.url, 'POST', '/v1/auth/session', {
      challengeId: challenge.challengeId,
      deviceId: device.deviceId,
      sig,
    });
  const sessions = () => rowCounts(t.store)['sessions'];
  // Any authenticated route: the device's own account's wrapped root.
  const readWithToken = (token: string) =>
    http(t.url, 'GET', '/v1/accounts/me/wrapped-root', undefined, token);

  for (const kind of ['by another key', 'over another nonce'] as const) {
    it(`refuses a challenge answer signed ${kind}: BAD_SIGNATURE, no session, the challenge spent`, async () => {
      const { device } = await registerAccount(t);
      const other = await registerAccount(t);
      const challenge = await challengeFor(device);
      const before = sessions();
      const res = await answer(
        challenge,
        device,
        await wrongSignatures(device, other.device, challenge)[kind](),
      );
      expect(res).toMatchObject({ status: 401, body: { code: 'BAD_SIGNATURE' } });
      expect(res.body).not.toHaveProperty('token');
      expect(sessions()).toBe(before);

      // A correct answer to that challenge comes too late: it was used up by the refused one.
      const good = await sign(
        device.keys.secretKey,
        authSignaturePayload({
          nonce: challenge.nonce,
          deviceId: device.deviceId,
          serverId: challenge.serverId,
        }),
      );
      expect(await answer(challenge, device, good)).toMatchObject({
        status: 401,
        body: { code: 'CHALLENGE_INVALID' },
      });
      expect(sessions()).toBe(before);
    });
  }

  it('refuses a session token once SESSION_TTL_MS has passed (SESSION_EXPIRED); it works until then', async () => {
    const { device } = await registerAccount(t);
    const token = await sessionToken(t, device);
    t.clock.advance(SESSION_TTL_MS - 1);
    expect((await readWithToken(token)).status).toBe(200);
    t.clock.advance(1);
    expect(await readWithToken(token)).toMatchObject({ status: 401, body: { code: 'SESSION_EXPIRED' } });
    // A new session of the same device is served: only the expired token is refused.
    expect((await readWithToken(await sessionToken(t, device))).status).toBe(200);
  });
});
