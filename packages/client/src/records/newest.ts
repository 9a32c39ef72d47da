/**
 * `records.newest(kind, { limit, series })`: a chart's newest records of a kind by clinical date, and the
 * newest of each of its first `series` series (a lab result's test), live, read through a digest
 * (newest-digest.ts) kept in device meta (`newest-<kind>`, per patient inside the sealed value), so an unlock
 * opens about `limit` + `series` records instead of every record of the kind.
 *
 * | step | what |
 * |---|---|
 * | load | the digest and its write stamp W; none, unreadable, or W later than now (clock set back): a full read |
 * | scan | the kind's and chart's writes stamped W or later (RxDB's `_meta.lwt` index; other kinds' passed over unopened), each applied by its current state; saved with W = the write clock's `settled()` before the scan |
 * | read | the first `limit` entries and the series' newest (`firstOfSeries`) by id, each checked against its entry (gone, another date or series: applied, read again) |
 * | live | the collection's change events of the kind and chart, applied in memory in order, then read again |
 * | save while open | once events moved the digest: at most every `SAVE_EVERY_MS` (and when the view ends), cut, with W = `settled()` as every event received by then is applied |
 * | full read | every record of the kind and chart opened, the digest rebuilt (newest `max(200, limit)`, each series' newest below as heads), W = `settled()` before the read |
 * | cut | to `max(200, limit)` entries and ties, never below what the saved digest held (up to 2,000) |
 *
 * Invariants:
 * - An answer is the newest `limit` live records by the full sort (`byClinical` reversed), as the store held
 *   them when read; `complete` says no other record of the kind and chart exists; `series` is, walking the
 *   full sort reversed, the first record of each of the first `series` series met (fewer: all there are).
 * - W is the store's write clock (write-clock.ts): every write stamped below it had committed, so a scan or
 *   full read begun after it saw it, and had emitted its change event, which a view subscribed before it
 *   began has received. A digest saved with W misses only writes stamped W or later: the next scan reads
 *   them. (A device store has one writer, this session: store/device-lock.ts.)
 * - Fewer entries than `limit` while older records exist (deletions in range), or series the digest cannot
 *   tell (`firstOfSeries` null): a full read, never a short list.
 * Failure modes: the store's errors and AccountError LOCKED (a read after a lock) end the observable with
 * that error; a scan of more than `SCAN_LIMIT` writes of the kind (a long catch-up) gives way to a full read; a failed
 * save is dropped (the next unlock scans from the older W).
 */
import { prepareQuery, type RxStorageInstance } from 'rxdb';
import { Observable } from 'rxjs';
import type { RecordKind } from '@hale/model';
import type { DeviceRecord, RecordsCollection } from '../store/device-db';
import type { DeviceMeta } from '../store/device-meta';
import { writeClockOf } from '../store/device-db';
import { clinicalDateOf } from './clinical-date';
import type { ListedRecords } from './listed-records';
import type { StoredRecord } from './record-types';
import {
  NEWEST_DIGEST_SCHEMA,
  applyWrite,
  cutDigest,
  digestOfAll,
  firstOfSeries,
  fromStoredDigest,
  seriesOf,
  toStoredDigest,
  type Digest,
  type DigestDoc,
  type DigestEntry,
} from './newest-digest';

/** Entries kept in a saved digest, at least (more when asked for more, and ties on its earliest date). */
export const NEWEST_CAP = 200;
/** Writes of the kind and chart a scan opens before giving way to a full read. */
export const SCAN_LIMIT = 5000;
/** An open view saves the digest its change events moved at most this often. */
export const SAVE_EVERY_MS = 1000;
/** Entries a scan keeps at most when the saved digest held more than asked for. */
const MAX_KEPT = 2000;
const ROUNDS = 8;

/** Options of a newest-first listing. */
export interface NewestOptions {
  /** Records answered in `items`: 1 to 1,000 (default 20). */
  readonly limit?: number;
  /** Series answered in `series` (kinds with series: LabResult, by test): 0 to 100 (default 0). */
  readonly series?: number;
  /** The chart (default: this account's). */
  readonly patientId?: string;
}

