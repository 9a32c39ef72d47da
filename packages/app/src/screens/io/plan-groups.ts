/**
 * An import's plan and report as a person reads them: records counted by kind (in the chart's order), and
 * the long lists (duplicates, what is not imported, what is read into another record, details not kept)
 * grouped by resource type and reason with a count, so a Synthea patient's 400 billing resources read
 * as one line.
 */
import type { RecordKind } from '@hale/model';
import { KIND_SLUGS, KINDS, slugOfKind, type KindSlug } from '../../records/kinds';

export interface KindCount {
  readonly kind: RecordKind;
  readonly slug: KindSlug | undefined;
  readonly count: number;
}

export const countByKind = (records: readonly { readonly kind: RecordKind }[]): KindCount[] => {
  const counts = new Map<RecordKind, number>();
  for (const r of records) counts.set(r.kind, (counts.get(r.kind) ?? 0) + 1);
  const order = (kind: RecordKind): number => {
    const slug = slugOfKind(kind);
    return slug === undefined ? KIND_SLUGS.length : KIND_SLUGS.indexOf(slug);
  };
  return [...counts]
    .map(([kind, count]) => ({ kind, slug: slugOfKind(kind), count }))
    .sort((a, b) => order(a.kind) - order(b.kind) || a.kind.localeCompare(b.kind));
};

export interface ListingGroup {
  readonly resourceType: string;
  readonly reason: string;
  readonly count: number;
  /** Where in the file, the first few. */
  readonly paths: readonly string[];
}

const MAX_PATHS = 5;

export const groupListings = (
  listings: readonly { readonly resourceType: string; readonly reason: string; readonly path: string }[],
): ListingGroup[] => {
  const groups = new Map<string, { resourceType: string; reason: string; count: number; paths: string[] }>();
  for (const l of listings) {
    const key = `${l.resourceType}\u0000${l.reason}`;
    const g = groups.get(key) ?? { resourceType: l.resourceType, reason: l.reason, count: 0, paths: [] };
    g.count++;
    if (g.paths.length < MAX_PATHS) g.paths.push(l.path);
    groups.set(key, g);
  }
  return [...groups.values()].sort(
    (a, b) => b.count - a.count || a.resourceType.localeCompare(b.resourceType),
  );
};

/** Elements of the file's resources that records do not keep: `Observation.interpretation` × 12. */
export const notKeptGroups = (
  records: readonly { readonly resourceType: string; readonly notKept: readonly string[] }[],
): { readonly element: string; readonly count: number }[] => {
  const counts = new Map<string, number>();
  for (const r of records) {
    for (const element of r.notKept) {
      const key = `${r.resourceType}.${element}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts]
    .map(([element, count]) => ({ element, count }))
    .sort((a, b) => b.count - a.count || a.element.localeCompare(b.element));
};

/** The title key of a kind's records (`kinds.<slug>.title`), or the kind's own name. */
export const kindTitleKey = (kind: RecordKind): string => {
  const slug = slugOfKind(kind);
  return slug === undefined ? kind : `kinds.${KINDS[slug].slug}.title`;
};
