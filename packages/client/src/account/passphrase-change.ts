/**
 * Changing the passphrase, and taking a newer wrap another device made (`refreshWrappedRoot`).
 *
 * - A change re-wraps the same root (new salt, new nonce); nothing else is re-encrypted.
 * - Generations: each wrap has one (0 at registration, compare-and-set on the server), signed by the identity
 *   key. The generation a device holds only grows, and only by a wrap it made or one the account signed at
 *   that generation: a served wrap older than this device's, or another one at its generation, is never
 *   taken (`refreshWrappedRoot` → WRAPPED_ROOT_REFUSED); `changePassphrase` publishes past both.
 * - The server is updated before the vault: locked before sending → LOCKED, nothing changes; once sent, the
 *   vault is written even if locked meanwhile. A vault write that then fails → PASSPHRASE_NOT_SAVED (the
 *   storage error as `cause`). The wrap and signature are made from copies of the keys.
 * - A new wrap whose answer is lost is read back from the server: held there, the change completes.
 * - The passphrase changed on another device → PASSPHRASE_CHANGED_ELSEWHERE, the vault then holding that
 *   newer wrap, nothing sent; wrong old passphrase → WRONG_PASSPHRASE.
 */
import { isAccountError, AccountError } from '../core/account-error';
import {
  constantTimeEqual,
  wrapRootWithPassphrase,
  type Ed25519,
  canonicalJson,
  type AccountKeys,
  base64urlDecode,
  verifyCanonical,
} from '@hale/crypto';
import type { VaultRecord, Vault } from './vault';
import { isHaleClientError } from '../api/errors';
import type { HttpApi } from '../api/http-api';
import { type HttpWrappedRootState, wrappedRootSignaturePayload, type WrappedRoot } from '@hale/protocol';
import {
  type UnlockedAccount,
  type AccountDeps,
  checkNewPassphrase,
  wrapKdf,
  type WrapHolder,
  VAULT_KEY,
  outcomeUnknown,
  settle,
  signPayload,
} from './account-deps';
import { assertUnlocked, heldGenerations } from './lock-state';
import { requireRecoveryKeyOf, rootOfRecoveryKey } from './recovery-key';
import { exclusive, unwrapRoot, requireRecord } from './vault-record';

/**
 * What `changePassphrase` needs: the unlocked account, its current and new passphrase.
 * - A newer wrap on the server (a change made elsewhere meanwhile) fails `PASSPHRASE_CHANGED_ELSEWHERE`.
 * - A lost answer is settled by reading the wrap back.
 */
export type ChangePassphraseInput = {
  readonly account: UnlockedAccount;
  readonly newPassphrase: string;
  /** Bearer token of this device's session. */
  readonly token: string;
} & (
  | { readonly oldPassphrase: string }
  /** The passphrase was forgotten: the recovery key proves the person holds the account instead. */
  | { readonly recoveryKey: string }
);

/**
 * Re-wraps the same root under a new passphrase, on the server and in this device's vault. A newer wrap
 * on the server (the passphrase was changed on another device) is taken first, so `oldPassphrase` must
 * be the account's current passphrase, not this device's stale one. A person who forgot it gives the
 * recovery key instead (`recoveryKey`; WRONG_RECOVERY_KEY for another account's, nothing sent). A server
 * behind this device (an older generation, or another wrap at this device's: restored from an older
 * backup) is not followed: the new wrap goes as the generation after this device's. Locked
 * (`lock`) before the new wrap is sent: LOCKED, nothing changed; locked after: the change completes, vault
 * included. An answer lost after the server took the wrap completes the change too (`sendWrap`). A vault
 * write failing after the server took the wrap is PASSPHRASE_NOT_SAVED (`storeChangedWrap`).
 */
export async function changePassphrase(deps: AccountDeps, input: ChangePassphraseInput): Promise<void> {
  const { account } = input;
  assertUnlocked(account);
  checkNewPassphrase(input.newPassphrase);
  wrapKdf(deps);
  // A mistyped or another account's recovery key is refused before anything is asked or taken.
  if ('recoveryKey' in input) requireRecoveryKeyOf(account, input.recoveryKey);
  await exclusive(deps.vault, () => changePassphraseNow(deps, input));
}

