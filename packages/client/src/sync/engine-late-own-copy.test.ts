import { afterEach, describe, expect, it } from 'vitest';
import type { KeyEnvelope } from '@hale/protocol';
import {
  dataOf,
  depsFor,
  patient,
  patientDevice2,
  patientRoot,
  record,
  servedRecord,
} from './codec-fixture.test-util';
import { closeOpened, until } from './scripted-server.test-util';
import { OPEN, idIn, keyWaitDevice, keyWaitServer, live, localOf } from './key-wait-server.test-util';

// A device's own version comes back from an honest server after a newer version of the same record
// that this device pushed was stored (a live frame or pull page read before the newer push landed,
// delivered after its answer, as when an offline device's backlog goes out and the person edits on).
// It is a late copy, older than a position the server gave this device for the record, not a replay:
// dropped quietly, no STALE_VERSION. The same holds below the position of a newer version a push of this
// device met as a conflict and took. A version served at a position past either is refused and reported.
afterEach(closeOpened);

const allergy = (n: number, rv: number, substance: string, updatedAt = '2026-01-01T00:00:00.000Z') => {
  const id = idIn(OPEN, n);
  const data = dataOf('Allergy', id, patient.accountId, { substance, updatedAt });
  return record({ id, rv, stream: OPEN, updatedAt, data });
};
/** The patient's other device, writing to the server without this device hearing of it. */
const elsewhere = depsFor(patient, patientRoot, patientDevice2);
const name = () => `engine-late-own-copy-${Math.random().toString(36).slice(2)}`;
const stale = (d: Awaited<ReturnType<typeof keyWaitDevice>>) =>
  d.engine.state().errors.filter((e) => e.code === 'STALE_VERSION');

describe("a device's own version served after its newer push was stored", () => {
  it('is a late copy: not applied, not reported; a replay at a newer position still is', async () => {
    const s = keyWaitServer();
    const arriving: KeyEnvelope[] = [];
    const d = await keyWaitDevice(s, name(), arriving);
    await until(() => d.engine.state().status === 'online', 'online');

    const first = allergy(1, 1, 'Penicillin');
    await d.db.records.insert(first);
    d.engine.notePending(first.id, 1);
    await until(() => s.docs.has(first.id) && d.engine.state().pendingWrites === 0, 'the first is stored');
    const v1 = s.docs.get(first.id)!;

    const doc = await d.db.records.findOne(first.id).exec();
    await doc!.incrementalPatch({ rv: 2, data: { ...first.data, substance: 'Amoxicillin' } });
    d.engine.notePending(first.id, 2);
    await until(
      () => s.docs.get(first.id)?.rev !== v1.rev && d.engine.state().pendingWrites === 0,
      'the edit is stored',
    );
    const v2 = s.docs.get(first.id)!;
    expect(v2.seq).toBeGreaterThan(v1.seq);

    // The frame the server read before the edit landed, delivered after the edit's answer.
    live(d, v1);
    // Something after it in the same order, so the late copy was looked at when this is stored.
    const other = allergy(2, 1, 'Latex');
    await d.db.records.insert(other);
    d.engine.notePending(other.id, 1);
    await until(() => s.docs.has(other.id) && d.engine.state().pendingWrites === 0, 'the other is stored');
    live(d, s.docs.get(other.id)!);
    await d.engine.awaitInSync();
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));

    expect((await localOf(d, first.id))?.data['substance']).toBe('Amoxicillin');
    expect(stale(d)).toEqual([]);

    // The same old version served again as new (at a position past the edit's): a replay, reported.
    const replay = s.store(v1);
    live(d, replay);
    await until(() => stale(d).some((e) => e.id === first.id), 'the replay is reported');
    expect((await localOf(d, first.id))?.data['substance']).toBe('Amoxicillin');
  });

  it('below the position of a version its push met as a conflict and took: a late copy, not reported', async () => {
    const s = keyWaitServer();
    const d = await keyWaitDevice(s, name(), []);
    await until(() => d.engine.state().status === 'online', 'online');

    const first = allergy(1, 1, 'Penicillin');
    await d.db.records.insert(first);
    d.engine.notePending(first.id, 1);
    await until(() => s.docs.has(first.id) && d.engine.state().pendingWrites === 0, 'the first is stored');

    // The other device edits twice; this device hears of neither (their frames are late).
    const second = s.store(
      await servedRecord(
        { ...allergy(1, 2, 'Amoxicillin', '2026-01-02T00:00:00.000Z'), author: patientDevice2.deviceId },
        elsewhere,
      ),
    );
    const third = s.store(
      await servedRecord(
        { ...allergy(1, 3, 'Latex', '2026-01-03T00:00:00.000Z'), author: patientDevice2.deviceId },
        elsewhere,
      ),
    );
    // This device makes the same change, earlier: its push meets the third as a conflict and takes it.
    const doc = await d.db.records.findOne(first.id).exec();
    await doc!.incrementalPatch({
      rv: 2,
      updatedAt: '2026-01-02T12:00:00.000Z',
      data: { ...first.data, substance: 'Latex', updatedAt: '2026-01-02T12:00:00.000Z' },
    });
    d.engine.notePending(first.id, 2);
    await until(
      async () => (await localOf(d, first.id))?.rv === 3 && d.engine.state().pendingWrites === 0,
      'the third is taken',
    );
    expect(s.docs.get(first.id)?.rev).toBe(third.rev);

    // The other device's second version, read before the third landed, arrives now.
    live(d, second);
    await d.engine.awaitInSync();
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
    expect((await localOf(d, first.id))?.data['substance']).toBe('Latex');
    expect(stale(d)).toEqual([]);

    // Served again past the third's position: a replay, reported.
    live(d, s.store(second));
    await until(() => stale(d).some((e) => e.id === first.id), 'the replay is reported');
    expect((await localOf(d, first.id))?.data['substance']).toBe('Latex');
  });
});
