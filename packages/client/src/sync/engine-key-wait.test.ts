import { afterEach, describe, expect, it } from 'vitest';
import type { KeyEnvelope } from '@hale/protocol';
import { randomBytes } from '@hale/crypto';
import { dataOf, patient, record, servedRecord, signedEnvelope } from './codec-fixture.test-util';
import type { Connection, RequestFrame } from './connection';
import type { PlainRecord } from '../records/plain-record';
import { closeOpened, stopAndClose, until } from './scripted-server.test-util';
import {
  LOCKED,
  OPEN,
  idIn,
  keyWaitDevice,
  keyWaitServer,
  medication,
  waitsForKey,
} from './key-wait-server.test-util';

// A local change to a stream this device holds no write key for (NO_KEY) waits on the engine's key-wait
// list, answered to RxDB as sent: RxDB holds every pull and live change while a push is under way, so a
// push failing until the key came stopped all incoming sync. The change stays pending, is kept across a
// restart, and is sent by the engine once the key comes.
afterEach(closeOpened);

const server = keyWaitServer;
const device = keyWaitDevice;
const allergy = (n: number, substance: string): PlainRecord => {
  const id = idIn(OPEN, n);
  return record({ id, stream: OPEN, data: dataOf('Allergy', id, patient.accountId, { substance }) });
};
const name = (what: string) => `engine-key-wait-${what}-${Math.random().toString(36).slice(2)}`;