async function changePassphraseNow(deps: AccountDeps, input: ChangePassphraseInput): Promise<void> {
  const { account } = input;
  // A server behind this device (restored from an older backup) is not followed, nor does it block the
  // change: the new wrap goes past both generations, so the person can still change the passphrase.
  const taken = await takeNewerWrap(deps, { account, token: input.token }, 'keep-own');
  const record = await ownRecord(deps.vault, account);
  // Opening the current wrap proves knowledge of the current passphrase; the recovery key proves more.
  const current =
    'recoveryKey' in input
      ? rootOfRecoveryKey(input.recoveryKey)
      : await unwrapRoot(record.wrappedRoot, input.oldPassphrase).catch((e: unknown) => {
          // Most likely the person typed the passphrase this device knew: say that it changed, and that
          // this device now follows the change (the vault took the newer wrap, as refreshWrappedRoot would).
          if (taken.status === 'updated' && isAccountError(e) && e.code === 'WRONG_PASSPHRASE') {
            throw new AccountError(
              'PASSPHRASE_CHANGED_ELSEWHERE',
              'the passphrase was changed on another device: this device now unlocks with the passphrase ' +
                'set there, not the one it knew; give that passphrase to change it again',
            );
          }
          throw e;
        });
  // lock() may zero the account's bytes at any await from here on; a wrap of zeroes or a signature by a
  // zeroed key must never reach the server or the vault.
  let root: Uint8Array;
  let identitySecret: Uint8Array;
  try {
    assertUnlocked(account);
    root = account.root.slice();
    identitySecret = account.keys.identity.secretKey.slice();
  } catch (e) {
    current.fill(0);
    throw e;
  }
  try {
    if (!constantTimeEqual(current, root)) {
      throw new AccountError('VAULT_CORRUPT', 'vault: the wrapped root is not this account root');
    }
    const wrappedRoot = await wrapRootWithPassphrase(root, input.newPassphrase, wrapKdf(deps));
    // Past this device's generation, which takeNewerWrap left at or above the server's: devices that hold
    // this one take the change, and a server restored to an older generation takes it too.
    const gen = (record.gen ?? 0) + 1;
    const sig = await signWrap(deps.ed, account.accountId, identitySecret, wrappedRoot, gen);
    // Nothing has changed anywhere yet, so a lock that came meanwhile still wins.
    assertUnlocked(account);
    // Same root, same localKey: the sealed device key in the record stays valid and is kept as it is, so
    // writing the record needs no secret from `account`, which may be locked by then.
    const next: VaultRecord = { ...record, wrappedRoot, gen };
    try {
      await sendWrap(deps.api, { wrappedRoot, gen, sig }, input.token);
    } catch (e) {
      if (!isHaleClientError(e) || e.code !== 'CONFLICT') throw e;
      // Another device changed the passphrase since this one read the server's wrap: this device follows
      // that change, as for one made before (the person gives the passphrase set there to change it again).
      const now = await takeNewerWrap(deps, { account, token: input.token }, 'keep-own').catch(() => null);
      if (now?.status !== 'updated') throw e;
      throw new AccountError(
        'PASSPHRASE_CHANGED_ELSEWHERE',
        'the passphrase was changed on another device at the same time: this device now unlocks with the ' +
          'passphrase set there, not the new one; give that passphrase to change it again',
      );
    }
    // The server now serves this wrap to joining devices: the vault must hold it too, locked or not.
    await storeChangedWrap(deps.vault, next);
    heldGenerations.set(account, gen);
  } finally {
    current.fill(0);
    root.fill(0);
    identitySecret.fill(0);
  }
}

/**
 * `refreshWrappedRoot`'s answer: `current` (the vault already held the server's wrap) or `updated` (a newer
 * passphrase wrap was taken into the vault), with the wrap's generation.
 */
export type RefreshWrappedRootResult =
  { readonly status: 'current'; readonly gen: number } | { readonly status: 'updated'; readonly gen: number };

/**
 * Takes the account's current passphrase wrap from the server when it is newer than this device's: after
 * a passphrase change on another device, this device then unlocks with the new passphrase only. Call it
 * when online after unlocking (an open device session given `vault` and `api` does it by itself). Refuses
 * (WRAPPED_ROOT_REFUSED, nothing written) a wrap that is older than or different from the generation
 * this device holds, or not signed by the account's identity key. Only the wrap and its generation change
 * in the vault; the rest of the record (login name, device name, sealed device key) is kept as it is.
 */
