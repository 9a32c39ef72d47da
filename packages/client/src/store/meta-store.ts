/**
 * Where device metadata (session/device-meta.ts) lies: RxDB local documents of the device database, id
 * `meta-<key>`, their values sealed at rest (at-rest-encryption.ts), their ids in clear.
 *
 * Invariants:
 * - Once the database is closed (late async work of a closed session: an audit flush, a purge), a read
 *   answers nothing and a write, removal or listing does nothing.
 * - A key removed does not stay behind: RxDB removes a local document by writing it back marked
 *   `_deleted`, id in clear (its value emptied first, so not sealed again), and keeps it until cleaned up, which its cleanup plugin
 *   never does for local documents. `remove` therefore purges every local document removed so far
 *   (`cleanup(0)` of their storage instance). `list` names removed documents not purged yet (a remove cut
 *   short by a crash between the two steps), so that removing them again purges them. `list` reads ids
 *   only (at-rest-encryption.ts `queryIds`): it opens no value, so a damaged one does not fail it.
 * Not covered: the storage engine's own files may keep a deleted entry's bytes until the engine compacts
 * them (Chromium's IndexedDB, LevelDB: a deleted entry's key was still readable in the origin's `.log`
 * file after the delete and a reopen); nothing here can make it compact.
 * Failure modes: the storage's errors reject as they come; a purge that fails leaves the removed
 * documents marked `_deleted`, listed again.
 */
import { prepareQuery } from 'rxdb';
import { getLocalDocStateByParent } from 'rxdb/plugins/local-documents';
import { queryIds } from './at-rest-encryption';
import type { DeviceDb } from './device-db';

const ID_PREFIX = 'meta-';
/** Local documents listed per query. */
const PAGE = 500;

/** The storage instance of the database's local documents (RxDB's, behind the at-rest wrapper). */
const localDocuments = async (db: DeviceDb) => {
  // The same database, as its collection types it: RxDB's parameter wants collections with an index
  // signature, which the interface `DeviceDbCollections` does not declare.
  return (await getLocalDocStateByParent(db.records.database)).storageInstance;
};

export const deviceMetaStore = (db: DeviceDb) => ({
  async read(key: string): Promise<unknown> {
    if (db.closed) return undefined;
    const doc = await db.getLocal<{ value: unknown }>(`${ID_PREFIX}${key}`);
    return doc ? (doc.toJSON().data as { value?: unknown }).value : undefined;
  },
  async write(key: string, value: unknown): Promise<void> {
    if (db.closed) return;
    await db.upsertLocal(`${ID_PREFIX}${key}`, { value });
  },
  async remove(keys: readonly string[]): Promise<void> {
    if (db.closed) return;
    for (const key of keys) {
      const doc = await db.getLocal<{ value: unknown }>(`${ID_PREFIX}${key}`);
      if (!doc) continue;
      // RxDB removes a local document by writing it back whole: emptied first, its value is not sealed again.
      const emptied = await db.upsertLocal<{ value: unknown }>(`${ID_PREFIX}${key}`, { value: null });
      await emptied.remove();
    }
    if (db.closed) return;
    // Every local document removed before now, these and any a purge cut short left.
    await (await localDocuments(db)).cleanup(0);
  },
  async list(prefix: string): Promise<string[]> {
    if (db.closed) return [];
    const storageInstance = await localDocuments(db);
    const from = `${ID_PREFIX}${prefix}`;
    // Ids are ASCII: every id starting with `from` sorts below this.
    const to = `${from}\uffff`;
    const out: string[] = [];
    for (;;) {
      const after = out.length === 0 ? null : `${ID_PREFIX}${out.at(-1)!}`;
      const query = prepareQuery(storageInstance.schema, {
        // Removed documents too: their ids are on disk until purged.
        selector: { id: after === null ? { $gte: from, $lt: to } : { $gt: after, $lt: to } },
        sort: [{ id: 'asc' }],
        skip: 0,
        limit: PAGE,
      });
      // Ids only: a listing opens no value, so one that no longer opens (damaged) does not fail it.
      const ids = await queryIds(storageInstance, query);
      for (const id of ids) out.push(id.slice(ID_PREFIX.length));
      if (ids.length < PAGE) return out;
    }
  },
});
