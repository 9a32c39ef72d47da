/**
 * The one backoff policy of the client: waits doubling from `baseMs` per attempt, capped at `maxMs`.
 *
 * | user | base → max |
 * |---|---|
 * | push/pull refused as busy (sync/replication/busy.ts) | 1 s → 60 s |
 * | quarantine retry (sync/quarantine/retry.ts) | 30 s → 30 min |
 * | key-wait resend (sync/key-wait.ts) | 2 s → 60 s |
 * | refused subscribe (sync/replication/pull.ts) | 1 s → 30 s |
 * | catch-ups after server restores (sync/reset.ts) | 15 min → 24 h |
 *
 * Invariants: attempt 0 waits `baseMs`; never more than `maxMs`; a negative or non-finite attempt counts
 * as 0. `createBackoffTimer` runs one unref'd timer at a time: `arm` replaces a pending one.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** The wait before attempt `attempt` (0-based) under `policy`. */
export const backoffMs = (attempt: number, policy: BackoffPolicy): number => {
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // 2 ** 1100 is Infinity: the cap still holds.
  return Math.min(policy.baseMs * 2 ** n, policy.maxMs);
};

/**
 * A timer that fires `run` after the backoff of its attempt count, which grows with each `arm` and is set
 * back to 0 by `reset` (or `arm(true)`). One pending at a time; `cancel` stops it.
 */
export const createBackoffTimer = (policy: () => BackoffPolicy, run: () => void) => {
  let attempts = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cancel = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return {
    /** Arms the next wait (from the first when `reset`). */
    arm(reset = false): void {
      if (reset) attempts = 0;
      cancel();
      const delay = backoffMs(attempts, policy());
      attempts++;
      timer = setTimeout(() => {
        timer = undefined;
        run();
      }, delay);
      (timer as { unref?: () => void }).unref?.();
    },
    /** Stops a pending wait and starts the count over. */
    reset(): void {
      cancel();
      attempts = 0;
    },
    resetCount(): void {
      attempts = 0;
    },
    cancel,
  };
};
