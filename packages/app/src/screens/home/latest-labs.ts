/**
 * The home's latest labs: the newest result of each of the six most recent tests (entered-in-error and
 * cancelled results skipped), by clinical date.
 *
 * - Read from `records.newest` (a digest: the newest 200 results opened, not every one); when those hold
 *   fewer than six tests and are not every result (`complete`), the newest 1,000; then the full list
 *   (`records.list`, sorted by clinical date): never a shorter card than the full read would show.
 * - `loading` until the answer used has come: no partial card is shown.
 */
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import type { RecordPage, StoredRecord } from '@hale/client';
import { useHaleSession, useNewestRecords } from '@hale/react';
import { testKey } from '../labs/series';

export const LATEST_TESTS = 6;
/** Results read from the digest, the next only when the one before held fewer than six tests. */
export const NEWEST_LIMITS = [200, 1000] as const;

type Lab = StoredRecord<'LabResult'>;

const LOADING: RecordPage<'LabResult'> = { items: [], total: 0, loading: true };
/** In place of the full list while it is not needed: nothing read. */
const UNUSED = { get: (): RecordPage<'LabResult'> => LOADING, subscribe: () => () => undefined };

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
  const session = useHaleSession();
  const [step, setStep] = useState(0);
  const newest = useNewestRecords('LabResult', { limit: NEWEST_LIMITS[step] ?? NEWEST_LIMITS[0] });
  const fromNewest = useMemo(() => latestOf(newest.items), [newest]);
  const short = newest.loading !== true && fromNewest.length < LATEST_TESTS && !newest.complete;
  const needFull = short && step === NEWEST_LIMITS.length - 1;
  useEffect(() => {
    if (short && step < NEWEST_LIMITS.length - 1) setStep(step + 1);
  }, [short, step]);
  const fullObserved = useMemo(
    () => (needFull ? session.records.list('LabResult', { sort: 'clinical' }) : UNUSED),
    [session, needFull],
  );
  const full = useSyncExternalStore(fullObserved.subscribe, fullObserved.get, fullObserved.get);
  const fromFull = useMemo(() => (needFull ? latestOf(full.items) : []), [needFull, full]);
  if (newest.loading === true || (short && !needFull)) return { items: [], loading: true };
  if (!needFull) return { items: fromNewest, loading: false };
  return { items: fromFull, loading: full.loading === true };
}
