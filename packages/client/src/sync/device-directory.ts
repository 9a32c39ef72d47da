/**
 * Which device and wrapping keys belong to which account, from signatures the server relays but cannot forge.
 *
 * Invariants:
 * - A device key is trusted only if its certificate verifies under an identity key hashing to the account id.
 * - A revoked device counts only for what it signed before its cutoff (`revokedAt`); `deviceKey` skips it.
 * - Cutoff: earliest of the server's `revokedAt`, a verified signed revocation, the local clock at the check.
 * - No served time, or no `getDevice` route: the revoked device is `unknown`.
 * - Revoked is final for the directory's lifetime, even when a later or the same answer lists it active.
 * - Verified revocations persist (`remembered`, at most MAX_REMEMBERED_REVOCATIONS); server-only ones do not.
 * - An own revocation (`noteRevocation`) counts at once, in cached and loading lists too.
 * - `authorRulesId` names the author rules: records refused BAD_AUTHOR under other rules are judged again.
 * - Lists are cached for `maxAgeMs` and until `expire()` (each reconnect), which also voids loads under way.
 * - One load per account at a time; an unknown id reloads at most once per `refreshIntervalMs / 30`.
 * - `unknown` only from a list asked for after the lookup began; otherwise `unavailable` (asked again later).
 * - `preload` (MAX_ACCOUNTS_PER_LOOKUP a batch) never changes an answer; every account in it settles.
 * - Without the batch route (`getAccounts`, or its NOT_FOUND), lists load one by one until `expire()`.
 * - A wrapping key counts only if the identity key signed it; the first is pinned (until `unpinWrappingKey`).
 * Failure modes: `unknown` (not the account's) vs `unavailable` (could not ask); a failed reload still
 * answers what the last list named; `deviceKey` answers null for both; `wrappingKey` throws WrappingKeyError
 * for an unverified or changed key; `wrappingKey`, `identityKey` reject a failed lookup with nothing cached.
 * Limit: a thief of a revoked device's key with a colluding server can date signatures back.
 */
import {
  accountIdFromIdentityKey,
  base64urlDecode,
  constantTimeEqual,
  verifyCanonical,
  verifyDeviceCertificate,
  type Ed25519,
} from '@hale/crypto';
import type { SignedDeviceRevocation } from '@hale/protocol';
import {
  MAX_ACCOUNTS_PER_LOOKUP,
  MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT,
  wrappingKeySignaturePayload,
} from '@hale/protocol';
import {
  type WrappingState,
  type Entry,
  type RevokedAnswer,
  isNotFound,
  isRouteMissing,
  isAnswerShape,
  isDeviceAnswerShape,
  deviceKeyOf,
  NOT_PRELOADED,
  type Loading,
  type Settle,
  type AccountDevicesInfo,
  type AccountDeviceInfo,
  type AccountsDevicesAnswer,
  type WrappingKeyErrorCode,
  WrappingKeyError,
  type DeviceKeyLookup,
  type AuthorKey,
  type AuthorUnavailable,
  authorRulesId,
  signedRevocationTime,
  type RememberedRevocation,
  MAX_REMEMBERED_REVOCATIONS,
} from './device-directory-types';
export {
  type AccountDevicesInfo,
  type AccountDeviceInfo,
  type AccountsDevicesAnswer,
  type WrappingKeyErrorCode,
  WrappingKeyError,
  isWrappingKeyError,
  type DeviceKeyLookup,
  type AuthorKey,
  type AuthorUnavailable,
  AUTHOR_RULES_VERSION,
  authorRulesId,
  signedRevocationTime,
  type RememberedRevocation,
  MAX_REMEMBERED_REVOCATIONS,
} from './device-directory-types';

/**
 * Other accounts' certified devices and wrapping keys, each checked against its account's signature.
 *
 * @throws `WrappingKeyError` for a wrapping key not signed by its account.
 */
