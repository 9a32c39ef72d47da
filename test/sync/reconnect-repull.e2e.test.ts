// A device that is caught up fetches nothing it already has when it reconnects. The server leaves a
// connection's own pushes out of its live frames (their positions only), a pull page may still serve them
// (the engine skips them), and RxDB stores a batch's position only with a document in it: a frame or page
// with none of this device's documents must still move the stored checkpoint past them, or every
// reconnect is served the device's own records again. Counted on the device's socket.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { DeviceSession, WebSocketLike } from '@hale/client/advanced';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

/** A socket factory counting the documents served to one device, by frame type. */
const counting = () => {
  let pulled = 0;
  let live = 0;
  /** The highest position a `changes` frame named. */
  let livePosition = 0;
  /** When the latest `changes` frame arrived (the device's clock), null before any. */
  let lastLiveAt: string | null = null;
  const create = (url: string): WebSocketLike => {
    const ws = new WebSocket(url);
    // Registered before the client's own handler, so counted before the frame is handled.
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as {
        t: string;
        docs?: unknown[];
        streams?: { checkpoint: number }[];
      };
      if (frame.t === 'pulled') pulled += frame.docs?.length ?? 0;
      if (frame.t === 'changes') {
        live += frame.docs?.length ?? 0;
        for (const s of frame.streams ?? []) livePosition = Math.max(livePosition, s.checkpoint);
        lastLiveAt = new Date().toISOString();
      }
    });
    return ws as unknown as WebSocketLike;
  };
  return {
    create,
    pulled: () => pulled,
    live: () => live,
    livePosition: () => livePosition,
    lastLiveAt: () => lastLiveAt,
    reset: () => {
      pulled = 0;
      live = 0;
    },
  };
};
type Counter = ReturnType<typeof counting>;

/**
 * Waits until the device has handled every live frame it received (the engine notes `lastSyncedAt` after
 * handing a frame to RxDB) and RxDB is idle: what arrived is stored, or about to be before the next pull
 * reads the checkpoint (RxDB queues that read behind the checkpoint writes).
 */
const settled = async (s: DeviceSession, net: Counter): Promise<void> => {
  await eventually(() => {
    const at = net.lastLiveAt();
    const synced = s.sync.state().lastSyncedAt;
    return at === null || (synced !== null && synced >= at);
  }, 'live frames handled');
  await s.engine.awaitInSync();
};

/** Drops the device's connection `times` times; answers the documents served by each reconnect's pull. */
const reconnects = async (s: DeviceSession, net: Counter, times: number): Promise<number[]> => {
  const served: number[] = [];
  for (let i = 0; i < times; i++) {
    await settled(s, net);
    net.reset();
    s.connection.drop();
    await eventually(() => s.connection.status() !== 'ready', 'connection dropped');
    await waitOnline(s);
    served.push(net.pulled());
  }
  return served;
};

describe('reconnecting a caught-up device', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('after writes told live by position only, a reconnect is served none of them', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const other = await addDevice(t, patient);
    const net = counting();
    const p = await openDevice(t, patient, { createWebSocket: net.create });
    sessions.push(p);
    await waitOnline(p);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await p.records.add('Allergy', input('Allergy', { substance: `substance-${i}` }))).id);
    }
    await allPushed(p);
    // The device's own live subscription is told the positions past its pushes, not the pushes again.
    await eventually(() => net.livePosition() >= 6, 'positions delivered live');
    expect(net.live()).toBe(0);

    expect(await reconnects(p, net, 3)).toEqual([0, 0, 0]);

    // Still following the stream: another device's record arrives, and nothing was set aside.
    const q = await openDevice(t, patient, { device: other });
    sessions.push(q);
    await eventually(async () => (await q.records.query('Allergy')).length === 6, 'second device synced');
    const fromQ = await q.records.add('Allergy', input('Allergy', { substance: 'from-q' }));
    await eventually(async () => (await p.records.get(fromQ.id)) !== null, 'record from the other device');
    expect(await reconnects(p, net, 1)).toEqual([0]);
    expect((await p.records.query('Allergy')).map((r) => r.record.id).sort()).toEqual(
      [...ids, fromQ.id].sort(),
    );
    expect(p.sync.quarantine()).toEqual([]);
    expect(p.sync.state().errors).toEqual([]);
  });

  it('after writes made offline, the first connect is served them once, later reconnects none', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const net = counting();
    const p = await openDevice(t, patient, { createWebSocket: net.create, offline: true });
    sessions.push(p);
    for (let i = 0; i < 6; i++) await p.records.add('Allergy', input('Allergy', { substance: `s-${i}` }));
    p.sync.goOnline();
    await waitOnline(p);
    await allPushed(p);
    // Pushed on connect: the echoes come back by the pull or live, whichever runs after the push.
    await eventually(() => net.pulled() + net.live() >= 6, 'echoes served');

    expect(await reconnects(p, net, 3)).toEqual([0, 0, 0]);
    expect(p.sync.quarantine()).toEqual([]);
    expect(p.sync.state().errors).toEqual([]);
  });
});
