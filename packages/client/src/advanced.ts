// `@hale/client/advanced`: the parts `openHale` builds a session from (device store, sync engine, keyring,
// consent, audit log, crypto offload), for hosts and tools that compose them differently, and for the
// journey tests. An app uses `@hale/client` (index.ts) instead; nothing here is needed for a screen.
export * from './index';
// Local search's parts: the in-memory index of opened records, and one kept live over a chart's views.
export { createRecordIndex, type IndexSearchOptions, type RecordIndex } from './search/record-index';
export { createLiveIndex, type LiveIndex } from './search/live-index';
export { SEARCH_FIELDS, fieldText, type SearchableKind } from './search/search-fields';
export {
  AT_REST_ERROR_CODES,
  AT_REST_KEY_LENGTH,
  AtRestError,
  isAtRestError,
  wrapWithAtRestEncryption,
  wrapWithoutAtRestKey,
} from './store/at-rest-encryption';
export type {
  AtRestDecryptReason,
  AtRestEncryptionOptions,
  AtRestErrorCode,
  AtRestErrorDetails,
  AtRestJob,
  AtRestJobResult,
  AtRestOpenOutcome,
  SealContext,
} from './store/at-rest-encryption';
export type { CryptoJob, CryptoJobResult, CryptoOffload } from './offload/crypto-offload';
export { CRYPTO_WORKER_READY } from './offload/crypto-offload';
export { runCryptoJob } from './offload/run-crypto-job';
export { answerCryptoMessage, type CryptoWorkerReply } from './offload/answer-crypto-message';
export { jobFailureOf, type CryptoJobFailure } from './offload/job-failure';
export {
  JOB_TIMEOUT_BASE_MS,
  JOB_TIMEOUT_PER_ITEM_MS,
  WORKER_DEATH_LIMIT,
  WORKER_DEATH_WINDOW_MS,
  WORKER_START_FAILURE_LIMIT,
  CryptoOffloadError,
  createWorkerOffload,
  isCryptoOffloadError,
  jobTimeoutMs,
} from './offload/worker-offload';
export type {
  JobTimeout,
  WorkerEvents,
  WorkerOffload,
  WorkerOffloadOptions,
  WorkerPort,
} from './offload/worker-offload';
export type {
  WireJob,
  WireJobResult,
  WireOpenFailure,
  WireOpenItem,
  WireOpenOutcome,
  WireSealItem,
  WireSealOutcome,
} from './offload/wire-jobs';
export { closeDeviceDb, openDeviceDb, RECORDS_SCHEMA, removeDeviceDb } from './store/device-db';
export { deviceLockName } from './store/device-lock';
export type { DeviceLock, DeviceLockHandle } from './store/device-lock';
export type {
  DeviceDb,
  DeviceDbCollections,
  DeviceRecord,
  JsonObject,
  OpenDeviceDbOptions,
  RecordsCollection,
  RemoveDeviceDbOptions,
  StorageValidationWrapper,
} from './store/device-db';
export { HaleClientError, isHaleClientError, codeForStatus, errorFromWire } from './api/errors';
export type { HaleClientErrorCode, HaleClientErrorInit } from './api/errors';
export { createHttpApi } from './api/http-api';
export type { FetchInitLike, FetchLike, FetchResponseLike, HttpApi, HttpApiOptions } from './api/http-api';
export {
  SESSION_REFRESH_MARGIN_MS,
  SIGN_IN_TIMEOUT_MS,
  createSessionManager,
  openSession,
} from './api/session-manager';
export type { Session, SessionDevice, SessionManager, SessionManagerOptions } from './api/session-manager';
export { memoryVault } from './account/vault';
export type { MemoryVault, Vault } from './account/vault';
export { ACCOUNT_ERROR_CODES, AccountError, isAccountError } from './core/account-error';
export type { AccountErrorCode } from './core/account-error';
export {
  MIN_PASSPHRASE_LENGTH,
  REGISTRATION_ATTEMPTS,
  REGISTRATION_BACKOFF_MS,
  VAULT_KEY,
  VAULT_WRITE_ATTEMPTS,
  VAULT_WRITE_BACKOFF_MS,
  changePassphrase,
  createAccount,
  hasAccount,
  joinWithPassphrase,
  joinWithRecoveryKey,
  keyFingerprint,
  lock,
  normalizeLoginName,
  publishProviderProfile,
  publishWrappedRootSig,
  publishRoleSig,
  publishWrappingKey,
  refreshWrappedRoot,
  registrationMode,
  removeLocalAccount,
  revokeDevice,
  safetyNumberWith,
  searchProviders,
  unlock,
  unlockWithRecoveryKey,
} from './account/account';
export { MAX_REVOKED_DETAILS, listDevices } from './account/device-list';
export type { DeviceList, ListedDevice, ListedRevokedDevice } from './account/device-list';
export type {
  AccountDeps,
  ChangePassphraseInput,
  CreateAccountInput,
  CreatedAccount,
  JoinWithPassphraseInput,
  JoinWithRecoveryKeyInput,
  ProviderProfileInput,
  PublishWrappedRootSigResult,
  PublishRoleSigResult,
  PublishWrappingKeyResult,
  RefreshWrappedRootResult,
  Role,
  UnlockedAccount,
  VaultRecord,
  VerifiedProvider,
  UnlockApi,
  WrapHolder,
  WrappedRootSigApi,
  RoleSigApi,
  WrappingKeyApi,
} from './account/account';
export {
  deviceDbName,
  openDeviceSession,
  type DeviceSession,
  type DeviceAccount,
  type DeviceSessionOptions,
} from './session/session';
export type { WrappedRootApi } from './session/passphrase-watch';
export {
  createConnection,
  SyncError,
  type Connection,
  type ConnectionStatus,
  type WebSocketFactory,
  type WebSocketLike,
} from './sync/connection';
export { createKeyring, type Keyring } from './sync/keyring';
export { createStreamList, MAX_STREAM_PAGES, type StreamList, type StreamListDeps } from './sync/stream-list';
export {
  createDeviceDirectory,
  type DeviceDirectory,
  type AccountDevicesInfo,
  type AccountDeviceInfo,
  WrappingKeyError,
  isWrappingKeyError,
  type WrappingKeyErrorCode,
} from './sync/device-directory';
export {
  createSyncEngine,
  type SyncEngine,
  type SyncState,
  type SyncIssue,
  type PassphraseStatus,
  type QuarantinedItem,
  type QuarantinedContent,
  type QuarantinedVersion,
  type QuarantineKey,
  type UnsentChange,
  type RemovedStream,
  RESYNC_BACKOFF_BASE_MS,
  RESYNC_BACKOFF_MAX_MS,
  RESYNC_WINDOW_MS,
} from './sync/engine';
export type { NotWritableReason } from './records/record-errors';
export { decodeRecord, encodeRecord, tagOf, type DecodeFailure } from './sync/record-codec';
export type { PlainRecord } from './records/plain-record';
export {
  recordConflictHandler,
  recordConflictHandlerFor,
  resolveRecordConflict,
  type MergingDevice,
} from './records/conflicts';
export {
  createRecords,
  MAX_RECORD_BYTES,
  RecordError,
  type Records,
  type StoredRecord,
  type RecordInput,
} from './records/records';
export {
  createFiles,
  FILE_CHUNK_BYTES,
  FILE_ERROR_CODES,
  FILE_STREAM_TYPES,
  FileError,
  isFileError,
  MAX_FILE_BYTES,
  type FileErrorCode,
  type FileErrorExtra,
  type FileLocation,
  type FilePutInput,
  type Files,
  type FilesDeps,
  type FilesHttpApi,
  type FileStreamType,
  type MaybeFilesHttpApi,
  type FileEnqueueInput,
  type FilesQueueDeps,
} from './files/files';
export {
  MAX_QUEUED_BYTES,
  MAX_QUEUED_UPLOADS,
  type QueuedUpload,
  type QueuedUploadState,
  UPLOAD_FAILURE_CODES,
  type UploadErrorInfo,
  type UploadFailureCode,
} from './files/upload-queue';
export {
  createConsent,
  ConsentError,
  MAX_ACCEPTED_PAGES,
  MAX_GRANT_PAGES,
  GRANT_REFRESH_MS,
  REVOCATION_RETRY_MS,
  REVOCATION_NOTICE,
  type Consent,
  type ConsentErrorCode,
  type GrantRequest,
  type GrantStatus,
  type GrantUnconfirmed,
  type RevocationPending,
  type RevokeResult,
  type Rotation,
  type StoredGrant,
} from './consent/consent';
export { openGrantPurpose } from './consent/grant-purpose';
export {
  makeAuditEntry,
  openAuditBody,
  verifyAuditLog,
  type AuditBody,
  type AuditProblem,
  type AuditProblemKind,
  type AuditVerification,
  type UnreadableAuditEntry,
} from './audit/audit-chain';
export {
  createAuditLog,
  type AuditLog,
  type OpenedEntry,
  type RecordChange,
  type EntrySource,
  type AccessRecord,
  type Disclosure,
  type UndeliveredChain,
  type AuditViewOptions,
  type AuditViewAnswer,
  VIEW_WAIT_MS,
  UNREADABLE_ENTRY_ACTION,
  UNREADABLE_ENTRY_MEANING,
} from './audit/audit-log';
export { AUDIT_ERROR_CODES, AuditError, isAuditError } from './audit/errors';
export {
  FHIR_CONTENT_DIGEST_EXTENSION,
  FHIR_EXPORT_CHECK_CODES,
  FHIR_EXPORT_CONTENT_LABEL,
  FHIR_EXPORT_SIGNATURE_LABEL,
  FHIR_EXPORT_SIGNATURE_TYPE,
  FHIR_EXPORT_SIG_FORMAT,
  FHIR_EXPORT_TARGET_FORMAT,
  FHIR_SIGNER_KEY_EXTENSION,
  signFhirExport,
  verifyFhirExport,
  type FhirExportCheckCode,
  type FhirExportSigner,
  type FhirExportVerification,
  type SignedFhirBundle,
} from './io/signed-fhir-export';
// Types the documented signatures name, so that an app needs no second import for them.
export type { FhirBundle, FileRef, RecordKind, RecordOf } from '@hale/model';
export type { HttpDeviceRevokeResponse, PushDoc, SignedProviderProfile, StreamAccess } from '@hale/protocol';
export type { Ed25519, KdfSettings } from '@hale/crypto';

// The care flows, for hosts composing them differently (the app uses `session.care`).
export { createHaleCare, type HaleCareDeps } from './hale/hale-care';
export { decideBookings, confirmedBy, type BookingDecisions } from './care/booking';
export {
  slotsOf,
  isOfferedSlot,
  availabilityOf,
  signAvailability,
  verifyAvailability,
} from './care/availability';
export { inboxOf, threadMessages } from './care/threads';
export { notificationsFor, careNotifications } from './care/notifications';
export { planDiff, acknowledgementOf } from './care/plans';
export { cosignStatusOf } from './care/cosign';
export { appointmentIcs } from './care/ics';
export { inZone, wallToInstant, toUtc } from './care/time-zones';
export { CareError } from './care/errors';
// Records in and out over a DeviceSession (the public surface is `session.io`).
export { directoryLookup, toHaleIo, type HaleIo } from './hale/hale-io';
export type { RecordsIoDeps } from './io/records-io-deps';
export { IMPORTABLE_KINDS, importFhir, planImport } from './io/fhir-import-run';
export { exportRecords } from './io/fhir-export-forms';
export { emergencySummary, patientSummary, uuidOf } from './io/summaries';
export { createLink, linkAccesses, listLinks, revokeLink } from './io/shl-client';
