/**
 * Live delivery: which connection follows which stream, and pushing committed changes to them.
 *
 * Invariants:
 * - Delivery is pull-shaped: a commit only marks a subscription dirty; the hub then reads the store from
 *   the subscription's cursor. No change is queued in memory per connection, so a slow device costs a
 *   cursor, not a buffer; when a socket's send buffer is above the high-water mark the hub waits for it to
 *   drain (backpressure), looking at it again every 10 ms with one timer per connection whatever number of
 *   commits arrive meanwhile, and catches up later from the cursor, in order, without loss or duplicates. A
 *   connection whose socket takes none of its buffer for `sendStallTimeoutMs` (real time) while delivery
 *   waits is dropped at once (`terminate`: no close frame, which would queue behind what the client does
 *   not read and leave ws holding the socket and its buffer for its close timeout) instead of being looked
 *   at every 10 ms until its session ends.
 * - Per stream, documents go out in seq order and the cursor only advances past what was sent.
 * - Access is re-decided at every delivery with the server clock, before the page is read and again once
 *   it is read, so delivery stops at the expiry instant even if no timer fired; a page that opens a
 *   live-audit window is decided once more inside the transaction that logs it (the service's access
 *   guard, reading the grants the store holds then: one read per window opened, none per page), and that
 *   is its last decision: refused there, it is neither logged nor sent (the patient's grants are read again
 *   and the connection re-decided, so a revocation through another process is found at once), and once
 *   logged it is sent, so the log claims no page that was not sent for want of access; grant changes
 *   in this process re-evaluate affected connections at once and tell the device (`accessChanged`:
 *   streams that became available or are now followed on other terms — access, grant, expiry, end of
 *   reading, as `grantedStreams` describes each — and those that ended); timers fire at the next grant
 *   boundary of each grantee connection.
 * - Key envelopes stored in this process for an account other than the stream's patient (`keysStored`)
 *   are announced to that account's connections as `accessChanged` (the streams among them each follows on
 *   the terms it was told, with the current epoch, nothing removed), in its re-evaluation queue, so a
 *   device that pulled a stream's records before their key landed fetches it at once. Such a notice
 *   costs each connection a lookup of the publishing patient's grants (indexed by patient), never a pass
 *   over all it holds: any patient may address envelopes to any account. It changes no access and no
 *   `visible`; if it fails it is reported through `onError` and the connection stays open. Envelopes
 *   stored through another process sharing the store are not announced (the device's quarantine retry
 *   fetches them later) — unless the store tells of them (`onRemoteChange`, the CouchDB store's `_changes`
 *   follower): then grant changes, device revocations and key envelopes committed through other nodes are
 *   acted on as this node's own (`grantsChanged`, `closeDevice`, `keysStored`).
 * - Each connection holds its account's grants unended when last loaded (never the ended ones, which any
 *   patient can pile onto any account), and reloads them only when they changed: at once for a change in
 *   this process (`grantsChanged`), and at the next `sweep` for one made through another process sharing
 *   the store — each sweep asks the store once which grantees changed since the last (`changesSince`).
 *   A change in this process reloads only the grants of the patient whose grant changed, merged over the
 *   rest the connection holds (as a subscribe reloads the patients it names), or all of them when the
 *   patient is not given; the sweep reloads all of them, also after a change in this process (the store
 *   says whose grants changed, not from which patient).
 *   A connection is registered before its grants are first loaded, the load being the first step of its
 *   re-evaluation queue: a change committed while they are read finds the connection and is re-decided
 *   after the load, instead of being missed until the next change.
 *   Grant boundaries need no reload (the held grants say when they start and end): the sweep re-decides a
 *   connection whose next boundary the clock passed, in case its timer has not fired. So a sweep costs one
 *   small query plus a comparison per connection, whatever is stored. A refusal's reason is completed from
 *   the pair's ended grants (`service.explain`), read only when something is taken away.
 * - A revocation in this process takes its grant from every connection of the grantee synchronously just
 *   before it commits (`grantEnding`), and until its `grantsChanged` settled no reload keeps it (one may
 *   have read the store before the commit): with the re-decision of each page once read, no row committed
 *   after the revocation reaches the grantee live, whatever the reload after it still waits for (the audit
 *   writes, a queued re-evaluation). A refusal this causes before the commit names no ended grant yet, so
 *   it is announced `revoked`, as after it.
 * - A re-evaluation after a grant change fails closed: a connection whose reload (or the re-decision
 *   after it) fails is closed at once (4000, `error` UNAVAILABLE), delivery to it stopping before
 *   `grantsChanged` settles, since the grants it holds may include the one just revoked and nothing else
 *   would stop delivery from them (the sweep that found the change has moved past it). The device
 *   reconnects and its grants are loaded from the store again. `grantsChanged` settles only once every
 *   connection of the grantee is re-decided or closed, and then rejects with the first failure.
 * - A re-decision at a grant boundary (its timer, or the sweep) that fails closes the connection the
 *   same way: delivery already stops at an expiry by the clock, but the device would not be told what
 *   started or ended. Nothing awaits the timer, so its failure is reported through `onError`; the
 *   sweep's rejects the sweep.
 * - A grantee's live access is written to the patient's audit log in windows of `liveAuditIntervalMs` per
 *   (connection, stream) — the windows of access-windows.ts, the connection as their channel — so a busy
 *   stream costs at most two entries (each a seal, a signature and a commit) per window instead of one per
 *   page:
 *   - the page that opens a window is logged before it is sent: an access that cannot be logged is not
 *     given (nothing is sent, the cursor stays, the stream is retried as below);
 *   - documents sent later in the window are tallied after they are sent, and the tally is logged as one
 *     more 'live' entry when the window ends: at its timer (unref'd), when a page arrives after the window
 *     by the hub clock (then in the same batch as, and before, the entry opening the next window), or when
 *     the stream's live delivery stops for the connection (unsubscribe, access revoked or expired,
 *     connection closed, hub stopped);
 *   - a window's tally is taken, and the window ended, in one synchronous step before its write starts,
 *     so a document is counted in exactly one entry and a new window opens only once the previous tally
 *     is written or being written: the `count`s of a connection's 'live' entries for a stream add up to
 *     the documents sent to it.
 * Failure modes: a store error (or an access that cannot be logged) while delivering a stream is reported
 * through `onError` and leaves that stream's cursor where it was; the connection's other dirty streams are
 * still delivered in the same flush, and the failed stream stays dirty and is retried by an unref'd timer
 * with backoff (1 s doubling up to 60 s, back to 1 s once a flush delivers everything), or sooner by the
 * connection's next flush (a later commit on any stream it follows). A socket that fails to send is
 * closed by its owner, which removes the connection at once (nothing found closed is counted as sent).
 * A connection the hub closes (`closeDevice`, a failed re-decision) or drops (a stalled socket) is stopped
 * at that moment, not when its socket's close reaches `remove`.
 * The live counts are off only (a) upwards by one page when the connection closes or its subscription
 * ends or moves between logging a window's first page and sending it (logged first, never under), and
 * (b) downwards by a tally lost to a crash before its window ended, or whose write failed (reported
 * through `onError`; kept and retried with the stream's next audit write on that connection, so lost only
 * when that was the last).
 * `stop()` ends every window and starts its write; `drain()` waits for all of the hub's audit writes, so
 * the owner calls it before closing the store. A connection added after `stop()` (a sign-in that
 * completes while the owner shuts down) is closed at once (1001), never held unserved.
 */
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_DOCS,
  encodeFrame,
  type PushResult,
  type PushRow,
  type ServerFrame,
  type StreamAccess,
} from '@hale/protocol';
import type { DocPage, Grant, StreamHead, SyncStore } from '../store/index';
import {
  decideAccess,
  grantedStreams,
  grantsOfPatient,
  nextGrantBoundary,
  patientToExplain,
  type GrantedStream,
  type Operation,
} from './access';
import { createAccessWindows, type WindowKey } from './access-windows';
import { isAccessEnded, toServedDoc, type AuthenticatedDevice, type SyncService } from './sync-service';
import { createOwnPushes, type OwnPushes } from './own-pushes';

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

