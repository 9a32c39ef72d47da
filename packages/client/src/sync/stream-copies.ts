/**
 * One stream's local documents read from the device store through its `[_deleted, stream, updatedAt]`
 * index: the store reads that stream's documents only, whatever else it holds.
 *
 * | call | answers |
 * |---|---|
 * | `streamCopies(storage, stream)` | every document of `stream`, deletions included, by id |
 * | `streamCopies(storage, stream, { deleted: true })` | its deletions only |
 * | `clearWritesSince(storage, from, options?)` | the writes after `from`, a page at a time, as clear fields (no record opened), each page with its checkpoint |
 * | `writesSince(storage, from, between?)` | the newest write stamp per stream after `from` (head-verified.ts), read as `clearWritesSince` reads |
 *
 * Invariants: a selector goes to the storage normalized (`{ $eq }` on `_deleted` and `stream`), the form
 * RxDB's query planner matches against an index; a plain value there makes it scan every document of the
 * store (its `_meta.lwt` index) and filter, so a device following many streams read the whole store once
 * per stream. Documents come back as the storage holds them (opened at rest), sorted by id.
 * Failure modes: the storage's own (a closed database, an at-rest key that does not open a document).
 */
import { prepareQuery, type RxStorageInstance, type RxDocumentData } from 'rxdb';
import type { DeviceRecord } from '../store/device-db';
import { queryClear } from '../store/at-rest-encryption';
import { changedSince } from '../store/changed-since';

type RecordsStorage = Pick<RxStorageInstance<DeviceRecord, unknown, unknown>, 'schema' | 'query'>;
const WRITES_PAGE = 200;

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

type Checkpoint = { lwt: number; id: string };

/**
 * The store's writes after `from` (null: all) in RxDB's write order (`_meta.lwt`, then id; its index), a
 * page at a time, as their clear fields only (at-rest-encryption.ts `queryClear`: no record opened), each
 * page with the checkpoint of its last document. `between` (background work yielding) is awaited before
 * each page after the first.
 */
export async function* clearWritesSince(
  storage: RxStorageInstance<DeviceRecord, unknown, unknown, Checkpoint>,
  from: Checkpoint | null,
  options: { readonly pageSize?: number; readonly between?: () => Promise<void> } = {},
): AsyncGenerator<{ documents: RxDocumentData<DeviceRecord>[]; end: Checkpoint }> {
  const size = options.pageSize ?? WRITES_PAGE;
  let at = from;
  for (let n = 0; ; n++) {
    if (n > 0) await options.between?.();
    const page = await changedSince(
      {
        schema: storage.schema,
        query: async (prepared) => ({
          documents: (await queryClear(storage, prepared)) as RxDocumentData<DeviceRecord>[],
        }),
      },
      size,
      at ?? undefined,
    );
    if (page.documents.length === 0) return;
    at = { lwt: page.checkpoint.lwt, id: page.checkpoint.id };
    yield { documents: page.documents, end: at };
    if (page.documents.length < size) return;
  }
}

/**
 * The store's writes after `from` (null: all): the newest stamp per stream and the last document read
 * (null: none), read as `clearWritesSince` reads them.
 */
export const writesSince = async (
  storage: RxStorageInstance<DeviceRecord, unknown, unknown, Checkpoint>,
  from: Checkpoint | null,
  between?: () => Promise<void>,
): Promise<{ last: Map<string, number>; end: Checkpoint | null }> => {
  const last = new Map<string, number>();
  let end = from;
  for await (const page of clearWritesSince(storage, from, between === undefined ? {} : { between })) {
    for (const d of page.documents) last.set(d.stream, Math.max(last.get(d.stream) ?? 0, d._meta.lwt));
    end = page.end;
  }
  return { last, end };
};
