/**
 * The engine's one RxDB replication, and the only module that reaches into RxDB's internals
 * (`internalReplicationState`: its downstream's activity, its checkpoint queue and stored checkpoint).
 *
 * Invariants:
 * - One replication of the `records` collection (`live`, no leader election), pull and push through the
 *   engine's handlers, RxDB's pull stream fed by live frames (live.ts).
 * - `online` and `lastSyncedAt` are said once RxDB has stored what a pass handed it (`passStored`): RxDB
 *   stores a page after the pull handler returns, and its downstream goes idle only once every page handed
 *   to it is stored; until then the link may drop or another pass be wanted.
 * - Before the replication is cancelled, stop() lets RxDB store the position of the last batch handed
 *   (`settleHanded`, at most STOP_SETTLE_MS): RxDB writes a batch's position after its documents and skips
 *   that write once cancelled, so a session closed in between would pull the batch again.
 * - A RESYNC dropped by RxDB's queue is asked for again when the replication goes idle (pull.ts).
 * - Errors of RxDB's loop are reported by the code of the error met (issues.ts `replicationIssue`), not
 *   when the app stopped the connection (STOPPED) or for a push waiting on unverified versions.
 * Tested against rxdb 17.6 (replication-protocol/downstream.ts, upstream.ts).
 */
import { first, skip, skipWhile, Subject, tap } from 'rxjs';
import { replicateRxCollection, type RxReplicationState } from 'rxdb/plugins/replication';
import type { EngineCore } from '../engine-core';
import type { PlainRecord } from '../../records/plain-record';
import type { StreamCheckpoint } from '../types';
import { replicationIssue } from '../issues';
import { CONFLICT_WAIT } from './push-masters';
import { reaches, storedPositions } from './checkpoint';
import type { Positions } from '../engine-parts';
import type { RxdbBridge } from '../engine-parts';

/**
 * At most this long, stop() lets RxDB store the position of a batch it was handed (`settleHanded`): long
 * enough for a page of documents to be stored, short enough that a close never hangs on one RxDB dropped.
 */
const STOP_SETTLE_MS = 1_000;

