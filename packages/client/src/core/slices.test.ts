// slices: a loop yields a macrotask only once its slice is used up.
import { describe, expect, it } from 'vitest';
import { sliceQueue, slices } from './slices';

describe('slices', () => {
  it('resolves at once inside a slice and after a macrotask once it is used up, then starts anew', async () => {
    let t = 0;
    const between = slices(30, () => t);
    const order: string[] = [];
    setTimeout(() => order.push('task'), 0);
    t = 29;
    await between();
    order.push('inside');
    t = 30;
    await between();
    order.push('after');
    t = 59;
    await between();
    order.push('new slice');
    expect(order).toEqual(['inside', 'task', 'after', 'new slice']);
  });

  it('runs queued work in order, in slices: a macrotask between slices, errors to their own caller', async () => {
    let t = 0;
    const inTurn = sliceQueue(30, () => t);
    const order: string[] = [];
    setTimeout(() => order.push('task'), 0);
    const step = (name: string) => () => {
      order.push(name);
      t += 20;
      if (name === 'c') throw new Error('c failed');
      return name;
    };
    const all = ['a', 'b', 'c', 'd'].map((n) => inTurn(step(n)).catch((e: Error) => e.message));
    expect(await Promise.all(all)).toEqual(['a', 'b', 'c failed', 'd']);
    // a and b share a slice (0 → 40 ms); c starts a new one after the macrotask, d another.
    expect(order).toEqual(['a', 'b', 'task', 'c', 'd']);
  });
});
