/**
 * One chart's search index, kept up to date with its records: it listens to the live view of each
 * searchable kind (`observe(kind)`, the records API's) and indexes what changed.
 *
 * | event | index |
 * |---|---|
 * | a kind's first list | every record indexed; `ready` once every kind listed once and all of it indexed |
 * | a later list | records new or changed (another `rv` or `updatedAt`) indexed again, those gone removed |
 * | a view fails (the session was locked) or completes (closed) | everything forgotten (`clear`), `closed` |
 *
 * Indexing is done in chunks (`IndexPacing`): at most `chunk` records, then the rest is left to the next
 * `later(...)` turn, so building a chart's index never holds the page for long; a search meanwhile answers
 * from what is indexed so far (`ready` false), and `changes` waits for the last chunk (a search shown is
 * not run again after every chunk). Without pacing (tests) everything is indexed at once.
 *
 * Invariants: in memory only (record-index.ts); one subscription per kind while open; `changes`
 * emits once all work is applied, so a search shown is run again; `close()` forgets everything, pending
 * work included. A record changed again before its turn is indexed once, as it is last.
 * Failure modes: `observe` throwing at once (locked) throws from `createLiveIndex`.
 */
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { RecordKind } from '@hale/model';
import type { StoredRecord } from '../records/records';
import { createRecordIndex, type IndexSearchOptions, type SearchHit } from './record-index';
import { SEARCHABLE_KINDS } from './search-fields';

/** A record index kept up to date from the records API's views (`createLiveIndex`), in memory only. */
export interface LiveIndex {
  /** True once every searchable kind was listed once and everything listed is indexed. */
  readonly ready: () => boolean;
  /** Emits after every change applied to the index (and at ready, and at close). */
  readonly changes: Observable<void>;
  /** Whether `close()` was called. */
  readonly closed: () => boolean;
  /** The records matching `query`, best first. */
  search(query: string, options?: IndexSearchOptions): { hits: SearchHit[]; total: number };
  /** How many records are indexed. */
  readonly size: () => number;
  /** Stops following the views and drops the index. */
  close(): void;
}

const versionOf = (s: StoredRecord): string => `${s.rv}|${s.record.updatedAt}`;

export interface IndexPacing {
  /** Records indexed in one turn at most. */
  readonly chunk: number;
  /** Runs `task` in a later turn (a macrotask: frames and input go first). */
  readonly later: (task: () => void) => void;
}

/** A chunk of 250 records per turn, turns through setTimeout: a few milliseconds of work each. */
export const DEFAULT_PACING: IndexPacing = { chunk: 250, later: (task) => void setTimeout(task, 0) };

/** One chart's search index, kept up to date from `observe` of each kind (default: every searchable kind). */
export function createLiveIndex(
  observe: (kind: RecordKind) => Observable<readonly StoredRecord[]>,
  kinds: readonly RecordKind[] = SEARCHABLE_KINDS,
  pacing?: IndexPacing,
): LiveIndex {
  const index = createRecordIndex();
  const changes = new Subject<void>();
  let listed = 0;
  /** Per kind: id → the version indexed. */
  const held = new Map<RecordKind, Map<string, string>>();
  const subscriptions: Subscription[] = [];
  let isClosed = false;
  /** Work not yet done, by record id: the record to index, or null to take it out. */
  const pending = new Map<string, StoredRecord | null>();
  let scheduled = false;

  const work = (): void => {
    scheduled = false;
    if (isClosed) return;
    let budget = pacing?.chunk ?? Infinity;
    for (const [id, stored] of pending) {
      if (budget-- <= 0) break;
      pending.delete(id);
      if (stored === null) index.remove(id);
      else index.set(stored);
    }
    if (pending.size > 0 && pacing !== undefined) {
      scheduled = true;
      pacing.later(work);
      return;
    }
    changes.next();
  };

  const close = (): void => {
    if (isClosed) return;
    isClosed = true;
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    index.clear();
    held.clear();
    pending.clear();
    changes.next();
    changes.complete();
  };

  const apply = (kind: RecordKind, list: readonly StoredRecord[]): void => {
    let before = held.get(kind);
    const first = before === undefined;
    before ??= new Map();
    const now = new Map<string, string>();
    for (const s of list) {
      const v = versionOf(s);
      now.set(s.record.id, v);
      if (before.get(s.record.id) !== v) pending.set(s.record.id, s);
    }
    for (const id of before.keys()) if (!now.has(id)) pending.set(id, null);
    held.set(kind, now);
    if (first) listed += 1;
    if (pacing === undefined) work();
    else if (!scheduled) {
      scheduled = true;
      pacing.later(work);
    }
  };

  try {
    for (const kind of kinds) {
      subscriptions.push(
        observe(kind).subscribe({ next: (list) => apply(kind, list), error: close, complete: close }),
      );
      if (isClosed) break;
    }
  } catch (e) {
    close();
    throw e;
  }

  return {
    ready: () => !isClosed && listed >= kinds.length && pending.size === 0,
    changes: changes.asObservable(),
    closed: () => isClosed,
    search: (query, options) => (isClosed ? { hits: [], total: 0 } : index.search(query, options)),
    size: () => index.size,
    close,
  };
}
