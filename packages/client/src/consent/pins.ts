/**
 * Pinned keys: each provider's identity key (pinned when the patient verifies it or at the first grant) and
 * wrapping key (pinned at the first wrap), as the device directory and the server present them.
 *
 * Invariants:
 * - A provider's identity key is pinned the first time the patient verifies it (or, failing that, at the
 *   first grant); a later grant to an account whose key differs from the pinned one is refused with
 *   KEY_CHANGED until the patient verifies again. Pins are written through device meta's `update`, so
 *   grants and verifications at once keep every pin.
 * - Stream keys are wrapped only to a grantee's wrapping key that its identity key signed (checked by the
 *   device directory: the server cannot substitute its own) and that matches the one pinned with the
 *   identity key at the first wrap (pinned again after the patient verifies again). `grant` refuses
 *   otherwise — WRAPPING_KEY_UNVERIFIED, or KEY_CHANGED — before anything is published; re-keying skips
 *   such a holder (it gets no key) and each later check tries it again (`wrapMissing`).
 */
import type { ConsentCore } from './consent-core';
import { CONSENT_STATE } from './stored-state';
import { base64urlEncode } from '@hale/crypto';
import { isWrappingKeyError } from '../sync/device-directory';
import { ConsentError, PINNED_WRAPPING_KEY } from './consent-types';
import type { Pins } from './consent-parts';

export const createPins = (c: ConsentCore): Pins => {
  const { deps } = c;
  const pinnedKeys = async () => (await deps.meta.get('pinned-keys', CONSENT_STATE.pinnedKeys)) ?? {};
  /**
   * Pins `identity` as `accountId`'s key, through `update` (a key's writes run one at a time): a copy of
   * the pins read before another call pinned (a grant to another provider, a verification at the same
   * time) and written back after it would drop that pin, and the next grant to that provider would trust
   * whatever key the server presents then. `firstOnly` (a grant): a pin held is kept, and one of another
   * key throws KEY_CHANGED; otherwise (the patient verified) it replaces the pin held.
   */
  const pinIdentity = async (accountId: string, identity: Uint8Array, firstOnly: boolean): Promise<void> => {
    const current = base64urlEncode(identity);
    await deps.meta.update('pinned-keys', CONSENT_STATE.pinnedKeys, (all) => {
      const held = all !== null && Object.hasOwn(all, accountId) ? all[accountId] : undefined;
      if (held === current) return all;
      if (firstOnly && held !== undefined) {
        throw new ConsentError(
          'KEY_CHANGED',
          "this provider's key changed since you verified it; compare the safety number again before sharing",
        );
      }
      return { ...(all ?? {}), [accountId]: current };
    });
  };
  /** A lookup that fails rejects with its failure (offline is no unknown account). */
  const identityOf = async (accountId: string): Promise<Uint8Array> => {
    deps.directory.forget(accountId);
    const presented = await deps.directory.presentedIdentity(accountId);
    if (!presented)
      throw new ConsentError('UNKNOWN_ACCOUNT', `account ${accountId} is not known to the server`);
    if (!presented.selfCertified) {
      throw new ConsentError(
        'KEY_CHANGED',
        'the server presents a key that does not belong to this account; do not share until you have checked',
      );
    }
    return presented.key;
  };
  const pinnedWrappingKeys = async () =>
    (await deps.meta.get(PINNED_WRAPPING_KEY, CONSENT_STATE.pinnedKeys)) ?? {};
  /** The patient verified the account again: its wrapping key is pinned anew at the next wrap. */
  const unpinWrappingKey = async (accountId: string): Promise<void> => {
    deps.directory.unpinWrappingKey(accountId);
    if ((await pinnedWrappingKeys())[accountId] === undefined) return;
    await deps.meta.update(PINNED_WRAPPING_KEY, CONSENT_STATE.pinnedKeys, (all) => {
      const next = { ...(all ?? {}) };
      delete next[accountId];
      return next;
    });
  };
  /**
   * The account's wrapping key, only as its identity key signed it (device directory) and as pinned at
   * the first wrap (pinned now if not yet). Null when the server knows no such account (or presents an
   * identity key that is not the account's). Throws ConsentError WRAPPING_KEY_UNVERIFIED (the server
   * presents a key the account did not sign) or KEY_CHANGED (another key than the pinned one).
   */
  const wrappingKeyOf = async (accountId: string): Promise<Uint8Array | null> => {
    let key: Uint8Array | null;
    try {
      key = await deps.directory.wrappingKey(accountId);
    } catch (error) {
      if (!isWrappingKeyError(error)) throw error;
      throw new ConsentError(
        error.code === 'WRAPPING_KEY_CHANGED' ? 'KEY_CHANGED' : 'WRAPPING_KEY_UNVERIFIED',
        `${error.message}; nothing was shared with it`,
      );
    }
    if (!key) return null;
    const encoded = base64urlEncode(key);
    const pinned = (await pinnedWrappingKeys())[accountId];
    if (pinned !== undefined && pinned !== encoded) {
      throw new ConsentError(
        'KEY_CHANGED',
        `the wrapping key of account ${accountId} changed since it was pinned; verify the account again before sharing`,
      );
    }
    if (pinned === undefined) {
      await deps.meta.update(PINNED_WRAPPING_KEY, CONSENT_STATE.pinnedKeys, (all) => ({
        ...(all ?? {}),
        [accountId]: encoded,
      }));
    }
    return key;
  };
  /** As `wrappingKeyOf`, for re-keying: a refused key is skipped (null), so the other holders still get theirs. */
  const holderWrappingKey = async (accountId: string): Promise<Uint8Array | null> => {
    try {
      return await wrappingKeyOf(accountId);
    } catch (error) {
      if (error instanceof ConsentError) return null;
      throw error;
    }
  };
  return { pinnedKeys, pinIdentity, identityOf, unpinWrappingKey, wrappingKeyOf, holderWrappingKey };
};
