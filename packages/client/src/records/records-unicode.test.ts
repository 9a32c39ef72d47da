// Text cut in the middle of an emoji (a lone UTF-16 surrogate) has no UTF-8 form, so sealing it would
// fail deep in the store; the records layer must refuse it first, as a validation error naming the field.
import { afterEach, describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { EXAMPLE_PATIENT_ID, exampleRecord } from '@hale/model';
import { openDeviceDb, type DeviceDb } from '../store/device-db';
import { createRecords, RecordError, type RecordInput } from './records';

const dbs: DeviceDb[] = [];
let dbCounter = 0;

afterEach(async () => {
  await Promise.all(dbs.splice(0).map((db) => db.close()));
});

const setup = async () => {
  const db = await openDeviceDb({
    name: `records-unicode-test${++dbCounter}`,
    storage: getRxStorageMemory(),
    atRestKey: new Uint8Array(32).fill(5),
  });
  dbs.push(db);
  const records = createRecords({
    collection: db.records,
    accountId: EXAMPLE_PATIENT_ID,
    deviceId: 'DevA000000000000000001',
    now: () => Date.now(),
    canWrite: () => true,
    onWrite: () => undefined,
  });
  return { db, records };
};

const allergyInput = (substance: string): RecordInput<'Allergy'> => {
  const {
    id: _i,
    patientId: _p,
    createdAt: _c,
    updatedAt: _u,
    ...rest
  } = exampleRecord('Allergy', {
    substance,
  });
  return rest;
};

const refusal = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
};

describe('records with Unicode text', () => {
  it('refuses text cut mid-emoji as VALIDATION_FAILED naming the field, and stores nothing', async () => {
    const { db, records } = await setup();
    const error = await refusal(records.add('Allergy', allergyInput('Peanut 🥜'.slice(0, 8))));
    expect(error).toBeInstanceOf(RecordError);
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((error as RecordError).detail?.issues.map((issue) => issue.field)).toEqual(['substance']);
    expect(await db.records.count().exec()).toBe(0);
  });

  it('refuses the same cut in an update', async () => {
    const { records } = await setup();
    const stored = await records.add('Allergy', allergyInput('Peanut 🥜'));
    const error = await refusal(
      records.update('Allergy', stored.id, { reaction: `Hives ${'🤧'.slice(0, 1)}` }),
    );
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await records.get<'Allergy'>(stored.id))?.record.substance).toBe('Peanut 🥜');
  });

  it('stores 101 emoji in a 200-character field: characters are code points', async () => {
    const { records } = await setup();
    const stored = await records.add('Allergy', allergyInput('💊'.repeat(101)));
    expect((await records.get<'Allergy'>(stored.id))?.record.substance).toBe('💊'.repeat(101));
  });
});
