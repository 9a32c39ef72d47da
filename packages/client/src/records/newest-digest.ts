/**
 * A kind's newest records of one chart by clinical date, as ids, dates and series only (`records.newest`,
 * newest.ts): the digest kept in device meta (sealed at rest) so that an unlock reads a few records, not all.
 *
 * | part | what |
 * |---|---|
 * | `Digest` | `min` (null: every record) and `entries`, newest first (clinical date, then id, reversed); `heads` and `floor` below `min` |
 * | `seriesOf(kind, data)` | a record's series: a lab result's test (`labTestKey`); null: none (another kind, or a result entered in error or cancelled) |
 * | `applyWrite(digest, doc)` | the digest after one document's current state (written, deleted, emptied) |
 * | `cutDigest(digest, cap)` | the newest `cap` entries, and every entry tying on the last one's date; the series' newest of the rest as heads |
 * | `firstOfSeries(digest, n)` | the newest entry of each of the first `n` series, or null when the digest cannot tell |
 * | `NEWEST_DIGEST_SCHEMA` | the stored form: per patient, write stamp `lwt`, `min`, `[id, date]` pairs, series indexes, heads, floor |
 *
 * Invariants:
 * - `entries` hold exactly the live (not deleted, not emptied) records of the kind and chart whose clinical
 *   date (`clinicalDateOf`) is at or after `min` (`compareClinicalDates`), as of the stamp it was read at;
 *   an entry's `group` is its series, or undefined (a digest saved before series were kept: not known).
 * - `heads` hold, for every series with a record dated in [`floor`, `min`), exactly that series' newest such
 *   record, and nothing else (`floor` null: from the first date; `floor` = `min`: none known). A write to a
 *   head raises `floor` above it (that series' next record is not known); a cut adds the cut-off entries.
 * - Applying a document looks at its current state only: applying it again, or an older stamp's margin
 *   again, changes nothing.
 * - A cut keeps ties on the new `min`, so the invariants hold after it.
 * Failure modes: none of its own; a stored value failing the schema is no digest (a full read); past
 * `MAX_HEADS` series the oldest heads are dropped (`floor` raised).
 */
import { Type, type Static } from '@sinclair/typebox';
import { compareClinicalDates } from './record-query';
import { clinicalDateOf } from './clinical-date';

/** Series kept below `min` at most. */
export const MAX_HEADS = 500;

export interface DigestEntry {
  readonly id: string;
  readonly date: string;
  /** Its series (`seriesOf`); null: none; undefined: not known (saved before series were kept). */
  readonly group?: string | null;
}

export interface Digest {
  /** The earliest clinical date held in full; null: every record of the kind is held. */
  readonly min: string | null;
  readonly entries: readonly DigestEntry[];
  /** Each series' newest record dated in [`floor`, `min`), newest first; empty while `min` is null. */
  readonly heads: readonly DigestEntry[];
  /** null: heads go back to the first date; equal to `min`: no head known. */
  readonly floor: string | null;
}

/** A document as the store or its change events hold it (opened at rest). */
export interface DigestDoc {
  readonly id: string;
  readonly kind: string;
  readonly patientId: string;
  readonly updatedAt: string;
  readonly _deleted: boolean;
  readonly data: Readonly<Record<string, unknown>>;
}

/** A lab result's test: its code (trimmed, lower case), else its name (spaces collapsed, lower case). */
export const labTestKey = (lab: {
  readonly testCode?: string | undefined;
  readonly testName: string;
}): string =>
  lab.testCode !== undefined && lab.testCode.trim() !== ''
    ? `code:${lab.testCode.trim().toLowerCase()}`
    : `name:${lab.testName.trim().toLowerCase().replace(/\s+/g, ' ')}`;

/** Kinds whose records form series (`records.newest`'s `series` option). */
export const SERIES_KINDS: ReadonlySet<string> = new Set(['LabResult']);

/** A record's series, or null (another kind; a result entered in error or cancelled counts in none). */
export const seriesOf = (kind: string, data: Readonly<Record<string, unknown>>): string | null => {
  if (kind !== 'LabResult') return null;
  const { status, testCode, testName } = data;
  if (status === 'entered-in-error' || status === 'cancelled' || typeof testName !== 'string') return null;
  return labTestKey({ testName, testCode: typeof testCode === 'string' ? testCode : undefined });
};

