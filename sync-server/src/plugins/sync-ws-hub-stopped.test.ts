// A device whose sign-in completes once the live hub has stopped (close() stops the hub, then waits for
// its audit writes before the HTTP server closes its sockets) was told `ready` on a connection the hub
// registered but never served: no live change reached it and nothing closed it until the server did, and
// then with no typed refusal. It is refused UNAVAILABLE and closed 1001, as closeAll closes the
// connections the hub held when shutdown began.
import { afterEach, describe, expect, it } from 'vitest';
import { authSignaturePayload, PROTOCOL_VERSION, type ServerFrame } from '@hale/protocol';
import { gatedEd } from '../testing/gated-ed';
import { openWs, registerAccount, sign, startServer, type TestServer } from '../testing/harness';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

describe('a sign-in that completes after the hub stopped', () => {
  it('is refused UNAVAILABLE and closed 1001, never told ready', async () => {
    const gated = gatedEd();
    t = await startServer({ ed: gated.gate });
    const a = await registerAccount(t);
    const c = await openWs(t);
    const challenge = await c.request({
      t: 'hello',
      versions: [PROTOCOL_VERSION],
      deviceId: a.device.deviceId,
    });
    if (challenge.t !== 'challenge') throw new Error(`expected challenge, got ${challenge.t}`);
    const sig = await sign(
      a.device.keys.secretKey,
      authSignaturePayload({
        nonce: challenge.nonce,
        deviceId: a.device.deviceId,
        serverId: challenge.serverId,
      }),
    );
    // The auth signature's check is held while the hub stops: shutdown begins mid sign-in.
    const held = gated.arm('verify');
    const frames: ServerFrame[] = [];
    c.ws.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString('utf8')) as ServerFrame));
    c.sendRaw(JSON.stringify({ t: 'auth', sig }));
    await held.reached;
    t.server.hub.stop();
    held.release();
    const closed = await Promise.race([
      c.closed,
      new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), 1_000)),
    ]);
    expect(frames.map((f) => f.t)).not.toContain('ready');
    expect(frames).toEqual([expect.objectContaining({ t: 'error', code: 'UNAVAILABLE' })]);
    expect(closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(t.server.hub.size()).toBe(0);
  });
});
