// A frame that is not text (every frame of the protocol is): reported as any invalid frame is, never
// dropped unseen, and the connection goes on.
import { describe, expect, it } from 'vitest';
import { generateDeviceKeys, webCryptoEd25519 } from '@hale/crypto';
import type { ServerFrame } from '@hale/protocol';
import { createConnection, type WebSocketLike } from './connection';
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

describe('a frame that is not text', () => {
  it('is reported as an invalid frame (BAD_MESSAGE) and ignored; the connection goes on', async () => {
    const server = heldServer();
    const frames: ServerFrame[] = [];
    const connection = connectionTo(server, frames);
    connection.start();
    try {
      await connection.whenReady();
      const sent = connection.request({ t: 'listStreams' });
      sent.catch(() => undefined);
      await settle();
      const [asked] = server.requests;
      const reply = JSON.stringify({ t: 'streams', rid: asked!.rid, streams: [] });
      // The reply as a binary frame (as `ws` and browsers hand one on): every frame of the protocol is text.
      server.deliver(new TextEncoder().encode(reply).buffer);
      expect(frames).toEqual([{ t: 'error', code: 'BAD_MESSAGE', message: expect.any(String) as string }]);
      expect(connection.status()).toBe('ready');
      server.deliver(reply);
      expect(await sent).toMatchObject({ t: 'streams', streams: [] });
    } finally {
      connection.stop();
    }
  });
});
