/**
 * The pull handler: pages of every readable stream from where RxDB stands, until each is drained.
 *
 * Invariants:
 * - A pull or subscribe names at most STREAMS_PER_REQUEST streams; within one pass a stream the server
 *   answered as drained (or denied) is not named again (`drained`), so each page names only streams still
 *   open. A drained mark holds only while no resync was asked after its page, and a live frame of the
 *   stream removes it (RxDB drops a live batch queued before its next pull call).
 * - RxDB ends a pull at the first page shorter than its batch size: a page the server cut short or that
 *   was thinned (echoes, set-aside versions) is followed by another until the batch is full.
 * - Nothing of a stream whose access ended is handed over, nor its position (`dropEnded` runs with no
 *   await before the hand-over).
 * - `online` means caught up and live on every readable stream: set only by a pass whose last page asked
 *   for every stream readable after the latest reconnect or access change, and only while the link is up,
 *   once RxDB stored the pass (rxdb-bridge.ts `passStored`). A reconnect or access change sets `syncing`.
 * - RxDB can drop a RESYNC queued behind a live change, so resyncs are counted (`resyncWanted`) and asked
 *   for again whenever the replication goes idle before a pull covered them (`resyncCovered`). During a
 *   store's first sync a reconnect's is handed to RxDB only when no pass is storing: the pass's next page
 *   covers it (a store with positions may hold local states only RxDB's own RESYNC settles).
 * - A subscribe the server refused is asked again on the same connection with backoff (SUBSCRIBE_RETRY).
 * - With an offload, during an initial sync the next page is fetched and decoded while RxDB stores the
 *   current one, used only if it was asked with exactly the cursors the next pull uses (page-prefetch.ts).
 * - While a restore is caught up with (reset.ts), nothing served is applied before every local document
 *   was sent again, and then every readable stream is pulled from 0.
 */
import type { WithDeleted } from 'rxdb';
import { MAX_BATCH_BYTES, MAX_BATCH_DOCS, type PulledFrame, type StreamAccess } from '@hale/protocol';
import { SyncError } from '../connection';
import { createPagePrefetcher } from '../page-prefetch';
import { STREAMS_PER_REQUEST } from '../access';
import { createBackoffTimer } from '../../core/backoff';
import type { EngineCore } from '../engine-core';
import type { PlainRecord } from '../../records/plain-record';
import type { StreamCheckpoint } from '../types';
import type { Positions } from '../engine-parts';
import type { Pull } from '../engine-parts';

/** Waits before a refused subscribe is asked again on the same connection. */
const SUBSCRIBE_RETRY = { baseMs: 1_000, maxMs: 30_000 };

type PullCursor = { stream: StreamAccess['stream']; since: number };

