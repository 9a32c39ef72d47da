// resolveConflict settles the version a person decided on, named by its `rv`. A side that reaches the
// device after the person looked (a third device's edit, pulled and merged) changes the record under
// them: the decision was not about that state, so it must be refused, not applied to it.
import { afterEach, describe, expect, it } from 'vitest';
import { exampleRecord, type RecordOf } from '@hale/model';
import { resolveRecordConflict, sidesOf } from './conflicts';
import type { PlainRecord } from './plain-record';
import { RecordError, type StoredRecord } from './records';
import { closeRecordDbs, pulledSide, setupRecords, storeMerged } from './records.test-util';

afterEach(closeRecordDbs);

const data = exampleRecord('Allergy');
const at = (minute: number): string => `2024-06-01T00:0${minute}:00.000Z`;

/** Version `n` of the Allergy, written by device `n`: reaction `reaction n`, one minute after the last. */
const version = (n: number): PlainRecord =>
  pulledSide(
    'Allergy',
    { ...data, reaction: `reaction ${n}`, updatedAt: at(n + 1) },
    { author: `Dev${n}`.padEnd(22, '0') },
  );

/** Every reaction the stored record keeps: its own and each conflict side's, sorted. */
const kept = (stored: StoredRecord<'Allergy'>): string[] =>
  [stored.record, ...sidesOf(stored.conflictData)].map((side) => String(side['reaction'])).sort();

const outcomeOf = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof RecordError ? error.code : String(error)),
  );

const choices: Array<['keep' | 'other' | Partial<RecordOf<'Allergy'>>, string]> = [
  ['keep', 'keep'],
  ['other', 'other'],
  [{ notes: 'merged by hand' }, 'merged content'],
];

describe('resolveConflict: a side pulled after the person looked', () => {
  it.each(choices)(
    'refuses %s with RECORD_CHANGED (%s) and changes nothing; the fresh rv resolves',
    async (choice) => {
      const { db, records, writes } = await setupRecords();
      // Device 1's edit (B) on top, device 0's (A) as its side: what the person is shown.
      const ab = resolveRecordConflict(version(0), version(1));
      await storeMerged(db, ab);
      const [shown] = await records.conflicts();
      expect(shown && kept(shown as StoredRecord<'Allergy'>)).toEqual(['reaction 0', 'reaction 1']);

      // Device 2's concurrent edit (C) is pulled and merged while the person decides.
      await storeMerged(db, resolveRecordConflict(ab, version(2)));
      const before = (await records.get<'Allergy'>(data.id))!;

      const outcome = await outcomeOf(records.resolveConflict(data.id, choice, { expectedRv: shown!.rv }));
      const after = (await records.get<'Allergy'>(data.id))!;
      expect({ outcome, record: after.record.reaction, conflict: after.conflict, kept: kept(after) }).toEqual(
        {
          outcome: 'RECORD_CHANGED',
          record: 'reaction 2',
          conflict: true,
          kept: ['reaction 0', 'reaction 1', 'reaction 2'],
        },
      );
      expect(after).toEqual(before);
      expect(writes).toEqual([]);

      // The person re-reads (now C, with B and A beside it) and decides again.
      const [fresh] = await records.conflicts();
      expect(fresh?.rv).toBe(before.rv);
      await expect(
        records.resolveConflict(data.id, choice, { expectedRv: fresh!.rv }),
      ).resolves.not.toBeNull();
      expect((await records.get(data.id))?.rv).toBe(before.rv + 1);
      expect(writes).toEqual([{ id: data.id, action: 'update' }]);
    },
  );

  it('refuses a call naming no revision (an untyped caller) with RECORD_CHANGED, writing nothing', async () => {
    const { db, records, writes } = await setupRecords();
    await storeMerged(db, resolveRecordConflict(version(0), version(1)));
    const before = await records.get(data.id);
    const untyped: unknown[] = [undefined, {}, { expectedRv: String(before!.rv) }];
    const outcomes = [];
    for (const expected of untyped) {
      // What a JavaScript caller of the old two-argument API, or one passing a string, hands in: the
      // types forbid it, so the cast stands in for a caller without them.
      const call = records.resolveConflict(data.id, 'keep', expected as { expectedRv: number });
      outcomes.push(await outcomeOf(call));
    }
    expect(outcomes).toEqual(['RECORD_CHANGED', 'RECORD_CHANGED', 'RECORD_CHANGED']);
    expect(await records.get(data.id)).toEqual(before);
    expect(writes).toEqual([]);
  });
});

describe('resolveConflict with the revision the person saw', () => {
  const setup = async () => {
    const { db, records, writes } = await setupRecords();
    await storeMerged(db, resolveRecordConflict(version(0), version(1)));
    const [shown] = await records.conflicts();
    return { records, writes, shown: shown! };
  };

  it("'keep' keeps the record shown and settles the conflict", async () => {
    const { records, writes, shown } = await setup();
    const out = await records.resolveConflict<'Allergy'>(data.id, 'keep', { expectedRv: shown.rv });
    const after = (await records.get<'Allergy'>(data.id))!;
    expect({ out: out?.reaction, record: after.record.reaction, conflict: after.conflict }).toEqual({
      out: 'reaction 1',
      record: 'reaction 1',
      conflict: false,
    });
    expect(after).toMatchObject({ conflictData: null, rv: shown.rv + 1 });
    expect(writes).toEqual([{ id: data.id, action: 'update' }]);
  });

  it("'other' takes the side shown and settles the conflict", async () => {
    const { records, writes, shown } = await setup();
    const out = await records.resolveConflict<'Allergy'>(data.id, 'other', { expectedRv: shown.rv });
    const after = (await records.get<'Allergy'>(data.id))!;
    expect({ out: out?.reaction, record: after.record.reaction, conflict: after.conflict }).toEqual({
      out: 'reaction 0',
      record: 'reaction 0',
      conflict: false,
    });
    expect(after).toMatchObject({ conflictData: null, rv: shown.rv + 1 });
    expect(writes).toEqual([{ id: data.id, action: 'update' }]);
  });

  it('merged content is written over the record shown and settles the conflict', async () => {
    const { records, writes, shown } = await setup();
    const out = await records.resolveConflict<'Allergy'>(
      data.id,
      { notes: 'merged by hand' },
      {
        expectedRv: shown.rv,
      },
    );
    const after = (await records.get<'Allergy'>(data.id))!;
    expect({ out: [out?.reaction, out?.notes], record: [after.record.reaction, after.record.notes] }).toEqual(
      {
        out: ['reaction 1', 'merged by hand'],
        record: ['reaction 1', 'merged by hand'],
      },
    );
    expect(after).toMatchObject({ conflict: false, conflictData: null, rv: shown.rv + 1 });
    expect(writes).toEqual([{ id: data.id, action: 'update' }]);
  });
});
