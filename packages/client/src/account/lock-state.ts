/**
 * Locked accounts: `lock` zeroes an account's key bytes in place and remembers the objects as dead.
 *
 * - An object sharing a key object with a locked account (a session's DeviceAccount) is as locked as it:
 *   `isLocked` / `assertUnlocked` (AccountError LOCKED) check every part.
 * - `onLock` listeners run in the `lock` call, after the bytes are zeroed (an idle session closes at once).
 * - `heldGenerations`: per account object, the wrap generation it was opened with or last took (a number,
 *   not key material), for a session given the account but not the vault.
 * - Cached key objects of the crypto implementations are dropped too (`forgetCachedKeys`).
 */
import { type AccountKeys, type DeviceKeys, forgetCachedKeys } from '@hale/crypto';
import { AccountError } from '../core/account-error';
import type { UnlockedAccount } from './account-deps';

// Locking zeroes key bytes in place; this remembers which account objects are dead. The key objects are
// remembered too, so an object built from a locked account's keys (a session's DeviceAccount) is refused.
const lockedAccounts = new WeakSet<object>();

// The wrap generation this device held when each account object was unlocked, created or joined, kept up
// to date by changePassphrase and refreshWrappedRoot: a device session given the account but not the vault
// compares the server's generation with it. A number, not key material.
export const heldGenerations = new WeakMap<object, number>();

/** The wrap generation this account object was opened with or last took on this device, if it is known. */
export const knownWrappedRootGen = (account: object): number | undefined => heldGenerations.get(account);

/** The parts of an account object `lock` zeroes; any object holding one of them is as locked as it. */
export interface LockableAccount {
  readonly root?: Uint8Array;
  readonly keys?: AccountKeys;
  readonly device?: DeviceKeys;
}

/**
 * Throws AccountError LOCKED when `account`, or a key object it shares with an account object, was
 * locked: its key bytes are zeroes. For everything that is handed an account, e.g. openDeviceSession.
 */
export function assertUnlocked(account: LockableAccount): void {
  if (isLocked(account)) throw new AccountError('LOCKED', 'the account is locked; unlock it again');
}

// Who wants to know at once that an account was locked (an open device session: an idle one would else
// notice only when it next used a key, its socket authenticated meanwhile). Keyed by every key object, as
// `isLocked` checks them.
const lockListeners = new WeakMap<object, Set<() => void>>();

const partsOf = (account: LockableAccount): object[] =>
  [account, account.root, account.keys, account.device].filter(
    (part): part is object => typeof part === 'object' && part !== null,
  );

/** Adds `listener` under every part of `account`; returns the call that removes it again. */
function listenOn<L>(listeners: WeakMap<object, Set<L>>, account: LockableAccount, listener: L): () => void {
  const parts = partsOf(account);
  for (const part of parts) {
    const set = listeners.get(part) ?? new Set();
    set.add(listener);
    listeners.set(part, set);
  }
  return () => {
    for (const part of parts) listeners.get(part)?.delete(listener);
  };
}

/** The listeners under any part of `account`, each once. */
const listenersOf = <L>(listeners: WeakMap<object, Set<L>>, account: LockableAccount): Set<L> =>
  new Set(partsOf(account).flatMap((part) => [...(listeners.get(part) ?? [])]));

/**
 * Calls `listener` once `account`, or an account object sharing a key object with it, is locked, in the
 * `lock` call, after its bytes are zeroed. Returns the call that stops listening.
 */
export function onLock(account: LockableAccount, listener: () => void): () => void {
  return listenOn(lockListeners, account, listener);
}

/** Whether `account`, or a key object it shares with an account object, was locked (`assertUnlocked`). */
export function isLocked(account: LockableAccount): boolean {
  return partsOf(account).some((part) => lockedAccounts.has(part));
}

/**
 * Zeroes every secret byte the account object holds; the object is unusable afterwards. Imported key
 * objects hold the secrets too, so every cached one in this realm is dropped (`forgetCachedKeys`; other
 * accounts' are imported again when next used).
 */
export function lock(account: UnlockedAccount): void {
  forgetCachedKeys();
  account.root.fill(0);
  account.keys.identity.secretKey.fill(0);
  account.keys.wrapping.secretKey.fill(0);
  account.keys.localKey.fill(0);
  account.device.secretKey.fill(0);
  for (const part of partsOf(account)) lockedAccounts.add(part);
  for (const listener of listenersOf(lockListeners, account)) {
    try {
      listener();
    } catch {
      // A listener's failure must not fail the lock: the bytes are zeroed whatever it does.
    }
  }
}
