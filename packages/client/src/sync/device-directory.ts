/**
 * Which device keys belong to which account, from certificates the server relays but cannot forge.
 *
 * Invariants: a device key is trusted only if its certificate verifies against the account's identity
 * key and that key hashes to the account id (self-certifying ids), so a server cannot add a device to
 * someone else's account. Revoked devices are not trusted for new verifications.
 * - A cached device list is used for at most `maxAgeMs` (default 5 minutes) and until `expire()` (the
 *   session calls it on every reconnect), so a device revoked by its account stops being trusted in a
 *   long session too. Lookups are per account, never per record: one load per account at a time, shared
 *   by every caller; an unknown device id reloads a list once, and at most once per `refreshIntervalMs / 30`
 *   for all unknown ids of an account (a list loaded a moment ago for other reasons may predate a device
 *   added just now, so it is asked again).
 * Failure modes: `lookupDeviceKey` tells "not a device of that account" (`unknown`) from "could not ask"
 * (`unavailable`: the load failed and no cached list names the device), so a caller can quarantine the
 * latter for a retry instead of for good. When a reload fails, a device the last list named is still
 * answered from it (availability over a revocation the server could withhold anyway); `deviceKey`
 * answers null for both failures.
 * - Wrapping keys: the X25519 key another account's stream keys and audit bodies are wrapped to is
 *   trusted only if the account's identity key signed it (`wrappingKeySignaturePayload`, relayed by the
 *   server as `wrappingKeySig`), so a server cannot put its own key in the account answer and read what
 *   is wrapped to it. The first verified key of an account is pinned for the directory's lifetime (until
 *   `unpinWrappingKey`): a later answer with another key, even a signed one, is refused. `wrappingKey` throws WrappingKeyError —
 *   `WRAPPING_KEY_UNVERIFIED` (no signature, or one that does not verify) or `WRAPPING_KEY_CHANGED` — and
 *   never answers an unverified key; it answers null, as before, when the account is unknown or its
 *   identity key does not belong to it. Device lookups do not depend on the wrapping key.
 */
import {
  accountIdFromIdentityKey,
  base64urlDecode,
  constantTimeEqual,
  verifyCanonical,
  verifyDeviceCertificate,
  type Ed25519,
} from '@hale/crypto';
import { wrappingKeySignaturePayload } from '@hale/protocol';

export interface AccountDevicesInfo {
  accountId: string;
  identityPublicKey: string;
  wrappingPublicKey: string;
  /** The identity key's signature over the wrapping key (`wrappingKeySignaturePayload`); absent if none. */
  wrappingKeySig?: string;
  role: 'patient' | 'provider';
  devices: unknown[];
}

export type WrappingKeyErrorCode = 'WRAPPING_KEY_UNVERIFIED' | 'WRAPPING_KEY_CHANGED';

/** The server's wrapping key for an account cannot be trusted: nothing may be wrapped to it. */
export class WrappingKeyError extends Error {
  constructor(
    readonly code: WrappingKeyErrorCode,
    readonly accountId: string,
    message: string,
  ) {
    super(message);
    this.name = 'WrappingKeyError';
  }
}

export const isWrappingKeyError = (error: unknown): error is WrappingKeyError =>
  error instanceof WrappingKeyError;

type WrappingState =
  | { status: 'verified'; key: Uint8Array }
  | { status: 'refused'; code: WrappingKeyErrorCode; message: string };

export type DeviceKeyLookup =
  { status: 'found'; key: Uint8Array } | { status: 'unknown' } | { status: 'unavailable'; message: string };

interface Entry {
  at: number;
  /** `expire()` count when loaded: an entry of an earlier generation is reloaded at its next use. */
  generation: number;
  /** Loaded to look for a device the cached list did not name. */
  forced: boolean;
  devices: Map<string, Uint8Array>;
  wrapping: WrappingState;
  identity: Uint8Array;
  selfCertified: boolean;
}

