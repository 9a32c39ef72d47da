/**
 * Records as lists show them, read once per stored revision and shared by every list after.
 *
 * | call | answers |
 * |---|---|
 * | `listed(doc)` | the document's `StoredRecord` (deep-frozen) and the sort key of its `updatedAt`; null when emptied |
 * | `writtenKeyOf(stored)` | that sort key again, for a list ordering the record by time of writing |
 * | `newestWrittenFirst(docs)` | the listed records of `docs` (emptied ones left out), newest written first, then by id |
 * | `decodes()` | how many documents were read so far (a test counts what a list costs) |
 *
 * Invariants: the store hands one document object per revision (RxDB's document cache), so a revision is
 * read out of the store once (its top level copied, its content shared with the store, which never changes
 * a document in place), not at every emission of every list; what is answered is frozen, since
 * every list, page and search hit holding it shares the one copy. Kept in a WeakMap: a revision no list
 * holds any more is collected with its document.
 * Failure modes: none of its own; a caller writing into an answered record throws (frozen).
 */
import { compareInstantKeys, instantKeyOf, type InstantKey, type RecordKind } from '@hale/model';
import type { RxDocument } from 'rxdb';
import type { DeviceRecord } from '../store/device-db';
import { emptied } from './plain-record';
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

/** The written key of a listed record (the one read at listing), for lists ordering it again. */
const writtenKeys = new WeakMap<StoredRecord, InstantKey>();
export const writtenKeyOf = (stored: StoredRecord): InstantKey | undefined => writtenKeys.get(stored);

export const createListedRecords = () => {
  /** Per document: its listed record, or null when emptied (a purge in flight: not listed). */
  const cache = new WeakMap<RxDocument<DeviceRecord>, Listed | null>();
  let decodes = 0;
  const listed = <K extends RecordKind>(doc: RxDocument<DeviceRecord>): Listed<K> | null => {
    const held = cache.get(doc);
    if (held !== undefined) return held as Listed<K> | null;
    decodes += 1;
    // toJSON copies the top level only; the content is the store's own, which it never changes in place
    // (a write makes a new document): frozen here, it is shared rather than copied.
    const json = doc.toJSON() as DeviceRecord;
    let made: Listed<K> | null = null;
    if (!emptied(json)) {
      const stored = deepFreeze(toStored<K>({ ...json, _deleted: false }));
      const written = instantKeyOf(json.updatedAt);
      if (json.updatedAt === stored.record.updatedAt) writtenKeys.set(stored, written);
      made = { stored, written };
    }
    cache.set(doc, made);
    return made;
  };
  return {
    listed,
    newestWrittenFirst: <K extends RecordKind>(
      docs: readonly RxDocument<DeviceRecord>[],
    ): StoredRecord<K>[] => {
      const all: Listed<K>[] = [];
      for (const doc of docs) {
        const l = listed<K>(doc);
        if (l !== null) all.push(l);
      }
      return all.sort(newestListedFirst).map((l) => l.stored);
    },
    decodes: (): number => decodes,
  };
};

export type ListedRecords = ReturnType<typeof createListedRecords>;
