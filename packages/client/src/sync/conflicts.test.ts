import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@hale/crypto';
import { EARLIER_CONFLICTS_KEY, resolveRecordConflict } from './conflicts';
import type { PlainRecord } from './record-codec';

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

  it('a deleted side that held a conflict hands its sides on', () => {
    const ab = resolveRecordConflict(a, b);
    const deletedAb = { ...ab, _deleted: true, updatedAt: '2026-11-21T10:05:00.000Z' };
    const merged = resolveRecordConflict(deletedAb, c);
    expect(merged.data['dose']).toBe('1 mg');
    expect(sides(merged).sort()).toEqual(['20 mg', 'deleted']);
  });
});
