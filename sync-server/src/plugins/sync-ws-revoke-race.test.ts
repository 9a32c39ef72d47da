// A device revoked while it signs in on the socket gets no working connection, wherever in the sign-in
// the revocation commits: after auth read the device (before the signature check and the hub
// registration), while the hub loads the connection's grants, or while `ready` is being prepared. The
// revocation is committed from inside the store or context call that step makes, so the order is exact.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authSignaturePayload, type ServerFrame } from '@hale/protocol';
import {
  addDevice,
  openWs,
  registerAccount,
  revokeDevice,
  sign,
  startServer,
  streamOf,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from '../testing/harness';
import { ServiceError } from '../core/sync-service';

describe('a device revoked during its socket sign-in', () => {
  let t: TestServer;
  let patient: TestAccount;
  let second: TestDevice;
  const clients: WsClient[] = [];
  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    second = await addDevice(t, patient);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await t.stop();
  });

  /** hello → challenge → auth for `second`: the reply to auth and the socket. */
  const signIn = async (): Promise<{ c: WsClient; reply: ServerFrame }> => {
    const c = await openWs(t);
    clients.push(c);
    const challenge = await c.request({ t: 'hello', versions: [1], deviceId: second.deviceId });
    if (challenge.t !== 'challenge') throw new Error(`expected challenge, got ${JSON.stringify(challenge)}`);
    const sig = await sign(
      second.keys.secretKey,
      authSignaturePayload({
        nonce: challenge.nonce,
        deviceId: second.deviceId,
        serverId: challenge.serverId,
      }),
    );
    return { c, reply: await c.request({ t: 'auth', sig }) };
  };

  /** Commits the revocation of `second` over HTTP and checks it was taken. */
  const revokeNow = async () => {
    const res = await revokeDevice(t, patient, second);
    expect(res.status).toBe(200);
  };

  /** The refusal every ordering must end in: DEVICE_REVOKED, closed 4001, nothing left in the hub. */
  const expectRefused = async (c: WsClient, reply: ServerFrame) => {
    expect(reply).toMatchObject({ t: 'error', code: 'DEVICE_REVOKED' });
    expect((await c.closed).code).toBe(4001);
    expect(c.unsolicited.map((f) => f.t)).not.toContain('ready');
    expect(t.server.hub.size()).toBe(0);
  };

  it('refuses it when the revocation commits right after auth read the device', async () => {
    const ctx = t.server.ctx;
    const original = ctx.loadDevice.bind(ctx);
    let calls = 0;
    ctx.loadDevice = async (deviceId) => {
      const loaded = await original(deviceId);
      // The first read is hello's, the second auth's: the revocation commits just after auth's.
      if (deviceId === second.deviceId && ++calls === 2) await revokeNow();
      return loaded;
    };
    const { c, reply } = await signIn();
    expect(calls).toBeGreaterThanOrEqual(2);
    await expectRefused(c, reply);
  });

  it('refuses it when the revocation commits while the hub loads its grants', async () => {
    const grants = t.store.grants;
    const original = grants.listUnended.bind(grants);
    let revoked = false;
    grants.listUnended = async (of, now) => {
      const out = await original(of, now);
      if (!revoked && 'granteeId' in of && of.granteeId === patient.accountId) {
        revoked = true;
        await revokeNow();
      }
      return out;
    };
    const { c, reply } = await signIn();
    expect(revoked).toBe(true);
    await expectRefused(c, reply);
  });

  it('refuses it when the revocation commits while ready is being prepared', async () => {
    const meta = t.store.meta;
    const original = meta.get.bind(meta);
    let revoked = false;
    // `ready` reads the store's incarnation: the last read before it goes out.
    meta.get = async (key) => {
      const out = await original(key);
      if (!revoked) {
        revoked = true;
        await revokeNow();
      }
      return out;
    };
    const { c, reply } = await signIn();
    expect(revoked).toBe(true);
    await expectRefused(c, reply);
  });

  it('leaves nothing in the hub when the device cannot be read again after the hub took the connection', async () => {
    const ctx = t.server.ctx;
    const original = ctx.loadDevice.bind(ctx);
    let calls = 0;
    ctx.loadDevice = async (deviceId) => {
      // hello's read, auth's, then the one after the hub registered the connection.
      if (deviceId === second.deviceId && ++calls === 3) throw new ServiceError('UNAVAILABLE', 'store away');
      return original(deviceId);
    };
    const { c, reply } = await signIn();
    expect(calls).toBe(3);
    expect(reply).toMatchObject({ t: 'error', code: 'UNAVAILABLE' });
    expect(c.unsolicited.map((f) => f.t)).not.toContain('ready');
    expect(t.server.hub.size()).toBe(0);
  });

  it('serves a device whose revocation never came, through the same steps (the checks above can pass)', async () => {
    const { c, reply } = await signIn();
    expect(reply.t).toBe('ready');
    const pulled = await c.request({
      t: 'pull',
      rid: c.rid(),
      streams: [{ stream: streamOf(patient.accountId, 'allergy'), since: 0 }],
      limit: 10,
      maxBytes: 1 << 20,
    });
    expect(pulled.t).toBe('pulled');
    expect(t.server.hub.size()).toBe(1);
  });
});
