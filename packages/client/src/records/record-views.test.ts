// The shared sorted views record lists follow: each order equals a full sort with the comparisons of
// record-query.ts (dates read every time) after every change of a seeded random run; lists of one kind and
// chart share one source; a page cut from a view is the page `pageOf` gives.
import { Observable, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { compareInstants, exampleRecord } from '@hale/model';
import type { StoredRecord } from './records';
import { compareClinicalDates, pageOf, pageOfView, type RecordQuery } from './record-query';
import {
  compareClinicalKeys,
  createRecordViews,
  followSorted,
  sortKeysOf,
  type RecordView,
} from './record-views';

const lab = (id: string, updatedAt: string, effectiveAt: string, conflict = false): StoredRecord => ({
  kind: 'LabResult',
  record: { ...exampleRecord('LabResult'), id, updatedAt, effectiveAt },
  author: 'DevA000000000000000001',
  by: 'PatientAccount00000001',
  conflict,
  conflictData: null,
  rv: 1,
});

const byIdText = (a: StoredRecord, b: StoredRecord): number =>
  a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0;
const writtenSlow = (a: StoredRecord, b: StoredRecord): number =>
  compareInstants(a.record.updatedAt, b.record.updatedAt) || byIdText(a, b);
const clinicalSlow = (a: StoredRecord, b: StoredRecord): number =>
  compareClinicalDates(
    (a.record as { effectiveAt: string }).effectiveAt,
    (b.record as { effectiveAt: string }).effectiveAt,
  ) || byIdText(a, b);

const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
// Instants in Z with varied fraction digits (text order is not time order), and partial dates: no offsets
// mixed with days, where compareClinicalDates itself is no total order.
const instant = (next: () => number): string => {
  const s = Math.floor(next() * 600);
  const frac = ['', '.5', '.500', '.05', '.123456'][Math.floor(next() * 5)] ?? '';
  return `2025-01-0${1 + Math.floor(s / 100)}T10:0${Math.floor((s % 100) / 10)}:0${s % 10}${frac}Z`;
};
const clinicalDate = (next: () => number): string =>
  next() < 0.2 ? ['2024', '2025-01', '2025-01-03'][Math.floor(next() * 3)]! : instant(next);

describe('record views', () => {
  it('compares clinical keys as compareClinicalDates compares the dates', () => {
    const dates = [
      '2024',
      '2024-05',
      '2024-05-10',
      '2024-05-10T08:00:00Z',
      '2024-05-10T08:00:00.5Z',
      '2024-05-09T23:00:00-05:00',
      '2023-12-31T23:59:59.999999999Z',
      'x',
    ];
    for (const a of dates) {
      for (const b of dates) {
        const ka = sortKeysOf(lab('A', '2025-01-01T00:00:00Z', a));
        const kb = sortKeysOf(lab('B', '2025-01-01T00:00:00Z', b));
        expect(Math.sign(compareClinicalKeys(ka, kb)), `${a} vs ${b}`).toBe(
          Math.sign(compareClinicalDates(a, b)),
        );
      }
    }
  });

  for (const seed of [7, 8, 9]) {
    it(`keeps both orders equal to a full sort under random add, change and remove (seed ${seed})`, () => {
      const next = random(seed);
      const held = new Map<string, StoredRecord>();
      for (let i = 0; i < 200; i += 1) held.set(`L${i}`, lab(`L${i}`, instant(next), clinicalDate(next)));
      const source = new Subject<readonly StoredRecord[]>();
      let view: RecordView | null = null;
      const sub = followSorted(source).subscribe((v) => (view = v));
      let serial = 200;
      for (let step = 0; step < 150; step += 1) {
        const roll = next();
        const ids = [...held.keys()];
        const pick = ids[Math.floor(next() * ids.length)]!;
        if (roll < 0.4) held.set(`L${serial}`, lab(`L${serial++}`, instant(next), clinicalDate(next)));
        else if (roll < 0.8) held.set(pick, lab(pick, instant(next), clinicalDate(next), next() < 0.3));
        else held.delete(pick);
        source.next([...held.values()].sort(() => next() - 0.5));
        const v = view as RecordView | null;
        expect(v).not.toBeNull();
        expect(v!.written).toEqual([...held.values()].sort(writtenSlow));
        // The clinical order is kept from its first read on: read it every few steps only.
        if (step % 3 === 0) expect(v!.clinical()).toEqual([...held.values()].sort(clinicalSlow));
        const queries: RecordQuery[] = [
          {},
          { sort: 'clinical', limit: 7, offset: 3 },
          { order: 'asc', limit: 10 },
          { conflict: true, sort: 'clinical', order: 'asc' },
          { writtenFrom: '2025-01-02T00:00:00Z', writtenBefore: '2025-01-04T10:05:00.5Z', limit: 20 },
          { ids: ids.slice(0, 30), sort: 'clinical', offset: 500 },
        ];
        for (const q of queries) expect(pageOfView(v!, q)).toEqual(pageOf([...held.values()], q));
      }
      sub.unsubscribe();
    });
  }

  it('lists of one kind and chart listen to one source, and a new listen after the last stop starts again', () => {
    let listens = 0;
    const source = new Subject<readonly StoredRecord[]>();
    const counted = new Observable<readonly StoredRecord[]>((subscriber) => {
      listens += 1;
      const inner = source.subscribe(subscriber);
      return () => inner.unsubscribe();
    });
    const views = createRecordViews();
    const seen: number[] = [];
    const a = views.view('LabResult', undefined, counted).subscribe((v) => seen.push(v.written.length));
    const b = views.view('LabResult', undefined, counted).subscribe((v) => seen.push(v.written.length));
    source.next([lab('L1', '2025-01-01T00:00:00Z', '2024')]);
    expect(listens).toBe(1);
    expect(seen).toEqual([1, 1]);
    // Another chart is another view.
    views.view('LabResult', 'OtherPatient000000001', counted).subscribe().unsubscribe();
    expect(listens).toBe(2);
    a.unsubscribe();
    b.unsubscribe();
    views.view('LabResult', undefined, counted).subscribe().unsubscribe();
    expect(listens).toBe(3);
  });
});
