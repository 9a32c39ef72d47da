/**
 * Lab values in one unit where UCUM (the @lhncbc/ucum-lhc library) can convert them: `mmol/L` to `umol/L`,
 * `g/L` to `mg/dL`, `10*9/L` to `10*3/uL`. What it cannot convert (mass to moles without a molecular
 * weight, units it does not know, no units) stays in its own unit, charted apart.
 */
import { UcumLhcUtils } from '@lhncbc/ucum-lhc';

const ucum = UcumLhcUtils.getInstance();

/** Common spellings of reports that are not UCUM codes. */
const SPELLINGS: Readonly<Record<string, string>> = {
  'µmol/L': 'umol/L',
  'μmol/L': 'umol/L',
  'mcg/dL': 'ug/dL',
  'mcg/L': 'ug/L',
  'x10^9/L': '10*9/L',
  '×10^9/L': '10*9/L',
  '10^9/L': '10*9/L',
  'x10^12/L': '10*12/L',
  '10^12/L': '10*12/L',
  'K/uL': '10*3/uL',
  'mEq/L': 'meq/L',
  'IU/L': '[IU]/L',
  'U/L': 'U/L',
};

export const ucumCode = (units: string): string => SPELLINGS[units.trim()] ?? units.trim();

/** `value` in `units` converted to `target`, or null when UCUM cannot (or either unit is empty). */
export const convert = (value: number, units: string, target: string): number | null => {
  const from = ucumCode(units);
  const to = ucumCode(target);
  if (from === '' || to === '') return from === to ? value : null;
  if (from === to) return value;
  try {
    const result = ucum.convertUnitTo(from, value, to);
    return result.status === 'succeeded' && typeof result.toVal === 'number' && Number.isFinite(result.toVal)
      ? result.toVal
      : null;
  } catch {
    return null;
  }
};
