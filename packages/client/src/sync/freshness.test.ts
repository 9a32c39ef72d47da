import { describe, expect, it } from 'vitest';
import { createFreshnessCheck, type LocalVersion } from './freshness';
import type { PlainRecord } from '../records/plain-record';

const version = (rv: number, dose: string, extra: Partial<PlainRecord> = {}): PlainRecord => ({
  id: 'med-1',
  stream: 'p/medications',
  kind: 'Medication',
  patientId: 'p',
  updatedAt: '2026-11-21T10:00:00.000Z',
  rv,
  epoch: 0,
  author: 'dev-a',
  by: 'p',
  conflict: false,
  data: { id: 'med-1', name: 'Metoprolol', dose },
  conflictData: null,
  _deleted: false,
  ...extra,
});

const check = (
  local: PlainRecord | null,
  options: { unsettled?: boolean; pending?: boolean; floor?: number } = {},
) => {
  const tags: PlainRecord[] = [];
  const run = createFreshnessCheck({
    lookup: async (ids) => {
      const map = new Map<string, LocalVersion>();
      if (local && ids.includes(local.id))
        map.set(local.id, { rv: local.rv, deleted: local._deleted, record: local });
      return map;
    },
    unsettled: () => options.unsettled === true || options.pending === true,
    floor: () => options.floor ?? 0,
    pending: () => options.pending === true,
    deviceId: 'dev-a',
    // Stands in for the keyed content hash: equal content gives equal tags.
    tagOf: async (r) => {
      tags.push(r);
      return JSON.stringify([r.rv, r._deleted, r.data]);
    },
  });
  return { run, tags };
};

describe('createFreshnessCheck', () => {
  it('applies a version the device does not hold, and one newer than its copy', async () => {
    expect((await check(null).run([version(1, '5 mg')])).fresh).toHaveLength(1);
    const { run, tags } = check(version(2, '5 mg'));
    const out = await run([version(3, '10 mg')]);
    expect(out.fresh.map((r) => r.rv)).toEqual([3]);
    expect(tags).toEqual([]);
  });

  it('an unsettled copy with a known floor (a refused version made on rv 2) refuses versions below it', async () => {
    const refused = version(3, 'refused edit');
    const out = await check(refused, { unsettled: true, floor: 2 }).run([version(1, 'first')]);
    expect(out.fresh).toEqual([]);
    expect(out.stale).toMatchObject([{ record: { rv: 1 }, localRv: 2 }]);
    // The server's state it was made on, or a later one, is taken: the server's, in the refused copy's place.
    const at = await check(refused, { unsettled: true, floor: 2 }).run([version(2, 'second')]);
    expect(at.fresh.map((r) => r.rv)).toEqual([2]);
    // No floor known (a creation refused, a mark from before floors were kept): RxDB decides, as before.
    expect((await check(refused, { unsettled: true }).run([version(1, 'first')])).fresh).toHaveLength(1);
  });

  it('refuses an older version than the settled copy (a replay or an overtaken frame)', async () => {
    const out = await check(version(3, '10 mg')).run([version(2, '5 mg')]);
    expect(out.fresh).toEqual([]);
    expect(out.stale).toMatchObject([{ record: { rv: 2 }, localRv: 3 }]);
  });

  it('the settled copy served again is the same version, never applied; other content under its number is stale', async () => {
    const local = version(2, '5 mg');
    // Also when another epoch sealed it (a version this device wrote names the epoch it was based on).
    for (const served of [version(2, '5 mg'), version(2, '5 mg', { epoch: 3 })]) {
      expect(await check(local).run([served])).toEqual({
        fresh: [],
        same: [served],
        stale: [],
        clashes: [],
        superseded: [],
      });
    }
    expect((await check(local).run([version(2, '50 mg')])).stale).toHaveLength(1);
    expect((await check(local).run([version(2, '5 mg', { _deleted: true })])).stale).toHaveLength(1);
    // Not settled (a write pending, or a version the server refused): RxDB decides, as for any version.
    expect((await check(local, { pending: true }).run([version(2, '5 mg')])).fresh).toHaveLength(1);
    expect((await check(local, { unsettled: true }).run([version(2, '5 mg')])).fresh).toHaveLength(1);
  });

  it('does not resurrect a deleted record with its older version, but takes a re-add after it', async () => {
    const tombstone = version(3, '5 mg', { _deleted: true });
    expect((await check(tombstone).run([version(2, '5 mg')])).stale).toHaveLength(1);
    expect((await check(tombstone).run([version(4, '7 mg')])).fresh).toHaveLength(1);
    // The deletion's own number on a live version is another version under that number.
    expect((await check(tombstone).run([version(3, '5 mg')])).stale).toHaveLength(1);
    expect((await check(tombstone).run([version(3, '5 mg', { _deleted: true })])).same).toHaveLength(1);
  });

  it('leaves records with a local change not yet settled to the conflict handling', async () => {
    const out = await check(version(5, 'mine'), { unsettled: true }).run([version(3, 'theirs')]);
    expect(out.fresh).toHaveLength(1);
  });

  it("never applies this device's own older version while a newer local write is pending", async () => {
    // The live echo of an earlier push, served after newer local writes: the local copy continues it.
    const out = await check(version(4, '3 mg'), { pending: true }).run([version(1, '0 mg')]);
    expect(out).toEqual({ fresh: [], same: [], stale: [], clashes: [], superseded: [version(1, '0 mg')] });
    // Its latest push, or another device's older version (conflict handling decides), still goes through.
    expect((await check(version(4, '3 mg'), { pending: true }).run([version(4, '3 mg')])).fresh).toHaveLength(
      1,
    );
    const theirs = version(1, 'theirs', { author: 'dev-b' });
    expect((await check(version(4, '3 mg'), { pending: true }).run([theirs])).fresh).toHaveLength(1);
    // A copy the server refused (unsettled, nothing pending) still takes the server's version.
    expect(
      (await check(version(4, '3 mg'), { unsettled: true }).run([version(1, '0 mg')])).fresh,
    ).toHaveLength(1);
  });

  it('never applies a version whose id this device holds under another stream, whatever its number', async () => {
    // Another patient's record under that id (ids are chosen by their writers; the store keeps one per id).
    const held = version(3, '5 mg', { stream: 'q/medications', patientId: 'q' });
    for (const rv of [1, 3, 9]) {
      expect(await check(held).run([version(rv, '9 mg')])).toEqual({
        fresh: [],
        same: [],
        stale: [],
        clashes: [{ record: version(rv, '9 mg'), held: 'q/medications' }],
        superseded: [],
      });
    }
    // Also while the held record has a local change not yet pushed (pending writes are kept by id).
    expect((await check(held, { unsettled: true }).run([version(9, '9 mg')])).clashes).toHaveLength(1);
    // In one batch, the first version to take an id keeps it.
    const out = await check(null).run([version(1, 'p'), version(1, 'q', { stream: 'q/medications' })]);
    expect(out.fresh.map((r) => r.stream)).toEqual(['p/medications']);
    expect(out.clashes).toMatchObject([{ record: { stream: 'q/medications' }, held: 'p/medications' }]);
  });

  it('a version whose tag cannot be computed is not taken as the same content', async () => {
    const run = createFreshnessCheck({
      lookup: async () => new Map([['med-1', { rv: 2, deleted: false, record: version(2, '5 mg') }]]),
      unsettled: () => false,
      floor: () => 0,
      pending: () => false,
      deviceId: 'dev-a',
      tagOf: async () => null,
    });
    expect((await run([version(2, '5 mg')])).stale).toHaveLength(1);
  });
});
