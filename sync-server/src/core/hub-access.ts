/*
 * The live hub's access decisions per connection: its grants held and reloaded, re-evaluations (in one
 * queue per connection), grant-boundary timers, and key notices.
 *
 * Invariants:
 * - Access is re-decided by the server clock at every delivery, before and after the page is read.
 * - A page opening a live-audit window is decided last in the transaction logging it; refused: not sent.
 * - Grant changes in this process re-decide affected connections at once and send `accessChanged`.
 * - Timers fire at each connection's next grant boundary; `sweep` re-decides those whose boundary passed.
 * - Key envelopes stored for a non-patient account (`keysStored`) are announced as `accessChanged`.
 * - A key notice costs one lookup by patient per connection and changes no access.
 * - Other nodes' changes are acted on as the store reports them (`onRemoteChange`) or at `sweep`.
 * - A connection holds only unended grants and reloads them only when they changed (`changesSince`).
 * - A connection is registered before its grants first load, so a change during the load is not missed.
 * - A revocation takes its grant from the grantee's connections before it commits (`grantEnding`).
 * - Re-evaluation fails closed: a failed reload or re-decision closes the connection (4000, UNAVAILABLE).
 * - `grantsChanged` settles once every connection of the grantee is re-decided or closed.
 *
 * Failure modes: a re-decision that fails closes the connection (4000) and rethrows
 * (`reevaluateOrClose`); a boundary timer's failure is reported through `onError`; a key notice's failure
 * rejects its own call only (the caller reports it).
 */
import type { StreamAccess } from '@hale/protocol';
import type { Grant } from '../store/index';
import { decideAccess, grantedStreams, grantsOfPatient, nextGrantBoundary, type Operation } from './access';
import type { SyncService } from './sync-service';
import {
  BOUNDARY_FAILED,
  CHANGE_FAILED,
  halt,
  termsOf,
  unindex,
  visibleOf,
  type ConnState,
  type HubOptions,
  type Reload,
} from './hub-state';

export interface HubAccessDeps {
  options: HubOptions;
  /** Followers by stream: a stream a re-evaluation takes away is removed from it. */
  byStream: Map<string, Set<ConnState>>;
  /** The grants a connection may hold of those read: none being revoked (`grantEnding`). */
  held: (grants: Grant[]) => Grant[];
  /** The stream's live delivery stopped on the connection: its live-audit window ends. */
  endDelivery: (state: ConnState, stream: string) => void;
}

export const createHubAccess = ({ options, byStream, held, endDelivery }: HubAccessDeps) => {
  const { service, now } = options;

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

  return {
    armTimer,
    decide,
    enqueue,
    reevaluate,
    reloadGrants,
    announceKeys,
    reevaluateOrClose,
    reloadOrClose,
  };
};
