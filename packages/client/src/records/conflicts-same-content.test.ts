// Two sides with the same clinical content (only their time and writer differ) are one side.
// the TSDoc of @hale/client/advanced, Conflicts: "sides whose content is equal but for `updatedAt` ... are one: two such
// versions are no conflict ..., and a side equal to the record or to another side is not kept twice";
// conflicts.ts's own invariant: content is compared "without `data.updatedAt` ... and without who wrote it".
import { afterEach, describe, expect, it } from 'vitest';
import { exampleRecord } from '@hale/model';
import { resolveRecordConflict, sidesOf } from './conflicts';
import type { PlainRecord } from './plain-record';
import { closeRecordDbs, pulledSide, setupRecords, storeMerged } from './records.test-util';

afterEach(closeRecordDbs);

const med = exampleRecord('Medication');
const at = (minute: number): string => `2026-01-21T10:0${minute}:00.000Z`;
/** The Medication with `dose`, written at minute `minute` by device `device`. */
const edit = (device: string, minute: number, dose: string): PlainRecord =>
  pulledSide('Medication', { ...med, dose, updatedAt: at(minute) }, { author: device.padEnd(22, '0') });

describe('the same edit made on two devices is kept as one side', () => {
  // A and B both changed the dose to 20 mg offline (10:01, 10:02); C changed it to 5 mg (10:03).
  const a = edit('DevA', 1, '20 mg');
  const b = edit('DevB', 2, '20 mg');
  const c = edit('DevC', 3, '5 mg');

  it('met directly, the two 20 mg edits are no conflict (as documented)', () => {
    expect(resolveRecordConflict(a, b).conflict).toBe(false);
  });

  it('met as sides of a later edit, the 20 mg edit is kept once', () => {
    // C pushed first; A's push is merged on the server's C, then B's on that merge.
    const merged = resolveRecordConflict(resolveRecordConflict(c, a), b);
    expect(merged.data['dose']).toBe('5 mg');
    expect(sidesOf(merged.conflictData).map((side) => side['dose'])).toEqual(['20 mg']);
  });

  it('the sides kept do not depend on the order the pushes reach the server (conflicts.ts invariant)', () => {
    // "Which side sits at the top of conflictData ... depends on the order of merges; the record and the
    // set of kept sides do not."
    const sidesAfter = (order: PlainRecord[]) => {
      let state = order[0]!;
      for (const next of order.slice(1)) state = resolveRecordConflict(state, next);
      // By content: which device's copy of one edit is kept follows the order when the two copies meet
      // directly (no conflict: the server's is taken), as the record's own updatedAt does.
      const content = sidesOf(state.conflictData).map(
        ({ updatedAt: _at, _conflictFrom: _from, ...side }) => side,
      );
      const { updatedAt: _at, ...record } = state.data;
      return { record, conflict: state.conflict, sides: content };
    };
    const orders = [
      [a, b, c],
      [a, c, b],
      [b, a, c],
      [b, c, a],
      [c, a, b],
      [c, b, a],
    ];
    // Every order: the same record and the same sides.
    const first = sidesAfter(orders[0]!);
    expect(first.sides.map((side) => side['dose'])).toEqual(['20 mg']);
    for (const order of orders.slice(1)) expect(sidesAfter(order)).toEqual(first);
  });

  it('the record shown does not depend on the order either, when the other edit lies between the copies', () => {
    // A (10:01) and C (10:03) both changed the dose to 20 mg; B changed it to 5 mg at 10:02. The latest
    // edit is C's 20 mg, so every order shows 20 mg beside the 5 mg side. When A's and C's copies met
    // first, the server's copy was taken whichever was later, so the order decided which edit won.
    const early = edit('DevA', 1, '20 mg');
    const between = edit('DevB', 2, '5 mg');
    const late = edit('DevC', 3, '20 mg');
    const orders = [
      [early, late, between],
      [late, early, between],
      [early, between, late],
      [late, between, early],
      [between, early, late],
      [between, late, early],
    ];
    for (const order of orders) {
      let state = order[0]!;
      for (const next of order.slice(1)) state = resolveRecordConflict(state, next);
      const shown = {
        dose: state.data['dose'],
        updatedAt: state.data['updatedAt'],
        conflict: state.conflict,
      };
      expect(shown).toEqual({ dose: '20 mg', updatedAt: at(3), conflict: true });
      expect(sidesOf(state.conflictData).map((side) => side['dose'])).toEqual(['5 mg']);
    }
  });

  it("met directly, the later copy is kept: the server's if it is later, else this device's, sent on top", () => {
    const early = edit('DevA', 1, '20 mg');
    const late = edit('DevC', 3, '20 mg');
    expect(resolveRecordConflict(late, early)).toBe(late);
    const sent = resolveRecordConflict(early, late, {
      accountId: 'merging-account',
      deviceId: 'merging-device',
    });
    expect(sent).toMatchObject({ conflict: false, conflictData: null, rv: Math.max(early.rv, late.rv) + 1 });
    expect(sent.data).toEqual(late.data);
    expect({ by: sent.by, author: sent.author }).toEqual({ by: 'merging-account', author: 'merging-device' });
  });

  it("taking 'other' settles the conflict instead of leaving a side equal to the record", async () => {
    const { db, records } = await setupRecords();
    await storeMerged(db, resolveRecordConflict(resolveRecordConflict(c, a), b));
    const [shown] = await records.conflicts();
    const taken = await records.resolveConflict(med.id, 'other', { expectedRv: shown!.rv });
    expect(taken).toMatchObject({ dose: '20 mg' });
    const after = (await records.get<'Medication'>(med.id))!;
    // Not still in conflict with the only side left the very content now shown (20 mg).
    expect({ conflict: after.conflict, sides: sidesOf(after.conflictData).map((s) => s['dose']) }).toEqual({
      conflict: false,
      sides: [],
    });
  });
});
