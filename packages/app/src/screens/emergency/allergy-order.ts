/**
 * The card's allergies, most dangerous first: a high risk (criticality), then by severity (severe, moderate,
 * mild, none said); otherwise in the order given. Pure.
 */
import type { RecordOf } from '@hale/client';

const SEVERITY = ['severe', 'moderate', 'mild'] as const;
const weight = (a: RecordOf<'Allergy'>): number =>
  (a.criticality === 'high' ? 0 : 10) +
  (a.severity === undefined ? SEVERITY.length : SEVERITY.indexOf(a.severity));

export const byDanger = (allergies: readonly RecordOf<'Allergy'>[]): RecordOf<'Allergy'>[] =>
  allergies
    .map((a, i) => ({ a, i }))
    .sort((x, y) => weight(x.a) - weight(y.a) || x.i - y.i)
    .map((x) => x.a);
