/**
 * Seal once (docs/architecture.md "Seal once"): what the at-rest wrapper of the records collection is
 * given to keep a local stream record version as the bytes it travels as, and what push reads back.
 *
 * | part | who fills it | who reads it |
 * | --- | --- | --- |
 * | `sealer` (attached late: the keyring exists only after the store is open) | the session | the wrapper: seals local writes once, opens stored versions |
 * | stored versions per record id (bounded, `STORED_VERSIONS`) | the wrapper, at each seal and open | push (`storedFor`): the version's bytes as sent, no seal |
 * | received versions, by the content object decoded from them (weak) | pull and live, once a served version verified (`noteReceived`) | the wrapper (`receivedFor`): the bytes stored as received, no seal |
 *
 * Invariants
 * - Nothing is sealed once before a sealer is attached, nor after `forget` (lock, close; a sealer
 *   attached after it is not taken): the wrapper then seals under the at-rest key as before (`sealer()`
 *   answers null).
 * - `storedFor` answers a stored version only for exactly the state it was sealed or opened as (id,
 *   stream, rv, deletion, every content field: the same objects, else canonically equal) and authored by
 *   this device; anything else answers null and push seals as before.
 * - `receivedFor` answers a received version only for the very state decoded from it (the same content
 *   objects, every clear field equal); RxDB handing over anything else (a merge, a copy) answers null.
 * - `forget` drops the sealer and every remembered version (they hold plaintext objects) at once; from
 *   then on `refusal` answers the owner's error (the session's LOCKED), which a read of a stored version
 *   throws instead of a decryption failure.
 * Failure modes: none of its own; the sealer's failures reach the wrapper's write (AT_REST_ENCRYPT_FAILED).
 */
import { canonicalJson } from '@hale/crypto';
import type { PushDoc } from '@hale/protocol';
import { createRecentMap, type RecentMap } from '../core/recent-map';

/** How many stored versions (by record id) are remembered for push. */
export const STORED_VERSIONS = 8192;

/** A record state as the wrapper sees it (the records collection's document, RxDB's deletion flag). */
export interface StreamRecordState {
  readonly id: string;
  readonly stream: string;
  readonly rv: number;
  readonly _deleted: boolean;
  readonly kind: string;
  readonly updatedAt: string;
  readonly by: string;
  readonly author: string;
  readonly conflict: boolean;
  readonly data: unknown;
  readonly conflictData: unknown;
}

/** Seals and opens stream record versions for the wrapper (sync/stream-sealer.ts makes one). */
export interface StreamSealer {
  /** This device's id: only versions it authors are sealed once. */
  readonly deviceId: string;
  /**
   * Seals each state once under its stream's write epoch (tag and, where required, signature made
   * now), as push would; null for a state this device cannot seal once now (no key held, another epoch
   * than one it can always open again: see the sealer).
   */
  seal(states: readonly StreamRecordState[]): Promise<ReadonlyArray<PushDoc | null>>;
  /** The key of (stream, epoch) if held now (no fetch); null when locked or not held. */
  keyNow(stream: string, epoch: number): Uint8Array | null;
  /**
   * `keyNow`, when every later unlocked session holds it at its start without a fetch (epoch 0 of own
   * streams, kept stream keys): versions under it may be stored as they are; null otherwise.
   */
  keptNow(stream: string, epoch: number): Uint8Array | null;
  /**
   * Whether `epoch` is the stream's current epoch as known now (no fetch): a replication-meta copy keeps
   * a version's bytes by reference only then (stream-meta.ts), never those of an epoch rotated since.
   */
  isCurrent(stream: string, epoch: number): boolean;
}

interface Remembered {
  readonly doc: PushDoc;
  readonly state: StreamRecordState;
}

const sameContent = (a: StreamRecordState, b: StreamRecordState): boolean => {
  if (
    a.id !== b.id ||
    a.stream !== b.stream ||
    a.rv !== b.rv ||
    a._deleted !== b._deleted ||
    a.kind !== b.kind ||
    a.updatedAt !== b.updatedAt ||
    a.by !== b.by ||
    a.conflict !== b.conflict
  )
    return false;
  if (a.data === b.data && a.conflictData === b.conflictData) return true;
  try {
    return (
      canonicalJson(a.data) === canonicalJson(b.data) &&
      canonicalJson(a.conflictData) === canonicalJson(b.conflictData)
    );
  } catch {
    return false;
  }
};

export interface StreamSealing {
  attach(sealer: StreamSealer): void;
  /** The attached sealer, or null (none yet, or forgotten). */
  sealer(): StreamSealer | null;
  /** The wrapper sealed or opened `doc` (the wire document) as `state`. */
  noteStored(state: StreamRecordState, doc: PushDoc): void;
  /** The wire document stored for exactly `state`, authored by this device; null otherwise. */
  storedFor(state: StreamRecordState): PushDoc | null;
  /** A served version `doc` verified and decoded as `state` (pull, live): its bytes may be kept as received. */
  noteReceived(state: StreamRecordState, doc: PushDoc): void;
  /** The received wire document decoded as exactly `state` (the same content objects); null otherwise. */
  receivedFor(state: StreamRecordState): PushDoc | null;
  /** Drops the sealer and every remembered version (lock, close), and tells each `onForget`. */
  forget(): void;
  /** `drop` runs at `forget` (the wrapper's plaintext memory). */
  onForget(drop: () => void): void;
  /** After `forget`: the error a read of a stored version throws (`refusedAfterForget`); null before. */
  refusal(): Error | null;
}

export function createStreamSealing(
  options: { readonly refusedAfterForget?: () => Error } = {},
): StreamSealing {
  let attached: StreamSealer | null = null;
  let forgotten = false;
  const drops: Array<() => void> = [];
  let stored: RecentMap<string, Remembered> = createRecentMap(STORED_VERSIONS);
  let received = new WeakMap<object, Remembered>();
  return {
    attach(sealer) {
      if (!forgotten) attached = sealer;
    },
    sealer: () => attached,
    noteStored(state, doc) {
      if (attached === null) return;
      stored.set(state.id, { doc, state });
    },
    storedFor(state) {
      const hit = stored.get(state.id);
      if (attached === null || hit === undefined) return null;
      if (hit.doc.author !== attached.deviceId || !sameContent(hit.state, state)) return null;
      return hit.doc;
    },
    noteReceived(state, doc) {
      if (attached === null || typeof state.data !== 'object' || state.data === null) return;
      received.set(state.data, { doc, state });
    },
    receivedFor(state) {
      if (attached === null || typeof state.data !== 'object' || state.data === null) return null;
      const hit = received.get(state.data);
      if (hit === undefined) return null;
      const was = hit.state;
      const same =
        was.id === state.id &&
        was.stream === state.stream &&
        was.rv === state.rv &&
        was._deleted === state._deleted &&
        was.kind === state.kind &&
        was.updatedAt === state.updatedAt &&
        was.by === state.by &&
        was.author === state.author &&
        was.conflict === state.conflict &&
        was.conflictData === state.conflictData &&
        hit.doc.id === state.id &&
        hit.doc.stream === state.stream &&
        hit.doc.deleted === state._deleted &&
        hit.doc.author === state.author;
      return same ? hit.doc : null;
    },
    forget() {
      attached = null;
      forgotten = true;
      stored = createRecentMap(STORED_VERSIONS);
      received = new WeakMap();
      for (const drop of drops) drop();
    },
    onForget(drop) {
      drops.push(drop);
    },
    refusal: () => (forgotten ? (options.refusedAfterForget?.() ?? null) : null),
  };
}
