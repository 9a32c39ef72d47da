// Readings of records that several screens share: which conditions are the active problem list, and how a
// result's value reads when it has parts (a blood pressure's systolic and diastolic values).
import type { RecordOf } from '@hale/model';

const ACTIVE_CLINICAL = new Set(['active', 'recurrence', 'relapse']);
const NOT_TRUE = new Set(['refuted', 'entered-in-error']);

/** On the active problem list: active (or back), and not refuted or entered in error. */
export const isActiveCondition = (c: Pick<RecordOf<'Condition'>, 'clinicalStatus' | 'verificationStatus'>) =>
  ACTIVE_CLINICAL.has(c.clinicalStatus) &&
  (c.verificationStatus === undefined || !NOT_TRUE.has(c.verificationStatus));

/** A result's value with its unit; for one measured in parts, the parts (`120 / 80 mmHg`). */
export const labValueText = (r: Pick<RecordOf<'LabResult'>, 'value' | 'units' | 'components'>): string => {
  if (r.value !== undefined) return `${String(r.value)}${r.units === undefined ? '' : ` ${r.units}`}`;
  const parts = (r.components ?? []).filter((c) => c.value !== undefined);
  if (parts.length === 0) return '—';
  const units = new Set(parts.map((c) => c.units ?? ''));
  if (units.size === 1) {
    const unit = [...units][0] ?? '';
    return `${parts.map((c) => String(c.value)).join(' / ')}${unit === '' ? '' : ` ${unit}`}`;
  }
  return parts.map((c) => `${String(c.value)}${c.units === undefined ? '' : ` ${c.units}`}`).join(' / ');
};
