// `@hale/client`: what an app calls. Open a `Hale` with a platform (`@hale/platform-web`,
// `@hale/platform-node`), create, join or unlock an account, and use the `HaleSession` it hands back;
// docs/client-api.md is the guide. The parts a session is built from are `@hale/client/advanced`; what
// only tests set is `@hale/client/testing`.
export { openHale } from './hale/open-hale';
export type { CreatedHaleAccount, Hale, OpenHaleOptions, StartPairingInput } from './hale/open-hale';
export type {
  HaleAccountInfo,
  HaleAudit,
  HaleConsent,
  HaleDevices,
  HaleDirectory,
  HaleFiles,
  HaleRecords,
  HaleSession,
  HaleSync,
  InitialSyncProgress,
  PassphraseChange,
} from './hale/hale-session';
export type { RecordPage, RecordQuery } from './records/record-query';
export { rightsOver } from './records/record-types';
export type { NewestOptions, NewestPage } from './records/newest';
export { labTestKey } from './records/newest-digest';
export type { RecordHistory, RecordVersion } from './records/record-history';
export { EXPIRING_SOON_MS } from './hale/grant-views';
export type { EndedStream, GrantState, GrantView, ReceivedGrant, ReceivedStream } from './hale/grant-views';
export type { DownloadView, UploadView } from './hale/transfers';
export type { ProviderSearch } from './hale/provider-search';
export type { SearchOptions, SearchResults } from './search/chart-search';
export type { SearchHit } from './search/record-index';
export type { Observed } from './core/observed';
export type { Platform } from './hale/platform';
export { clinicalDateOf } from './records/clinical-date';
export { HaleError, isHaleError } from './core/hale-error';
// The one error table: every code a HaleError carries, with its words for a person and what to do.
export { HALE_ERRORS, HALE_ERROR_CODE_LIST } from './core/error-codes';
export type { HaleErrorCode, HaleErrorInfo, HaleErrorAction } from './core/error-codes';

// Each area's codes a screen switches on (`isHaleError(e, code)`), all of them in HALE_ERRORS.
export { ACCOUNT_ERROR_CODES, type AccountErrorCode } from './core/account-error';
export { AUDIT_ERROR_CODES } from './audit/errors';
export { FILE_ERROR_CODES, type FileErrorCode } from './files/files';
export { PAIRING_ERROR_CODES, type PairingErrorCode } from './pairing/errors';
export { DRAFT_ERROR_CODES, MAX_DRAFTS, MAX_DRAFT_CHARS, type DraftErrorCode } from './hale/drafts';
export type { DraftEntry, DraftValues, HaleDrafts } from './hale/drafts';
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
} from './io/signed-fhir-export';

// Types the signatures above name.
export type { RecordInput, StoredRecord, WriteOp, WriteOptions } from './records/records';
export type {
  PassphraseStatus,
  QuarantinedItem,
  QuarantinedVersion,
  QuarantineKey,
  SyncIssue,
  SyncState,
  UnsentChange,
} from './sync/engine';
export type {
  ChangeResult,
  GrantChange,
  GrantRequest,
  GrantStatus,
  RevokeResult,
  StoredGrant,
} from './consent/consent';
export type { AccessRecord, AuditViewAnswer, Disclosure } from './audit/audit-log';
/** `AccessRecord.action` of a refused reach: no grant in force covered the stream asked for. */
export { ACCESS_DENIED } from '@hale/protocol';
export type { AuditVerification } from './audit/audit-chain';
export type { FileEnqueueInput, FileLocation, FilePutInput } from './files/files';
export type { QueuedUpload, QueuedUploadState } from './files/upload-queue';
export type { DeviceList, ListedDevice, ListedRevokedDevice } from './account/device-list';
export type { NewDevicePairing, NewDevicePairingState } from './pairing/new-device';
export type { PairingRequest } from './pairing/approver';
export type {
  CreateAccountInput,
  JoinWithPassphraseInput,
  JoinWithRecoveryKeyInput,
  ProviderProfileInput,
  Role,
  VerifiedProvider,
} from './account/account';
export type { FhirBundle, FileRef, RecordKind, RecordOf } from '@hale/model';

// The care area (`session.care`): messages, appointments, availability, notifications, plans, notes.
export type { AppointmentView, HaleCare, PlanView } from './hale/hale-care';
export type { PatientNames } from './care/patient-names';
export { CARE_ERROR_CODES, type CareErrorCode } from './care/errors';
export {
  CARE_NOTIFICATION_TYPES,
  type CareNotification,
  type CareNotificationType,
} from './care/notifications';
export type { Thread, StoredMessage } from './care/threads';
export type { SendInput, Attachment } from './care/messages';
export type { AppointmentRequest, SlotBooking } from './care/appointments';
export type { AvailabilityInput, Slot } from './care/availability';
export { withinHours } from './care/availability';
export type { Availability } from '@hale/protocol';
export type { PlanAcknowledgement, PlanChange, PlanDiff } from './care/plans';
export type { CosignStatus } from './care/cosign';
export type { ZonedTime } from './care/time-zones';
export type { IcsOptions } from './care/ics';
export { UNREADABLE_ENTRY_ACTION } from './audit/audit-log';
export type { UnreadableAuditEntry } from './audit/audit-chain';
// Records in and out (session.io).
export { RecordsIoError, RECORDS_IO_ERROR_CODES, type RecordsIoErrorCode } from './io/io-error';
export {
  decodeLink,
  openLink,
  type CreatedLink,
  type LinkAccess,
  type LinkAccessEntry,
  type LinkInfo,
} from './io/shl-client';
export type { HaleIo, ShareOptions } from './hale/hale-io';
export type { ImportOptions, ImportReport, ImportedRecord } from './io/fhir-import-run';
export type { ExportOptions, ExportResult } from './io/fhir-export-forms';
export type { Summary } from './io/summaries';
