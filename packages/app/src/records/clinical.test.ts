import { describe, expect, it } from 'vitest';
import { isActiveCondition, labValueText } from './clinical';

describe('shared readings of records', () => {
  it('the active problem list: active, recurrent or relapsed, and not refuted or in error', () => {
    expect(isActiveCondition({ clinicalStatus: 'active' })).toBe(true);
    expect(isActiveCondition({ clinicalStatus: 'relapse', verificationStatus: 'confirmed' })).toBe(true);
    expect(isActiveCondition({ clinicalStatus: 'resolved' })).toBe(false);
    expect(isActiveCondition({ clinicalStatus: 'remission' })).toBe(false);
    expect(isActiveCondition({ clinicalStatus: 'active', verificationStatus: 'refuted' })).toBe(false);
    expect(isActiveCondition({ clinicalStatus: 'active', verificationStatus: 'entered-in-error' })).toBe(
      false,
    );
  });

  it('a value with its unit, or its parts', () => {
    expect(labValueText({ value: 5.4, units: 'mmol/L' })).toBe('5.4 mmol/L');
    expect(labValueText({ value: 'positive' })).toBe('positive');
    expect(
      labValueText({
        components: [
          { testName: 'Systolic', value: 120, units: 'mm[Hg]' },
          { testName: 'Diastolic', value: 80, units: 'mm[Hg]' },
        ],
      }),
    ).toBe('120 / 80 mm[Hg]');
    expect(
      labValueText({
        components: [
          { testName: 'A', value: 1, units: 'g' },
          { testName: 'B', value: 2, units: 'mg' },
        ],
      }),
    ).toBe('1 g / 2 mg');
    expect(labValueText({})).toBe('—');
  });
});
