/**
 * Catching up with a restore of the server's store (`ready.incarnation` changed: it lost what was stored
 * after its backup).
 *
 * Invariants:
 * - The store's incarnation is recorded in device meta. When it changes (`incarnationAction` → reset),
 *   before anything served is applied, every local version of this account's records in streams it may
 *   write is sent again as a creation (not writes still pending, which RxDB sends, nor versions refused
 *   before); then every readable stream is pulled again from 0. The new incarnation is recorded only once
 *   that pull caught up and everything local was pushed, so a catch-up cut short starts over at the next
 *   `ready`.
 * - A server version a push conflicts with was served before the restore only if the server says it kept
 *   it from a backup of the store of the incarnation recorded here (`keptFrom`) and it is at or below the
 *   positions seen before the restore (the floor, persisted with the first run). Such a version older than
 *   the one a push builds on is overwritten; a newer one is left to the pull. Any other is merged like any
 *   conflict, both sides kept.
 * - Live frames received before a catch-up starts are dropped (`liveEra`); its pull from 0 starts `known`
 *   over, and RxDB's stored checkpoint of then stands for no position (checkpoint.ts `voided`).
 * - A catch-up is costly and only the server says when one is due: each one started is kept (`resyncs`,
 *   RESYNC_WINDOW_MS back, at most MAX_RESYNCS). The first within that window runs at once, as do up to
 *   RESYNC_FREE_RESTARTS restarts of the last one for the same incarnation; any other waits
 *   RESYNC_BACKOFF_BASE_MS after the last, doubling per one kept, at most RESYNC_BACKOFF_MAX_MS
 *   (`resyncDelay`), reported SERVER_RESTORES_REPEATED meanwhile (the floor is fixed all the same).
 * - A catch-up that cannot send everything again is reported (RESTORE_RESYNC_FAILED) and starts over at
 *   the next connection.
 */
import { createRevision, prepareQuery, type RxDocumentData, type WithDeleted } from 'rxdb';
import { incarnationAction } from '@hale/protocol';
import { MAX_RESYNCS, SYNC_STATE } from './stored-state';
import { emptied, type PlainRecord } from '../records/plain-record';
import { messageOf, type EngineCore } from './engine-core';
import { plainOf } from './unsent';
import { backoffMs } from '../core/backoff';
import type { DeviceRecord } from '../store/device-db';
import type { Merge, Reset, ResetRun } from './engine-parts';

/** Local documents read and sent again per page after a restore of the server's store. */
const REPUSH_PAGE = 500;
/** How far back the catch-ups after restores of the server's store count (see `resyncDelay`). */
export const RESYNC_WINDOW_MS = 24 * 60 * 60_000;
/** Wait after a catch-up before another one; doubles with each catch-up in the window. */
export const RESYNC_BACKOFF_BASE_MS = 15 * 60_000;
/** The longest wait between catch-ups after restores of the server's store. */
export const RESYNC_BACKOFF_MAX_MS = 24 * 60 * 60_000;
/** Restarts of a catch-up cut short (same incarnation as the last one) that run at once. */
export const RESYNC_FREE_RESTARTS = 2;

/** A catch-up started after a restore of the server's store: the incarnation and this device's clock. */
export interface ResyncStart {
  readonly to: string;
  readonly at: number;
}

/**
 * How long a catch-up with incarnation `to` must still wait at `now` (0: start it now), given the ones
 * started before (oldest first). A start ahead of `now` (the clock went back) counts as started now.
 */
export const resyncDelay = (resyncs: readonly ResyncStart[], to: string, now: number): number => {
  const recent = recentResyncs(resyncs, now);
  const last = recent.at(-1);
  if (last === undefined) return 0;
  if (last.to === to && recent.filter((r) => r.to === to).length <= RESYNC_FREE_RESTARTS) return 0;
  const wait = backoffMs(recent.length - 1, { baseMs: RESYNC_BACKOFF_BASE_MS, maxMs: RESYNC_BACKOFF_MAX_MS });
  return Math.max(0, last.at + wait - now);
};

/** The catch-ups started within RESYNC_WINDOW_MS of `now`, oldest first; one ahead of `now` as at `now`. */
const recentResyncs = (resyncs: readonly ResyncStart[], now: number): ResyncStart[] =>
  resyncs.map((r) => ({ to: r.to, at: Math.min(r.at, now) })).filter((r) => now - r.at < RESYNC_WINDOW_MS);

