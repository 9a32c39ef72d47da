/**
 * Which of a result's values lie outside their reference range, as the chart's lab list marks them: the
 * value against its own range, or each part (a blood pressure's systolic and diastolic) against its own,
 * converted through UCUM where the range is written in another unit (screens/labs/range.ts). A range that
 * cannot be read or converted, a text value, or a withdrawn result flags nothing.
 */
import type { RecordOf } from '@hale/model';
import { flagIn, parseRange } from '../../screens/labs/range';
import { convert } from '../../screens/labs/units';

export interface OutOfRange {
  /** The part's name, for a result measured in parts. */
  readonly part?: string;
  readonly flag: 'high' | 'low';
}

type Lab = Pick<RecordOf<'LabResult'>, 'value' | 'units' | 'referenceRange' | 'components' | 'status'>;

const WITHDRAWN = new Set(['entered-in-error', 'cancelled']);

const outOf = (value: unknown, units: string | undefined, range: string | undefined) => {
  const f = flagIn(value, units, parseRange(range), convert);
  return f === 'high' || f === 'low' ? f : null;
};

export function outOfRange(lab: Lab): readonly OutOfRange[] {
  if (WITHDRAWN.has(lab.status)) return [];
  if (lab.value !== undefined) {
    const flag = outOf(lab.value, lab.units, lab.referenceRange);
    return flag === null ? [] : [{ flag }];
  }
  return (lab.components ?? []).flatMap((c) => {
    const flag = outOf(c.value, c.units, c.referenceRange);
    return flag === null ? [] : [{ part: c.testName, flag }];
  });
}
