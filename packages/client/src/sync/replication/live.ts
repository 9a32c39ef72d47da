/**
 * Live frames (`changes`, `accessChanged`, unasked `error`) and RxDB's pull stream they feed.
 *
 * Invariants:
 * - Decoding starts on arrival (frames overlap on the offload); applying is strictly in arrival order, in
 *   order with purges and retries (`core.inOrder`), and one failure does not block the frames after it.
 * - A frame received before a restore's catch-up started (`liveEra`) is dropped: its pull from 0 serves
 *   what it held.
 * - A frame that hands RxDB nothing moves only its own positions by the pull floor (`carry`), never by a
 *   record; one with documents is handed with the engine's positions (`snapshot`).
 * - Synced (`lastSyncedAt`) once RxDB stored what a frame handed, so a device restarted offline meanwhile
 *   does not show that time.
 * - An access change is applied at once (`updateAccess`), ends what it removes (purged in order), wakes
 *   the key-wait list (envelopes stored for this device are told so) and asks for a resync (new streams'
 *   history, subscriptions).
 * - A change frame counts as live work (`busy`) from its arrival until RxDB stored what it handed (or it
 *   handed nothing), at most LIVE_HOLD_MS after its hand-over: background work (head checks) yields to it.
 */
import { Subject } from 'rxjs';
import type { RxReplicationPullStreamItem } from 'rxdb';
import type { AccessChangedFrame, ChangesFrame, ServerFrame } from '@hale/protocol';
import { messageOf, type EngineCore } from '../engine-core';
import type { PlainRecord } from '../../records/plain-record';
import type { StreamCheckpoint } from '../types';
import type { Live } from '../engine-parts';

/** At most this long after its hand-over a change frame counts as live work (RxDB may drop a batch). */
const LIVE_HOLD_MS = 2_000;

export const createLive = (core: EngineCore): Live => {
  const { deps } = core;
  const known = core.known;
  const report = core.issues.report;
  const readable = (stream: string): boolean => core.access.readable(stream);
  const pullStream$ = new Subject<RxReplicationPullStreamItem<PlainRecord, StreamCheckpoint>>();
  /** Hands `documents` to RxDB with the positions this device has seen. */
  const hand = (documents: PlainRecord[]): void =>
    pullStream$.next({ documents, checkpoint: core.checkpoints.snapshot() });

  const onFrame = (frame: ServerFrame): void => {
    const failed = (error: unknown): void => report({ code: 'LIVE_APPLY_FAILED', message: messageOf(error) });
    if (frame.t === 'changes') void handleChanges(frame).catch(failed);
    else if (frame.t === 'accessChanged') void handleAccess(frame).catch(failed);
    else if (frame.t === 'error') report({ code: frame.code, message: frame.message }, { server: true });
  };

  /** Change frames arrived and not yet stored (or found to hand nothing). */
  let live = 0;
  const handleChanges = (frame: ChangesFrame): Promise<void> => {
    live++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      live--;
    };
    let handed = false;
    const served = core.receive.decodeServed(frame.docs);
    served.catch(() => undefined);
    const era = core.s.liveEra;
    // RxDB drops this batch if a pull call starts before it is stored: the pass must name the stream again,
    // also when a page asked before this frame answers it drained.
    core.pull.liveArrived(frame.docs.map((d) => d.stream));
    const job = core.inOrder(async () => {
      // Served by the store before a restore whose catch-up started since: its pull from 0 serves it again.
      if (era !== core.s.liveEra) return;
      const before = { ...known };
      const applied = await core.receive.applyDecoded(await served, era);
      if (applied === null || era !== core.s.liveEra) return;
      const documents = applied.filter((d) => readable(d.stream));
      for (const s of frame.streams) {
        if (readable(s.stream)) known[s.stream] = Math.max(known[s.stream] ?? 0, s.checkpoint);
      }
      if (documents.length > 0) {
        // Synced once stored: a device restarted offline meanwhile must not show this time.
        handed = true;
        core.bridge.whenNextStored(() => {
          finish();
          if (!core.s.stopped) core.progress.noteSynced();
        });
        setTimeout(finish, LIVE_HOLD_MS);
        hand(documents);
      } else {
        // Only this frame's own positions: `known` may hold a pull's pages not handed to RxDB yet.
        const at = { ...before };
        for (const d of frame.docs) if (readable(d.stream)) at[d.stream] = Math.max(at[d.stream] ?? 0, d.seq);
        for (const c of frame.streams)
          if (readable(c.stream)) at[c.stream] = Math.max(at[c.stream] ?? 0, c.checkpoint);
        core.checkpoints.carry(before, at);
        core.progress.noteSynced();
      }
    });
    return job.finally(() => {
      if (!handed) finish();
    });
  };

  const handleAccess = async (frame: AccessChangedFrame): Promise<void> => {
    // A listing in flight applies it to its result (its pages may predate the change).
    core.access.streamList.accessChanged(frame);
    deps.onAccessChanged?.(frame);
    core.access.updateAccess(frame.streams);
    const removed = core.access.heldOf(frame.removed);
    const purged = removed.length > 0 ? core.access.endAccess(removed) : Promise.resolve();
    // Envelopes stored for this device are told this way: a change waiting for its write key may go.
    core.keyWaits.wakeKeyWaits(true);
    if (frame.streams.length > 0) {
      // A grant or a rotation may bring the key of records quarantined NO_KEY.
      core.retry.due();
      // Not caught up until the resync has pulled the new streams' history and subscribed them.
      if (core.link.up()) core.issues.patch({ status: 'syncing' });
      core.pull.askResync();
    }
    await purged;
  };

  return {
    pullStream$,
    hand,
    onFrame,
    resync: (): void => pullStream$.next('RESYNC'),
    /** Whether a change frame is being applied or stored. */
    busy: (): boolean => live > 0,
  };
};
