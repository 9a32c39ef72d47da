/**
 * Initial-sync progress and the time of the last sync.
 *
 * Invariants:
 * - Progress never goes back within a session, reconnects included: a listing mid-sync adds what is left
 *   to what was done, and the total only grows.
 * - The total is counted from the positions RxDB stored (never before the pull handler has them:
 *   `countDue`), and grows by every document a pass serves beyond that count, so done stays below it
 *   until the pass is stored; the latest page of a pass is held back until RxDB stored it (`stored`), so
 *   done equals total only once every record of the catch-up can be queried.
 * - `lastSyncedAt` moves when a pull, push or live change completed, is persisted once per burst
 *   (LAST_SYNCED_KEY), and read at start, so a device opened offline says how old what it shows is.
 */
import { coalescedSave } from '../core/coalesced-save';
import type { EngineCore } from './engine-core';
import type { SyncState } from './types';
import type { Progress } from './engine-parts';

/** Device meta key of `lastSyncedAt`. */
export const LAST_SYNCED_KEY = 'last-synced';

export const createProgress = (core: EngineCore): Progress => {
  const { deps } = core;
  const state = () => core.issues.state$.value;
  // Persisted once per burst, as the pending list: a crash loses at most the last burst's time.
  const syncedSave = coalescedSave(() => deps.meta.set(LAST_SYNCED_KEY, state().lastSyncedAt));
  /** A pull, push or live change completed now (`lastSyncedAt`, with `also` in the same state). */
  const noteSynced = (also: Partial<SyncState> = {}): void => {
    core.issues.patch({ ...also, lastSyncedAt: core.iso() });
    syncedSave.soon();
  };

  let initialTotal = 0;
  /** Documents of the catch-up received this session (pull pages). */
  let initialDone = 0;
  /**
   * Progress shows what RxDB may already have stored: the latest page of a pass is held back until the
   * pass is stored (`passStored`), so done reaches total only when every record of the catch-up can be
   * queried. RxDB stores pages in order while it fetches the next, so earlier pages lag by about one.
   */
  let heldBack = 0;
  let storedDone = 0;
  const showProgress = (): void => {
    const was = state().initialSync.done;
    const done = Math.min(initialTotal, Math.max(was, storedDone, initialDone - heldBack));
    if (done !== was || initialTotal !== state().initialSync.total)
      core.issues.patch({ initialSync: { done, total: initialTotal } });
  };
  /** Stream heads of the latest listing (audit streams aside): what the catch-up is counted from. */
  let listedHeads: ReadonlyArray<{ stream: string; head: number }> = [];
  /**
   * A listing not counted yet: it came before RxDB handed the pull handler its stored positions (at start,
   * `known` holds none of them), so the count waits for the handler, which has them.
   */
  let countDue = false;
  /**
   * Per stream, the positions the latest count put in the total: one served document each past `at` up to
   * `head` (`at` moves with each one counted). A pass may serve others: documents written after the
   * listing, served again below where the count began (a retried call), of a stream granted meanwhile.
   * Each of those is added to the total as it is to done, so done stays below the total while a pass
   * still pulls, and never passes it. Emptied when a pass ends: what later passes serve (live resyncs, a
   * grant's history) is no part of the catch-up, and is not counted until the next listing.
   */
  const counted = new Map<string, { at: number; head: number }>();
  /** Counts what the latest listing leaves to pull from the positions this device holds (`known`). */
  const countLeft = (): void => {
    countDue = false;
    counted.clear();
    let left = 0;
    for (const { stream, head } of listedHeads) {
      const at = core.known[stream] ?? 0;
      counted.set(stream, { at, head });
      left += Math.max(0, head - at);
    }
    // Progress only moves forward within a session: a listing mid-sync (a reconnect, the push's
    // STALE_EPOCH retry) adds what is left to what was done instead of counting from 0 again, and the
    // total grows with streams or documents added, never shrinks.
    initialTotal = Math.max(initialTotal, initialDone + left);
    showProgress();
  };
  /** A pull page served `docs`: each counts in done, and in the total too where the count left it out. */
  const countServed = (docs: ReadonlyArray<{ stream: string; seq: number }>): void => {
    if (counted.size === 0 || docs.length === 0) return;
    for (const d of docs) {
      const c = counted.get(d.stream);
      if (c !== undefined && d.seq > c.at && d.seq <= c.head) c.at = d.seq;
      else initialTotal++;
    }
    initialDone += docs.length;
    heldBack = docs.length;
  };

  // When access to a stream ends, parsed once per access entry: `readable` runs for every applied record.
  return {
    noteSynced,
    syncedSave,
    countLeft,
    countServed,
    showProgress,
    /** The latest listing's stream heads (audit streams aside). */
    listed(heads: ReadonlyArray<{ stream: string; head: number }>): void {
      listedHeads = heads;
      // Before the pull handler was handed RxDB's stored positions (at start, the connection's listing may
      // come first), `known` lacks them: counted now, the total would be the whole store.
      if (core.s.checkpointSeen) countLeft();
      else countDue = true;
    },
    /** What is left is counted anew at the pull handler's next call (a restore's pull from 0). */
    recountLater(): void {
      countDue = true;
    },
    /** Counts a listing that came before RxDB's stored positions (see `countDue`), now that they are known. */
    countIfDue(): void {
      if (countDue) countLeft();
    },
    /** A pass is done: counted as done from here on, so a later listing does not show less than this. */
    passDone(): void {
      // Positions the count expected and the pass did not serve were versions superseded since.
      initialDone = Math.max(initialDone, initialTotal);
      counted.clear();
    },
    /** Documents of the catch-up received so far (what a pass stored once RxDB stored it, `stored`). */
    received: (): number => initialDone,
    /** RxDB stored a pass that had received `received` documents. */
    stored(received: number): void {
      storedDone = Math.max(storedDone, received);
      if (initialDone === received) heldBack = 0;
      showProgress();
    },
  };
};
