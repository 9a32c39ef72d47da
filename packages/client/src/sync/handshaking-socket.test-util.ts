// Shared by the connection tests: a fake socket that completes the handshake by itself (a `challenge` for
// `hello`, a `ready` naming the device that said hello for `auth`) and hands every other frame the device
// sends to the test, which answers it through `reply` (or never).
import { generateDeviceKeys, webCryptoEd25519 } from '@hale/crypto';
import type { ServerFrame } from '@hale/protocol';
import { createConnection, type ConnectionOptions, type WebSocketLike } from './connection';

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
        socket.reply({ t: 'challenge', nonce: `${'n'.repeat(42)}k`, serverId: SERVER_ID, version: 1 });
      } else if (frame.t === 'auth') {
        socket.reply({
          t: 'ready',
          accountId: SERVER_ID,
          deviceId: helloDeviceId,
          version: 1,
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

/**
 * A fake server of handshaking sockets: holds each request until the test answers it. `sent` has the type
 * of every frame the device sent, socket by socket; `deliver` hands the last socket a frame as text,
 * `deliverData` anything as the socket's data.
 */
export const heldServer = () => {
  const sockets: HandshakingSocket[] = [];
  const requests: Array<{ t: string; rid: number }> = [];
  const sent: string[][] = [];
  const deliverData = (data: unknown): void => sockets.at(-1)?.onmessage?.({ data });
  const deliver = (frame: ServerFrame | Record<string, unknown>): void => deliverData(JSON.stringify(frame));
  const create = (): WebSocketLike => {
    const socket = handshakingSocket((frame) => requests.push(frame));
    const types: string[] = [];
    const send = socket.send.bind(socket);
    socket.send = (data) => {
      types.push((JSON.parse(data) as { t: string }).t);
      send(data);
    };
    sockets.push(socket);
    sent.push(types);
    return socket;
  };
  return { create, sockets, requests, sent, deliver, deliverData };
};

/** A connection of a new device to `server` (fast backoff); `options` adds to or replaces its handlers. */
export const heldConnection = (
  server: { create: () => WebSocketLike },
  options: Partial<Pick<ConnectionOptions, 'onFrame' | 'onStatus' | 'onReady'>> = {},
) => {
  const device = generateDeviceKeys();
  return createConnection({
    url: 'ws://held',
    createWebSocket: server.create,
    device: { deviceId: device.deviceId, secretKey: device.secretKey },
    ed: webCryptoEd25519,
    onFrame: () => undefined,
    backoff: { initialMs: 5, maxMs: 10 },
    ...options,
  });
};

/** A held server and a connection of a new device to it, started and ready. */
export const readyConnection = async () => {
  const server = heldServer();
  const connection = heldConnection(server);
  connection.start();
  await connection.whenReady();
  return { server, connection };
};

/** Long enough for the fake sockets' microtasks and the connection's timers of these tests. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
