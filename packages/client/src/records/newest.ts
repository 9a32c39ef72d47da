/**
 * `records.newest(kind, { limit })`: a chart's newest records of a kind by clinical date, live, read through
 * a digest (newest-digest.ts) kept in device meta (`newest-<kind>`, per patient inside the sealed value), so
 * an unlock opens about `limit` records instead of every record of the kind.
 *
 * | step | what |
 * |---|---|
 * | load | the digest and its write stamp W; none, unreadable, or W later than now (clock set back): a full read |
 * | scan | the store's writes since W − `MARK_MARGIN_MS` (RxDB's `_meta.lwt` index), each applied by its current state; saved with the new W |
 * | read | the first `limit` entries by id, each checked against its entry (gone, or another date: applied, read again) |
 * | live | the collection's change events of the kind and chart, applied in memory in order, then read again |
 * | full read | every record of the kind and chart opened, the digest rebuilt (newest `max(200, limit)`), W = the time before the read, or a later stamp seen |
 | cut | to `max(200, limit)` entries and ties, never below what the saved digest held (up to 2,000) |
 *
 * Invariants:
 * - An answer is the newest `limit` live records by the full sort (`byClinical` reversed), as the store held
 *   them when read; `complete` says no other record of the kind and chart exists.
 * - Every write is stamped before it commits (one stamp per batch): a write committed after a scan or a
 *   full read is stamped later than W − the margin, or its change event is applied here.
 * - Fewer entries than `limit` while older records exist (deletions in range): a full read, never a short list.
 * Failure modes: the store's errors and AccountError LOCKED (a read after a lock) end the observable with
 * that error; a scan of more than `SCAN_LIMIT` writes (a long catch-up) gives way to a full read; a failed
 * save is dropped (the next unlock scans from the older W).
 */
import { getChangedDocumentsSince, type RxStorageInstance } from 'rxdb';
import { Observable } from 'rxjs';
import type { RecordKind } from '@hale/model';
import type { DeviceRecord, RecordsCollection } from '../store/device-db';
import type { DeviceMeta } from '../session/device-meta';
import { MARK_MARGIN_MS } from '../sync/head-verified';
import { clinicalDateOf } from '../hale/clinical-date';
import type { ListedRecords } from './listed-records';
import type { StoredRecord } from './record-types';
import {
  NEWEST_DIGEST_SCHEMA,
  applyWrite,
  cutDigest,
  digestOfAll,
  fromStoredDigest,
  toStoredDigest,
  type Digest,
  type DigestDoc,
  type DigestEntry,
} from './newest-digest';

/** Entries kept in a saved digest, at least (more when asked for more, and ties on its earliest date). */
export const NEWEST_CAP = 200;
/** Writes a scan reads before giving way to a full read. */
export const SCAN_LIMIT = 5000;
/** Entries a scan keeps at most when the saved digest held more than asked for. */
const MAX_KEPT = 2000;
const PAGE = 500;
const ROUNDS = 8;

export interface NewestPage<K extends RecordKind> {
  /** Newest first by clinical date (then id, reversed), at most `limit`. */
  readonly items: readonly StoredRecord<K>[];
  /** True when no other record of the kind and chart exists. */
  readonly complete: boolean;
  /** Only before the store first answered. */
  readonly loading?: true;
}

export interface NewestDeps {
  readonly collection: RecordsCollection;
  readonly meta?: Pick<DeviceMeta, 'get' | 'update'>;
  readonly lists: ListedRecords;
  /** The clock RxDB stamps writes with. */
  readonly now: () => number;
  readonly unlocked: () => void;
}

type Stamped = DigestDoc & { readonly _meta: { readonly lwt: number } };

const dateOf = (kind: string, doc: DigestDoc): string => {
  const inner = doc.data['updatedAt'];
  return clinicalDateOf(kind, doc.data, typeof inner === 'string' ? inner : doc.updatedAt);
};

