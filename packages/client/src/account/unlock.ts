/**
 * Unlocking the account this device holds, with the passphrase or the recovery key.
 *
 * - The unwrapped root must derive the vault's account id; the device key must open and match (vault-record.ts).
 * - Wrong passphrase → WRONG_PASSPHRASE, nothing written; a recovery key of another account → WRONG_RECOVERY_KEY.
 * - Given `api` and `ed`, an unlock publishes in the background what the account has not yet published
 *   (publications.ts); best effort, never in the way of opening.
 */
import { AccountError } from '../core/account-error';
import type { Ed25519 } from '@hale/crypto';
import type { VaultRecord } from './vault';
import type { UnlockedAccount, AccountDeps } from './account-deps';
import { requireRecord, unwrapRoot, openDeviceSecret, unlocked } from './vault-record';
import {
  type UnlockApi,
  sharedBearer,
  openHolderSession,
  publishWrappingKeyWith,
  publishRoleSigWith,
} from './publications';
import { withRootKeys } from './new-device';
import { heldGenerations } from './lock-state';
import { rootOfRecoveryKey, wrongRecoveryKey } from './recovery-key';

/**
 * Opens the account stored on this device; works offline and never waits for the server. Given `api`
 * and `ed`, while the vault does not yet record the account's wrapping-key signature as published, it
 * also runs `publishWrappingKey` in the background (and `publishRoleSig` while the vault records nothing
 * about the role signature), both in one session opened when the first of them needs it: best effort, a
 * failure (offline, lock, server refusal) is ignored and the next unlock tries again. Without them: no
 * server call at all.
 */
export async function unlock(
  deps: UnlockDeps,
  input: { readonly passphrase: string },
): Promise<UnlockedAccount> {
  const record = await requireRecord(deps.vault);
  const root = await unwrapRoot(record.wrappedRoot, input.passphrase);
  return unlockWithRoot(deps, record, root, () => {
    throw new AccountError('VAULT_CORRUPT', 'vault: the wrapped root belongs to another account');
  });
}

/**
 * Opens the account stored on this device with its recovery key instead of the passphrase (which the
 * person forgot): offline, like `unlock`, and nothing is written. The passphrase stays what it was; once
 * online, set a new one with `changePassphrase({ account, recoveryKey, newPassphrase, token })`.
 * INVALID_RECOVERY_KEY for a mistyped key, WRONG_RECOVERY_KEY for a well-formed key of another account.
 */
export async function unlockWithRecoveryKey(
  deps: UnlockDeps,
  input: { readonly recoveryKey: string },
): Promise<UnlockedAccount> {
  const record = await requireRecord(deps.vault);
  const root = rootOfRecoveryKey(input.recoveryKey);
  return unlockWithRoot(deps, record, root, wrongRecoveryKey);
}

type UnlockDeps = Pick<AccountDeps, 'vault'> & { readonly api?: UnlockApi; readonly ed?: Ed25519 };

/** `unlock` from a root already opened; `otherAccount` throws when the root is not the vault's account's. */
async function unlockWithRoot(
  deps: UnlockDeps,
  record: VaultRecord,
  root: Uint8Array,
  otherAccount: () => never,
): Promise<UnlockedAccount> {
  const account = await withRootKeys(root, async (keys) => {
    if (keys.accountId !== record.accountId) otherAccount();
    const device = openDeviceSecret(keys.localKey, record);
    const account = unlocked({
      root,
      keys,
      role: record.role,
      loginName: record.loginName,
      device,
      deviceName: record.deviceName,
    });
    heldGenerations.set(account, record.gen ?? 0);
    return account;
  });
  const { api, ed, vault } = deps;
  const keyDue = record.wrappingKeyPublished !== true;
  // Not for `unverified`: nothing this device would sign, and asking at every unlock costs a request each.
  const roleDue = record.roleSig === undefined;
  if (api !== undefined && ed !== undefined && (keyDue || roleDue)) {
    // One handshake for all publications, opened only when the first of them has something to send.
    const bearer = sharedBearer(() => openHolderSession(api, ed, account));
    void (async () => {
      if (keyDue) await publishWrappingKeyWith({ api, ed, vault }, account, bearer).catch(() => undefined);
      if (roleDue) await publishRoleSigWith({ api, ed, vault }, account, bearer).catch(() => undefined);
    })();
  }
  return account;
}
