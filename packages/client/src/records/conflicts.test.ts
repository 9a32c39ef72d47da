import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@hale/crypto';
import {
  EARLIER_CONFLICTS_KEY,
  RECORD_FROM_KEY,
  overwriteRefused,
  resolveRecordConflict,
  sidesOf,
} from './conflicts';
import type { PlainRecord } from './plain-record';

const version = (
  author: string,
  minute: number,
  dose: string,
  extra: Partial<PlainRecord> = {},
): PlainRecord => ({
  id: 'med-1',
  stream: 'p/medications',
  kind: 'Medication',
  patientId: 'p',
  updatedAt: `2026-11-21T10:${String(minute).padStart(2, '0')}:00.000Z`,
  rv: 2,
  epoch: 0,
  author,
  by: 'p',
  conflict: false,
  data: { id: 'med-1', name: 'Metoprolol', dose },
  conflictData: null,
  _deleted: false,
  ...extra,
});

/** Every side a merged record keeps, as doses (a delete side as "deleted"). */
const sides = (r: PlainRecord): string[] => {
  if (r.conflictData === null) return [];
  const { [EARLIER_CONFLICTS_KEY]: earlier, ...own } = r.conflictData;
  const others: unknown[] = Array.isArray(earlier) ? earlier : [];
  const all: unknown[] = [own, ...others];
  return all.map((s) => {
    const side = s as { dose?: unknown; deletedBy?: unknown };
    return side.deletedBy === undefined ? String(side.dose) : 'deleted';
  });
};

describe('resolveRecordConflict', () => {
  const [a, b, c] = [version('dev-a', 1, '20 mg'), version('dev-b', 2, '5 mg'), version('dev-c', 3, '1 mg')];

  it('keeps the later edit as the record and the other as conflictData', () => {
    const merged = resolveRecordConflict(a, b);
    expect(merged.data['dose']).toBe('5 mg');
    expect(merged.conflict).toBe(true);
    expect(merged.conflictData).toMatchObject({ dose: '20 mg', _conflictFrom: { author: 'dev-a' } });
    expect(merged.conflictData).not.toHaveProperty(EARLIER_CONFLICTS_KEY);
  });

  it('a third edit keeps both earlier sides, whichever order the devices merge in', () => {
    const orders: Array<[PlainRecord, PlainRecord, PlainRecord]> = [
      [a, b, c],
      [b, a, c],
      [a, c, b],
      [c, b, a],
      [b, c, a],
    ];
    const results = orders.map(([x, y, z]) => resolveRecordConflict(resolveRecordConflict(x, y), z));
    for (const merged of results) {
      expect(merged.data['dose']).toBe('1 mg');
      expect(sides(merged).sort()).toEqual(['20 mg', '5 mg']);
    }
    // Which side sits at the top of conflictData depends on the merge order; the record does not.
    expect(new Set(results.map((r) => canonicalJson(r.data))).size).toBe(1);
  });

  it('merging the same conflict again does not repeat a side', () => {
    const ab = resolveRecordConflict(a, b);
    const again = resolveRecordConflict(ab, { ...a, rv: 3 });
    expect(sides(again).sort()).toEqual(['20 mg']);
  });

  it('a delete racing a conflicted edit keeps the edit and every side, and records the delete', () => {
    const ab = resolveRecordConflict(a, b);
    const deleted = version('dev-c', 4, '5 mg', { _deleted: true });
    for (const merged of [resolveRecordConflict(ab, deleted), resolveRecordConflict(deleted, ab)]) {
      expect(merged._deleted).toBe(false);
      expect(merged.data['dose']).toBe('5 mg');
      expect(sides(merged).sort()).toEqual(['20 mg', 'deleted']);
    }
  });

  it("deleted on both devices, from different content, is no conflict: the server's deletion stands", () => {
    // One device edited offline and then deleted; the other deleted the version it held.
    const editedThenDeleted = version('dev-a', 5, '40 mg', { _deleted: true, rv: 3 });
    const deleted = version('dev-b', 4, '20 mg', { _deleted: true });
    for (const [master, local] of [
      [editedThenDeleted, deleted],
      [deleted, editedThenDeleted],
    ] as const) {
      expect(resolveRecordConflict(master, local, { accountId: 'p', deviceId: 'dev-c' })).toBe(master);
    }
  });

  it('a deleted side that held a conflict hands its sides on', () => {
    const ab = resolveRecordConflict(a, b);
    const deletedAb = { ...ab, _deleted: true, updatedAt: '2026-11-21T10:05:00.000Z' };
    const merged = resolveRecordConflict(deletedAb, c);
    expect(merged.data['dose']).toBe('1 mg');
    expect(sides(merged).sort()).toEqual(['20 mg', 'deleted']);
  });
});

