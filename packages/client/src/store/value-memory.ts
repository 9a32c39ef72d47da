/**
 * What a wrapper's instances remember of values they sealed or opened (see value-codec.ts).
 *
 * - An envelope maps to its plaintext only for the same slot (collection, document, field, revision); a
 *   value object maps to its envelope only for the same slot and the same object; scalars by slot and value,
 *   kept apart so they never push record content out. At most AT_REST_RECENT_VALUES each way, and
 *   AT_REST_RECENT_CHARS of envelopes.
 * - Envelopes are keyed by their nonce (random per seal) and compared whole on a hit.
 * - `forgetAll` empties the memory for whoever still holds it (an instance in flight), at dispose.
 */
import { type RecentMap, createRecentMap } from '../core/recent-map';

/** How many recently sealed or opened values a database's instances remember in plaintext (see `createValueCodec`). */
export const AT_REST_RECENT_VALUES = 8192;
/**
 * And at most this many characters of stored text per generation of each such memory (a remembered
 * value's plaintext is about as large again): a big import's thousands of records must not stay in the
 * heap, where every major collection walks them.
 */
export const AT_REST_RECENT_CHARS = 4 * 1024 * 1024;

/** What binds the values of one stored document: id, revision and clear digest. */
export interface DocBinding {
  readonly i: string;
  readonly r: string;
  readonly h: string;
}

/** Where a value lives: collection, document id, field, document revision and clear digest (the envelope's binding). */
export interface Slot {
  readonly c: string;
  readonly i: string;
  readonly f: string;
  readonly r: string;
  readonly h: string;
}

interface Remembered {
  readonly envelope: string;
  readonly context: string;
  readonly value: unknown;
}

/**
 * What the instances of one database remember, shared so that a replication-meta instance can refer
 * to an envelope its records instance has just written (see `createValueCodec`).
 */
export interface ValueMemory {
  /** Envelopes of objects (record content). */
  opened: RecentMap<string, Remembered>;
  /** Envelopes of scalars (`null` above all), apart so that they never push content out. */
  openedScalars: RecentMap<string, Remembered>;
  sealed: WeakMap<
    object,
    { readonly context: string; readonly envelope: string; readonly slot: Slot; readonly referable: boolean }
  >;
  sealedScalars: RecentMap<string, { readonly value: unknown; readonly envelope: string }>;
}

const byEnvelope = {
  keep: AT_REST_RECENT_CHARS,
  of: (r: { readonly envelope: string }) => r.envelope.length,
};

export const createValueMemory = (): ValueMemory => ({
  opened: createRecentMap(AT_REST_RECENT_VALUES, byEnvelope),
  openedScalars: createRecentMap(AT_REST_RECENT_VALUES),
  sealed: new WeakMap(),
  sealedScalars: createRecentMap(AT_REST_RECENT_VALUES),
});

/** Drops every remembered value, for whoever still holds `memory` (an instance in flight). */
export const forgetAll = (memory: ValueMemory): void => {
  Object.assign(memory, createValueMemory());
};
