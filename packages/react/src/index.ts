// `@hale/react`: a provider and hooks binding React screens to a `HaleSession` (docs/client-api.md, "React").
export { HaleProvider, HaleProviderMissing, useHaleSession } from './hale-provider';
export { useLoaded, useObserved, useObservedPart } from './use-observed';
export {
  useAccessLog,
  useAuditVerification,
  useDevices,
  useDisclosures,
  useDownloads,
  useGrants,
  useGrantsLoaded,
  useGrantsReceived,
  useInitialSync,
  useProviderSearch,
  useQuarantine,
  useRecord,
  useRecordHistory,
  useRecords,
  useNewestRecords,
  useSearch,
  useSyncIssues,
  useSyncState,
  useSyncStatus,
  useDeviceRemoved,
  useUnsent,
  useUploads,
} from './hooks';
