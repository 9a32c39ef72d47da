/**
 * Lab results grouped per test (by code, else by name as written, case and spaces folded), each test's
 * numeric results in time order, converted to the unit of its latest result where UCUM can; the results
 * that cannot be converted are kept apart, one group per unit. Text results (`positive`) are listed, not
 * charted. Out-of-range flags use each result's own range, in its own unit.
 */
import { labTestKey } from '@hale/client';
import { flagIn, parseRange, type Flag, type Range } from './range';
import { convert } from './units';

export interface LabInput {
  readonly id: string;
  readonly testName: string;
  readonly testCode?: string;
  readonly value?: number | string;
  readonly units?: string;
  readonly referenceRange?: string;
  readonly effectiveAt: string;
  readonly status: string;
}

export interface Point {
  readonly id: string;
  readonly at: string;
  /** In the series' unit. */
  readonly value: number;
  readonly original: number;
  readonly originalUnits: string;
  readonly flag: Flag;
}

export interface UnitSeries {
  readonly units: string;
  readonly points: readonly Point[];
  /** The latest result's range, converted to the series' unit where possible. */
  readonly range: Range | null;
}

export interface TestTrend {
  readonly key: string;
  readonly name: string;
  /** Converted to the latest unit; then the groups that could not be. */
  readonly series: readonly UnitSeries[];
  readonly textResults: readonly LabInput[];
  readonly latest: LabInput;
}

/** A result's test (the client's `labTestKey`: the series `records.newest` answers by). */
export const testKey = (lab: Pick<LabInput, 'testCode' | 'testName'>): string => labTestKey(lab);

/** Results that are not withdrawn, for charts and flags. */
const counts = (lab: LabInput): boolean => lab.status !== 'entered-in-error' && lab.status !== 'cancelled';

const convertRange = (range: Range | null, from: string, to: string): Range | null => {
  if (range === null) return null;
  const unit = range.units === '' ? from : range.units;
  const low = range.low === null ? null : convert(range.low, unit, to);
  const high = range.high === null ? null : convert(range.high, unit, to);
  if ((range.low !== null && low === null) || (range.high !== null && high === null)) return null;
  return { low, high, units: to };
};

export const buildTrends = (labs: readonly LabInput[]): TestTrend[] => {
  const byTest = new Map<string, LabInput[]>();
  for (const lab of labs) {
    if (!counts(lab)) continue;
    const key = testKey(lab);
    const list = byTest.get(key);
    if (list === undefined) byTest.set(key, [lab]);
    else list.push(lab);
  }
  const trends: TestTrend[] = [];
  for (const [key, all] of byTest) {
    const sorted = [...all].sort((a, b) =>
      a.effectiveAt < b.effectiveAt ? -1 : a.effectiveAt > b.effectiveAt ? 1 : 0,
    );
    const latest = sorted[sorted.length - 1];
    if (latest === undefined) continue;
    const numeric = sorted.filter((l): l is LabInput & { value: number } => typeof l.value === 'number');
    const latestNumeric = numeric[numeric.length - 1];
    const target = latestNumeric?.units?.trim() ?? '';
    const groups = new Map<string, Point[]>();
    const rangeOf = new Map<string, Range | null>();
    for (const lab of numeric) {
      const units = lab.units?.trim() ?? '';
      const converted = convert(lab.value, units, target);
      const unit = converted === null ? units : target;
      const value = converted ?? lab.value;
      const own = parseRange(lab.referenceRange);
      const point: Point = {
        id: lab.id,
        at: lab.effectiveAt,
        value,
        original: lab.value,
        originalUnits: units,
        flag: flagIn(lab.value, units, own, convert),
      };
      const points = groups.get(unit);
      if (points === undefined) groups.set(unit, [point]);
      else points.push(point);
      // The latest range of the group, in the group's unit.
      rangeOf.set(unit, convertRange(own, units, unit));
    }
    const series = [...groups.entries()]
      .sort(([a], [b]) => (a === target ? -1 : b === target ? 1 : a.localeCompare(b)))
      .map(([units, points]) => ({ units, points, range: rangeOf.get(units) ?? null }));
    trends.push({
      key,
      name: latest.testName,
      series,
      textResults: sorted.filter((l) => typeof l.value === 'string'),
      latest,
    });
  }
  return trends.sort((a, b) => a.name.localeCompare(b.name));
};
