// A device whose registration the server no longer holds (here: the store restored from a backup taken
// before the device joined) cannot sync there until the person joins again or points the app at the right
// server. The server refuses it NOT_FOUND at hello; the device must say so (status `fatal`, a
// DEVICE_UNKNOWN issue a person can act on), stop reconnecting, and settle its waits with the error. A
// device that merely missed the handshake deadline (UNAUTHENTICATED) still reconnects.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import type { WebSocketLike } from '@hale/client';
import {
  createWebSocket,
  eventually,
  interceptedWebSocket,
  openDevice,
  waitOnline,
} from '../support/devices';
import { useServer } from '../support/fixture';
import { useRestorableServer } from '../support/restorable-server';

/** A socket factory that counts the sockets (upgrade attempts) the device opens. */
const countingSockets = (inner: (url: string) => WebSocketLike = createWebSocket) => {
  const counter = { sockets: 0 };
  const factory = (url: string): WebSocketLike => {
    counter.sockets++;
    return inner(url);
  };
  return { counter, factory };
};

/** How `p` settled within `ms`: its rejection's code, 'resolved', or 'pending'. */
const settledWithin = (p: Promise<unknown>, ms: number): Promise<string> =>
  Promise.race([
    p.then(
      () => 'resolved',
      (e: unknown) => `rejected ${(e as { code?: string }).code ?? String(e)}`,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('pending'), ms)),
  ]);

describe('a device the server does not know', () => {
  const { sessions, start } = useRestorableServer('hale-unknown-device-', { inProcess: true });

  it('after a restore to a backup from before it joined: reports DEVICE_UNKNOWN, stops reconnecting, settles its waits', async () => {
    const { t, backup, restore } = await start();
    const patient = await registerAccount(t);
    await backup();
    const second = await addDevice(t, patient);
    const { counter, factory } = countingSockets();
    const device = await openDevice(t, patient, { device: second, createWebSocket: factory });
    sessions.push(device);
    await waitOnline(device);

    await restore();
    // The device reconnects with backoff once the server is back and is refused at hello.
    await eventually(() => device.sync.state().status === 'fatal', 'the device gives up', 20_000).catch(
      () => undefined,
    );
    const state = device.sync.state();
    const before = counter.sockets;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const attemptsAfter = counter.sockets - before;

    expect({ status: state.status, attemptsAfter }).toEqual({ status: 'fatal', attemptsAfter: 0 });
    const issue = state.errors.find((e) => e.code === 'DEVICE_UNKNOWN');
    expect(issue?.message).toMatch(/does not know this device/);
    expect(issue?.message).toMatch(/join again/);
    expect(issue?.message).toMatch(/server address/);
    expect(device.connection.reason()).toMatch(/^DEVICE_UNKNOWN: /);
    expect(await settledWithin(device.connection.whenReady(), 1_000)).toBe('rejected DEVICE_UNKNOWN');
    expect(await settledWithin(device.sync.awaitInSync(), 1_000)).toBe('rejected DEVICE_UNKNOWN');
  });
});

describe('a device that misses the handshake deadline', () => {
  const server = useServer({ realClock: true, config: { handshakeTimeoutMs: 300 } });

  it('is refused UNAUTHENTICATED and reconnects, then syncs', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    // The first socket's auth never reaches the server: it closes that socket at the deadline.
    let held = 0;
    const { counter, factory } = countingSockets(
      interceptedWebSocket({
        sent: (text, send) => {
          if ((JSON.parse(text) as { t: string }).t === 'auth' && held === 0) held++;
          else send(text);
        },
      }),
    );
    const statuses: string[] = [];
    const device = await openDevice(t, patient, { createWebSocket: factory });
    server.sessions.push(device);
    const sub = device.sync.state$.subscribe((s) => statuses.push(s.status));
    await waitOnline(device);
    sub.unsubscribe();

    expect(held).toBe(1);
    expect(counter.sockets).toBeGreaterThanOrEqual(2);
    expect(statuses).not.toContain('fatal');
    expect(device.sync.state().errors.map((e) => e.code)).not.toContain('DEVICE_UNKNOWN');
  });
});
