// A reply repeated for a request already settled (a server answering a request twice) names no pending
// request: it ends nothing, whatever its code, and fails no other request.
import { describe, expect, it } from 'vitest';
import { generateDeviceKeys, webCryptoEd25519 } from '@hale/crypto';
import type { ServerFrame } from '@hale/protocol';
import { createConnection, type SyncError, type WebSocketLike } from './connection';
import { handshakingSocket, type HandshakingSocket } from './handshaking-socket.test-util';

/** A fake server: completes the handshake, holds each request until the test answers it. */
const heldServer = () => {
  const sockets: HandshakingSocket[] = [];
  const requests: Array<{ t: string; rid: number }> = [];
  const deliver = (data: unknown): void => sockets.at(-1)?.onmessage?.({ data });
  const create = (): WebSocketLike => {
    const socket = handshakingSocket((frame) => requests.push(frame));
    sockets.push(socket);
    return socket;
  };
  return { create, sockets, requests, deliver };
};

const connectionTo = (server: ReturnType<typeof heldServer>, frames: ServerFrame[]) => {
  const device = generateDeviceKeys();
  return createConnection({
    url: 'ws://held',
    createWebSocket: server.create,
    device: { deviceId: device.deviceId, secretKey: device.secretKey },
    ed: webCryptoEd25519,
    onFrame: (frame) => frames.push(frame),
    backoff: { initialMs: 5, maxMs: 10 },
  });
};

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (e: unknown) => e as SyncError,
  );

describe('a reply repeated for a request already settled', () => {
  it('a second error naming its rid, with a code fatal without one, ends nothing and fails no other request', async () => {
    for (const code of ['BAD_SIGNATURE', 'DEVICE_REVOKED', 'UNSUPPORTED_VERSION']) {
      const server = heldServer();
      const frames: ServerFrame[] = [];
      const connection = connectionTo(server, frames);
      connection.start();
      try {
        await connection.whenReady();
        const first = failure(connection.request({ t: 'listStreams' }));
        const other = connection.request({ t: 'listStreams' });
        other.catch(() => undefined);
        await settle();
        const [a, b] = server.requests;
        const refusal = { t: 'error', rid: a!.rid, code, message: 'refused' };
        server.deliver(JSON.stringify(refusal));
        // The same answer again (a server that answers a request twice).
        server.deliver(JSON.stringify(refusal));
        server.deliver(JSON.stringify({ t: 'streams', rid: b!.rid, streams: [] }));

        expect(await first, code).toMatchObject({ code });
        expect(await other, code).toMatchObject({ t: 'streams', streams: [] });
        expect(connection.status(), code).toBe('ready');
        expect(connection.failure(), code).toBeUndefined();
        expect(server.sockets[0]?.closed, code).toBe(false);
        await settle();
        expect(server.sockets, `${code}: sockets opened`).toHaveLength(1);
        const later = connection.request({ t: 'listStreams' });
        await settle();
        server.deliver(JSON.stringify({ t: 'streams', rid: server.requests[2]!.rid, streams: [] }));
        expect(await later, code).toMatchObject({ t: 'streams' });
      } finally {
        connection.stop();
      }
    }
  });
});
