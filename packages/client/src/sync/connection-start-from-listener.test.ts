// `start()` called by a status listener (an app that goes online again whenever it sees the link down):
// still one socket at a time, none left open behind the connection's back.
import { describe, expect, it } from 'vitest';
import { generateDeviceKeys, webCryptoEd25519 } from '@hale/crypto';
import { createConnection, type ConnectionStatus, type WebSocketLike } from './connection';
import { handshakingSocket, type HandshakingSocket } from './handshaking-socket.test-util';

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

const openWith = (restartOn: (status: ConnectionStatus) => boolean) => {
  const sockets: HandshakingSocket[] = [];
  const device = generateDeviceKeys();
  const connection = createConnection({
    url: 'ws://held',
    createWebSocket: (): WebSocketLike => {
      const socket = handshakingSocket(() => undefined);
      sockets.push(socket);
      return socket;
    },
    device: { deviceId: device.deviceId, secretKey: device.secretKey },
    ed: webCryptoEd25519,
    onFrame: () => undefined,
    backoff: { initialMs: 5, maxMs: 10 },
  });
  connection.onStatusChange((status) => {
    if (restartOn(status)) connection.start();
  });
  return { connection, sockets, open: () => sockets.filter((s) => !s.closed).length };
};

describe('start() from a status listener', () => {
  it('at offline after a drop: one socket opens again, no second one behind it; stop() closes all', async () => {
    const { connection, sockets, open } = openWith((status) => status === 'offline');
    connection.start();
    await connection.whenReady();
    connection.drop();
    await settle();
    expect(open(), 'sockets open').toBe(1);
    expect(sockets, 'sockets made').toHaveLength(2);
    await connection.whenReady();
    connection.stop();
    expect(open(), 'sockets open after stop()').toBe(0);
  });

  it('at every status but ready: one socket, opened once, ready', async () => {
    const { connection, sockets, open } = openWith((status) => status !== 'ready' && status !== 'stopped');
    connection.start();
    await connection.whenReady();
    expect(sockets, 'sockets made').toHaveLength(1);
    connection.stop();
    expect(open(), 'sockets open after stop()').toBe(0);
  });
});
