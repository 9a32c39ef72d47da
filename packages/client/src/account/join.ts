/**
 * Joining an existing account from a new device: with the login name and passphrase, with the recovery
 * key, or with the root itself.
 *
 * - A join takes only a wrap signed by the account at the generation it is served with (WRAPPED_ROOT_REFUSED),
 *   and refuses a served KDF cost below production strength (WEAK_KDF) before deriving.
 * - The role answered must carry a valid `roleSig` (served-account.ts) before the device is registered.
 * - The device registers before the vault is written: a failure after that revokes its certificate
 *   (new-device.ts); nothing is written to the vault on any refusal.
 * - A recovery-key join writes the next generation's wrap (the server's + 1); a CONFLICT because another
 *   device changed the passphrase meanwhile → PASSPHRASE_CHANGED_ELSEWHERE.
 * - Mistyped recovery key → INVALID_RECOVERY_KEY; unknown login name or key → ACCOUNT_NOT_FOUND.
 */
import { isHaleClientError } from '../api/errors';
import { AccountError } from '../core/account-error';
import { isProductionStrength, wrapRootWithPassphrase } from '@hale/crypto';
import { openSession } from '../api/session-manager';
import {
  type AccountDeps,
  type UnlockedAccount,
  normalizeLoginName,
  checkDeviceName,
  weakKdf,
  checkNewPassphrase,
  wrapKdf,
  type Role,
} from './account-deps';
import { exclusive, requireEmptyVault, unwrapRoot, unlocked, writeRecord } from './vault-record';
import { withRootKeys, newDevice, asRegisteredDevice } from './new-device';
import { checkServedWrap, signWrap, sendWrap, lostToAnotherChange } from './passphrase-change';
import { fetchAccount, checkServedRole, requiredAtJoin } from './served-account';
import { publishAtJoin } from './publications';
import { heldGenerations } from './lock-state';
import { rootOfRecoveryKey } from './recovery-key';

/**
 * What `joinWithPassphrase` needs to add this device to an existing account: login name, passphrase and the
 * new device's name.
 * - The server's passphrase wrap and the role are taken only as the account signed them.
 */
export interface JoinWithPassphraseInput {
  /** As typed: `normalizeLoginName` folds capitals and surrounding spaces before it is looked up. */
  readonly loginName: string;
  readonly passphrase: string;
  readonly deviceName: string;
  /**
   * Refuse an account answer without the account's role signature (ROLE_UNSIGNED, nothing registered)
   * instead of taking its role as the server's word. A new device cannot know whether the account has
   * published one; set it once the account is known to have (e.g. the app saw `roleSig: 'published'` on
   * another of its devices, or the account was created by an app that signs it), so a server dropping
   * the signature cannot flip patient and provider for this join.
   */
  readonly requireRoleSig?: boolean;
}

/**
 * Joins this device to an existing account: the server hands out the wrapped root, the passphrase opens it.
 * The wrap must be signed by the account at the generation it is served with (WRAPPED_ROOT_REFUSED
 * otherwise), checked before this device is registered.
 */
export async function joinWithPassphrase(
  deps: AccountDeps,
  input: JoinWithPassphraseInput,
): Promise<UnlockedAccount> {
  const now = deps.now ?? Date.now;
  const normalized = { ...input, loginName: normalizeLoginName(input.loginName) };
  checkDeviceName(input.deviceName);
  return exclusive(deps.vault, () => joinWithPassphraseNow(deps, normalized, now));
}

