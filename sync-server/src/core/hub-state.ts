/*
 * What the live hub (hub.ts, hub-access.ts, hub-delivery.ts) holds per connection, and the helpers every
 * part of it uses on that state.
 *
 * Invariants:
 * - A connection's state is changed only by the hub's modules; `closed` set (by `halt`) means nothing
 *   more is sent to it and none of its timers fires.
 * - `visible` is what the device was last told, stream → terms (`termsOf`); re-evaluations diff against
 *   it, never against the clock.
 * - The follower indexes (by stream, by account) hold a connection under a key only while it follows that
 *   stream or is registered (`index`, `unindex`; an emptied set is removed).
 */
import type { ServerFrame } from '@hale/protocol';
import type { Grant, SyncStore } from '../store/index';
import { grantedStreams, type GrantedStream } from './access';
import type { OwnPushes } from './own-pushes';
import type { AuthenticatedDevice, SyncService } from './sync-service';

export interface LiveConnection {
  readonly id: number;
  readonly principal: AuthenticatedDevice;
  /**
   * Sends a frame. The hub holds a connection from before its device is told `ready`; what it sends
   * until then the owner holds and sends right after `ready`, in order (sync-ws.ts): it counts as told.
   */
  send(frame: ServerFrame): void;
  /** Sends an already encoded frame (the same `changes` text is shared by every follower of a stream). */
  sendEncoded(text: string, type: ServerFrame['t']): void;
  bufferedAmount(): number;
  close(code: number, reason: string): void;
  /**
   * Ends the connection at once, without a close handshake: for a client that reads nothing, whose close
   * frame would wait behind what it has not read. `reason` is for the server's log only.
   */
  terminate(reason: string): void;
}

export interface ConnState {
  conn: LiveConnection;
  subs: Map<string, number>;
  dirty: Set<string>;
  flushing: boolean;
  /** Grants the account received that were unended when loaded (boundaries may have passed since). */
  grants: Grant[];
  /** Next instant one of `grants` starts or ends (null for none), as the timer was armed. */
  boundary: number | null;
  /** The latest re-evaluation (settled, never rejecting): the next one waits for it. */
  evaluating: Promise<void>;
  /**
   * Streams the device was last told it may sync, each with the terms it was told (`termsOf`):
   * accessChanged diffs against this, not the clock.
   */
  visible: Map<string, string>;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Retries the streams whose delivery failed (unref'd); armed only while some did. */
  retry: ReturnType<typeof setTimeout> | undefined;
  /** Delay of the next retry: doubles per failed retry, back to the first once a flush delivers all. */
  retryDelay: number;
  /**
   * The next look at a socket above the high-water mark (unref'd), while delivery waits for it: one per
   * connection, however many flushes (a commit on any followed stream asks for one) find it full.
   */
  drainWait: ReturnType<typeof setTimeout> | undefined;
  /**
   * While delivery waits for the socket to drain: since when it has not been seen to drain (the wait's
   * start or the last look that found less buffered, performance.now()) and what it held at the last look.
   * Null while nothing waits.
   */
  stall: { since: number; buffered: number } | null;
  closed: boolean;
  /** Versions this connection pushed: withheld from its live pages (own-pushes.ts). */
  own: OwnPushes;
}

/**
 * What a re-evaluation reloads before deciding: nothing (a grant boundary), every grant the account
 * received, or those from some patients only, merged over the rest the connection holds.
 */
export type Reload = 'none' | 'all' | { readonly patientIds: ReadonlySet<string> };

export interface HubOptions {
  store: SyncStore;
  service: SyncService;
  now: () => number;
  /** Bytes queued on a socket above which delivery pauses. */
  highWaterBytes?: number;
  /**
   * How long delivery waits above the high-water mark for a socket whose client takes none of it before
   * the connection is dropped (`terminate`); default 60 s.
   */
  sendStallTimeoutMs?: number;
  /**
   * Length of a live-audit window (per connection and stream): its first page is logged before it is sent,
   * the documents sent after it in one more entry at its end.
   */
  liveAuditIntervalMs?: number;
  onDelivered?: (docs: number) => void;
  onError?: (error: unknown) => void;
}

/** Backoff of the retry of a stream whose delivery failed: from the first delay, doubling, up to the last. */
export const RETRY_MIN_MS = 1_000;
export const RETRY_MAX_MS = 60_000;
/** Close reasons of a connection whose re-decision failed (code 4000: the device reconnects). */
export const CHANGE_FAILED = 'access could not be re-checked after a grant change; reconnect';
export const BOUNDARY_FAILED = 'access could not be re-checked at a grant start or expiry; reconnect';
/** The terms a stream is followed on, as `accessChanged` tells them: access, grant, expiry, end of reading. */
export const termsOf = (s: GrantedStream): string =>
  `${s.access}|${s.grantId}|${s.expiresAt}|${s.readExpiresAt ?? ''}`;
/**
 * What a connection follows, stream → terms (`current`: the streams `grants` grant at `t`, when already
 * listed). Maps, not scans: a clinic's provider sees tens of thousands of streams.
 */
export const visibleOf = (
  grants: Grant[],
  accountId: string,
  t: number,
  current: GrantedStream[] = grantedStreams(grants, accountId, t),
): Map<string, string> => new Map(current.map((s) => [s.stream, termsOf(s)]));

export const index = <K>(map: Map<K, Set<ConnState>>, key: K): Set<ConnState> => {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
};
export const unindex = <K>(map: Map<K, Set<ConnState>>, key: K, state: ConnState): void => {
  const set = map.get(key);
  if (!set) return;
  set.delete(state);
  if (set.size === 0) map.delete(key);
};

export const clearRetry = (state: ConnState): void => {
  if (state.retry) clearTimeout(state.retry);
  state.retry = undefined;
};

/** Nothing more is sent to the connection, and none of its timers fires. */
export const halt = (state: ConnState): void => {
  state.closed = true;
  if (state.timer) clearTimeout(state.timer);
  clearRetry(state);
  if (state.drainWait) clearTimeout(state.drainWait);
  state.drainWait = undefined;
};
