import { describe, expect, it } from 'vitest';
import { flag, flagIn, parseRange } from './range';

describe('reference ranges', () => {
  it('reads the forms reports write', () => {
    expect(parseRange('70-99 mg/dL')).toEqual({ low: 70, high: 99, units: 'mg/dL' });
    expect(parseRange('3.5 – 5.0')).toEqual({ low: 3.5, high: 5, units: '' });
    expect(parseRange('-2 to 2')).toEqual({ low: -2, high: 2, units: '' });
    expect(parseRange('<5.7 %')).toEqual({ low: null, high: 5.7, units: '%' });
    expect(parseRange('>= 40 mg/dL')).toEqual({ low: 40, high: null, units: 'mg/dL' });
    expect(parseRange('≤ 200')).toEqual({ low: null, high: 200, units: '' });
  });

  it('has no range for text it cannot read, or one written upside down', () => {
    expect(parseRange('negative')).toBeNull();
    expect(parseRange('1:40')).toBeNull();
    expect(parseRange('99-70')).toBeNull();
    expect(parseRange(undefined)).toBeNull();
  });

  it('flags numbers outside the range, and only numbers', () => {
    const r = parseRange('70-99');
    expect(flag(65, r)).toBe('low');
    expect(flag(120, r)).toBe('high');
    expect(flag(70, r)).toBe('normal');
    expect(flag('positive', r)).toBeNull();
    expect(flag(5, null)).toBeNull();
    expect(flag(6.1, parseRange('<5.7'))).toBe('high');
  });
});

describe('ranges in other units', () => {
  it('are converted when a converter is given, else not judged', () => {
    const mmol = parseRange('3.9-5.5 mmol/L');
    const toMicro = (v: number, from: string, to: string): number | null =>
      from === 'mmol/L' && to === 'umol/L' ? v * 1000 : null;
    expect(flagIn(6100, 'umol/L', mmol)).toBeNull();
    expect(flagIn(6100, 'umol/L', mmol, toMicro)).toBe('high');
    expect(flagIn(5000, 'umol/L', mmol, toMicro)).toBe('normal');
    expect(flagIn(130, 'mg/dL', mmol, toMicro)).toBeNull();
    expect(flagIn(6.1, 'mmol/L', mmol)).toBe('high');
    expect(flagIn(6.1, undefined, parseRange('3.9-5.5'))).toBe('high');
  });
});