export const createPull = (core: EngineCore): Pull => {
  const { deps } = core;
  const { connection } = deps;
  const known = core.known;
  const report = core.issues.report;
  const readable = (stream: string): boolean => core.access.readable(stream);
  const subscribed = new Set<string>();
  // A RESYNC handed to RxDB may never run: its downstream queue drops one that sits right behind a live
  // change in the same batch (replication-protocol/downstream.ts, rxdb 17.6). So resyncs wanted are
  // counted, the pull handler records how many its last page covered, and when the replication goes idle
  // with one not covered it is asked for again (rxdb-bridge.ts).
  let resyncWanted = 0;
  let resyncCovered = 0;
  /** Whether this store's first sync runs: RxDB held no position at the first pull, and no pass ended online. */
  let firstSync: boolean | null = null;
  /**
   * A pull of every readable stream wanted. `duringFirstSync: 'after pass'`: while a first sync's pass is
   * being stored, not handed to RxDB: the pass's next page covers it, else the bridge asks once the
   * replication is idle. (A RESYNC also restarts RxDB's upstream scan, which then chases the pass's own
   * writes, nothing of them to push, and holds every live change until it is done.)
   */
  const askResync = (duringFirstSync: 'now' | 'after pass' = 'now'): void => {
    resyncWanted++;
    drained.clear();
    if (duringFirstSync === 'after pass' && firstSync === true && core.bridge.storing()) return;
    core.live.resync();
  };
  /** Subscribes every readable stream not yet followed, from where this device stands. */
  const subscribeAll = async (): Promise<void> => {
    const cursors = [...core.access.entries.keys()]
      .filter((s) => readable(s) && !subscribed.has(s))
      .map((stream) => ({ stream: stream as StreamAccess['stream'], since: known[stream] ?? 0 }));
    if (cursors.length === 0) return;
    for (let i = 0; i < cursors.length; i += STREAMS_PER_REQUEST) {
      const slice = cursors.slice(i, i + STREAMS_PER_REQUEST);
      await connection.request({ t: 'subscribe', streams: slice });
      for (const c of slice) subscribed.add(c.stream);
    }
  };

  // `online` promises live changes on every stream: a subscribe the server refused (UNAVAILABLE, a lost
  // answer) is asked again while this connection lasts, with backoff, since nothing else would ask before
  // the next reconnect or access change. It asks from where the device stands, so what changed meanwhile
  // arrives with the subscription.
  // `online` promises live changes on every stream: a subscribe the server refused (UNAVAILABLE, a lost
  // answer) is asked again while this connection lasts, with backoff, since nothing else would ask before
  // the next reconnect or access change. It asks from where the device stands.
  let followLink = -1;
  const subscribeRetry = createBackoffTimer(
    () => SUBSCRIBE_RETRY,
    () => {
      // Another connection (or a pass still running) subscribes at the end of its own pull pass.
      if (
        !core.s.stopped &&
        core.link.up() &&
        followLink === core.link.changes() &&
        core.issues.state$.value.status === 'online'
      )
        followAll();
    },
  );
  const followAll = (): void => {
    subscribeRetry.cancel();
    const link = core.link.changes();
    void subscribeAll().then(
      () => {
        subscribeRetry.resetCount();
        core.issues.retryPassed('SUBSCRIBE_FAILED');
      },
      (error: unknown) => {
        // A connection the app stopped (goOffline, close) is no failure; the next one subscribes anew.
        if (core.s.stopped || (error instanceof SyncError && error.code === 'STOPPED')) return;
        report({
          code: 'SUBSCRIBE_FAILED',
          message: error instanceof Error ? error.message : String(error),
        });
        if (!core.link.up() || link !== core.link.changes()) return;
        followLink = link;
        subscribeRetry.arm();
      },
    );
  };

  /**
   * Streams the server answered as drained (or denied) in the current pull pass — the pages RxDB asks
   * for until one comes back short — with the position it answered and the resyncs asked for when that
   * page was (`covers`): the pass names them no more, so each page names only streams still open, at most
   * STREAMS_PER_REQUEST of them. An entry holds only while no resync was asked after its page (a page in
   * flight when a reconnect or access change asks for one must not mark the new pass's streams), and a
   * live frame of a stream removes it: RxDB drops a live batch queued before its next pull call, so the
   * pass must serve that stream again; a page asked before that frame does not mark it either (`lastLive`).
   * Cleared when a pass ends and at every new list of streams.
   */
  const drained = new Map<string, { at: number; covers: number }>();
  /** Counts live frames; per stream, the count when its last live frame with documents arrived. */
  let liveTick = 0;
  const lastLive = new Map<string, number>();
  /** Whether `stream` at `since` is drained for a page that covers `asOf` resyncs. */
  const isDrained = (stream: string, since: number, asOf: number): boolean => {
    const d = drained.get(stream);
    return d !== undefined && d.covers === asOf && since >= d.at;
  };
  /** Marks `stream` drained by a page asked at live count `asked`, unless a live frame of it came since. */
  const markDrained = (stream: string, at: number, covers: number, asked: number): void => {
    if ((lastLive.get(stream) ?? 0) <= asked) drained.set(stream, { at, covers });
  };
  /**
   * The first STREAMS_PER_REQUEST streams still open in this pass, from `pos`; `asOf`: as a page that
   * covers that many resyncs sees it (by default one asked now).
   */
  const cursorsFrom = (pos: Record<string, number>, asOf = resyncWanted): PullCursor[] => {
    const out: PullCursor[] = [];
    for (const stream of core.access.entries.keys()) {
      if (!readable(stream)) continue;
      const since = pos[stream] ?? 0;
      if (isDrained(stream, since, asOf)) continue;
      out.push({ stream: stream as StreamAccess['stream'], since });
      if (out.length === STREAMS_PER_REQUEST) break;
    }
    return out;
  };

  /** One page from the server, decoded (on the offload when there is one) but not applied. */
  const fetchPage = async (cursors: PullCursor[], limit: number) => {
    const asked = liveTick;
    const reply = await connection.request<PulledFrame>({
      t: 'pull',
      streams: cursors,
      limit,
      maxBytes: MAX_BATCH_BYTES,
    });
    return { reply, served: await core.receive.decodeServed(reply.docs), asked };
  };
  // While RxDB stores one page of an initial sync, the next is fetched and decoded, so the device's
  // two threads and the server overlap (only with an offload: otherwise both would run on this thread).
  // A page with a document that had no key is asked for again: the key may have arrived since, and what
  // this device can now read must not be quarantined.
  const pages = createPagePrefetcher({
    fetch: ({ cursors, limit }: { cursors: PullCursor[]; limit: number }) => fetchPage(cursors, limit),
    keyOf: ({ cursors, limit }) => JSON.stringify([cursors, limit]),
    stale: (page) => page.served.decoded.some((d) => !d.ok && d.reason === 'NO_KEY'),
  });
  const takePage = (cursors: PullCursor[], limit: number) => pages.take({ cursors, limit });
  const prefetch = (pos: Record<string, number>, limit: number): void => {
    const cursors = cursorsFrom(pos);
    if (cursors.length === 0 || !deps.offload) return;
    pages.prefetch({ cursors, limit });
  };

  const pullHandler = async (
    lastCheckpoint: StreamCheckpoint | undefined,
    batchSize: number,
  ): Promise<{ documents: WithDeleted<PlainRecord>[]; checkpoint: StreamCheckpoint }> => {
    const checkpoints = core.checkpoints;
    // Pull from where RxDB stands (its checkpoint), not from this engine's memory of what it has seen:
    // on a resync RxDB drops live changes it had not stored yet, and those must be served again.
    firstSync ??= lastCheckpoint === undefined;
    const { given, stored, pos } = await checkpoints.startOf(lastCheckpoint);
    core.s.checkpointSeen = true;
    core.reset.checkpointSeen();
    const advance = (stream: string, seq: number): void => {
      if (!readable(stream)) return;
      pos[stream] = Math.max(pos[stream] ?? 0, seq);
      known[stream] = Math.max(known[stream] ?? 0, seq);
    };
    await core.link.untilConnected();
    // Also when asking at connect failed: the pull fails (RxDB retries it) rather than follow an old list.
    if (core.access.entries.size === 0 || core.s.streamsStale) await core.access.refreshStreams();
    const run = await core.reset.beforePull();
    if (run?.restartPull === true) {
      // What is left to pull is every stream's whole history now.
      checkpoints.restartAll(pos, given);
      core.progress.recountLater();
    }
    // The checkpoint holds positions of readable streams only: a stream whose copy was purged starts
    // again from 0 (its whole history) if access is granted again.
    await checkpoints.beginRestarts(pos);
    /** Where this pull starts, and what of it RxDB holds: a pull handing nothing moves the floor from it. */
    const start: Positions = { ...pos };
    const base: Positions = Object.fromEntries(
      Object.entries(pos).map(([s, seq]) => [s, Math.min(seq, stored[s] ?? 0)]),
    );
    // A listing that came before RxDB's stored positions, counted from them now.
    core.progress.countIfDue();
    let documents: PlainRecord[] = [];
    /** `resyncWanted` when the last page was asked for: the resyncs that page covers. */
    let covers = 0;
    /**
     * Leaves out streams whose access ended since their pages were fetched (their purge may have run
     * already): their records and their positions. Runs with no await before the hand-over, so nothing of
     * a stream that is not readable then reaches RxDB.
     */
    const dropEnded = (): void => {
      for (const s of Object.keys(pos)) {
        if (readable(s)) continue;
        delete pos[s];
        delete known[s];
        delete base[s];
      }
      if (documents.some((d) => !readable(d.stream))) documents = documents.filter((d) => readable(d.stream));
    };
    const handOver = (): { documents: WithDeleted<PlainRecord>[]; checkpoint: StreamCheckpoint } => {
      dropEnded();
      // RxDB ends its resync at a batch shorter than its batch size; a full one is followed by another call.
      if (documents.length < batchSize) {
        resyncCovered = Math.max(resyncCovered, covers);
        drained.clear();
      }
      if (documents.length === 0 && Object.entries(pos).some(([s, seq]) => seq > (start[s] ?? 0)))
        checkpoints.carry(base, pos);
      return { documents, checkpoint: checkpoints.checkpointOf(pos) };
    };
    // RxDB asks again after a full page, also after the last page of a pass: with every stream drained
    // nothing is open, and the pass ends as that page left it (its status included, e.g. online).
    if (drained.size > 0 && cursorsFrom(pos).length === 0) {
      covers = resyncWanted;
      return handOver();
    }
    if (core.link.up()) core.issues.patch({ status: 'syncing' });
    for (;;) {
      covers = resyncWanted;
      const cursors = cursorsFrom(pos);
      if (cursors.length === 0) return handOver();
      const { reply, served, asked } = await takePage(
        cursors,
        Math.min(batchSize - documents.length, MAX_BATCH_DOCS),
      );
      const denied = core.access.heldOf(
        reply.denied.map((d) => ({
          stream: d.stream,
          reason: d.code === 'CONSENT_EXPIRED' ? ('expired' as const) : ('revoked' as const),
        })),
      );
      if (denied.length > 0) void core.access.endAccess(denied);
      documents.push(...((await core.receive.applyDecoded(served)) ?? []).filter((d) => readable(d.stream)));
      for (const d of reply.docs) advance(d.stream, d.seq);
      for (const s of reply.streams) {
        advance(s.stream, s.checkpoint);
        if (s.done) markDrained(s.stream, pos[s.stream] ?? 0, covers, asked);
      }
      // Denied streams leave through endAccess; until then they are not asked for again.
      for (const d of reply.denied) markDrained(d.stream, pos[d.stream] ?? 0, covers, asked);
      core.progress.countServed(reply.docs);
      // Access may have ended while this page was fetched: what is left decides whether the pass is done
      // or the batch full (one left short by it would end RxDB's pass before the other streams caught up).
      dropEnded();
      // As this page sees it: a resync asked meanwhile starts a pass of its own (the page is handed over
      // first, and the device is not online until that pass is done).
      const allDone = cursorsFrom(pos, covers).length === 0;
      if (allDone) core.progress.passDone();
      core.progress.showProgress();
      if (allDone) {
        // Not online if the link went down while this page was applied (the next connection pulls again),
        // nor if access changed after the page was asked for (the resync asked for then still runs).
        const online = core.link.up() && covers >= resyncWanted;
        core.bridge.passStored(covers, online);
        if (online) {
          firstSync = false;
          followAll();
          core.reset.passCaughtUp(run);
        }
        return handOver();
      }
      // RxDB ends a pull at the first page shorter than its batch size, so a page the server cut short
      // (byte limit, MAX_BATCH_DOCS below batchSize) or thinned out (quarantined or echoed documents)
      // must not be returned as if the server were drained: keep pulling until the batch is full.
      // A page that served nothing but drained streams moves on to the streams still open.
      const progressed =
        reply.docs.length > 0 || reply.streams.some((s) => s.done) || reply.denied.length > 0;
      if (documents.length >= batchSize || !progressed) {
        if (reply.docs.length > 0) prefetch(pos, Math.min(batchSize, MAX_BATCH_DOCS));
        return handOver();
      }
    }
  };
  return {
    pullHandler,
    askResync,
    followAll,
    subscribed,
    /** Forgets that `stream` is followed on this connection (access ended, purged). */
    unsubscribed: (stream: string): void => void subscribed.delete(stream),
    drainedClear: (): void => drained.clear(),
    /** Whether a page that covers `covers` resyncs covers every one asked for. */
    coversResyncs: (covers: number): boolean => covers >= resyncWanted,
    /** Resyncs asked for and not covered by a pull yet (the bridge asks again when idle). */
    resyncOwed: (): boolean => resyncCovered < resyncWanted,
    /** A live frame with documents of `streams` came: a pass must name those streams again. */
    liveArrived(streams: readonly string[]): void {
      if (streams.length > 0) liveTick++;
      for (const s of streams) {
        lastLive.set(s, liveTick);
        drained.delete(s);
      }
    },
    /** A new connection: nothing is followed on it yet. */
    connected(): void {
      subscribed.clear();
      subscribeRetry.resetCount();
    },
    stopTimer: (): void => subscribeRetry.cancel(),
  };
};
