/**
 * One live, sorted view of a kind's records per chart, shared by every list of them (`records.list`).
 *
 * | part | what |
 * |---|---|
 * | `view(kind, patientId, source)` | the shared view of `source` (the records API's live list), made at first listen |
 * | `RecordView.written` | the records by time of writing, earliest first, then by id |
 * | `RecordView.clinical()` | by clinical date (`clinicalDateOf`), earliest first, then by id; kept from its first read on |
 * | `sortKeysOf(stored)` | the record's sort keys, read once per stored revision |
 *
 * Invariants: each order is a `SortedList` (sorted-list.ts) following the source: a change of one record
 * moves that record only, compared by keys read once (no date is parsed in a comparison). Lists of one
 * kind and chart listen to one source; the view ends (and is made again at the next listen) when the last
 * list stops, the source fails (locked) or completes (closed). A view is read as it stands at its
 * emission (pages are cut at once); it changes only with the next emission.
 * Failure modes: the source's (AccountError LOCKED at its next change after a lock).
 */
import { type Observable, ReplaySubject, defer, map, share } from 'rxjs';
import { compareInstantKeys, instantKeyOf, type InstantKey, type RecordKind } from '@hale/model';
import type { StoredRecord } from './record-types';
import { writtenKeyOf } from './listed-records';
import { clinicalDateOf } from './clinical-date';
import { createSortedList, type SortedList } from './sorted-list';

export interface RecordView<K extends RecordKind = RecordKind> {
  readonly written: readonly StoredRecord<K>[];
  clinical(): readonly StoredRecord<K>[];
}

export interface SortKeys {
  readonly written: InstantKey;
  readonly clinical: string;
  /** The clinical date as an instant, when it is one (more than a day's 10 characters). */
  readonly clinicalInstant: InstantKey | null;
}

const keys = new WeakMap<StoredRecord, SortKeys>();

export const sortKeysOf = (stored: StoredRecord): SortKeys => {
  const held = keys.get(stored);
  if (held !== undefined) return held;
  const clinical = clinicalDateOf(stored.kind, stored.record, stored.record.updatedAt);
  const made: SortKeys = {
    written: writtenKeyOf(stored) ?? instantKeyOf(stored.record.updatedAt),
    clinical,
    clinicalInstant: clinical.length > 10 ? instantKeyOf(clinical) : null,
  };
  keys.set(stored, made);
  return made;
};

const byId = (a: StoredRecord, b: StoredRecord): number =>
  a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0;

/** `compareClinicalDates` (record-query.ts) over keys read once. */
export const compareClinicalKeys = (a: SortKeys, b: SortKeys): number => {
  if (a.clinicalInstant !== null && b.clinicalInstant !== null) {
    return compareInstantKeys(a.clinicalInstant, b.clinicalInstant);
  }
  const [x, y] = [a.clinical, b.clinical];
  const n = Math.min(x.length, y.length, 10);
  for (let i = 0; i < n; i += 1) {
    const d = x.charCodeAt(i) - y.charCodeAt(i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Earliest written first, then by id. */
export const byWritten = (a: StoredRecord, b: StoredRecord): number =>
  compareInstantKeys(sortKeysOf(a).written, sortKeysOf(b).written) || byId(a, b);

/** Earliest clinical date first, then by id. */
export const byClinical = (a: StoredRecord, b: StoredRecord): number =>
  compareClinicalKeys(sortKeysOf(a), sortKeysOf(b)) || byId(a, b);

const idOf = (s: StoredRecord): string => s.record.id;

/** A view following `source`: both orders kept as the list changes. */
export function followSorted<K extends RecordKind>(
  source: Observable<readonly StoredRecord<K>[]>,
): Observable<RecordView<K>> {
  return defer(() => {
    const written = createSortedList<StoredRecord<K>>(byWritten);
    let clinical: SortedList<StoredRecord<K>> | null = null;
    let latest: readonly StoredRecord<K>[] = [];
    return source.pipe(
      map((list): RecordView<K> => {
        latest = list;
        written.apply(list, idOf);
        clinical?.apply(list, idOf);
        return {
          written: written.items,
          clinical: () => {
            if (clinical === null) {
              clinical = createSortedList<StoredRecord<K>>(byClinical);
              clinical.apply(latest, idOf);
            }
            return clinical.items;
          },
        };
      }),
    );
  });
}

export function createRecordViews() {
  const views = new Map<string, Observable<RecordView>>();
  return {
    view<K extends RecordKind>(
      kind: K,
      patientId: string | undefined,
      source: Observable<readonly StoredRecord<K>[]>,
    ): Observable<RecordView<K>> {
      const key = `${kind}\u0000${patientId ?? ''}`;
      let view = views.get(key) as Observable<RecordView<K>> | undefined;
      if (view === undefined) {
        view = followSorted(source).pipe(
          share({
            connector: () => new ReplaySubject<RecordView<K>>(1),
            resetOnError: true,
            resetOnComplete: true,
            resetOnRefCountZero: true,
          }),
        );
        views.set(key, view);
      }
      return view;
    },
  };
}
