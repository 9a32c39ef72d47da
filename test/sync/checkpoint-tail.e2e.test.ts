// A device whose stream ends in documents it applies nothing of (here one set aside: its ciphertext was
// altered on the server) is not served them again at every reconnect or restart. RxDB stores a position
// only with a document, so the engine carries such positions itself (its pull floor, persisted). The
// record stays set aside and reported once. Counted on the device's socket.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { DeviceSession, WebSocketLike } from '@hale/client/advanced';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { flipStoredCiphertext, useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

/** A socket factory counting the documents served to a device by pulls. */
const counting = () => {
  let pulled = 0;
  const create = (url: string): WebSocketLike => {
    const ws = new WebSocket(url);
    // Registered before the client's own handler, so counted before the frame is handled.
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as { t: string; docs?: unknown[] };
      if (frame.t === 'pulled') pulled += frame.docs?.length ?? 0;
    });
    return ws as unknown as WebSocketLike;
  };
  return {
    create,
    pulled: () => pulled,
    reset: () => {
      pulled = 0;
    },
  };
};
type Counter = ReturnType<typeof counting>;

/** Drops the device's connection `times` times; answers the documents served by each reconnect's pull. */
const reconnects = async (s: DeviceSession, net: Counter, times: number): Promise<number[]> => {
  const served: number[] = [];
  for (let i = 0; i < times; i++) {
    await s.engine.awaitInSync();
    net.reset();
    s.connection.drop();
    await eventually(() => s.connection.status() !== 'ready', 'connection dropped');
    await waitOnline(s);
    await s.engine.awaitInSync();
    served.push(net.pulled());
  }
  return served;
};

const quarantineIssues = (s: DeviceSession, id: string): number =>
  s.sync.state().errors.filter((e) => e.code === 'QUARANTINED' && e.id === id).length;

describe('a caught-up device whose stream ends in a record set aside', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('is served it once: not again at reconnects or a restart, and reports it once', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const b = await openDevice(t, patient, { device: await addDevice(t, patient) });
    sessions.push(b);
    await b.records.add('Allergy', input('Allergy', { substance: 'readable' }));
    await allPushed(b);
    const storage = getRxStorageMemory();
    const dbName = `checkpoint-tail-${Date.now()}`;
    const net = counting();
    // a holds the stream up to here, then is closed while b writes a record the server then alters.
    const first = await openDevice(t, patient, { createWebSocket: net.create, storage, dbName });
    await waitOnline(first);
    await first.engine.awaitInSync();
    await eventually(async () => (await first.records.query('Allergy')).length === 1, 'a has the record');
    await first.close();
    const bad = await b.records.add('Allergy', input('Allergy', { substance: 'altered' }));
    await allPushed(b);
    flipStoredCiphertext(t, bad.id);

    net.reset();
    const a = await openDevice(t, patient, { createWebSocket: net.create, storage, dbName });
    await waitOnline(a);
    await a.engine.awaitInSync();
    expect(net.pulled()).toBeGreaterThanOrEqual(1);
    expect(a.sync.quarantine().map((q) => q.id)).toEqual([bad.id]);
    expect(quarantineIssues(a, bad.id)).toBe(1);

    expect(await reconnects(a, net, 3)).toEqual([0, 0, 0]);
    expect(a.sync.quarantine().map((q) => q.id)).toEqual([bad.id]);
    expect(quarantineIssues(a, bad.id)).toBe(1);

    // The app restarts: the positions carried past the record are kept with the device.
    await a.close();
    net.reset();
    const again = await openDevice(t, patient, { createWebSocket: net.create, storage, dbName });
    sessions.push(again);
    await waitOnline(again);
    await again.engine.awaitInSync();
    expect(net.pulled()).toBe(0);
    expect(again.sync.quarantine().map((q) => q.id)).toEqual([bad.id]);
    expect(quarantineIssues(again, bad.id)).toBe(0);

    // Still following the stream: a later record arrives (and is stored with its position).
    const later = await b.records.add('Allergy', input('Allergy', { substance: 'later' }));
    await eventually(async () => (await again.records.get(later.id)) !== null, 'the later record');
    expect(await reconnects(again, net, 1)).toEqual([0]);
    expect((await again.records.query('Allergy')).length).toBe(2);
  });
});
