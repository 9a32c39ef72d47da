// RECORDS_SCHEMA gives the top-level `updatedAt` `maxLength: 32` and indexes it, but the model takes
// instants up to 35 characters (`2026-03-01T10:00:00.123456789+02:00`: an offset and nine fraction
// digits), which another build or a provider's device may seal and this device then stores as sealed
// (the revision tag covers it). Opened as the app opens it (no schema validation: that is for dev and
// tests), the store keeps such a version whole and finds it through every index that names `updatedAt`:
// RxDB pads index parts up to `maxLength` but never cuts them, and no instant is a prefix of another, so
// a longer part still orders as its text. The memory storage builds those index strings; Dexie indexes
// the values themselves.
import { afterEach, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import type { DexieSettings, RxStorage } from 'rxdb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { closeDeviceDb, openDeviceDb, RECORDS_SCHEMA, type DeviceDb, type DeviceRecord } from './device-db';

const PATIENT = 'pAtIeNt0123456789abcde';
const KEY = new Uint8Array(32).fill(7);

// Descending by text, as the index orders them; the 33–35 character ones are over the schema's bound.
const BY_TEXT_DESC = [
  '2026-03-01T10:00:00.123456789+02:00',
  '2026-03-01T10:00:00.1234567+02:00',
  '2026-03-01T10:00:00.123456+02:00',
  '2026-03-01T10:00:00.000Z',
  '2026-03-01T09:00:00.123456789-14:30',
  '2026-03-01T08:00:00.123456789Z',
];

type AnyStorage = RxStorage<unknown, unknown>;
const STORAGES: Array<[string, () => AnyStorage]> = [
  ['memory', () => getRxStorageMemory()],
  [
    'dexie + fake-indexeddb',
    () =>
      getRxStorageDexie({
        indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
        IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
      }),
  ],
];

let counter = 0;
const opened: DeviceDb[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => (db.closed ? Promise.resolve() : closeDeviceDb(db))));
});
const open = async (name: string, storage: AnyStorage): Promise<DeviceDb> => {
  const db = await openDeviceDb({ name, storage, atRestKey: KEY });
  opened.push(db);
  return db;
};

const stored = (updatedAt: string, n: number): DeviceRecord => ({
  id: `01HZZZZZZZ${String(n).padStart(16, '0')}`,
  stream: `${PATIENT}/allergy`,
  kind: 'Allergy',
  patientId: PATIENT,
  updatedAt,
  rv: 1,
  epoch: 0,
  author: 'device0123456789abcdef',
  by: PATIENT,
  conflict: true,
  data: { n, updatedAt },
  conflictData: { other: n },
});

describe.each(STORAGES)('device db on %s: an updatedAt longer than the schema bound', (_label, make) => {
  it('is stored whole and found, in text order, through each index naming updatedAt', async () => {
    expect(RECORDS_SCHEMA.properties.updatedAt).toMatchObject({ maxLength: 32 });
    const name = `hale-long-updated-at-${Date.now().toString(36)}-${++counter}`;
    const storage = make();
    const db = await open(name, storage);
    // Inserted in neither order.
    await db.records.bulkInsert([2, 5, 0, 3, 1, 4].map((i) => stored(BY_TEXT_DESC[i]!, i)));

    const texts = (docs: ReadonlyArray<{ updatedAt: string }>) => docs.map((d) => d.updatedAt);
    const desc = [{ updatedAt: 'desc' as const }];
    const byStream = db.records.find({ selector: { stream: `${PATIENT}/allergy` }, sort: desc });
    expect(texts(await byStream.exec())).toEqual(BY_TEXT_DESC);
    const byKind = db.records.find({ selector: { kind: 'Allergy', patientId: PATIENT }, sort: desc });
    expect(texts(await byKind.exec())).toEqual(BY_TEXT_DESC);
    const limited = db.records.find({ selector: { kind: 'Allergy' }, sort: desc, limit: 2 });
    expect(texts(await limited.exec())).toEqual(BY_TEXT_DESC.slice(0, 2));
    const conflicts = db.records.find({ selector: { conflict: true }, sort: [{ updatedAt: 'asc' }] });
    expect(texts(await conflicts.exec())).toEqual([...BY_TEXT_DESC].reverse());
    // The bound records.query reads again under a limit: the wall clock to the second.
    const floor = db.records.find({
      selector: { kind: 'Allergy', updatedAt: { $gte: '2026-03-01T10:00:00' } },
      sort: desc,
    });
    expect(texts(await floor.exec())).toEqual(BY_TEXT_DESC.slice(0, 4));

    // Read back from storage, not RxDB's cache: the clear field and the sealed data kept it whole.
    await closeDeviceDb(db);
    const again = await open(name, storage);
    const back = await again.records.find({ sort: desc }).exec();
    expect(back.map((d) => [d.updatedAt, d.data['updatedAt']])).toEqual(BY_TEXT_DESC.map((t) => [t, t]));
  });
});
