// From JavaScript a required field may be present and undefined (a form field cleared): JSON drops it, so
// it is as missing as a field left out and is reported the same way.
import { describe, expect, it } from 'vitest';
import { exampleRecord } from './examples';
import { validateRecord } from './validate';

const issues = (kind: 'Allergy' | 'Immunization', value: object) => {
  const result = validateRecord(kind, value);
  return result.ok ? [] : result.error.issues;
};

describe('validateRecord: a required field present but undefined', () => {
  it('is required, as when it is left out, whatever its type', () => {
    const allergy = exampleRecord('Allergy');
    const { substance: _s, ...without } = allergy;
    expect(issues('Allergy', without)).toEqual([{ field: 'substance', reason: 'is required' }]);
    expect(issues('Allergy', { ...allergy, substance: undefined })).toEqual([
      { field: 'substance', reason: 'is required' },
    ]);
    expect(issues('Allergy', { ...allergy, active: undefined })).toEqual([
      { field: 'active', reason: 'is required' },
    ]);
    expect(issues('Immunization', { ...exampleRecord('Immunization'), administeredAt: undefined })).toEqual([
      { field: 'administeredAt', reason: 'is required' },
    ]);
  });

  it('an optional field undefined is left out, and the record itself undefined is no object', () => {
    expect(issues('Allergy', { ...exampleRecord('Allergy'), reaction: undefined })).toEqual([]);
    // An unknown field is not allowed, whatever it holds.
    expect(issues('Allergy', { ...exampleRecord('Allergy'), severe: undefined })).toEqual([
      { field: 'severe', reason: 'is not allowed' },
    ]);
    expect(issues('Allergy', undefined as unknown as object)).toEqual([
      { field: '(record)', reason: 'must be an object' },
    ]);
  });
});
