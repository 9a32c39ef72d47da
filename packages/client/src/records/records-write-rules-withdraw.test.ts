// A lab result another device stored with a date in the future (a typo'd year) can be withdrawn as
// entered-in-error as it stands: the write rules must not ask for a plausible date to be written first.
import { afterEach, describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from '@hale/model';
import { closeRecordDbs, pulledSide, setupRecords, storeMerged } from './records.test-util';

afterEach(closeRecordDbs);

const NOW = Date.parse('2024-06-01T12:00:00Z');

describe('records: withdrawing a stored lab result whose date is in the future', () => {
  it('takes status entered-in-error, the date kept as received', async () => {
    const { db, records } = await setupRecords({ now: () => NOW });
    // One the patient entered: theirs to withdraw (a clinician's is the clinician's, authorship.ts).
    const { publishedAt: _p, ...lab } = exampleRecord('LabResult', {
      status: 'final',
      effectiveAt: '2042-05-01T08:10:00Z',
    });
    const mine = (p: typeof lab.provenance) => ({ ...p, by: EXAMPLE_PATIENT_ID });
    const data = {
      ...lab,
      provenance: mine(lab.provenance),
      versions: lab.versions.map((v) => ({ ...v, provenance: mine(v.provenance) })),
    };
    await storeMerged(db, pulledSide('LabResult', data));
    const withdrawn = await records.update('LabResult', data.id, { status: 'entered-in-error' });
    expect([withdrawn.status, withdrawn.effectiveAt]).toEqual(['entered-in-error', '2042-05-01T08:10:00Z']);
  });
});
