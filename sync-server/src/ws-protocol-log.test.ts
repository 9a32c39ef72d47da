// A client that breaks the WebSocket protocol (plugins/sync-ws.ts): a frame over the size limit from a
// client that has not signed in, invalid UTF-8, a frame beyond the transport cap from a signed-in device.
// ws closes the socket; the server writes one short line per connection for it, never ws's stack trace
// (any client could otherwise fill a self-hoster's log at little cost). A real server, its log (pino at
// info) written into memory.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES, MAX_HANDSHAKE_FRAME_BYTES } from '@hale/protocol';
import { createLogger } from './logger';
import { connect, openWs, registerAccount, startServer, type TestServer } from './testing/harness';

/** Longest line allowed for one protocol violation: the line names what happened, nothing more. */
const SHORT = 300;

let t: TestServer;
let lines: string[];
beforeEach(async () => {
  lines = [];
  t = await startServer({ logger: createLogger('info', { write: (line: string) => void lines.push(line) }) });
});
afterEach(async () => {
  await t.stop();
});

const parsed = (): Record<string, unknown>[] =>
  lines.map((line) => JSON.parse(line) as Record<string, unknown>);
/** What the server logged of WebSocket connections. */
const logged = (): Record<string, unknown>[] => parsed().filter((l) => String(l.msg).startsWith('websocket'));

/** Waits until the server has logged `n` lines (beyond its start) or a second has passed. */
const settle = async (n: number) => {
  const until = Date.now() + 1_000;
  while (logged().length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  // Anything more the server would write for these sockets comes at once: wait a little for it too.
  await new Promise((r) => setTimeout(r, 100));
};

describe('a client that breaks the WebSocket protocol', () => {
  it('an oversize frame before sign-in: one short line at info, no stack trace; repeated, one per socket', async () => {
    for (let i = 0; i < 5; i++) {
      const c = await openWs(t);
      c.ws.send('x'.repeat(MAX_HANDSHAKE_FRAME_BYTES + 1));
      expect((await c.closed).code).toBe(1009);
    }
    await settle(5);
    const entries = logged();
    expect(entries).toHaveLength(5);
    for (const line of lines) expect(line).not.toMatch(/"stack"|"err"/);
    for (const line of lines.filter((l) => l.includes('"msg":"websocket'))) {
      expect(line.length).toBeLessThan(SHORT);
    }
    for (const [i, entry] of entries.entries()) {
      expect(entry).toMatchObject({
        level: 30,
        msg: 'websocket closed: the client broke the protocol',
        code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
        deviceId: null,
      });
      expect(entry, `line ${i}`).not.toHaveProperty('err');
      expect(JSON.stringify(entry)).not.toMatch(/stack|receiver\.js|\bat [A-Z]\w+\./);
    }
  });

  it('invalid UTF-8 before sign-in, and a frame beyond the transport cap once signed in (warn, with the device)', async () => {
    const bad = await openWs(t);
    bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await bad.closed).code).toBe(1007);
    const patient = await registerAccount(t);
    const device = await connect(t, patient.device);
    device.ws.send('x'.repeat(2 * MAX_FRAME_BYTES + 1));
    expect((await device.closed).code).toBe(1009);
    await settle(2);
    const entries = logged();
    expect(entries.map((e) => [e.level, e.code, e.deviceId])).toEqual([
      [30, 'WS_ERR_INVALID_UTF8', null],
      [40, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', patient.device.deviceId],
    ]);
    for (const line of lines.filter((l) => l.includes('"msg":"websocket'))) {
      expect(line.length).toBeLessThan(SHORT);
    }
    // Nothing else the server wrote meanwhile (registration, sign-in) carries a stack either.
    for (const line of lines) expect(line).not.toMatch(/"stack"|"err"/);
  });
});
