// Polled views (grants, audit, devices): read at first listen and at each refresh; a failed read keeps
// what was shown and never stops later reads from showing.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Subject } from 'rxjs';
import { polled } from './polled';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('polled', () => {
  it('a first read that fails does not stop the next one from showing', async () => {
    const answers: Array<() => Promise<string[]>> = [
      () => Promise.reject(new Error('offline')),
      () => Promise.resolve(['device A']),
    ];
    const refresh = new Subject<void>();
    const view = polled(() => answers.shift()!(), [] as string[], refresh, 60_000);
    const seen: string[][] = [];
    const stop = view.subscribe(() => seen.push(view.get()));
    await vi.advanceTimersByTimeAsync(0);
    expect(view.get()).toEqual([]);
    // The empty list shown is the stand-in, not an answer.
    expect(view.loaded()).toBe(false);
    refresh.next();
    await vi.advanceTimersByTimeAsync(0);
    expect(view.get()).toEqual(['device A']);
    expect(view.loaded()).toBe(true);
    expect(seen).toEqual([['device A']]);
    stop();
  });

  it('an answer equal to the stand-in counts as loaded, and listeners are told', async () => {
    const view = polled(async () => [] as string[], [] as string[], new Subject<void>(), 60_000);
    let told = 0;
    const stop = view.subscribe(() => (told += 1));
    expect(view.loaded()).toBe(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(view.loaded()).toBe(true);
    expect(view.get()).toEqual([]);
    expect(told).toBe(1);
    stop();
  });

  it('reads again every everyMs while listened to, emitting only a changed answer', async () => {
    let n = 0;
    const view = polled(async () => Math.floor(n++ / 2), -1, new Subject<void>(), 1_000);
    const seen: number[] = [];
    const stop = view.subscribe(() => seen.push(view.get()));
    await vi.advanceTimersByTimeAsync(3_500);
    // Reads at 0, 1, 2 and 3 s answer 0, 0, 1, 1.
    expect(seen).toEqual([0, 1]);
    stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(n).toBe(4);
  });
});
