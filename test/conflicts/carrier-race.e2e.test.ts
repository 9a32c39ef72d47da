// A device's own edit is never replaced by an older version of its own that the server echoed back. RxDB
// runs its upstream (pushes) and downstream (served versions) independently: a served batch waits behind
// the one RxDB is storing, while a push can go out, be acknowledged and become RxDB's assumed master state.
// When the batch's turn comes, RxDB finds the local copy equal to that state and takes the served version
// if it differs. So a version handed over before an edit must not be an older state of that record.
// Driven deterministically: RxDB's storage of another device's record is held, the echo of this device's
// push is handed over behind it, the record is edited and the edit acknowledged, then the storage goes on.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { editAcknowledged, gatedStorage, watchRevisions } from '../support/gated-storage';
import { allPushed, eventually, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

/** A socket factory that can hold back `changes` frames (live deliveries) from the device. */
const holdingSocket = () => {
  let holding = false;
  const held: Array<() => void> = [];
  const create = interceptedWebSocket({
    received: (text, deliver) => {
      if (holding && (JSON.parse(text) as { t: string }).t === 'changes') held.push(() => deliver());
      else deliver();
    },
  });
  return {
    create,
    hold: (): void => {
      holding = true;
    },
    held: (): number => held.length,
    /** Delivers what was held, in order; `keepHolding` holds what arrives after. */
    flush: (keepHolding: boolean): void => {
      holding = keepHolding;
      for (const deliver of held.splice(0)) deliver();
    },
  };
};

describe('an echo handed to RxDB while the record is edited', () => {
  const server = useServer({ realClock: true });

  it('never replaces the edit, also once the edit was acknowledged before RxDB stores the echo', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const gate = gatedStorage();
    const net = holdingSocket();
    // Strictly increasing, so every `lastSyncedAt` the engine notes is new.
    let last = 0;
    const now = (): number => (last = Math.max(Date.now(), last + 1));
    const a = await openDevice(t, patient, { storage: gate.storage, createWebSocket: net.create, now });
    server.sessions.push(a);
    const b = await openDevice(t, patient, { device: await addDevice(t, patient) });
    server.sessions.push(b);
    await waitOnline(a);
    await waitOnline(b);

    // RxDB on a stores b's record: held there, so every later served batch waits behind it.
    gate.holdNextDownstream();
    await b.records.add('Medication', input('Medication', { name: 'Marker' }));
    await eventually(() => gate.holding(), "a's downstream is storing b's record");

    // a writes a record; the push is acknowledged and recorded; its echo is held on the socket.
    net.hold();
    const pushed = gate.upMetaWrites();
    const med = await a.records.add('Medication', input('Medication', { name: 'Placebo', dose: '1 mg' }));
    await allPushed(a);
    await eventually(() => gate.upMetaWrites() > pushed, 'the first version recorded as pushed');
    await eventually(() => net.held() === 1, 'the echo of the first version arrived');

    // The echo is handled: the engine checks it and hands what it hands to RxDB, which queues it.
    const before = a.sync.state().lastSyncedAt;
    net.flush(true);
    await eventually(() => a.sync.state().lastSyncedAt !== before, 'the echo handled');

    // The person edits the record; the edit is acknowledged and recorded as RxDB's assumed master state.
    await editAcknowledged(a, gate, med.id, '2 mg');

    // Every state the local copy takes from here on.
    const { states, stop } = watchRevisions(a, med.id);
    try {
      gate.release();
      // The edit's echo is still held: what RxDB stores now is only what was queued before the edit.
      await a.engine.awaitInSync();
      expect(await a.records.get<'Medication'>(med.id)).toMatchObject({ rv: 2, record: { dose: '2 mg' } });
      expect(states.filter((rv) => rv < 2)).toEqual([]);

      net.flush(false);
      await eventually(async () => (await b.records.get(med.id))?.rv === 2, 'b has the edit');
      await a.engine.awaitInSync();
      expect(await a.records.get<'Medication'>(med.id)).toMatchObject({ rv: 2, record: { dose: '2 mg' } });
      expect(states.filter((rv) => rv < 2)).toEqual([]);
    } finally {
      stop();
    }
    expect(a.sync.quarantine()).toEqual([]);
    expect(a.sync.state().errors).toEqual([]);
  });
});
