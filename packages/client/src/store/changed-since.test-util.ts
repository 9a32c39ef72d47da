/** A device store over Dexie and fake-indexeddb, and records to fill it (changed-since, upstream-start tests). */
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import type { DexieSettings } from 'rxdb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DeviceRecord } from './device-db';

export const dexieStorage = () =>
  getRxStorageDexie({
    indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
    IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
  });

export const record = (i: number, text = `s${i}`): DeviceRecord => ({
  id: `01J${String(i).padStart(23, '0')}`,
  stream: `P${String(i % 7).padStart(21, '0')}/allergy`,
  kind: 'Allergy',
  patientId: `P${String(i % 7).padStart(21, '0')}`,
  updatedAt: '2026-11-10T00:00:00.000Z',
  rv: 1,
  epoch: 0,
  author: 'device',
  by: 'someone',
  conflict: false,
  data: { substance: text },
  conflictData: null,
});