/** A thrown lookup error that is the server's answer "no such account", not a failure to ask. */
const isNotFound = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'NOT_FOUND';

export const createDeviceDirectory = (deps: {
  ed: Ed25519;
  getAccount: (accountId: string) => Promise<AccountDevicesInfo>;
  now: () => number;
  refreshIntervalMs?: number;
  /** How long a loaded device list is trusted before the next use reloads it. */
  maxAgeMs?: number;
}) => {
  const cache = new Map<string, Entry>();
  const loading = new Map<string, Promise<Entry | null>>();
  const interval = deps.refreshIntervalMs ?? 30_000;
  const maxAge = deps.maxAgeMs ?? 5 * 60_000;
  let generation = 0;
  /** The first verified wrapping key of each account: never replaced, not dropped by `forget`/`expire`. */
  const pinnedWrapping = new Map<string, Uint8Array>();
  /** Checks the presented wrapping key against the account's identity signature and the pinned key. */
  const checkWrapping = async (
    info: AccountDevicesInfo,
    identity: Uint8Array,
    wrapping: Uint8Array,
  ): Promise<WrappingState> => {
    const accountId = info.accountId;
    const refused = (code: WrappingKeyErrorCode, message: string): WrappingState => ({
      status: 'refused',
      code,
      message,
    });
    if (info.wrappingKeySig === undefined) {
      return refused(
        'WRAPPING_KEY_UNVERIFIED',
        `the server presents no signature of account ${accountId} over its wrapping key`,
      );
    }
    const sig = base64urlDecode(info.wrappingKeySig);
    const payload = wrappingKeySignaturePayload(info);
    if (!sig.ok || !(await verifyCanonical(deps.ed, identity, payload.label, payload, sig.value))) {
      return refused(
        'WRAPPING_KEY_UNVERIFIED',
        `the wrapping key the server presents for account ${accountId} is not signed by its identity key`,
      );
    }
    const pinned = pinnedWrapping.get(accountId);
    if (pinned !== undefined && !constantTimeEqual(pinned, wrapping)) {
      return refused(
        'WRAPPING_KEY_CHANGED',
        `the wrapping key the server presents for account ${accountId} differs from the one it presented before`,
      );
    }
    if (pinned === undefined) pinnedWrapping.set(accountId, wrapping);
    return { status: 'verified', key: wrapping };
  };
  const load = async (accountId: string, forced: boolean): Promise<Entry | null> => {
    // Taken before asking: a list fetched before an `expire()` must not count as fetched after it.
    const loadedIn = generation;
    const info = await deps.getAccount(accountId);
    const identity = base64urlDecode(info.identityPublicKey);
    const wrapping = base64urlDecode(info.wrappingPublicKey);
    if (!identity.ok || !wrapping.ok || info.accountId !== accountId) return null;
    // Self-certifying ids: a key that does not hash to the account id was not made by that account.
    const selfCertified = accountIdFromIdentityKey(identity.value) === accountId;
    const devices = new Map<string, Uint8Array>();
    for (const cert of info.devices) {
      const v = await verifyDeviceCertificate(cert, deps.ed, { accountId });
      if (v.ok && base64urlDecode(info.identityPublicKey).ok) {
        const certIdentity = (cert as { cert: { identityPublicKey: string } }).cert.identityPublicKey;
        if (certIdentity === info.identityPublicKey) devices.set(v.value.deviceId, v.value.devicePublicKey);
      }
    }
    const entry: Entry = {
      at: deps.now(),
      generation: loadedIn,
      forced,
      devices: selfCertified ? devices : new Map<string, Uint8Array>(),
      // Only for a self-certified identity key: a signature by any other key proves nothing.
      wrapping: selfCertified
        ? await checkWrapping(info, identity.value, wrapping.value)
        : { status: 'refused', code: 'WRAPPING_KEY_UNVERIFIED', message: 'identity key not self-certified' },
      identity: identity.value,
      selfCertified,
    };
    cache.set(accountId, entry);
    return entry;
  };
  /** One load per account at a time: concurrent callers (a batch, overlapping frames) share it. */
  const reload = (accountId: string, forced: boolean): Promise<Entry | null> => {
    let p = loading.get(accountId);
    if (!p) {
      p = load(accountId, forced).finally(() => loading.delete(accountId));
      loading.set(accountId, p);
    }
    return p;
  };
  const usable = (e: Entry): boolean => e.generation === generation && deps.now() - e.at < maxAge;
  /**
   * The account's entry (reloaded when absent, too old, expired or `fresh`; `loaded` then); `failed` when
   * a load failed.
   */
  const get = async (
    accountId: string,
    fresh = false,
  ): Promise<{ entry: Entry | null; failed?: string; loaded?: boolean }> => {
    const hit = cache.get(accountId);
    if (hit && !fresh && usable(hit)) return { entry: hit };
    try {
      return { entry: await reload(accountId, fresh), loaded: true };
    } catch (error) {
      if (isNotFound(error)) return { entry: null };
      return { entry: hit ?? null, failed: error instanceof Error ? error.message : String(error) };
    }
  };
  const lookupDeviceKey = async (accountId: string, deviceId: string): Promise<DeviceKeyLookup> => {
    const first = await get(accountId);
    const key = first.entry?.devices.get(deviceId);
    if (key) return { status: 'found', key };
    if (first.failed !== undefined) return { status: 'unavailable', message: first.failed };
    // Loaded for this lookup, or re-asked for an unknown device less than a moment ago: the answer
    // stands, so a flood of unknown ids costs one extra load per account and moment, not one each. A list
    // merely loaded a moment ago is asked again once: it may predate a device added just now.
    if (first.loaded === true) return { status: 'unknown' };
    if (first.entry?.forced === true && deps.now() - first.entry.at < interval / 30) {
      return { status: 'unknown' };
    }
    const again = await get(accountId, true);
    const fresh = again.entry?.devices.get(deviceId);
    if (fresh) return { status: 'found', key: fresh };
    return again.failed !== undefined
      ? { status: 'unavailable', message: again.failed }
      : { status: 'unknown' };
  };
  return {
    lookupDeviceKey,
    async deviceKey(accountId: string, deviceId: string): Promise<Uint8Array | null> {
      const r = await lookupDeviceKey(accountId, deviceId);
      return r.status === 'found' ? r.key : null;
    },
    /**
     * The account's wrapping key, only as the account itself signed it (and as first seen): null when the
     * account is unknown or its presented identity key is not its own; WrappingKeyError when the key is
     * not signed by that identity key or differs from the pinned one. Never an unverified key.
     */
    async wrappingKey(accountId: string): Promise<Uint8Array | null> {
      const { entry } = await get(accountId);
      if (!entry?.selfCertified) return null;
      if (entry.wrapping.status === 'refused') {
        throw new WrappingKeyError(entry.wrapping.code, accountId, entry.wrapping.message);
      }
      return entry.wrapping.key;
    },
    async identityKey(accountId: string): Promise<Uint8Array | null> {
      const { entry } = await get(accountId);
      return entry?.selfCertified ? entry.identity : null;
    },
    /** The key the server presents for an account, and whether it really belongs to that account id. */
    async presentedIdentity(accountId: string): Promise<{ key: Uint8Array; selfCertified: boolean } | null> {
      const { entry } = await get(accountId, true);
      return entry ? { key: entry.identity, selfCertified: entry.selfCertified } : null;
    },
    forget: (accountId: string): boolean => cache.delete(accountId),
    /** The user verified the account again: the next verified wrapping key is pinned instead. */
    unpinWrappingKey(accountId: string): void {
      pinnedWrapping.delete(accountId);
      cache.delete(accountId);
    },
    /** Every cached list is reloaded at its next use (called on reconnect: revocations made meanwhile). */
    expire(): void {
      generation++;
    },
  };
};

export type DeviceDirectory = ReturnType<typeof createDeviceDirectory>;
