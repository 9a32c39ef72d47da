// The write clock against what a listener of the records collection received: sampled while writes run
// concurrently, every write stamped below `settled()` had emitted its events by then.
import { afterEach, describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { RxStorage, RxStorageInstance } from 'rxdb';
import { EXAMPLE_PATIENT_ID, newId } from '@hale/model';
import { openDeviceDb, writeClockOf, type DeviceDb, type DeviceRecord } from './device-db';
import { createWriteClock, trackWrites } from './write-clock';

const dbs: DeviceDb[] = [];
afterEach(async () => {
  await Promise.all(dbs.splice(0).map((db) => db.close()));
});

const RUN = Math.random().toString(36).slice(2, 8);
let counter = 0;

const aRecord = (id: string): DeviceRecord => ({
  id,
  stream: `${EXAMPLE_PATIENT_ID}/notes`,
  kind: 'Note',
  patientId: EXAMPLE_PATIENT_ID,
  updatedAt: new Date().toISOString(),
  rv: 1,
  epoch: 0,
  author: 'dev',
  by: EXAMPLE_PATIENT_ID,
  conflict: false,
  data: { text: id },
  conflictData: null,
});

describe('write clock', () => {
  it('every write stamped below settled() has emitted its change events, sampled while writes run', async () => {
    const db = await openDeviceDb({
      name: `write-clock-${RUN}-${++counter}`,
      storage: getRxStorageMemory(),
      atRestKey: new Uint8Array(32).fill(3),
    });
    dbs.push(db);
    const clock = writeClockOf(db.records);
    const received = new Set<string>();
    const sub = db.records.$.subscribe((event) => received.add(event.documentId));
    const samples: { at: number; now: number; received: Set<string> }[] = [];
    let writing = true;
    const sample = (): void => {
      samples.push({ at: clock.settled(), now: Date.now(), received: new Set(received) });
      if (writing) setTimeout(sample, 0);
    };
    const micro = async (): Promise<void> => {
      while (writing) {
        samples.push({ at: clock.settled(), now: Date.now(), received: new Set(received) });
        await Promise.resolve();
      }
    };
    sample();
    const sampling = micro();
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 30 }, async (_, batch) => {
        const rows = Array.from({ length: 20 + batch }, () => aRecord(newId()));
        ids.push(...rows.map((r) => r.id));
        await db.records.bulkInsert(rows);
        // Some written again: updates are stamped anew.
        await db.records.bulkUpsert(rows.slice(0, 5).map((r) => ({ ...r, rv: 2 })));
      }),
    );
    writing = false;
    await sampling;
    sub.unsubscribe();
    const docs = await db.records.findByIds(ids).exec();
    const stamps = [...docs.values()].map((d) => ({ id: d.id, lwt: d.toJSON(true)._meta.lwt }));
    expect(stamps).toHaveLength(ids.length);
    for (const s of samples) {
      const missing = stamps.filter((d) => d.lwt < s.at && !s.received.has(d.id));
      expect(missing).toEqual([]);
    }
    // Writes were in flight while sampled (else the check above would hold of any clock).
    const inFlight = samples.filter((s) => s.at < s.now);
    expect(inFlight.length).toBeGreaterThan(10);
    // After the writes (and the task an upsert's refused inserts stay in flight), nothing is in flight.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const after = Date.now();
    expect(clock.settled()).toBeGreaterThanOrEqual(after);
    expect(Math.max(...stamps.map((d) => d.lwt))).toBeLessThan(clock.settled() + 1);
  });

  it('a write that failed with errors stays in flight one task longer (RxDB may write its rows again)', async () => {
    const clock = createWriteClock(() => 1000);
    let answer: () => Promise<unknown> = () => Promise.resolve({ error: [{ status: 409 }] });
    const instance = {
      bulkWrite: () => answer(),
    } as unknown as RxStorageInstance<unknown, unknown, unknown>;
    const plain = { bulkWrite: () => answer() };
    const storage = trackWrites(
      {
        name: 'fake',
        rxdbVersion: 'x',
        createStorageInstance: (params: { collectionName: string }) =>
          Promise.resolve(params.collectionName === 'records' ? instance : { ...plain }),
      } as unknown as RxStorage<unknown, unknown>,
      clock,
      'records',
    );
    const tracked = await storage.createStorageInstance({ collectionName: 'records' } as never);
    await tracked.bulkWrite([{ document: { _meta: { lwt: 500 } } } as never], 'test');
    expect(clock.settled()).toBe(500);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(clock.settled()).toBe(1000);
    // A write that fails outright ends at once; another collection's writes are not tracked.
    answer = () => Promise.reject(new Error('disk'));
    const failing = tracked.bulkWrite([{ document: { _meta: { lwt: 700 } } } as never], 'test');
    expect(clock.settled()).toBe(700);
    await expect(failing).rejects.toThrow('disk');
    expect(clock.settled()).toBe(1000);
    const other = await storage.createStorageInstance({ collectionName: 'meta' } as never);
    expect(other).not.toBe(instance);
    expect(Object.is(Reflect.get(other, 'bulkWrite'), Reflect.get(plain, 'bulkWrite'))).toBe(true);
  });
});
