/**
 * The connection as the engine's handlers see it: up or not, fatal or not, and time spent connected.
 *
 * Invariants:
 * - The push and pull handlers wait here while there is no connection (dropped, or stopped by the user),
 *   so no request fails at once and nothing is sealed again every second. RxDB's own pause() is never
 *   used: a push batch that returns while paused is neither stored nor checkpointed, and a later batch
 *   that succeeds stores the upstream checkpoint past it, so its writes are never pushed.
 * - `fatal` holds the error that made the connection fatal (the server refused this device) until it
 *   connects again: the handlers keep waiting (as offline), `awaitInSync` callers are rejected with it.
 * - `connectedTime` counts only time connected (the clock of CONFLICT_WAIT_MS): offline no key or device
 *   list can come.
 */
import { SyncError } from './connection';
import type { EngineCore } from './engine-core';
import type { Link, LinkStatus } from './engine-parts';

export const createLink = (core: EngineCore): Link => {
  const { deps } = core;
  let linkUp = false;
  /** Counts status changes of the connection: what waits across them (`passStored`) sees one. */
  let linkChanges = 0;
  let connectedBefore = 0;
  let connectedSince: number | null = null;
  const connectedTime = (): number =>
    connectedBefore + (connectedSince === null ? 0 : Math.max(0, deps.now() - connectedSince));
  let linkWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const untilConnected = (): Promise<void> => {
    if (core.s.stopped) return Promise.reject(new SyncError('STOPPED', 'sync stopped', false));
    if (linkUp) return Promise.resolve();
    return new Promise((resolve, reject) => linkWaiters.push({ resolve, reject }));
  };
  let fatal: SyncError | undefined;
  /** `awaitInSync` callers, rejected when the connection goes fatal or sync stops. */
  const fatalWaiters = new Set<(error: SyncError) => void>();
  const stoppedInSync = (): SyncError =>
    new SyncError('STOPPED', 'sync stopped: unsent changes go with the next session', false);
  const releaseLinkWaiters = (error?: Error): void => {
    const waiters = linkWaiters;
    linkWaiters = [];
    for (const w of waiters) {
      if (error) w.reject(error);
      else w.resolve();
    }
  };
  return {
    up: (): boolean => linkUp,
    changes: (): number => linkChanges,
    fatal: (): SyncError | undefined => fatal,
    connectedTime,
    untilConnected,
    fatalWaiters,
    stoppedInSync,
    releaseLinkWaiters,
    /** The connection went fatal with `error`; the waiters of `awaitInSync` are told. */
    setFatal(error: SyncError): void {
      fatal = error;
      for (const w of [...fatalWaiters]) w(error);
    },
    /** The connection's status changed (after `setFatal` for a fatal one). */
    status(status: LinkStatus): void {
      if (status === 'connecting' || status === 'ready') fatal = undefined;
      linkUp = status === 'ready';
      linkChanges++;
      if (linkUp && connectedSince === null) connectedSince = deps.now();
      else if (!linkUp && connectedSince !== null) {
        connectedBefore += Math.max(0, deps.now() - connectedSince);
        connectedSince = null;
      }
      if (linkUp) releaseLinkWaiters();
    },
  };
};