async function joinWithPassphraseNow(
  deps: AccountDeps,
  input: JoinWithPassphraseInput,
  now: () => number,
): Promise<UnlockedAccount> {
  await requireEmptyVault(deps.vault);
  let joined;
  try {
    joined = await deps.api.join({ loginName: input.loginName });
  } catch (e) {
    if (isHaleClientError(e) && e.code === 'NOT_FOUND') {
      throw new AccountError('ACCOUNT_NOT_FOUND', 'no account with this login name');
    }
    throw e;
  }
  const { accountId, wrappedRoot } = joined;
  // Before deriving: anyone who knows the login name gets this wrap, so a weak one is the account's weak spot.
  if (!isProductionStrength(wrappedRoot.kdf) && deps.weakKdfForTests !== true) {
    throw weakKdf("the account's passphrase wrap uses");
  }
  const root = await unwrapRoot(wrappedRoot, input.passphrase);
  return withRootKeys(root, async (keys, track) => {
    if (keys.accountId !== accountId) {
      throw new AccountError('ACCOUNT_MISMATCH', 'the wrapped root belongs to another account');
    }
    await checkServedWrap(deps.ed, keys, joined);
    const server = await fetchAccount(deps.api, keys);
    const roleSig = await checkServedRole(deps.ed, keys, server, requiredAtJoin(input));
    const { device, cert } = await newDevice(keys, input.deviceName, deps.ed, now, deps.x25519);
    track(device);
    return asRegisteredDevice(deps, keys, cert, now, async () => {
      const published = await publishAtJoin(deps, keys, device, server);
      const account = unlocked({
        root,
        keys,
        role: server.role,
        loginName: input.loginName,
        device,
        deviceName: input.deviceName,
      });
      await writeRecord(deps.vault, account, wrappedRoot, joined.gen, published, roleSig);
      heldGenerations.set(account, joined.gen);
      return account;
    });
  });
}

/**
 * What `joinWithRecoveryKey` needs: the recovery key as typed (14 groups of 5 characters with a check symbol
 * each; any case, spaces or dashes, full-width forms and `O` for `0` are read), a new passphrase and the
 * device's name.
 */
export interface JoinWithRecoveryKeyInput {
  readonly recoveryKey: string;
  /** The recovery key path assumes the passphrase is lost: the root is re-wrapped under this one. */
  readonly newPassphrase: string;
  readonly deviceName: string;
  /** As for `joinWithPassphrase`: refuse an answer without the role signature (ROLE_UNSIGNED). */
  readonly requireRoleSig?: boolean;
}

/**
 * Joins with the recovery key and sets a new passphrase for the account (this device and the server), as
 * the generation after the server's current one — which must be signed by the account at its generation
 * (WRAPPED_ROOT_REFUSED otherwise, before the new wrap is sent; the device
 * certificate, registered to read it, is revoked again). A passphrase change on another device landing
 * between that read and the write is PASSPHRASE_CHANGED_ELSEWHERE, the certificate revoked the same way.
 */
export async function joinWithRecoveryKey(
  deps: AccountDeps,
  input: JoinWithRecoveryKeyInput,
): Promise<UnlockedAccount> {
  const now = deps.now ?? Date.now;
  checkDeviceName(input.deviceName);
  checkNewPassphrase(input.newPassphrase);
  wrapKdf(deps);
  return exclusive(deps.vault, () => joinWithRecoveryKeyNow(deps, input, now));
}

