import { afterEach, describe, expect, it, vi } from 'vitest';
import { IDBCursor } from 'fake-indexeddb';
import { closeDeviceDb, openDeviceDb, type DeviceDb, type DeviceRecord } from '../store/device-db';
import { streamCopies, writesSince } from './stream-copies';
import { dexieStorage } from '../store/changed-since.test-util';

const PATIENTS = ['AAAAAAAAAAAAAAAAAAAAAA', 'BBBBBBBBBBBBBBBBBBBBBB', 'CCCCCCCCCCCCCCCCCCCCCC'];
const PER_STREAM = 10;
const id = (p: number, i: number): string => `01J${String(p * 100 + i).padStart(23, '0')}`;

const record = (p: number, i: number): DeviceRecord => ({
  id: id(p, i),
  stream: `${PATIENTS[p]}/allergy`,
  kind: 'Allergy',
  patientId: PATIENTS[p]!,
  updatedAt: `2026-11-${String(10 + i).padStart(2, '0')}T00:00:00.000Z`,
  rv: 1,
  epoch: 0,
  author: 'device',
  by: PATIENTS[p]!,
  conflict: false,
  data: { substance: `s${p}-${i}` },
  conflictData: null,
});

/** fake-indexeddb's cursors: each `continue` steps past one document read (its types need the DOM's). */
const cursors = (IDBCursor as unknown as { prototype: { continue(key?: unknown): void } }).prototype;

let db: DeviceDb | null = null;
afterEach(async () => {
  vi.restoreAllMocks();
  if (db !== null) await closeDeviceDb(db);
  db = null;
});

/** A device store over Dexie and IndexedDB holding three patients' allergy streams, some deleted. */
const storeOfThreeStreams = async (): Promise<DeviceDb> => {
  db = await openDeviceDb({
    name: `stream-copies-${Math.random().toString(36).slice(2)}`,
    storage: dexieStorage(),
    atRestKey: new Uint8Array(32).fill(7),
  });
  await db.records.bulkInsert(
    PATIENTS.flatMap((_, p) => Array.from({ length: PER_STREAM }, (_, i) => record(p, i))),
  );
  await db.records.bulkRemove([id(0, 3), id(0, 7), id(1, 0), id(2, 4), id(2, 5)]);
  return db;
};

describe('streamCopies', () => {
  it("answers one stream's documents, deletions included, by id, reading that stream's documents only", async () => {
    const store = await storeOfThreeStreams();
    const steps = vi.spyOn(cursors, 'continue');
    const copies = await streamCopies(store.records.storageInstance, `${PATIENTS[0]}/allergy`);
    expect(copies.map((d) => [d.id, d._deleted])).toEqual(
      Array.from({ length: PER_STREAM }, (_, i) => [id(0, i), i === 3 || i === 7]),
    );
    // The content is opened at rest, as the store holds it.
    expect(copies[0]?.data).toEqual({ substance: 's0-0' });
    // A cursor steps once past each document it reads: the other streams' 20 documents are never read
    // (a selector the planner matches to no index scans all 30).
    expect(steps.mock.calls.length).toBeLessThanOrEqual(PER_STREAM);
  });

  it('answers only the deletions with `deleted: true`', async () => {
    const store = await storeOfThreeStreams();
    const steps = vi.spyOn(cursors, 'continue');
    const gone = await streamCopies(store.records.storageInstance, `${PATIENTS[0]}/allergy`, {
      deleted: true,
    });
    expect(gone.map((d) => d.id)).toEqual([id(0, 3), id(0, 7)]);
    // Not the other streams' three deletions.
    expect(steps.mock.calls.length).toBeLessThanOrEqual(2);
    const other = await streamCopies(store.records.storageInstance, `${PATIENTS[1]}/allergy`, {
      deleted: true,
    });
    expect(other.map((d) => d.id)).toEqual([id(1, 0)]);
  });
});

describe('writesSince', () => {
  it('reads every write a page at a time, awaiting `between` before each page after the first', async () => {
    const store = await storeOfThreeStreams();
    // 30 written above; 420 more make three pages of 200.
    await store.records.bulkInsert(
      Array.from({ length: 420 }, (_, i) => ({
        ...record(i % 3, 0),
        id: `01K${String(i).padStart(23, '0')}`,
      })),
    );
    let yielded = 0;
    const got = await writesSince(store.records.storageInstance, null, () => {
      yielded++;
      return Promise.resolve();
    });
    expect(yielded).toBe(2);
    expect([...got.last.keys()].sort()).toEqual(PATIENTS.map((p) => `${p}/allergy`));
    expect(got.end).not.toBeNull();
    // From where it ended: nothing new, no page after the first.
    yielded = 0;
    const again = await writesSince(store.records.storageInstance, got.end, () => {
      yielded++;
      return Promise.resolve();
    });
    expect(again.last.size).toBe(0);
    expect(yielded).toBe(0);
  });

  it('opens no record: stream and stamp are read from clear fields', async () => {
    const store = await storeOfThreeStreams();
    // Values this session wrote are remembered open: a store opened again remembers none.
    const name = store.name;
    await closeDeviceDb(store);
    db = await openDeviceDb({ name, storage: dexieStorage(), atRestKey: new Uint8Array(32).fill(7) });
    // Each record opened parses its sealed plaintext (JSON); listing clear fields parses none.
    const parses = vi.spyOn(JSON, 'parse');
    const got = await writesSince(db.records.storageInstance, null);
    expect(got.last.size).toBe(3);
    expect(parses.mock.calls.length).toBeLessThan(5);
    // The spy sees an opening read.
    await streamCopies(db.records.storageInstance, `${PATIENTS[0]}/allergy`);
    expect(parses.mock.calls.length).toBeGreaterThanOrEqual(PER_STREAM - 2);
  });
});
