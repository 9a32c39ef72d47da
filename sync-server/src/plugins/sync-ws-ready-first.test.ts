// Nothing but the handshake goes out on a socket before `ready`, also when the live hub has something to
// tell the connection in between: the hub holds a connection from before the device is read again and
// `ready` prepared, and a grant change committed then makes it send `accessChanged`. A device drops (and
// reports as a protocol error) any such frame before `ready`, so the server must hold it until `ready` went
// out and send it right after, in order, never lose it: it is how the device learns of a grant or a
// revocation while connected. The grant change is committed from inside the device read that follows the
// hub registration, so the order is exact.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  authSignaturePayload,
  decodeServerFrame,
  type AccessChangedFrame,
  type ServerFrame,
} from '@hale/protocol';
import {
  connect,
  makeGrant,
  makeRevocation,
  openWs,
  registerAccount,
  sign,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
  type WsClient,
} from '../testing/harness';

describe('frames the hub sends while a device signs in', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let phone: WsClient;
  const clients: WsClient[] = [];
  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    phone = await connect(t, patient.device);
    clients.push(phone);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await t.stop();
  });

  const grantAllergies = async () => {
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await phone.request({ t: 'grant', rid: phone.rid(), grant })).t).toBe('ok');
    return grant.grant.grantId;
  };
  const revoke = async (grantId: string) => {
    const revocation = await makeRevocation(patient, grantId);
    expect((await phone.request({ t: 'revoke', rid: phone.rid(), revocation })).t).toBe('ok');
  };

  /**
   * Runs `meanwhile` inside the provider device's read that follows the hub registration (hello's read,
   * auth's, then that one): the hub holds the connection, `ready` is not out yet. The `grant`/`revoke`
   * answers come once the hub re-decided the connection, so whatever it sends for them is sent by then.
   */
  const duringSignIn = (meanwhile: () => Promise<void>): { ran: () => boolean } => {
    const ctx = t.server.ctx;
    const original = ctx.loadDevice.bind(ctx);
    let calls = 0;
    let ran = false;
    ctx.loadDevice = async (deviceId) => {
      const loaded = await original(deviceId);
      if (deviceId === provider.device.deviceId && ++calls === 3) {
        expect(t.server.hub.size()).toBe(2);
        await meanwhile();
        ran = true;
      }
      return loaded;
    };
    return { ran: () => ran };
  };

  /** Signs the provider's device in on a raw socket; every frame it gets, in order of arrival. */
  const signIn = async (): Promise<{ c: WsClient; frames: ServerFrame[] }> => {
    const c = await openWs(t);
    clients.push(c);
    const frames: ServerFrame[] = [];
    c.ws.on('message', (data: Buffer) => {
      const decoded = decodeServerFrame(data.toString('utf8'));
      if (decoded.ok) frames.push(decoded.value);
    });
    const challenge = await c.request({ t: 'hello', versions: [1], deviceId: provider.device.deviceId });
    if (challenge.t !== 'challenge') throw new Error(`expected challenge, got ${challenge.t}`);
    const sig = await sign(
      provider.device.keys.secretKey,
      authSignaturePayload({
        nonce: challenge.nonce,
        deviceId: provider.device.deviceId,
        serverId: challenge.serverId,
      }),
    );
    c.ws.send(JSON.stringify({ t: 'auth', sig }));
    return { c, frames };
  };

  const until = async (done: () => boolean): Promise<void> => {
    const deadline = Date.now() + 5_000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const accessChanges = (frames: ServerFrame[]): AccessChangedFrame[] =>
    frames.filter((f): f is AccessChangedFrame => f.t === 'accessChanged');

  it('a grant committed between the hub registration and ready is announced right after ready', async () => {
    const step = duringSignIn(async () => {
      await grantAllergies();
    });
    const { frames } = await signIn();
    await until(() => accessChanges(frames).length > 0);
    expect(step.ran()).toBe(true);
    expect(frames.map((f) => f.t)).toEqual(['challenge', 'ready', 'accessChanged']);
    expect(accessChanges(frames)[0]).toMatchObject({
      streams: [{ stream: streamOf(patient.accountId, 'allergy'), access: 'read' }],
      removed: [],
    });
  });

  it('a grant and its revocation committed meanwhile are both announced after ready, in order', async () => {
    const step = duringSignIn(async () => {
      await revoke(await grantAllergies());
    });
    const { frames } = await signIn();
    await until(() => accessChanges(frames).length >= 2);
    expect(step.ran()).toBe(true);
    expect(frames.map((f) => f.t)).toEqual(['challenge', 'ready', 'accessChanged', 'accessChanged']);
    const [added, removed] = accessChanges(frames);
    const stream = streamOf(patient.accountId, 'allergy');
    expect(added).toMatchObject({ streams: [{ stream }], removed: [] });
    expect(removed).toMatchObject({ streams: [], removed: [{ stream, reason: 'revoked' }] });
  });

  it('a connection that ends before ready gets nothing the hub meant for it', async () => {
    const step = duringSignIn(async () => {
      await grantAllergies();
      // The device gives up before its ready: what was held for it goes nowhere.
      signedIn.c.ws.close();
      await signedIn.c.closed;
    });
    const signedIn = await signIn();
    await until(() => step.ran());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(signedIn.frames.map((f) => f.t)).toEqual(['challenge']);
    expect(t.server.hub.size()).toBe(1);
  });
});
