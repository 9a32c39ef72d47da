/**
 * A series' rows for the trend chart: one row per result (date, value), and `flagged` holding the value
 * only where the result is out of range (null elsewhere: no dot drawn there); the value axis' extent.
 */
import { formatDate } from '../../records/format';
import type { UnitSeries } from './series';

export const round = (n: number): number => Math.round(n * 1000) / 1000;

export interface ChartRow {
  readonly date: string;
  readonly value: number;
  readonly flagged: number | null;
}

export interface ChartData {
  readonly data: ChartRow[];
  /** Lowest and highest of the values and the range's bounds. */
  readonly lo: number;
  readonly hi: number;
  /** Room left above and below (15% of the extent; something when the extent is 0). */
  readonly pad: number;
}

export function chartData(series: UnitSeries): ChartData {
  let lo = series.range?.low ?? Infinity;
  let hi = series.range?.high ?? -Infinity;
  const data = series.points.map((p): ChartRow => {
    if (p.value < lo) lo = p.value;
    if (p.value > hi) hi = p.value;
    const value = round(p.value);
    return { date: formatDate(p.at), value, flagged: p.flag === 'low' || p.flag === 'high' ? value : null };
  });
  const pad = (hi - lo) * 0.15 || Math.abs(hi) * 0.1 || 1;
  return { data, lo, hi, pad };
}
