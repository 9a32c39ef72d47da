/**
 * Long loops on a page in slices: `between()` resolves at once while the current slice is shorter than
 * `ms`, else after a macrotask (frames, input and I/O callbacks go first), starting a new slice. So a
 * loop that awaits `between()` after each step is no long task, and a short one pays nothing.
 */

/**
 * A macrotask later: `scheduler.yield()` where the page has it (input and frames go first, and no timer's
 * 4 ms clamp after nested timeouts), else a timeout.
 */
export const nextTask = (): Promise<void> => {
  const scheduler = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  return typeof scheduler?.yield === 'function'
    ? scheduler.yield()
    : new Promise((resolve) => setTimeout(resolve, 0));
};

/** The default slice (ms): well under the 50 ms a long task starts at. */
export const SLICE_MS = 30;

/** A `between()` for one loop (see the header). */
export const slices = (ms = SLICE_MS, now: () => number = () => performance.now()): (() => Promise<void>) => {
  let from = now();
  return async () => {
    if (now() - from < ms) return;
    await nextTask();
    from = now();
  };
};

/**
 * Many callers' work in slices: `inTurn(work)` runs `work` in the order asked, synchronously while the
 * current slice is shorter than `ms`, else after a macrotask; answers what `work` answers (or throws).
 * For work that arrives all at once from many callers (a query's thousands of documents opened one
 * promise each), where each caller's own `slices()` would all pass before any work ran.
 * - A slice lasts until a macrotask has passed, across every caller and drain in between.
 */
export const sliceQueue = (
  ms = SLICE_MS,
  now: () => number = () => performance.now(),
): (<T>(work: () => T) => Promise<T>) => {
  let queue: Array<() => void> = [];
  let draining = false;
  let from: number | null = null;
  const sliceStart = (): number => {
    if (from === null) {
      from = now();
      void nextTask().then(() => (from = null));
    }
    return from;
  };
  const drain = async (): Promise<void> => {
    draining = true;
    try {
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        for (const run of batch) {
          if (now() - sliceStart() >= ms) {
            await nextTask();
            from = null;
            sliceStart();
          }
          run();
        }
      }
    } finally {
      draining = false;
    }
  };
  return <T>(work: () => T): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        try {
          resolve(work());
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      if (!draining) void drain();
    });
};
