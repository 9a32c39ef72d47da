// A form shows each refused field where the person typed it: a VALIDATION_FAILED carries every issue of the
// model's check as `issues` and the first one's field as `field`, through the public HaleError type.
import { afterEach, describe, expect, it } from 'vitest';
import { isHaleError } from '../core/hale-error';
import { closeRecordDbs, recordInput, recordRefusal, setupRecords } from './records.test-util';

afterEach(closeRecordDbs);

describe('records: a validation refusal names its fields', () => {
  it('gives every issue with its field, and the first as field', async () => {
    const { records } = await setupRecords();
    const input = { ...recordInput('Immunization', { vaccineName: ' ' }), administeredAt: '2020-13-45' };
    const error = await recordRefusal(records.add('Immunization', input));
    expect(isHaleError(error, 'VALIDATION_FAILED')).toBe(true);
    const fields = (error.issues ?? []).map((issue) => issue.field).sort();
    expect(fields).toEqual(['administeredAt', 'vaccineName']);
    expect(fields).toContain(error.field);
    expect(error.issues?.every((issue) => issue.reason.length > 0)).toBe(true);
  });

  it('gives the write rule refusals the same way (a date in the future)', async () => {
    const { records } = await setupRecords();
    const input = recordInput('Allergy', { substance: 'Latex', onsetDate: '2999-01-01' });
    const error = await recordRefusal(records.add('Allergy', input));
    expect(error.field).toBe('onsetDate');
    expect(error.issues).toEqual([
      { field: 'onsetDate', reason: expect.stringContaining('future') as string, rule: 'DATE_IN_FUTURE' },
    ]);
  });
});
