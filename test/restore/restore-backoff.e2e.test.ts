// A broken or hostile server that announces a new store incarnation (`ready.incarnation`) at every
// connection: the first announcement is taken as the restore it claims to be (every local version sent
// again, every stream pulled from 0, at once), but the ones that follow within hours are not — each would
// cost the whole account's traffic again. They are reported for the person to take to whoever runs the
// server, and acted on once the backoff (on the device's own clock, injected here) has passed; what the
// device counted survives a restart. The server is real; only the `ready` frames it sends are rewritten.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { RESYNC_BACKOFF_BASE_MS, type DeviceSession } from '@hale/client/advanced';
import { allPushed, eventually, interceptedWebSocket, openDevice } from '../support/devices';
import { input } from '../support/records';
import { useServer } from '../support/fixture';

/**
 * A socket factory that replaces the incarnation of every `ready` with `forged.incarnation` (when set),
 * and counts the rows of the pushes the device sends and the documents pulls bring it.
 */
const hostileServer = () => {
  const counts = { pushedRows: 0, pulledDocs: 0 };
  const forged: { incarnation: string | undefined } = { incarnation: undefined };
  const factory = interceptedWebSocket({
    sent: (text, send) => {
      const frame = JSON.parse(text) as { t: string; rows?: unknown[] };
      if (frame.t === 'push') counts.pushedRows += frame.rows?.length ?? 0;
      send(text);
    },
    received: (text, deliver) => {
      const frame = JSON.parse(text) as { t: string; docs?: unknown[]; incarnation?: string };
      if (frame.t === 'pulled') counts.pulledDocs += frame.docs?.length ?? 0;
      if (frame.t === 'ready' && forged.incarnation !== undefined) {
        deliver(JSON.stringify({ ...frame, incarnation: forged.incarnation }));
      } else deliver();
    },
  });
  return { counts, forged, factory };
};

let n = 0;
const newIncarnation = () => `forged-incarnation-${(++n).toString().padStart(4, '0')}`;
const codes = (s: DeviceSession, code: string) => s.sync.state().errors.filter((e) => e.code === code);
const recorded = async (s: DeviceSession): Promise<string | undefined> =>
  (await s.db.getLocal<{ value: { recorded?: string } }>('meta-incarnation'))?.toJSON().data.value.recorded;

/** Reconnects `s` and waits until it is caught up on the new connection. */
const reconnect = async (s: DeviceSession) => {
  s.sync.goOffline();
  await eventually(() => s.sync.state().status === 'stopped', 'stopped');
  s.sync.goOnline();
  await eventually(() => s.sync.state().status === 'online', 'online again', 30_000);
  await s.sync.awaitInSync();
};

describe('a server that announces a new incarnation at every connection', () => {
  const server = useServer();

  it('gets one full catch-up at once, then none until the backoff has passed, also across a restart', async () => {
    const t = server.t;
    const storage = getRxStorageDexie({
      indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
      IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
    });
    const dbName = `restore-backoff-${Date.now()}`;
    const hostile = hostileServer();
    let offset = 0;
    const now = () => Date.now() + offset;
    const patient = await registerAccount(t);
    const open = () => openDevice(t, patient, { storage, dbName, now, createWebSocket: hostile.factory });
    let a = await open();
    // Written on another device of the account, so that a's pulls bring them and its checkpoint moves on:
    // a reconnect then pulls nothing, and a catch-up pulls them all again (and sends them again: they
    // are the account's own).
    const b = await openDevice(t, patient, { device: await addDevice(t, patient) });
    server.sessions.push(b);
    const records = 6;
    for (let i = 0; i < records; i++) {
      await b.records.add('Allergy', input('Allergy', { substance: `held-${i}` }));
    }
    await allPushed(b);
    await eventually(async () => (await a.records.query('Allergy')).length === records, 'a has them');
    await eventually(async () => (await recorded(a)) !== undefined, 'the real incarnation adopted');
    await a.sync.awaitInSync();
    let before = { ...hostile.counts };
    await reconnect(a);
    expect(hostile.counts.pulledDocs).toBe(before.pulledDocs);

    // The first announcement of a restore: caught up with at once, as a genuine restore must be.
    const first = newIncarnation();
    hostile.forged.incarnation = first;
    before = { ...hostile.counts };
    await reconnect(a);
    await eventually(async () => (await recorded(a)) === first, 'the first restore caught up with', 30_000);
    expect(hostile.counts.pushedRows - before.pushedRows).toBeGreaterThanOrEqual(records);
    expect(hostile.counts.pulledDocs - before.pulledDocs).toBeGreaterThanOrEqual(records);
    expect(codes(a, 'SERVER_RESTORED')).toHaveLength(1);
    expect(codes(a, 'RESTORE_SYNCED')).toHaveLength(1);
    expect(codes(a, 'SERVER_RESTORES_REPEATED')).toEqual([]);

    // A new incarnation at every connection from now on: nothing is sent again, nothing pulled from 0.
    before = { ...hostile.counts };
    for (let i = 0; i < 3; i++) {
      hostile.forged.incarnation = newIncarnation();
      await reconnect(a);
    }
    expect(hostile.counts).toEqual(before);
    expect(await recorded(a)).toBe(first);
    expect(codes(a, 'SERVER_RESTORED')).toHaveLength(1);
    expect(codes(a, 'RESTORE_SYNCED')).toHaveLength(1);
    const [repeated] = codes(a, 'SERVER_RESTORES_REPEATED');
    expect(repeated?.message).toMatch(
      /^The server reported being restored from a backup 2 times in 1 hour\. .*report it to whoever runs it\.$/,
    );
    // Sync itself goes on: a record written now reaches the server.
    await a.records.add('Allergy', input('Allergy', { substance: 'written while backed off' }));
    await allPushed(a);

    // What the device counted is kept across a restart.
    await a.close();
    a = await open();
    server.sessions.push(a);
    hostile.forged.incarnation = newIncarnation();
    await eventually(() => a.sync.state().status === 'online', 'online after the restart', 30_000);
    await a.sync.awaitInSync();
    before = { ...hostile.counts };
    await reconnect(a);
    expect(hostile.counts.pushedRows - before.pushedRows).toBe(0);
    expect(hostile.counts.pulledDocs - before.pulledDocs).toBe(0);
    expect(codes(a, 'SERVER_RESTORES_REPEATED')).toHaveLength(1);
    expect(codes(a, 'SERVER_RESTORED')).toEqual([]);
    expect(await recorded(a)).toBe(first);

    // Once the backoff has passed, the next announcement is caught up with again...
    offset += RESYNC_BACKOFF_BASE_MS;
    const later = newIncarnation();
    hostile.forged.incarnation = later;
    before = { ...hostile.counts };
    await reconnect(a);
    await eventually(async () => (await recorded(a)) === later, 'the later restore caught up with', 30_000);
    expect(hostile.counts.pushedRows - before.pushedRows).toBeGreaterThanOrEqual(records + 1);
    expect(codes(a, 'RESTORE_SYNCED')).toHaveLength(1);

    // ... and the one after it waits twice as long: not caught up with after one base period.
    offset += RESYNC_BACKOFF_BASE_MS;
    hostile.forged.incarnation = newIncarnation();
    before = { ...hostile.counts };
    await reconnect(a);
    expect(hostile.counts).toEqual(before);
    expect(await recorded(a)).toBe(later);
    expect(codes(a, 'SERVER_RESTORES_REPEATED').at(-1)?.message).toMatch(/restored from a backup 3 times/);
  }, 180_000);
});
