/**
 * Seal once, the rare path's end (docs/architecture.md "Seal once"): a version stored sealed under an epoch
 * whose stream was re-keyed before its push went out sealed again under the new epoch; once the server
 * stored it, the local row is written again, unchanged, so that the at-rest wrapper stores it anew instead
 * of under the old epoch's stream key (which an ended grantee holds).
 *
 * | stored after | under | readable offline after a restart |
 * | --- | --- | --- |
 * | write | the write epoch's key, held at start (own epoch 0, a kept key) | yes |
 * | a re-sealed push stored | the new epoch's key once kept (sealed once anew), else the at-rest key | yes |
 *
 * Invariants
 * - Only a row whose state is still the one pushed (same rv and content: the conflict handler's
 *   `isEqual`) is written; a row changed since was written anew by that change (under the write epoch).
 * - The write is a new revision of the same content: RxDB's upstream finds it equal to the state the
 *   server holds and sends nothing; no audit note (notes are made by the records API, not by writes).
 * Failure modes: a write that fails (closed database, a conflict with a write made meanwhile) leaves the
 * row as it was, until its next write; the push it follows is not failed by it.
 */
import { createRevision, type WithDeleted } from 'rxdb';
import type { PlainRecord } from '../../records/plain-record';
import type { RecordsCollection } from '../../store/device-db';
import { plainOf } from '../unsent';

export const storeResealedAtRest = async (
  collection: RecordsCollection,
  pushed: ReadonlyArray<WithDeleted<PlainRecord>>,
  now: () => number,
): Promise<void> => {
  if (pushed.length === 0 || collection.closed) return;
  const storage = collection.storageInstance;
  const isEqual = collection.conflictHandler.isEqual;
  const byId = new Map(pushed.map((r) => [r.id, r]));
  const held = await storage.findDocumentsById([...byId.keys()], true);
  const writes = [];
  for (const previous of held) {
    const state = byId.get(previous.id);
    if (state === undefined || !isEqual(plainOf(previous), state, 'hale-reseal-at-rest')) continue;
    writes.push({
      previous,
      document: {
        ...previous,
        _meta: { ...previous._meta, lwt: Math.max(now(), previous._meta.lwt + 1) },
        _rev: createRevision(collection.database.token, previous),
      },
    });
  }
  if (writes.length > 0) await storage.bulkWrite(writes, 'hale-reseal-at-rest');
};
