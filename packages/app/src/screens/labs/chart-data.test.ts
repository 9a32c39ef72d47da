import { describe, expect, it } from 'vitest';
import { chartData, round } from './chart-data';
import type { Point, UnitSeries } from './series';

const point = (at: string, value: number, flag: Point['flag'] = 'normal'): Point => ({
  id: at,
  at,
  value,
  original: value,
  originalUnits: 'mmol/L',
  flag,
});

describe('trend chart rows', () => {
  it('one row per result, the out-of-range value repeated as flagged and null elsewhere', () => {
    const series: UnitSeries = {
      units: 'mmol/L',
      range: { low: 3.9, high: 5.5, units: 'mmol/L' },
      points: [
        point('2024-01-01', 5.2),
        point('2024-02-01', 6.1234567, 'high'),
        point('2024-03-01', 3.1, 'low'),
      ],
    };
    const { data, lo, hi, pad } = chartData(series);
    expect(data.map((r) => [r.value, r.flagged])).toEqual([
      [5.2, null],
      [6.123, 6.123],
      [3.1, 3.1],
    ]);
    expect(data.map((r) => r.date)).toEqual(['Jan 1, 2024', 'Feb 1, 2024', 'Mar 1, 2024']);
    expect([lo, hi]).toEqual([3.1, 6.1234567]);
    expect(pad).toBeCloseTo((6.1234567 - 3.1) * 0.15);
  });

  it('the axis takes in the range beyond the values, and a flat line without a range still gets room', () => {
    const ranged = chartData({
      units: '',
      range: { low: 1, high: 9, units: '' },
      points: [point('2024-01-01', 5)],
    });
    expect([ranged.lo, ranged.hi]).toEqual([1, 9]);
    const flat = chartData({
      units: '',
      range: null,
      points: [point('2024-01-01', 5), point('2024-01-02', 5)],
    });
    expect([flat.lo, flat.hi, flat.pad]).toEqual([5, 5, 0.5]);
    expect(chartData({ units: '', range: null, points: [point('2024-01-01', 0)] }).pad).toBe(1);
  });

  it('rounds to three decimals', () => {
    expect(round(1.23456)).toBe(1.235);
    expect(round(-0.0004)).toBe(-0);
  });
});