export const createDeviceDirectory = (deps: {
  ed: Ed25519;
  getAccount: (accountId: string) => Promise<AccountDevicesInfo>;
  /**
   * The lists of up to MAX_ACCOUNTS_PER_LOOKUP accounts in one request (`preload`); throws NOT_FOUND (or an
   * error with `status` 404) when the server lacks the route. Without it, `preload` does nothing.
   */
  getAccounts?: (accountIds: string[]) => Promise<AccountsDevicesAnswer>;
  /**
   * One device of an account whatever its state (`getAccountDevice`), asked for a device the account lists
   * as revoked; throws NOT_FOUND (or an error with `status` 404) for an unknown device or when the server
   * lacks the route. Without it, a revoked device is unknown.
   */
  getDevice?: (accountId: string, deviceId: string) => Promise<AccountDeviceInfo>;
  now: () => number;
  refreshIntervalMs?: number;
  /** How long a loaded device list is trusted before the next use reloads it. */
  maxAgeMs?: number;
  /**
   * Revocations verified in an earlier session, and where to keep new ones (device meta): each device is
   * revoked from its kept cutoff on, whatever the server answers now. A load that fails keeps nothing.
   */
  remembered?: {
    load: () => Promise<readonly RememberedRevocation[]>;
    save: (all: readonly RememberedRevocation[]) => Promise<void>;
  };
}) => {
  const cache = new Map<string, Entry>();
  const loading = new Map<string, Loading>();
  /** The server answered a batched lookup NOT_FOUND (no such route): one account at a time until `expire()`. */
  let batchUnsupported = false;
  const interval = deps.refreshIntervalMs ?? 30_000;
  const maxAge = deps.maxAgeMs ?? 5 * 60_000;
  let generation = 0;
  /**
   * Ids each account's answers listed as revoked, for the directory's lifetime: not dropped by
   * `forget`/`expire`, so an older list served later cannot make such a device active again.
   */
  const revokedSeen = new Map<string, Set<string>>();
  /** Revocations verified by the account's signature, here or in an earlier session: id → cutoff (ms). */
  const verifiedCutoffs = new Map<string, { accountId: string; deviceId: string; at: number }>();
  /**
   * The device ids of `verifiedCutoffs` by account: revoked in every answer of that account, also past
   * `revokedSeen`'s bound, which an answer listing made-up ids can fill.
   */
  const verifiedByAccount = new Map<string, Set<string>>();
  /** The account's devices this directory holds revoked: seen revoked in its answers, or verified so. */
  const revokedOf = (accountId: string): string[] => [
    ...(revokedSeen.get(accountId) ?? []),
    ...(verifiedByAccount.get(accountId) ?? []),
  ];
  /** Keeps a verified cutoff, as the newest; past the bound, drops one of the account keeping the most. */
  const keepVerified = (accountId: string, deviceId: string, at: number): void => {
    const id = deviceKeyOf(accountId, deviceId);
    verifiedCutoffs.delete(id);
    verifiedCutoffs.set(id, { accountId, deviceId, at });
    let ids = verifiedByAccount.get(accountId);
    if (ids === undefined) verifiedByAccount.set(accountId, (ids = new Set()));
    ids.add(deviceId);
    while (verifiedCutoffs.size > MAX_REMEMBERED_REVOCATIONS) {
      // The oldest of the account keeping the most, not the oldest of all: an account that signs
      // revocations by the thousand (with a server serving them to this device) pushes out its own, never
      // the revocation of another account's stolen phone.
      let largest: { accountId: string; count: number } | undefined;
      for (const [account, kept] of verifiedByAccount) {
        if (largest === undefined || kept.size > largest.count)
          largest = { accountId: account, count: kept.size };
      }
      if (largest === undefined) break;
      for (const [key, r] of verifiedCutoffs) {
        if (r.accountId !== largest.accountId) continue;
        verifiedCutoffs.delete(key);
        const left = verifiedByAccount.get(r.accountId);
        left?.delete(r.deviceId);
        if (left?.size === 0) verifiedByAccount.delete(r.accountId);
        break;
      }
    }
  };
  const seeRevoked = (accountId: string, deviceId: string): void => {
    let seen = revokedSeen.get(accountId);
    if (seen === undefined) revokedSeen.set(accountId, (seen = new Set()));
    // No account registers more devices than that: past it the server is making ids up (what an answer
    // lists still counts for that answer).
    if (seen.size < MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT) seen.add(deviceId);
  };
  const rememberedReady: Promise<void> = (async () => {
    const kept = await deps.remembered?.load().catch(() => []);
    for (const r of kept ?? []) {
      const at = Date.parse(r.revokedAt);
      if (Number.isNaN(at)) continue;
      keepVerified(r.accountId, r.deviceId, at);
      seeRevoked(r.accountId, r.deviceId);
    }
  })();
  let saving: Promise<void> = Promise.resolve();
  /** Keeps a verified revocation's cutoff for later sessions (bounded: see `keepVerified`). */
  const remember = (accountId: string, deviceId: string, at: number): void => {
    const kept = verifiedCutoffs.get(deviceKeyOf(accountId, deviceId));
    if (kept !== undefined && kept.at <= at) return;
    keepVerified(accountId, deviceId, at);
    const save = deps.remembered?.save;
    if (save === undefined) return;
    const all = [...verifiedCutoffs.values()].map((r) => ({
      accountId: r.accountId,
      deviceId: r.deviceId,
      revokedAt: new Date(r.at).toISOString(),
    }));
    // In order, and never failing a lookup: a cutoff not kept is kept at its next verification.
    saving = saving.then(() => save(all)).catch(() => undefined);
  };
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
  /**
   * The account's load in flight, only if asked for since the last `expire()`: one asked before may answer
   * a list that predates a revocation, so a lookup after it never shares it.
   */
  const loadingNow = (accountId: string, after = -1): Loading | undefined => {
    const current = loading.get(accountId);
    return current !== undefined && current.generation === generation && current.seq > after
      ? current
      : undefined;
  };
  /** How many loads this directory began (`Loading.seq` of the last). */
  let loadsBegun = 0;
  const load = async (accountId: string, forced: boolean): Promise<Entry | null> => {
    // Taken before asking: a list fetched before an `expire()` must not count as fetched after it.
    const loadedIn = generation;
    return enter(accountId, await deps.getAccount(accountId), forced, loadedIn);
  };
  /** Checks the server's answer for `accountId` and caches what it proves (null: not this account's). */
  const enter = async (
    accountId: string,
    info: AccountDevicesInfo,
    forced: boolean,
    loadedIn: number,
  ): Promise<Entry | null> => {
    await rememberedReady;
    const identity = base64urlDecode(info.identityPublicKey);
    const wrapping = base64urlDecode(info.wrappingPublicKey);
    if (!identity.ok || !wrapping.ok || info.accountId !== accountId) return null;
    // Self-certifying ids: a key that does not hash to the account id was not made by that account.
    const selfCertified = accountIdFromIdentityKey(identity.value) === accountId;
    // A revocation is final: one seen in an earlier answer stands, whatever a later (replayed) one lists.
    const listed = selfCertified ? (info.revokedDevices ?? []) : [];
    for (const id of listed) seeRevoked(accountId, id);
    const revoked = new Set([...listed, ...revokedOf(accountId)]);
    const devices = new Map<string, Uint8Array>();
    for (const cert of info.devices) {
      const v = await verifyDeviceCertificate(cert, deps.ed, { accountId });
      // Listed as revoked too: revoked (looked up with its cutoff), never trusted as an active device.
      if (v.ok && !revoked.has(v.value.deviceId)) {
        const certIdentity = (cert as { cert: { identityPublicKey: string } }).cert.identityPublicKey;
        if (certIdentity === info.identityPublicKey) devices.set(v.value.deviceId, v.value.devicePublicKey);
      }
    }
    // Only for a self-certified identity key: a signature by any other key proves nothing.
    const wrappingState: WrappingState = selfCertified
      ? await checkWrapping(info, identity.value, wrapping.value)
      : { status: 'refused', code: 'WRAPPING_KEY_UNVERIFIED', message: 'identity key not self-certified' };
    // After the last await: a revocation this device made while the answer was checked (`noteRevocation`)
    // stands too, as the answer may predate it.
    for (const id of revokedOf(accountId)) {
      revoked.add(id);
      devices.delete(id);
    }
    const entry: Entry = {
      at: deps.now(),
      generation: loadedIn,
      forced,
      devices: selfCertified ? devices : new Map<string, Uint8Array>(),
      revoked,
      wrapping: wrappingState,
      identity: identity.value,
      selfCertified,
    };
    // A load asked before an `expire()` may land after one asked since: it must not replace the newer list
    // (a failed reload answers from the cached one).
    const cached = cache.get(accountId);
    if (cached === undefined || cached.generation <= loadedIn) cache.set(accountId, entry);
    return entry;
  };
  /**
   * One load per account at a time: concurrent callers (a batch, overlapping frames) share it, a preload's
   * too; an account the preload did not load is then loaded alone. Not one asked for before the last
   * `expire()`: a new load is started beside it, and takes its place.
   */
  const reload = async (
    accountId: string,
    forced: boolean,
    after = -1,
  ): Promise<{ entry: Entry | null; seq: number }> => {
    for (;;) {
      let current = loadingNow(accountId, after);
      if (!current) {
        // `.finally` runs after `slot` is assigned: a load settles asynchronously.
        const slot: Loading = {
          generation,
          seq: ++loadsBegun,
          promise: load(accountId, forced).finally(() => {
            if (loading.get(accountId) === slot) loading.delete(accountId);
          }),
        };
        current = slot;
        loading.set(accountId, slot);
      }
      const loaded = await current.promise;
      if (loaded !== NOT_PRELOADED) return { entry: loaded, seq: current.seq };
    }
  };

  /** One request of a preload; settles every account's load. False when the request failed. */
  const loadBatch = async (batch: ReadonlyArray<{ accountId: string; settle: Settle }>): Promise<boolean> => {
    const loadedIn = generation;
    let answer: AccountsDevicesAnswer | null = null;
    try {
      if (deps.getAccounts && !batchUnsupported) {
        answer = await deps.getAccounts(batch.map((b) => b.accountId));
      }
    } catch (error) {
      if (isRouteMissing(error)) batchUnsupported = true;
    }
    // Not the shape asked for (an injected getAccounts need not validate): as a failed request.
    if (answer !== null && !isAnswerShape(answer)) answer = null;
    const infos = new Map<string, AccountDevicesInfo>();
    // The first answer for each account asked for; anything else the server adds is not taken.
    for (const info of answer?.accounts ?? [])
      if (!infos.has(info.accountId)) infos.set(info.accountId, info);
    const unknown = new Set(answer?.unknown ?? []);
    const settled = new Set<string>();
    try {
      for (const { accountId, settle } of batch) {
        const info = infos.get(accountId);
        const loaded: Entry | null | typeof NOT_PRELOADED =
          info === undefined
            ? unknown.has(accountId)
              ? null
              : NOT_PRELOADED
            : await enter(accountId, info, false, loadedIn).catch(() => NOT_PRELOADED);
        settled.add(accountId);
        settle(loaded);
      }
    } finally {
      // Never an account left loading: its lookups would wait for good.
      for (const { accountId, settle } of batch) if (!settled.has(accountId)) settle(NOT_PRELOADED);
    }
    return answer !== null;
  };

  /**
   * Loads the lists of those of `accountIds` neither cached (usable) nor loading, MAX_ACCOUNTS_PER_LOOKUP
   * per request (see the header). Never fails: what it could not load is loaded alone at its next lookup.
   */
  const preload = async (accountIds: Iterable<string>): Promise<void> => {
    if (!deps.getAccounts || batchUnsupported) return;
    const batches: Array<Array<{ accountId: string; settle: Settle }>> = [];
    for (const accountId of new Set(accountIds)) {
      const hit = cache.get(accountId);
      if ((hit && usable(hit)) || loadingNow(accountId) !== undefined) continue;
      let settle: Settle = () => undefined;
      const slot: Loading = {
        generation,
        seq: ++loadsBegun,
        promise: new Promise<Entry | null | typeof NOT_PRELOADED>((resolve) => {
          settle = resolve;
        }).finally(() => {
          if (loading.get(accountId) === slot) loading.delete(accountId);
        }),
      };
      loading.set(accountId, slot);
      let last = batches[batches.length - 1];
      if (!last || last.length >= MAX_ACCOUNTS_PER_LOOKUP) {
        last = [];
        batches.push(last);
      }
      last.push({ accountId, settle });
    }
    let failed = false;
    for (const batch of batches) {
      // Once a request failed the rest are not asked either: their lookups load them alone.
      if (failed) for (const b of batch) b.settle(NOT_PRELOADED);
      else failed = !(await loadBatch(batch));
    }
  };
  const usable = (e: Entry): boolean => e.generation === generation && deps.now() - e.at < maxAge;
  /**
   * The account's entry (reloaded when absent, too old, expired or `fresh`; `loaded` then); `failed` when
   * a load failed.
   */
  const get = async (
    accountId: string,
    fresh = false,
    after = -1,
  ): Promise<{ entry: Entry | null; failed?: string; error?: unknown; loaded?: number }> => {
    const hit = cache.get(accountId);
    if (hit && !fresh && usable(hit)) return { entry: hit };
    try {
      const { entry, seq } = await reload(accountId, fresh, after);
      return { entry, loaded: seq };
    } catch (error) {
      if (isNotFound(error)) return { entry: null };
      return { entry: hit ?? null, failed: error instanceof Error ? error.message : String(error), error };
    }
  };
  /**
   * The account's entry for a key of the account itself (wrapping, identity): null only when the server
   * answers no such account; a failed load with nothing cached rejects with its error, since told as "no
   * such account" a patient's grant or re-keying would treat a provider as one that does not exist.
   */
  const accountEntry = async (accountId: string): Promise<Entry | null> => {
    const { entry, failed, error } = await get(accountId);
    if (entry === null && failed !== undefined) throw error;
    return entry;
  };
  /**
   * Revoked devices' answers, kept for the directory's lifetime (a certificate never changes, a revocation
   * is final); a NOT_FOUND (a server without the route) only until `expire()`, a failure to ask not at all.
   */
  const revokedAnswers = new Map<string, RevokedAnswer>();
  /**
   * The device route answered NOT_FOUND last time it was asked: revoked devices are then unknown, as
   * without `getDevice` (`authorRules`). Not reset by `expire()`: only a device answered shows the route
   * is there, so a server without it does not make every reconnect judge such records again.
   */
  let revokedRouteMissing = false;
  /** The key of a device the account's answer lists as revoked, with the time it stopped being trusted. */
  const revokedKey = (accountId: string, deviceId: string, entry: Entry): Promise<DeviceKeyLookup> => {
    const getDevice = deps.getDevice;
    if (getDevice === undefined || !entry.selfCertified) return Promise.resolve({ status: 'unknown' });
    const id = deviceKeyOf(accountId, deviceId);
    const kept = revokedAnswers.get(id);
    if (kept !== undefined && (kept.generation === null || kept.generation === generation))
      return kept.answer;
    const held: RevokedAnswer = { generation: null, answer: Promise.resolve({ status: 'unknown' }) };
    /** A failure to ask or to check: kept for nothing, asked again at the next lookup. */
    const unavailable = (error: unknown): DeviceKeyLookup => {
      if (revokedAnswers.get(id) === held) revokedAnswers.delete(id);
      return { status: 'unavailable', message: error instanceof Error ? error.message : String(error) };
    };
    held.answer = (async (): Promise<DeviceKeyLookup> => {
      let info: AccountDeviceInfo;
      try {
        info = await getDevice(accountId, deviceId);
      } catch (error) {
        if (isRouteMissing(error)) {
          revokedRouteMissing = true;
          held.generation = generation;
          return { status: 'unknown' };
        }
        return unavailable(error);
      }
      // An injected route need not validate: an answer checkRevoked cannot read is a failed request, not
      // a refusal kept for good.
      if (!isDeviceAnswerShape(info))
        return unavailable(`the server's answer for device ${deviceId} is malformed`);
      revokedRouteMissing = false;
      try {
        return await checkRevoked(accountId, deviceId, entry.identity, info);
      } catch (error) {
        // A thrown check (an injected Ed25519 that fails) says nothing of the device: kept, it would make
        // every later lookup of it reject.
        return unavailable(error);
      }
    })();
    revokedAnswers.set(id, held);
    return held.answer;
  };
  /**
   * The served device checked as an active one is (certificate by the account's identity key, for this
   * device), and its cutoff: the earlier of the server's time and that of a signed revocation that
   * verifies (one that does not is ignored). No time at all: not trusted.
   */
  const checkRevoked = async (
    accountId: string,
    deviceId: string,
    identity: Uint8Array,
    info: AccountDeviceInfo,
  ): Promise<DeviceKeyLookup> => {
    const cert = await verifyDeviceCertificate(info.certificate, deps.ed, { accountId, deviceId });
    if (!cert.ok || !constantTimeEqual(cert.value.identityPublicKey, identity)) return { status: 'unknown' };
    const times: number[] = [];
    // Verified in an earlier session: stands whatever the server serves now (withheld, or a later time).
    const kept = verifiedCutoffs.get(deviceKeyOf(accountId, deviceId));
    if (kept !== undefined) times.push(kept.at);
    const served = info.revokedAt === undefined ? NaN : Date.parse(info.revokedAt);
    if (!Number.isNaN(served)) times.push(served);
    const signedAt = await signedRevocationTime(deps.ed, identity, accountId, deviceId, info.revocation);
    const at = signedAt === null ? NaN : Date.parse(signedAt);
    if (!Number.isNaN(at)) {
      times.push(at);
      // The account's own word: kept for later sessions, with the cutoff taken now.
      remember(accountId, deviceId, Math.min(...times, deps.now()));
    }
    if (times.length === 0) return { status: 'unknown' };
    // The account answer already listed the device as revoked, so it was revoked by now: a later time
    // served (a server leaving out the signed revocation to stretch the cutoff) is cut to this clock.
    times.push(deps.now());
    return {
      status: 'found',
      key: cert.value.devicePublicKey,
      revokedAt: new Date(Math.min(...times)).toISOString(),
    };
  };
  const lookupDeviceKey = async (accountId: string, deviceId: string): Promise<DeviceKeyLookup> => {
    // Loads begun before this lookup asked may predate the device (one added a moment ago, whose first
    // record is what is being checked): only a load begun after it answers "unknown".
    const asked = loadsBegun;
    const first = await get(accountId);
    const key = first.entry?.devices.get(deviceId);
    if (key) return { status: 'found', key };
    if (first.entry?.revoked.has(deviceId) === true) return revokedKey(accountId, deviceId, first.entry);
    if (first.failed !== undefined) return { status: 'unavailable', message: first.failed };
    // Loaded for this lookup: the answer stands, so a flood of unknown ids costs one extra load per account
    // and moment, not one each. A list merely loaded a moment ago is asked again once: it may predate a
    // device added just now. An account the server does not know, loaded with others (`preload`) before
    // this lookup asked, is not asked for again: a writer's account is older than the record checked.
    if (first.loaded !== undefined && (first.loaded > asked || first.entry === null)) {
      return { status: 'unknown' };
    }
    if (first.entry?.forced === true && deps.now() - first.entry.at < interval / 30) {
      // Re-asked for another device less than a moment ago, so not asked again now; but that list may
      // predate this device too, and "unknown" would set its records aside for good (BAD_AUTHOR): not
      // decided now (AUTHOR_LOOKUP_FAILED, fetched again later), never a device of the account.
      return {
        status: 'unavailable',
        message: `${deviceId} is not in the device list of ${accountId} fetched a moment ago; asked again later`,
      };
    }
    const again = await get(accountId, true, asked);
    const fresh = again.entry?.devices.get(deviceId);
    if (fresh) return { status: 'found', key: fresh };
    if (again.entry?.revoked.has(deviceId) === true) return revokedKey(accountId, deviceId, again.entry);
    return again.failed !== undefined
      ? { status: 'unavailable', message: again.failed }
      : { status: 'unknown' };
  };
  /**
   * A revocation this device made, which the server took (see the header): the device is revoked from its
   * cutoff at once, in the cached list too, and kept. False, changing nothing, unless `signed` verifies
   * against `identityPublicKey` and that key is the account's own (it hashes to the account id).
   */
  const noteRevocation = async (
    signed: SignedDeviceRevocation,
    identityPublicKey: Uint8Array,
    servedAt?: string,
  ): Promise<boolean> => {
    await rememberedReady;
    const { accountId, deviceId } = signed.revocation;
    if (accountIdFromIdentityKey(identityPublicKey) !== accountId) return false;
    const signedAt = await signedRevocationTime(deps.ed, identityPublicKey, accountId, deviceId, signed);
    const at = signedAt === null ? NaN : Date.parse(signedAt);
    if (Number.isNaN(at)) return false;
    const id = deviceKeyOf(accountId, deviceId);
    // The same cutoff a lookup of the device would take: the earliest of the signed time, the server's
    // (earlier when the device was revoked before), one kept from before and this clock.
    const times = [at, deps.now()];
    const served = servedAt === undefined ? NaN : Date.parse(servedAt);
    if (!Number.isNaN(served)) times.push(served);
    const kept = verifiedCutoffs.get(id);
    if (kept !== undefined) times.push(kept.at);
    const cutoff = Math.min(...times);
    seeRevoked(accountId, deviceId);
    const entry = cache.get(accountId);
    if (entry !== undefined) {
      const key = entry.devices.get(deviceId);
      entry.devices.delete(deviceId);
      entry.revoked.add(deviceId);
      // Its key as the cached list verified it (certificate by this same identity key): answered with the
      // cutoff from now on without asking the server, offline too. An answer already held (the device was
      // revoked before) stands.
      const held = revokedAnswers.get(id);
      if (
        key !== undefined &&
        entry.selfCertified &&
        constantTimeEqual(entry.identity, identityPublicKey) &&
        (held === undefined || held.generation !== null)
      ) {
        const answer: DeviceKeyLookup = { status: 'found', key, revokedAt: new Date(cutoff).toISOString() };
        revokedAnswers.set(id, { generation: null, answer: Promise.resolve(answer) });
      }
    }
    remember(accountId, deviceId, cutoff);
    await saving;
    return true;
  };
  return {
    /**
     * A device's key as the account's identity key certified it (see the header): `found`, with
     * `revokedAt` for a revoked device; `unknown` when not a device of the account; `unavailable` when
     * the list could not be loaded (asked again at a later lookup).
     */
    lookupDeviceKey,
    preload,
    /**
     * A revocation this device made and the server took (`revokeDevice`, wired by the session): taken at
     * once, not when an account answer lists it. Resolves once it is kept in device meta (a failed save is
     * not reported, as for lookups: it is kept at the next verification).
     */
    noteRevocation,
    /** The identity of the rules `lookupDeviceKey` answers by now (see the header). */
    authorRules: (): string => authorRulesId(deps.getDevice !== undefined && !revokedRouteMissing),
    /** An active device's key only: what a revoked device signs (key envelopes) is not taken at all. */
    async deviceKey(accountId: string, deviceId: string): Promise<Uint8Array | null> {
      const r = await lookupDeviceKey(accountId, deviceId);
      return r.status === 'found' && r.revokedAt === undefined ? r.key : null;
    },
    /**
     * An author's key, a revoked device's with its cutoff (`revokedAt`); null when not a device of the
     * account; `{ unavailable }` when it could not be asked (a failed load: the audit log reports such
     * entries as unverified for now, never as forged).
     */
    async authorKey(accountId: string, deviceId: string): Promise<AuthorKey | AuthorUnavailable | null> {
      const r = await lookupDeviceKey(accountId, deviceId);
      if (r.status === 'unavailable') return { unavailable: r.message };
      if (r.status !== 'found') return null;
      return r.revokedAt === undefined ? { key: r.key } : { key: r.key, revokedAt: r.revokedAt };
    },
    /**
     * The account's wrapping key, only as the account itself signed it (and as first seen): null when the
     * account is unknown or its presented identity key is not its own; WrappingKeyError when the key is
     * not signed by that identity key or differs from the pinned one. Never an unverified key. A lookup
     * that fails with nothing cached rejects with its error (offline is no unknown account); with a list
     * cached, its verified key is answered, as device lookups answer from it.
     */
    async wrappingKey(accountId: string): Promise<Uint8Array | null> {
      const entry = await accountEntry(accountId);
      if (!entry?.selfCertified) return null;
      if (entry.wrapping.status === 'refused') {
        throw new WrappingKeyError(entry.wrapping.code, accountId, entry.wrapping.message);
      }
      return entry.wrapping.key;
    },
    /** As `wrappingKey`: null when unknown or not self-certified; a failed lookup rejects. */
    async identityKey(accountId: string): Promise<Uint8Array | null> {
      const entry = await accountEntry(accountId);
      return entry?.selfCertified ? entry.identity : null;
    },
    /**
     * The key the server presents for an account, and whether it really belongs to that account id; null
     * when the server answers it has no such account. A lookup that fails (offline, a server error) rejects
     * with its error: told as "no such account", a patient would be told a provider does not exist.
     */
    async presentedIdentity(accountId: string): Promise<{ key: Uint8Array; selfCertified: boolean } | null> {
      let entry: Entry | null;
      try {
        entry = (await reload(accountId, true)).entry;
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
      return entry ? { key: entry.identity, selfCertified: entry.selfCertified } : null;
    },
    /** Drops the cached list of `accountId` (reloaded at its next use); answers whether one was cached. */
    forget: (accountId: string): boolean => cache.delete(accountId),
    /** The user verified the account again: the next verified wrapping key is pinned instead. */
    unpinWrappingKey(accountId: string): void {
      pinnedWrapping.delete(accountId);
      cache.delete(accountId);
    },
    /**
     * Every cached list is reloaded at its next use (called on reconnect: revocations made meanwhile), and a
     * batched lookup a server lacked is tried again (it may have been upgraded meanwhile).
     */
    expire(): void {
      generation++;
      batchUnsupported = false;
    },
  };
};

/** What `createDeviceDirectory` answers. */
export type DeviceDirectory = ReturnType<typeof createDeviceDirectory>;