/** A page of a newest-first listing. */
export interface NewestPage<K extends RecordKind> {
  /** Newest first by clinical date (then id, reversed), at most `limit`. */
  readonly items: readonly StoredRecord<K>[];
  /** True when no other record of the kind and chart exists. */
  readonly complete: boolean;
  /**
   * The newest record of each of the first `series` series by their newest record, newest first (a lab
   * result entered in error or cancelled is in none); fewer when the chart has fewer; empty unless asked.
   */
  readonly series: readonly StoredRecord<K>[];
  /** Only before the store first answered. */
  readonly loading?: true;
}

export interface NewestDeps {
  readonly collection: RecordsCollection;
  readonly meta?: Pick<DeviceMeta, 'get' | 'update'>;
  readonly lists: ListedRecords;
  /** The clock RxDB stamps writes with: a saved stamp later than it means the clock was set back. */
  readonly now: () => number;
  readonly unlocked: () => void;
  /** Waits `ms`, then runs `run` (default `setTimeout`); answers a cancel. */
  readonly later?: (run: () => void, ms: number) => () => void;
}

const dateOf = (kind: string, doc: DigestDoc): string => {
  const inner = doc.data['updatedAt'];
  return clinicalDateOf(kind, doc.data, typeof inner === 'string' ? inner : doc.updatedAt);
};

const setTimer = (run: () => void, ms: number): (() => void) => {
  const t = setTimeout(run, ms);
  return () => clearTimeout(t);
};

