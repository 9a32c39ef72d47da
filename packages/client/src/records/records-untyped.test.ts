// Arguments that reach the records API from untyped code (a UI, an import, a deep link): what the types
// rule out must be refused, never read as something else (a query selector, a choice to keep).
import { afterEach, describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, EXAMPLE_PROVIDER_ID, exampleRecord } from '@hale/model';
import { resolveRecordConflict } from './conflicts';
import {
  OTHER_DEVICE,
  closeRecordDbs,
  pulledSide,
  recordInput,
  setupRecords,
  storeMerged,
  recordRefusal,
} from './records.test-util';

afterEach(closeRecordDbs);

/** A value a typed caller cannot pass, as untyped code may. */
const untyped = <T>(value: unknown): T => value as T;

describe('records: an id that is no string', () => {
  it('is no record: remove, get, update and resolveConflict find nothing rather than the first match of a selector', async () => {
    const { records, writes } = await setupRecords();
    const medication = await records.add('Medication', recordInput('Medication'));
    const selector = untyped<string>({ selector: { kind: 'Medication' } });

    expect((await recordRefusal(records.remove(selector))).code).toBe('NOT_FOUND');
    expect(await records.get(selector)).toBeNull();
    expect((await recordRefusal(records.update('Medication', selector, { dose: '20 mg' }))).code).toBe(
      'NOT_FOUND',
    );
    expect((await recordRefusal(records.resolveConflict(selector, 'keep', { expectedRv: 1 }))).code).toBe(
      'NOT_FOUND',
    );
    expect((await records.get<'Medication'>(medication.id))?.record).toEqual(medication);
    expect(writes.map((w) => w.action)).toEqual(['create']);
  });
});

describe('records: query and observe list one patient', () => {
  it('refuse a patientId that is no string (a selector would list every patient)', async () => {
    const { records } = await setupRecords();
    await records.add('Allergy', recordInput('Allergy'));
    await records.add('Allergy', recordInput('Allergy'), { patientId: EXAMPLE_PROVIDER_ID });
    const everyone = untyped<string>({ $ne: '' });

    const queried = await recordRefusal(records.query('Allergy', { patientId: everyone }));
    expect(queried.code).toBe('VALIDATION_FAILED');
    expect(queried.detail?.issues.map((i) => i.field)).toEqual(['patientId']);
    const observed = await recordRefusal(
      Promise.resolve().then(() => records.observe('Allergy', { patientId: everyone })),
    );
    expect(observed.code).toBe('VALIDATION_FAILED');
    expect(observed.detail?.issues.map((i) => i.field)).toEqual(['patientId']);
    // The patients one by one, as before.
    expect(await records.query('Allergy')).toHaveLength(1);
    expect(await records.query('Allergy', { patientId: EXAMPLE_PROVIDER_ID })).toHaveLength(1);
  });

  it('take limit as a count: 0 lists nothing, and a count that is no whole number is refused naming limit', async () => {
    const { records } = await setupRecords();
    await records.add('Allergy', recordInput('Allergy'));
    await records.add('Allergy', recordInput('Allergy'));
    expect(await records.query('Allergy', { limit: 0 })).toEqual([]);
    expect(await records.query('Allergy', { limit: 1 })).toHaveLength(1);
    expect(await records.query('Allergy', {})).toHaveLength(2);
    for (const limit of [-1, 1.5, Number.NaN, untyped<number>('2')]) {
      const e = await recordRefusal(records.query('Allergy', { limit }));
      expect(e.code).toBe('VALIDATION_FAILED');
      expect(e.detail?.issues.map((i) => i.field)).toEqual(['limit']);
    }
  });
});

describe('records: resolveConflict with a choice that is none of keep, other or merged content', () => {
  it('is refused naming choice, and the conflict with its other side stays', async () => {
    const { db, records, writes } = await setupRecords();
    const data = exampleRecord('Allergy');
    const mine = pulledSide('Allergy', {
      ...data,
      severity: 'severe',
      updatedAt: '2024-06-02T00:00:00.000Z',
    });
    const theirs = pulledSide(
      'Allergy',
      { ...data, severity: 'mild', updatedAt: '2024-06-01T00:00:00.000Z' },
      { author: OTHER_DEVICE },
    );
    const merged = resolveRecordConflict(mine, theirs);
    await storeMerged(db, merged);

    for (const choice of ['theirs', 'Other', [], null]) {
      const e = await recordRefusal(
        records.resolveConflict(data.id, untyped<'keep'>(choice), { expectedRv: merged.rv }),
      );
      expect(e.code).toBe('VALIDATION_FAILED');
      expect(e.detail?.issues.map((i) => i.field)).toEqual(['choice']);
    }
    const stored = await records.get<'Allergy'>(data.id);
    expect(stored).toMatchObject({ conflict: true, rv: merged.rv });
    expect(stored?.conflictData).toMatchObject({ severity: 'mild' });
    expect(writes).toEqual([]);
  });
});

describe('records: add under the id of a deleted record of another stream', () => {
  it('is refused with ALREADY_EXISTS and the deletion stays to sync', async () => {
    const { db, records } = await setupRecords();
    const allergy = await records.add('Allergy', recordInput('Allergy'));
    await records.remove(allergy.id);
    const [tombstone] = await db.records.storageInstance.findDocumentsById([allergy.id], true);

    const asMedication = await recordRefusal(
      records.add('Medication', { ...recordInput('Medication'), id: allergy.id }),
    );
    expect(asMedication.code).toBe('ALREADY_EXISTS');
    const forAnother = await recordRefusal(
      records.add(
        'Allergy',
        { ...recordInput('Allergy'), id: allergy.id },
        { patientId: EXAMPLE_PROVIDER_ID },
      ),
    );
    expect(forAnother.code).toBe('ALREADY_EXISTS');
    const [after] = await db.records.storageInstance.findDocumentsById([allergy.id], true);
    expect(after).toEqual(tombstone);
    expect(after).toMatchObject({ _deleted: true, stream: `${EXAMPLE_PATIENT_ID}/allergy` });
  });
});

describe('records: a patch parsed from JSON with a __proto__ key', () => {
  it('is refused naming __proto__, as add refuses it, rather than dropped', async () => {
    const { records } = await setupRecords();
    const rec = await records.add('Allergy', recordInput('Allergy'));
    const patch = untyped<{ reaction: string }>(JSON.parse('{"reaction":"Rash","__proto__":{"bogus":1}}'));
    const e = await recordRefusal(records.update('Allergy', rec.id, patch));
    expect(e.code).toBe('VALIDATION_FAILED');
    expect(e.detail?.issues.map((i) => i.field)).toEqual(['__proto__']);
    expect((await records.get<'Allergy'>(rec.id))?.record.reaction).toBe(rec.reaction);

    const input = { ...recordInput('Allergy'), ...untyped<object>(JSON.parse('{"__proto__":{"bogus":1}}')) };
    const added = await recordRefusal(records.add('Allergy', untyped<typeof rec>(input)));
    expect(added.detail?.issues.map((i) => i.field)).toEqual(['__proto__']);
  });
});
