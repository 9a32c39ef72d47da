/**
 * Backoff of push and pull requests the server refused as busy or failing (RATE_LIMITED, UNAVAILABLE,
 * INTERNAL).
 *
 * Invariants:
 * - RxDB sends a failed request again after its own constant `retryTime` (RETRY_MS); the handler first
 *   waits the rest of a wait doubling from BUSY_BACKOFF.baseMs up to maxMs (1, 2, 4 … s between sends),
 *   per direction. Without it every device would send a failing server a request once a second.
 * - A request of that direction that passes starts its count over (`passed`); a new connection and stop()
 *   end a wait under way (`wake`): the server reached may be another (restarted) one.
 * - Other failures wait nothing here: a dropped link waits for the next connection in the handlers, a
 *   TIMEOUT already waited the request's whole time.
 */
import { SyncError } from '../connection';
import { backoffMs } from '../../core/backoff';
import type { EngineCore } from '../engine-core';
import type { LoopDirection } from '../types';
import type { Busy } from '../engine-parts';

/** RxDB's wait before it sends a failed push or pull request again (`retryTime`). */
const RETRY_MS = 1_000;
const BUSY_BACKOFF = { baseMs: 1_000, maxMs: 60_000 };
const BUSY_CODES: ReadonlySet<string> = new Set(['RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL']);

export const createBusy = (core: EngineCore): Busy => {
  const config = core.deps.busyRetry ?? { retryMs: RETRY_MS, ...BUSY_BACKOFF };
  /** Requests of each direction refused in a row as busy or failing; 0 once one passes. */
  const refusals: Record<LoopDirection, number> = { push: 0, pull: 0 };
  const wakes = new Set<() => void>();
  return {
    /** RxDB's retry wait. */
    retryMs: config.retryMs,
    /** Before a request refused for `error` is handed back to RxDB: waits the backoff (see the header). */
    async backoff(direction: LoopDirection, error: unknown): Promise<void> {
      if (core.s.stopped || !(error instanceof SyncError) || !BUSY_CODES.has(error.code)) return;
      const wait = backoffMs(refusals[direction], config) - config.retryMs;
      refusals[direction]++;
      if (wait <= 0) return;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          wakes.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, wait);
        wakes.add(wake);
      });
    },
    /** A request of `direction` passed: its count starts over, and its failures' issues end. */
    passed(direction: LoopDirection): void {
      refusals[direction] = 0;
      core.issues.loopPassed(direction);
    },
    /** Ends every wait under way. */
    wake(): void {
      for (const wake of [...wakes]) wake();
    },
  };
};
