// A records API over a fresh in-memory device database, for the records tests.
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { EXAMPLE_PATIENT_ID, RECORD_KINDS, exampleInput, type RecordKind, type RecordOf } from '@hale/model';
import { openDeviceDb, type DeviceDb } from '../store/device-db';
import type { PlainRecord } from './plain-record';
import { expect } from 'vitest';
import { RecordError, createRecords, type RecordInput, type RecordsDeps } from './records';

export const DEVICE = 'DevA000000000000000001';
/** Another device of the same account, whose edits reach this one by a pull. */
export const OTHER_DEVICE = 'DevB000000000000000001';

const dbs: DeviceDb[] = [];
let dbCounter = 0;
/** Test files share one process (vitest.config.ts): each evaluation of this module names its own databases. */
const RUN = Math.random().toString(36).slice(2, 8);

/** Closes every database `setupRecords` opened; call from `afterEach`. */
export const closeRecordDbs = async (): Promise<void> => {
  await Promise.all(dbs.splice(0).map((db) => db.close()));
};

export const setupRecords = async (extra: Partial<RecordsDeps> = {}) => {
  const db = await openDeviceDb({
    name: `records-test-${RUN}-${++dbCounter}`,
    storage: getRxStorageMemory(),
    atRestKey: new Uint8Array(32).fill(5),
  });
  dbs.push(db);
  const writes: Array<{ id: string; action: string }> = [];
  const records = createRecords({
    collection: db.records,
    accountId: EXAMPLE_PATIENT_ID,
    deviceId: DEVICE,
    now: () => Date.now(),
    whyNotWritable: () => null,
    onWrite: (id, change) => void writes.push({ id, action: change.action }),
    ...extra,
  });
  return { db, records, writes };
};

/** An example record of `kind` as `add` takes it (`exampleInput`). */
export const recordInput = <K extends RecordKind>(
  kind: K,
  overrides: Partial<RecordOf<K>> = {},
): RecordInput<K> => exampleInput(kind, overrides) as unknown as RecordInput<K>;

/**
 * What a session writing `kind` adds: `recordInput`, but a Message as its sender writes it (sent, no
 * receipt times), since the example message is one its recipient has read and only the recipient marks it.
 */
export const writableInput = <K extends RecordKind>(kind: K): RecordInput<K> => {
  const input = recordInput(kind);
  if (kind !== 'Message') return input;
  const { deliveredAt: _d, readAt: _r, ...sent } = input as RecordInput<'Message'>;
  return { ...sent, status: 'sent' } as unknown as RecordInput<K>;
};

/**
 * A version of the patient's record `data` as replication hands it to the conflict handler: its id and
 * `updatedAt` are `data`'s, and it is revision 2 at epoch 0, written by this account from DEVICE, in the
 * patient's stream of `kind`, unless `over` says otherwise.
 */
export const pulledSide = (
  kind: RecordKind,
  data: Readonly<Record<string, unknown>>,
  over: Partial<PlainRecord> = {},
): PlainRecord => ({
  id: String(data['id']),
  stream: `${EXAMPLE_PATIENT_ID}/${RECORD_KINDS[kind].streamType ?? 'none'}`,
  kind,
  patientId: EXAMPLE_PATIENT_ID,
  rv: 2,
  epoch: 0,
  author: DEVICE,
  by: EXAMPLE_PATIENT_ID,
  conflict: false,
  data: { ...data },
  conflictData: null,
  updatedAt: String(data['updatedAt']),
  _deleted: false,
  ...over,
});

/** Stores a merged conflict state the way a pull leaves it on this device, in place of what it held. */
export const storeMerged = async (db: DeviceDb, merged: PlainRecord): Promise<void> => {
  const { _deleted: _d, ...doc } = merged;
  await db.records.upsert(doc);
};

/** What `promise` was refused with, which must be a RecordError (a test fails if it resolves). */
export const recordRefusal = (promise: Promise<unknown>): Promise<RecordError> =>
  promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(RecordError);
      return error as RecordError;
    },
  );
