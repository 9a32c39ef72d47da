import { afterEach, describe, expect, it, vi } from 'vitest';
import { untilIdle } from './until-idle';

afterEach(() => void vi.useRealTimers());

describe('untilIdle', () => {
  it('resolves at once when idle, once idle otherwise, and at the bound if never', async () => {
    vi.useFakeTimers();
    let done = 0;
    await untilIdle(() => true);
    let idle = false;
    void untilIdle(() => idle, 1_000, 10).then(() => done++);
    await vi.advanceTimersByTimeAsync(500);
    expect(done).toBe(0);
    idle = true;
    await vi.advanceTimersByTimeAsync(10);
    expect(done).toBe(1);
    void untilIdle(() => false, 1_000, 10).then(() => done++);
    await vi.advanceTimersByTimeAsync(990);
    expect(done).toBe(1);
    await vi.advanceTimersByTimeAsync(20);
    expect(done).toBe(2);
  });
});
