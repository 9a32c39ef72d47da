// The part of @lhncbc/ucum-lhc (no types of its own) the lab trends use.
declare module '@lhncbc/ucum-lhc' {
  interface ConversionResult {
    status: 'succeeded' | 'failed' | 'error';
    toVal: number | null;
    msg: string[];
  }
  interface ValidationResult {
    status: 'valid' | 'invalid' | 'error';
    ucumCode: string | null;
    msg: string[];
  }
  interface UcumLhcUtilsInstance {
    convertUnitTo(fromUnit: string, value: number, toUnit: string): ConversionResult;
    validateUnitString(unit: string): ValidationResult;
  }
  export const UcumLhcUtils: { getInstance(): UcumLhcUtilsInstance };
}
