// The digest against a brute-force chart: random writes (new results, dates moved, tests changed, results
// withdrawn, deleted), cuts and stored round trips, each checked against every record held in the clear.
import { describe, expect, it } from 'vitest';
import {
  applyWrite,
  cutDigest,
  digestOfAll,
  firstOfSeries,
  fromStoredDigest,
  labTestKey,
  newestFirst,
  seriesOf,
  toStoredDigest,
  type Digest,
  type DigestDoc,
  type DigestEntry,
} from './newest-digest';
import { compareClinicalDates } from './record-query';

const P = 'patient-1';
interface Rec {
  id: string;
  date: string;
  test: number;
  withdrawn: boolean;
  live: boolean;
}
const day = (n: number): string => new Date(Date.UTC(2020, 0, 1) + n * 86_400_000).toISOString();
const docOf = (r: Rec): DigestDoc => ({
  id: r.id,
  kind: 'LabResult',
  patientId: P,
  updatedAt: '2024-01-01T00:00:00.000Z',
  _deleted: !r.live,
  data: r.live
    ? { effectiveAt: r.date, testName: `Test ${r.test}`, status: r.withdrawn ? 'entered-in-error' : 'final' }
    : {},
});
const entryOf = (r: Rec): DigestEntry => ({
  id: r.id,
  date: r.date,
  group: r.withdrawn ? null : labTestKey({ testName: `Test ${r.test}` }),
});

/** Seeded pseudo-random numbers (mulberry32): a failure replays. */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

/** Every invariant of the digest's header, against the chart. */
const check = (digest: Digest, chart: readonly Rec[]): void => {
  const live = chart
    .filter((r) => r.live)
    .map(entryOf)
    .sort(newestFirst);
  const inPrefix = live.filter((e) => digest.min === null || compareClinicalDates(e.date, digest.min) >= 0);
  expect(digest.entries).toEqual(inPrefix);
  if (digest.min === null) expect(digest.heads).toEqual([]);
  else {
    const min = digest.min;
    const inRange = live.filter(
      (e) =>
        e.group !== null &&
        compareClinicalDates(e.date, min) < 0 &&
        (digest.floor === null || compareClinicalDates(e.date, digest.floor) >= 0),
    );
    const heads = new Map<string, DigestEntry>();
    for (const e of inRange) if (!heads.has(e.group!)) heads.set(e.group!, e);
    expect(digest.heads).toEqual([...heads.values()].sort(newestFirst));
  }
  for (const n of [1, 3, 6]) {
    const answer = firstOfSeries(digest, n);
    const seen = new Set<string>();
    const want: DigestEntry[] = [];
    for (const e of live) {
      if (want.length < n && e.group !== null && !seen.has(e.group!)) {
        seen.add(e.group!);
        want.push(e);
      }
    }
    if (answer !== null) expect(answer).toEqual(want);
    // Every record held (a full read): it always tells.
    if (digest.min === null || digest.floor === null) expect(answer).toEqual(want);
  }
  expect(fromStoredDigest(toStoredDigest(digest, 1))).toEqual(digest);
};

describe('newest digest', () => {
  it('holds its invariants through random writes, cuts and saves (against every record)', () => {
    for (let seed = 1; seed <= 25; seed += 1) {
      const random = rng(seed);
      const pick = (n: number): number => Math.floor(random() * n);
      const chart: Rec[] = [];
      let next = 0;
      const fresh = (): Rec => ({
        id: `r${String(next++).padStart(5, '0')}`,
        date: day(pick(40)),
        test: pick(8),
        withdrawn: random() < 0.1,
        live: true,
      });
      for (let i = 0; i < 60; i += 1) chart.push(fresh());
      let digest = digestOfAll(chart.map(entryOf), 10);
      check(digest, chart);
      for (let step = 0; step < 120; step += 1) {
        const r = chart[pick(chart.length)]!;
        const op = pick(7);
        if (op === 0) chart.push(fresh());
        else if (op === 1) r.date = day(pick(45));
        else if (op === 2) r.test = pick(8);
        else if (op === 3) r.withdrawn = !r.withdrawn;
        else if (op === 4) r.live = false;
        else if (op === 5) digest = cutDigest(digest, 3 + pick(10));
        else digest = fromStoredDigest(toStoredDigest(digest, step));
        const written = op === 0 ? chart.at(-1)! : r;
        if (op <= 4) digest = applyWrite(digest, docOf(written), 'LabResult', P);
        // Applying again changes nothing.
        if (op <= 4) expect(applyWrite(digest, docOf(written), 'LabResult', P)).toEqual(digest);
        check(digest, chart);
      }
    }
  });

  it('a cut keeps each test’s newest below it, so a test far older than the newest is named without a read', () => {
    // 300 results of one test, newer than one result of each of five others.
    const chart: Rec[] = [
      ...Array.from({ length: 300 }, (_, i) => ({
        id: `g${String(i).padStart(4, '0')}`,
        date: day(100 + i),
        test: 0,
        withdrawn: false,
        live: true,
      })),
      ...Array.from({ length: 5 }, (_, i) => ({
        id: `o${i}`,
        date: day(i),
        test: i + 1,
        withdrawn: false,
        live: true,
      })),
    ];
    const digest = digestOfAll(chart.map(entryOf), 20);
    expect(digest.entries).toHaveLength(20);
    expect(firstOfSeries(digest, 6)?.map((e) => e.id)).toEqual(['g0299', 'o4', 'o3', 'o2', 'o1', 'o0']);
    check(digest, chart);
    // The head of test 3 deleted: its next result is not known, the digest cannot tell six tests any more.
    chart[303]!.live = false;
    const after = applyWrite(digest, docOf(chart[303]!), 'LabResult', P);
    check(after, chart);
    expect(firstOfSeries(after, 6)).toBeNull();
    // Newer heads stay known.
    expect(firstOfSeries(after, 2)?.map((e) => e.id)).toEqual(['g0299', 'o4']);
  });

  it('a digest saved before series were kept tells no series, and a cut of it knows no heads', () => {
    const chart: Rec[] = Array.from({ length: 30 }, (_, i) => ({
      id: `r${i}`,
      date: day(i),
      test: i % 4,
      withdrawn: false,
      live: true,
    }));
    const stored = toStoredDigest(digestOfAll(chart.map(entryOf), 10), 5);
    const old = fromStoredDigest({ lwt: stored.lwt, min: stored.min, entries: stored.entries });
    expect(old.entries.every((e) => e.group === undefined)).toBe(true);
    expect(firstOfSeries(old, 2)).toBeNull();
    const cut = cutDigest(old, 5);
    expect(cut.heads).toEqual([]);
    expect(cut.floor).toBe(cut.min);
  });

  it('a result entered in error or cancelled is in no series; a lab test is its code, else its name', () => {
    expect(seriesOf('LabResult', { testName: 'HbA1c', status: 'entered-in-error' })).toBeNull();
    expect(seriesOf('LabResult', { testName: 'HbA1c', status: 'cancelled' })).toBeNull();
    expect(seriesOf('LabResult', { testName: ' Hb  A1c ', status: 'final' })).toBe('name:hb a1c');
    expect(seriesOf('LabResult', { testName: 'x', testCode: ' 4548-4 ' })).toBe('code:4548-4');
    expect(seriesOf('Allergy', { substance: 'x' })).toBeNull();
  });
});
