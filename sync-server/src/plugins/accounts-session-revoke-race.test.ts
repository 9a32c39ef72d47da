// A bearer session issued while its device's revocation commits is no session: whether the revocation
// commits after the session route read the device or after it stored the session, the token it answers
// is refused on first use. (The socket's sign-in has the same race: sync-ws-revoke-race.test.ts.)
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authSignaturePayload } from '@hale/protocol';
import {
  addDevice,
  http,
  registerAccount,
  revokeDevice,
  sign,
  startServer,
  type TestAccount,
  type TestDevice,
  type TestServer,
} from '../testing/harness';

describe('a session issued while its device is revoked', () => {
  let t: TestServer;
  let patient: TestAccount;
  let second: TestDevice;
  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    second = await addDevice(t, patient);
  });
  afterEach(async () => {
    await t.stop();
  });

  /** Challenge and session for `second`: the session answer (a token, or a refusal). */
  const openSession = async () => {
    const c = await http(t.url, 'POST', '/v1/auth/challenge', { deviceId: second.deviceId });
    expect(c.status).toBe(200);
    const { challengeId, nonce, serverId } = c.body as {
      challengeId: string;
      nonce: string;
      serverId: string;
    };
    const sig = await sign(
      second.keys.secretKey,
      authSignaturePayload({ nonce, deviceId: second.deviceId, serverId }),
    );
    return http(t.url, 'POST', '/v1/auth/session', { challengeId, deviceId: second.deviceId, sig });
  };

  /** An authenticated request with the token: its status and error code. */
  const useToken = async (token: string) => {
    const res = await http(t.url, 'POST', '/v1/accounts/lookup', { accountIds: [patient.accountId] }, token);
    return { status: res.status, code: (res.body as { code?: string }).code };
  };

  const expectNoSession = async (res: { status: number; body: unknown }) => {
    if (res.status !== 200) {
      expect((res.body as { code?: string }).code).toBe('DEVICE_REVOKED');
      return;
    }
    const used = await useToken((res.body as { token: string }).token);
    expect([401, 403]).toContain(used.status);
    expect(['UNAUTHENTICATED', 'DEVICE_REVOKED']).toContain(used.code);
  };

  it('refuses the token when the revocation commits right after the session route read the device', async () => {
    const ctx = t.server.ctx;
    const original = ctx.loadDevice.bind(ctx);
    let calls = 0;
    ctx.loadDevice = async (deviceId) => {
      const loaded = await original(deviceId);
      // The first read is the challenge's, the second the session's.
      if (deviceId === second.deviceId && ++calls === 2) {
        expect((await revokeDevice(t, patient, second)).status).toBe(200);
      }
      return loaded;
    };
    const res = await openSession();
    expect(calls).toBe(2);
    // The route had read the device before the revocation: it answers a token, which is dead.
    expect(res.status).toBe(200);
    await expectNoSession(res);
  });

  it('refuses the token when the revocation commits right after the session was stored', async () => {
    const sessions = t.store.sessions;
    const original = sessions.put.bind(sessions);
    let revoked = false;
    sessions.put = async (session) => {
      await original(session);
      revoked = true;
      expect((await revokeDevice(t, patient, second)).status).toBe(200);
    };
    const res = await openSession();
    expect(revoked).toBe(true);
    await expectNoSession(res);
  });

  it('serves the token of a device not revoked (the checks above can pass)', async () => {
    const res = await openSession();
    expect(res.status).toBe(200);
    expect(await useToken((res.body as { token: string }).token)).toEqual({ status: 200, code: undefined });
  });
});
