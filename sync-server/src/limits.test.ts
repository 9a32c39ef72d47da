// Rate limits (per device, per address) and the connection cap, with low limits configured through
// buildApp's config. The injected clock stands still, so buckets refill only when the test moves it.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encodeFrame, type ErrorFrame, type ServerFrame } from '@hale/protocol';
import {
  connect,
  http,
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
});
