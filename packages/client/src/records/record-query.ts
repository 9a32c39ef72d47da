/**
 * A record list's query (`records.list(kind, query)`): filters on what is clear at rest, a sort, a page.
 *
 * | part | what | how |
 * |---|---|---|
 * | `patientId` | whose chart (the stream's patient; the kind names its type) | the store's selector |
 * | `ids` | only these records | in memory, over the kind's records |
 * | `writtenFrom` / `writtenBefore` | time of the last change, as instants (any offset) | in memory |
 * | `conflict` | with or without an unsettled concurrent edit | in memory |
 * | `sort: 'written'` | time of the last change | in memory, by keys read once per record |
 * | `sort: 'clinical'` | the date the record is about (`clinicalDateOf`) | in memory, after opening |
 * | `limit` / `offset` | one page; `total` counts every match | in memory |
 *
 * Lists follow a shared sorted view (record-views.ts): a change of one record re-sorts nothing; a page is
 * cut from the view, filtered first when the query filters.
 *
 * Invariants: no health content is made clear for a query (the store holds it sealed; sorting by a
 * clinical date happens on opened records, in memory); equal keys order by record id, so pages never
 * overlap or skip while nothing changes.
 * Failure modes: a malformed query (a negative or fractional `limit`/`offset`, an instant that is none, an
 * unknown `sort`/`order`, `ids` that is no list of strings) is refused at `list()` with RecordError
 * VALIDATION_FAILED naming the field; nothing is read.
 */
import {
  compareInstantKeys,
  compareInstants,
  instantKeyOf,
  isIsoDateTime,
  type RecordKind,
} from '@hale/model';
import { RecordError } from './record-errors';
import type { StoredRecord } from './record-types';
import { byClinical, byWritten, sortKeysOf, type RecordView } from './record-views';

/** What a listing asks for: whose chart, filters, sort and page. */
export interface RecordQuery {
  /** Whose chart: this account's by default. */
  readonly patientId?: string;
  /** Only these records. */
  readonly ids?: readonly string[];
  /** Written (last changed) at or after / before these ISO instants. */
  readonly writtenFrom?: string;
  readonly writtenBefore?: string;
  /** Only records with (true) or without (false) an unsettled concurrent edit. */
  readonly conflict?: boolean;
  /** `written` (time of the last change) or `clinical` (the date the record is about); newest first by default. */
  readonly sort?: 'written' | 'clinical';
  readonly order?: 'desc' | 'asc';
  /** A page: `limit` records after the first `offset`. */
  readonly limit?: number;
  readonly offset?: number;
}

/** One page of a listing. */
export interface RecordPage<K extends RecordKind> {
  readonly items: readonly StoredRecord<K>[];
  /** How many records match, over all pages. */
  readonly total: number;
  /** Only on a list's value before the store first answered: nothing is known yet (not "none"). */
  readonly loading?: true;
}

const refuse = (kind: string, field: string, reason: string): RecordError => {
  const message = `${kind} list: ${field} ${reason}`;
  return new RecordError('VALIDATION_FAILED', message, {
    code: 'VALIDATION_FAILED',
    kind: kind as RecordKind,
    message,
    issues: [{ field, reason }],
  });
};

/** Throws RecordError VALIDATION_FAILED (naming the field) when `query` is not one `pageOf` takes. */
export function checkRecordQuery(kind: string, query: RecordQuery): void {
  const q = query as Record<string, unknown>;
  for (const field of ['limit', 'offset'] as const) {
    const v = q[field];
    if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) {
      throw refuse(kind, field, 'must be a whole number, 0 or more');
    }
  }
  for (const field of ['writtenFrom', 'writtenBefore'] as const) {
    const v = q[field];
    if (v !== undefined && !(typeof v === 'string' && isIsoDateTime(v))) {
      throw refuse(kind, field, 'must be an ISO date-time with its zone');
    }
  }
  if (q['sort'] !== undefined && q['sort'] !== 'written' && q['sort'] !== 'clinical') {
    throw refuse(kind, 'sort', "must be 'written' or 'clinical'");
  }
  if (q['order'] !== undefined && q['order'] !== 'asc' && q['order'] !== 'desc') {
    throw refuse(kind, 'order', "must be 'asc' or 'desc'");
  }
  if (q['conflict'] !== undefined && typeof q['conflict'] !== 'boolean') {
    throw refuse(kind, 'conflict', 'must be true or false');
  }
  const ids = q['ids'];
  if (ids !== undefined && !(Array.isArray(ids) && ids.every((id) => typeof id === 'string'))) {
    throw refuse(kind, 'ids', 'must be a list of record ids');
  }
}

/**
 * Orders two clinical dates, earliest first. Two instants compare as instants (any offset); otherwise on
 * the part both state (`2024-05` against `2024-05-10`: equal there), the less precise first, then as text.
 */
export function compareClinicalDates(a: string, b: string): number {
  if (a.length > 10 && b.length > 10) return compareInstants(a, b);
  const n = Math.min(a.length, b.length, 10);
  const [x, y] = [a.slice(0, n), b.slice(0, n)];
  if (x !== y) return x < y ? -1 : 1;
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Applies a RecordQuery to a kind's records, given in any order. */
export function pageOf<K extends RecordKind>(
  all: readonly StoredRecord<K>[],
  query: RecordQuery,
): RecordPage<K> {
  const ordered = [...all];
  return pageOfView(
    {
      written: query.sort === 'clinical' ? ordered : ordered.sort(byWritten),
      clinical: () => (query.sort === 'clinical' ? ordered.sort(byClinical) : ordered),
    },
    query,
  );
}

/**
 * Applies a RecordQuery to a kind's records as a view holds them (record-views.ts: sorted earliest
 * first). Without a filter the page is cut from the sorted list directly; a filter reads each record once.
 */
export function pageOfView<K extends RecordKind>(view: RecordView<K>, query: RecordQuery): RecordPage<K> {
  const sorted = query.sort === 'clinical' ? view.clinical() : view.written;
  const ids = query.ids ? new Set(query.ids) : null;
  const from = query.writtenFrom === undefined ? undefined : instantKeyOf(query.writtenFrom);
  const before = query.writtenBefore === undefined ? undefined : instantKeyOf(query.writtenBefore);
  const filtered = ids !== null || from !== undefined || before !== undefined || query.conflict !== undefined;
  const matching = !filtered
    ? sorted
    : sorted.filter((r) => {
        const at = sortKeysOf(r).written;
        return (
          (ids === null || ids.has(r.record.id)) &&
          (from === undefined || compareInstantKeys(at, from) >= 0) &&
          (before === undefined || compareInstantKeys(at, before) < 0) &&
          (query.conflict === undefined || r.conflict === query.conflict)
        );
      });
  const total = matching.length;
  const offset = Math.min(query.offset ?? 0, total);
  const count = Math.min(query.limit ?? total, total - offset);
  const items: StoredRecord<K>[] = new Array<StoredRecord<K>>(count);
  if (query.order === 'asc') {
    for (let i = 0; i < count; i += 1) items[i] = matching[offset + i] as StoredRecord<K>;
  } else {
    for (let i = 0; i < count; i += 1) items[i] = matching[total - 1 - offset - i] as StoredRecord<K>;
  }
  return { items, total };
}
