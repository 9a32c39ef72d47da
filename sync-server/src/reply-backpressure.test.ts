// Flow control on the device socket: a client that does not read its replies, or sends faster than it is
// served, costs the server a bounded send buffer and a bounded queue, not memory per frame it sends.
// Clients stop reading with ws's own pause(): their TCP window fills, as it would for a stalled device.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES, type ServerFrame } from '@hale/protocol';
import {
  connect,
  makeDoc,
  openWs,
  registerAccount,
  startServer,
  streamOf,
  type TestServer,
  type WsClient,
} from './testing/harness';
import { MAX_QUEUED_FRAMES, SEND_BUFFER_CAP_BYTES } from './plugins/sync-ws';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const serverSockets = (t: TestServer) => [...t.server.app.websocketServer.clients];

const counted = async (
  t: TestServer,
  metric: 'messages' | 'refusals' | 'bytes',
  labels: Record<string, string>,
): Promise<number> =>
  (await t.server.metrics[metric].get()).values
    .filter((v) =>
      Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want),
    )
    .reduce((n, v) => n + v.value, 0);

/** Polls `probe` every 20 ms until it holds; fails after `ms`. */
const until = async (probe: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition') => {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

/**
 * A device with four ~0.9 MB records in one stream, so each pull of it is answered by ~5 MB. Returns
 * the raw text of such a pull.
 */
const heavyStream = async (t: TestServer) => {
  const a = await registerAccount(t);
  const c = await connect(t, a.device);
  const stream = streamOf(a.accountId, 'allergy');
  for (let i = 0; i < 4; i++) {
    const doc = await makeDoc(a, a.device, 'allergy', { b: randomBytes(700_000).toString('base64') });
    expect((await c.request({ t: 'push', rid: c.rid(), rows: [{ doc, assumedRev: null }] })).t).toBe(
      'pushed',
    );
  }
  const pull = (rid: number) =>
    JSON.stringify({ t: 'pull', rid, streams: [{ stream, since: 0 }], limit: 1000, maxBytes: 4 << 20 });
  return { c, pull };
};

/**
 * Watches the server's send buffers while it answers a client that does not read: returns the largest
 * buffer seen and how many `pulled` replies went out, once all `expected` did or none for a second.
 */
const watchReplies = async (t: TestServer, expected: number) => {
  let max = 0;
  let replies = -1;
  let changedAt = Date.now();
  for (;;) {
    await sleep(20);
    max = Math.max(max, ...serverSockets(t).map((s) => s.bufferedAmount));
    const n = await counted(t, 'messages', { direction: 'out', type: 'pulled' });
    if (n !== replies) [replies, changedAt] = [n, Date.now()];
    if (n >= expected || Date.now() - changedAt > 1000) return { max, replies };
  }
};

const framesOf = (c: WsClient, t: ServerFrame['t']) => c.unsolicited.filter((f) => f.t === t);

describe('reply backpressure', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('a client that does not read: replies stop at the send cap, its frames stay unread, and nothing is lost', async () => {
    t = await startServer();
    const { c, pull } = await heavyStream(t);
    const PULLS = 20; // ~100 MB of replies, far more than the cap plus what the kernel buffers hold
    c.ws.pause();
    for (let i = 0; i < PULLS; i++) c.sendRaw(pull(10_000 + i));
    await until(
      () => serverSockets(t!).some((s) => s.bufferedAmount > SEND_BUFFER_CAP_BYTES),
      30_000,
      'the send cap to be reached',
    );
    const { max, replies } = await watchReplies(t, PULLS);
    expect(replies).toBeLessThan(PULLS);
    // At most the cap plus the one reply that crossed it.
    expect(max).toBeLessThanOrEqual(SEND_BUFFER_CAP_BYTES + MAX_FRAME_BYTES);

    // Blocked, the server does not read the socket either: what the client sends now waits client-side.
    const before = await counted(t, 'bytes', { direction: 'in' });
    const pad = ' '.repeat(32 * 1024);
    for (let i = 0; i < 50; i++) c.sendRaw(`{"t":"ping","rid":${20_000 + i}${pad}}`);
    await sleep(500);
    expect(await counted(t, 'bytes', { direction: 'in' })).toBe(before);

    // Once the client reads, every reply arrives, in order.
    c.ws.resume();
    await until(() => c.unsolicited.length >= PULLS + 50, 60_000, 'every reply');
    expect(c.unsolicited.map((f) => ('rid' in f ? f.rid : undefined))).toEqual([
      ...Array.from({ length: PULLS }, (_, i) => 10_000 + i),
      ...Array.from({ length: 50 }, (_, i) => 20_000 + i),
    ]);
    expect(framesOf(c, 'pulled')).toHaveLength(PULLS);
    await c.close();
  }, 120_000);

  it('a client that takes nothing for sendStallTimeoutMs while over the cap is dropped', async () => {
    t = await startServer({ config: { sendStallTimeoutMs: 300 } });
    const { c, pull } = await heavyStream(t);
    c.ws.pause();
    for (let i = 0; i < 20; i++) c.sendRaw(pull(10_000 + i));
    await until(() => serverSockets(t!).length === 0, 15_000, 'the stalled socket to be dropped');
    expect(t.server.hub.size()).toBe(0);
    expect(await counted(t, 'refusals', { code: 'UNAVAILABLE' })).toBe(1);
    c.ws.terminate();
  }, 60_000);

  it('frames that arrive faster than they are served: the socket is not read beyond MAX_QUEUED_FRAMES', async () => {
    t = await startServer();
    const a = await registerAccount(t);
    const c = await connect(t, a.device);
    // A request the server cannot finish yet holds up everything behind it (frames are served in order).
    const service = t.server.ctx.service;
    const listStreamsPage = service.listStreamsPage.bind(service);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    service.listStreamsPage = async (p, request) => {
      await held;
      return listStreamsPage(p, request);
    };
    const before = await counted(t, 'bytes', { direction: 'in' });
    c.sendRaw(JSON.stringify({ t: 'listStreams', rid: 1 }));
    const FRAME = 16 * 1024;
    const PINGS = 300;
    const ping = (rid: number) => {
      const head = `{"t":"ping","rid":${rid}`;
      return `${head}${' '.repeat(FRAME - head.length - 1)}}`;
    };
    for (let i = 0; i < PINGS; i++) c.sendRaw(ping(100 + i));
    const received = async () =>
      Math.floor(((await counted(t!, 'bytes', { direction: 'in' })) - before) / FRAME);
    await until(async () => (await received()) >= MAX_QUEUED_FRAMES, 20_000, 'the queue to fill');
    // Reading stops at once; give the server every chance to read on anyway.
    await sleep(500);
    // Frames ws had already read when reading stopped still arrive: at most one read chunk (64 KiB).
    expect(await received()).toBeLessThanOrEqual(MAX_QUEUED_FRAMES + 8);

    release();
    await until(() => framesOf(c, 'pong').length === PINGS, 20_000, 'every pong');
    expect(framesOf(c, 'pong').map((f) => ('rid' in f ? f.rid : 0))).toEqual(
      Array.from({ length: PINGS }, (_, i) => 100 + i),
    );
    await c.close();
  }, 60_000);

  it('a flood of refused frames without a request id gets one RATE_LIMITED reply per second, not one per frame', async () => {
    // Frozen clock: the bucket (burst 5, 2/s) refills only when the test moves it.
    t = await startServer({ config: { rateLimitPerAddress: { perSecond: 2, burst: 5 } } });
    const c = await openWs(t);
    const FLOOD = 200;
    for (let i = 0; i < FLOOD; i++) c.sendRaw('x');
    await until(async () => (await counted(t!, 'refusals', {})) === FLOOD, 10_000, 'the flood to be handled');
    expect(await counted(t, 'refusals', { code: 'RATE_LIMITED' })).toBe(FLOOD - 5);

    // A second later: two tokens, and one more RATE_LIMITED reply for the frame after them.
    t.clock.advance(1000);
    for (let i = 0; i < 4; i++) c.sendRaw('x');
    await until(
      async () => (await counted(t!, 'refusals', {})) === FLOOD + 4,
      10_000,
      'the second burst to be handled',
    );
    // The last frame refused silently; a request after the next refill is answered (and ends the socket).
    t.clock.advance(1000);
    expect(await c.request({ t: 'ping', rid: 77 })).toMatchObject({ code: 'UNAUTHENTICATED', rid: 77 });
    await c.closed;
    const codes = c.unsolicited.map((f) => (f.t === 'error' ? f.code : f.t));
    expect(codes).toEqual([
      ...Array<string>(5).fill('BAD_MESSAGE'),
      'RATE_LIMITED',
      'BAD_MESSAGE',
      'BAD_MESSAGE',
      'RATE_LIMITED',
    ]);
  });

  it('every rate-limited request is answered, however many, so no caller waits for its timeout', async () => {
    t = await startServer({ config: { rateLimitPerDevice: { perSecond: 1, burst: 3 } } });
    const a = await registerAccount(t);
    const c = await connect(t, a.device);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => c.request({ t: 'ping', rid: 1000 + i })),
    );
    const limited = replies.filter((r) => r.t === 'error' && r.code === 'RATE_LIMITED');
    expect(replies).toHaveLength(20);
    expect(limited.length).toBeGreaterThanOrEqual(15);
    expect(replies.map((r) => ('rid' in r ? r.rid : null))).toEqual(
      Array.from({ length: 20 }, (_, i) => 1000 + i),
    );
    await c.close();
  });

  it('binary and oversize frames cost rate-limit tokens like any other', async () => {
    t = await startServer({ config: { rateLimitPerDevice: { perSecond: 1, burst: 4 } } });
    const a = await registerAccount(t);
    const c = await connect(t, a.device);
    c.sendRaw(Buffer.from('{"t":"ping","rid":1}'));
    c.sendRaw(Buffer.from([1, 2, 3]));
    c.sendRaw('x'.repeat(MAX_FRAME_BYTES + 1));
    c.sendRaw('x'.repeat(MAX_FRAME_BYTES + 1));
    expect(await c.request({ t: 'ping', rid: 9 })).toMatchObject({
      t: 'error',
      code: 'RATE_LIMITED',
      rid: 9,
    });
    const codes = c.unsolicited.map((f) => (f.t === 'error' ? f.code : f.t));
    expect(codes).toEqual(['BAD_MESSAGE', 'BAD_MESSAGE', 'TOO_LARGE', 'TOO_LARGE']);
    await c.close();
  });
});
