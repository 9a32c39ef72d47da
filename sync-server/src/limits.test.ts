// Rate limits (per device, per address) and the connection cap, with low limits configured through
// buildApp's config. The injected clock stands still, so buckets refill only when the test moves it.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { authSignaturePayload, encodeFrame, type ErrorFrame, type ServerFrame } from '@hale/protocol';
import {
  connect,
  http,
  sign,
  openWs,
  registerAccount,
  sessionToken,
  startServer,
  type TestServer,
  type WsClient,
} from './testing/harness';

const BURST = 5;
const PER_SECOND = 2;

const ping = (c: WsClient) => c.request({ t: 'ping', rid: c.rid() });

describe('limits', () => {
  let t: TestServer | undefined;
  const clients: WsClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await t?.stop();
    t = undefined;
  });

  it('per device: a device that spends its burst is refused with RATE_LIMITED over WebSocket and HTTP; others are not', async () => {
    t = await startServer({ config: { rateLimitPerDevice: { perSecond: PER_SECOND, burst: BURST } } });
    const a = await registerAccount(t);
    const b = await registerAccount(t);
    const wsA = await connect(t, a.device);
    const wsB = await connect(t, b.device);
    clients.push(wsA, wsB);

    for (let i = 0; i < BURST; i++) expect((await ping(wsA)).t).toBe('pong');
    const rid = wsA.rid();
    const limited = await wsA.request<ErrorFrame>({ t: 'ping', rid });
    expect(limited).toMatchObject({ t: 'error', rid, code: 'RATE_LIMITED' });
    expect(limited.details).toEqual({ retryAfterMs: 1000 / PER_SECOND });

    // The same device over HTTP shares its bucket.
    const token = await sessionToken(t, a.device);
    const dir = await http(t.url, 'GET', '/v1/directory?q=x', undefined, token);
    expect(dir).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });

    // Another device is unaffected.
    for (let i = 0; i < BURST; i++) expect((await ping(wsB)).t).toBe('pong');

    // Tokens come back with time, at the configured rate and no faster.
    t.clock.advance(1000);
    expect((await ping(wsA)).t).toBe('pong');
    expect((await ping(wsA)).t).toBe('pong');
    expect((await ping(wsA)).t).toBe('error');
    expect(wsA.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('per address: unauthenticated HTTP and pre-auth frames share one bucket per address', async () => {
    t = await startServer({ config: { rateLimitPerAddress: { perSecond: PER_SECOND, burst: BURST } } });
    for (let i = 0; i < BURST; i++) expect((await http(t.url, 'GET', '/v1/server')).status).toBe(200);
    const refused = await http(t.url, 'GET', '/v1/server');
    expect(refused).toMatchObject({
      status: 429,
      body: { code: 'RATE_LIMITED', details: { retryAfterMs: 500 } },
    });
    // Health and metrics stay reachable for monitoring.
    expect((await http(t.url, 'GET', '/healthz')).status).toBe(200);

    const ws = await openWs(t);
    clients.push(ws);
    const frame = await ws.request({ t: 'hello', versions: [1], deviceId: 'AAAAAAAAAAAAAAAAAAAAAA' });
    expect(frame).toMatchObject({ t: 'error', code: 'RATE_LIMITED' });

    // Another address (127.0.0.2 also reaches the loopback listener) has its own bucket.
    const other = new WebSocket(t.wsUrl, { localAddress: '127.0.0.2' });
    await new Promise((resolve, reject) => other.once('open', resolve).once('error', reject));
    const reply = new Promise<ServerFrame>((resolve) =>
      other.once('message', (data: Buffer) => resolve(JSON.parse(data.toString('utf8')) as ServerFrame)),
    );
    other.send(encodeFrame({ t: 'ping', rid: 1 }));
    expect(await reply).toMatchObject({ t: 'error', code: 'UNAUTHENTICATED', rid: 1 });
    other.close();

    t.clock.advance(1000 / PER_SECOND);
    expect((await http(t.url, 'GET', '/v1/server')).status).toBe(200);
    expect((await http(t.url, 'GET', '/v1/server')).status).toBe(429);
  });

  it('connection cap: the connection over maxConnections gets TOO_MANY_CONNECTIONS and is closed', async () => {
    t = await startServer({ config: { maxConnections: 2 } });
    const patient = await registerAccount(t);
    const first = await connect(t, patient.device);
    const second = await openWs(t);
    clients.push(first, second);
    const third = await openWs(t);
    const refusal = await third.nextFrame();
    expect(refusal).toMatchObject({ t: 'error', code: 'TOO_MANY_CONNECTIONS' });
    expect((await third.closed).code).toBe(1013);
    // Existing connections keep working, and a slot frees up when one closes.
    expect((await ping(first)).t).toBe('pong');
    await second.close();
    await new Promise((r) => setTimeout(r, 50));
    const fourth = await connect(t, patient.device);
    clients.push(fourth);
    expect((await ping(fourth)).t).toBe('pong');
  });

  it('handshake deadline: sockets that do not authenticate in time are closed, and their slots go to real devices', async () => {
    const DEADLINE_MS = 1500;
    const sleep = (ms: number) => new Promise<null>((resolve) => setTimeout(() => resolve(null), ms));
    t = await startServer({ config: { maxConnections: 3, handshakeTimeoutMs: DEADLINE_MS } });
    const patient = await registerAccount(t);
    // Two sockets that never send a frame, one that says hello and never answers the challenge.
    const stalled = [await openWs(t), await openWs(t), await openWs(t)];
    clients.push(...stalled);
    expect(
      (await stalled[2]!.request({ t: 'hello', versions: [1], deviceId: patient.device.deviceId })).t,
    ).toBe('challenge');
    const early = await openWs(t);
    expect(await early.nextFrame()).toMatchObject({ t: 'error', code: 'TOO_MANY_CONNECTIONS' });
    await early.closed;

    for (const [i, c] of stalled.entries()) {
      const closed = await Promise.race([c.closed, sleep(DEADLINE_MS * 3)]);
      expect(closed, `socket ${i}`).toEqual({ code: 4001, reason: 'UNAUTHENTICATED' });
      expect(c.unsolicited, `socket ${i}`).toContainEqual(
        expect.objectContaining({ t: 'error', code: 'UNAUTHENTICATED' }),
      );
    }
    const device = await connect(t, patient.device);
    clients.push(device);
    // The deadline is for the handshake only: a ready connection outlives it.
    await sleep(DEADLINE_MS + 500);
    expect((await ping(device)).t).toBe('pong');
  });

  it('handshake deadline during a slow auth: the socket is closed and no live connection is left behind', async () => {
    const DEADLINE_MS = 300;
    t = await startServer({ config: { handshakeTimeoutMs: DEADLINE_MS } });
    const patient = await registerAccount(t);
    const c = await openWs(t);
    clients.push(c);
    const challenge = await c.request({ t: 'hello', versions: [1], deviceId: patient.device.deviceId });
    if (challenge.t !== 'challenge') throw new Error(`expected challenge, got ${challenge.t}`);
    // The device lookup of `auth` outlasts the deadline, so the socket closes while auth is under way.
    const ctx = t.server.ctx;
    const loadDevice = ctx.loadDevice.bind(ctx);
    ctx.loadDevice = async (deviceId) => {
      await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS * 2));
      return loadDevice(deviceId);
    };
    const sig = await sign(
      patient.device.keys.secretKey,
      authSignaturePayload({
        nonce: challenge.nonce,
        deviceId: patient.device.deviceId,
        serverId: challenge.serverId,
      }),
    );
    c.sendRaw(encodeFrame({ t: 'auth', sig }));
    expect(await c.closed).toEqual({ code: 4001, reason: 'UNAUTHENTICATED' });
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS * 3));
    expect(c.unsolicited.map((f) => f.t)).not.toContain('ready');
    expect(t.server.hub.size()).toBe(0);
    expect(t.server.ctx.wrappedRoots.size()).toBe(0);
  });
});
