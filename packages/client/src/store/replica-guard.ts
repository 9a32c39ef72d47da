/**
 * The last word on what RxDB's replication writes from the server into the device's records: a served
 * version RxDB would store over the local copy is checked against that copy at the moment of the write.
 *
 * | part | what |
 * |---|---|
 * | `guardReplicaWrites(storage, guard, collection)` | a storage layer: RxDB's downstream writes of `collection` pass `guard.refuses` |
 * | `createReplicaGuard()` | the slot the sync engine fills (`set`) while it runs; empty, nothing is refused |
 *
 * Invariants:
 * - Only RxDB's downstream writes (context `replication-downstream-…`) are judged, and only rows over a
 *   held document (`previous`); every other write passes unchanged.
 * - A refused row is answered as a write conflict (409, the held document as `documentInDb`), which RxDB's
 *   downstream leaves alone: the local copy and RxDB's record of the server's state stay as they were.
 * - The judgement is made when the write happens, not when the version arrived: between the two, a local
 *   edit can be pushed and acknowledged, and only now is it known that the served version is older.
 */
import type {
  BulkWriteRow,
  RxDocumentData,
  RxStorage,
  RxStorageBulkWriteResponse,
  RxStorageInstance,
  RxStorageInstanceCreationParams,
  RxStorageWriteError,
} from 'rxdb';

/** Whether a served version (`served`) must not replace the held local copy (`held`). */
export type RefuseReplicaWrite<T> = (held: RxDocumentData<T>, served: RxDocumentData<T>) => boolean;

export interface ReplicaGuard<T> {
  /** The engine's judgement while it runs; null: nothing refused. */
  set(refuses: RefuseReplicaWrite<T> | null): void;
  readonly refuses: RefuseReplicaWrite<T> | null;
}

export const createReplicaGuard = <T>(): ReplicaGuard<T> => {
  let current: RefuseReplicaWrite<T> | null = null;
  return {
    set: (refuses) => void (current = refuses),
    get refuses() {
      return current;
    },
  };
};

const DOWNSTREAM = 'replication-downstream-';

export const guardReplicaWrites = <Internals, Options, T>(
  storage: RxStorage<Internals, Options>,
  guard: ReplicaGuard<T>,
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
    const primary = params.schema.primaryKey as keyof RxDocType;
    instance.bulkWrite = async (rows, context) => {
      const refuses = guard.refuses as RefuseReplicaWrite<RxDocType> | null;
      if (refuses === null || !context.startsWith(DOWNSTREAM)) return write(rows, context);
      const kept: BulkWriteRow<RxDocType>[] = [];
      const refused: RxStorageWriteError<RxDocType>[] = [];
      for (const row of rows) {
        if (row.previous !== undefined && refuses(row.previous, row.document)) {
          refused.push({
            status: 409,
            isError: true,
            documentId: String(row.document[primary]),
            writeRow: row,
            documentInDb: row.previous,
            context,
          });
        } else kept.push(row);
      }
      if (refused.length === 0) return write(rows, context);
      const result: RxStorageBulkWriteResponse<RxDocType> =
        kept.length === 0 ? { error: [] } : await write(kept, context);
      return { error: [...result.error, ...refused] };
    };
    return instance;
  },
});