export async function refreshWrappedRoot(
  deps: RefreshDeps,
  input: { readonly account: WrapHolder; readonly token: string },
): Promise<RefreshWrappedRootResult> {
  assertUnlocked(input.account);
  return exclusive(deps.vault, () => takeNewerWrap(deps, input, 'refuse'));
}

type RefreshDeps = {
  readonly api: Pick<HttpApi, 'getWrappedRoot'>;
  readonly vault: Vault;
  readonly ed: Ed25519;
};

/**
 * refreshWrappedRoot for a caller that already runs exclusively on the vault. A served wrap older than this
 * device's, or another one at its generation, is never taken: `refuse` throws WRAPPED_ROOT_REFUSED for it;
 * `keep-own` (a passphrase change, which then publishes past both) answers `current` at this device's
 * generation, the vault untouched.
 */
async function takeNewerWrap(
  deps: RefreshDeps,
  input: { readonly account: WrapHolder; readonly token: string },
  notNewer: 'refuse' | 'keep-own',
): Promise<RefreshWrappedRootResult> {
  const { account } = input;
  assertUnlocked(account);
  const state = await deps.api.getWrappedRoot(input.token);
  const record = await ownRecord(deps.vault, account);
  const held = record.gen ?? 0;
  const refuse = (why: string) => new AccountError('WRAPPED_ROOT_REFUSED', `wrapped root refused: ${why}`);
  if (state.accountId !== account.accountId) throw refuse('it belongs to another account');
  const keepOwn = (why: string): RefreshWrappedRootResult => {
    if (notNewer === 'refuse') throw refuse(why);
    heldGenerations.set(account, held);
    return { status: 'current', gen: held };
  };
  if (state.gen < held) return keepOwn(`generation ${state.gen} is older than this device's ${held}`);
  if (state.gen === held) {
    if (canonicalJson(state.wrappedRoot) === canonicalJson(record.wrappedRoot)) {
      heldGenerations.set(account, held);
      return { status: 'current', gen: held };
    }
    return keepOwn(`it differs from this device's wrap at generation ${held}`);
  }
  if (!(await wrapSignedByAccount(deps.ed, account.keys, state))) {
    throw refuse('it is not signed by the account identity key');
  }
  const next: VaultRecord = { ...record, wrappedRoot: state.wrappedRoot, gen: state.gen };
  await deps.vault.set(VAULT_KEY, JSON.stringify(next));
  heldGenerations.set(account, state.gen);
  return { status: 'updated', gen: state.gen };
}

/** Generation of the passphrase wrap this device's vault holds for `account`; no server call. */
export async function heldWrappedRootGen(
  deps: Pick<AccountDeps, 'vault'>,
  account: Pick<UnlockedAccount, 'accountId' | 'device'>,
): Promise<number> {
  return (await ownRecord(deps.vault, account)).gen ?? 0;
}

/** This device's own vault record (the account and device `account` was unlocked from). */
export async function ownRecord(
  vault: Vault,
  account: Pick<UnlockedAccount, 'accountId' | 'device'>,
): Promise<VaultRecord> {
  const record = await requireRecord(vault);
  if (record.accountId !== account.accountId || record.deviceId !== account.device.deviceId) {
    throw new AccountError('VAULT_CORRUPT', 'vault: holds another account or device');
  }
  return record;
}

/** Whether `state` carries the identity key's signature over its wrap at its generation (0 included). */
export async function wrapSignedByAccount(
  ed: Ed25519,
  keys: AccountKeys,
  state: Pick<HttpWrappedRootState, 'wrappedRoot' | 'gen' | 'sig'>,
): Promise<boolean> {
  const sig = base64urlDecode(state.sig);
  if (!sig.ok) return false;
  const payload = wrappedRootSignaturePayload({
    accountId: keys.accountId,
    wrappedRoot: state.wrappedRoot,
    gen: state.gen,
  });
  return verifyCanonical(ed, keys.identity.publicKey, payload.label, payload, sig.value);
}

/**
 * The check a join makes of the wrap the server serves it (after the root it opens derived `keys`): for
 * this account, and signed by it at the generation served (WRAPPED_ROOT_REFUSED otherwise).
 */