async function joinWithRecoveryKeyNow(
  deps: AccountDeps,
  input: JoinWithRecoveryKeyInput,
  now: () => number,
): Promise<UnlockedAccount> {
  await requireEmptyVault(deps.vault);
  const root = rootOfRecoveryKey(input.recoveryKey);
  return withRootKeys(root, async (keys, track) => {
    const server = await fetchAccount(deps.api, keys);
    const roleSig = await checkServedRole(deps.ed, keys, server, requiredAtJoin(input));
    const wrappedRoot = await wrapRootWithPassphrase(root, input.newPassphrase, wrapKdf(deps));
    const { device, cert } = await newDevice(keys, input.deviceName, deps.ed, now, deps.x25519);
    track(device);
    return asRegisteredDevice(deps, keys, cert, now, async () => {
      const session = await openSession(deps.api, device, deps.ed);
      // Without this check a server reporting a lower generation than the account's (e.g. the current wrap
      // relabelled as 0) would get a signed wrap it can keep while handing this device the
      // account's real, older-passphrase generations afterwards, as "newer".
      const current = await deps.api.getWrappedRoot(session.token);
      await checkServedWrap(deps.ed, keys, current);
      const gen = current.gen + 1;
      const sig = await signWrap(deps.ed, keys.accountId, keys.identity.secretKey, wrappedRoot, gen);
      try {
        await sendWrap(deps.api, { wrappedRoot, gen, sig }, session.token);
      } catch (e) {
        // The person must learn which passphrase is in force: the other device's, not the one given here.
        // Thrown inside asRegisteredDevice, so the certificate registered above is revoked as for any failure.
        if (!(await lostToAnotherChange(deps, keys, e, gen, session.token))) throw e;
        throw new AccountError(
          'PASSPHRASE_CHANGED_ELSEWHERE',
          'the passphrase was changed on another device while this device joined: the passphrase set there ' +
            'is in force, not the new one; nothing was saved on this device. Join again, with that ' +
            'passphrase or with the recovery key',
        );
      }
      const published = await publishAtJoin(deps, keys, device, server, session.token);
      const account = unlocked({
        root,
        keys,
        role: server.role,
        loginName: null,
        device,
        deviceName: input.deviceName,
      });
      await writeRecord(deps.vault, account, wrappedRoot, gen, published, roleSig);
      heldGenerations.set(account, gen);
      return account;
    });
  });
}

export interface JoinWithRootInput {
  /** The account root, handed over by pairing (a copy: the join zeroes it when it fails). */
  readonly root: Uint8Array;
  readonly deviceName: string;
  /** As the approving device holds them: the role the server must answer, and the login name. */
  readonly role: Role;
  readonly loginName: string | null;
}

/**
 * Joins this device with a root another device of the account handed over (pairing, pairing/). As the
 * recovery-key join, without changing the passphrase: the account answer must carry the root's keys and the
 * role the approving device holds (ROLE_REFUSED otherwise: a server cannot flip it), the device is
 * registered, and the server's current passphrase wrap, checked signed by the account at its generation
 * (WRAPPED_ROOT_REFUSED), goes to the vault: this device unlocks with the account's
 * passphrase from then on. A failure after the registration revokes the certificate again.
 */
export async function joinWithRoot(deps: AccountDeps, input: JoinWithRootInput): Promise<UnlockedAccount> {
  const now = deps.now ?? Date.now;
  checkDeviceName(input.deviceName);
  return exclusive(deps.vault, async () => {
    await requireEmptyVault(deps.vault);
    return withRootKeys(input.root, async (keys, track) => {
      const server = await fetchAccount(deps.api, keys);
      if (server.role !== input.role) {
        throw new AccountError(
          'ROLE_REFUSED',
          `the server answered this account as a ${server.role} account, but the device that paired holds it ` +
            `as a ${input.role} account: nothing was done; tell the server operator if it persists`,
        );
      }
      const roleSig = await checkServedRole(deps.ed, keys, server, null);
      const { device, cert } = await newDevice(keys, input.deviceName, deps.ed, now);
      track(device);
      return asRegisteredDevice(deps, keys, cert, now, async () => {
        const session = await openSession(deps.api, device, deps.ed);
        const current = await deps.api.getWrappedRoot(session.token);
        await checkServedWrap(deps.ed, keys, current);
        const published = await publishAtJoin(deps, keys, device, server, session.token);
        const account = unlocked({
          root: input.root,
          keys,
          role: server.role,
          loginName: input.loginName,
          device,
          deviceName: input.deviceName,
        });
        await writeRecord(deps.vault, account, current.wrappedRoot, current.gen, published, roleSig);
        heldGenerations.set(account, current.gen);
        return account;
      });
    });
  });
}
