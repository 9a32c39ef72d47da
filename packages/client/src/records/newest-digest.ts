/**
 * A kind's newest records of one chart by clinical date, as ids and dates only (`records.newest`, newest.ts):
 * the digest kept in device meta (sealed at rest) so that an unlock reads a few records, not all of them.
 *
 * | part | what |
 * |---|---|
 * | `Digest` | `min` (null: every record) and `entries`, newest first (clinical date, then id, reversed) |
 * | `applyWrite(digest, doc)` | the digest after one document's current state (written, deleted, emptied) |
 * | `cutDigest(digest, cap)` | the newest `cap` entries, and every entry tying on the last one's date |
 * | `NEWEST_DIGEST_SCHEMA` | the stored form: per patient, write stamp `lwt`, `min`, `[id, date]` pairs |
 *
 * Invariants:
 * - `entries` hold exactly the live (not deleted, not emptied) records of the kind and chart whose clinical
 *   date (`clinicalDateOf`) is at or after `min` (`compareClinicalDates`), as of the stamp it was read at.
 * - Applying a document looks at its current state only: applying it again, or an older stamp's margin
 *   again, changes nothing.
 * - A cut keeps ties on the new `min`, so the invariant holds after it.
 * Failure modes: none of its own; a stored value failing the schema is no digest (a full read).
 */
import { Type, type Static } from '@sinclair/typebox';
import { compareClinicalDates } from '../hale/record-query';
import { clinicalDateOf } from '../hale/clinical-date';

export interface DigestEntry {
  readonly id: string;
  readonly date: string;
}

export interface Digest {
  /** The earliest clinical date held in full; null: every record of the kind is held. */
  readonly min: string | null;
  readonly entries: readonly DigestEntry[];
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

/** Newest first: the reverse of the full sort (`byClinical`: clinical date, then id). */
export const newestFirst = (a: DigestEntry, b: DigestEntry): number =>
  -(compareClinicalDates(a.date, b.date) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** The digest after `doc`'s current state (a document of another kind or chart: unchanged). */
export const applyWrite = (digest: Digest, doc: DigestDoc, kind: string, patientId: string): Digest => {
  if (doc.kind !== kind || doc.patientId !== patientId) return digest;
  const at = digest.entries.findIndex((e) => e.id === doc.id);
  const rest = at < 0 ? digest.entries : [...digest.entries.slice(0, at), ...digest.entries.slice(at + 1)];
  const live = !doc._deleted && Object.keys(doc.data).length > 0;
  const date = live ? clinicalDateOf(kind, doc.data, doc.updatedAt) : null;
  if (date === null || (digest.min !== null && compareClinicalDates(date, digest.min) < 0)) {
    return at < 0 ? digest : { min: digest.min, entries: rest };
  }
  const entry: DigestEntry = { id: doc.id, date };
  if (at >= 0 && digest.entries[at]!.date === date) return digest;
  const entries = [...rest];
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (newestFirst(entries[mid]!, entry) < 0) lo = mid + 1;
    else hi = mid;
  }
  entries.splice(lo, 0, entry);
  return { min: digest.min, entries };
};

/** The newest `cap` entries and every later one tying on the date of the last kept. */
export const cutDigest = (digest: Digest, cap: number): Digest => {
  if (digest.entries.length <= cap || cap <= 0) return digest;
  const min = digest.entries[cap - 1]!.date;
  let end = cap;
  while (end < digest.entries.length && compareClinicalDates(digest.entries[end]!.date, min) === 0) end += 1;
  return { min, entries: digest.entries.slice(0, end) };
};

/** A digest of every record of the kind and chart (a full read), sorted and cut to `cap`. */
export const digestOfAll = (entries: readonly DigestEntry[], cap: number): Digest =>
  cutDigest({ min: null, entries: [...entries].sort(newestFirst) }, cap);

const Stored = Type.Object({
  lwt: Type.Number(),
  min: Type.Union([Type.String({ maxLength: 40 }), Type.Null()]),
  entries: Type.Array(Type.Tuple([Type.String({ maxLength: 26 }), Type.String({ maxLength: 40 })]), {
    maxItems: 5000,
  }),
});
/** Per patient id (never in the key: device-meta.ts), that chart's digest of the kind. */
export const NEWEST_DIGEST_SCHEMA = Type.Record(Type.String({ maxLength: 64 }), Stored);
export type StoredDigests = Static<typeof NEWEST_DIGEST_SCHEMA>;
export type StoredDigest = Static<typeof Stored>;

export const toStoredDigest = (digest: Digest, lwt: number): StoredDigest => ({
  lwt,
  min: digest.min,
  entries: digest.entries.map((e) => [e.id, e.date] as [string, string]),
});

export const fromStoredDigest = (stored: StoredDigest): Digest => ({
  min: stored.min,
  entries: stored.entries.map(([id, date]) => ({ id, date })).sort(newestFirst),
});
