// A device that outruns its per-device rate limit, through its real connection to a real server: every
// request is answered (RATE_LIMITED carries the request's rid), the connection waits the `retryAfterMs`
// the server names and sends the request again on the same socket, so each request ends with its reply.
// Before, the server could not find a rid written after the frame's arrays (the connection wrote it last),
// the requests got no answer, and the device timed out (TIMEOUT, then NETWORK for the others) and
// dropped the socket.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ClientFrame, ServerFrame } from '@hale/protocol';
import { createConnection, SyncError, type WebSocketLike } from '@hale/client/advanced';
import { makeDoc, registerAccount, streamOf, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { ed } from '../support/devices';

const PER_SECOND = 20;
const BURST = 3;

interface Wire {
  at: number;
  text: string;
}

/** The device's connection with every frame it sends and receives recorded, and its sockets counted. */
const openConnection = async (t: TestServer, account: Awaited<ReturnType<typeof registerAccount>>) => {
  const sent: Wire[] = [];
  const received: Wire[] = [];
  let sockets = 0;
  const createWebSocket = (url: string): WebSocketLike => {
    sockets++;
    const ws = new WebSocket(url);
    const rawSend = ws.send.bind(ws) as (data: string) => void;
    (ws as unknown as { send: (data: string) => void }).send = (data) => {
      sent.push({ at: performance.now(), text: data });
      rawSend(data);
    };
    ws.on('message', (data: Buffer) => received.push({ at: performance.now(), text: data.toString('utf8') }));
    return ws as unknown as WebSocketLike;
  };
  const unsolicited: ServerFrame[] = [];
  const connection = createConnection({
    url: t.wsUrl,
    createWebSocket,
    device: { deviceId: account.device.deviceId, secretKey: account.device.keys.secretKey },
    ed,
    onFrame: (f) => unsolicited.push(f),
    requestTimeoutMs: 3_000,
  });
  connection.start();
  await connection.whenReady();
  return { connection, sent, received, unsolicited, sockets: () => sockets };
};

const outcome = (p: Promise<ServerFrame>): Promise<string> =>
  p.then(
    (f) => f.t,
    (e: unknown) => (e instanceof SyncError ? e.code : String(e)),
  );

describe('rate-limited requests from the device connection', () => {
  const fixture = useServer({
    config: { rateLimitPerDevice: { perSecond: PER_SECOND, burst: BURST } },
    realClock: true,
  });

  it('concurrent pulls and pushes over the limit all get their reply, after the wait the server names, on one socket', async () => {
    const { t } = fixture;
    const a = await registerAccount(t);
    const stream = streamOf(a.accountId, 'note');
    const docs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => makeDoc(a, a.device, 'note', { text: `n${i}` })),
    );
    const { connection, sent, received, unsolicited, sockets } = await openConnection(t, a);
    const pulls = Array.from({ length: 8 }, () =>
      outcome(
        connection.request({ t: 'pull', streams: [{ stream, since: 0 }], limit: 10, maxBytes: 100_000 }),
      ),
    );
    const pushes = docs.map((doc) =>
      outcome(connection.request({ t: 'push', rows: [{ doc, assumedRev: null }] })),
    );
    const outcomes = { pulls: await Promise.all(pulls), pushes: await Promise.all(pushes) };
    connection.stop();

    expect(outcomes).toEqual({ pulls: Array(8).fill('pulled'), pushes: Array(8).fill('pushed') });
    expect({ sockets: sockets(), unsolicited }).toEqual({ sockets: 1, unsolicited: [] });

    // The limit was met (so the waits were exercised), every refusal named its request, and the request
    // went out again no sooner than the server asked.
    const frames = received.map((w) => ({ at: w.at, frame: JSON.parse(w.text) as ServerFrame }));
    const limited = frames.flatMap(({ at, frame }) =>
      frame.t === 'error' && frame.code === 'RATE_LIMITED' ? [{ at, frame }] : [],
    );
    // How many refusals there are depends on the machine's load (a busy server drains its bucket later);
    // the pacing of requests refused together is pinned by connection-rate-limit.test.ts.
    expect(limited.length).toBeGreaterThanOrEqual(16 - BURST - 2);
    const requests = sent.map((w) => ({ at: w.at, frame: JSON.parse(w.text) as ClientFrame }));
    for (const { at, frame } of limited) {
      expect(frame.rid).toBeTypeOf('number');
      const retryAfterMs = frame.details?.['retryAfterMs'];
      expect(retryAfterMs).toBeTypeOf('number');
      const again = requests.find((r) => r.at > at && 'rid' in r.frame && r.frame.rid === frame.rid);
      expect(again, `rid ${frame.rid} sent again`).toBeDefined();
      // performance.now() is finer than the timers and Date.now() the device plans by (both in whole
      // milliseconds): 2 ms of slack for their rounding.
      expect(again!.at - at).toBeGreaterThanOrEqual(Number(retryAfterMs) - 2);
    }
    // The rid goes first, so a server that reads only a frame's start still finds it.
    for (const w of sent.slice(2)) expect(w.text.startsWith('{"rid":')).toBe(true);
  });
});
