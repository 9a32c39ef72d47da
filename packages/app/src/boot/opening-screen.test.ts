import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.useRealTimers();
  vi.resetModules();
});

const fresh = () => import('./opening-screen');

describe('opening screen', () => {
  it('runs what waits once the opening screen is drawn, once, and at once after that', async () => {
    vi.useFakeTimers();
    const { afterOpeningScreen, openingScreenDrawn } = await fresh();
    const run = vi.fn();
    afterOpeningScreen(run, 10_000);
    vi.advanceTimersByTime(5_000);
    expect(run).not.toHaveBeenCalled();
    openingScreenDrawn();
    openingScreenDrawn();
    vi.advanceTimersByTime(20_000);
    expect(run).toHaveBeenCalledTimes(1);
    const late = vi.fn();
    afterOpeningScreen(late, 10_000);
    expect(late).toHaveBeenCalledTimes(1);
  });

  it('runs after the fallback when another screen opened first; a cancel stops it', async () => {
    vi.useFakeTimers();
    const { afterOpeningScreen, openingScreenDrawn } = await fresh();
    const run = vi.fn();
    const cancelled = vi.fn();
    afterOpeningScreen(run, 10_000);
    afterOpeningScreen(cancelled, 10_000)();
    vi.advanceTimersByTime(10_000);
    expect(run).toHaveBeenCalledTimes(1);
    openingScreenDrawn();
    expect(run).toHaveBeenCalledTimes(1);
    expect(cancelled).not.toHaveBeenCalled();
  });
});
