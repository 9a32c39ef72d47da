// The connection's answer to RATE_LIMITED, against a scripted server: it waits the `retryAfterMs` named and
// sends the request again on the same socket, within a bound, and writes `rid` first.
import { describe, expect, it, vi } from 'vitest';
import { generateDeviceKeys, webCryptoEd25519 } from '@hale/crypto';
import type { ServerFrame } from '@hale/protocol';
import { createConnection, SyncError, type WebSocketLike } from './connection';
import { handshakingSocket } from './handshaking-socket.test-util';

interface Sent {
  at: number;
  text: string;
}

/** Fake sockets that complete the handshake and answer the n-th request frame (0-based) as `answer` says. */
const scriptedServer = (answer: (rid: number, n: number) => ServerFrame | null) => {
  const sent: Sent[] = [];
  let sockets = 0;
  let requests = 0;
  const create = (): WebSocketLike => {
    sockets++;
    return handshakingSocket((frame, socket, text) => {
      sent.push({ at: performance.now(), text });
      const reply = answer(frame.rid, requests++);
      if (reply !== null) socket.reply(reply);
    });
  };
  return { create, sent, sockets: () => sockets };
};

const limited = (rid: number, retryAfterMs?: number): ServerFrame => ({
  t: 'error',
  rid,
  code: 'RATE_LIMITED',
  message: 'slow down',
  ...(retryAfterMs === undefined ? {} : { details: { retryAfterMs } }),
});

const open = (server: ReturnType<typeof scriptedServer>, requestTimeoutMs = 2_000) => {
  const device = generateDeviceKeys();
  const connection = createConnection({
    url: 'ws://scripted',
    createWebSocket: server.create,
    device: { deviceId: device.deviceId, secretKey: device.secretKey },
    ed: webCryptoEd25519,
    onFrame: () => undefined,
    requestTimeoutMs,
  });
  connection.start();
  return connection;
};

const settle = (p: Promise<ServerFrame>): Promise<string> =>
  p.then(
    (f) => f.t,
    (e: unknown) => (e instanceof SyncError ? `${e.code}${e.retry ? ' (retry)' : ''}` : String(e)),
  );

describe('RATE_LIMITED answers', () => {
  it('waits the retryAfterMs named and sends the same request again on the same socket, rid first', async () => {
    const server = scriptedServer((rid, n) =>
      n < 2 ? limited(rid, 40) : { t: 'pong', rid, time: new Date().toISOString() },
    );
    const connection = open(server);
    try {
      expect(await settle(connection.request({ t: 'ping' }))).toBe('pong');
      expect(server.sent.map((s) => s.text)).toEqual(Array(3).fill('{"rid":1,"t":"ping"}'));
      const gaps = server.sent.slice(1).map((s, i) => s.at - server.sent[i]!.at);
      // Whole-millisecond clocks (see below): up to 2 ms early as measured here.
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(38);
      expect({ sockets: server.sockets(), status: connection.status() }).toEqual({
        sockets: 1,
        status: 'ready',
      });
    } finally {
      connection.stop();
    }
  });

  it('sends requests refused together again one wait apart', async () => {
    const server = scriptedServer((rid, n) =>
      n < 3 ? limited(rid, 30) : { t: 'pong', rid, time: new Date().toISOString() },
    );
    const connection = open(server);
    try {
      const outcomes = await Promise.all([1, 2, 3].map(() => settle(connection.request({ t: 'ping' }))));
      expect(outcomes).toEqual(['pong', 'pong', 'pong']);
      // Refused at once, so the k-th goes again no sooner than k + 1 waits after the first went out. The
      // connection plans by Date.now() and timers fire by the loop's clock, both in whole milliseconds, while
      // `at` is performance.now(): up to 2 ms early as measured here (CI once saw 88.9 ms for 90).
      const first = server.sent[0]!.at;
      const resends = server.sent.slice(3).map((s) => s.at - first);
      expect(resends).toHaveLength(3);
      resends.forEach((at, k) => expect(at).toBeGreaterThanOrEqual(30 * (k + 1) - 2));
    } finally {
      connection.stop();
    }
  });

  it('fails with RATE_LIMITED (retryable) when no wait is named, or its waits would pass the request timeout', async () => {
    const server = scriptedServer((rid, n) => (n === 0 ? limited(rid) : limited(rid, 60)));
    const connection = open(server, 100);
    try {
      expect(await settle(connection.request({ t: 'ping' }))).toBe('RATE_LIMITED (retry)');
      expect(server.sent).toHaveLength(1);
      // 60 ms, then 60 more would pass 100 ms: sent twice, then failed.
      expect(await settle(connection.request({ t: 'ping' }))).toBe('RATE_LIMITED (retry)');
      expect(server.sent).toHaveLength(3);
      expect(connection.status()).toBe('ready');
    } finally {
      connection.stop();
    }
  });

  it('fails a request waiting to be sent again with NETWORK when the socket drops, and does not send it', async () => {
    const server = scriptedServer((rid) => limited(rid, 50));
    const connection = open(server);
    try {
      const outcome = settle(connection.request({ t: 'ping' }));
      // Refused once and waiting to be sent again (not still before `ready`) when the socket drops.
      await vi.waitFor(() => expect(server.sent).toHaveLength(1));
      connection.drop();
      expect(await outcome).toBe('NETWORK (retry)');
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(server.sent).toHaveLength(1);
    } finally {
      connection.stop();
    }
  });
});
