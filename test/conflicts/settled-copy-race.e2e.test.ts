// A served version that is the very version a device holds, settled, is never handed to RxDB: there is
// nothing in it to apply, and RxDB stores what it is handed only after the batches queued before it. A
// local edit pushed and acknowledged meanwhile becomes RxDB's assumed master state; when the queued
// version's turn comes RxDB finds the local copy equal to that state and takes the served version, an
// older one, in the edit's place (replication-protocol/downstream.ts, rxdb 17.6). test/carrier-race covers
// the echo this device recognises (it remembers the tag it sent); here the device was restarted, so its
// own earlier version comes back from the server as any other: pushed and acknowledged, its live echo
// never delivered before the app quit, it is served again by the first pull after the restart.
// Driven deterministically: RxDB's storage of another device's record is held, the device's own version
// is served behind it, the record is edited and the edit acknowledged, then the storage goes on.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { editAcknowledged, gatedStorage, watchRevisions } from '../support/gated-storage';
import { allPushed, eventually, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

/**
 * A socket factory that can keep `changes` frames (live deliveries) from the device (never delivered),
 * and counts the documents served to it by pulls.
 */
const withholdingSocket = () => {
  let withholding = false;
  let withheld = 0;
  let pulled = 0;
  const create = interceptedWebSocket({
    received: (text, deliver) => {
      const frame = JSON.parse(text) as { t: string; docs?: unknown[] };
      if (frame.t === 'pulled') pulled += frame.docs?.length ?? 0;
      if (withholding && frame.t === 'changes') withheld++;
      else deliver();
    },
  });
  return {
    create,
    withhold: (): void => {
      withholding = true;
    },
    withheld: (): number => withheld,
    pulled: (): number => pulled,
  };
};

describe("a device's own version served again after a restart while the record is edited", () => {
  const server = useServer({ realClock: true });

  it('is not handed to RxDB, so it never replaces the edit acknowledged before RxDB got to it', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const gate = gatedStorage();
    const dbName = `settled-copy-race-${Date.now()}`;
    // One document per pull page after the restart, so the device's own version is a batch of its own,
    // queued behind the other device's record.
    const batchSize = 1;
    const net = withholdingSocket();
    const first = await openDevice(t, patient, {
      storage: gate.storage,
      dbName,
      batchSize,
      createWebSocket: net.create,
    });
    const b = await openDevice(t, patient, { device: await addDevice(t, patient) });
    server.sessions.push(b);
    await waitOnline(first);
    await waitOnline(b);
    await first.engine.awaitInSync();

    // From here `first` is told of nothing live: b's record, then the echo of its own push, are lost
    // with the app, which quits once its push was acknowledged and recorded.
    net.withhold();
    const marker = await b.records.add('Medication', input('Medication', { name: 'Marker' }));
    await allPushed(b);
    const pushed = gate.upMetaWrites();
    const med = await first.records.add('Medication', input('Medication', { name: 'Placebo', dose: '1 mg' }));
    await allPushed(first);
    await eventually(() => gate.upMetaWrites() > pushed, 'the first version recorded as pushed');
    await eventually(() => net.withheld() === 2, "b's record and the echo were sent to the device");
    await first.close();

    // The app starts again: RxDB's storage of b's record (the first page) is held; the second page is
    // the device's own version, the one it holds, settled.
    gate.holdNextDownstream();
    const again = withholdingSocket();
    const a = await openDevice(t, patient, {
      storage: gate.storage,
      dbName,
      batchSize,
      createWebSocket: again.create,
    });
    server.sessions.push(a);
    await eventually(() => gate.holding(), "a's downstream is storing b's record");
    // The initial pull went through every page, the device's own version included; neither online nor
    // complete while RxDB has not stored what it was handed.
    // Every page applied counts but the last one (a page of one document), which counts once stored.
    await eventually(() => {
      const { done, total } = a.sync.state().initialSync;
      return again.pulled() === 2 && total > 0 && done === total - 1;
    }, 'every page pulled');
    expect(a.sync.state().status).toBe('syncing');
    expect(await a.records.get(marker.id)).toBeNull();
    expect(await a.records.get<'Medication'>(med.id)).toMatchObject({ rv: 1, record: { dose: '1 mg' } });

    // The person edits the record; the edit is acknowledged and recorded as RxDB's assumed master state.
    await editAcknowledged(a, gate, med.id, '2 mg');

    // Every state the local copy takes from here on.
    const { states, stop } = watchRevisions(a, med.id);
    try {
      gate.release();
      await waitOnline(a);
      expect(await a.records.get(marker.id)).not.toBeNull();
      await a.engine.awaitInSync();
      expect(await a.records.get<'Medication'>(med.id)).toMatchObject({ rv: 2, record: { dose: '2 mg' } });
      expect(states.filter((rv) => rv < 2)).toEqual([]);

      await eventually(async () => (await b.records.get(med.id))?.rv === 2, 'b has the edit');
      await a.engine.awaitInSync();
      expect(await a.records.get<'Medication'>(med.id)).toMatchObject({ rv: 2, record: { dose: '2 mg' } });
      expect(states.filter((rv) => rv < 2)).toEqual([]);
    } finally {
      stop();
    }
    expect(a.sync.quarantine()).toEqual([]);
    expect(a.sync.state().errors).toEqual([]);

    // The position of the version not handed over is carried (the pull floor): a reconnect is served nothing.
    expect(again.pulled()).toBe(2);
    a.connection.drop();
    await eventually(() => a.connection.status() !== 'ready', 'connection dropped');
    await waitOnline(a);
    await a.engine.awaitInSync();
    expect(again.pulled()).toBe(2);
  });
});
