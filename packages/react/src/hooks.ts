/**
 * Hooks over the session's Observed values, one per thing a screen shows.
 *
 * | hook | value |
 * |---|---|
 * | `useRecords(kind, query)` | a `RecordPage` of the kind (filters, sort, page) |
 * | `useNewestRecords(kind, options)` | a `NewestPage`: the newest `limit` by clinical date, `complete`, the first `series` tests' newest |
 * | `useRecord(id)` / `useRecordHistory(id)` | one record, or it with its versions; null while there is none |
 * | `useSearch(query, options)` | `SearchResults`: the chart's records matching the words, ranked |
 * | `useSyncState()` / `useSyncStatus()` / `useDeviceRemoved()` / `useInitialSync()` / `useSyncIssues()` | the sync state, its status alone, whether this device was removed; a first sync's n of m; the open issues |
 * | `useQuarantine()` / `useUnsent()` | versions set aside; changes not yet on the server |
 * | `useGrants()` / `useGrantsReceived()` | grants given, with their state; charts shared with this account |
 * | `useGrantsLoaded()` | whether the grants given were read yet (an empty list before that is no answer) |
 * | `useAccessLog()` / `useDisclosures()` / `useAuditVerification()` | audit views (null until read) |
 * | `useUploads()` / `useDownloads()` | files moving, with progress |
 * | `useDevices()` | this account's devices (null until read) |
 * | `useProviderSearch(q, options)` | `[ProviderSearch, more]`: the directory's pages for `q` |
 *
 * Invariant: an Observed made from arguments (`useRecords`, `useRecord`, `useRecordHistory`, `useSearch`,
 * `useProviderSearch`) is made again only when the arguments change by value, so a re-render with equal
 * arguments keeps its subscription.
 */
import { useMemo } from 'react';
import type {
  NewestOptions,
  NewestPage,
  ProviderSearch,
  RecordHistory,
  RecordKind,
  RecordPage,
  RecordQuery,
  SearchOptions,
  SearchResults,
  StoredRecord,
} from '@hale/client';
import { useHaleSession } from './hale-provider';
import { useLoaded, useObserved, useObservedPart } from './use-observed';

export function useRecords<K extends RecordKind>(kind: K, query: RecordQuery = {}): RecordPage<K> {
  const session = useHaleSession();
  const key = JSON.stringify(query);
  // The query is compared by value (key): an equal query keeps the subscription.
  const observed = useMemo(() => session.records.list(kind, query), [session, kind, key]);
  return useObserved(observed);
}

export function useNewestRecords<K extends RecordKind>(kind: K, options: NewestOptions = {}): NewestPage<K> {
  const session = useHaleSession();
  const key = JSON.stringify(options);
  const observed = useMemo(() => session.records.newest(kind, options), [session, kind, key]);
  return useObserved(observed);
}

export function useRecord<K extends RecordKind>(id: string): StoredRecord<K> | null {
  const session = useHaleSession();
  const observed = useMemo(() => session.records.one<K>(id), [session, id]);
  return useObserved(observed);
}

export function useRecordHistory<K extends RecordKind>(id: string): RecordHistory<K> | null {
  const session = useHaleSession();
  const observed = useMemo(() => session.records.history<K>(id), [session, id]);
  return useObserved(observed);
}

export function useSearch(query: string, options: SearchOptions = {}): SearchResults {
  const session = useHaleSession();
  const key = JSON.stringify(options);
  const observed = useMemo(() => session.search(query, options), [session, query, key]);
  return useObserved(observed);
}

/** The directory's providers matching `q`, and the function that reads the next page. */
export function useProviderSearch(
  q: string,
  options: { limit?: number } = {},
): readonly [ProviderSearch, () => void] {
  const session = useHaleSession();
  const key = JSON.stringify(options);
  const observed = useMemo(() => session.directory.results(q, options), [session, q, key]);
  return [useObserved(observed), observed.more] as const;
}

export const useSyncState = () => useObserved(useHaleSession().sync.state);
/** The sync's status alone: drawn again when it changes, not at each count of a sync under way. */
export const useSyncStatus = () => useObservedPart(useHaleSession().sync.state, (s) => s.status);
/** Whether the server removed this device from its account (its sync stopped for good for that). */
export const useDeviceRemoved = () =>
  useObservedPart(
    useHaleSession().sync.state,
    (s) =>
      s.status === 'fatal' &&
      s.errors.some((e) => e.code === 'DEVICE_REVOKED' || e.code === 'DEVICE_UNKNOWN'),
  );
export const useInitialSync = () => useObserved(useHaleSession().sync.initialSync);
export const useSyncIssues = () => useObserved(useHaleSession().sync.issues);
export const useQuarantine = () => useObserved(useHaleSession().sync.quarantine);
export const useUnsent = () => useObserved(useHaleSession().sync.unsent);
export const useGrants = () => useObserved(useHaleSession().consent.grants);
/** Whether the grants given were read yet: `useGrants()` empty and loaded means none. */
export const useGrantsLoaded = () => useLoaded(useHaleSession().consent.grants);
export const useGrantsReceived = () => useObserved(useHaleSession().consent.grantsReceived);
export const useAccessLog = () => useObserved(useHaleSession().audit.access);
export const useDisclosures = () => useObserved(useHaleSession().audit.disclosures);
export const useAuditVerification = () => useObserved(useHaleSession().audit.verification);
export const useUploads = () => useObserved(useHaleSession().files.uploads);
export const useDownloads = () => useObserved(useHaleSession().files.downloads);
export const useDevices = () => useObserved(useHaleSession().devices.list);
