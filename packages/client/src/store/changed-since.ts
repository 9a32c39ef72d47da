/**
 * `getChangedDocumentsSince` for storages that have none (Dexie): the writes after a checkpoint read as
 * two ranges of the `[_meta.lwt, primary]` index, so a call reads only the documents it answers.
 *
 * Why: without it RxDB answers the call with one query whose index range starts at the checkpoint's
 * stamp, not at its document, and filters in memory. One bulk write stamps all its documents with one
 * `_meta.lwt`, so every call re-read the whole last write before the checkpoint (a first sync's pages:
 * thousands of documents) to answer nothing. RxDB's upstream makes that call at every start and every
 * RESYNC, and holds every incoming change until it is done (replication-protocol/upstream.ts, downstream.ts).
 *
 * Invariants:
 * - Answers what RxDB's own `getChangedDocumentsSince` answers: documents ordered by (`_meta.lwt`,
 *   primary key) strictly after the checkpoint, deletions included, at most `limit`; the checkpoint of the
 *   last one, else the one given, else `{ id: '', lwt: 0 }`.
 * - A storage that has its own is left as it is (RxDB 17.6's Dexie and memory storages have none);
 *   documents come back as the storage holds them (a wrapper above, e.g. at-rest encryption, opens them).
 * Failure modes: the storage's own (closed instance).
 */
import {
  getPrimaryFieldOfPrimaryKey,
  prepareQuery,
  type MangoQuerySelector,
  type RxDocumentData,
  type RxStorage,
  type RxStorageDefaultCheckpoint,
  type RxStorageInstance,
  type RxStorageInstanceCreationParams,
} from 'rxdb';

/** RxDB's lowest `_meta.lwt` (RX_META_LWT_MINIMUM): a call without a checkpoint starts below it. */
const LWT_MINIMUM = 1;

/** The changed documents of `instance` after `checkpoint` (see the header). */
export const changedSince = async <RxDocType>(
  instance: Pick<RxStorageInstance<RxDocType, unknown, unknown>, 'schema' | 'query'>,
  limit: number,
  checkpoint?: RxStorageDefaultCheckpoint,
): Promise<{ documents: RxDocumentData<RxDocType>[]; checkpoint: RxStorageDefaultCheckpoint }> => {
  const primary = getPrimaryFieldOfPrimaryKey(instance.schema.primaryKey) as string;
  const lwt = checkpoint?.lwt ?? LWT_MINIMUM - 1;
  const read = async (selector: Record<string, unknown>, max: number) =>
    (
      await instance.query(
        prepareQuery<RxDocType>(instance.schema, {
          selector: selector as MangoQuerySelector<RxDocumentData<RxDocType>>,
          sort: [{ '_meta.lwt': 'asc' }, { [primary]: 'asc' }] as never,
          skip: 0,
          limit: max,
        }),
      )
    ).documents;
  // The rest of the checkpoint's own write (same stamp, later key), then the writes after it.
  const documents =
    checkpoint === undefined
      ? []
      : await read({ '_meta.lwt': { $eq: lwt }, [primary]: { $gt: checkpoint.id } }, limit);
  if (documents.length < limit)
    documents.push(...(await read({ '_meta.lwt': { $gt: lwt } }, limit - documents.length)));
  const last = documents.at(-1);
  return {
    documents,
    checkpoint:
      last === undefined
        ? (checkpoint ?? { id: '', lwt: 0 })
        : { id: String((last as Record<string, unknown>)[primary]), lwt: last._meta.lwt },
  };
};

/** `storage` whose instances answer `getChangedDocumentsSince` by index ranges where they had none. */
export const withChangedSince = <Internals, InstanceCreationOptions>(
  storage: RxStorage<Internals, InstanceCreationOptions>,
): RxStorage<Internals, InstanceCreationOptions> => ({
  // Spread keeps storage-specific settings (Dexie's) visible to RxDB, as the at-rest wrapper does.
  ...storage,
  name: storage.name,
  rxdbVersion: storage.rxdbVersion,
  async createStorageInstance<RxDocType>(
    params: RxStorageInstanceCreationParams<RxDocType, InstanceCreationOptions>,
  ): Promise<RxStorageInstance<RxDocType, Internals, InstanceCreationOptions>> {
    const instance = await storage.createStorageInstance(params);
    if (typeof instance.getChangedDocumentsSince !== 'function')
      instance.getChangedDocumentsSince = (limit: number, checkpoint?: RxStorageDefaultCheckpoint) =>
        changedSince(instance, limit, checkpoint);
    return instance;
  },
});
