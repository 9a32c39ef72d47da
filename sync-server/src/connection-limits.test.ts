// What one client address can make the server hold: frames before authentication are refused from their
// header, frames after it beyond the transport cap likewise, upgrades are rate limited and open sockets
// capped per address. Refusals before the upgrade are HTTP 429 with a typed body.
import { connect as tcp, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_FRAME_BYTES, MAX_HANDSHAKE_FRAME_BYTES } from '@hale/protocol';
import { ConfigError, DEFAULT_CONFIG, parseCommandLine, upgradeRateLimit, usage } from './config';
import { WS_MAX_PAYLOAD_BYTES } from './plugins/sync-ws';
import {
  connect,
  http,
  openWs,
  registerAccount,
  startServer,
  tryUpgrade,
  type TestServer,
  type UpgradeAttempt,
  type WsClient,
} from './testing/harness';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Attempts an upgrade from `localAddress`: the open socket, or the HTTP refusal and its JSON body. */
const upgrade = (t: TestServer, localAddress = '127.0.0.1') => tryUpgrade(t, { localAddress });

const opened = async (attempt: Promise<UpgradeAttempt>): Promise<WebSocket> => {
  const result = await attempt;
  if (!('ws' in result)) throw new Error(`upgrade refused: ${result.status} ${JSON.stringify(result.body)}`);
  return result.ws;
};

/**
 * A raw TCP client past the upgrade: sends `bytes` and collects what the server writes until it closes
 * the connection (or `ms` passes). Client frames must be masked; a zero mask leaves the payload as is.
 */
