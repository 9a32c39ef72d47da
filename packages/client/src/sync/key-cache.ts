/**
 * The keys of granted streams a keyring opened, kept for the next session (`KeyCacheStore`: the session keeps them in
 * device meta, sealed under the account's at-rest key), so an unlock opens only the envelopes that are new
 * since: a clinician following 200 patients (≈2,400 streams) no longer opens every envelope at each unlock.
 *
 * Invariants:
 * - What is loaded is a key of (stream, epoch) this device held before; the keyring uses it at once and
 *   checks it against the envelope the server serves at its next refresh (keyring.ts `unconfirmed`): a
 *   patient-signed envelope with another key id replaces it. A new epoch's key still comes only from its
 *   envelope, so a rotation (a revocation's) takes effect as before.
 * - An entry that is not 32 bytes of base64url is skipped; a store that cannot be read loads nothing
 *   (reported): the keyring then opens every envelope, as without a cache.
 * - Nothing is saved before the load settled, nor without one (a partial list would replace the stored
 *   one), nor after `drop` (a lock: the copies held here are dropped with the keyring's keys). Saves are
 *   folded (`coalescedSave`, SAVE_DELAY_MS after a change): a burst of keys costs one write of the list.
 * - `durable(stream, epoch, key)` answers true only for a key the store holds as those bytes now: loaded,
 *   or in a list whose save settled, and not removed since (seal once keeps a version sealed under a key
 *   only when the next start holds that key without a fetch). `persist` saves at once what changed.
 * Failure modes: a failed save is reported (`onError`) and leaves the stored list as it was; the next
 * change saves again.
 */
import { base64urlDecode, base64urlEncode } from '@hale/crypto';
import { coalescedSave } from '../core/coalesced-save';

/** One kept key: base64url of its 32 bytes. */
export interface CachedKey {
  readonly stream: string;
  readonly epoch: number;
  readonly key: string;
}

/** Where kept keys lie (the session: device meta key `stream-keys`, schema-checked, sealed at rest). */
export interface KeyCacheStore {
  load: () => Promise<readonly CachedKey[]>;
  save: (keys: CachedKey[]) => Promise<void>;
  onError?: (error: unknown) => void;
}

/** A save waits this long for more keys: a first sync taking thousands writes the list a few times. */
export const SAVE_DELAY_MS = 1000;

const at = (stream: string, epoch: number): string => `${stream}|${epoch}`;

const encodings = new WeakMap<Uint8Array, string>();
/** base64url of a key, remembered per key object (a key array never changes while held). */
const encoded = (key: Uint8Array): string => {
  let e = encodings.get(key);
  if (e === undefined) encodings.set(key, (e = base64urlEncode(key)));
  return e;
};

export const createKeyCache = (store: KeyCacheStore | undefined) => {
  const entries = new Map<string, CachedKey>();
  let dropped = false;
  /** Changed since the last write took its copy. */
  let dirty = false;
  /** The load, once started: nothing is written before it settled, nor at all without it. */
  let loaded: Promise<void> | null = null;
  let final: Promise<void> = Promise.resolve();
  /** What the store holds (base64url by `stream|epoch`): loaded, then each list whose save settled. */
  let onDisk = new Map<string, string>();
  /** Removed (a purge), until added again: not durable whatever the store still holds. */
  const removed = new Set<string>();
  const write = async (list: CachedKey[]): Promise<void> => {
    if (loaded === null) return;
    await loaded;
    try {
      await store?.save(list);
      onDisk = new Map(list.map((e) => [at(e.stream, e.epoch), e.key]));
    } catch (error) {
      store?.onError?.(error);
      throw error;
    }
  };
  const take = (): CachedKey[] => {
    dirty = false;
    return [...entries.values()];
  };
  const saver = coalescedSave(() => (dropped ? Promise.resolve() : write(take())));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cancel = (): boolean => {
    if (timer === undefined) return false;
    clearTimeout(timer);
    timer = undefined;
    return true;
  };
  const changed = (): void => {
    dirty = true;
    if (!store || dropped || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void saver.save().catch(() => undefined);
    }, SAVE_DELAY_MS);
  };
  return {
    /** The stored keys, decoded (the bad ones skipped); empty without a store or when it cannot be read. */
    async load(): Promise<Array<{ stream: string; epoch: number; key: Uint8Array }>> {
      if (!store) return [];
      let stored: readonly CachedKey[] = [];
      loaded = store.load().then(
        (all) => void (stored = all),
        (error: unknown) => store.onError?.(error),
      );
      await loaded;
      const out: Array<{ stream: string; epoch: number; key: Uint8Array }> = [];
      for (const e of stored) {
        const key = base64urlDecode(e.key);
        if (!key.ok || key.value.length !== 32) continue;
        if (!entries.has(at(e.stream, e.epoch))) entries.set(at(e.stream, e.epoch), e);
        onDisk.set(at(e.stream, e.epoch), e.key);
        out.push({ stream: e.stream, epoch: e.epoch, key: key.value });
      }
      return out;
    },
    /** Keeps `key` as (stream, epoch)'s, in place of one kept before. */
    add(stream: string, epoch: number, key: Uint8Array): void {
      if (dropped) return;
      const k = encoded(key);
      removed.delete(at(stream, epoch));
      if (entries.get(at(stream, epoch))?.key === k) return;
      entries.set(at(stream, epoch), { stream, epoch, key: k });
      changed();
    },
    removeStream(stream: string): void {
      let gone = false;
      for (const [id, e] of entries) {
        if (e.stream !== stream) continue;
        gone = entries.delete(id) || gone;
        removed.add(id);
      }
      for (const id of onDisk.keys()) if (id.startsWith(`${stream}|`)) removed.add(id);
      if (gone) changed();
    },
    /** Whether the store holds `key` as (stream, epoch)'s now (see the header); false after `drop`. */
    durable(stream: string, epoch: number, key: Uint8Array): boolean {
      const id = at(stream, epoch);
      const kept = onDisk.get(id);
      return !dropped && kept !== undefined && !removed.has(id) && kept === encoded(key);
    },
    /** Saves now what changed (no wait for SAVE_DELAY_MS); settles when it did, never rejects. */
    async persist(): Promise<void> {
      if (!store || dropped) return;
      if (cancel() || dirty) await saver.save().catch(() => undefined);
      else await saver.settled();
    },
    /**
     * The keys may no longer be used (a lock, a close): what changed is written once more (sealed by the
     * store, which holds its own key until it closes), then nothing more is kept or saved.
     */
    drop(): void {
      if (dropped) return;
      dropped = true;
      cancel();
      if (store && dirty) final = write(take()).catch(() => undefined);
      entries.clear();
      onDisk = new Map();
    },
    /** Settles once every save asked for (a pending one started now) settled; never rejects. */
    async flush(): Promise<void> {
      if (cancel()) await saver.save().catch(() => undefined);
      await saver.settled();
      await final;
    },
  };
};
