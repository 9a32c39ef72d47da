/**
 * A full-text index of opened records, in memory only (MiniSearch): what local search queries.
 *
 * | call | does |
 * |---|---|
 * | `set(stored)` | indexes a record, replacing the version indexed before (a kind search does not read is ignored) |
 * | `remove(id)` | takes a record out |
 * | `search(query, options)` | records ranked, best first, each with the fields it matched in |
 * | `clear()` | forgets everything (lock, close) |
 *
 * Matching: words are split on spaces and punctuation, lower-cased and stripped of accents; Han
 * characters count one by one (Chinese has no spaces between words). Every word of the query must match
 * (AND); each matches a word of the record that starts with it, or, from 5 letters, one within an edit
 * distance of a fifth of its length (typos). Scores are BM25+ with the fields' boosts (search-fields.ts).
 *
 * Invariants: nothing here is written anywhere; the index holds the record texts it was given, and
 * `clear()` drops them. An empty query (no word) matches nothing.
 */
import MiniSearch, { type SearchResult } from 'minisearch';
import type { RecordKind } from '@hale/model';
import type { StoredRecord } from '../records/records';
import { ALL_SEARCH_FIELDS, FIELD_BOOST, SEARCH_FIELDS, fieldText, isSearchableKind } from './search-fields';

/** One search result: the record and the fields it matched in. */
export interface SearchHit {
  readonly record: StoredRecord;
  readonly kind: RecordKind;
  readonly score: number;
  /** The field that counted most among those matched (a path of search-fields.ts, e.g. `substance`). */
  readonly field: string;
  /** Every field matched, the one that counts most first. */
  readonly fields: readonly string[];
  /** The record's words the query matched. */
  readonly terms: readonly string[];
}

/** Options of `RecordIndex.search`. */
export interface IndexSearchOptions {
  /** Only records of these kinds. */
  readonly kinds?: readonly RecordKind[];
  /** At most this many hits (best first); 50 by default. */
  readonly limit?: number;
}

/** A full-text index of opened records, in memory only (see this module's header). */
export interface RecordIndex {
  /** Indexes a record, replacing the version indexed before. */
  set(stored: StoredRecord): void;
  /** Takes a record out. */
  remove(id: string): void;
  /** Records ranked, best first, each with the fields it matched in. */
  search(query: string, options?: IndexSearchOptions): { hits: SearchHit[]; total: number };
  /** Forgets everything. */
  clear(): void;
  readonly size: number;
}

interface IndexedDoc {
  readonly id: string;
  readonly kind: string;
  readonly texts: Readonly<Record<string, string>>;
}

const SPLIT = /[\s\p{P}\p{S}]+/u;
/** The same split for text that is all ASCII: only letters and digits make words there. */
const SPLIT_ASCII = /[^A-Za-z0-9]+/;
const ASCII = /^[ -~\t\n\r]*$/;
const HAN = /\p{Script=Han}/u;
const HAN_RUNS = /(\p{Script=Han})/u;

/** Words of `text`: split on spaces and punctuation, Han characters one by one. */
export const tokenize = (text: string): string[] =>
  ASCII.test(text)
    ? text.split(SPLIT_ASCII).filter((w) => w !== '')
    : text
        .split(SPLIT)
        .flatMap((word) => (HAN.test(word) ? word.split(HAN_RUNS) : [word]))
        .filter((w) => w !== '');

/** Lower case, accents dropped (é → e). */
export const normalizeTerm = (term: string): string =>
  ASCII.test(term)
    ? term.toLowerCase()
    : term
        .normalize('NFD')
        .replace(/\p{M}+/gu, '')
        .toLowerCase();

const boostOf = (field: string): number => FIELD_BOOST[field] ?? 1;

/** An empty `RecordIndex`. */
export function createRecordIndex(): RecordIndex {
  const make = () =>
    new MiniSearch<IndexedDoc>({
      fields: [...ALL_SEARCH_FIELDS],
      storeFields: [],
      extractField: (doc, field) => (field === 'id' ? doc.id : doc.texts[field]),
      tokenize,
      processTerm: (term) => normalizeTerm(term) || null,
      searchOptions: {
        boost: FIELD_BOOST,
        prefix: true,
        fuzzy: (term) => (term.length >= 5 ? 0.2 : false),
        combineWith: 'AND',
      },
    });
  let mini = make();
  const records = new Map<string, StoredRecord>();

  const remove = (id: string): void => {
    if (!records.delete(id)) return;
    mini.discard(id);
  };

  const hitOf = (r: SearchResult, record: StoredRecord): SearchHit => {
    const fields = [...new Set(Object.values(r.match).flat())].sort((a, b) => boostOf(b) - boostOf(a));
    return { record, kind: record.kind, score: r.score, field: fields[0] ?? '', fields, terms: r.terms };
  };

  return {
    set(stored) {
      remove(stored.record.id);
      if (!isSearchableKind(stored.kind)) return;
      const texts: Record<string, string> = {};
      const record = stored.record as unknown as Readonly<Record<string, unknown>>;
      for (const path of SEARCH_FIELDS[stored.kind]) {
        const text = fieldText(record, path);
        if (text !== undefined) texts[path] = text;
      }
      records.set(stored.record.id, stored);
      mini.add({ id: stored.record.id, kind: stored.kind, texts });
    },
    remove,
    search(query, options = {}) {
      const kinds = options.kinds ? new Set<string>(options.kinds) : null;
      const limit = options.limit ?? 50;
      const results = mini.search(query);
      const hits: SearchHit[] = [];
      let total = 0;
      for (const r of results) {
        const record = records.get(r.id as string);
        if (record === undefined || (kinds !== null && !kinds.has(record.kind))) continue;
        total += 1;
        if (hits.length < limit) hits.push(hitOf(r, record));
      }
      return { hits, total };
    },
    clear() {
      records.clear();
      mini = make();
    },
    get size() {
      return records.size;
    },
  };
}
