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
