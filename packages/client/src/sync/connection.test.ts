// The connection against a scripted server: a reply of a type its request does not allow is refused.
import { describe, expect, it } from 'vitest';
import { generateDeviceKeys, webCryptoEd25519 } from '@hale/crypto';
import type { ServerFrame } from '@hale/protocol';
import { createConnection, type SyncError, type WebSocketLike } from './connection';

const ID = 'A'.repeat(22);

/** One fake socket that completes the handshake and answers each request as `answer` says. */
const scriptedServer = (answer: (request: { t: string; rid: number }) => ServerFrame) => {
  const create = (): WebSocketLike => {
    const socket: WebSocketLike = {
      readyState: 1,
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
      send(data: string) {
        const frame = JSON.parse(data) as { t: string; rid: number };
        const reply: ServerFrame =
          frame.t === 'hello'
            ? { t: 'challenge', nonce: 'n'.repeat(43), serverId: ID, version: 3 }
            : frame.t === 'auth'
              ? {
                  t: 'ready',
                  accountId: ID,
                  deviceId: ID,
                  version: 3,
                  sessionExpiresAt: new Date().toISOString(),
                }
              : answer(frame);
        queueMicrotask(() => socket.onmessage?.({ data: JSON.stringify(reply) }));
      },
      close() {
        queueMicrotask(() => socket.onclose?.({ code: 1000, reason: '' }));
      },
    };
    queueMicrotask(() => socket.onopen?.({}));
    return socket;
  };
  return create;
};

describe('connection replies', () => {
  it('refuses a reply whose type the request does not allow, and takes one it allows', async () => {
    const device = generateDeviceKeys();
    const connection = createConnection({
      url: 'ws://scripted',
      createWebSocket: scriptedServer((request) =>
        request.t === 'listKeyHolders'
          ? { t: 'ok', rid: request.rid }
          : { t: 'streams', rid: request.rid, streams: [] },
      ),
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed: webCryptoEd25519,
      onFrame: () => undefined,
    });
    connection.start();
    try {
      const refused = await connection.request({ t: 'listKeyHolders', streams: [`${ID}/allergy`] }).then(
        () => null,
        (e: unknown) => e as SyncError,
      );
      expect(refused).toMatchObject({ code: 'BAD_MESSAGE', retry: false });
      expect(await connection.request({ t: 'listStreams' })).toMatchObject({ t: 'streams', streams: [] });
    } finally {
      connection.stop();
    }
  });
});
