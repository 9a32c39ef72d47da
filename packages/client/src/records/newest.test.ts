// records.newest against the full sort (every record opened, `byClinical` reversed): writes here, pulls,
// restarts, a clock set back, ties on the digest's earliest date.
import { afterEach, describe, expect, it } from 'vitest';
import { firstValueFrom, filter } from 'rxjs';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { EXAMPLE_PATIENT_ID, exampleRecord, newId } from '@hale/model';
import { openDeviceDb, type DeviceDb } from '../store/device-db';
import { deviceMetaStore } from '../store/meta-store';
import { createDeviceMeta } from '../store/device-meta';
import { byClinical } from './record-views';
import { createRecords, type StoredRecord } from './records';
import { DEVICE, pulledSide, recordInput } from './records.test-util';
import { NEWEST_CAP, SCAN_LIMIT, type NewestPage } from './newest';
import { NEWEST_DIGEST_SCHEMA, cutDigest, labTestKey, newestFirst } from './newest-digest';

const dbs: DeviceDb[] = [];
let counter = 0;
const RUN = Math.random().toString(36).slice(2, 8);
afterEach(async () => {
  await Promise.all(dbs.splice(0).map((db) => db.close()));
});

const openDb = async (): Promise<DeviceDb> => {
  const db = await openDeviceDb({
    name: `newest-test-${RUN}-${++counter}`,
    storage: getRxStorageMemory(),
    atRestKey: new Uint8Array(32).fill(7),
  });
  dbs.push(db);
  return db;
};

/** Timers run by the test (`later`): a view's saves while open. */
const timers: (() => void)[] = [];
const runTimers = (): void => {
  for (const run of timers.splice(0)) run();
};

/** A records API over `db` (a new one: an unlock, nothing held in memory), its meta on `db`. */
const recordsOf = (db: DeviceDb, now: () => number = () => Date.now()) =>
  createRecords({
    later: (run) => {
      timers.push(run);
      return () => timers.splice(timers.indexOf(run) >>> 0, 1);
    },
    collection: db.records,
    accountId: EXAMPLE_PATIENT_ID,
    deviceId: DEVICE,
    now,
    whyNotWritable: () => null,
    onWrite: () => undefined,
    meta: createDeviceMeta(deviceMetaStore(db)),
  });

type Lab = StoredRecord<'LabResult'>;
const ids = (items: readonly Lab[]): string[] => items.map((l) => l.record.id);

/** The full sort's newest `limit`: every record opened. */
const fullNewest = async (records: ReturnType<typeof recordsOf>, limit: number): Promise<string[]> => {
  const all = await firstValueFrom(records.observe('LabResult'));
  return ids([...all].sort(byClinical).reverse().slice(0, limit));
};

/** The record counts every scan of `db` read from the write-stamp index from now on. */
const scannedBy = (db: DeviceDb): (() => number[]) => {
  const counts: number[] = [];
  const instance = db.records.storageInstance;
  const query = instance.query.bind(instance);
  instance.query = async (prepared) => {
    const result = await query(prepared);
    if (prepared.queryPlan.index.includes('_meta.lwt')) counts.push(result.documents.length);
    return result;
  };
  return () => counts;
};

/** A LabResult as a pull stores it (another device wrote it), without this API. */
/** A result the patient entered (its provenance names the patient: theirs to edit), as a pull stores it. */
const pulledLab = (effectiveAt: string, over: Readonly<Record<string, unknown>> = {}) => {
  const lab = exampleRecord('LabResult', {
    id: newId(),
    effectiveAt,
    patientId: EXAMPLE_PATIENT_ID,
    ...over,
  });
  return pulledSide('LabResult', {
    ...lab,
    provenance: { ...lab.provenance, by: EXAMPLE_PATIENT_ID },
    versions: lab.versions.map((v) => ({ ...v, provenance: { ...v.provenance, by: EXAMPLE_PATIENT_ID } })),
    updatedAt: '2024-06-01T00:00:00.000Z',
  });
};

