/**
 * Account lifecycle on a device (create, join, unlock/lock, passphrase, devices, provider directory): the
 * modules below, re-exported here under the names callers import.
 *
 * | module | responsibility |
 * | ------ | -------------- |
 * | account-deps.ts | shared types, limits and input checks |
 * | lock-state.ts | locking, and who is told of it |
 * | vault-record.ts | the vault's account record, one writer at a time |
 * | new-device.ts, served-account.ts | registering a device; checking the server's account answer |
 * | create-account.ts, join.ts, unlock.ts | the ways into an account |
 * | publications.ts | signatures published once (wrapping key, generation 0, role) |
 * | passphrase-change.ts | passphrase generations |
 * | device-revocation.ts, device-rename.ts | revoking and renaming devices |
 * | provider-directory.ts | the provider directory |
 *
 * Invariants across them: the root secret never leaves the device in clear and is never persisted in clear;
 * everything read back is checked against what it must belong to; signed objects are built by the
 * @hale/protocol payload helpers and signed with their label as prefix and inside, as the server verifies.
 * Failure modes: AccountError with a stable code (errors.ts); server answers stay HaleClientError.
 */

export {
  VAULT_KEY,
  MIN_PASSPHRASE_LENGTH,
  type Role,
  type UnlockedAccount,
  type AccountDeps,
  VAULT_WRITE_ATTEMPTS,
  VAULT_WRITE_BACKOFF_MS,
  REGISTRATION_ATTEMPTS,
  REGISTRATION_BACKOFF_MS,
  type WrapHolder,
  normalizeLoginName,
} from './account-deps';
export {
  knownWrappedRootGen,
  type LockableAccount,
  assertUnlocked,
  onLock,
  isLocked,
  lock,
} from './lock-state';
export { type DeviceRevoked, onDeviceRevoked, revokeDevice } from './device-revocation';
export { newestNames, renameDevice } from './device-rename';
export {
  type CreateAccountInput,
  registrationMode,
  type CreatedAccount,
  createAccount,
} from './create-account';
export {
  type JoinWithPassphraseInput,
  joinWithPassphrase,
  type JoinWithRecoveryKeyInput,
  joinWithRecoveryKey,
  type JoinWithRootInput,
  joinWithRoot,
} from './join';
export { unlock, unlockWithRecoveryKey } from './unlock';
export {
  type WrappingKeyApi,
  type UnlockApi,
  type PublishWrappingKeyResult,
  publishWrappingKey,
  type RoleSigApi,
  type PublishRoleSigResult,
  publishRoleSig,
  rememberDeviceName,
} from './publications';
export { hasAccount, removeLocalAccount } from './vault-record';
export {
  type ChangePassphraseInput,
  changePassphrase,
  type RefreshWrappedRootResult,
  refreshWrappedRoot,
  heldWrappedRootGen,
} from './passphrase-change';
export {
  type ProviderProfileInput,
  publishProviderProfile,
  type VerifiedProvider,
  searchProviders,
  safetyNumberWith,
} from './provider-directory';

export { keyFingerprint } from '@hale/crypto';
export type { VaultRecord } from './vault';