describe('resolveRecordConflict: the same time and the same device on both sides', () => {
  // Two edits stamped by one device in the same millisecond (two tabs, a clock that did not move): which
  // one the server holds must not decide which becomes the record.
  const x = version('dev-a', 1, '20 mg');
  const y = version('dev-a', 1, '5 mg');

  it('the record is the same whichever side is on the server', () => {
    const one = resolveRecordConflict(x, y);
    const other = resolveRecordConflict(y, x);
    expect(one.data).toEqual(other.data);
    expect(sides(one)).toEqual(sides(other));
    expect(one.conflict).toBe(true);
  });

  it('also when the sides were written by different accounts through devices of one id', () => {
    const p = version('dev-a', 1, '20 mg', { by: 'p' });
    const q = version('dev-a', 1, '20 mg', {
      by: 'q',
      data: { id: 'med-1', name: 'Metoprolol', dose: '5 mg' },
    });
    expect(resolveRecordConflict(p, q).data).toEqual(resolveRecordConflict(q, p).data);
  });
});

describe('resolveRecordConflict: who wrote the merge and its sides', () => {
  const patient = { accountId: 'p', deviceId: 'dev-p' };
  const provider = { accountId: 'd', deviceId: 'dev-d' };
  const mine = version('dev-p', 1, '20 mg');
  const theirs = version('dev-d', 2, '5 mg', { by: 'd' });

  it("the merge is the merging device's version; each side names its writer", () => {
    const merged = resolveRecordConflict(theirs, mine, patient);
    expect(merged.data['dose']).toBe('5 mg');
    expect({ by: merged.by, author: merged.author }).toEqual({ by: 'p', author: 'dev-p' });
    expect(merged.updatedAt).toBe(theirs.updatedAt);
    expect(merged.conflictData).toMatchObject({
      dose: '20 mg',
      _conflictFrom: { by: 'p', author: 'dev-p', updatedAt: mine.updatedAt },
      [RECORD_FROM_KEY]: { by: 'd', author: 'dev-d', updatedAt: theirs.updatedAt },
    });
    // The writer of the shown content is not a side.
    expect(sidesOf(merged.conflictData).map((side) => side['dose'])).toEqual(['20 mg']);
  });

  it("a delete racing an edit is the merging device's version too", () => {
    const deleted = version('dev-p', 3, '20 mg', { _deleted: true });
    const merged = resolveRecordConflict(theirs, deleted, patient);
    expect(merged._deleted).toBe(false);
    expect({ by: merged.by, author: merged.author }).toEqual({ by: 'p', author: 'dev-p' });
    expect(merged.conflictData).toMatchObject({
      deletedBy: 'p',
      [RECORD_FROM_KEY]: { by: 'd', author: 'dev-d' },
    });
  });

  it('a side taken from a merge is credited to whoever wrote its content, not to the merging device', () => {
    // The patient merged (the provider's edit shown); a third device's later edit then wins over that merge.
    const merged = resolveRecordConflict(theirs, mine, patient);
    const third = version('dev-c', 5, '1 mg', { by: 'c' });
    const again = resolveRecordConflict(merged, third, { accountId: 'c', deviceId: 'dev-c' });
    expect(again.data['dose']).toBe('1 mg');
    const sides = sidesOf(again.conflictData);
    expect(sides.find((side) => side['dose'] === '5 mg')?.['_conflictFrom']).toEqual({
      by: 'd',
      author: 'dev-d',
      updatedAt: theirs.updatedAt,
    });
    expect(sides.find((side) => side['dose'] === '20 mg')?.['_conflictFrom']).toMatchObject({ by: 'p' });
  });

  it('whoever merges, the content is the same', () => {
    const byPatient = resolveRecordConflict(theirs, mine, patient);
    const byProvider = resolveRecordConflict(mine, theirs, provider);
    expect(canonicalJson(byPatient.data)).toBe(canonicalJson(byProvider.data));
    expect(canonicalJson(byPatient.conflictData)).toBe(canonicalJson(byProvider.conflictData));
    // And two merges of one conflict by different accounts are no new conflict.
    expect(resolveRecordConflict(byPatient, { ...byProvider }, provider)).toBe(byPatient);
  });

  it("a side an older build carried on with the record's `_recordFrom` in it is read without it", () => {
    const merged = resolveRecordConflict(theirs, mine, patient);
    // What a build before `_recordFrom` makes of that merge and a third edit: the whole top-level
    // object, `_recordFrom` included, carried on as a side.
    const { [EARLIER_CONFLICTS_KEY]: _none, ...top } = merged.conflictData!;
    const older = {
      ...version('dev-c', 5, '1 mg', { by: 'c' }),
      conflict: true,
      conflictData: {
        dose: '5 mg',
        _conflictFrom: { by: 'd', author: 'dev-d', updatedAt: theirs.updatedAt },
        [EARLIER_CONFLICTS_KEY]: [top],
      },
    };
    expect(sidesOf(older.conflictData).map((side) => Object.keys(side).includes(RECORD_FROM_KEY))).toEqual([
      false,
      false,
    ]);
  });

  it('without a named writer, the writer of the local state merges', () => {
    const merged = resolveRecordConflict(theirs, mine);
    expect({ by: merged.by, author: merged.author }).toEqual({ by: 'p', author: 'dev-p' });
  });
});

