/**
 * Live delivery: which connection follows which stream, and pushing committed changes to them. This module
 * registers connections and subscriptions, follows the store's commits and remote changes, and assembles:
 *
 * | module | holds |
 * | --- | --- |
 * | hub-state.ts | a connection's state (ConnState), options, follower indexes, `halt` |
 * | hub-access.ts | grants held per connection, re-evaluations and their queue, boundary timers, key notices |
 * | hub-delivery.ts | pages read and sent from each cursor, backpressure, retries, live-audit logging |
 *
 * Invariants: each module's header lists its own. Here:
 * - A grant being revoked or replaced is held by no connection from just before its end commits until the
 *   grantee's connections were re-decided (`grantEnding`); a grant being replaced is held meanwhile as its
 *   stand-in (`standIn`: what it and its replacement both allow), so no stream both cover stops.
 * - A connection is registered before its grants are first loaded, the load being the first step of its
 *   re-evaluation queue (hub-access.ts).
 * - A commit marks the followers of its streams dirty and drops the stream's cached pages; nothing else
 *   is queued per connection (hub-delivery.ts).
 *
 * `stop()` ends every window and starts its write; `drain()` waits for all of the hub's audit writes, so
 * the owner calls it before closing the store. A connection added after `stop()` (a sign-in that
 * completes while the owner shuts down) is closed at once (1001), never held unserved.
 */
import type { PushResult, PushRow } from '@hale/protocol';
import type { Grant, StreamHead } from '../store/index';
import { patientToExplain } from './access';
import { createAccessWindows, type WindowKey } from './access-windows';
import { createOwnPushes } from './own-pushes';
import {
  BOUNDARY_FAILED,
  halt,
  index,
  RETRY_MIN_MS,
  unindex,
  visibleOf,
  type ConnState,
  type HubOptions,
  type LiveConnection,
  type Reload,
} from './hub-state';
import { createHubAccess } from './hub-access';
import { createHubDelivery } from './hub-delivery';

export type { HubOptions, LiveConnection } from './hub-state';

/** Why a connection added once the hub stopped is closed (1001, as the server's close() closes the rest). */
const SHUTTING_DOWN = 'server shutting down';

/**
 * What a grant being replaced lets its grantee do until the replacement's reload: the replacement (its id),
 * narrowed to what the replaced grant allowed (only types both name, `write` only where both say it, the
 * later start and the earlier end); null when that is nothing. Access is never wider than either grant's,
 * whether the replacement's commit succeeds or fails.
 */
export const standIn = (replaced: Grant, successor: Grant): Grant | null => {
  const before = new Map(replaced.scope.map((s) => [s.type, s.access]));
  const scope = successor.scope
    .filter((s) => before.has(s.type))
    .map((s) => ({
      type: s.type,
      access: s.access === 'write' && before.get(s.type) === 'write' ? ('write' as const) : ('read' as const),
    }));
  const start = Math.max(Date.parse(replaced.start), Date.parse(successor.start));
  const end = Math.min(Date.parse(replaced.expiresAt), Date.parse(successor.expiresAt));
  if (scope.length === 0 || !(start < end)) return null;
  const { revokedAt: _r, revocation: _v, supersededBy: _s, ...rest } = successor;
  return {
    ...rest,
    scope,
    start: new Date(start).toISOString(),
    expiresAt: new Date(end).toISOString(),
  };
};

export const createHub = (options: HubOptions) => {
  const { store, service, now } = options;
  const liveAuditInterval = options.liveAuditIntervalMs ?? 60_000;
  const states = new Map<number, ConnState>();
  /**
   * Grants being ended in this process (id → the ends of it under way: each a revocation, undefined, or the
   * grant replacing it), from just before the end commits until its re-evaluation settled (`grantEnding`):
   * no connection holds them, whatever a reload that read the store before the commit returns after it. A
   * grant being replaced (and by nothing else) is held as its stand-in meanwhile (`standIn`).
   */
  const ending = new Map<string, Array<Grant | undefined>>();
  /** `g` as a connection may hold it now: itself, its stand-in, or nothing (ending). */
  const heldAs = (g: Grant): Grant[] => {
    const ends = ending.get(g.grantId);
    if (ends === undefined) return [g];
    const successor = ends[0];
    if (successor === undefined || ends.some((e) => e?.grantId !== successor.grantId)) return [];
    const stand = standIn(g, successor);
    return stand === null ? [] : [stand];
  };
  const held = (grants: Grant[]): Grant[] => (ending.size === 0 ? grants : grants.flatMap(heldAs));
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

  /** The stream's live delivery stopped on this connection: its window ends and its tally is written. */
  const endDelivery = (state: ConnState, stream: string): void =>
    live.end(state.conn.principal, liveKey(state, stream));

  const {
    armTimer,
    enqueue,
    reevaluate,
    reloadGrants,
    decide,
    announceKeys,
    reevaluateOrClose,
    reloadOrClose,
  } = createHubAccess({ options, byStream, held, endDelivery });
  const { flush, invalidate } = createHubDelivery({ options, live, liveKey, reevaluate });

  /** Waits for every one of `runs`, then rejects with the first failure if any. */
  const settleAll = async (runs: Array<Promise<void>>): Promise<void> => {
    const failed = (await Promise.allSettled(runs)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  /** The connection is gone, or could not be added: nothing stays registered, timed or open for it. */
  const forget = (state: ConnState): void => {
    halt(state);
    live.endChannel(state.conn.id);
    for (const stream of state.subs.keys()) unindex(byStream, stream, state);
    unindex(byAccount, state.conn.principal.accountId, state);
    if (states.get(state.conn.id) === state) states.delete(state.conn.id);
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
    for (const { stream } of heads) invalidate(stream);
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
      const result = await enqueue(state, () => subscribeNow(state, cursors));
      // Outside the connection's queue: the refused streams are logged to their patients.
      if (!result.ok) await service.noteDenied(conn.principal, result.denied);
      return result;
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
     * the grant back. With `successor`, the grant is being replaced by that one (stored in the same
     * commit): the connections hold, in its place until then, its stand-in (`standIn`: what both grants
     * allow), so a stream both cover is delivered on without a gap and nothing goes out beyond either grant.
     */
    grantEnding(granteeId: string, grantId: string, successor?: Grant): () => void {
      const ends = ending.get(grantId) ?? [];
      ends.push(successor);
      ending.set(grantId, ends);
      for (const state of byAccount.get(granteeId) ?? []) state.grants = held(state.grants);
      let settled = false;
      return () => {
        if (settled) return;
        settled = true;
        const at = ends.indexOf(successor);
        if (at !== -1) ends.splice(at, 1);
        if (ends.length === 0 && ending.get(grantId) === ends) ending.delete(grantId);
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
