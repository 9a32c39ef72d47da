import { describe, expect, it } from 'vitest';
import { convert } from './units';

describe('lab unit conversion (UCUM)', () => {
  it('converts between units of one dimension', () => {
    expect(convert(1, 'mmol/L', 'umol/L')).toBeCloseTo(1000);
    expect(convert(1, 'g/L', 'mg/dL')).toBeCloseTo(100);
    expect(convert(5, 'x10^9/L', '10*3/uL')).toBeCloseTo(5);
    expect(convert(7, '%', '%')).toBe(7);
  });

  it('does not convert across dimensions, unknown units or missing units', () => {
    expect(convert(100, 'mg/dL', 'mmol/L')).toBeNull();
    expect(convert(1, 'furlongs', 'mg/dL')).toBeNull();
    expect(convert(1, '', 'mg/dL')).toBeNull();
    expect(convert(1, '', '')).toBe(1);
  });
});
