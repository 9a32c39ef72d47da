import { describe, expect, it } from 'vitest';
import { outOfRange } from './lab-flags';

describe("the chart's out-of-range marks", () => {
  it('a value above or below its range, in its own unit or converted', () => {
    expect(outOfRange({ status: 'final', value: 8.1, units: '%', referenceRange: '4.0-5.6 %' })).toEqual([
      { flag: 'high' },
    ]);
    expect(outOfRange({ status: 'final', value: 3.1, units: 'mmol/L', referenceRange: '3.5-5.0' })).toEqual([
      { flag: 'low' },
    ]);
    expect(
      outOfRange({ status: 'final', value: 5.0, units: 'mmol/L', referenceRange: '70-99 mg/dL' }),
    ).toEqual([]);
    expect(outOfRange({ status: 'final', value: 4.2, units: 'mmol/L', referenceRange: '3.5-5.0' })).toEqual(
      [],
    );
  });

  it('nothing without a readable range, for text, or for a withdrawn result', () => {
    expect(outOfRange({ status: 'final', value: 9, units: 'g/L' })).toEqual([]);
    expect(outOfRange({ status: 'final', value: 'positive', referenceRange: 'negative' })).toEqual([]);
    expect(
      outOfRange({ status: 'entered-in-error', value: 12, units: '%', referenceRange: '4.0-5.6 %' }),
    ).toEqual([]);
  });

  it('each part of a result measured in parts, against its own range', () => {
    expect(
      outOfRange({
        status: 'final',
        components: [
          { testName: 'Systolic', value: 152, units: 'mm[Hg]', referenceRange: '90-139' },
          { testName: 'Diastolic', value: 85, units: 'mm[Hg]', referenceRange: '60-89' },
        ],
      }),
    ).toEqual([{ part: 'Systolic', flag: 'high' }]);
  });
});
