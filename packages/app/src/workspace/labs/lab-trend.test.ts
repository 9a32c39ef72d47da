import { describe, expect, it } from 'vitest';
import { trendsOf } from './lab-trend';

const lab = (id: string, testName: string, value: unknown, units = 'mg/dL', status = 'final') =>
  ({ id, testName, value, units, status }) as Parameters<typeof trendsOf>[0][number];

describe('lab trends in a list', () => {
  it('each result against the one before it of the same test: up, down, same', () => {
    const trends = trendsOf([
      lab('g3', 'Glucose', 110),
      lab('a2', 'HbA1c', 7.4, '%'),
      lab('g2', 'Glucose', 95),
      lab('a1', 'HbA1c', 7.4, '%'),
      lab('g1', 'Glucose', 120),
    ]);
    expect(trends.get('g3')).toEqual({ direction: 'up', from: 95 });
    expect(trends.get('g2')).toEqual({ direction: 'down', from: 120 });
    expect(trends.get('a2')).toEqual({ direction: 'same', from: 7.4 });
    expect(trends.has('g1')).toBe(false);
    expect(trends.has('a1')).toBe(false);
  });

  it('converts the earlier unit; a text value, a withdrawn result or units that do not convert give none', () => {
    const trends = trendsOf([
      lab('g2', 'Glucose', 1, 'g/L'),
      lab('w', 'Glucose', 300, 'mg/dL', 'entered-in-error'),
      lab('g1', 'Glucose', 90, 'mg/dL'),
      lab('t2', 'Culture', 'no growth'),
      lab('t1', 'Culture', 'growth'),
      lab('x2', 'Weight', 70, 'kg'),
      lab('x1', 'Weight', 150, 'cm'),
    ]);
    expect(trends.get('g2')?.direction).toBe('up');
    expect(trends.get('g2')?.from).toBeCloseTo(0.9, 6);
    expect(trends.has('t2')).toBe(false);
    expect(trends.has('x2')).toBe(false);
  });
});
