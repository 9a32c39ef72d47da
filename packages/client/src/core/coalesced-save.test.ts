import { describe, expect, it, vi } from 'vitest';
import { coalescedSave } from './coalesced-save';

describe('coalescedSave', () => {
  it('folds saves asked for while one is in flight into one more write of the latest value', async () => {
    let value = 0;
    const written: number[] = [];
    let finish: () => void = () => undefined;
    const saves = coalescedSave(async () => {
      written.push(value);
      await new Promise<void>((resolve) => (finish = resolve));
    });
    value = 1;
    const first = saves.save();
    await Promise.resolve();
    value = 2;
    const second = saves.save();
    value = 3;
    const third = saves.save();
    expect(second).toBe(third);
    finish();
    await first;
    await new Promise((resolve) => setTimeout(resolve, 0));
    finish();
    await third;
    expect(written).toEqual([1, 3]);
  });

  it('soon() writes once per burst, a macrotask later; cancel() drops it', async () => {
    vi.useFakeTimers();
    try {
      const write = vi.fn(async () => undefined);
      const saves = coalescedSave(write);
      saves.soon();
      saves.soon();
      expect(write).not.toHaveBeenCalled();
      await vi.runAllTimersAsync();
      expect(write).toHaveBeenCalledTimes(1);
      saves.soon();
      expect(saves.cancel()).toBe(true);
      expect(saves.cancel()).toBe(false);
      await vi.runAllTimersAsync();
      expect(write).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a failed write rejects its callers only; the next save writes again', async () => {
    let fail = true;
    const write = vi.fn(async () => {
      if (fail) throw new Error('disk full');
    });
    const saves = coalescedSave(write);
    await expect(saves.save()).rejects.toThrow('disk full');
    fail = false;
    await expect(saves.save()).resolves.toBeUndefined();
    await saves.settled();
    expect(write).toHaveBeenCalledTimes(2);
  });
});