describe('resolveRecordConflict: sides equal in clinical content', () => {
  const a = version('dev-a', 1, '20 mg');
  const b = version('dev-b', 2, '5 mg');
  const restamped = (r: PlainRecord, author: string, minute: number, by = r.by): PlainRecord => {
    const updatedAt = `2026-11-21T10:${String(minute).padStart(2, '0')}:00.000Z`;
    return { ...r, rv: r.rv + 1, author, by, updatedAt, data: { ...r.data, updatedAt } };
  };

  it('the same settlement on two devices (only its time and writer differ) is no conflict', () => {
    const ab = resolveRecordConflict(a, b);
    const kept = { ...ab, conflict: false, conflictData: null };
    const here = restamped(kept, 'dev-a', 7);
    const there = restamped(kept, 'dev-d', 8, 'd');
    // The later copy (10:08) is kept either way: as the server's, or sent on top of the server's.
    expect(resolveRecordConflict(there, here)).toBe(there);
    const sent = resolveRecordConflict(here, there);
    expect(sent).toMatchObject({ conflict: false, conflictData: null, updatedAt: there.updatedAt });
    expect(sent.data).toEqual(there.data);
  });

  it('a side equal to the record is not kept', () => {
    // A settled version against a merge that shows the same content beside a side it settled.
    const ab = resolveRecordConflict(a, b);
    const kept = restamped({ ...ab, conflict: false, conflictData: null }, 'dev-a', 9);
    const merged = resolveRecordConflict(ab, kept);
    expect(merged.data['dose']).toBe('5 mg');
    expect(sidesOf(merged.conflictData).map((side) => side['dose'])).toEqual(['20 mg']);
    // Nothing left beside the record: no conflict.
    const settledBoth = resolveRecordConflict(
      restamped({ ...b, conflict: false }, 'dev-b', 10),
      restamped({ ...b, conflict: true, conflictData: { ...b.data } }, 'dev-c', 11),
    );
    expect(settledBoth.conflict).toBe(false);
    expect(settledBoth.conflictData).toBeNull();
  });

  it('content that differs in anything but its time is still a conflict', () => {
    const here = restamped(a, 'dev-a', 7);
    const there = { ...restamped(a, 'dev-b', 8), data: { ...restamped(a, 'dev-b', 8).data, name: 'Other' } };
    const merged = resolveRecordConflict(here, there);
    expect(merged.conflict).toBe(true);
    expect(merged.data['name']).toBe('Other');
    expect(sidesOf(merged.conflictData).map((side) => side['name'])).toEqual(['Metoprolol']);
  });
});

describe('overwriteRefused', () => {
  const writer = { accountId: 'p', deviceId: 'dev-p' };
  const forged = version('dev-grantee', 5, '500 mg', { by: 'grantee', rv: 2 });

  it('is the local state whole, written by the writer, numbered past the server version', () => {
    const local = version('dev-p', 3, '20 mg', {
      conflict: true,
      conflictData: { id: 'med-1', name: 'Metoprolol', dose: '10 mg' },
    });
    const sent = overwriteRefused(forged, local, writer);
    expect(sent).toEqual({ ...local, rv: 3 });
    // Nothing of the refused version is carried, not even as a side.
    expect(JSON.stringify(sent)).not.toContain('500 mg');
    expect(JSON.stringify(sent)).not.toContain('grantee');
  });

  it('keeps a local number already past the server version, and names the writer', () => {
    const local = version('dev-other', 3, '20 mg', { by: 'other', rv: 7 });
    expect(overwriteRefused(forged, local, writer)).toMatchObject({ rv: 7, by: 'p', author: 'dev-p' });
    expect(overwriteRefused({ rv: 9 }, local, writer).rv).toBe(10);
  });

  it('a local deletion stays a deletion', () => {
    const gone = version('dev-p', 3, '20 mg', { _deleted: true });
    expect(overwriteRefused(forged, gone, writer)).toMatchObject({ _deleted: true, rv: 3 });
  });
});
