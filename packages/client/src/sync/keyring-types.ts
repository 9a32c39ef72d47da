/**
 * The keyring's types: what it is given (KeyringDeps), the write guard consent installs (WriteGuard), a
 * recipient of a stream key, and its error.
 *
 * Invariants: none of its own (types and constants only); the keyring's are in keyring.ts.
 */
import { HaleError } from '../core/hale-error';
import type { AccountKeys, Ed25519, X25519 } from '@hale/crypto';
import type { KeyEnvelope } from '@hale/protocol';
import type { KeyCacheStore } from './key-cache';

export type KeyringErrorCode = 'CLAIM_UNCONFIRMED';

/**
 * Most distinct ended-grant ids whose every subset is tried when deriving an own stream's older epoch key
 * (keyring.ts, header): 2^10 derivations at most per envelope, and only for one no active device signed.
 */
export const MAX_SUBSET_IDS = 10;

export class KeyringError extends HaleError {
  constructor(
    readonly code: KeyringErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KeyringError';
  }
}

/**
 * What `writeKey` checks an own stream's write epoch against (keyring.ts, header). `candidates(stream)`: the
 * sets of ended grant ids any of which the write epoch's key must have been derived for (as consent's
 * `matchRotation` candidates; an empty set allows any epoch), and until when (ms) that answer holds.
 * `floor`: persisted highest held epoch per own stream.
 */
export interface WriteGuard {
  candidates: (stream: string) => Promise<{ sets: ReadonlyArray<readonly string[]>; validUntil: number }>;
  now: () => number;
  floor?: {
    load: () => Promise<Record<string, number>>;
    /**
     * Raises the stored floor of `stream` to `epoch`, never lowering it; calls may overlap (consent saves
     * through device meta, which runs the writes of a key one at a time).
     */
    save: (stream: string, epoch: number) => Promise<void>;
  };
  onError?: (error: unknown) => void;
  /** A write to `stream` was refused: its re-keying is owed (consent starts a check). */
  onRefused?: (stream: string) => void;
}

export type Candidates = Awaited<ReturnType<WriteGuard['candidates']>>;
/** The write guard's candidates per own stream, read once during one fetch (see `deriveOwn`). */
export type CandidatesCache = Map<string, { gen: number; answer: Promise<Candidates | null> }>;

export interface KeyRecipient {
  accountId: string;
  wrappingPublicKey: Uint8Array;
}

export interface KeyringDeps {
  accountId: string;
  root: Uint8Array;
  keys: AccountKeys;
  device: { deviceId: string; secretKey: Uint8Array };
  ed: Ed25519;
  /** The host's X25519 for wrapping and opening key envelopes (tweetnacl by default). */
  x25519?: X25519;
  fetchEnvelopes: (streams?: string[]) => Promise<KeyEnvelope[]>;
  /**
   * The server's list of the streams this account may read and their current epochs (`listStreams`):
   * asked for by a full refresh that has no list to plan its slices by. Without it, such a refresh asks
   * for every envelope in one request.
   */
  listStreams?: () => Promise<ReadonlyArray<{ stream: string; epoch: number }>>;
  publishEnvelopes: (envelopes: KeyEnvelope[]) => Promise<void>;
  /** Public key of a certified, non-revoked device of `accountId`, or null. */
  deviceKey: (accountId: string, deviceId: string) => Promise<Uint8Array | null>;
  /**
   * Loads the device lists of these accounts ahead of `deviceKey` lookups, as few requests as it can
   * (the directory's `preload`). Its outcome does not matter: `deviceKey` still answers each lookup.
   */
  preloadDeviceLists?: (accountIds: string[]) => Promise<void>;
  onRejectedEnvelope?: (envelope: KeyEnvelope, reason: string) => void;
  /**
   * False once the keys may no longer be used: the account was locked or the session closed (see the
   * header). Checked at every use; always usable without it.
   */
  usable?: () => boolean;
  /** A key was asked for while the keys may not be used (the session reports it). */
  onUnusable?: () => void;
  /** Where opened keys are kept for the next session (key-cache.ts); none: every session opens them all. */
  keyCache?: KeyCacheStore;
}