export const createRxdbBridge = (core: EngineCore): RxdbBridge => {
  const { deps } = core;
  const replication = (): RxReplicationState<PlainRecord, StreamCheckpoint> | null => core.s.replication;
  /** The positions of the last batch with documents handed to RxDB (pull page or live frame). */
  let lastHanded: Positions | null = null;
  let onlineAsk = 0;
  /** The stream of each record RxDB stored from the server (pull page or live frame). */
  const stored$ = new Subject<string>();
  /**
   * Synced (`lastSyncedAt`, kept across restarts) and, when `online`, 'online' (caught up) once RxDB has
   * stored what the pass handed it.
   */
  const passStored = (covers: number, online: boolean): void => {
    const ask = ++onlineAsk;
    const link = core.link.changes();
    // What the pass received; a later pass (a reconnect, a grant) may add to both counts meanwhile.
    const received = core.progress.received();
    const stored = (): void => {
      if (core.s.stopped) return;
      core.progress.noteSynced();
      core.progress.stored(received);
      if (!online || ask !== onlineAsk || link !== core.link.changes()) return;
      if (
        !core.link.up() ||
        !core.pull.coversResyncs(covers) ||
        core.issues.state$.value.status !== 'syncing'
      )
        return;
      core.issues.patch({ status: 'online' });
      // Once RxDB stored the pass, so the retry starts from stored positions; one asked for meanwhile
      // waited for 'online'.
      if (core.retry.isDue()) void core.retry.runRetry();
    };
    const down = replication()?.internalReplicationState?.events.active.down;
    if (down === undefined || !down.getValue()) return void setTimeout(stored, 0);
    down.pipe(first((active) => !active)).subscribe({ next: stored, error: () => undefined });
  };
  /**
   * Runs `then` once RxDB's downstream stored what is handed to it next (a live batch; subscribe before
   * handing it): the downstream says it is active as it takes each task and idle once that task's
   * documents are stored (or dropped). The value it holds now is skipped.
   */
  const whenNextStored = (then: () => void): void => {
    const down = replication()?.internalReplicationState?.events.active.down;
    if (down === undefined) return void setTimeout(then, 0);
    down
      .pipe(
        skip(1),
        skipWhile((active) => !active),
        first((active) => !active),
      )
      .subscribe({ next: then, error: () => undefined });
  };
  /** Waits until RxDB stored the last batch's position (see the header). */
  const settleHanded = async (r: RxReplicationState<PlainRecord, StreamCheckpoint>): Promise<void> => {
    const internal = r.internalReplicationState;
    const target = lastHanded;
    if (!internal || target === null) return;
    let expired = false;
    const timer = setTimeout(() => (expired = true), STOP_SETTLE_MS);
    try {
      for (;;) {
        // Read before the queue: a batch's position write is queued before its task ends.
        const busy = internal.events.active.down.getValue();
        await internal.checkpointQueue;
        if (reaches(storedPositions(internal.lastCheckpointDoc.down?.checkpointData), target)) return;
        if (!busy || expired) return;
        // A macrotask: RxDB's storage writes may need one to complete.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    } finally {
      clearTimeout(timer);
    }
  };

  /** Starts the replication. */
  const start = (): void => {
    const r = replicateRxCollection<PlainRecord, StreamCheckpoint>({
      collection: deps.collection,
      replicationIdentifier: deps.replicationId,
      live: true,
      retryTime: core.busy.retryMs,
      waitForLeadership: false,
      autoStart: true,
      pull: {
        handler: async (checkpoint, batchSize) => {
          const page = await core.pull.pullHandler(checkpoint, batchSize).catch(async (error: unknown) => {
            await core.busy.backoff('pull', error);
            throw error;
          });
          if (page.documents.length > 0) lastHanded = page.checkpoint.s;
          core.busy.passed('pull');
          return page;
        },
        batchSize: deps.batchSize ?? 500,
        stream$: core.live.pullStream$.pipe(
          tap((item) => {
            if (item !== 'RESYNC' && item.documents.length > 0) lastHanded = item.checkpoint.s;
          }),
        ),
      },
      push: { handler: core.push.pushHandler, batchSize: deps.batchSize ?? 500 },
    });
    core.s.replication = r;
    r.received$.subscribe((doc) => {
      core.quarantine.onStored(doc.stream, doc.id, doc.rv);
      stored$.next(doc.stream);
      if (!core.access.readable(doc.stream)) core.purge.sweep(doc.stream);
    });
    let idle = true;
    let idleCheck = false;
    r.active$.subscribe((active) => {
      idle = !active;
      if (active || idleCheck) return;
      idleCheck = true;
      // A RESYNC on its way into RxDB's queue is in it within microtasks (and the replication active
      // again): checked after them, so only one that was dropped is asked for again.
      setTimeout(() => {
        idleCheck = false;
        if (idle && !core.s.stopped && core.pull.resyncOwed()) core.live.resync();
      }, 0);
    });
    r.error$.subscribe((error) => {
      const issue = replicationIssue(error);
      // A request the app's own stop of the connection failed (close, goOffline) is no failure: the
      // status says stopped, and RxDB sends the batch again over the next connection (or after start).
      if (core.s.stopped || issue.code === 'STOPPED') return;
      // A push that waits for server versions to open: each waiting change has its own issue already.
      if (issue.code === CONFLICT_WAIT) return;
      const { loop, ...shown } = issue;
      core.issues.report(shown, loop === undefined ? {} : { loop });
    });
  };

  /** Lets RxDB store the last batch's position, then cancels the replication. */
  const stop = async (): Promise<void> => {
    const r = replication();
    if (r) await settleHanded(r);
    await r?.cancel();
  };

  /** Whether RxDB's downstream is storing something (a pull pass, a live batch). */
  const storing = (): boolean =>
    replication()?.internalReplicationState?.events.active.down.getValue() ?? false;

  return { start, stop, passStored, whenNextStored, storing, stored$: stored$.asObservable() };
};