interface ConnState {
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
type Reload = 'none' | 'all' | { readonly patientIds: ReadonlySet<string> };

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

const LIVE_PAGE_BYTES = Math.floor(MAX_BATCH_BYTES / 2);
/** Backoff of the retry of a stream whose delivery failed: from the first delay, doubling, up to the last. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;
/** Close reasons of a connection whose re-decision failed (code 4000: the device reconnects). */
const CHANGE_FAILED = 'access could not be re-checked after a grant change; reconnect';
const BOUNDARY_FAILED = 'access could not be re-checked at a grant start or expiry; reconnect';
/** Why a connection added once the hub stopped is closed (1001, as the server's close() closes the rest). */
const SHUTTING_DOWN = 'server shutting down';
/** Why a connection whose client took none of its live changes for the stall timeout is dropped. */
const STALLED = 'the client takes none of its live changes; reconnect';
/** The terms a stream is followed on, as `accessChanged` tells them: access, grant, expiry, end of reading. */
const termsOf = (s: GrantedStream): string =>
  `${s.access}|${s.grantId}|${s.expiresAt}|${s.readExpiresAt ?? ''}`;
/**
 * What a connection follows, stream → terms (`current`: the streams `grants` grant at `t`, when already
 * listed). Maps, not scans: a clinic's provider sees tens of thousands of streams.
 */
const visibleOf = (
  grants: Grant[],
  accountId: string,
  t: number,
  current: GrantedStream[] = grantedStreams(grants, accountId, t),
): Map<string, string> => new Map(current.map((s) => [s.stream, termsOf(s)]));

export const createHub = (options: HubOptions) => {
  const { store, service, now } = options;
  const highWater = options.highWaterBytes ?? 4 * 1024 * 1024;
  const stallTimeout = options.sendStallTimeoutMs ?? 60_000;
  const liveAuditInterval = options.liveAuditIntervalMs ?? 60_000;
  const states = new Map<number, ConnState>();
  /**
   * Grants being revoked in this process (id → revocations of it under way), from just before the
   * revocation commits until its re-evaluation settled (`grantEnding`): no connection holds them, whatever
   * a reload that read the store before the commit returns after it.
   */
  const ending = new Map<string, number>();
  const held = (grants: Grant[]): Grant[] =>
    ending.size === 0 ? grants : grants.filter((g) => !ending.has(g.grantId));
  /** Grant-change position of the store at the last sweep; null until the first sweep. */
  let sweptPosition: number | null = null;
  /** Set by `stop()`: nothing is delivered any more, so a connection added later is closed, not held. */
  let stopped = false;
  const byStream = new Map<string, Set<ConnState>>();
  const byAccount = new Map<string, Set<ConnState>>();
  /**
   * Live-audit windows, one per (connection, stream): the first page logged before it is sent, the pages
   * after it counted once sent; a window's end timer is armed only once there is a tally, so quiet streams
   * hold no timer. Tallies are written one stream at a time, so one patient's failure holds back no other's.
   */
  const live = createAccessWindows({
    now,
    windowMs: liveAuditInterval,
    write: (principal, events, guard) => service.recordGranteeAccess(principal, events, guard),
    timer: 'at-first-count',
    tallyWrites: 'per-key',
    isGone: (id) => states.get(id)?.closed ?? true,
    describeUnlogged: (_principal, tallies, kept) =>
      tallies
        .map(
          (t) =>
            `${t.count} documents delivered live on ${t.stream} are not in the audit log (${
              kept ? 'retried with its next write' : 'the connection is gone, so they are lost'
            })`,
        )
        .join('; '),
    ...(options.onError ? { onError: options.onError } : {}),
  });
  const liveKey = (state: ConnState, stream: string): WindowKey => ({
    action: 'live',
    stream,
    channel: state.conn.id,
  });

  const index = <K>(map: Map<K, Set<ConnState>>, key: K): Set<ConnState> => {
    let set = map.get(key);
    if (!set) {
      set = new Set();
      map.set(key, set);
    }
    return set;
  };
  const unindex = <K>(map: Map<K, Set<ConnState>>, key: K, state: ConnState): void => {
    const set = map.get(key);
    if (!set) return;
    set.delete(state);
    if (set.size === 0) map.delete(key);
  };

  const armTimer = (state: ConnState): void => {
    if (state.timer) clearTimeout(state.timer);
    state.timer = undefined;
    const at = nextGrantBoundary(state.grants, now());
    state.boundary = at;
    if (at === null || state.closed) return;
    // Capped so a far-future expiry does not overflow setTimeout; the sweep re-arms.
    // Nothing awaits a timer: a failed re-decision closes the connection (see the header) and is reported.
    state.timer = setTimeout(
      () =>
        void reevaluateOrClose(state, 'none', BOUNDARY_FAILED).catch((error: unknown) =>
          options.onError?.(error),
        ),
      Math.min(Math.max(at - now(), 0) + 5, 2 ** 31 - 1),
    );
    state.timer.unref?.();
  };

  /** The stream's live delivery stopped on this connection: its window ends and its tally is written. */
  const endDelivery = (state: ConnState, stream: string): void =>
    live.end(state.conn.principal, liveKey(state, stream));

  // Never 'device-revoked' (reserved in the protocol): a revoked device is not told by accessChanged, its
  // connections are closed with DEVICE_REVOKED (closeDevice).
  const removedReason = (code: string): 'expired' | 'revoked' | 'device-revoked' =>
    code === 'CONSENT_EXPIRED' ? 'expired' : 'revoked';

  /** `decideAccess` on the connection's grants, a refusal's reason completed from the ended grants. */
  const decide = (
    state: ConnState,
    stream: string,
    op: Operation,
    t: number,
    ended: ReturnType<SyncService['endedLookups']>,
  ) =>
    service.explain(
      state.conn.principal,
      stream,
      decideAccess(state.conn.principal, stream, op, state.grants, t),
      t,
      ended,
    );

  /**
   * Drops subscriptions that are no longer allowed and announces streams that became available. One at a
   * time per connection: each diffs against what the previous one announced, so a change seen by two
   * callers at once (this process's notice and the sweep) is announced once.
   */
  const reevaluate = (state: ConnState, reload: Reload): Promise<void> =>
    enqueue(state, () => evaluate(state, reload));

  /**
   * Runs `work` in the connection's re-evaluation queue, after everything queued before it; the queue goes
   * on whether it fails or not, and the caller gets its outcome.
   */
  const enqueue = <T>(state: ConnState, work: () => Promise<T>): Promise<T> => {
    const run = state.evaluating.then(work);
    state.evaluating = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };

  /**
   * Reloads the connection's grants as `reload` says. One patient's are replaced whole (all that deciding
   * on its streams reads); the others' rows stay as last loaded, kept fresh by their own reloads.
   */
  const reloadGrants = async (state: ConnState, reload: Reload): Promise<void> => {
    if (reload === 'none') return;
    const p = state.conn.principal;
    if (reload === 'all') {
      state.grants = held(await service.grantsFor(p));
      return;
    }
    const fresh = held(await service.grantsFrom(p, reload.patientIds));
    state.grants = [...state.grants.filter((g) => !reload.patientIds.has(g.patientId)), ...fresh];
  };

  const evaluate = async (state: ConnState, reload: Reload): Promise<void> => {
    if (state.closed) return;
    const p = state.conn.principal;
    const before = state.visible;
    await reloadGrants(state, reload);
    const t = now();
    const ended = service.endedLookups();
    const removed: Array<{ stream: string; reason: 'expired' | 'revoked' | 'device-revoked' }> = [];
    for (const stream of [...state.subs.keys()]) {
      if (decideAccess(p, stream, 'live', state.grants, t).ok) continue;
      const d = await decide(state, stream, 'live', t, ended);
      // Re-checked after the lookup: the stream may have been unsubscribed meanwhile.
      if (!d.ok && state.subs.has(stream)) {
        state.subs.delete(stream);
        state.dirty.delete(stream);
        unindex(byStream, stream, state);
        endDelivery(state, stream);
        removed.push({ stream, reason: removedReason(d.code) });
      }
    }
    const current = grantedStreams(state.grants, p.accountId, t);
    const visible = visibleOf(state.grants, p.accountId, t, current);
    const removedStreams = new Set(removed.map((r) => r.stream));
    for (const stream of before.keys()) {
      if (!visible.has(stream) && !removedStreams.has(stream)) {
        const d = await decide(state, stream, 'live', t, ended);
        removed.push({ stream, reason: d.ok ? 'revoked' : removedReason(d.code) });
      }
    }
    state.visible = visible;
    // Added, or followed on other terms (read became write or back, another grant, another expiry): the
    // device's write guard and expiry checks go by what it was told.
    const added = current.filter((s) => before.get(s.stream) !== visible.get(s.stream));
    if (removed.length > 0 || added.length > 0) {
      state.conn.send({
        t: 'accessChanged',
        streams: await service.accessRows(added),
        removed: removed.map((r) => ({ stream: r.stream as StreamAccess['stream'], reason: r.reason })),
      });
    }
    armTimer(state);
  };

  /**
   * `keysStored`'s work for one connection: the streams of `streams` it follows on the terms it was told
   * (`visible`), announced again with their current epoch. A stream followed on other terms by now is left
   * to the re-evaluation that finds the change, which announces it whole; so nothing here moves `visible`.
   */
  const announceKeys = async (
    state: ConnState,
    patientId: string,
    streams: ReadonlySet<string>,
  ): Promise<void> => {
    if (state.closed) return;
    const p = state.conn.principal;
    // Only the publishing patient's grants, looked up, not filtered: a clinic's provider holds thousands,
    // and any patient may address envelopes to it (the server stores them with or without a grant).
    const own = grantsOfPatient(state.grants, patientId);
    const followed = grantedStreams(own, p.accountId, now()).filter(
      (s) => streams.has(s.stream) && state.visible.get(s.stream) === termsOf(s),
    );
    if (followed.length === 0) return;
    const rows = await service.accessRows(followed);
    // Closed while the rows were read: nothing more goes to it.
    if (state.closed) return;
    state.conn.send({ t: 'accessChanged', streams: rows, removed: [] });
  };

  /**
   * Re-decides the connection (after reloading its grants as `reload` says); if that fails, closes it (see
   * the header) and rethrows. Delivery stops at once, not when the socket's close reaches `remove`.
   */
  const reevaluateOrClose = async (state: ConnState, reload: Reload, reason: string): Promise<void> => {
    try {
      await reevaluate(state, reload);
    } catch (error) {
      if (!state.closed) {
        halt(state);
        state.conn.close(4000, reason);
      }
      throw error;
    }
  };
  const reloadOrClose = (state: ConnState, reload: Reload = 'all'): Promise<void> =>
    reevaluateOrClose(state, reload, CHANGE_FAILED);

  /** Waits for every one of `runs`, then rejects with the first failure if any. */
  const settleAll = async (runs: Array<Promise<void>>): Promise<void> => {
    const failed = (await Promise.allSettled(runs)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  /** Delivery of a stream failed: it is tried again by this timer (with backoff), not only by its next commit. */
  const armRetry = (state: ConnState): void => {
    if (state.retry || state.closed) return;
    state.retry = setTimeout(() => {
      state.retry = undefined;
      void flush(state);
    }, state.retryDelay);
    state.retry.unref?.();
    state.retryDelay = Math.min(state.retryDelay * 2, RETRY_MAX_MS);
  };

  const clearRetry = (state: ConnState): void => {
    if (state.retry) clearTimeout(state.retry);
    state.retry = undefined;
  };

  /** Nothing more is sent to the connection, and none of its timers fires. */
  const halt = (state: ConnState): void => {
    state.closed = true;
    if (state.timer) clearTimeout(state.timer);
    clearRetry(state);
    if (state.drainWait) clearTimeout(state.drainWait);
    state.drainWait = undefined;
  };

  /** The connection is gone, or could not be added: nothing stays registered, timed or open for it. */
  const forget = (state: ConnState): void => {
    halt(state);
    live.endChannel(state.conn.id);
    for (const stream of state.subs.keys()) unindex(byStream, stream, state);
    unindex(byAccount, state.conn.principal.accountId, state);
    if (states.get(state.conn.id) === state) states.delete(state.conn.id);
  };

  /**
   * Sends one page of the stream from the connection's cursor (logging it first if it opens a live-audit
   * window) and answers whether more is waiting. A throw leaves the cursor where it was.
   */
  const deliver = async (state: ConnState, stream: string): Promise<boolean> => {
    const cursor = state.subs.get(stream);
    if (cursor === undefined) return false;
    const allowed = () => decideAccess(state.conn.principal, stream, 'live', state.grants, now());
    // Left dirty: the re-evaluation drops the stream if it is refused, and a grant given back meanwhile (a
    // revocation whose commit failed) lets the flush go on with it.
    const refused = async (reload: Reload = 'none'): Promise<false> => {
      state.dirty.add(stream);
      await reevaluate(state, reload);
      return false;
    };
    let decision = allowed();
    if (!decision.ok) return refused();
    const { page, text } = await livePage(stream, cursor);
    if (state.closed || state.subs.get(stream) !== cursor) return false;
    // Decided again on what the connection holds now (no store read): a revocation that began while the
    // page was read took its grant away before it committed (`grantEnding`), and the page may hold rows
    // committed after it.
    decision = allowed();
    if (!decision.ok) return refused();
    // This connection's own pushes are withheld; the page's checkpoint still goes out (with the rest).
    const docs = state.own.take(page.docs);
    const frame =
      docs === page.docs
        ? text
        : encodeFrame({
            t: 'changes',
            docs: docs.map(toServedDoc),
            streams: [{ stream: stream as StreamAccess['stream'], checkpoint: page.checkpoint }],
          });
    if (docs.length === 0 && page.docs.length > 0) state.conn.sendEncoded(frame, 'changes');
    if (docs.length > 0) {
      const n = docs.length;
      const p = state.conn.principal;
      const access = { ...liveKey(state, stream), count: n };
      let repeat = false;
      if (decision.level !== 'owner') {
        repeat = live.isOpen(p, access);
        if (!repeat) {
          // Opens a window. Logged before it is sent, as pulls are: an access that cannot be logged is
          // not given (the throw leaves the cursor where it was; the stream is retried). A previous
          // window still open by the timers is over by the clock: its tally goes first in the same
          // batch, so both are stored or neither, and a failure keeps it for the retry. The write carries
          // the guard that decides the stream once more inside its transaction, from the grants the
          // store holds then (one read per window opened, none per page): that decision is the page's
          // last, so what the log holds is what is sent.
          try {
            await live.record(p, [access], (streams) => service.accessGuard(p, streams, 'live'));
          } catch (error) {
            if (!isAccessEnded(error)) throw error;
            // Refused there: nothing logged, nothing sent. The grant may have ended through another
            // process, which the grants held do not show yet: the patient's are read again.
            const patientId = patientToExplain(p, stream);
            return refused(patientId === null ? 'none' : { patientIds: new Set([patientId]) });
          }
          // Closed or unsubscribed meanwhile: logged but not sent (over, never under, by this page), and
          // no window stays open on it.
          if (state.closed || state.subs.get(stream) !== cursor) {
            live.end(p, access);
            return false;
          }
        }
      }
      state.conn.sendEncoded(frame, 'changes');
      // The owner found its socket closing and removed the connection: nothing went out to count.
      if (state.closed) return false;
      // Counted once sent; no await since the window was looked up, so it is still open.
      if (repeat) live.count(p, access);
      options.onDelivered?.(n);
    }
    state.subs.set(stream, page.checkpoint);
    return !page.done;
  };

  /**
   * Whether the connection's socket, above the high-water mark at `buffered`, has taken nothing for the
   * stall timeout: any look that finds less buffered than the last restarts the wait. Real time, not the
   * hub clock, which tests move by hours.
   */
  const stalled = (state: ConnState, buffered: number): boolean => {
    const t = performance.now();
    if (state.stall === null || buffered < state.stall.buffered) {
      state.stall = { since: t, buffered };
      return false;
    }
    state.stall.buffered = buffered;
    return t - state.stall.since >= stallTimeout;
  };

  const flush = async (state: ConnState): Promise<void> => {
    if (state.flushing || state.closed) return;
    state.flushing = true;
    // Streams whose delivery failed in this flush: set aside so the others go on, then dirty again.
    const failed = new Set<string>();
    let finished = false;
    try {
      for (;;) {
        if (state.closed) return;
        // A commit during the flush may mark a failed stream dirty again: it waits for the retry.
        let stream: string | undefined;
        for (const s of state.dirty) {
          if (!failed.has(s)) {
            stream = s;
            break;
          }
        }
        if (stream === undefined) {
          // Nothing waits to go out: a later wait is measured from its own start.
          state.stall = null;
          break;
        }
        const buffered = state.conn.bufferedAmount();
        if (buffered > highWater) {
          if (stalled(state, buffered)) {
            // Its buffer would stay pinned until the session ends, looked at every 10 ms; and a close
            // frame, queued behind that buffer, would pin it for ws's close timeout.
            halt(state);
            state.conn.terminate(STALLED);
            return;
          }
          // One look pending per connection: a timer per flush that found the socket full would leave
          // a 10 ms poll loop per commit behind for as long as the client reads slowly.
          if (state.drainWait === undefined) {
            state.drainWait = setTimeout(() => {
              state.drainWait = undefined;
              void flush(state);
            }, 10);
            state.drainWait.unref?.();
          }
          return;
        }
        state.stall = null;
        state.dirty.delete(stream);
        try {
          if (await deliver(state, stream)) state.dirty.add(stream);
        } catch (error) {
          // One stream's failure (a store error, an access that cannot be logged) holds back no other.
          failed.add(stream);
          options.onError?.(error);
        }
      }
      finished = true;
    } finally {
      state.flushing = false;
      for (const stream of failed) if (state.subs.has(stream)) state.dirty.add(stream);
      if (failed.size > 0) armRetry(state);
      else if (finished) {
        clearRetry(state);
        state.retryDelay = RETRY_MIN_MS;
      }
    }
  };

  // Followers of one stream usually stand at the same cursor: read and encode each page once, not once
  // per follower. Entries live until the next commit of their stream or the next turn of the event loop.
  const pages = new Map<string, Promise<{ page: DocPage; text: string }>>();
  const livePage = (stream: string, cursor: number): Promise<{ page: DocPage; text: string }> => {
    const key = `${stream}|${cursor}`;
    let hit = pages.get(key);
    if (!hit) {
      hit = store.docs.readDocs(stream, cursor, MAX_BATCH_DOCS, LIVE_PAGE_BYTES).then((page) => ({
        page,
        text:
          page.docs.length === 0
            ? ''
            : encodeFrame({
                t: 'changes',
                docs: page.docs.map(toServedDoc),
                streams: [{ stream: stream as StreamAccess['stream'], checkpoint: page.checkpoint }],
              }),
      }));
      pages.set(key, hit);
      hit.catch(() => pages.delete(key));
      setTimeout(() => pages.delete(key), 0).unref?.();
    }
    return hit;
  };

  /** `subscribe`'s work, in the connection's re-evaluation queue (see `subscribe`). */
  const subscribeNow = async (
    state: ConnState,
    cursors: Array<{ stream: string; since: number }>,
  ): Promise<{ ok: true } | { ok: false; code: string; denied: Array<{ stream: string; code: string }> }> => {
    // Closed while queued (e.g. failed closed by a re-evaluation): nothing to follow on it.
    if (state.closed) return { ok: false, code: 'UNAUTHENTICATED', denied: [] };
    // Fresh grants of the patients named (what deciding on their streams needs: a clinic's provider
    // subscribes in slices, and reloading all its grants for each cost ~0.2 s at 10,000 patients); the
    // others' rows are kept fresh by the re-evaluations queued behind this.
    const p = state.conn.principal;
    const named = new Set<string>();
    for (const c of cursors) {
      const patientId = patientToExplain(p, c.stream);
      if (patientId !== null) named.add(patientId);
    }
    await reloadGrants(state, { patientIds: named });
    const t = now();
    const ended = service.endedLookups();
    const denied: Array<{ stream: string; code: string }> = [];
    for (const c of cursors) {
      const d = await decide(state, c.stream, 'live', t, ended);
      if (!d.ok) denied.push({ stream: c.stream, code: d.code });
    }
    if (denied.length > 0) return { ok: false, code: denied[0]!.code, denied };
    // Removed during the awaits above (a socket closed while the cluster store answered): registering now
    // would leave it among the stream's followers for good, since `forget` has already run.
    if (state.closed) return { ok: false, code: 'UNAUTHENTICATED', denied: [] };
    for (const c of cursors) {
      state.subs.set(c.stream, c.since);
      index(byStream, c.stream).add(state);
      state.dirty.add(c.stream);
    }
    armTimer(state);
    void flush(state);
    return { ok: true };
  };

  const unsubscribeCommit = store.onCommitted((heads: StreamHead[]) => {
    for (const { stream } of heads) {
      for (const key of pages.keys()) if (key.startsWith(`${stream}|`)) pages.delete(key);
    }
    for (const { stream, head } of heads) {
      const set = byStream.get(stream);
      if (!set) continue;
      for (const state of set) {
        const cursor = state.subs.get(stream);
        if (cursor !== undefined && cursor < head) {
          state.dirty.add(stream);
          void flush(state);
        }
      }
    }
  });

  /** Changes committed through other nodes sharing the store (store.onRemoteChange), subscribed below. */
  const remote: { unsubscribe: (() => void) | undefined } = { unsubscribe: undefined };

  const hub = {
    /**
     * Registers the connection, then loads its grants as the first step of its re-evaluation queue: a
     * grant change committed while they are read finds the connection (through `grantsChanged` or the
     * sweep) and is re-decided after the load, instead of being missed until some later change. Rejects,
     * the connection forgotten, if the grants cannot be loaded. Once the hub stopped, closes the connection
     * (1001, as the owner's shutdown closes those it held) and registers nothing: it would be served
     * nothing and closed by no one.
     */
    async add(conn: LiveConnection): Promise<void> {
      if (stopped) {
        conn.close(1001, SHUTTING_DOWN);
        return;
      }
      const state: ConnState = {
        conn,
        subs: new Map(),
        dirty: new Set(),
        flushing: false,
        grants: [],
        boundary: null,
        evaluating: Promise.resolve(),
        visible: new Map(),
        timer: undefined,
        retry: undefined,
        retryDelay: RETRY_MIN_MS,
        drainWait: undefined,
        stall: null,
        closed: false,
        own: createOwnPushes(),
      };
      states.set(conn.id, state);
      index(byAccount, conn.principal.accountId).add(state);
      const load = enqueue(state, async () => {
        const grants = await service.grantsFor(conn.principal);
        // Removed (or the hub stopped) while loading: nothing to hold or time.
        if (state.closed) return;
        state.grants = held(grants);
        state.visible = visibleOf(state.grants, conn.principal.accountId, now());
        armTimer(state);
      });
      try {
        await load;
      } catch (error) {
        forget(state);
        throw error;
      }
    },
    remove(conn: LiveConnection): void {
      const state = states.get(conn.id);
      if (state) forget(state);
    },
    /**
     * Subscribes all or nothing: any stream the device may not follow refuses the whole request. Runs in
     * the connection's re-evaluation queue: grants it read before a change committed would otherwise be
     * written over those a re-evaluation read after it, and its streams added after that re-evaluation
     * looked, so a revoked stream would stay followed (no sweep finds the change again).
     */
    async subscribe(conn: LiveConnection, cursors: Array<{ stream: string; since: number }>) {
      const state = states.get(conn.id);
      if (!state) return { ok: false as const, code: 'UNAUTHENTICATED' as const, denied: [] };
      return enqueue(state, () => subscribeNow(state, cursors));
    },
    unsubscribe(conn: LiveConnection, streams: string[]): void {
      const state = states.get(conn.id);
      if (!state) return;
      for (const s of streams) {
        state.subs.delete(s);
        state.dirty.delete(s);
        unindex(byStream, s, state);
        endDelivery(state, s);
      }
    },
    /**
     * A grant of `granteeId` changed in this process: re-decide its connections now, closing any whose
     * re-decision fails; settles once each is re-decided or closed (rejecting with the first failure).
     * With `patientId`, the patient who issued the changed grant, only that patient's grants are reloaded
     * (a clinic's provider holds thousands); without, all of them.
     */
    async grantsChanged(granteeId: string, patientId?: string): Promise<void> {
      const set = byAccount.get(granteeId);
      if (!set) return;
      const reload: Reload = patientId === undefined ? 'all' : { patientIds: new Set([patientId]) };
      await settleAll([...set].map((state) => reloadOrClose(state, reload)));
    },
    /**
     * Key envelopes addressed to `recipientId` were stored for `streams` of `patientId`: each of its
     * connections is told again (`accessChanged`, `removed: []`) of those of the streams it follows, with
     * the current epoch, so a device holding their records set aside for want of the key fetches it now
     * instead of at its quarantine retry. Runs in each connection's re-evaluation queue, so it is ordered
     * with re-decisions. Never rejects: a failure is reported through `onError` and the connection stays
     * open (it loses a notice; the device's own retry still fetches the keys).
     */
    async keysStored(recipientId: string, patientId: string, streams: readonly string[]): Promise<void> {
      const set = byAccount.get(recipientId);
      if (!set) return;
      const wanted = new Set(streams);
      await Promise.all(
        [...set].map((state) =>
          enqueue(state, () => announceKeys(state, patientId, wanted)).catch((error: unknown) =>
            options.onError?.(error),
          ),
        ),
      );
    },
    /**
     * Re-decides the connections whose grants changed since the last sweep (also through other processes
     * sharing the store; the first sweep reloads all) or whose next grant boundary the clock passed.
     * Called every second, and by tests that move the clock.
     */
    async sweep(): Promise<void> {
      // The first sweep asks for no list: it reloads every connection anyway.
      const { position, granteeIds } = await store.grants.changesSince(
        sweptPosition ?? Number.MAX_SAFE_INTEGER,
      );
      // Lower than before: the store was restored from a backup, so anything may have changed.
      const all = sweptPosition === null || position < sweptPosition;
      sweptPosition = position;
      const changed = new Set(granteeIds);
      const t = now();
      const due: Array<Promise<void>> = [];
      for (const state of states.values()) {
        // A reload that fails closes the connection: the change is behind the position taken above, so no
        // later sweep would reload it. A boundary needs no reload: delivery re-decides by the clock anyway.
        if (all || changed.has(state.conn.principal.accountId)) due.push(reloadOrClose(state));
        else if (state.boundary !== null && state.boundary <= t)
          due.push(reevaluateOrClose(state, 'none', BOUNDARY_FAILED));
      }
      await settleAll(due);
    },
    /**
     * A grant of `granteeId` is about to be revoked: called just before the revocation commits, so from
     * then on none of the grantee's connections decides from it (a row committed after the revocation
     * would otherwise go out on the grants they hold until `grantsChanged` reloads them). Returns the
     * function to call once the revocation settled: after its `grantsChanged`, by which every connection
     * holds grants read after the commit; or, if the commit failed, before the `grantsChanged` that gives
     * the grant back.
     */
    grantEnding(granteeId: string, grantId: string): () => void {
      ending.set(grantId, (ending.get(grantId) ?? 0) + 1);
      for (const state of byAccount.get(granteeId) ?? []) {
        state.grants = state.grants.filter((g) => g.grantId !== grantId);
      }
      let settled = false;
      return () => {
        if (settled) return;
        settled = true;
        const left = (ending.get(grantId) ?? 1) - 1;
        if (left > 0) ending.set(grantId, left);
        else ending.delete(grantId);
      };
    },
    /**
     * Closes the device's connections (4001): delivery to them stops at once, not when their sockets'
     * close reaches `remove` (a client that does not answer the close handshake holds that for ws's close
     * timeout).
     */
    closeDevice(deviceId: string, reason: string): number {
      let n = 0;
      for (const state of [...states.values()]) {
        if (state.conn.principal.deviceId === deviceId) {
          halt(state);
          state.conn.close(4001, reason);
          n++;
        }
      }
      return n;
    },
    closeAll(code: number, reason: string): void {
      for (const state of [...states.values()]) state.conn.close(code, reason);
    },
    /** A push this connection is about to hand the service: its versions are not echoed back to it. */
    pushing(conn: LiveConnection, rows: readonly PushRow[]): void {
      states.get(conn.id)?.own.note(rows);
    },
    /** The push's answer: only what the store took stays withheld. */
    pushed(conn: LiveConnection, rows: readonly PushRow[], results: readonly PushResult[]): void {
      states.get(conn.id)?.own.settle(rows, results);
    },
    size: (): number => states.size,
    subscriptions: (): number => [...states.values()].reduce((n, s) => n + s.subs.size, 0),
    /** Stops delivering and ends every live-audit window, starting the writes of their tallies. */
    stop(): void {
      stopped = true;
      unsubscribeCommit();
      remote.unsubscribe?.();
      for (const state of states.values()) {
        // Nothing more goes out once shutdown starts, so the tallies written now are final.
        halt(state);
      }
      live.stop();
    },
    /** Resolves once every audit write the hub started has settled: call after `stop()`, before the store closes. */
    drain: (): Promise<void> => live.drain(),
  };

  // Another node committed a grant change, a device revocation or key envelopes: acted on here as this
  // node's own routes act on theirs, so devices on every node learn it within the feed's delay.
  remote.unsubscribe = store.onRemoteChange?.((change) => {
    if (stopped) return;
    if (change.kind === 'grants-changed') {
      void hub
        .grantsChanged(change.granteeId, change.patientId)
        .catch((error: unknown) => options.onError?.(error));
    } else if (change.kind === 'device-revoked') {
      hub.closeDevice(change.deviceId, 'device revoked');
    } else {
      void hub.keysStored(change.recipientId, change.patientId, change.streams);
    }
  });
  return hub;
};

export type Hub = ReturnType<typeof createHub>;
