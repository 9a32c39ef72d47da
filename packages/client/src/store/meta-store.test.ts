import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { addRxPlugin } from 'rxdb';
import type { DexieSettings, RxStorage } from 'rxdb';
import { RxDBDevModePlugin, disableWarnings } from 'rxdb/plugins/dev-mode';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrappedValidateAjvStorage } from 'rxdb/plugins/validate-ajv';
import { closeDeviceDb, openDeviceDb, type DeviceDb } from './device-db';
import { deviceMetaStore } from './meta-store';
import { dumpIndexedDb } from './indexeddb-dump.test-util';

/** Everything the RxDB memory storage holds for `dbName` (its state is process-global). */
const dumpMemory = (dbName: string): string => {
  const out: unknown[] = [];
  for (const [collectionKey, state] of getRxStorageMemory().collectionStates) {
    if (collectionKey.startsWith(`${dbName}--`)) out.push(collectionKey, [...state.documents.values()]);
  }
  return JSON.stringify(out);
};

type AnyStorage = RxStorage<unknown, unknown>;
const CASES: Array<{ label: string; make: () => AnyStorage; dump: (dbName: string) => Promise<string> }> = [
  { label: 'memory', make: () => getRxStorageMemory(), dump: async (n) => dumpMemory(n) },
  {
    label: 'dexie + fake-indexeddb',
    make: () =>
      getRxStorageDexie({
        indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
        IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
      }),
    dump: dumpIndexedDb,
  },
];

const KEY = new Uint8Array(32).fill(9);
/** An account id as a provider's patient would have one: what must not stay on disk once removed. */
const PATIENT = 'pAtIeNt0123456789aBcDe';
let counter = 0;
const uniqueName = () => `hale-meta-store-${Date.now().toString(36)}-${++counter}`;

beforeAll(() => {
  disableWarnings();
  addRxPlugin(RxDBDevModePlugin);
});

const openDbs: DeviceDb[] = [];
afterEach(async () => {
  await Promise.all(openDbs.splice(0).map((db) => (db.closed ? Promise.resolve() : closeDeviceDb(db))));
});
const open = async (name: string, storage: AnyStorage): Promise<DeviceDb> => {
  const db = await openDeviceDb({ name, storage, atRestKey: KEY, validation: wrappedValidateAjvStorage });
  openDbs.push(db);
  return db;
};

describe.each(CASES)('device metadata store on $label', ({ make, dump }) => {
  it("RxDB's own removal of a local document leaves its id on disk", async () => {
    const name = uniqueName();
    const storage = make();
    const db = await open(name, storage);
    const store = deviceMetaStore(db);
    await store.write(`audit-chain/${PATIENT}`, { seq: 3, hash: 'h' });
    await (await db.getLocal(`meta-audit-chain/${PATIENT}`))!.remove();
    expect(await store.read(`audit-chain/${PATIENT}`)).toBeUndefined();
    await closeDeviceDb(db);
    expect(await dump(name)).toContain(PATIENT);

    // Still listed, so that a removal purges it.
    const again = deviceMetaStore(await open(name, storage));
    expect(await again.list('audit-chain/')).toEqual([`audit-chain/${PATIENT}`]);
    await again.remove([`audit-chain/${PATIENT}`]);
    expect(await again.list('audit-chain/')).toEqual([]);
    await closeDeviceDb(openDbs.at(-1)!);
    expect(await dump(name)).not.toContain(PATIENT);
  });

  it('removes keys for good, lists the keys under a prefix only, and keeps the others', async () => {
    const name = uniqueName();
    const storage = make();
    const db = await open(name, storage);
    const store = deviceMetaStore(db);
    await store.write(`audit-chain/${PATIENT}`, { seq: 3, hash: 'h' });
    await store.write(`audit-kept/${PATIENT}`, { rows: [] });
    await store.write('audit-chain:digest', { seq: 4, hash: 'g' });
    await store.write('audit-chain', { seq: 5, hash: 'f' });
    expect(await store.list('audit-chain/')).toEqual([`audit-chain/${PATIENT}`]);
    expect(await store.list('audit-')).toEqual([
      'audit-chain',
      `audit-chain/${PATIENT}`,
      'audit-chain:digest',
      `audit-kept/${PATIENT}`,
    ]);

    await store.remove([`audit-chain/${PATIENT}`, `audit-kept/${PATIENT}`, 'absent']);
    expect(await store.read(`audit-chain/${PATIENT}`)).toBeUndefined();
    expect(await store.list('audit-')).toEqual(['audit-chain', 'audit-chain:digest']);
    expect(await store.read('audit-chain:digest')).toEqual({ seq: 4, hash: 'g' });
    await closeDeviceDb(db);
    const disk = await dump(name);
    expect(disk).toContain('meta-audit-chain:digest');
    expect(disk).not.toContain(PATIENT);

    // Read back from the storage, not from RxDB's cache.
    const again = deviceMetaStore(await open(name, storage));
    expect(await again.read(`audit-chain/${PATIENT}`)).toBeUndefined();
    expect(await again.read('audit-chain:digest')).toEqual({ seq: 4, hash: 'g' });
  });

  it('removing a large value does not seal it again (RxDB writes a removed local document back whole)', async () => {
    const inner = make();
    /** Characters of every `_deleted` document the storage under the at-rest wrapper is asked to write. */
    const deletedChars: number[] = [];
    const storage: AnyStorage = {
      ...inner,
      createStorageInstance: async (params) => {
        const instance = await inner.createStorageInstance(params);
        const bulkWrite = instance.bulkWrite.bind(instance);
        instance.bulkWrite = (rows, context) => {
          for (const { document } of rows)
            if ((document as { _deleted?: boolean })._deleted)
              deletedChars.push(JSON.stringify(document).length);
          return bulkWrite(rows, context);
        };
        return instance;
      },
    };
    const store = deviceMetaStore(await open(uniqueName(), storage));
    await store.write('part/big', { entries: Array.from({ length: 2000 }, (_, i) => `entry ${i}`) });
    await store.remove(['part/big']);
    expect(await store.read('part/big')).toBeUndefined();
    expect(deletedChars.length).toBeGreaterThan(0);
    expect(Math.max(...deletedChars)).toBeLessThan(2_000);
  });

  it('lists past a page of keys', async () => {
    const db = await open(uniqueName(), make());
    const store = deviceMetaStore(db);
    const keys = Array.from({ length: 503 }, (_, i) => `p/${String(i).padStart(4, '0')}`);
    for (const key of keys) await store.write(key, 0);
    expect(await store.list('p/')).toEqual(keys);
  });

  it('does nothing once the database is closed', async () => {
    const name = uniqueName();
    const storage = make();
    const db = await open(name, storage);
    const store = deviceMetaStore(db);
    await store.write('k', 1);
    await closeDeviceDb(db);
    expect(await store.read('k')).toBeUndefined();
    await store.write('k', 2);
    await store.remove(['k']);
    expect(await store.list('')).toEqual([]);
    expect(await deviceMetaStore(await open(name, storage)).read('k')).toBe(1);
  });
});
