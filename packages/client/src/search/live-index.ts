/**
 * One chart's search index, kept up to date with its records: it listens to the live view of each
 * searchable kind (`observe(kind)`, the records API's) and indexes what changed.
 *
 * | event | index |
 * |---|---|
 * | a kind's first list | every record indexed; `ready` once every kind listed once |
 * | a later list | records new or changed (another `rv` or `updatedAt`) indexed again, those gone removed |
 * | a view fails (the session was locked) or completes (closed) | everything forgotten (`clear`), `closed` |
 *
 * Invariants: in memory only (record-index.ts); one subscription per kind while open; `changes`
 * emits after each list applied, so a search shown is run again; `close()` forgets everything.
 * Failure modes: `observe` throwing at once (locked) throws from `createLiveIndex`.
 */
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { RecordKind } from '@hale/model';
import type { StoredRecord } from '../records/records';
import { createRecordIndex, type IndexSearchOptions, type SearchHit } from './record-index';
import { SEARCHABLE_KINDS } from './search-fields';

export interface LiveIndex {
  /** True once every searchable kind was listed once. */
  readonly ready: () => boolean;
  /** Emits after every change applied to the index (and at ready, and at close). */
  readonly changes: Observable<void>;
  readonly closed: () => boolean;
  search(query: string, options?: IndexSearchOptions): { hits: SearchHit[]; total: number };
  readonly size: () => number;
  close(): void;
}

const versionOf = (s: StoredRecord): string => `${s.rv}|${s.record.updatedAt}`;

export function createLiveIndex(
  observe: (kind: RecordKind) => Observable<readonly StoredRecord[]>,
  kinds: readonly RecordKind[] = SEARCHABLE_KINDS,
): LiveIndex {
  const index = createRecordIndex();
  const changes = new Subject<void>();
  let listed = 0;
  /** Per kind: id → the version indexed. */
  const held = new Map<RecordKind, Map<string, string>>();
  const subscriptions: Subscription[] = [];
  let isClosed = false;

  const close = (): void => {
    if (isClosed) return;
    isClosed = true;
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    index.clear();
    held.clear();
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
      if (before.get(s.record.id) !== v) index.set(s);
    }
    for (const id of before.keys()) if (!now.has(id)) index.remove(id);
    held.set(kind, now);
    if (first) listed += 1;
    changes.next();
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
    ready: () => !isClosed && listed >= kinds.length,
    changes: changes.asObservable(),
    closed: () => isClosed,
    search: (query, options) => (isClosed ? { hits: [], total: 0 } : index.search(query, options)),
    size: () => index.size,
    close,
  };
}