describe('a local change waiting for its write key', () => {
  it('holds up no incoming sync, stays pending, and is sent once the key comes', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('live'), arriving);
    await until(() => d.engine.state().status === 'online', 'online');

    const mine = medication(1);
    await d.db.records.insert(mine);
    d.engine.notePending(mine.id, 1);
    await until(() => waitsForKey(d.engine, mine.id), 'the change waits for its key');
    expect(d.engine.state().pendingWrites).toBe(1);
    let inSync = false;
    void d.engine.awaitInSync().then(() => (inSync = true));

    // Another device's allergy reaches this one, live, while the medication waits.
    const theirs = s.store(await servedRecord(allergy(1, 'Penicillin')));
    d.engine.onFrame({
      t: 'changes',
      docs: [theirs],
      streams: [{ stream: theirs.stream, checkpoint: theirs.seq }],
    });
    await until(
      async () => (await d.db.records.findOne(theirs.id).exec()) !== null,
      'the live change is stored',
    );
    // And by a pull: a reconnect asks the server for what it missed.
    const missed = s.store(await servedRecord(allergy(2, 'Peanut')));
    d.engine.onStatus('offline');
    d.engine.onStatus('ready');
    await d.engine.onReady();
    await until(
      async () => (await d.db.records.findOne(missed.id).exec()) !== null,
      'the pulled change is stored',
    );
    expect(s.docs.has(mine.id)).toBe(false);
    expect(d.engine.state().pendingWrites).toBe(1);
    expect(inSync).toBe(false);

    // The key of epoch 1 comes (the server tells of stored envelopes by an access change).
    arriving.push(await signedEnvelope(LOCKED, 1, randomBytes(32), patient));
    d.engine.onFrame({ t: 'accessChanged', streams: [], removed: [] });
    await until(() => s.docs.has(mine.id) && d.engine.state().pendingWrites === 0, 'the change is stored');
    expect(s.docs.get(mine.id)?.epoch).toBe(1);
    await until(() => inSync, 'in sync once the change was stored');
    expect(d.engine.state().errors.filter((e) => e.code === 'NO_KEY')).toEqual([]);
    expect(d.engine.state().unsent).toBe(0);
  });

  it('once sent, its record is judged like any other: a replay of that version later is refused', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('replay'), arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const mine = medication(5);
    await d.db.records.insert(mine);
    d.engine.notePending(mine.id, 1);
    await until(() => waitsForKey(d.engine, mine.id), 'the change waits for its key');
    arriving.push(await signedEnvelope(LOCKED, 1, randomBytes(32), patient));
    d.engine.onFrame({ t: 'accessChanged', streams: [], removed: [] });
    await until(() => d.engine.state().pendingWrites === 0, 'the change is stored');
    const first = s.docs.get(mine.id)!;

    const doc = await d.db.records.findOne(mine.id).exec();
    await doc!.incrementalPatch({ rv: 2, data: { ...mine.data, dose: '20 mg' } });
    d.engine.notePending(mine.id, 2);
    await until(
      () => s.docs.get(mine.id)?.rev !== first.rev && d.engine.state().pendingWrites === 0,
      'the edit is stored',
    );

    // A broken or hostile server serves the first version again as the newest.
    const replay = s.store(first);
    d.engine.onFrame({
      t: 'changes',
      docs: [replay],
      streams: [{ stream: replay.stream, checkpoint: replay.seq }],
    });
    await until(
      () => d.engine.state().errors.some((e) => e.code === 'STALE_VERSION' && e.id === mine.id),
      'the replay is refused',
    );
    expect((await d.db.records.findOne(mine.id).exec())?.data['dose']).toBe('20 mg');
  });

  it("leaves RxDB's pushes side by side: the frames of one batch go out at once", async () => {
    // RxDB hands a batch larger than its push size to the handler in parts, all at once; running them one
    // after another (as the list's own send must run) halved live sync at 100k records.
    const s = server();
    const request = s.connection.request.bind(s.connection);
    let inFlight = 0;
    let most = 0;
    s.connection.request = (async (frame: RequestFrame, ...rest: unknown[]) => {
      if (frame.t !== 'push') return (request as (...a: unknown[]) => Promise<unknown>)(frame, ...rest);
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 100));
      inFlight--;
      return (request as (...a: unknown[]) => Promise<unknown>)(frame, ...rest);
    }) as Connection['request'];
    const d = await device(s, name('side-by-side'), []);
    await until(() => d.engine.state().status === 'online', 'online');
    const many = Array.from({ length: 1000 }, (_, i) => allergy(100 + i, 'Latex'));
    await d.db.records.bulkInsert(many);
    for (const r of many) d.engine.notePending(r.id, 1);
    await until(() => d.engine.state().pendingWrites === 0, 'all stored');
    expect(s.docs.size).toBe(1000);
    expect(most).toBeGreaterThanOrEqual(2);
  });

  it('is kept across a restart and sent once the key comes', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const dbName = name('restart');
    const first = await device(s, dbName, arriving);
    await until(() => first.engine.state().status === 'online', 'online');
    const mine = medication(2);
    await first.db.records.insert(mine);
    first.engine.notePending(mine.id, 1);
    await until(() => waitsForKey(first.engine, mine.id), 'the change waits for its key');
    await stopAndClose(first);

    const again = await device(s, dbName, arriving, first.raw);
    expect(again.engine.state().pendingWrites).toBe(1);
    expect(waitsForKey(again.engine, mine.id)).toBe(true);
    await until(() => again.engine.state().status === 'online', 'online after the restart');
    expect(s.docs.has(mine.id)).toBe(false);

    arriving.push(await signedEnvelope(LOCKED, 1, randomBytes(32), patient));
    // No access change this time: the backoff's retry finds the key.
    await until(
      () => s.docs.has(mine.id) && again.engine.state().pendingWrites === 0,
      'the change is stored',
    );
    expect(again.engine.state().errors.filter((e) => e.code === 'NO_KEY')).toEqual([]);
  });

  it('an edit of the waiting change replaces it, sent as one version on what the first was made on', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('edit'), arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    const first = medication(3);
    await d.db.records.insert(first);
    d.engine.notePending(first.id, 1);
    await until(() => waitsForKey(d.engine, first.id), 'the change waits for its key');

    const doc = await d.db.records.findOne(first.id).exec();
    const edited = { ...first, rv: 2, data: { ...first.data, dose: '20 mg' } };
    await doc!.incrementalPatch({ rv: 2, data: edited.data });
    d.engine.notePending(first.id, 2);
    await until(
      () => d.engine.state().pendingWrites === 1 && waitsForKey(d.engine, first.id),
      'the edit waits',
    );
    await new Promise((r) => setTimeout(r, 200));

    arriving.push(await signedEnvelope(LOCKED, 1, randomBytes(32), patient));
    d.engine.onFrame({ t: 'accessChanged', streams: [], removed: [] });
    await until(() => d.engine.state().pendingWrites === 0, 'the edit is stored');
    // One push of the medication, as a creation of its second version: no conflict with the first.
    const pushed = s.pushes.flatMap((p) => p.rows).filter((r) => r.doc.id === first.id);
    expect(pushed.map((r) => r.assumedRev)).toEqual([null]);
    const local = await d.db.records.findOne(first.id).exec();
    expect(local?.rv).toBe(2);
    expect(local?.conflict).toBe(false);
    expect(s.docs.get(first.id)?.rev).toBe(pushed[0]!.doc.rev);
  });

  it('meeting a newer server version once the key came, is merged with it: neither is lost', async () => {
    const s = server();
    const arriving: KeyEnvelope[] = [];
    const d = await device(s, name('merge'), arriving);
    await until(() => d.engine.state().status === 'online', 'online');
    // A medication of epoch 0 that this device holds as the server's.
    const base = s.store(await servedRecord(medication(4, { epoch: 0 })));
    d.engine.onFrame({
      t: 'changes',
      docs: [base],
      streams: [{ stream: base.stream, checkpoint: base.seq }],
    });
    await until(
      async () => (await d.db.records.findOne(base.id).exec()) !== null,
      'the medication is stored',
    );

    // Edited here while the stream's current key is missing: it waits.
    const doc = await d.db.records.findOne(base.id).exec();
    const edited = { ...doc!.toJSON().data, instructions: 'Take at night' };
    await doc!.incrementalPatch({ rv: 2, data: edited });
    d.engine.notePending(base.id, 2);
    await until(() => waitsForKey(d.engine, base.id), 'the edit waits for its key');

    // Meanwhile another edit of the same medication reaches the server and this device.
    const theirs = s.store(
      await servedRecord(
        medication(4, {
          epoch: 0,
          rv: 2,
          data: { ...dataOf('Medication', base.id, patient.accountId), instructions: 'Take with food' },
        }),
      ),
    );
    d.engine.onFrame({
      t: 'changes',
      docs: [theirs],
      streams: [{ stream: theirs.stream, checkpoint: theirs.seq }],
    });
    await until(
      async () => (await d.db.records.findOne(base.id).exec())?.data['instructions'] === 'Take with food',
      'the other edit is stored here',
    );

    arriving.push(await signedEnvelope(LOCKED, 1, randomBytes(32), patient));
    d.engine.onFrame({ t: 'accessChanged', streams: [], removed: [] });
    await until(() => d.engine.state().pendingWrites === 0, 'the waiting edit is answered');
    const local = (await d.db.records.findOne(base.id).exec())!.toJSON();
    const onServer = s.docs.get(base.id)!;
    expect(onServer.rev).not.toBe(theirs.rev);
    expect(local.rv).toBeGreaterThan(2);
    // Both notes survive: one as the record, the other as its visible conflict side.
    const notes = [local.data['instructions'], local.conflictData?.['instructions']];
    expect(notes).toContain('Take at night');
    expect(notes).toContain('Take with food');
    expect(d.engine.state().unsent).toBe(0);
  });
});
