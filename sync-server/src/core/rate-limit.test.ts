// The token buckets every request, frame, upgrade and join attempt passes. They run on the server's wall
// clock (Date.now), which NTP or an operator may step back; and callers take more than one token at a time
// (a join costs 10) from buckets whose size the operator sets (`--rate-per-address`, burst twice the rate).
import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit';

const limiter = (perSecond: number, burst: number) => {
  const clock = { now: 1_000_000 };
  return { clock, limiter: createRateLimiter({ perSecond, burst, now: () => clock.now }) };
};

describe('rate limiter', () => {
  it('refuses past the burst and refills at the rate', () => {
    const { clock, limiter: l } = limiter(10, 20);
    for (let i = 0; i < 20; i++) expect(l.take('a')).toBe(true);
    expect(l.take('a')).toBe(false);
    expect(l.retryAfterMs('a')).toBe(100);
    clock.now += 100;
    expect(l.take('a')).toBe(true);
    expect(l.take('b')).toBe(true);
  });

  it('a wall clock stepped back locks no client out: no time passes until it moves forward again', () => {
    const { clock, limiter: l } = limiter(10, 20);
    expect(l.take('a')).toBe(true);
    // An hour back: a bucket must not owe an hour of refills (36,000 tokens at 10/s).
    clock.now -= 3_600_000;
    expect(l.take('a')).toBe(true);
    expect(l.retryAfterMs('a')).toBe(0);
    for (let i = 0; i < 18; i++) expect(l.take('a')).toBe(true);
    expect(l.take('a')).toBe(false);
    // Refills count from the new reading of the clock.
    expect(l.retryAfterMs('a')).toBe(100);
    clock.now += 100;
    expect(l.take('a')).toBe(true);
  });

  it('idle buckets are still swept after the clock stepped back', () => {
    const { clock, limiter: l } = limiter(10, 20);
    clock.now += 20_000;
    l.take('a');
    clock.now -= 3_600_000;
    l.take('b');
    // Both refilled 20 s later (on the new clock): the sweep drops them, and the next take adds one.
    clock.now += 20_000;
    l.take('c');
    expect(l.size()).toBe(1);
  });

  it('a cost above the burst is taken from a full bucket instead of refused for ever', () => {
    // `--rate-per-address 4`: burst 8, and a join costs 10.
    const { clock, limiter: l } = limiter(4, 8);
    expect(l.take('join', 10)).toBe(true);
    expect(l.take('join', 10)).toBe(false);
    // The wait it names is the wait that works: until the bucket is full again.
    expect(l.retryAfterMs('join', 10)).toBe(2_000);
    clock.now += 1_999;
    expect(l.take('join', 10)).toBe(false);
    clock.now += 1;
    expect(l.retryAfterMs('join', 10)).toBe(0);
    expect(l.take('join', 10)).toBe(true);
  });
});
