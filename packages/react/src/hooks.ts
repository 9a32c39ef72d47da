/**
 * Hooks over the session's Observed values, one per thing a screen shows.
 *
 * | hook | value |
 * |---|---|
 * | `useRecords(kind, query)` | a `RecordPage` of the kind (filters, sort, page) |
 * | `useRecord(id)` | one record with its versions, or null |
 * | `useSyncState()` / `useSyncIssues()` | the sync state; the open issues |
 * | `useQuarantine()` / `useUnsent()` | versions set aside; changes not yet on the server |
 * | `useGrants()` | grants given, with their state |
 * | `useAccessLog()` / `useDisclosures()` / `useAuditVerification()` | audit views (null until read) |
 * | `useUploads()` | the upload queue with each file's state |
 * | `useDevices()` | this account's devices (null until read) |
 *
 * Invariant: an Observed made from arguments (`useRecords`, `useRecord`) is made again only when the
 * arguments change by value, so a re-render with an equal query keeps its subscription.
 */
import { useMemo } from 'react';
import type { RecordKind, RecordPage, RecordQuery, StoredRecord } from '@hale/client';
import { useHaleSession } from './hale-provider';
import { useObserved } from './use-observed';

export function useRecords<K extends RecordKind>(kind: K, query: RecordQuery = {}): RecordPage<K> {
  const session = useHaleSession();
  const key = JSON.stringify(query);
  // The query is compared by value (key): an equal query keeps the subscription.
  const observed = useMemo(() => session.records.list(kind, query), [session, kind, key]);
  return useObserved(observed);
}

export function useRecord<K extends RecordKind>(id: string): StoredRecord<K> | null {
  const session = useHaleSession();
  const observed = useMemo(() => session.records.one<K>(id), [session, id]);
  return useObserved(observed);
}

export const useSyncState = () => useObserved(useHaleSession().sync.state);
export const useSyncIssues = () => useObserved(useHaleSession().sync.issues);
export const useQuarantine = () => useObserved(useHaleSession().sync.quarantine);
export const useUnsent = () => useObserved(useHaleSession().sync.unsent);
export const useGrants = () => useObserved(useHaleSession().consent.grants);
export const useAccessLog = () => useObserved(useHaleSession().audit.access);
export const useDisclosures = () => useObserved(useHaleSession().audit.disclosures);
export const useAuditVerification = () => useObserved(useHaleSession().audit.verification);
export const useUploads = () => useObserved(useHaleSession().files.uploads);
export const useDevices = () => useObserved(useHaleSession().devices.list);
