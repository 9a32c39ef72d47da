// `@hale/client/advanced`: what hosts plug into a session (the device store, the crypto offload and its
// worker's answers, the HTTP API, the vault) and what the journey tests still open a device session with.
// The session's inner parts (sync engine, keyring, consent, audit log, files) are not exported. An app uses
// `@hale/client` (index.ts) instead; nothing here is needed for a screen.
export * from './index';
// Local search's parts: the in-memory index of opened records, and one kept live over a chart's views.
export { createLiveIndex } from './search/live-index';
export { SEARCH_FIELDS, fieldText, type SearchableKind } from './search/search-fields';
export type { CryptoJob, CryptoOffload } from './offload/crypto-offload';
export { CRYPTO_WORKER_READY } from './offload/crypto-offload';
export { answerCryptoMessage } from './offload/answer-crypto-message';
export { jobFailureOf } from './offload/job-failure';
export { createWorkerOffload } from './offload/worker-offload';
export type { WorkerOffload, WorkerOffloadOptions } from './offload/worker-offload';
export { openDeviceDb, RECORDS_SCHEMA, removeDeviceDb } from './store/device-db';
export type { DeviceRecord } from './store/device-db';
export { HaleClientError, isHaleClientError } from './api/errors';
export { createHttpApi } from './api/http-api';
export type { FetchLike, HttpApi } from './api/http-api';
export { createSessionManager, openSession } from './api/session-manager';
export type { Session } from './api/session-manager';
export { memoryVault } from './account/vault';
export type { MemoryVault, Vault } from './account/vault';
export { AccountError, isAccountError } from './core/account-error';
export {
  VAULT_KEY,
  changePassphrase,
  createAccount,
  joinWithPassphrase,
  lock,
  publishProviderProfile,
  refreshWrappedRoot,
  revokeDevice,
  searchProviders,
  unlock,
} from './account/account';
export { listDevices } from './account/device-list';
export type { AccountDeps, UnlockedAccount } from './account/account';
export {
  openDeviceSession,
  type DeviceSession,
  type DeviceAccount,
  type DeviceSessionOptions,
} from './session/session';
export { createConnection, SyncError, type WebSocketLike } from './sync/connection';
export { createStreamList } from './sync/stream-list';
export { type SyncIssue, type PassphraseStatus, RESYNC_BACKOFF_BASE_MS } from './sync/engine';
export { RecordError, type Records, type StoredRecord, type RecordInput } from './records/records';
export { FileError, isFileError, type Files } from './files/files';
export { MAX_QUEUED_UPLOADS } from './files/upload-queue';
export {
  ConsentError,
  MAX_GRANT_PAGES,
  type Consent,
  type GrantRequest,
  type GrantUnconfirmed,
} from './consent/consent';
export { openGrantPurpose } from './consent/grant-purpose';
export { makeAuditEntry, type AuditBody, type AuditVerification } from './audit/audit-chain';
export { type OpenedEntry, UNREADABLE_ENTRY_ACTION } from './audit/audit-log';
export { verifyFhirExport } from './io/signed-fhir-export';
// Types the documented signatures name, so that an app needs no second import for them.
export type { FileRef, RecordKind, RecordOf } from '@hale/model';
export type { PushDoc } from '@hale/protocol';
export type { Ed25519 } from '@hale/crypto';

// Records in and out over a DeviceSession (the public surface is `session.io`).
export { directoryLookup, toHaleIo, type HaleIo } from './hale/hale-io';
export type { RecordsIoDeps } from './io/records-io-deps';
export { importFhir } from './io/fhir-import-run';
export { exportRecords } from './io/fhir-export-forms';
export { linkAccesses, revokeLink } from './io/shl-client';
