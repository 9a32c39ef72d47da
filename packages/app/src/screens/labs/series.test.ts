import { describe, expect, it } from 'vitest';
import { buildTrends, type LabInput } from './series';

const lab = (over: Partial<LabInput> & { effectiveAt: string }): LabInput => ({
  id: over.effectiveAt,
  testName: 'Glucose',
  status: 'final',
  ...over,
});

describe('lab trends', () => {
  it('converts to the latest unit, keeps inconvertible results apart, flags out-of-range values', () => {
    const [trend] = buildTrends([
      lab({ effectiveAt: '2024-01-01', value: 5.2, units: 'mmol/L', referenceRange: '3.9-5.5 mmol/L' }),
      lab({ effectiveAt: '2024-02-01', value: 130, units: 'mg/dL', referenceRange: '70-99 mg/dL' }),
      lab({ effectiveAt: '2024-03-01', value: 6100, units: 'umol/L', referenceRange: '3.9-5.5 mmol/L' }),
      lab({ effectiveAt: '2024-04-01', value: 7.0, units: 'mmol/L', referenceRange: '3.9-5.5' }),
      lab({ effectiveAt: '2024-05-01', value: 'see note', units: 'mmol/L' }),
      lab({ effectiveAt: '2024-06-01', value: 99, units: 'mmol/L', status: 'entered-in-error' }),
    ]);
    expect(trend?.series.map((s) => s.units)).toEqual(['mmol/L', 'mg/dL']);
    const main = trend?.series[0];
    expect(main?.points.map((p) => p.value)).toEqual([5.2, expect.closeTo(6.1) as number, 7]);
    expect(main?.points.map((p) => p.flag)).toEqual(['normal', 'high', 'high']);
    expect(main?.range).toEqual({ low: 3.9, high: 5.5, units: 'mmol/L' });
    expect(trend?.series[1]?.points[0]?.flag).toBe('high');
    expect(trend?.textResults.map((l) => l.value)).toEqual(['see note']);
  });

  it('groups by code before name, names folded', () => {
    const trends = buildTrends([
      lab({ effectiveAt: '2024-01-01', testName: 'HbA1c', testCode: '4548-4', value: 6 }),
      lab({ effectiveAt: '2024-02-01', testName: 'Hemoglobin A1c', testCode: '4548-4', value: 6.2 }),
      lab({ effectiveAt: '2024-03-01', testName: 'ldl  cholesterol', value: 3 }),
      lab({ effectiveAt: '2024-04-01', testName: 'LDL Cholesterol', value: 2.8 }),
    ]);
    expect(trends.map((t) => [t.name, t.series[0]?.points.length])).toEqual([
      ['Hemoglobin A1c', 2],
      ['LDL Cholesterol', 2],
    ]);
  });
});
