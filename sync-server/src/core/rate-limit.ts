/**
 * Token buckets keyed by device id or remote address. Memory is bounded: idle buckets that have refilled
 * completely are dropped on sweep, and the map never holds more than `maxKeys` entries (the oldest are
 * evicted, which only ever makes a limit more generous, never stricter).
 */
export interface RateLimiter {
  /** Takes `cost` tokens; false when the bucket is empty (the caller refuses with RATE_LIMITED). */
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
  let lastSweep = now();

  const sweep = (t: number): void => {
    if (t - lastSweep < 10_000) return;
    lastSweep = t;
    for (const [key, b] of buckets) {
      if (b.tokens + ((t - b.at) / 1000) * perSecond >= burst) buckets.delete(key);
    }
  };

  return {
    take(key, cost = 1) {
      const t = now();
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
      if (b.tokens < cost) return false;
      b.tokens -= cost;
      return true;
    },
    retryAfterMs(key, cost = 1) {
      const b = buckets.get(key);
      if (!b) return 0;
      const tokens = Math.min(burst, b.tokens + ((now() - b.at) / 1000) * perSecond);
      return tokens >= cost ? 0 : Math.ceil(((cost - tokens) / perSecond) * 1000);
    },
    size: () => buckets.size,
  };
};
