/**
 * Stream keys one device holds, derived from the root or opened from key envelopes, and the one writes use.
 *
 * Invariants:
 * - Epoch 0 of own streams is derived from the root; any other key only from an envelope to this account,
 *   bound to (stream, epoch), key id matching, signed by a certified active device of the stream's patient.
 * - A revoked device's signature is never taken; what it signed counts only when derived here (`rotationKey`,
 *   candidate subsets up to MAX_SUBSET_IDS ids) or signed anew by an active device (`rewrapEpoch`).
 * - An envelope no key derives for is not derived for again until the grants change or candidates expire.
 * - Older epochs' keys are kept (history stays readable); new writes use the highest known epoch.
 * - Each epoch has its own revision-tag key (`revisionTagKeyOf`): a grantee shut out cannot test later tags.
 * - Own streams' epochs ≥ 1: `rotationKey` (root, epoch, ended grants), derived only by the root's holders.
 * - A device holds only the key the server holds for this account (`claimEpoch`); `wrapEpoch` only after.
 * - Own streams: `writeKey` is null until the key shuts out every ended grant known here (`useWriteGuard`).
 * - The current epoch never goes below the persisted `floor`; a granted stream's rises only by a key from a
 *   patient-signed envelope. Saves are best effort; close waits for them (`floorsSaved`).
 * - Not `usable` or an all-zero secret: nothing derived, opened or signed; lookups null, the rest LOCKED.
 * - Keys are dropped at the lock (`drop`) and zeroed only at close (`wipe`): work under way still holds them.
 * - An envelope request fits one frame (ENVELOPE_STREAMS_PER_REQUEST); one refused whole is split in halves.
 * - Patients' device lists are preloaded together (`preloadDeviceLists`); that changes no check.
 * - Granted streams' keys are kept across sessions (key-cache.ts), `unconfirmed` until served; own epochs ≥ 1
 *   only for `readKey`, never for writes nor the current epoch.
 * Failure modes: a missing key answers null (the caller quarantines); an envelope refused for good is not
 * tried again, one of an unknown signer is; claims and wraps fail as the server does, or CLAIM_UNCONFIRMED.
 */
import {
  base64urlDecode,
  deriveInitialStreamKey,
  keyId,
  signCanonical,
  base64urlEncode,
  unwrapKey,
  verifyCanonical,
  wrapKey,
  isAllZero,
} from '@hale/crypto';
import { envelopeSignaturePayload, parseStreamId, type KeyEnvelope } from '@hale/protocol';
import { AccountError } from '../core/account-error';
import {
  KeyringError,
  type WriteGuard,
  type Candidates,
  type CandidatesCache,
  type KeyRecipient,
  type KeyringDeps,
} from './keyring-types';
import { sliceStreams, splittable } from './envelope-requests';
import { createKeyCache } from './key-cache';
import { revisionTagKeyOf, rotationKeyOf, searchCandidates, zeroTagKeyOf } from './rotation-keys';
export { revisionTagKeyOf } from './rotation-keys';
export {
  type KeyringErrorCode,
  MAX_SUBSET_IDS,
  KeyringError,
  type WriteGuard,
  type KeyRecipient,
  type KeyringDeps,
} from './keyring-types';
export {
  putEnvelopes,
  ENVELOPE_STREAMS_PER_REQUEST,
  ENVELOPES_PER_REQUEST,
  ENVELOPE_MAX_BYTES,
  sliceStreams,
} from './envelope-requests';

