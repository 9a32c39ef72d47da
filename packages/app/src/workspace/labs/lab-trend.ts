/**
 * Which way each result moved from the one before it of the same test, in a list newest first: up, down or
 * the same, and the value it moved from (converted to this result's unit through UCUM when the earlier one
 * was written in another). Pure.
 *
 * - Compared only within what the list holds; a withdrawn result neither has nor gives a direction.
 * - Text values, and a unit that cannot be converted, give no direction.
 */
import type { RecordOf } from '@hale/model';
import { testKey } from '../../screens/labs/series';
import { convert } from '../../screens/labs/units';

type Lab = Pick<RecordOf<'LabResult'>, 'id' | 'testName' | 'testCode' | 'value' | 'units' | 'status'>;
export interface Trend {
  readonly direction: 'up' | 'down' | 'same';
  /** The earlier value, in this result's unit. */
  readonly from: number;
}

const WITHDRAWN = new Set(['entered-in-error', 'cancelled']);
const numberOf = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

export function trendsOf(newestFirst: readonly Lab[]): ReadonlyMap<string, Trend> {
  const out = new Map<string, Trend>();
  const live = newestFirst.filter((l) => !WITHDRAWN.has(l.status));
  live.forEach((lab, i) => {
    const now = numberOf(lab.value);
    if (now === null) return;
    const key = testKey(lab);
    const before = live.slice(i + 1).find((l) => testKey(l) === key && numberOf(l.value) !== null);
    if (before === undefined) return;
    const raw = numberOf(before.value) ?? 0;
    const from =
      (before.units ?? '') === (lab.units ?? '') ? raw : convert(raw, before.units ?? '', lab.units ?? '');
    if (from === null) return;
    const direction = Math.abs(now - from) < 1e-9 ? 'same' : now > from ? 'up' : 'down';
    out.set(lab.id, { direction, from });
  });
  return out;
}
