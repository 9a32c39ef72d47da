/**
 * The opening screen's first complete draw (the home with every card read from the store): background work
 * of the chart's layout (screens preloaded) waits for it, so it does not compete with the home's reads.
 *
 * | call | what |
 * |---|---|
 * | `openingScreenDrawn()` | said by the home once nothing on it is loading (once per page; later calls do nothing) |
 * | `afterOpeningScreen(run, fallbackMs)` | runs `run` once drawn, or after `fallbackMs` (another screen opened first); answers a cancel |
 */
let drawn = false;
const waiting = new Set<() => void>();

export const openingScreenDrawn = (): void => {
  if (drawn) return;
  drawn = true;
  for (const run of [...waiting]) run();
};

export const afterOpeningScreen = (run: () => void, fallbackMs: number): (() => void) => {
  if (drawn) {
    run();
    return () => undefined;
  }
  const once = (): void => {
    waiting.delete(once);
    clearTimeout(timer);
    run();
  };
  const timer = setTimeout(once, fallbackMs);
  waiting.add(once);
  return () => {
    waiting.delete(once);
    clearTimeout(timer);
  };
};
