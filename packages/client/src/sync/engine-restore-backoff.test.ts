// When a catch-up after a restore of the server's store may start (`resyncDelay`): the first at once,
// restarts of one cut short at once (a few), any other only after a backoff that doubles with each
// catch-up of the last RESYNC_WINDOW_MS, up to RESYNC_BACKOFF_MAX_MS.
import { describe, expect, it } from 'vitest';
import {
  RESYNC_BACKOFF_BASE_MS as BASE,
  RESYNC_BACKOFF_MAX_MS,
  RESYNC_FREE_RESTARTS,
  RESYNC_WINDOW_MS,
  resyncDelay,
  type ResyncStart,
} from './engine';

const T = 1_700_000_000_000;
const MIN = 60_000;

describe('resyncDelay', () => {
  it('starts the first catch-up at once, and one whose predecessors left the window', () => {
    expect(resyncDelay([], 'x', T)).toBe(0);
    expect(resyncDelay([{ to: 'w', at: T - RESYNC_WINDOW_MS }], 'x', T)).toBe(0);
  });

  it('makes another incarnation wait the base period after the last catch-up', () => {
    const done: ResyncStart[] = [{ to: 'x', at: T }];
    expect(resyncDelay(done, 'y', T + MIN)).toBe(BASE - MIN);
    expect(resyncDelay(done, 'y', T + BASE - 1)).toBe(1);
    expect(resyncDelay(done, 'y', T + BASE)).toBe(0);
  });

  it(`restarts a catch-up cut short at once ${RESYNC_FREE_RESTARTS} times, then backs off`, () => {
    const starts: ResyncStart[] = [{ to: 'x', at: T }];
    for (let i = 1; i <= RESYNC_FREE_RESTARTS; i++) {
      expect(resyncDelay(starts, 'x', T + i)).toBe(0);
      starts.push({ to: 'x', at: T + i });
    }
    const last = T + RESYNC_FREE_RESTARTS;
    expect(resyncDelay(starts, 'x', last)).toBe(BASE * 2 ** RESYNC_FREE_RESTARTS);
    // Not a restart once another incarnation came between.
    expect(
      resyncDelay(
        [
          { to: 'x', at: T },
          { to: 'y', at: T + 1 },
        ],
        'x',
        T + 2,
      ),
    ).toBe(2 * BASE - 1);
  });

  it('doubles with each catch-up in the window, up to the maximum', () => {
    const starts: ResyncStart[] = [];
    let at = T;
    const waits: number[] = [];
    for (let i = 0; i < 10; i++) {
      const wait = resyncDelay(starts, `inc${i}`, at);
      waits.push(wait);
      at += wait;
      starts.push({ to: `inc${i}`, at });
    }
    expect(waits.slice(0, 5)).toEqual([0, BASE, 2 * BASE, 4 * BASE, 8 * BASE]);
    expect(Math.max(...waits)).toBeLessThanOrEqual(RESYNC_BACKOFF_MAX_MS);
    // Within any day, a server announcing a new incarnation at every connection gets a handful.
    const day = starts.filter((s) => s.at - T < RESYNC_WINDOW_MS);
    expect(day.length).toBeLessThanOrEqual(8);
  });

  it('takes a catch-up dated ahead of the clock (the clock went back) as started now', () => {
    expect(resyncDelay([{ to: 'x', at: T + 10 * RESYNC_WINDOW_MS }], 'y', T)).toBe(BASE);
  });
});
