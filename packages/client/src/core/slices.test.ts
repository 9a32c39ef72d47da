// slices: a loop yields a macrotask only once its slice is used up.
import { describe, expect, it } from 'vitest';
import { slices } from './slices';

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
});