const rawSession = async (t: TestServer, bytes: Buffer, ms: number) => {
  const s: Socket = tcp(Number(new URL(t.url).port), '127.0.0.1');
  s.on('error', () => undefined);
  await new Promise((resolve) => s.once('connect', resolve));
  s.write(
    'GET /sync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  const head = await new Promise<Buffer>((resolve) => s.once('data', resolve));
  expect(head.toString('latin1')).toMatch(/^HTTP\/1.1 101/);
  const received: Buffer[] = [];
  s.on('data', (chunk: Buffer) => received.push(chunk));
  const closed = new Promise<boolean>((resolve) => s.once('close', () => resolve(true)));
  s.write(bytes);
  const didClose = await Promise.race([closed, sleep(ms).then(() => false)]);
  s.destroy();
  return { closed: didClose, data: Buffer.concat(received) };
};

/** Header of a masked text frame (mask 0) declaring `length` payload bytes. */
const frameHeader = (length: number): Buffer => {
  const header = Buffer.alloc(14);
  header[0] = 0x81;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  return header;
};

/** A refusal before the upgrade: HTTP `status` with exactly the typed body `{ code, message, details? }`. */
const expectRefusal = (result: UpgradeAttempt, status: number, code: string, details?: unknown) => {
  expect(result.status).toBe(status);
  const body = ('body' in result ? result.body : undefined) as Record<string, unknown>;
  expect(body.code).toBe(code);
  expect(typeof body.message).toBe('string');
  expect(Object.keys(body).sort()).toEqual(
    details === undefined ? ['code', 'message'] : ['code', 'details', 'message'],
  );
  if (details !== undefined) expect(body.details).toEqual(details);
};

/** The status code of the first close frame in `data`, if any. */
const closeCode = (data: Buffer): number | undefined => {
  const at = data.indexOf(0x88);
  return at === -1 || data.length < at + 4 ? undefined : data.readUInt16BE(at + 2);
};

describe('connection limits', () => {
  let t: TestServer | undefined;
  const sockets: Array<WebSocket | WsClient> = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) {
      if ('ws' in s) s.ws.terminate();
      else s.terminate();
    }
    await t?.stop();
    t = undefined;
  });

  it('before ready, a frame declared over MAX_HANDSHAKE_FRAME_BYTES is refused from its header (1009)', async () => {
    t = await startServer();
    // Declares 1 MiB and sends only its first KiB: the server must not wait for (or buffer) the rest.
    const partial = Buffer.concat([frameHeader(1024 * 1024), Buffer.alloc(1024, 0x20)]);
    const session = await rawSession(t, partial, 5_000);
    expect(session.closed).toBe(true);
    expect(closeCode(session.data)).toBe(1009);
  });

  it('before ready, frames up to MAX_HANDSHAKE_FRAME_BYTES are served, one byte more closes the socket; after ready the limit is lifted', async () => {
    t = await startServer();
    const a = await registerAccount(t);
    const c = await openWs(t);
    sockets.push(c);
    // At the limit: an ordinary refusal, the socket stays usable.
    const reply = c.nextFrame();
    c.sendRaw(' '.repeat(MAX_HANDSHAKE_FRAME_BYTES));
    expect(await reply).toMatchObject({ t: 'error', code: 'BAD_MESSAGE' });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);

    const over = await openWs(t);
    sockets.push(over);
    over.sendRaw(' '.repeat(MAX_HANDSHAKE_FRAME_BYTES + 1));
    expect((await over.closed).code).toBe(1009);

    const ready = await connect(t, a.device);
    sockets.push(ready);
    const rid = ready.rid();
    const padded = `{"t":"ping","rid":${rid}${' '.repeat(64 * 1024)}}`;
    const pong = new Promise((resolve) =>
      ready.ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString()))),
    );
    ready.sendRaw(padded);
    expect(await pong).toMatchObject({ t: 'pong', rid });
  });

  it('before ready, a frame over MAX_HANDSHAKE_FRAME_BYTES is refused (TOO_LARGE, 1009) even where ws does not take the per-socket limit', async () => {
    t = await startServer();
    const a = await registerAccount(t);
    // As a ws whose receiver no longer honours the lowered limit (sync-ws.ts `limitFrameBytes`): it keeps
    // the server-wide cap, so the frame is buffered and only the handler's own check stands in the way.
    // @fastify/websocket emits `connection` before the route's handler sees the socket.
    t.server.app.websocketServer.on('connection', (socket: WebSocket) => {
      const receiver = (socket as unknown as { _receiver: object })._receiver;
      Object.defineProperty(receiver, '_maxPayload', {
        get: () => WS_MAX_PAYLOAD_BYTES,
        set: () => undefined,
      });
    });
    const c = await openWs(t);
    sockets.push(c);
    const hello = JSON.stringify({ t: 'hello', versions: [1], deviceId: a.device.deviceId });
    const reply = c.nextFrame();
    c.sendRaw(hello.replace('{', `{${' '.repeat(MAX_HANDSHAKE_FRAME_BYTES)}`));
    expect(await reply).toMatchObject({ t: 'error', code: 'TOO_LARGE' });
    expect(await c.closed).toEqual({ code: 1009, reason: 'TOO_LARGE' });
  });

  it('after ready, a frame over MAX_FRAME_BYTES gets TOO_LARGE; one over the transport cap closes the socket (1009)', async () => {
    // Small: a socket may make the server buffer a frame this large before refusing it.
    expect(WS_MAX_PAYLOAD_BYTES).toBeLessThan(2 * MAX_FRAME_BYTES);
    t = await startServer();
    const a = await registerAccount(t);
    const c = await connect(t, a.device);
    sockets.push(c);
    const reply = c.nextFrame();
    c.sendRaw('x'.repeat(MAX_FRAME_BYTES + 1));
    expect(await reply).toMatchObject({ t: 'error', code: 'TOO_LARGE' });
    expect((await c.request({ t: 'ping', rid: c.rid() })).t).toBe('pong');
    c.sendRaw('x'.repeat(WS_MAX_PAYLOAD_BYTES + 1));
    expect((await c.closed).code).toBe(1009);
  });

  it('per address: the socket over maxConnectionsPerAddress is refused before the upgrade; other addresses and freed slots are not', async () => {
    t = await startServer({ config: { maxConnectionsPerAddress: 2 } });
    const first = await opened(upgrade(t));
    const second = await opened(upgrade(t));
    sockets.push(first, second);
    expectRefusal(await upgrade(t), 429, 'TOO_MANY_CONNECTIONS');
    // 127.0.0.2 also reaches the loopback listener: another address, its own count.
    sockets.push(await opened(upgrade(t, '127.0.0.2')));
    // A slot frees up when a socket closes.
    first.close();
    await new Promise((resolve) => first.once('close', resolve));
    let again: UpgradeAttempt = { status: 0, body: null };
    for (let i = 0; i < 50 && again.status !== 101; i++) {
      again = await upgrade(t);
      if (again.status !== 101) await sleep(20);
    }
    expect(again.status).toBe(101);
    if ('ws' in again) sockets.push(again.ws);
  });

  it('per address: upgrades are rate limited in a bucket of their own', async () => {
    // Frozen clock: the upgrade bucket (burst 2, 1/s) refills only when the test moves it.
    t = await startServer({
      config: {
        rateLimitUpgradesPerAddress: { perSecond: 1, burst: 2 },
        rateLimitPerAddress: { perSecond: 1, burst: 1 },
      },
    });
    // Spending the HTTP bucket does not stop an address from connecting.
    expect((await http(t.url, 'GET', '/v1/server')).status).toBe(200);
    expect((await http(t.url, 'GET', '/v1/server')).status).toBe(429);
    sockets.push(await opened(upgrade(t)), await opened(upgrade(t)));
    expectRefusal(await upgrade(t), 429, 'RATE_LIMITED', { retryAfterMs: 1000 });
    sockets.push(await opened(upgrade(t, '127.0.0.2')));
    t.clock.advance(1000);
    sockets.push(await opened(upgrade(t)));
  });

  it('paths that only start with /sync are not exempt from the per-address limit', async () => {
    t = await startServer({ config: { rateLimitPerAddress: { perSecond: 1, burst: 1 } } });
    expect((await http(t.url, 'GET', '/syncx')).status).toBe(404);
    expect(await http(t.url, 'GET', '/sync/x')).toMatchObject({
      status: 429,
      body: { code: 'RATE_LIMITED' },
    });
  });

  it('settings: the upgrade bucket derives from the per-address one; the per-address cap is a flag', () => {
    expect(DEFAULT_CONFIG.maxConnectionsPerAddress).toBe(200);
    expect(upgradeRateLimit(DEFAULT_CONFIG)).toEqual({ perSecond: 10, burst: 100 });
    expect(
      upgradeRateLimit({ ...DEFAULT_CONFIG, rateLimitUpgradesPerAddress: { perSecond: 3, burst: 4 } }),
    ).toEqual({
      perSecond: 3,
      burst: 4,
    });
    expect(parseCommandLine(['--rate-per-address', '40'], {}).config).toMatchObject({
      rateLimitPerAddress: { perSecond: 40, burst: 80 },
    });
    expect(upgradeRateLimit(parseCommandLine(['--rate-per-address', '40'], {}).config)).toEqual({
      perSecond: 4,
      burst: 40,
    });
    expect(parseCommandLine([], {}).config.maxConnectionsPerAddress).toBe(200);
    expect(
      parseCommandLine([], { HALE_MAX_CONNECTIONS_PER_ADDRESS: '7' }).config.maxConnectionsPerAddress,
    ).toBe(7);
    expect(
      parseCommandLine(['--max-connections-per-address', '9'], { HALE_MAX_CONNECTIONS_PER_ADDRESS: '7' })
        .config.maxConnectionsPerAddress,
    ).toBe(9);
    expect(() => parseCommandLine(['--max-connections-per-address', '0'], {})).toThrow(ConfigError);
    expect(() => parseCommandLine(['--max-connections-per-address', '0'], {})).toThrow(
      /max-connections-per-address/,
    );
    expect(usage()).toContain('HALE_MAX_CONNECTIONS_PER_ADDRESS');
  });
});
