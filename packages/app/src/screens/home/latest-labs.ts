/**
 * The home's latest labs: the newest result of each of the six most recent tests (entered-in-error and
 * cancelled results skipped), by clinical date.
 *
 * - Read from `records.newest('LabResult', { series: 6 })`: the client's digest names each test's newest
 *   result, so an unlock opens about six results, not every one (the client reads every result itself when
 *   its digest cannot tell): never a shorter card than the full read would show.
 * - `loading` until the answer has come: no partial card is shown.
 */
import type { StoredRecord } from '@hale/client';
import { useNewestRecords } from '@hale/react';
import { testKey } from '../labs/series';

export const LATEST_TESTS = 6;

type Lab = StoredRecord<'LabResult'>;

/** The newest result of each of the first `LATEST_TESTS` tests met, walking newest first. */
export function latestOf(newestFirst: readonly Lab[]): Lab[] {
  const seen = new Set<string>();
  const latest: Lab[] = [];
  for (const l of newestFirst) {
    if (latest.length === LATEST_TESTS) break;
    if (l.record.status === 'entered-in-error' || l.record.status === 'cancelled') continue;
    const key = testKey(l.record);
    if (seen.has(key)) continue;
    seen.add(key);
    latest.push(l);
  }
  return latest;
}

export function useLatestLabs(): { readonly items: readonly Lab[]; readonly loading: boolean } {
  const newest = useNewestRecords('LabResult', { limit: 1, series: LATEST_TESTS });
  if (newest.loading === true) return { items: [], loading: true };
  return { items: latestOf(newest.series), loading: false };
}
