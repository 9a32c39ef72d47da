/**
 * Records as lists show them, read once per stored revision and shared by every list after.
 *
 * | call | answers |
 * |---|---|
 * | `listed(doc)` | the document's `StoredRecord` (deep-frozen) and the sort key of its `updatedAt` |
 * | `newestWrittenFirst(docs)` | the listed records of `docs` (emptied ones left out), newest written first, then by id |
 * | `decodes()` | how many documents were read so far (a test counts what a list costs) |
 *
 * Invariants: the store hands one document object per revision (RxDB's document cache), so a revision is
 * copied out of the store once, not at every emission of every list; what is answered is frozen, since
 * every list, page and search hit holding it shares the one copy. Kept in a WeakMap: a revision no list
 * holds any more is collected with its document.
 * Failure modes: none of its own; a caller writing into an answered record throws (frozen).
 */
import { compareInstantKeys, instantKeyOf, type InstantKey, type RecordKind } from '@hale/model';
import type { RxDocument } from 'rxdb';
import type { DeviceRecord } from '../store/device-db';
import { emptied } from '../sync/record-codec';
import { toStored, type StoredRecord } from './record-types';

export interface Listed<K extends RecordKind = RecordKind> {
  readonly stored: StoredRecord<K>;
  readonly written: InstantKey;
}

/** Freezes `value` and everything it holds (plain JSON: objects and arrays). */
export const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
};

const byId = (a: Listed, b: Listed): number =>
  a.stored.record.id < b.stored.record.id ? -1 : a.stored.record.id > b.stored.record.id ? 1 : 0;

/** Newest written first (the instant of `updatedAt`), then by id as the store orders equal keys. */
export const newestListedFirst = (a: Listed, b: Listed): number =>
  compareInstantKeys(b.written, a.written) || byId(a, b);

export const createListedRecords = () => {
  const cache = new WeakMap<RxDocument<DeviceRecord>, Listed>();
  let decodes = 0;
  const listed = <K extends RecordKind>(doc: RxDocument<DeviceRecord>): Listed<K> => {
    const held = cache.get(doc);
    if (held !== undefined) return held as Listed<K>;
    decodes += 1;
    const stored = deepFreeze(toStored<K>({ ...doc.toMutableJSON(), _deleted: false }));
    const made: Listed<K> = { stored, written: instantKeyOf(doc.updatedAt) };
    cache.set(doc, made);
    return made;
  };
  return {
    listed,
    newestWrittenFirst: <K extends RecordKind>(
      docs: readonly RxDocument<DeviceRecord>[],
    ): StoredRecord<K>[] =>
      docs
        .filter((d) => !emptied(d))
        .map((d) => listed<K>(d))
        .sort(newestListedFirst)
        .map((l) => l.stored),
    decodes: (): number => decodes,
  };
};

export type ListedRecords = ReturnType<typeof createListedRecords>;
