// Shared by the connection tests: a fake socket that completes the handshake by itself (a `challenge` for
// `hello`, a `ready` naming the device that said hello for `auth`) and hands every other frame the device
// sends to the test, which answers it through `reply` (or never).
import type { ServerFrame } from '@hale/protocol';
import type { WebSocketLike } from './connection';

export const SERVER_ID = 'A'.repeat(22);

export type HandshakingSocket = Omit<WebSocketLike, 'readyState'> & {
  readyState: number;
  closed: boolean;
  /** Delivers `frame` to the device as the server's (on a microtask, as a socket would). */
  reply(frame: ServerFrame | Record<string, unknown>): void;
};

/**
 * A socket; `onRequest` gets each frame after the handshake, parsed, with the socket to answer on. `added`
 * goes into every frame it delivers, handshake included (a newer server's properties).
 */
export const handshakingSocket = (
  onRequest: (frame: { t: string; rid: number }, socket: HandshakingSocket, text: string) => void,
  added: Record<string, unknown> = {},
): HandshakingSocket => {
  let helloDeviceId = '';
  const socket: HandshakingSocket = {
    readyState: 1,
    closed: false,
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
    reply(frame) {
      queueMicrotask(() => socket.onmessage?.({ data: JSON.stringify({ ...frame, ...added }) }));
    },
    send(data: string) {
      const frame = JSON.parse(data) as { t: string; rid: number; deviceId?: string };
      if (frame.t === 'hello') {
        helloDeviceId = frame.deviceId ?? '';
        socket.reply({ t: 'challenge', nonce: `${'n'.repeat(42)}k`, serverId: SERVER_ID, version: 3 });
      } else if (frame.t === 'auth') {
        socket.reply({
          t: 'ready',
          accountId: SERVER_ID,
          deviceId: helloDeviceId,
          version: 3,
          sessionExpiresAt: new Date().toISOString(),
        });
      } else onRequest(frame, socket, data);
    },
    close() {
      socket.closed = true;
      socket.readyState = 3;
      queueMicrotask(() => socket.onclose?.({ code: 1000, reason: '' }));
    },
  };
  queueMicrotask(() => socket.onopen?.({}));
  return socket;
};
