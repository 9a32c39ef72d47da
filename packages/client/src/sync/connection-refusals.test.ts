// Refusals before `ready` against a scripted server: which end the connection for good (fatal, no
// reconnect, waiters rejected with the error) and which are retried.
import { describe, expect, it, vi } from 'vitest';
import { generateDeviceKeys, webCryptoEd25519 } from '@hale/crypto';
import type { ServerFrame } from '@hale/protocol';
import { createConnection, type ConnectionStatus, type WebSocketLike } from './connection';

/** Sockets whose server answers hello with `refusal` and closes 4001, as the sync server does. */
const refusingServer = (refusal: ServerFrame) => {
  const opened = { sockets: 0 };
  const create = (): WebSocketLike => {
    opened.sockets++;
    const socket: WebSocketLike = {
      readyState: 1,
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
      send() {
        queueMicrotask(() => {
          socket.onmessage?.({ data: JSON.stringify(refusal) });
          socket.onclose?.({ code: 4001, reason: refusal.t === 'error' ? refusal.code : '' });
        });
      },
      close() {
        queueMicrotask(() => socket.onclose?.({ code: 1000, reason: '' }));
      },
    };
    queueMicrotask(() => socket.onopen?.({}));
    return socket;
  };
  return { opened, create };
};

const connectTo = (server: ReturnType<typeof refusingServer>) => {
  const device = generateDeviceKeys();
  const statuses: ConnectionStatus[] = [];
  const connection = createConnection({
    url: 'ws://scripted',
    createWebSocket: server.create,
    device: { deviceId: device.deviceId, secretKey: device.secretKey },
    ed: webCryptoEd25519,
    onFrame: () => undefined,
    onStatus: (status) => statuses.push(status),
    backoff: { initialMs: 5, maxMs: 10 },
  });
  return { connection, statuses };
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('refusals before ready', () => {
  it('NOT_FOUND at hello (the server does not know this device) is fatal: DEVICE_UNKNOWN, no reconnect', async () => {
    const server = refusingServer({ t: 'error', code: 'NOT_FOUND', message: 'unknown device' });
    const { connection, statuses } = connectTo(server);
    connection.start();
    const ready = connection.whenReady().then(
      () => null,
      (e: unknown) => e,
    );
    try {
      expect(await ready).toMatchObject({ code: 'DEVICE_UNKNOWN', retry: false });
      // Room for several reconnects at this backoff, were any scheduled.
      await sleep(100);
      expect(server.opened.sockets).toBe(1);
      expect(connection.status()).toBe('fatal');
      expect(statuses).not.toContain('offline');
      expect(connection.reason()).toMatch(/^DEVICE_UNKNOWN: this server does not know this device/);
      expect(connection.failure()).toMatchObject({ code: 'DEVICE_UNKNOWN' });
      // Later waits are told the same, not a bare FATAL.
      await expect(connection.whenReady()).rejects.toMatchObject({ code: 'DEVICE_UNKNOWN' });
    } finally {
      connection.stop();
    }
  });

  it('UNAUTHENTICATED before ready (a missed handshake deadline) is retried', async () => {
    const server = refusingServer({
      t: 'error',
      code: 'UNAUTHENTICATED',
      message: 'not authenticated in time; reconnect and authenticate',
    });
    const { connection, statuses } = connectTo(server);
    connection.start();
    try {
      await vi.waitFor(() => expect(server.opened.sockets).toBeGreaterThan(2));
      expect(statuses).not.toContain('fatal');
      expect(connection.failure()).toBeUndefined();
      expect(connection.reason()).toMatch(/^UNAUTHENTICATED: /);
    } finally {
      connection.stop();
    }
  });
});

describe('onStatusChange', () => {
  it('hears every status onStatus hears, until it is stopped', async () => {
    const server = refusingServer({ t: 'error', code: 'NOT_FOUND', message: 'unknown device' });
    const { connection, statuses } = connectTo(server);
    const heard: ConnectionStatus[] = [];
    const stop = connection.onStatusChange((status) => heard.push(status));
    connection.start();
    await connection.whenReady().catch(() => undefined);
    expect(heard).toEqual(statuses);
    expect(heard).toContain('fatal');
    stop();
    connection.stop();
    expect(statuses.at(-1)).toBe('stopped');
    expect(heard).not.toContain('stopped');
  });
});
