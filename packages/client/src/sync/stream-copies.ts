/**
 * One stream's local documents read from the device store through its `[_deleted, stream, updatedAt]`
 * index: the store reads that stream's documents only, whatever else it holds.
 *
 * | call | answers |
 * |---|---|
 * | `streamCopies(storage, stream)` | every document of `stream`, deletions included, by id |
 * | `streamCopies(storage, stream, { deleted: true })` | its deletions only |
 *
 * Invariants: a selector goes to the storage normalized (`{ $eq }` on `_deleted` and `stream`), the form
 * RxDB's query planner matches against an index; a plain value there makes it scan every document of the
 * store (its `_meta.lwt` index) and filter, so a device following many streams read the whole store once
 * per stream. Documents come back as the storage holds them (opened at rest), sorted by id.
 * Failure modes: the storage's own (a closed database, an at-rest key that does not open a document).
 */
import { prepareQuery, type RxStorageInstance, type RxDocumentData } from 'rxdb';
import type { DeviceRecord } from '../store/device-db';

type RecordsStorage = Pick<RxStorageInstance<DeviceRecord, unknown, unknown>, 'schema' | 'query'>;

const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const ofState = async (
  storage: RecordsStorage,
  stream: string,
  deleted: boolean,
): Promise<RxDocumentData<DeviceRecord>[]> => {
  const query = prepareQuery<DeviceRecord>(storage.schema, {
    selector: { _deleted: { $eq: deleted }, stream: { $eq: stream } },
    sort: [{ id: 'asc' }],
    skip: 0,
  });
  return (await storage.query(query)).documents;
};

/** The local documents of `stream` (with `deleted: true`, its deletions only), sorted by id. */
export const streamCopies = async (
  storage: RecordsStorage,
  stream: string,
  options: { readonly deleted?: true } = {},
): Promise<RxDocumentData<DeviceRecord>[]> => {
  if (options.deleted === true) return ofState(storage, stream, true);
  const [live, gone] = await Promise.all([ofState(storage, stream, false), ofState(storage, stream, true)]);
  return [...live, ...gone].sort(byId);
};
