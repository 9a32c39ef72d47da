/**
 * Token buckets keyed by device id or remote address. Memory is bounded: idle buckets that have refilled
 * completely are dropped on sweep, and the map never holds more than `maxKeys` entries (the oldest are
 * evicted, which only ever makes a limit more generous, never stricter).
 *
 * Invariants:
 * - Time is the injected clock's forward movement only (forward-clock.ts): the server passes Date.now,
 *   which NTP or an operator may step back. A step back counts as no time passing, so no bucket owes
 *   refills for the step (an hour back would otherwise refuse every busy client for an hour) and the
 *   sweep goes on.
 * - A cost above the burst is taken as a full bucket: a bucket never holds more than the burst, so such a
 *   request (a join costs 10; `--rate-per-address 4` gives a burst of 8) would otherwise be refused for
 *   ever while `retryAfterMs` named a wait that never works.
 */
import { forwardClock } from './forward-clock';

export interface RateLimiter {
  /** Takes `cost` tokens (at most a full bucket); false when there are not that many. */
  take(key: string, cost?: number): boolean;
  /** Milliseconds until `cost` tokens will be there (0 when they are now): the `retryAfterMs` hint. */
  retryAfterMs(key: string, cost?: number): number;
  size(): number;
}

export const createRateLimiter = (options: {
  perSecond: number;
  burst: number;
  now: () => number;
  maxKeys?: number;
}): RateLimiter => {
  const { perSecond, burst, now } = options;
  const maxKeys = options.maxKeys ?? 100_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const elapsed = forwardClock(now);
  const needed = (cost: number): number => Math.min(cost, burst);
  let lastSweep = elapsed();

  const sweep = (t: number): void => {
    if (t - lastSweep < 10_000) return;
    lastSweep = t;
    for (const [key, b] of buckets) {
      if (b.tokens + ((t - b.at) / 1000) * perSecond >= burst) buckets.delete(key);
    }
  };

  return {
    take(key, cost = 1) {
      const t = elapsed();
      sweep(t);
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxKeys) {
          const oldest = buckets.keys().next();
          if (!oldest.done) buckets.delete(oldest.value);
        }
        b = { tokens: burst, at: t };
        buckets.set(key, b);
      } else {
        b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
        b.at = t;
      }
      const need = needed(cost);
      if (b.tokens < need) return false;
      b.tokens -= need;
      return true;
    },
    retryAfterMs(key, cost = 1) {
      const b = buckets.get(key);
      if (!b) return 0;
      const need = needed(cost);
      const tokens = Math.min(burst, b.tokens + ((elapsed() - b.at) / 1000) * perSecond);
      return tokens >= need ? 0 : Math.ceil(((need - tokens) / perSecond) * 1000);
    },
    size: () => buckets.size,
  };
};