export async function checkServedWrap(
  ed: Ed25519,
  keys: AccountKeys,
  state: HttpWrappedRootState,
): Promise<void> {
  if (state.accountId !== keys.accountId) {
    throw new AccountError('WRAPPED_ROOT_REFUSED', 'wrapped root refused: it belongs to another account');
  }
  if (!(await wrapSignedByAccount(ed, keys, state))) {
    throw new AccountError(
      'WRAPPED_ROOT_REFUSED',
      `wrapped root refused: generation ${state.gen} is not signed by the account identity key`,
    );
  }
}

/**
 * PUTs a new passphrase wrap. An answer lost on the way back (NETWORK, TIMEOUT, a 5xx: `retry`; or a
 * success that could not be read: `outcomeUnknown`) may hide a wrap the server took, which it then
 * serves to joining devices and, as newer, to this account's other devices; and a request sent twice (a retrying proxy or fetch wrapper) is refused CONFLICT by the server
 * that took the first. So after either the wrap is read back, and the PUT counts as done when the server
 * holds exactly this wrap at this generation. Otherwise (not there, or the read fails too) the first error
 * stands: a CONFLICT then means another device published a wrap at this generation or later.
 */
export async function sendWrap(
  api: Pick<HttpApi, 'putWrappedRoot' | 'getWrappedRoot'>,
  body: { readonly wrappedRoot: WrappedRoot; readonly gen: number; readonly sig: string },
  token: string,
): Promise<void> {
  try {
    await api.putWrappedRoot(body, token);
  } catch (e) {
    if (!outcomeUnknown(e) && !(isHaleClientError(e) && e.code === 'CONFLICT')) throw e;
    const state = await api.getWrappedRoot(token).catch(() => null);
    const landed =
      state !== null &&
      state.gen === body.gen &&
      canonicalJson(state.wrappedRoot) === canonicalJson(body.wrappedRoot);
    if (!landed) throw e;
  }
}

/**
 * Whether `e`, refusing a new wrap at `gen`, is a CONFLICT because another device changed the passphrase
 * first: the server now serves a wrap of this account at `gen` or later, signed by it — the test
 * changePassphrase makes through takeNewerWrap, without the vault a join does not have yet. Another
 * CONFLICT, an unsigned wrap or a failed read: false, the server's error stands.
 */
export async function lostToAnotherChange(
  deps: Pick<AccountDeps, 'api' | 'ed'>,
  keys: AccountKeys,
  e: unknown,
  gen: number,
  token: string,
): Promise<boolean> {
  if (!isHaleClientError(e) || e.code !== 'CONFLICT') return false;
  const state = await deps.api.getWrappedRoot(token).catch(() => null);
  return (
    state !== null &&
    state.accountId === keys.accountId &&
    state.gen >= gen &&
    (await wrapSignedByAccount(deps.ed, keys, state))
  );
}

/**
 * changePassphrase's vault write, after the server took the new wrap. A write reported failed that did
 * store the record counts (read back, as createAccount does). Else PASSPHRASE_NOT_SAVED, not the storage's
 * bare error: that is what a failure before sending throws, and the caller must tell the two apart — here
 * the server holds the new passphrase while this device still opens with the old one.
 */
async function storeChangedWrap(vault: Vault, next: VaultRecord): Promise<void> {
  const text = JSON.stringify(next);
  try {
    await vault.set(VAULT_KEY, text);
  } catch (e) {
    if ((await settle(() => vault.get(VAULT_KEY))) === text) return;
    throw new AccountError(
      'PASSPHRASE_NOT_SAVED',
      'the new passphrase was set for the account, but this device could not save it (its storage ' +
        'failed; it may be full): this device still unlocks with the old passphrase until it takes the ' +
        'new one (refreshWrappedRoot, once storage is freed); new devices join with the new one',
      { cause: e },
    );
  }
}

/** The identity key's signature over a wrap and its generation, as the server and other devices check it. */
export async function signWrap(
  ed: Ed25519,
  accountId: string,
  identitySecretKey: Uint8Array,
  wrappedRoot: WrappedRoot,
  gen: number,
): Promise<string> {
  return signPayload(ed, identitySecretKey, wrappedRootSignaturePayload({ accountId, wrappedRoot, gen }));
}