export const createNewest = (deps: NewestDeps) => {
  const keyOf = (kind: string): string => `newest-${kind}`;
  const { settled } = writeClockOf(deps.collection);
  const later = deps.later ?? setTimer;
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
    // The kind's and chart's writes since, in write order, read from the write stamps' index: other
    // kinds' writes (most of a first sync) are passed over in the index, never opened.
    const query = prepareQuery<DeviceRecord>(storage.schema, {
      selector: {
        kind: { $eq: kind },
        patientId: { $eq: patientId },
        '_meta.lwt': { $gte: stored.lwt },
      },
      sort: [{ '_meta.lwt': 'asc' } as never, { id: 'asc' }],
      index: ['_meta.lwt', 'id'] as never,
      skip: 0,
      limit: SCAN_LIMIT + 1,
    });
    // Taken before the scan (as a full read's): a write it does not see is stamped this or later.
    const lwt = settled();
    const { documents } = await storage.query(query);
    if (documents.length > SCAN_LIMIT) return null;
    for (const d of documents as unknown as DigestDoc[]) digest = applyWrite(digest, d, kind, patientId);
    // Not below what was kept: a view asking for fewer must not undo one asking for more.
    digest = cutDigest(digest, Math.max(cap, Math.min(stored.entries.length, MAX_KEPT)));
    await save(kind, patientId, digest, lwt);
    return digest;
  };

  /** Every record of the kind and chart opened: the digest rebuilt and saved. */
  const fullRead = async (kind: string, patientId: string, cap: number): Promise<Digest> => {
    // Taken before the read: a write not in it is stamped this or later.
    const lwt = settled();
    const docs = await deps.collection.find({ selector: { kind, patientId } }).exec();
    const entries: DigestEntry[] = [];
    for (const doc of docs) {
      const listed = deps.lists.listed(doc);
      if (listed === null) continue;
      const { record } = listed.stored;
      entries.push({
        id: doc.id,
        date: clinicalDateOf(kind, record, record.updatedAt),
        group: seriesOf(kind, record),
      });
    }
    const digest = digestOfAll(entries, cap);
    await save(kind, patientId, digest, lwt);
    return digest;
  };

  const observe = <K extends RecordKind>(
    kind: K,
    patientId: string,
    limit: number,
    series = 0,
  ): Observable<NewestPage<K>> =>
    new Observable<NewestPage<K>>((subscriber) => {
      const cap = Math.max(NEWEST_CAP, limit);
      let keep = cap;
      let digest: Digest | null = null;
      /** Events moved the digest since it was last saved. */
      let dirty = false;
      let timer: (() => void) | null = null;
      const pending: DigestDoc[] = [];
      let stopped = false;
      let queued = false;
      let chain = Promise.resolve();

      const drain = (): void => {
        for (const doc of pending.splice(0)) {
          const before = digest!;
          digest = applyWrite(before, doc, kind, patientId);
          if (digest !== before) dirty = true;
        }
      };

      /**
       * Saved as of `at` (default `settled()` now): every write stamped below it has had its event
       * received, and every event received is applied before saving.
       */
      const saveNow = async (at?: number): Promise<void> => {
        if (digest === null || !dirty) return;
        try {
          deps.unlocked();
        } catch {
          return; // Locked meanwhile: nothing is written; the next unlock scans from the older W.
        }
        const stamp = at ?? settled();
        drain();
        dirty = false;
        // Cut in memory too: the events of a long sync would grow it to every record.
        digest = cutDigest(digest, keep);
        await save(kind, patientId, digest, stamp);
      };

      const arm = (): void => {
        if (stopped || timer !== null) return;
        timer = later(() => {
          timer = null;
          chain = chain.then(() => saveNow()).catch(() => undefined);
        }, SAVE_EVERY_MS);
      };

      const loaded = (read: Digest): Digest => {
        dirty = false;
        return read;
      };

      const answer = async (): Promise<void> => {
        queued = false;
        if (stopped) return;
        deps.unlocked();
        if (digest === null) {
          const scanned = await loadAndScan(kind, patientId, cap);
          digest = loaded(scanned ?? (await fullRead(kind, patientId, cap)));
          keep = Math.max(cap, Math.min(digest.entries.length, MAX_KEPT));
        }
        for (let round = 0; ; round += 1) {
          drain();
          let heads = series > 0 ? firstOfSeries(digest, series) : [];
          if (round === ROUNDS || heads === null || (digest.min !== null && digest.entries.length < limit)) {
            digest = loaded(await fullRead(kind, patientId, cap));
            drain();
            heads = series > 0 ? (firstOfSeries(digest, series) ?? []) : [];
          }
          const first = digest.entries.slice(0, limit);
          const want = new Map<string, DigestEntry>();
          for (const e of [...first, ...heads]) want.set(e.id, e);
          const docs = await deps.collection.findByIds([...want.keys()]).exec();
          if (stopped) return;
          deps.unlocked();
          const found = new Map<string, StoredRecord<K>>();
          let stale = false;
          for (const entry of want.values()) {
            const doc = docs.get(entry.id);
            const listed = doc === undefined ? null : deps.lists.listed<K>(doc);
            if (doc === undefined || listed === null) {
              // Gone (deleted, emptied) since the entry was made: dropped, the walk goes on.
              digest = applyWrite(digest, entryGone(entry, kind, patientId), kind, patientId);
              stale = true;
              continue;
            }
            const now: DigestDoc = { ...doc.toJSON(), _deleted: false };
            if (dateOf(kind, now) !== entry.date || seriesOf(kind, now.data) !== entry.group) {
              digest = applyWrite(digest, now, kind, patientId);
              stale = true;
            } else found.set(entry.id, listed.stored);
          }
          if (stale && round < ROUNDS) continue;
          const pick = (entries: readonly DigestEntry[]): StoredRecord<K>[] =>
            entries.flatMap((e) => found.get(e.id) ?? []);
          subscriber.next({
            items: pick(first),
            series: pick(heads),
            complete: digest.min === null && digest.entries.length <= limit,
          });
          if (dirty) arm();
          return;
        }
      };

      const schedule = (): void => {
        // One answer waiting is enough: it applies every event queued by then.
        if (queued) return;
        queued = true;
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
        if (timer !== null) {
          timer();
          timer = null;
          const at = settled();
          chain = chain.then(() => saveNow(at)).catch(() => undefined);
        }
      };
    });

  /** A chart's saved digests of `kinds` dropped (its access ended: its ids and clinical dates go too). */
  const forget = async (patientId: string, kinds: readonly string[]): Promise<void> => {
    if (deps.meta === undefined) return;
    for (const kind of kinds) {
      const all = await deps.meta.get(keyOf(kind), NEWEST_DIGEST_SCHEMA);
      if (all?.[patientId] === undefined) continue;
      await deps.meta.update(keyOf(kind), NEWEST_DIGEST_SCHEMA, (current) =>
        Object.fromEntries(Object.entries(current ?? {}).filter(([p]) => p !== patientId)),
      );
    }
  };

  return { observe, forget };
};

const entryGone = (entry: DigestEntry, kind: string, patientId: string): DigestDoc => ({
  id: entry.id,
  kind,
  patientId,
  updatedAt: '',
  _deleted: true,
  data: {},
});