export const createNewest = (deps: NewestDeps) => {
  const keyOf = (kind: string): string => `newest-${kind}`;
  const storage = deps.collection.storageInstance as unknown as RxStorageInstance<
    DeviceRecord,
    unknown,
    unknown,
    { lwt: number; id: string }
  >;

  const save = async (kind: string, patientId: string, digest: Digest, lwt: number): Promise<void> => {
    if (deps.meta === undefined || digest.entries.length > 5000) return;
    const stored = toStoredDigest(digest, lwt);
    await deps.meta
      .update(keyOf(kind), NEWEST_DIGEST_SCHEMA, (current) => ({ ...(current ?? {}), [patientId]: stored }))
      .catch(() => undefined);
  };

  /** The saved digest brought up to the store's writes, or null (none, unreadable, clock set back, long scan). */
  const loadAndScan = async (kind: string, patientId: string, cap: number): Promise<Digest | null> => {
    if (deps.meta === undefined) return null;
    const all = await deps.meta.get(keyOf(kind), NEWEST_DIGEST_SCHEMA).catch(() => null);
    const stored = all?.[patientId];
    if (stored === undefined || stored.lwt > deps.now()) return null;
    let digest = fromStoredDigest(stored);
    let at = { lwt: stored.lwt - MARK_MARGIN_MS, id: '' };
    let lwt = stored.lwt;
    for (let seen = 0; ;) {
      const page = await getChangedDocumentsSince<DeviceRecord, { lwt: number; id: string }>(
        storage,
        PAGE,
        at,
      );
      for (const d of page.documents as unknown as Stamped[]) {
        lwt = Math.max(lwt, d._meta.lwt);
        digest = applyWrite(digest, d, kind, patientId);
      }
      seen += page.documents.length;
      if (page.documents.length < PAGE) break;
      if (seen >= SCAN_LIMIT) return null;
      at = { lwt: page.checkpoint.lwt, id: page.checkpoint.id };
    }
    // Not below what was kept: a view asking for fewer must not undo one asking for more.
    digest = cutDigest(digest, Math.max(cap, Math.min(stored.entries.length, MAX_KEPT)));
    await save(kind, patientId, digest, lwt);
    return digest;
  };

  /** Every record of the kind and chart opened: the digest rebuilt and saved. */
  const fullRead = async (kind: string, patientId: string, cap: number): Promise<Digest> => {
    // Taken before the read: a write not in it is stamped after this, less the time it took to commit.
    let lwt = deps.now();
    const docs = await deps.collection.find({ selector: { kind, patientId } }).exec();
    const entries: DigestEntry[] = [];
    for (const doc of docs) {
      lwt = Math.max(lwt, doc.toJSON(true)._meta.lwt);
      const listed = deps.lists.listed(doc);
      if (listed === null) continue;
      const { record } = listed.stored;
      entries.push({ id: doc.id, date: clinicalDateOf(kind, record, record.updatedAt) });
    }
    const digest = digestOfAll(entries, cap);
    await save(kind, patientId, digest, lwt);
    return digest;
  };

  const observe = <K extends RecordKind>(
    kind: K,
    patientId: string,
    limit: number,
  ): Observable<NewestPage<K>> =>
    new Observable<NewestPage<K>>((subscriber) => {
      const cap = Math.max(NEWEST_CAP, limit);
      let digest: Digest | null = null;
      const pending: DigestDoc[] = [];
      let stopped = false;
      let chain = Promise.resolve();

      const drain = (): void => {
        for (const doc of pending.splice(0)) digest = applyWrite(digest!, doc, kind, patientId);
      };

      const answer = async (): Promise<void> => {
        if (stopped) return;
        deps.unlocked();
        if (digest === null)
          digest = (await loadAndScan(kind, patientId, cap)) ?? (await fullRead(kind, patientId, cap));
        for (let round = 0; ; round += 1) {
          drain();
          if (round === ROUNDS || (digest.min !== null && digest.entries.length < limit)) {
            digest = await fullRead(kind, patientId, cap);
            drain();
          }
          const want = digest.entries.slice(0, limit);
          const docs = await deps.collection.findByIds(want.map((e) => e.id)).exec();
          if (stopped) return;
          deps.unlocked();
          const items: StoredRecord<K>[] = [];
          let stale = false;
          for (const entry of want) {
            const doc = docs.get(entry.id);
            const listed = doc === undefined ? null : deps.lists.listed<K>(doc);
            if (doc === undefined || listed === null) {
              // Gone (deleted, emptied) since the entry was made: dropped, the walk goes on.
              digest = applyWrite(digest, entryGone(entry, kind, patientId), kind, patientId);
              stale = true;
              continue;
            }
            const now: DigestDoc = { ...doc.toJSON(), _deleted: false };
            if (dateOf(kind, now) !== entry.date) {
              digest = applyWrite(digest, now, kind, patientId);
              stale = true;
            } else items.push(listed.stored);
          }
          if (stale && round < ROUNDS) continue;
          subscriber.next({ items, complete: digest.min === null && digest.entries.length <= limit });
          return;
        }
      };

      const schedule = (): void => {
        chain = chain.then(answer).catch((e: unknown) => {
          stopped = true;
          subscriber.error(e);
        });
      };

      const events = deps.collection.$.subscribe((event) => {
        const doc = event.documentData as unknown as DigestDoc;
        if (doc.kind !== kind || doc.patientId !== patientId) return;
        pending.push(doc);
        if (digest !== null) schedule();
      });
      schedule();
      return () => {
        stopped = true;
        events.unsubscribe();
      };
    });

  return { observe };
};

const entryGone = (entry: DigestEntry, kind: string, patientId: string): DigestDoc => ({
  id: entry.id,
  kind,
  patientId,
  updatedAt: '',
  _deleted: true,
  data: {},
});
