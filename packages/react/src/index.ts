// `@hale/react`: a provider and hooks binding React screens to a `HaleSession` (docs/client-api.md, "React").
export { HaleProvider, HaleProviderMissing, useHaleSession } from './hale-provider';
export { useObserved } from './use-observed';
export {
  useAccessLog,
  useAuditVerification,
  useDevices,
  useDisclosures,
  useGrants,
  useQuarantine,
  useRecord,
  useRecords,
  useSyncIssues,
  useSyncState,
  useUnsent,
  useUploads,
} from './hooks';
