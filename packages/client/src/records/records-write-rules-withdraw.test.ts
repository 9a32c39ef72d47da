// A lab result another device stored with a date in the future (a typo'd year) can be withdrawn as
// entered-in-error as it stands: the write rules must not ask for a plausible date to be written first.
import { afterEach, describe, expect, it } from 'vitest';
import { exampleRecord } from '@hale/model';
import { closeRecordDbs, pulledSide, setupRecords, storeMerged } from './records.test-util';

afterEach(closeRecordDbs);

const NOW = Date.parse('2024-06-01T12:00:00Z');

describe('records: withdrawing a stored lab result whose date is in the future', () => {
  it('takes status entered-in-error, the date kept as received', async () => {
    const { db, records } = await setupRecords({ now: () => NOW });
    const { publishedAt: _p, ...data } = exampleRecord('LabResult', {
      status: 'final',
      effectiveAt: '2042-05-01T08:10:00Z',
    });
    await storeMerged(db, pulledSide('LabResult', data));
    const withdrawn = await records.update('LabResult', data.id, { status: 'entered-in-error' });
    expect([withdrawn.status, withdrawn.effectiveAt]).toEqual(['entered-in-error', '2042-05-01T08:10:00Z']);
  });
});
