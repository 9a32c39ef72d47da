/**
 * The write clock of a device store's records: `settled()` is a write stamp (RxDB's `_meta.lwt` scale)
 * below which every write of the store has committed and emitted its change events.
 *
 * | part | what |
 * |---|---|
 * | `createWriteClock(now)` | `settled()` = the least of `now()` and the stamp of every write in flight |
 * | `trackWrites(storage, clock, collection)` | the outermost storage layer RxDB is given: each `bulkWrite` of `collection` is in flight from its call until it settles |
 *
 * Invariants:
 * - RxDB stamps a write (`now()`, never below `Date.now()`) and calls the storage synchronously (its idle
 *   queue runs the call at once): a write is in flight here from before anything can read `settled()`.
 * - Change events leave the storage before its write resolves (at-rest-encryption.ts opens them
 *   synchronously), so a listener of the collection has every event of a write stamped below `settled()`.
 * - A write stamped after a call of `settled()` is stamped above it (RxDB's stamps rise, `now()` ≤ the stamp).
 * - A write that fails with errors stays in flight one task longer: RxDB may write those rows again
 *   (a deleted document inserted anew) with the same stamp after its own `await`.
 * Failure modes: none of its own; a write's error passes through unchanged. A clock set back gives an
 * earlier `settled()` (more read again, never less).
 */
import type { BulkWriteRow, RxStorage, RxStorageInstance, RxStorageInstanceCreationParams } from 'rxdb';

export interface WriteClock {
  /** Every write stamped below this has committed and emitted its change events. */
  readonly settled: () => number;
}

interface TrackedClock extends WriteClock {
  /** A write stamped `stamp` begins; call the answer once it has settled. */
  readonly begin: (stamp: number) => () => void;
}

export const createWriteClock = (now: () => number = Date.now): TrackedClock => {
  const inFlight = new Map<object, number>();
  return {
    settled: () => {
      let at = now();
      for (const stamp of inFlight.values()) if (stamp < at) at = stamp;
      return at;
    },
    begin: (stamp) => {
      const token = {};
      inFlight.set(token, stamp);
      return () => void inFlight.delete(token);
    },
  };
};

const stampOf = <T>(rows: readonly BulkWriteRow<T>[]): number => {
  let stamp = Infinity;
  for (const row of rows) {
    const lwt = (row.document as { _meta?: { lwt?: unknown } })._meta?.lwt;
    // Not stamped (not RxDB's call): held as the oldest write there can be.
    stamp = Math.min(stamp, typeof lwt === 'number' && Number.isFinite(lwt) ? lwt : 0);
  }
  return stamp;
};

export const trackWrites = <Internals, Options>(
  storage: RxStorage<Internals, Options>,
  clock: TrackedClock,
  collection: string,
): RxStorage<Internals, Options> => ({
  name: storage.name,
  rxdbVersion: storage.rxdbVersion,
  async createStorageInstance<RxDocType>(
    params: RxStorageInstanceCreationParams<RxDocType, Options>,
  ): Promise<RxStorageInstance<RxDocType, Internals, Options>> {
    const instance = await storage.createStorageInstance<RxDocType>(params);
    if (params.collectionName !== collection) return instance;
    const write = instance.bulkWrite.bind(instance);
    instance.bulkWrite = (rows, context) => {
      if (rows.length === 0) return write(rows, context);
      const end = clock.begin(stampOf(rows));
      return write(rows, context).then(
        (result) => {
          if (result.error.length === 0) end();
          else setTimeout(end, 0);
          return result;
        },
        (error: unknown) => {
          end();
          throw error;
        },
      );
    };
    return instance;
  },
});