const seed = async (db: DeviceDb, dates: readonly string[]): Promise<void> => {
  await db.records.bulkInsert(dates.map((d) => ({ ...pulledLab(d), _deleted: undefined }) as never));
};

/** Results of test `t` (a code of its own) on `dates`, as a pull stores them. */
const seedTest = async (db: DeviceDb, t: string, dates: readonly string[], status = 'final') => {
  const docs = dates.map((d) => pulledLab(d, { testCode: `T-${t}`, testName: `Test ${t}`, status }));
  await db.records.bulkInsert(docs.map((d) => ({ ...d, _deleted: undefined }) as never));
  return docs;
};

/** The full walk's first `n` tests' newest (every record opened): what the home's card shows. */
const fullSeries = async (records: ReturnType<typeof recordsOf>, n: number): Promise<string[]> => {
  const all = await firstValueFrom(records.observe('LabResult'));
  const seen = new Set<string>();
  const out: Lab[] = [];
  for (const l of [...all].sort(byClinical).reverse()) {
    const key = labTestKey(l.record);
    if (out.length === n || l.record.status === 'entered-in-error' || l.record.status === 'cancelled')
      continue;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(l);
  }
  return ids(out);
};

const firstSeries = (records: ReturnType<typeof recordsOf>, series: number) =>
  firstValueFrom(records.newest('LabResult', { limit: 1, series }));

/** Waits until `check` holds (polled), at most ~10 s. */
const until = async (check: () => boolean | Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 2000 && !(await check()); i += 1) await new Promise((r) => setTimeout(r, 5));
  expect(await check()).toBe(true);
};

const day = (n: number): string => new Date(Date.UTC(2020, 0, 1) + n * 86_400_000).toISOString();

const first = (records: ReturnType<typeof recordsOf>, limit: number): Promise<NewestPage<'LabResult'>> =>
  firstValueFrom(records.newest('LabResult', { limit }));

