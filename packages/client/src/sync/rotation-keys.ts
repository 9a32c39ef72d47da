/**
 * The keyring's derived keys (keyring.ts, header): an own stream's epochs ≥ 1 (the key minted for a set of
 * ended grants, and the search of candidate sets and their subsets for the one a key id names), and each
 * epoch's revision-tag key.
 *
 * Invariants: pure functions of their inputs (tag keys remembered per stream key object, zeroed with it by
 * the keyring's wipe); the keyring checks that its root may be used before calling.
 */
import { base64urlEncode, deriveRevisionTagKey, hkdfSha256, labeledSha256, utf8Encode } from '@hale/crypto';
import { MAX_SUBSET_IDS } from './keyring-types';

/**
 * Key of epoch ≥ 1 of one of the root's streams, minted because the grants `ended` ended:
 * HKDF(root, "hale/stream-epoch/v1|stream|epoch|" + b64u(sha256("hale/ended-grants/v1" ‖ sorted ids))).
 * Deterministic so that the key proves which grants its epoch shuts out.
 */
export const rotationKeyOf = (
  root: Uint8Array,
  stream: string,
  epoch: number,
  ended: readonly string[],
): Uint8Array => {
  const ids = [...new Set(ended)].sort().join('\n');
  const digest = base64urlEncode(labeledSha256('hale/ended-grants/v1', utf8Encode(ids)));
  return hkdfSha256(root, `hale/stream-epoch/v1|${stream}|${epoch}|${digest}`, 32);
};

/**
 * The first key `withIds` answers for one of `sets` or else, when they name at most MAX_SUBSET_IDS ids,
 * for any subset of those (each set tried once, its ids deduplicated and sorted); null if none.
 */
export const searchCandidates = (
  sets: ReadonlyArray<readonly string[]>,
  withIds: (sorted: readonly string[]) => Uint8Array | null,
): Uint8Array | null => {
  const tried = new Set<string>();
  const matching = (ids: readonly string[]): Uint8Array | null => {
    const sorted = [...new Set(ids)].sort();
    const at = sorted.join('\n');
    if (tried.has(at)) return null;
    tried.add(at);
    return withIds(sorted);
  };
  for (const set of sets) {
    const key = matching(set);
    if (key) return key;
  }
  const ids = [...new Set(sets.flat())];
  if (ids.length > MAX_SUBSET_IDS) return null;
  for (let mask = 0; mask < 1 << ids.length; mask++) {
    const key = matching(ids.filter((_, i) => (mask & (1 << i)) !== 0));
    if (key) return key;
  }
  return null;
};

/** Tag keys by the stream key they derive from; a key array is never changed once used (record-seal). */
const tagKeys = new WeakMap<Uint8Array, Uint8Array>();

/** The revision-tag key of the epoch whose stream key is `key` (`deriveRevisionTagKey`, remembered). */
export const revisionTagKeyOf = (key: Uint8Array): Uint8Array => {
  let t = tagKeys.get(key);
  if (t === undefined) {
    t = deriveRevisionTagKey(key);
    tagKeys.set(key, t);
  }
  return t;
};

/** Zeroes the remembered revision-tag key of `key` (the keyring's wipe). */
export const zeroTagKeyOf = (key: Uint8Array): void => void tagKeys.get(key)?.fill(0);