/** Newest first: the reverse of the full sort (`byClinical`: clinical date, then id). */
export const newestFirst = (a: DigestEntry, b: DigestEntry): number =>
  -(compareClinicalDates(a.date, b.date) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** Where `entry` goes in `entries` (newest first). */
const insertAt = (entries: readonly DigestEntry[], entry: DigestEntry): number => {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (newestFirst(entries[mid]!, entry) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

const inserted = (entries: readonly DigestEntry[], entry: DigestEntry): DigestEntry[] => {
  const out = [...entries];
  out.splice(insertAt(out, entry), 0, entry);
  return out;
};

/** `heads` less every head dated at or before `date`, and the floor just above them. */
const raiseFloor = (digest: Digest, heads: readonly DigestEntry[], date: string): Digest => {
  const kept = heads.filter((h) => compareClinicalDates(h.date, date) > 0);
  return { ...digest, heads: kept, floor: kept.at(-1)?.date ?? digest.min };
};

/** The heads after `doc`'s current state (`date`, `group`), `digest.entries` already applied. */
const applyToHeads = (digest: Digest, id: string, date: string | null, group: string | null): Digest => {
  if (digest.min === null) return digest;
  const at = digest.heads.findIndex((h) => h.id === id);
  const was = at < 0 ? undefined : digest.heads[at]!;
  if (was !== undefined && was.date === date && was.group === group) return digest;
  let next = digest;
  if (was !== undefined) {
    // Its series' next record is not known: nothing at or below it is.
    next = raiseFloor(digest, [...digest.heads.slice(0, at), ...digest.heads.slice(at + 1)], was.date);
  }
  const { min, floor } = next;
  if (
    date === null ||
    group === null ||
    min === null ||
    compareClinicalDates(date, min) >= 0 ||
    (floor !== null && compareClinicalDates(date, floor) < 0)
  )
    return next;
  const entry: DigestEntry = { id, date, group };
  const same = next.heads.findIndex((h) => h.group === group);
  if (same >= 0 && newestFirst(next.heads[same]!, entry) <= 0) return next;
  const rest = same < 0 ? next.heads : next.heads.filter((_, i) => i !== same);
  return { ...next, heads: inserted(rest, entry) };
};

/** The digest after `doc`'s current state (a document of another kind or chart: unchanged). */
export const applyWrite = (digest: Digest, doc: DigestDoc, kind: string, patientId: string): Digest => {
  if (doc.kind !== kind || doc.patientId !== patientId) return digest;
  const live = !doc._deleted && Object.keys(doc.data).length > 0;
  const date = live ? clinicalDateOf(kind, doc.data, doc.updatedAt) : null;
  const group = live ? seriesOf(kind, doc.data) : null;
  const at = digest.entries.findIndex((e) => e.id === doc.id);
  const rest = at < 0 ? digest.entries : [...digest.entries.slice(0, at), ...digest.entries.slice(at + 1)];
  let next: Digest;
  if (date === null || (digest.min !== null && compareClinicalDates(date, digest.min) < 0)) {
    next = at < 0 ? digest : { ...digest, entries: rest };
  } else if (at >= 0 && digest.entries[at]!.date === date && digest.entries[at]!.group === group) {
    next = digest;
  } else next = { ...digest, entries: inserted(rest, { id: doc.id, date, group }) };
  return applyToHeads(next, doc.id, date, group);
};

/** `heads` with the series' newest of `below` (entries cut off, newer than every head) put first. */
const headsWith = (digest: Digest, below: readonly DigestEntry[]): Pick<Digest, 'heads' | 'floor'> => {
  const first = new Map<string, DigestEntry>();
  for (const e of below) if (e.group != null && !first.has(e.group)) first.set(e.group, e);
  return {
    heads: [...first.values(), ...digest.heads.filter((h) => !first.has(h.group!))],
    floor: digest.floor,
  };
};

/** At most `MAX_HEADS` heads (and ties on the last one's date), the floor raised to it. */
const boundHeads = (digest: Digest): Digest => {
  if (digest.heads.length <= MAX_HEADS) return digest;
  const floor = digest.heads[MAX_HEADS - 1]!.date;
  return { ...digest, floor, heads: digest.heads.filter((h) => compareClinicalDates(h.date, floor) >= 0) };
};

/** The newest `cap` entries and every later one tying on the date of the last kept; the rest's series as heads. */
export const cutDigest = (digest: Digest, cap: number): Digest => {
  if (digest.entries.length <= cap || cap <= 0) return digest;
  const min = digest.entries[cap - 1]!.date;
  let end = cap;
  while (end < digest.entries.length && compareClinicalDates(digest.entries[end]!.date, min) === 0) end += 1;
  if (end === digest.entries.length) return digest;
  const below = digest.entries.slice(end);
  // A series not known below: no head is known (the floor at the new min).
  const heads = below.some((e) => e.group === undefined)
    ? { heads: [], floor: min }
    : headsWith(digest, below);
  return boundHeads({ min, entries: digest.entries.slice(0, end), ...heads });
};

/** A digest of every record of the kind and chart (a full read), sorted and cut to `cap`. */
export const digestOfAll = (entries: readonly DigestEntry[], cap: number): Digest =>
  cutDigest({ min: null, entries: [...entries].sort(newestFirst), heads: [], floor: null }, cap);

/**
 * The newest entry of each of the first `n` series (by their newest record), newest first; fewer when the
 * chart has fewer series; null when the digest cannot tell (a series not known, or older than `floor`).
 */
export const firstOfSeries = (digest: Digest, n: number): DigestEntry[] | null => {
  const seen = new Set<string>();
  const out: DigestEntry[] = [];
  const take = (e: DigestEntry): void => {
    if (out.length < n && e.group != null && !seen.has(e.group)) {
      seen.add(e.group);
      out.push(e);
    }
  };
  for (const e of digest.entries) {
    if (out.length === n) return out;
    if (e.group === undefined) return null;
    take(e);
  }
  if (digest.min === null || out.length === n) return out;
  for (const h of digest.heads) take(h);
  return out.length === n || digest.floor === null ? out : null;
};

const Id = Type.String({ maxLength: 26 });
const DateText = Type.String({ maxLength: 40 });
const Stored = Type.Object({
  lwt: Type.Number(),
  min: Type.Union([DateText, Type.Null()]),
  entries: Type.Array(Type.Tuple([Id, DateText]), { maxItems: 5000 }),
  /** Per entry, its series' index in `series`, −1: none; absent: not known (saved before series were kept). */
  groups: Type.Optional(Type.Array(Type.Integer({ minimum: -1, maximum: 5999 }), { maxItems: 5000 })),
  series: Type.Optional(Type.Array(Type.String({ maxLength: 300 }), { maxItems: 6000 })),
  /** `[id, date, series index]`, newest first. */
  heads: Type.Optional(
    Type.Array(Type.Tuple([Id, DateText, Type.Integer({ minimum: 0, maximum: 5999 })]), {
      maxItems: MAX_HEADS + 500,
    }),
  ),
  floor: Type.Optional(Type.Union([DateText, Type.Null()])),
});
/** Per patient id (never in the key: device-meta.ts), that chart's digest of the kind. */
export const NEWEST_DIGEST_SCHEMA = Type.Record(Type.String({ maxLength: 64 }), Stored);
export type StoredDigests = Static<typeof NEWEST_DIGEST_SCHEMA>;
export type StoredDigest = Static<typeof Stored>;

export const toStoredDigest = (digest: Digest, lwt: number): StoredDigest => {
  const base = {
    lwt,
    min: digest.min,
    entries: digest.entries.map((e) => [e.id, e.date] as [string, string]),
  };
  if (digest.entries.some((e) => e.group === undefined)) return base;
  const series: string[] = [];
  const index = new Map<string, number>();
  const indexOf = (g: string): number => {
    let i = index.get(g);
    if (i === undefined) {
      i = series.push(g) - 1;
      index.set(g, i);
    }
    return i;
  };
  return {
    ...base,
    groups: digest.entries.map((e) => (e.group == null ? -1 : indexOf(e.group))),
    heads: digest.heads.map((h) => [h.id, h.date, indexOf(h.group!)] as [string, string, number]),
    floor: digest.floor,
    series,
  };
};

export const fromStoredDigest = (stored: StoredDigest): Digest => {
  const { groups, series, heads, floor } = stored;
  const known =
    groups !== undefined &&
    series !== undefined &&
    heads !== undefined &&
    floor !== undefined &&
    groups.length === stored.entries.length &&
    groups.every((g) => g < series.length) &&
    heads.every(([, , g]) => g < series.length);
  const entries = stored.entries
    .map(([id, date], i): DigestEntry => {
      if (!known) return { id, date };
      const g = groups[i]!;
      return { id, date, group: g < 0 ? null : series[g]! };
    })
    .sort(newestFirst);
  if (!known || stored.min === null) return { min: stored.min, entries, heads: [], floor: stored.min };
  return {
    min: stored.min,
    entries,
    heads: heads.map(([id, date, g]): DigestEntry => ({ id, date, group: series[g]! })).sort(newestFirst),
    floor,
  };
};
