import { describe, expect, it } from 'vitest';
import { namesThatFit } from './names-that-fit';

describe('namesThatFit', () => {
  it('names all that fit, counts the rest, and stays within its bound', () => {
    const names = Array.from(
      { length: 40 },
      (_, i) => `LabResult 01J2000000000000000000${String(i).padStart(4, '0')}`,
    );
    for (const max of [0, 10, 60, 100, 500, 5_000]) {
      const text = namesThatFit(names, max, ', ');
      const named = names.filter((n) => text.includes(n)).length;
      const more = /(?:^|, )and (\d+) more$/.exec(text);
      expect(named + Number(more?.[1] ?? 0)).toBe(names.length);
      if (named > 0) expect(text.length).toBeLessThanOrEqual(max);
    }
    expect(namesThatFit(['a', 'b'], 100, '; ')).toBe('a; b');
    expect(namesThatFit([], 100, '; ')).toBe('');
  });
});
