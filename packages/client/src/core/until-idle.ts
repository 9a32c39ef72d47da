/**
 * Waits until `idle()` holds, checked at once and then every `stepMs`, for at most `maxMs` (then resolves
 * anyway): how background work yields to work that must go first without ever stalling for good.
 */
export const untilIdle = (idle: () => boolean, maxMs = 1_000, stepMs = 10): Promise<void> => {
  if (idle()) return Promise.resolve();
  const until = Date.now() + maxMs;
  return new Promise((resolve) => {
    const poll = (): void => {
      if (idle() || Date.now() >= until) resolve();
      else setTimeout(poll, stepMs);
    };
    setTimeout(poll, stepMs);
  });
};
