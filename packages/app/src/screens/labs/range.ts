/**
 * A lab's reference range read from its text, as reports write it: `70-99 mg/dL`, `3.5 – 5.0`, `-2 to 2`,
 * `<5.7 %`, `>= 40`, `≤ 200`. What is not one of these (`negative`, `1:40`) has no range here.
 * `flag` says whether a numeric value lies outside it.
 */
export interface Range {
  readonly low: number | null;
  readonly high: number | null;
  /** The units written after the numbers, if any. */
  readonly units: string;
}

const NUM = '(-?\\d+(?:[.,]\\d+)?)';
const BETWEEN = new RegExp(`^\\s*${NUM}\\s*(?:-|\\u2013|\\u2014|to|~|\\u301c)\\s*${NUM}\\s*(.*)$`, 'u');
const BELOW = new RegExp(`^\\s*(?:<=?|\\u2264|\\uff1c)\\s*${NUM}\\s*(.*)$`, 'u');
const ABOVE = new RegExp(`^\\s*(?:>=?|\\u2265|\\uff1e)\\s*${NUM}\\s*(.*)$`, 'u');

const num = (s: string | undefined): number => Number((s ?? '').replace(',', '.'));

export const parseRange = (text: string | undefined): Range | null => {
  if (text === undefined) return null;
  let m = BETWEEN.exec(text);
  if (m !== null) {
    const [low, high] = [num(m[1]), num(m[2])];
    return low <= high ? { low, high, units: (m[3] ?? '').trim() } : null;
  }
  m = BELOW.exec(text);
  if (m !== null) return { low: null, high: num(m[1]), units: (m[2] ?? '').trim() };
  m = ABOVE.exec(text);
  if (m !== null) return { low: num(m[1]), high: null, units: (m[2] ?? '').trim() };
  return null;
};

export type Flag = 'low' | 'high' | 'normal' | null;

/**
 * Whether `value` (in `units`) lies outside `range`. A range written in other units is converted with
 * `convert` when given (UCUM), else not judged: 6100 umol/L is not high against 3.9-5.5 mmol/L.
 */
export const flagIn = (
  value: unknown,
  units: string | undefined,
  range: Range | null,
  convert?: (value: number, from: string, to: string) => number | null,
): Flag => {
  if (range === null || range.units === '' || units === undefined || range.units === units.trim()) {
    return flag(value, range);
  }
  if (convert === undefined) return null;
  const low = range.low === null ? null : convert(range.low, range.units, units);
  const high = range.high === null ? null : convert(range.high, range.units, units);
  if ((range.low !== null && low === null) || (range.high !== null && high === null)) return null;
  return flag(value, { low, high, units });
};

export const flag = (value: unknown, range: Range | null): Flag => {
  if (typeof value !== 'number' || range === null) return null;
  if (range.low !== null && value < range.low) return 'low';
  if (range.high !== null && value > range.high) return 'high';
  return 'normal';
};
