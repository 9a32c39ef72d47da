/**
 * What local search reads of each record kind: its text fields, by path, and how much a match in each
 * counts. Both come from the kinds' descriptions in @hale/model (`search`: path → boost); this module
 * only reads them.
 *
 * Invariants:
 * - Every kind has an entry (`Record<RecordKind, …>`); `[]`: the kind is not searched (no chart text:
 *   Consent, AuditEntry, ProviderProfile).
 * - A path `a.b` reads field `b` of object `a`, or of every object of list `a`; a list of texts (`tags`)
 *   is read whole.
 */
import type { KIND_DESCRIPTIONS } from '@hale/model';
import { RECORD_KIND_NAMES, SEARCH_BOOSTS, searchFieldsOf, type RecordKind } from '@hale/model';

/** Which fields of each record kind local search reads (`fieldText` reads them). */
export const SEARCH_FIELDS: Readonly<Record<RecordKind, readonly string[]>> = Object.fromEntries(
  RECORD_KIND_NAMES.map((kind) => [kind, searchFieldsOf(kind)]),
) as Record<RecordKind, readonly string[]>;

/** The kinds whose description names at least one search field. */
export type SearchableKind = {
  [K in RecordKind]: keyof (typeof KIND_DESCRIPTIONS)[K]['search'] extends never ? never : K;
}[RecordKind];

export const isSearchableKind = (kind: string): kind is SearchableKind =>
  Object.hasOwn(SEARCH_FIELDS, kind) && SEARCH_FIELDS[kind as RecordKind].length > 0;

export const SEARCHABLE_KINDS: readonly SearchableKind[] = RECORD_KIND_NAMES.filter(isSearchableKind);

/** Every field path any kind has, once. */
export const ALL_SEARCH_FIELDS: readonly string[] = [...new Set(Object.values(SEARCH_FIELDS).flat())];

/** A record's name counts most, then its main text; codes, units and states least (1 unless named). */
export const FIELD_BOOST: Readonly<Record<string, number>> = SEARCH_BOOSTS;

const textOf = (value: unknown): string[] => {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return value.flatMap((v) => (typeof v === 'string' && v !== '' ? [v] : []));
  return [];
};

/** The text at `path` of `record` (see the header), or undefined when it holds none. */
export function fieldText(record: Readonly<Record<string, unknown>>, path: string): string | undefined {
  const dot = path.indexOf('.');
  let texts: string[];
  if (dot < 0) texts = textOf(record[path]);
  else {
    const [head, tail] = [path.slice(0, dot), path.slice(dot + 1)];
    const outer = record[head];
    const objects = Array.isArray(outer) ? outer : [outer];
    texts = objects.flatMap((o) =>
      typeof o === 'object' && o !== null ? textOf((o as Record<string, unknown>)[tail]) : [],
    );
  }
  return texts.length === 0 ? undefined : texts.join(' ');
}
