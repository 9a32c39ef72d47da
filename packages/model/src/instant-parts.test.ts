import { describe, expect, it } from 'vitest';
import { instantMillis, isInstantBeforeBy } from './instant-parts';

describe('instantMillis', () => {
  it('is the millisecond an instant falls in, at any offset and fraction count', () => {
    const ms = Date.UTC(2026, 2, 1, 9, 30, 0, 123);
    expect(instantMillis('2026-03-01T09:30:00.123Z')).toBe(ms);
    expect(instantMillis('2026-03-01T09:30:00.123999999Z')).toBe(ms);
    expect(instantMillis('2026-03-01T11:30:00.1239+02:00')).toBe(ms);
    expect(instantMillis('2026-03-01T09:30:00.12Z')).toBe(ms - 3);
    expect(instantMillis('2026-03-01T09:30:00Z')).toBe(ms - 123);
    // Before the epoch too: the millisecond it falls in, not the one nearer zero.
    expect(instantMillis('1969-12-31T23:59:59.9999Z')).toBe(-1);
  });

  it('is NaN for what is no instant the model takes', () => {
    for (const none of ['', '2026-03-01', '2026-02-30T10:00:00Z', '2026-03-01T10:00:00']) {
      expect(instantMillis(none), none).toBeNaN();
    }
  });
});

describe('isInstantBeforeBy', () => {
  const DAY = 24 * 60 * 60 * 1000;

  it('moves the first instant by whole milliseconds, then compares to the nanosecond', () => {
    expect(isInstantBeforeBy('2026-03-01T09:30:00.0001Z', '2026-03-02T09:30:00.0002Z', DAY)).toBe(true);
    expect(isInstantBeforeBy('2026-03-01T09:30:00.0002Z', '2026-03-02T09:30:00.0002Z', DAY)).toBe(false);
    expect(isInstantBeforeBy('2026-03-01T11:30:00.0001+02:00', '2026-03-02T09:30:00.0002Z', DAY)).toBe(true);
    // Carries into the next second.
    expect(isInstantBeforeBy('2026-03-01T09:30:00.9995Z', '2026-03-01T09:30:01.0004Z', 1)).toBe(false);
    expect(isInstantBeforeBy('2026-03-01T09:30:00.9995Z', '2026-03-01T09:30:01.0006Z', 1)).toBe(true);
    expect(isInstantBeforeBy('2026-03-01T09:30:00.9995Z', '2026-03-01T09:30:01.9996Z', 1000)).toBe(true);
    expect(isInstantBeforeBy('2026-03-01T09:30:00Z', '2026-03-01T09:30:00.0001Z', 0)).toBe(true);
  });

  it('is false when either is no instant', () => {
    expect(isInstantBeforeBy('', '2026-03-01T09:30:00Z', 0)).toBe(false);
    expect(isInstantBeforeBy('2026-03-01T09:30:00Z', '2026-03-01', DAY)).toBe(false);
  });
});
