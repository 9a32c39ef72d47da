/**
 * `session.search(query, options)`: the records of one chart matching a query, ranked, as an Observed
 * that runs again whenever the chart's records change.
 *
 * | field | meaning |
 * |---|---|
 * | `ready` | the chart's index is built (false while its records are first read: `hits` may be short) |
 * | `hits` | at most `limit` records, best first, each with the field it matched in (`SearchHit`) |
 * | `total` | every match |
 *
 * Invariants: each chart's index (live-index.ts) is built when first searched and kept in memory while the
 * session is open; lock and close forget it. A query of no word (empty, spaces, punctuation only) matches
 * nothing. Failure modes: a search of a locked or closed session ends with AccountError LOCKED (its
 * `error()`) when something first listens: the records' views refuse.
 */
import { defer, map, startWith } from 'rxjs';
import type { RecordKind } from '@hale/model';
import { observedFrom, type Observed } from '../core/observed';
import type { LiveIndex } from './live-index';
import type { SearchHit } from './record-index';

/** Options of `session.search`: whose chart and which kinds. */
export interface SearchOptions {
  /** Whose chart: this account's by default. */
  readonly patientId?: string;
  /** Only records of these kinds. */
  readonly kinds?: readonly RecordKind[];
  /** At most this many hits; 50 by default. */
  readonly limit?: number;
}

/** What `session.search` answers: the hits, and whether the index is ready. */
export interface SearchResults {
  readonly query: string;
  readonly ready: boolean;
  readonly hits: readonly SearchHit[];
  readonly total: number;
}

export function searchObserved(
  indexOf: () => LiveIndex,
  query: string,
  options: SearchOptions,
): Observed<SearchResults> {
  const initial: SearchResults = { query, ready: false, hits: [], total: 0 };
  const run = (index: LiveIndex): SearchResults => ({
    query,
    ready: index.ready(),
    ...index.search(query, {
      ...(options.kinds ? { kinds: options.kinds } : {}),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    }),
  });
  return observedFrom(
    defer(() => {
      const index = indexOf();
      return index.changes.pipe(
        startWith(undefined),
        map(() => run(index)),
      );
    }),
    initial,
  );
}
