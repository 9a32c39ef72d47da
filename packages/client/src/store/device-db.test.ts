import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { addRxPlugin, createRxDatabase } from 'rxdb';
import type { DexieSettings, RxStorage, RxStorageInstanceCreationParams } from 'rxdb';
import { RxDBDevModePlugin, disableWarnings } from 'rxdb/plugins/dev-mode';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrappedValidateAjvStorage } from 'rxdb/plugins/validate-ajv';
import { AtRestError, isAtRestError, wrapWithAtRestEncryption } from './at-rest-encryption';
import { closeDeviceDb, openDeviceDb, RECORDS_SCHEMA, removeDeviceDb } from './device-db';
import type { DeviceDb, DeviceDbCollections, DeviceRecord } from './device-db';
import { dumpIndexedDb } from './indexeddb-dump.test-util';

/** Everything the RxDB memory storage holds for `dbName` (its state is process-global). */
function dumpMemory(dbName: string): string {
  const out: unknown[] = [];
  for (const [collectionKey, state] of getRxStorageMemory().collectionStates) {
    if (collectionKey.startsWith(`${dbName}--`)) out.push(collectionKey, [...state.documents.values()]);
  }
  return JSON.stringify(out);
}

type AnyStorage = RxStorage<unknown, unknown>;
interface StorageCase {
  label: string;
  make: () => AnyStorage;
  dump: (dbName: string) => Promise<string>;
}
const CASES: StorageCase[] = [
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

/** Records the parameters the at-rest wrapper passes down, so a test can reopen the raw instance. */
function spy(storage: AnyStorage) {
  const params = new Map<string, RxStorageInstanceCreationParams<unknown, unknown>>();
  const wrapped: AnyStorage = {
    ...storage,
    name: storage.name,
    rxdbVersion: storage.rxdbVersion,
    createStorageInstance<T>(p: RxStorageInstanceCreationParams<T, unknown>) {
      params.set(p.collectionName, p as RxStorageInstanceCreationParams<unknown, unknown>);
      return storage.createStorageInstance(p);
    },
  };
  const openRaw = async (collectionName: string) => {
    const p = params.get(collectionName);
    if (!p) throw new Error(`no instance ${collectionName}`);
    return storage.createStorageInstance<Record<string, unknown>>({
      ...(p as RxStorageInstanceCreationParams<Record<string, unknown>, unknown>),
      databaseInstanceToken: 'raw-access',
    });
  };
  return { storage: wrapped, openRaw };
}

const MARKER = 'PLAINTEXT-MARKER-penicillin-anaphylaxis';
const PATIENT = 'pAtIeNt0123456789abcde';
const OTHER_PATIENT = 'oThEr0123456789abcdefg';
const KEY = new Uint8Array(32).fill(7);
const WRONG_KEY = new Uint8Array(32).fill(8);

let counter = 0;
const uniqueName = () => `hale-test-${Date.now().toString(36)}-${++counter}`;
function record(patientId: string, type: string, kind: string, data: DeviceRecord['data']): DeviceRecord {
  counter += 1;
  return {
    id: `01HZZZZZZZ${String(counter).padStart(16, '0')}`,
    stream: `${patientId}/${type}`,
    kind,
    patientId,
    updatedAt: new Date(Date.UTC(2024, 0, 1, 0, 0, counter)).toISOString(),
    rv: 1,
    epoch: 0,
    author: 'device0123456789abcdef',
    by: patientId,
    conflict: false,
    data,
    conflictData: null,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

function expectDecryptFailed(error: unknown, reason: string) {
  expect(error).toBeInstanceOf(AtRestError);
  expect(isAtRestError(error, 'AT_REST_DECRYPT_FAILED')).toBe(true);
  if (isAtRestError(error)) expect(error.details.reason).toBe(reason);
}

const open = (name: string, storage: AnyStorage, atRestKey = KEY) =>
  openDeviceDb({ name, storage, atRestKey, validation: wrappedValidateAjvStorage });

beforeAll(() => {
  disableWarnings();
  addRxPlugin(RxDBDevModePlugin);
});

const openDbs: DeviceDb[] = [];
afterEach(async () => {
  await Promise.all(openDbs.splice(0).map((db) => (db.closed ? Promise.resolve() : closeDeviceDb(db))));
});
async function tracked(db: Promise<DeviceDb>): Promise<DeviceDb> {
  const opened = await db;
  openDbs.push(opened);
  return opened;
}

describe.each(CASES)('device db on $label', ({ make, dump }) => {
  it('round-trips insert, query, update and delete while the disk holds only ciphertext', async () => {
    const name = uniqueName();
    const db = await tracked(open(name, make()));
    const allergy = record(PATIENT, 'allergy', 'Allergy', { substance: MARKER, severity: 'high' });
    const med = record(PATIENT, 'medication', 'Medication', { name: 'x', note: MARKER });
    const conflicted = {
      ...record(PATIENT, 'allergy', 'Allergy', { substance: 'mine' }),
      conflict: true,
      conflictData: { substance: MARKER },
    };
    await db.records.bulkInsert([allergy, med, conflicted]);
    await db.upsertLocal('sync-state', { cursor: MARKER });

    const back = await db.records.findOne(allergy.id).exec();
    expect(back?.toJSON().data).toEqual({ substance: MARKER, severity: 'high' });
    const conflictBack = await db.records.findOne(conflicted.id).exec();
    expect(conflictBack?.conflictData).toEqual({ substance: MARKER });

    const updated = await back!.incrementalPatch({
      data: { substance: `${MARKER}-updated`, severity: 'low' },
      updatedAt: '2024-02-01T00:00:00.000Z',
    });
    expect(updated.data).toEqual({ substance: `${MARKER}-updated`, severity: 'low' });
    await (await db.records.findOne(med.id).exec())!.remove();
    expect(await db.records.find().exec()).toHaveLength(2);

    // Closing flushes the memory storage's write buffer, so the dump sees every write.
    await closeDeviceDb(db);
    const raw = await dump(name);
    // Positive control: the dump really holds these documents and their clear routing fields.
    expect(raw).toContain(allergy.id);
    expect(raw).toContain(med.id); // the deleted one is still on disk as a tombstone
    expect(raw).toContain(`${PATIENT}/allergy`);
    expect(raw).toContain('sync-state');
    expect(raw).not.toContain(MARKER);
    expect(raw).not.toContain('substance');

    // Reopening reads everything back from storage, not from RxDB's document cache.
    const again = await tracked(open(name, make()));
    const docs = await again.records.find({ sort: [{ updatedAt: 'asc' }] }).exec();
    expect(docs.map((d) => d.data)).toEqual([
      { substance: 'mine' },
      { substance: `${MARKER}-updated`, severity: 'low' },
    ]);
    expect((await again.getLocal<{ cursor: string }>('sync-state'))?.get('cursor')).toBe(MARKER);
  });

  it('queries on clear indexed fields', async () => {
    const db = await tracked(open(uniqueName(), make()));
    const rows = [
      record(PATIENT, 'allergy', 'Allergy', { i: 1 }),
      record(PATIENT, 'note', 'MedicalNote', { i: 2 }),
      record(PATIENT, 'note', 'NoteVersion', { i: 3 }),
      record(PATIENT, 'allergy', 'Allergy', { i: 4 }),
      record(OTHER_PATIENT, 'allergy', 'Allergy', { i: 5 }),
    ];
    await db.records.bulkInsert(rows);
    const dataOf = (docs: { data: DeviceRecord['data'] }[]) => docs.map((d) => d.data['i']);

    const stream = await db.records
      .find({ selector: { stream: `${PATIENT}/allergy` }, sort: [{ updatedAt: 'desc' }] })
      .exec();
    expect(dataOf(stream)).toEqual([4, 1]);
    const kind = await db.records
      .find({
        selector: { kind: 'Allergy', updatedAt: { $gt: rows[0]!.updatedAt } },
        sort: [{ updatedAt: 'asc' }],
      })
      .exec();
    expect(dataOf(kind)).toEqual([4, 5]);
    const notes = await db.records
      .find({ selector: { patientId: PATIENT, kind: { $in: ['MedicalNote', 'NoteVersion'] } } })
      .exec();
    expect(dataOf(notes).sort()).toEqual([2, 3]);
    expect(await db.records.count({ selector: { patientId: OTHER_PATIENT } }).exec()).toBe(1);
  });

  it('emits decrypted documents to reactive queries', async () => {
    const db = await tracked(open(uniqueName(), make()));
    const stream = `${PATIENT}/immunization`;
    const emissions: unknown[][] = [];
    const waiters: { want: unknown; resolve: () => void }[] = [];
    const sub = db.records.find({ selector: { stream } }).$.subscribe((docs) => {
      const vaccines = docs.map((d) => d.data['vaccine']);
      emissions.push(vaccines);
      for (const w of waiters) if (vaccines.includes(w.want)) w.resolve();
    });
    const emitted = (want: unknown) =>
      new Promise<void>((resolve) => {
        if (emissions.some((e) => e.includes(want))) resolve();
        else waiters.push({ want, resolve });
      });
    try {
      const doc = await db.records.insert(
        record(PATIENT, 'immunization', 'Immunization', { vaccine: MARKER }),
      );
      await emitted(MARKER);
      await doc.incrementalPatch({ data: { vaccine: `${MARKER}-2` } });
      await emitted(`${MARKER}-2`);
    } finally {
      sub.unsubscribe();
    }
    expect(emissions.at(-1)).toEqual([`${MARKER}-2`]);
    // The document observable carries the decrypted content too.
    const one = await db.records.findOne({ selector: { stream } }).exec();
    const current = await new Promise<unknown>((resolve) => {
      const s = one!.$.subscribe((d) => {
        resolve(d.data['vaccine']);
        queueMicrotask(() => s.unsubscribe());
      });
    });
    expect(current).toBe(`${MARKER}-2`);
  });

  it('refuses to open with a wrong key, and leaves the database openable with the right one', async () => {
    const name = uniqueName();
    const db = await tracked(open(name, make()));
    await db.records.insert(record(PATIENT, 'allergy', 'Allergy', { substance: MARKER }));
    await closeDeviceDb(db);

    expectDecryptFailed(await rejection(open(name, make(), WRONG_KEY)), 'AUTH_FAILED');
    const right = await tracked(open(name, make()));
    expect((await right.records.find().exec())[0]?.data).toEqual({ substance: MARKER });
  });

  it('raises a typed error when records are read with a wrong key', async () => {
    const name = uniqueName();
    const db = await tracked(open(name, make()));
    const rec = record(PATIENT, 'allergy', 'Allergy', { substance: MARKER });
    await db.records.insert(rec);
    await closeDeviceDb(db);

    // Bypass openDeviceDb's early key check to exercise the record read paths themselves.
    const storage = wrappedValidateAjvStorage({
      storage: wrapWithAtRestEncryption({ storage: make(), key: WRONG_KEY }),
    });
    const wrong = await createRxDatabase<DeviceDbCollections>({ name, storage, multiInstance: false });
    try {
      await wrong.addCollections({ records: { schema: RECORDS_SCHEMA } });
      expectDecryptFailed(await rejection(wrong.records.find().exec()), 'AUTH_FAILED');
      expectDecryptFailed(await rejection(wrong.records.findByIds([rec.id]).exec()), 'AUTH_FAILED');
    } finally {
      await wrong.close();
    }
  });

  it('detects an encrypted value swapped between two documents on disk', async () => {
    const name = uniqueName();
    const spied = spy(make());
    const db = await tracked(open(name, spied.storage));
    const a = record(PATIENT, 'allergy', 'Allergy', { substance: 'peanut' });
    const b = record(PATIENT, 'allergy', 'Allergy', { substance: 'none' });
    await db.records.bulkInsert([a, b]);
    await closeDeviceDb(db);

    const raw = await spied.openRaw('records');
    const [rawA, rawB] = await Promise.all(
      [a.id, b.id].map(async (id) => (await raw.findDocumentsById([id], false))[0]!),
    );
    const swap = await raw.bulkWrite(
      [
        { previous: rawA!, document: { ...rawA!, data: rawB!['data'] } },
        { previous: rawB!, document: { ...rawB!, data: rawA!['data'] } },
      ],
      'tamper',
    );
    expect(swap.error).toEqual([]);
    await raw.close();

    const again = await tracked(open(name, make()));
    expectDecryptFailed(await rejection(again.records.findOne(a.id).exec()), 'CONTEXT_MISMATCH');
    expectDecryptFailed(
      await rejection(again.records.find({ selector: { stream: a.stream } }).exec()),
      'CONTEXT_MISMATCH',
    );
  });

  it('refuses a record whose clear fields were rewritten on disk (same revision)', async () => {
    const name = uniqueName();
    const spied = spy(make());
    const db = await tracked(open(name, spied.storage));
    const rec = record(PATIENT, 'allergy', 'Allergy', { substance: MARKER });
    await db.records.insert(rec);
    await closeDeviceDb(db);

    const raw = await spied.openRaw('records');
    const [stored] = await raw.findDocumentsById([rec.id], false);
    const forged = await raw.bulkWrite(
      [
        {
          previous: stored!,
          document: { ...stored!, kind: 'Medication', by: OTHER_PATIENT, author: 'forged0123456789abcdef' },
        },
      ],
      'tamper',
    );
    expect(forged.error).toEqual([]);
    await raw.close();

    const again = await tracked(open(name, make()));
    expectDecryptFailed(await rejection(again.records.findOne(rec.id).exec()), 'CONTEXT_MISMATCH');
    expectDecryptFailed(
      await rejection(again.records.find({ selector: { kind: 'Medication' } }).exec()),
      'CONTEXT_MISMATCH',
    );
  });

  it('reads nothing through its storage once closed, even with the account key zeroed', async () => {
    const name = uniqueName();
    const accountKey = KEY.slice();
    const db = await tracked(open(name, make(), accountKey));
    const rec = record(PATIENT, 'allergy', 'Allergy', { substance: MARKER });
    await db.records.insert(rec);
    await closeDeviceDb(db);
    accountKey.fill(0); // what locking the account does

    // `db.storage` stays reachable from whatever held the database.
    const again = await createRxDatabase<DeviceDbCollections>({
      name,
      storage: db.storage,
      multiInstance: false,
    });
    try {
      await again.addCollections({ records: { schema: RECORDS_SCHEMA } });
      const error = await rejection(again.records.findOne(rec.id).exec());
      expect(isAtRestError(error, 'AT_REST_CLOSED')).toBe(true);
      expect(String(error)).not.toContain(MARKER);
    } finally {
      await again.close();
    }
  });

  it('removes itself with db.remove() although its key is gone once closed', async () => {
    const name = uniqueName();
    const storage = make();
    const db = await tracked(open(name, storage));
    await db.records.insert(record(PATIENT, 'allergy', 'Allergy', { substance: MARKER }));
    await db.remove();
    expect(await dump(name)).not.toContain(PATIENT);
    const fresh = await tracked(open(name, storage, WRONG_KEY)); // nothing left to mismatch
    expect(await fresh.records.find().exec()).toEqual([]);
  });

  it('removes every stored piece without needing the key', async () => {
    const name = uniqueName();
    const storage = make();
    const db = await tracked(open(name, storage));
    await db.records.insert(record(PATIENT, 'allergy', 'Allergy', { substance: MARKER }));
    await db.upsertLocal('wrapped-key', { k: 'x' });
    await closeDeviceDb(db);
    expect(await dump(name)).toContain(PATIENT);

    await removeDeviceDb({ name, storage });
    expect(await dump(name)).not.toContain(PATIENT);
    expect(await dump(name)).not.toContain('wrapped-key');
    const fresh = await tracked(open(name, storage, WRONG_KEY)); // nothing left to mismatch
    expect(await fresh.records.find().exec()).toEqual([]);
  });

  it('opens six device databases in one process (collection limit headroom)', async () => {
    const dbs = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        tracked(open(uniqueName(), make(), new Uint8Array(32).fill(i + 1))),
      ),
    );
    await Promise.all(
      dbs.map((db, i) => db.records.insert(record(PATIENT, 'allergy', 'Allergy', { device: i }))),
    );
    const seen = await Promise.all(
      dbs.map(async (db) => (await db.records.find().exec()).map((d) => d.data['device'])),
    );
    expect(seen).toEqual([[0], [1], [2], [3], [4], [5]]);
    await Promise.all(dbs.map((db) => closeDeviceDb(db)));
    expect(dbs.every((db) => db.closed)).toBe(true);
  });
});