interface IncarnationMeta {
  recorded?: string;
  reset?: { to: string; floor: Record<string, number> };
  resyncs?: ResyncStart[];
}

export const createReset = (core: EngineCore): Reset => {
  const { deps } = core;
  const { collection } = deps;
  const known = core.known;
  const report = core.issues.report;
  /** The incarnation of the server's store recorded, and a reset not finished yet (persisted). */
  let incarnation: IncarnationMeta = {};
  /** A restore of the server's store being caught up with; null when in step (see `ResetRun`). */
  let reset: ResetRun | null = null;
  const saveIncarnation = (): Promise<void> => deps.meta.set('incarnation', incarnation);

  /** Acts on the server store's incarnation announced in `ready` (`incarnationAction`). */
  const noteIncarnation = (served: string | undefined): void => {
    const action = incarnationAction(incarnation.recorded, served);
    if (served === undefined || action === 'keep') {
      // Back to the incarnation recorded: a catch-up being waited for is not due any more.
      if (reset?.deferred === true) {
        reset.release();
        reset = null;
      }
      return;
    }
    if (action === 'adopt') {
      incarnation = { ...incarnation, recorded: served };
      // Not awaited: if it is lost, the next `ready` adopts it again.
      void saveIncarnation().catch(() => undefined);
      return;
    }
    const now = deps.now();
    const recent = recentResyncs(incarnation.resyncs ?? [], now);
    const wait = resyncDelay(recent, served, now);
    // Set before the pull and push handlers resume on this connection (they run after this returns).
    reset?.release();
    let release = (): void => undefined;
    const floorReady = new Promise<void>((resolve) => (release = resolve));
    const run: ResetRun = {
      to: served,
      floor: null,
      floorReady,
      release,
      saved: null,
      repush: null,
      fromZero: false,
      finishing: false,
      deferred: wait > 0,
    };
    reset = run;
    // Positions of the store before the restore: the restored one numbers its versions anew.
    core.sent.forgetStored();
    if (!run.deferred) {
      core.s.liveEra++;
      // Persisted with the floor (`fixFloor`), or here when the floor waits for the first pull.
      incarnation = { ...incarnation, resyncs: [...recent, { to: served, at: now }].slice(-MAX_RESYNCS) };
    }
    // Until the pull handler has read RxDB's stored positions once (at start), `known` may lack them: the
    // first pull fixes the floor then (RxDB runs its first pull whatever is being pushed).
    if (core.s.checkpointSeen) fixFloor(run);
    else if (!run.deferred) void saveIncarnation().catch(() => undefined);
    if (run.deferred) {
      const restores = new Set([...recent.map((r) => r.to), served]).size;
      const hours = Math.max(1, Math.ceil((now - (recent[0]?.at ?? now)) / 3_600_000));
      report({
        code: 'SERVER_RESTORES_REPEATED',
        message:
          `The server reported being restored from a backup ${restores} times in ${hours} hour${
            hours === 1 ? '' : 's'
          }. This device does not send all its records again before ${new Date(now + wait).toISOString()} ` +
          '(it does at the first connection after that); sync goes on meanwhile. A server restored this ' +
          'often is broken or misbehaving: report it to whoever runs it.',
      });
      return;
    }
    report({
      code: 'SERVER_RESTORED',
      message:
        'The server was restored from a backup and may have lost recent changes: this device is sending ' +
        'its records again and fetching everything anew. Keep it connected until sync is done, and ' +
        'connect your other devices too: changes only they hold reach the server that way.',
    });
  };

  /**
   * Fixes the floor of a reset: the one persisted by an earlier run, else the positions seen so far (only
   * served before the restore: nothing is requested on the new connection before this runs). Persisted
   * before the run can finish (`saved`).
   */
  const fixFloor = (run: ResetRun): void => {
    const floor = incarnation.reset?.floor ?? { ...known };
    incarnation = { ...incarnation, reset: { to: run.to, floor } };
    run.floor = floor;
    run.saved = saveIncarnation();
    run.saved.catch(() => undefined);
    run.release();
  };

  /**
   * Whether this device sends its copy of a record again after a restore: a version of its own account
   * (the author must be a device of `by`) in a stream it may read and write, not emptied by a purge.
   * Writes not acknowledged yet are RxDB's to send (with the state they build on), and a version the
   * server refused before stays refused (diverged, kept in unsent).
   */
  const repushable = (d: RxDocumentData<DeviceRecord>): boolean =>
    d.by === deps.accountId &&
    core.access.readable(d.stream) &&
    core.access.writable(d.stream) &&
    !(d._deleted && emptied(d)) &&
    !core.pending.has(d.id) &&
    !core.unsent.isDiverged(d.stream, d.id);

  /** Sends every local document this device may send again, page by page (see `ResetRun`). */
  const repushAll = async (run: ResetRun): Promise<boolean> => {
    const storage = collection.storageInstance;
    let after = '';
    try {
      for (;;) {
        if (reset !== run || core.s.stopped) return false;
        const query = prepareQuery<DeviceRecord>(storage.schema, {
          selector: { id: { $gt: after } },
          sort: [{ id: 'asc' }],
          skip: 0,
          limit: REPUSH_PAGE,
        });
        const { documents } = await storage.query(query);
        const last = documents.at(-1);
        if (!last) return true;
        after = last.id;
        const mine = documents.filter(repushable).map(plainOf);
        if (mine.length > 0) await repushPage(mine, run.floor ?? {});
      }
    } catch (error) {
      report({
        code: 'RESTORE_RESYNC_FAILED',
        message: `Could not send every record to the restored server yet; retried at the next connection: ${messageOf(
          error,
        )}`,
      });
      return false;
    }
  };

  /**
   * Sends local copies again as creations. The server answers `ok` for a version it holds (also under
   * another tag: a conflict with the same version, which settles quietly) or stores one it lost; an older
   * version of the record served before the restore is overwritten (`pushRows`). What else conflicts:
   * a later version of what this device held before the restore (served before it, `servedBefore`: it had
   * not pulled it yet) is left to the pull from 0, which applies it; any other (stored since the restore,
   * or not known to be older: an older server) is merged with the local copy as RxDB merges any conflict,
   * sent on top of it and written here (`storeMerges`), so neither side is lost.
   */
  const repushPage = async (mine: WithDeleted<PlainRecord>[], floor: Record<string, number>) => {
    const seenBefore = new Set<string>();
    const conflicts = await core.push.pushRows(
      mine.map((r) => ({ newDocumentState: r })),
      { repush: true, floor, servedBefore: seenBefore },
    );
    const local = new Map(mine.map((r) => [r.id, r]));
    const handler = collection.conflictHandler;
    const merges: Merge[] = [];
    for (const master of conflicts) {
      const copy = local.get(master.id);
      if (!copy || handler.isEqual(master, copy, 'hale-restore')) continue;
      if (seenBefore.has(master.id) && master.rv > copy.rv) continue;
      const resolved = await handler.resolve(
        { realMasterState: master, newDocumentState: copy },
        'hale-restore',
      );
      if (!handler.isEqual(resolved, master, 'hale-restore')) merges.push({ copy, master, resolved });
    }
    if (merges.length > 0) await storeMerges(merges);
  };

  /**
   * Sends merged versions on top of the server's and, once taken, writes each here in place of the copy
   * it merged (unless that copy changed meanwhile: RxDB then sends the change and merges it itself).
   */
  const storeMerges = async (
    merges: readonly Merge[],
    { overMaster = false }: { overMaster?: boolean } = {},
  ): Promise<Set<string>> => {
    // Whether a local change newer than the copy is pending, read before the push settles the record.
    const newerLocal = new Set(
      merges.filter((m) => (core.pending.get(m.copy.id) ?? 0) > m.copy.rv).map((m) => m.copy.id),
    );
    const again = await core.push.pushRows(
      merges.map((m) => ({ newDocumentState: m.resolved, assumedMasterState: m.master })),
    );
    const notTaken = new Set([
      ...again.map((r) => r.id),
      ...core.unsent
        .list()
        .filter((u) => merges.some((m) => m.resolved.id === u.id && m.resolved.rv === u.rv))
        .map((u) => u.id),
    ]);
    const taken = merges.filter((m) => !notTaken.has(m.resolved.id));
    const takenIds = new Set(taken.map((m) => m.copy.id));
    if (taken.length === 0) return takenIds;
    const storage = collection.storageInstance;
    const held = new Map(
      (
        await storage.findDocumentsById(
          taken.map((m) => m.copy.id),
          true,
        )
      ).map((d) => [d.id, d]),
    );
    const writes = [];
    const isEqual = collection.conflictHandler.isEqual;
    for (const { copy, resolved } of taken) {
      const previous = held.get(copy.id);
      // `overMaster`: the copy was a version on the key-wait list, which RxDB took as sent, so RxDB may
      // have stored a served version over it meanwhile (the one met now, or one before it: a merge sent
      // earlier whose answer was lost is this device's own, never stored here as served). Any of them is
      // replaced, not a newer one; a local change made since is not (RxDB sends it, and merges it itself).
      if (
        !previous ||
        !(
          isEqual(plainOf(previous), copy, 'hale-restore') ||
          (overMaster && !newerLocal.has(copy.id) && previous.rv < resolved.rv)
        )
      )
        continue;
      writes.push({
        previous,
        document: {
          ...previous,
          ...resolved,
          _meta: { ...previous._meta, lwt: Math.max(deps.now(), previous._meta.lwt + 1) },
          _rev: createRevision(collection.database.token, previous),
        },
      });
    }
    if (writes.length > 0) await storage.bulkWrite(writes, 'hale-restore-merge');
    return takenIds;
  };
  /**
   * Records the new incarnation once the pull from 0 caught up and everything local was pushed. Not if the
   * run was given up (another `ready`), or not every local document could be sent: the next `ready`
   * starts over.
   */
  const finishReset = async (run: ResetRun): Promise<void> => {
    if (run.finishing) return;
    run.finishing = true;
    try {
      if (!(await run.repush)) return;
      await run.saved;
      await core.s.replication?.awaitInSync();
      if (reset !== run || core.s.stopped) return;
      incarnation = {
        recorded: run.to,
        ...(incarnation.resyncs === undefined ? {} : { resyncs: incarnation.resyncs }),
      };
      await saveIncarnation();
      if (reset === run) reset = null;
      run.release();
      core.issues.retryPassed('RESTORE_RESYNC_FAILED');
      report({
        code: 'RESTORE_SYNCED',
        message: 'This device has sent its records to the restored server again and is up to date with it.',
      });
    } finally {
      run.finishing = false;
    }
  };

  return {
    noteIncarnation,
    storeMerges,
    running: (): boolean => reset !== null,
    recorded: (): string | undefined => incarnation.recorded,
    /** The floor of the restore being caught up with, or null. */
    floor: (): Record<string, number> | null => reset?.floor ?? null,
    /** What was seen of `stream` before the restore being caught up with, if any. */
    floorOf: (stream: string): number | undefined => reset?.floor?.[stream],
    /** Waits until a restore being caught up with has its floor fixed (the first pull fixes it). */
    async floorFixed(): Promise<void> {
      while (reset !== null && reset.floor === null && !core.s.stopped) await reset.floorReady;
    },
    /** The pull handler has RxDB's stored positions now: a restore's floor can be fixed. */
    checkpointSeen(): void {
      if (reset !== null && reset.floor === null) fixFloor(reset);
    },
    /**
     * Before a pull serves anything: a catch-up under way sends every local document again first; the
     * first pull after that starts every stream from 0 (`restartPull`).
     */
    async beforePull(): Promise<{ run: ResetRun; restartPull: boolean } | null> {
      const run = reset;
      if (run === null || run.deferred) return null;
      run.repush ??= repushAll(run);
      await run.repush;
      if (run.fromZero || reset !== run) return { run, restartPull: false };
      run.fromZero = true;
      return { run, restartPull: true };
    },
    /** A pass caught up online: a catch-up whose pull from 0 ran is recorded (once all is stored). */
    passCaughtUp(started: { run: ResetRun } | null): void {
      const run = started?.run;
      if (run !== undefined && run.fromZero && reset === run) setTimeout(() => void finishReset(run), 0);
    },
    release: (): void => reset?.release(),
    async load(): Promise<void> {
      incarnation = (await deps.meta.get('incarnation', SYNC_STATE.incarnation)) ?? {};
    },
  };
};
