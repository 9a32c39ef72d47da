import { describe, expect, it } from 'vitest';
import type { RecordOf } from '@hale/client';
import { byDanger } from './allergy-order';

const allergy = (substance: string, more: Record<string, unknown> = {}): RecordOf<'Allergy'> =>
  ({ substance, active: true, ...more }) as unknown as RecordOf<'Allergy'>;

describe("the card's allergies", () => {
  it('lists a high risk first, then by severity, else as given', () => {
    const order = byDanger([
      allergy('Dust'),
      allergy('Latex', { severity: 'mild' }),
      allergy('Penicillin', { severity: 'moderate' }),
      allergy('Shellfish', { severity: 'severe' }),
      allergy('Pollen'),
      allergy('Peanuts', { severity: 'moderate', criticality: 'high' }),
    ]).map((a) => a.substance);
    expect(order).toEqual(['Peanuts', 'Shellfish', 'Penicillin', 'Latex', 'Dust', 'Pollen']);
  });
});