describe('records.newest', () => {
  it('answers the full sort’s newest, and after a restart opens about `limit` records, not all', async () => {
    const db = await openDb();
    await seed(
      db,
      Array.from({ length: 400 }, (_, i) => day(i % 250)),
    );
    const a = recordsOf(db);
    const page = await first(a, 10);
    expect(ids(page.items)).toEqual(await fullNewest(a, 10));
    expect(page.complete).toBe(false);
    // An unlock: a new records API over the same store reads the digest.
    const b = recordsOf(db);
    const again = await first(b, 10);
    expect(b.listedDecodes()).toBeLessThanOrEqual(10);
    expect(ids(again.items)).toEqual(await fullNewest(b, 10));
  });

  it('follows writes live: a newer result, the newest deleted, a date moved down, one moved up into range', async () => {
    const db = await openDb();
    await seed(
      db,
      Array.from({ length: 300 }, (_, i) => day(i)),
    );
    await first(recordsOf(db), 5); // the digest saved
    const records = recordsOf(db);
    const seen: NewestPage<'LabResult'>[] = [];
    const sub = records.newest('LabResult', { limit: 5 }).subscribe((p) => seen.push(p));
    const next = async (check: (p: NewestPage<'LabResult'>) => boolean) => {
      const start = seen.length;
      for (let i = 0; i < 200 && !seen.slice(start).some(check); i += 1)
        await new Promise((r) => setTimeout(r, 5));
      expect(ids(seen.at(-1)!.items)).toEqual(await fullNewest(records, 5));
    };
    await next(() => true);
    const added = await records.add('LabResult', recordInput('LabResult', { effectiveAt: day(400) }));
    await next((p) => p.items[0]?.record.id === added.id);
    await records.remove(added.id);
    await next((p) => p.items[0]?.record.id !== added.id);
    const top = seen.at(-1)!.items[0]!;
    await records.update('LabResult', top.record.id, { effectiveAt: day(-50) }, { reason: 'typo' });
    await next((p) => !ids(p.items).includes(top.record.id));
    // Outside the digest (its earliest date is later), moved up to the newest.
    const all = await firstValueFrom(records.observe('LabResult'));
    const oldest = [...all].sort(byClinical).find((l) => l.record.id !== top.record.id)!;
    expect(oldest.record.effectiveAt).toBe(day(0));
    await records.update('LabResult', oldest.record.id, { effectiveAt: day(500) }, { reason: 'typo' });
    await next((p) => p.items[0]?.record.id === oldest.record.id);
    sub.unsubscribe();
    // The same writes seen by the next unlock's scan.
    const later = recordsOf(db);
    expect(ids((await first(later, 5)).items)).toEqual(await fullNewest(later, 5));
  });

  it("a chart's digest is forgotten when its stream is purged (forgetNewest): no id or date left, other charts kept", async () => {
    const db = await openDb();
    await seed(db, [day(1), day(2), day(3)]);
    const records = recordsOf(db);
    await first(records, 2);
    const meta = createDeviceMeta(deviceMetaStore(db));
    const other = { lwt: 1, min: null, entries: [] };
    await meta.update('newest-LabResult', NEWEST_DIGEST_SCHEMA, (c) => ({ ...(c ?? {}), OTHER: other }));
    const before = (await meta.get('newest-LabResult', NEWEST_DIGEST_SCHEMA))!;
    expect(before[EXAMPLE_PATIENT_ID]!.entries.length).toBeGreaterThan(0);
    await records.forgetNewest(EXAMPLE_PATIENT_ID, ['LabResult']);
    const after = (await meta.get('newest-LabResult', NEWEST_DIGEST_SCHEMA))!;
    expect(after[EXAMPLE_PATIENT_ID]).toBeUndefined();
    expect(after['OTHER']).toEqual(other);
    // A kind with no digest: nothing to do, nothing written.
    await records.forgetNewest(EXAMPLE_PATIENT_ID, ['Allergy']);
    expect(await meta.get('newest-Allergy', NEWEST_DIGEST_SCHEMA)).toBeNull();
  });

  it('a write pulled while locked (no view open) is in the next answer', async () => {
    const db = await openDb();
    await seed(
      db,
      Array.from({ length: 250 }, (_, i) => day(i)),
    );
    await first(recordsOf(db), 5);
    const pulled = pulledLab(day(999));
    await db.records.insert(pulled);
    const records = recordsOf(db);
    const page = await first(records, 5);
    expect(records.listedDecodes()).toBeLessThanOrEqual(10);
    expect(page.items[0]?.record.id).toBe(pulled.id);
    expect(ids(page.items)).toEqual(await fullNewest(records, 5));
  });

  it('an unlock’s scan applies a deletion pulled while locked, beyond what the view reads', async () => {
    const db = await openDb();
    await seed(
      db,
      Array.from({ length: 250 }, (_, i) => day(i)),
    );
    const all = await fullNewest(recordsOf(db), 250);
    await first(recordsOf(db), 5);
    const tenth = (await db.records.findOne(all[9]).exec())!.toMutableJSON(true);
    await db.records.bulkUpsert([{ ...tenth, data: {}, _deleted: true } as never]);
    const records = recordsOf(db);
    const page = await first(records, 5);
    expect(records.listedDecodes()).toBeLessThanOrEqual(5);
    expect(ids(page.items)).toEqual(all.slice(0, 5));
    const meta = createDeviceMeta(deviceMetaStore(db));
    const stored = (await meta.get('newest-LabResult', NEWEST_DIGEST_SCHEMA))![EXAMPLE_PATIENT_ID]!;
    expect(stored.entries.map(([id]) => id)).toContain(all[8]);
    expect(stored.entries.map(([id]) => id)).not.toContain(all[9]);
  });

  it('an unlock’s scan saves the write clock before it: the next unlock scans none of the same writes', async () => {
    const db = await openDb();
    await seed(
      db,
      Array.from({ length: 250 }, (_, i) => day(i)),
    );
    const seeded = Date.now();
    const scanned = scannedBy(db);
    const unlocked = recordsOf(db);
    await first(unlocked, 5);
    // No digest yet: a full read, saved as of a time every seeded write had settled by.
    expect(unlocked.listedDecodes()).toBe(250);
    const meta = createDeviceMeta(deviceMetaStore(db));
    const stored = (await meta.get('newest-LabResult', NEWEST_DIGEST_SCHEMA))![EXAMPLE_PATIENT_ID]!;
    expect(stored.lwt).toBeGreaterThanOrEqual(seeded);
    const again = recordsOf(db);
    expect(ids((await first(again, 5)).items)).toEqual(await fullNewest(again, 5));
    expect(scanned()).toEqual([0]);
  });

  it('a clock set back behind the digest’s stamp reads in full', async () => {
    const db = await openDb();
    await seed(
      db,
      Array.from({ length: 250 }, (_, i) => day(i)),
    );
    await first(recordsOf(db), 5);
    const behind = recordsOf(db, () => Date.now() - 3_600_000);
    const page = await first(behind, 5);
    expect(behind.listedDecodes()).toBe(250);
    expect(ids(page.items)).toEqual(await fullNewest(behind, 5));
  });

  it('keeps every result tying on its earliest date, so deletions above it leave it exact', async () => {
    const db = await openDb();
    // NEWEST_CAP − 2 distinct dates, then 10 results on one date, then older ones.
    const dates = [
      ...Array.from({ length: NEWEST_CAP - 2 }, (_, i) => day(1000 + i)),
      ...Array.from({ length: 10 }, () => day(500)),
      ...Array.from({ length: 50 }, (_, i) => day(i)),
    ];
    await seed(db, dates);
    await first(recordsOf(db), 5);
    const records = recordsOf(db);
    const sub = records.newest('LabResult', { limit: NEWEST_CAP + 5 }).subscribe(() => undefined);
    const page = await first(records, NEWEST_CAP + 5);
    expect(ids(page.items)).toEqual(await fullNewest(records, NEWEST_CAP + 5));
    sub.unsubscribe();
    const digest = cutDigest(
      {
        min: null,
        entries: dates.map((d, i) => ({ id: String(i).padStart(4, '0'), date: d })).sort(newestFirst),
        heads: [],
        floor: null,
      },
      NEWEST_CAP,
    );
    expect(digest.min).toBe(day(500));
    expect(digest.entries).toHaveLength(NEWEST_CAP + 8);
  });

  it('answers `complete` when it holds every record, and a locked session is refused', async () => {
    const db = await openDb();
    await seed(db, [day(1), day(2), day(3)]);
    const records = recordsOf(db);
    const page = await firstValueFrom(
      records.newest('LabResult', { limit: 5 }).pipe(filter((p) => p.items.length > 0)),
    );
    expect(page.complete).toBe(true);
    expect(ids(page.items)).toEqual(await fullNewest(records, 5));
    expect(() => records.newest('LabResult', { limit: 0 })).toThrow(/limit/);
  });

  it('names the first tests’ newest results as the full walk does, and after a restart opens about that many', async () => {
    const db = await openDb();
    // A meter's 600 results of one test, newer than every other test's (as the bench chart's).
    await seedTest(
      db,
      'meter',
      Array.from({ length: 600 }, (_, i) => day(1000 + i)),
    );
    for (const t of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) {
      await seedTest(
        db,
        t,
        Array.from({ length: 30 }, (_, i) => day(i * 7 + t.charCodeAt(0))),
      );
    }
    // Newer than test a's newest, but entered in error: in no series.
    await seedTest(db, 'a', [day(900)], 'entered-in-error');
    const a = recordsOf(db);
    expect(ids((await firstSeries(a, 6)).series)).toEqual(await fullSeries(a, 6));
    const b = recordsOf(db);
    const page = await firstSeries(b, 6);
    expect(b.listedDecodes()).toBeLessThanOrEqual(7);
    expect(ids(page.series)).toEqual(await fullSeries(b, 6));
    expect(ids(page.series)).toHaveLength(6);
    // More series than the chart has: all there are.
    expect(ids((await firstSeries(recordsOf(db), 20)).series)).toEqual(await fullSeries(b, 20));
  });

  it('follows a test’s newest result withdrawn, and one deleted below the digest while locked', async () => {
    const db = await openDb();
    const meter = await seedTest(
      db,
      'meter',
      Array.from({ length: 400 }, (_, i) => day(1000 + i)),
    );
    const others = await seedTest(
      db,
      'x',
      Array.from({ length: 5 }, (_, i) => day(100 + i)),
    );
    await seedTest(db, 'y', [day(50), day(60)]);
    await firstSeries(recordsOf(db), 3);
    // Pulled while locked: test x's newest deleted (a head below the digest's earliest date).
    const newestX = others.at(-1)!;
    await db.records.upsert({ ...newestX, data: {}, _deleted: true } as never);
    const records = recordsOf(db);
    const page = await firstSeries(records, 3);
    // (Test x's next result is not known to the digest: this unlock reads every result.)
    expect(ids(page.series)).toEqual(await fullSeries(records, 3));
    expect(ids(page.series)).not.toContain(newestX.id);
    // Live: the meter's newest withdrawn (entered in error), then test y's newest moved to the top.
    const seen: NewestPage<'LabResult'>[] = [];
    const sub = records.newest('LabResult', { limit: 1, series: 3 }).subscribe((p) => seen.push(p));
    await until(() => seen.length > 0);
    const top = meter.at(-1)!;
    await db.records.upsert({ ...top, rv: 3, data: { ...top.data, status: 'entered-in-error' } });
    await until(() => !ids(seen.at(-1)!.series).includes(top.id));
    expect(ids(seen.at(-1)!.series)).toEqual(await fullSeries(records, 3));
    expect(ids(seen.at(-1)!.items)).toEqual([top.id]);
    sub.unsubscribe();
    const later = recordsOf(db);
    expect(ids((await firstSeries(later, 3)).series)).toEqual(await fullSeries(later, 3));
  });

  it('saves the digest a view moved while open: the unlock right after a long sync scans only later writes', async () => {
    const db = await openDb();
    const meta = createDeviceMeta(deviceMetaStore(db));
    const stamp = async (): Promise<number> =>
      (await meta.get('newest-LabResult', NEWEST_DIGEST_SCHEMA))?.[EXAMPLE_PATIENT_ID]?.lwt ?? 0;
    const records = recordsOf(db);
    const seen: NewestPage<'LabResult'>[] = [];
    const sub = records.newest('LabResult', { limit: 1, series: 2 }).subscribe((p) => seen.push(p));
    await until(() => seen.length > 0);
    const empty = await stamp();
    // A first sync's pull: more writes than an unlock's scan reads.
    const total = SCAN_LIMIT + 500;
    for (let i = 0; i < total; i += 1000) {
      await seedTest(
        db,
        i % 2000 === 0 ? 'p' : 'q',
        Array.from({ length: Math.min(1000, total - i) }, (_, j) => day(i + j)),
      );
    }
    const written = Date.now();
    await until(() => seen.at(-1)!.series.length === 2);
    await until(() => timers.length > 0);
    runTimers();
    await until(async () => (await stamp()) > empty);
    expect(await stamp()).toBeGreaterThanOrEqual(written);
    // Two writes after the save, while the view is open: the next unlock scans those two only.
    await seedTest(db, 'q', [day(total), day(total + 1)]);
    sub.unsubscribe();
    const scanned = scannedBy(db);
    const next = recordsOf(db);
    const page = await firstSeries(next, 2);
    expect(scanned()).toEqual([2]);
    expect(next.listedDecodes()).toBeLessThanOrEqual(3);
    expect(ids(page.series)).toEqual(await fullSeries(next, 2));
  });

  it('refuses series of a kind without them, and counts out of range', async () => {
    const records = recordsOf(await openDb());
    expect(() => records.newest('Allergy', { series: 2 })).toThrow(/series/);
    expect(() => records.newest('LabResult', { series: 101 })).toThrow(/series/);
    expect(() => records.newest('LabResult', { series: -1 })).toThrow(/series/);
  });
});