/** Holds the stream keys of a device session, by stream and epoch. */
export const createKeyring = (deps: KeyringDeps) => {
  const keys = new Map<string, Map<number, Uint8Array>>();
  const serverEpoch = new Map<string, number>();
  const rejected = new Set<string>();
  /** `stream|epoch` of every envelope refused for good (see `lacksCurrentKey`). */
  const refusedAt = new Set<string>();
  // Write guard (own streams): the cached decision per stream, the floor epochs, a generation counter.
  let guard: WriteGuard | null = null;
  let guardGen = 0;
  const writeChecks = new Map<
    string,
    { gen: number; epoch: number; key: Uint8Array; until: number; ok: boolean }
  >();
  /**
   * Envelopes (`envelopeKey`) `deriveOwn` derived no key for, and until when (ms) that holds: the same
   * candidate sets give the same miss, so none is derived again before the grants change or the
   * candidates' answer expires (cleared with `writeChecks`).
   */
  const underivable = new Map<string, number>();
  const floor = new Map<string, number>();
  /** Keys dropped (lock) that work under way may still hold: zeroed at `wipe` (close), not before. */
  const retired: Uint8Array[] = [];
  // Kept keys (key-cache.ts): loaded once; `stream|epoch` → key id of each not yet met in an envelope.
  const cache = createKeyCache(deps.keyCache);
  const unconfirmed = new Map<string, string>();
  let cacheLoad: Promise<void> | null = null;
  /** Own streams' kept keys of epochs ≥ 1 (`stream|epoch`): read-only (`heldKey`), see the header. */
  const keptOwn = new Map<string, Uint8Array>();
  const dropKeys = (): void => {
    for (const m of [...keys.values(), keptOwn]) for (const k of m.values()) retired.push(k);
    keys.clear();
    keptOwn.clear();
    writeChecks.clear();
    unconfirmed.clear();
    cache.drop();
  };
  /** The kept keys, in before anything is looked up or fetched (once; nothing while unusable). */
  const cacheReady = (): Promise<void> =>
    (cacheLoad ??= cache.load().then((loaded) => {
      if (unusable()) return;
      for (const { stream, epoch, key } of loaded) {
        if (own(stream)) {
          if (epoch > 0) keptOwn.set(`${stream}|${epoch}`, key);
          continue;
        }
        let m = keys.get(stream);
        if (!m) keys.set(stream, (m = new Map<number, Uint8Array>()));
        if (m.has(epoch)) continue;
        m.set(epoch, key);
        unconfirmed.set(`${stream}|${epoch}`, keyId(key));
      }
    }));
  /** Told when the guard's inputs change (`onGuardChange`). */
  const guardWatchers = new Set<() => void>();
  /** The guard's inputs changed: every cached decision taken from them is taken again. */
  const newGuardGen = (): void => {
    guardGen++;
    writeChecks.clear();
    underivable.clear();
    for (const w of guardWatchers) w();
  };
  let floorLoad: Promise<void> | null = null;
  const loadFloor = (): Promise<void> => {
    const f = guard?.floor;
    if (!f) return Promise.resolve();
    floorLoad ??= f.load().then(
      (stored) => {
        for (const [stream, epoch] of Object.entries(stored)) {
          if (epoch > (floor.get(stream) ?? 0)) floor.set(stream, epoch);
        }
      },
      (error: unknown) => {
        floorLoad = null;
        throw error;
      },
    );
    return floorLoad;
  };
  /** Floor saves under way: the session's close waits for them (`floorsSaved`) before closing the store. */
  const saving = new Set<Promise<void>>();
  const persistFloor = (stream: string, epoch: number): void => {
    const g = guard;
    const save = g?.floor?.save(stream, epoch);
    if (!save) return;
    const done: Promise<void> = save
      .catch((error: unknown) => g?.onError?.(error))
      .finally(() => saving.delete(done));
    saving.add(done);
  };
  /** Floors loaded before the current epoch is read (no-op without a guard); a failed load is reported. */
  const floorReady = async (): Promise<boolean> => {
    try {
      await loadFloor();
      return true;
    } catch (error) {
      guard?.onError?.(error);
      return false;
    }
  };
  /** Records (and persists, best effort: a failure is reported) the highest epoch held for a stream. */
  const raiseFloor = (stream: string, epoch: number): void => {
    if (epoch <= (floor.get(stream) ?? 0)) return;
    floor.set(stream, epoch);
    persistFloor(stream, epoch);
  };

  /** True (and the cached keys dropped, `onUnusable` told) when no key may be derived or used now. */
  const unusable = (): boolean => {
    if (deps.usable?.() !== false && !isAllZero(deps.root)) return false;
    // Dropped, not zeroed: work already under way finishes with the key it holds, never with zeroes.
    dropKeys();
    deps.onUnusable?.();
    return true;
  };
  const assertUsable = (): void => {
    if (unusable()) {
      throw new AccountError('LOCKED', 'the account was locked or its session closed: its keys are not used');
    }
  };

  const own = (stream: string): boolean => {
    const p = parseStreamId(stream);
    return p.ok && p.value.patientId === deps.accountId;
  };
  const put = (stream: string, epoch: number, key: Uint8Array): void => {
    let m = keys.get(stream);
    if (!m) {
      m = new Map();
      keys.set(stream, m);
    }
    const old = m.get(epoch);
    if (old && old !== key) retired.push(old);
    m.set(epoch, key);
    unconfirmed.delete(`${stream}|${epoch}`);
    if (!own(stream) || epoch > 0) cache.add(stream, epoch, key);
    // Granted streams too: their keys come from patient-signed envelopes (or the root), never the server.
    if (epoch > 0) raiseFloor(stream, epoch);
  };
  const derive0 = (stream: string): Uint8Array => {
    let k = keys.get(stream)?.get(0);
    if (!k) {
      k = deriveInitialStreamKey(deps.root, stream);
      put(stream, 0, k);
    }
    return k;
  };

  // Remembered by the whole envelope: a planted envelope must not shadow a genuine one for the same key.
  const envelopeKey = (env: KeyEnvelope): string =>
    `${env.stream}|${env.epoch}|${env.recipient}|${env.createdBy}|${env.wrapped}|${env.sig ?? ''}`;
  /**
   * Whether an envelope for a held (stream, epoch) is to be checked: only when the key is a kept one whose
   * key id the envelope contradicts (a patient-signed one then replaces it); one that agrees confirms it.
   */
  const recheck = (env: KeyEnvelope): boolean => {
    const at = `${env.stream}|${env.epoch}`;
    const kept = unconfirmed.get(at);
    if (kept === undefined || env.recipient !== deps.accountId) return false;
    if (kept !== env.keyId) return true;
    unconfirmed.delete(at);
    return false;
  };
  const held = (env: KeyEnvelope): boolean => keys.get(env.stream)?.has(env.epoch) === true && !recheck(env);
  /** Whether `accept` would look up the envelope's signer: not held, not refused, addressed here, signed. */
  const toCheck = (env: KeyEnvelope): boolean =>
    !held(env) &&
    env.recipient === deps.accountId &&
    env.sig !== undefined &&
    !rejected.has(envelopeKey(env));
  /** Has the device lists of these patients loaded ahead (see the header); never fails. */
  const preload = async (patients: Iterable<string>): Promise<void> => {
    const ids = [...new Set(patients)];
    if (ids.length === 0 || !deps.preloadDeviceLists) return;
    await deps.preloadDeviceLists(ids).catch(() => undefined);
  };
  /**
   * The stream's current epoch needs an envelope this device does not hold (epoch 0 of its own is derived)
   * and has not refused one for good (the answer's own preload still covers a new one).
   */
  const lacksCurrentKey = (stream: string): boolean => {
    const epoch = currentEpoch(stream);
    return (
      !(epoch === 0 && own(stream)) && !keys.get(stream)?.has(epoch) && !refusedAt.has(`${stream}|${epoch}`)
    );
  };
  const holdsCurrent = (stream: string): boolean => {
    const epoch = currentEpoch(stream);
    return (epoch === 0 && own(stream)) || keys.get(stream)?.has(epoch) === true;
  };
  const patientOf = (stream: string): string[] => {
    const parsed = parseStreamId(stream);
    return parsed.ok ? [parsed.value.patientId] : [];
  };

  const accept = async (env: KeyEnvelope, candidates: CandidatesCache): Promise<boolean> => {
    const id = envelopeKey(env);
    if (held(env) || rejected.has(id)) return false;
    const reject = (reason: string): boolean => {
      rejected.add(id);
      refusedAt.add(`${env.stream}|${env.epoch}`);
      deps.onRejectedEnvelope?.(env, reason);
      return false;
    };
    const parsed = parseStreamId(env.stream);
    if (!parsed.ok || env.recipient !== deps.accountId) return reject('not addressed to this account');
    if (env.sig === undefined) return reject('unsigned envelope');
    const pk = await deps.deviceKey(parsed.value.patientId, env.createdBy);
    if (!pk) {
      // An own stream's key need not trust the signer at all (a device revoked since, see the header).
      const derived = await deriveOwn(env, candidates);
      if (derived) {
        put(env.stream, env.epoch, derived);
        return true;
      }
      // Not remembered: the lookup may have failed, or the device may be newer than the directory's copy
      // of the patient's devices (e.g. a device added since, rotating); a later fetch tries again.
      deps.onRejectedEnvelope?.(env, "not signed by a device of the stream's patient known here (yet)");
      return false;
    }
    const sig = base64urlDecode(env.sig);
    const payload = envelopeSignaturePayload(env);
    if (!sig.ok || !(await verifyCanonical(deps.ed, pk, payload.label, payload, sig.value))) {
      return reject("not signed by a device of the stream's patient");
    }
    // Not remembered as refused: the envelope is fine, the keys may not be used (any more).
    if (unusable() || isAllZero(deps.keys.wrapping.secretKey)) return false;
    const opened = unwrapKey(
      env.wrapped,
      deps.keys.wrapping,
      { stream: env.stream, epoch: env.epoch },
      deps.x25519,
    );
    if (!opened.ok) return reject(`cannot open: ${opened.error.code}`);
    if (keyId(opened.value) !== env.keyId) return reject('key id mismatch');
    put(env.stream, env.epoch, opened.value);
    return true;
  };

  const fetchAndAccept = async (streams?: string[]): Promise<number> => {
    await cacheReady();
    if (unusable()) return 0;
    const envelopes = await deps.fetchEnvelopes(streams);
    await preload(envelopes.filter(toCheck).flatMap((env) => patientOf(env.stream)));
    // The guard's candidates are read once per stream for the envelopes of this answer.
    const candidates: CandidatesCache = new Map();
    let n = 0;
    for (const env of envelopes) if (await accept(env, candidates)) n++;
    return n;
  };
  const noteServerEpoch = (stream: string, epoch: number): void => {
    if (epoch > (serverEpoch.get(stream) ?? -1)) serverEpoch.set(stream, epoch);
  };
  /** Every stream this device knows it may hold envelopes of, with at most how many it holds of each. */
  const knownStreams = (): Array<{ stream: string; envelopes: number }> =>
    [...new Set([...serverEpoch.keys(), ...keys.keys()])]
      .filter((stream) => parseStreamId(stream).ok)
      .sort()
      .map((stream) => ({ stream, envelopes: Math.max(currentEpoch(stream), 0) + 1 }));
  /** Notes the server's list of streams (their epochs) for planning slices; nothing without `listStreams`. */
  const listed = async (): Promise<void> => {
    if (!deps.listStreams) return;
    for (const s of await deps.listStreams()) noteServerEpoch(s.stream, s.epoch);
  };
  /**
   * Every envelope of the streams known here, in slices that fit a frame; an answer refused as a whole is
   * asked for again in halves. Streams noted meanwhile (the engine's list came in) are fetched too. A
   * single stream's failure is thrown once the rest was taken.
   */
  const fetchSliced = async (): Promise<number> => {
    let n = 0;
    const failures: unknown[] = [];
    const take = async (slice: string[]): Promise<void> => {
      try {
        n += await fetchAndAccept(slice);
      } catch (error) {
        if (!splittable(error)) throw error;
        if (slice.length === 1) {
          failures.push(error);
          return;
        }
        const mid = Math.ceil(slice.length / 2);
        await take(slice.slice(0, mid));
        await take(slice.slice(mid));
      }
    };
    const covered = new Set<string>();
    for (;;) {
      const rest = knownStreams().filter((s) => !covered.has(s.stream));
      if (rest.length === 0 || unusable()) break;
      for (const s of rest) covered.add(s.stream);
      // Streams whose current epoch's key is held (kept, or taken this session) are not asked for.
      const wanted = rest.filter((s) => !holdsCurrent(s.stream));
      // Not awaited: the lists load while the first slices are asked for (their checks wait for them).
      void preload(wanted.filter((s) => lacksCurrentKey(s.stream)).flatMap((s) => patientOf(s.stream)));
      for (const slice of sliceStreams(wanted)) await take(slice);
    }
    if (failures.length > 0) throw failures[0];
    return n;
  };
  /** Every envelope, in answers that fit a frame (see the header); the accepted count. */
  const fetchAll = async (): Promise<number> => {
    await cacheReady();
    if (unusable()) return 0;
    // Slices are planned from the server's list: asked for when this session has not seen it yet (a
    // check at connect can run before the engine's list came in).
    if (serverEpoch.size === 0) await listed();
    if (sliceStreams(knownStreams()).length <= 1) {
      // Few streams (a patient's own): one request for all, which also brings streams not listed yet.
      try {
        return await fetchAndAccept();
      } catch (error) {
        if (!splittable(error)) throw error;
        // More than this device knew of (access gained while away): the list again, then slices.
        await listed();
        if (knownStreams().length === 0) throw error;
      }
    }
    return fetchSliced();
  };
  // A connect asks for every envelope from the engine and from the rotation check at once: one fetch.
  let refreshingAll: Promise<number> | null = null;
  const refresh = (streams?: string[]): Promise<number> => {
    if (streams !== undefined) return fetchAndAccept(streams);
    refreshingAll ??= fetchAll().finally(() => {
      refreshingAll = null;
    });
    return refreshingAll;
  };

  // Keys asked for at once (a live frame and a catch-up page of one stream) share one request.
  const onDemand = new Map<string, Promise<number>>();
  const fetchStream = (stream: string): Promise<number> => {
    const running = onDemand.get(stream);
    if (running !== undefined) return running;
    const started = fetchAndAccept([stream]).finally(() => onDemand.delete(stream));
    onDemand.set(stream, started);
    return started;
  };
  const keyFor = async (stream: string, epoch: number): Promise<Uint8Array | null> => {
    await cacheReady();
    if (unusable()) return null;
    if (epoch === 0 && own(stream)) return derive0(stream);
    const known = keys.get(stream)?.get(epoch);
    if (known) return known;
    const joined = onDemand.get(stream);
    if (joined !== undefined) {
      // Asked before this epoch may have been known: a miss asks again, once.
      await joined.catch(() => 0);
      const found = keys.get(stream)?.get(epoch);
      if (found) return found;
    }
    await fetchStream(stream);
    return keys.get(stream)?.get(epoch) ?? null;
  };

  const highestKnown = (stream: string): number => {
    const m = keys.get(stream);
    let max = own(stream) ? 0 : -1;
    if (m) for (const e of m.keys()) if (e > max) max = e;
    return max;
  };
  const currentEpoch = (stream: string): number =>
    Math.max(serverEpoch.get(stream) ?? 0, highestKnown(stream), floor.get(stream) ?? 0);

  /**
   * The key of an own stream's epoch ≥ 1 derived here whose key id is the envelope's, or null: tried for
   * the write guard's candidate sets, then for every subset of the ids they name (an older epoch shut out
   * fewer grants), when at most MAX_SUBSET_IDS. The envelope's wrapped key and signer are not used. A
   * miss is remembered (`underivable`): an older build's random epoch key never derives, and trying again
   * costs up to 2^MAX_SUBSET_IDS derivations at every fetch. `candidates`: the answers read during one
   * fetch, per stream.
   */
  const deriveOwn = async (env: KeyEnvelope, candidates: CandidatesCache): Promise<Uint8Array | null> => {
    const g = guard;
    if (!g || env.epoch === 0 || !own(env.stream)) return null;
    const id = envelopeKey(env);
    const until = underivable.get(id);
    if (until !== undefined && g.now() < until) return null;
    const gen = guardGen;
    let read = candidates.get(env.stream);
    if (read === undefined || read.gen !== gen) {
      read = { gen, answer: readCandidates(g, env.stream) };
      candidates.set(env.stream, read);
    }
    const answer = await read.answer;
    if (answer === null || unusable()) return null;
    const found = searchCandidates(answer.sets, (ended) =>
      rotationKeyWithId(env.stream, env.epoch, ended, env.keyId),
    );
    if (found === null && gen === guardGen) underivable.set(id, answer.validUntil);
    return found;
  };
  /** The guard's candidates for `stream`, or null when they could not be read (reported). */
  const readCandidates = async (g: WriteGuard, stream: string): Promise<Candidates | null> => {
    try {
      return await g.candidates(stream);
    } catch (error) {
      g.onError?.(error);
      return null;
    }
  };

  /** Key of epoch ≥ 1 of one of this account's streams for the ended grants (`rotationKeyOf`). */
  const rotationKey = (stream: string, epoch: number, ended: readonly string[]): Uint8Array => {
    assertUsable();
    return rotationKeyOf(deps.root, stream, epoch, ended);
  };
  /** `rotationKey(stream, epoch, ended)` when its key id is `id`, else null. */
  const rotationKeyWithId = (
    stream: string,
    epoch: number,
    ended: readonly string[],
    id: string,
  ): Uint8Array | null => {
    const key = rotationKey(stream, epoch, ended);
    return keyId(key) === id ? key : null;
  };

  /**
   * The key of `stream` this device holds now whose key id is `id`, with its epoch; null when it holds none
   * (nothing is fetched: `refresh` first to look at what the server serves). A sealed blob chunk names its
   * key by id, not by epoch.
   */
  const heldKeyWithId = (stream: string, id: string): { epoch: number; key: Uint8Array } | null => {
    if (unusable()) return null;
    // An own stream's epoch 0 is derived, not fetched: held once derived (into `keys`).
    if (own(stream)) derive0(stream);
    for (const [epoch, key] of keys.get(stream) ?? []) if (keyId(key) === id) return { epoch, key };
    return null;
  };

  /** The key of (stream, epoch) if held now (for use): no fetch; null once unusable (seal once). */
  const heldKey = (stream: string, epoch: number): Uint8Array | null => {
    if (unusable()) return null;
    if (epoch === 0 && own(stream)) return derive0(stream);
    return keys.get(stream)?.get(epoch) ?? null;
  };
  /** `heldKey`, or an own stream's kept key of that epoch: what a stored version opens with. */
  const readKey = (stream: string, epoch: number): Uint8Array | null =>
    heldKey(stream, epoch) ?? keptOwn.get(`${stream}|${epoch}`) ?? null;

  return {
    /**
     * The key of (stream, epoch): held, derived (epoch 0 of an own stream), or fetched from the server's
     * envelopes for `stream`; null when none is obtained or the keyring is not usable.
     * - Fetches of one stream asked for at once share one request.
     */
    keyFor,
    heldKey,
    readKey,
    /**
     * `readKey`, when the next session holds it too without a fetch: epoch 0 of an own stream, or a key the
     * key cache stores as those bytes (saved, not removed); null otherwise. Waits for nothing.
     */
    keptKey(stream: string, epoch: number): Uint8Array | null {
      const key = readKey(stream, epoch);
      if (key === null || (epoch === 0 && own(stream))) return key;
      return cache.durable(stream, epoch, key) ? key : null;
    },
    /** The kept keys are loaded (before a store's versions sealed under them are read). */
    keptLoaded: (): Promise<void> => cacheReady(),
    /** Saves the kept keys now (a pull about to keep versions under new ones); never rejects. */
    keepKeysNow: (): Promise<void> => cache.persist(),
    heldKeyWithId,
    /**
     * Fetches key envelopes and takes those addressed here and signed by an active device of the stream's
     * patient; answers how many keys were taken. Without `streams`, every stream known here, in slices
     * that fit a frame (calls at once share one fetch).
     * - Rejects as the envelope fetch does; one stream's failure only after the other slices were taken.
     */
    refresh,
    /** Records the server's current epoch for a stream (from listStreams / accessChanged / STALE_EPOCH). */
    noteServerEpoch,
    /** The epoch and key new writes must use; null when this device lacks the current key. */
    async writeKey(stream: string): Promise<{ epoch: number; key: Uint8Array } | null> {
      const g = guard;
      if (g && !(await floorReady())) return null;
      const epoch = currentEpoch(stream);
      const key = await keyFor(stream, epoch);
      if (!key) return null;
      if (!g || !own(stream)) return { epoch, key };
      const now = g.now();
      const cached = writeChecks.get(stream);
      // Keys are held as the same objects: a hit costs no hashing (this runs for every pushed record).
      if (
        cached &&
        cached.gen === guardGen &&
        cached.epoch === epoch &&
        cached.key === key &&
        now < cached.until
      ) {
        if (!cached.ok) g.onRefused?.(stream);
        return cached.ok ? { epoch, key } : null;
      }
      const gen = guardGen;
      const { sets, validUntil } = await g.candidates(stream);
      if (unusable()) return null;
      const id = keyId(key);
      const ok =
        sets.some((c) => c.length === 0) ||
        sets.some((c) => rotationKeyWithId(stream, epoch, c, id) !== null);
      if (gen === guardGen) writeChecks.set(stream, { gen, epoch, key, until: validUntil, ok });
      if (!ok) g.onRefused?.(stream);
      return ok ? { epoch, key } : null;
    },
    /**
     * Installs the check of own streams' write epochs (see the header and `WriteGuard`); consent does, with
     * the patient's grants. Without one, `writeKey` answers the current epoch unchecked.
     */
    useWriteGuard(next: WriteGuard): void {
      guard = next;
      floorLoad = null;
      newGuardGen();
      void floorReady();
      // Floors raised before the guard was installed are persisted now.
      for (const [stream, epoch] of floor) persistFloor(stream, epoch);
    },
    /** The grants changed (granted, revoked, merged from the server): write checks are taken again. */
    invalidateWriteChecks(): void {
      newGuardGen();
    },
    /**
     * Calls `watcher` whenever the guard's inputs change (a new guard, `invalidateWriteChecks`): an own
     * stream's epoch key that did not derive from the grants known before may derive now. Answers the
     * function that stops the calls.
     */
    onGuardChange(watcher: () => void): () => void {
      guardWatchers.add(watcher);
      return () => void guardWatchers.delete(watcher);
    },
    /**
     * The revision-tag key of one epoch of a stream (that of the versions sealed under the epoch's key);
     * null without that epoch's key.
     */
    async tagKey(stream: string, epoch: number): Promise<Uint8Array | null> {
      const key = await keyFor(stream, epoch);
      return key ? revisionTagKeyOf(key) : null;
    },
    /**
     * Envelopes of every known epoch of `stream` for a recipient (a new grantee reads the history), from
     * `fromEpoch` on when given (those below were wrapped already).
     */
    async envelopesFor(stream: string, recipient: KeyRecipient, fromEpoch = 0) {
      // A missing key is skipped below; a locked account must fail the grant, not wrap nothing.
      assertUsable();
      const out: KeyEnvelope[] = [];
      const top = currentEpoch(stream);
      for (let epoch = Math.max(0, fromEpoch); epoch <= top; epoch++) {
        const key = await keyFor(stream, epoch);
        if (!key) continue;
        out.push(await signedEnvelope(stream, epoch, key, recipient));
      }
      return out;
    },
    /** The epoch new writes use: the highest the server reported or this device holds. */
    currentEpoch,
    /**
     * Whether the current epoch's key was derived for one of `candidates` (sets of ended grant ids),
     * i.e. whether a device of the patient already rotated the stream shutting out those grants. Answers
     * the first matching candidate, or null (no match, or this device cannot obtain the current key).
     * An empty candidate matches any epoch: nothing has to be shut out. Call `refresh` first.
     */
    async matchRotation(
      stream: string,
      candidates: ReadonlyArray<readonly string[]>,
    ): Promise<{ epoch: number; matched: readonly string[] | null }> {
      assertUsable();
      await floorReady();
      const epoch = currentEpoch(stream);
      if (candidates.some((c) => c.length === 0)) return { epoch, matched: [] };
      const key = await keyFor(stream, epoch);
      if (!key) return { epoch, matched: null };
      const id = keyId(key);
      const matched = candidates.find((c) => rotationKeyWithId(stream, epoch, c, id) !== null) ?? null;
      return { epoch, matched };
    },
    /**
     * Claims the epoch after the current one for `stream` with the key that shuts out `ended`: publishes
     * the envelope for this account only, then reads back what the server kept for that epoch and adopts
     * it. `won` is false when another device of the patient claimed the epoch first (with a key for
     * another set of ended grants, or on an older version, a random one): this device then holds and
     * writes with the winner's key, never its own. Nothing is wrapped for other holders here (`wrapEpoch`).
     */
    async claimEpoch(stream: string, ended: readonly string[]): Promise<{ epoch: number; won: boolean }> {
      assertUsable();
      await floorReady();
      const next = currentEpoch(stream) + 1;
      const key = rotationKey(stream, next, ended);
      const self = { accountId: deps.accountId, wrappingPublicKey: deps.keys.wrapping.publicKey };
      await deps.publishEnvelopes([await signedEnvelope(stream, next, key, self)]);
      // The server answers ok whether it stored this claim or kept an earlier one: only its copy counts.
      await refresh([stream]);
      const held = keys.get(stream)?.get(next);
      if (!held) {
        throw new KeyringError(
          'CLAIM_UNCONFIRMED',
          `the server accepted epoch ${next} of ${stream} but serves no valid key envelope for it`,
        );
      }
      if (next > (serverEpoch.get(stream) ?? -1)) serverEpoch.set(stream, next);
      return { epoch: next, won: keyId(held) === keyId(key) };
    },
    /**
     * Wraps the key this device holds for (stream, epoch) — the one the server holds for the patient — for
     * each recipient other than this account and publishes. Idempotent: the server keeps the first envelope
     * per recipient, and every device of the patient wraps the same key. Cost is one envelope per recipient
     * whatever the number of records (history is not re-encrypted).
     */
    async wrapEpoch(stream: string, epoch: number, recipients: KeyRecipient[]): Promise<number> {
      const others = recipients.filter((r) => r.accountId !== deps.accountId);
      const n = await rewrapEpoch(stream, epoch, others);
      if (n === null)
        throw new KeyringError('CLAIM_UNCONFIRMED', `no key held for epoch ${epoch} of ${stream}`);
      return n;
    },
    /**
     * Signs anew the key held for (stream, epoch) for each recipient, this account included, and publishes;
     * answers how many, or null (nothing published) when this device cannot get that key.
     * @throws AccountError LOCKED when the keyring is not usable.
     */
    rewrapEpoch,
    /** Settles once every floor and kept-key save under way settled (never rejects: failures were reported). */
    async floorsSaved(): Promise<void> {
      await Promise.all([...saving, cache.flush()]);
    },
    /** The account was locked: every key is dropped now (not zeroed: see the header). */
    drop(): void {
      dropKeys();
    },
    /**
     * The session closed and its work stopped: every key this keyring held, with its revision-tag key, is
     * zeroed and dropped.
     */
    wipe(): void {
      dropKeys();
      for (const key of retired) {
        zeroTagKeyOf(key);
        key.fill(0);
      }
      retired.length = 0;
    },
    /**
     * Forgets the keys of `stream` (a purge): dropped from memory and from the kept keys on disk, with its
     * write checks and server epoch. The dropped keys are zeroed at `wipe`.
     */
    forgetStream(stream: string): void {
      for (const k of keys.get(stream)?.values() ?? []) retired.push(k);
      keys.delete(stream);
      cache.removeStream(stream);
      // A purge: the kept keys go from disk now, not SAVE_DELAY_MS later (never rejects).
      void cache.persist();
      writeChecks.delete(stream);
      serverEpoch.delete(stream);
    },
  };

  /**
   * Signs anew, with this device, the key this device holds for (stream, epoch) for each recipient, this
   * account included: what consent sends for envelopes whose creator was revoked since (the server keeps
   * the new one in their place, for the same key id only; otherwise it keeps what it has). Null, signing
   * and publishing nothing, when this device cannot get that key (an older epoch it cannot derive).
   */
  async function rewrapEpoch(
    stream: string,
    epoch: number,
    recipients: KeyRecipient[],
  ): Promise<number | null> {
    assertUsable();
    const key = await keyFor(stream, epoch);
    if (!key) return null;
    if (recipients.length === 0) return 0;
    await deps.publishEnvelopes(
      await Promise.all(recipients.map((r) => signedEnvelope(stream, epoch, key, r))),
    );
    return recipients.length;
  }

  async function signedEnvelope(
    stream: string,
    epoch: number,
    key: Uint8Array,
    recipient: KeyRecipient,
  ): Promise<KeyEnvelope> {
    assertUsable();
    if (isAllZero(deps.device.secretKey)) {
      throw new AccountError('LOCKED', 'the device key is all zeroes (locked): nothing is signed with it');
    }
    const env = {
      stream: stream as KeyEnvelope['stream'],
      epoch,
      recipient: recipient.accountId,
      keyId: keyId(key),
      wrapped: wrapKey(key, recipient.wrappingPublicKey, { stream, epoch }, deps.x25519),
      createdBy: deps.device.deviceId,
    };
    const payload = envelopeSignaturePayload(env);
    const sig = await signCanonical(deps.ed, deps.device.secretKey, payload.label, payload);
    return { ...env, sig: base64urlEncode(sig) };
  }
};

/** What `createKeyring` answers. */
export type Keyring = ReturnType<typeof createKeyring>;
