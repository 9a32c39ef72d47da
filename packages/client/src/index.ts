// `@hale/client`: what an app calls. Open a `Hale` with a platform (`@hale/platform-web`,
// `@hale/platform-node`), create, join or unlock an account, and use the `HaleSession` it hands back;
// docs/client-api.md is the guide. The parts a session is built from are `@hale/client/advanced`; what
// only tests set is `@hale/client/testing`.
export { openHale } from './hale/open-hale';
export type { CreatedHaleAccount, Hale, OpenHaleOptions } from './hale/open-hale';
export type {
  GrantView,
  HaleAccountInfo,
  HaleAudit,
  HaleConsent,
  HaleDevices,
  HaleDirectory,
  HaleFiles,
  HaleRecords,
  HaleSession,
  HaleSync,
  RecordPage,
  RecordQuery,
} from './hale/hale-session';
export type { Observed } from './hale/observed';
export type { Platform } from './hale/platform';
export { clinicalDateOf } from './hale/clinical-date';
export { HaleError, isHaleError } from './hale/hale-error';

// Error codes a screen switches on (`isHaleError(e, code)`), by area; append-only.
export { ACCOUNT_ERROR_CODES, type AccountErrorCode } from './account/errors';
export { AUDIT_ERROR_CODES } from './audit/errors';
export { FILE_ERROR_CODES, type FileErrorCode } from './files/files';
export type { RecordErrorCode } from './records/records';
export type { ConsentErrorCode } from './consent/consent';
export type { HaleClientErrorCode } from './api/errors';

// Limits and wording a screen shows.
export { MAX_RECORD_BYTES } from './records/records';
export { MAX_FILE_BYTES } from './files/files';
export { REVOCATION_NOTICE } from './consent/consent';
export { MIN_PASSPHRASE_LENGTH, normalizeLoginName } from './account/account';

// What a platform package builds a Platform from, and a vault for sessions that keep nothing.
export { memoryVault, type Vault } from './account/vault';
export type { FetchInitLike, FetchLike, FetchResponseLike } from './api/http-api';
export type { WebSocketFactory, WebSocketLike } from './sync/connection';
export type { DeviceLock, DeviceLockHandle } from './store/device-lock';
export type { CryptoOffload } from './offload/crypto-offload';

// A recipient checks a signed export without a session.
export {
  verifyFhirExport,
  type FhirExportVerification,
  type SignedFhirBundle,
} from './export/signed-fhir-export';

// Types the signatures above name.
export type { RecordInput, StoredRecord, WriteOptions } from './records/records';
export type {
  PassphraseStatus,
  QuarantinedItem,
  QuarantinedVersion,
  QuarantineKey,
  SyncIssue,
  SyncState,
  UnsentChange,
} from './sync/engine';
export type { GrantRequest, GrantStatus, RevokeResult, StoredGrant } from './consent/consent';
export type { AccessRecord, AuditViewAnswer, Disclosure } from './audit/audit-log';
export type { AuditVerification } from './audit/audit-chain';
export type { FileEnqueueInput, FileLocation, FilePutInput } from './files/files';
export type { QueuedUpload, QueuedUploadState } from './files/upload-queue';
export type { DeviceList, ListedDevice, ListedRevokedDevice } from './account/device-list';
export type {
  CreateAccountInput,
  JoinWithPassphraseInput,
  JoinWithRecoveryKeyInput,
  Role,
  VerifiedProvider,
} from './account/account';
export type { FhirBundle, FileRef, RecordKind, RecordOf } from '@hale/model';

// Records in and out (session.io).
export { RecordsIoError, RECORDS_IO_ERROR_CODES, type RecordsIoErrorCode } from './io/io-error';
export { decodeLink, openLink, type CreatedLink } from './io/shl-client';
export type { HaleIo, ShareOptions } from './hale/hale-io';
export type { ImportOptions, ImportReport, ImportedRecord } from './io/fhir-import-run';
export type { ExportOptions, ExportResult } from './io/fhir-export-forms';
export type { Summary } from './io/summaries';
