import { afterEach, describe, expect, it, vi } from 'vitest';
import { IDBCursor } from 'fake-indexeddb';
import {
  fillWithDefaultSettings,
  getChangedDocumentsSince,
  getChangedDocumentsSinceQuery,
  prepareQuery,
  type RxDocumentData,
  type RxStorageDefaultCheckpoint,
  type RxStorageInstance,
} from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { closeDeviceDb, openDeviceDb, type DeviceDb, type DeviceRecord } from './device-db';
import { withChangedSince } from './changed-since';
import { dexieStorage, record } from './changed-since.test-util';

/** fake-indexeddb's cursors: each `continue` steps past one document read (its types need the DOM's). */
const cursors = (IDBCursor as unknown as { prototype: { continue(key?: unknown): void } }).prototype;

let db: DeviceDb | null = null;
afterEach(async () => {
  vi.restoreAllMocks();
  if (db !== null) await closeDeviceDb(db);
  db = null;
});

const open = async (): Promise<DeviceDb> => {
  db = await openDeviceDb({
    name: `changed-since-${Math.random().toString(36).slice(2)}`,
    storage: dexieStorage(),
    atRestKey: new Uint8Array(32).fill(7),
  });
  return db;
};

type Records = RxStorageInstance<DeviceRecord, unknown, unknown, RxStorageDefaultCheckpoint>;
/** RxDB's own answer where a storage has no `getChangedDocumentsSince`: one query, filtered in memory. */
const rxdbAnswer = async (si: Records, limit: number, checkpoint?: RxStorageDefaultCheckpoint) => {
  const { documents } = await si.query(
    prepareQuery(si.schema, getChangedDocumentsSinceQuery(si, limit, checkpoint)),
  );
  const last = documents.at(-1);
  return {
    documents,
    checkpoint: last ? { id: last.id, lwt: last._meta.lwt } : (checkpoint ?? { id: '', lwt: 0 }),
  };
};
const ids = (docs: readonly RxDocumentData<DeviceRecord>[]) => docs.map((d) => [d.id, d._deleted]);

describe('getChangedDocumentsSince over Dexie (changed-since.ts)', () => {
  it('answers what RxDB answers from every checkpoint and limit: writes sharing a stamp, updates, deletions', async () => {
    const store = await open();
    // Three bulk writes (each stamps its documents with one `_meta.lwt`), an update, two deletions.
    await store.records.bulkInsert(Array.from({ length: 12 }, (_, i) => record(i)));
    await store.records.bulkInsert(Array.from({ length: 6 }, (_, i) => record(20 + i)));
    await store.records.bulkUpsert([record(3, 'changed'), record(21, 'changed too')]);
    await store.records.bulkRemove([record(5).id, record(24).id]);
    await store.records.insert(record(40));
    const si = store.records.storageInstance as unknown as Records;
    expect(typeof si.getChangedDocumentsSince).toBe('function');
    const all = await rxdbAnswer(si, 1000);
    expect(all.documents).toHaveLength(19);
    expect(new Set(all.documents.map((d) => d._meta.lwt)).size).toBeLessThan(19);
    const checkpoints: (RxStorageDefaultCheckpoint | undefined)[] = [
      undefined,
      ...all.documents.map((d) => ({ id: d.id, lwt: d._meta.lwt })),
      // Between two documents of one write, and after everything.
      { id: `${all.documents[1]!.id}0`, lwt: all.documents[1]!._meta.lwt },
      { id: '', lwt: all.documents.at(-1)!._meta.lwt + 1 },
    ];
    for (const checkpoint of checkpoints) {
      for (const limit of [1, 4, 1000]) {
        const ours = await getChangedDocumentsSince(si, limit, checkpoint);
        const theirs = await rxdbAnswer(si, limit, checkpoint);
        expect(ids(ours.documents)).toEqual(ids(theirs.documents));
        expect(ours.checkpoint).toEqual(theirs.checkpoint);
      }
    }
    // Opened at rest, as the store holds them.
    const first = await getChangedDocumentsSince(si, 1);
    expect(first.documents[0]?.data).toEqual({ substance: 's0' });
  });

  it('reads only the documents it answers, not the rest of the write the checkpoint is in', async () => {
    const store = await open();
    await store.records.bulkInsert(Array.from({ length: 300 }, (_, i) => record(i)));
    const si = store.records.storageInstance as unknown as Records;
    const all = await rxdbAnswer(si, 1000);
    expect(new Set(all.documents.map((d) => d._meta.lwt)).size).toBe(1);
    const at = (n: number) => ({ id: all.documents[n]!.id, lwt: all.documents[n]!._meta.lwt });
    const steps = vi.spyOn(cursors, 'continue');
    // Nothing after the last document: nothing read (RxDB's query read all 300 to answer this).
    expect((await getChangedDocumentsSince(si, 500, at(299))).documents).toEqual([]);
    expect(steps.mock.calls.length).toBe(0);
    const rest = await getChangedDocumentsSince(si, 500, at(249));
    expect(rest.documents).toHaveLength(50);
    expect(steps.mock.calls.length).toBeLessThanOrEqual(50);
    steps.mockClear();
    await rxdbAnswer(si, 500, at(299));
    expect(steps.mock.calls.length).toBeGreaterThanOrEqual(299);
  });

  it("leaves a storage's own getChangedDocumentsSince as it is, and adds one to memory's (which has none)", async () => {
    const params = {
      databaseInstanceToken: 't',
      databaseName: `changed-since-${Math.random().toString(36).slice(2)}`,
      collectionName: 'c',
      schema: fillWithDefaultSettings({
        version: 0,
        primaryKey: 'id',
        type: 'object',
        properties: { id: { type: 'string', maxLength: 26 } },
        required: ['id'],
      }),
      options: {},
      multiInstance: false,
      devMode: false,
    };
    const memory = await withChangedSince(getRxStorageMemory()).createStorageInstance(params);
    await memory.bulkWrite(
      [{ document: { id: 'a', _deleted: false, _attachments: {}, _rev: '1-a', _meta: { lwt: 5 } } }],
      'test',
    );
    expect((await getChangedDocumentsSince(memory, 10)).documents.map((d: { id: string }) => d.id)).toEqual([
      'a',
    ]);
    await memory.close();
    const own = vi.fn(() => Promise.resolve({ documents: [], checkpoint: { id: '', lwt: 0 } }));
    const storage = {
      ...getRxStorageMemory(),
      createStorageInstance: () => Promise.resolve({ getChangedDocumentsSince: own }),
    } as unknown as ReturnType<typeof getRxStorageMemory>;
    const kept = await withChangedSince(storage).createStorageInstance(params);
    expect(kept).toHaveProperty('getChangedDocumentsSince', own);
  });
});
