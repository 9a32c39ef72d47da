// The date a record is about: each kind's description's fields, first set wins, else the time of writing.
import { describe, expect, it } from 'vitest';
import { RECORD_KIND_NAMES, clinicalDateFieldsOf, exampleRecord } from '@hale/model';
import { clinicalDateOf } from './clinical-date';

const WRITTEN = '2026-01-02T03:04:05.000Z';

describe('clinicalDateOf', () => {
  it('reads the first field set of those the kind describes', () => {
    expect(clinicalDateOf('Allergy', { onsetDate: '2009-06', recordedAt: '2020-01-01' }, WRITTEN)).toBe(
      '2009-06',
    );
    expect(clinicalDateOf('Allergy', { onsetDate: '', recordedAt: '2020-01-01' }, WRITTEN)).toBe(
      '2020-01-01',
    );
    expect(clinicalDateOf('Procedure', { performedAt: '2011-07-02' }, WRITTEN)).toBe('2011-07-02');
    expect(clinicalDateOf('Condition', { recordedAt: '2019-03-01T00:00:00Z' }, WRITTEN)).toBe(
      '2019-03-01T00:00:00Z',
    );
  });

  it('is the time of writing for a kind with no date, a record with none set, or an unknown kind', () => {
    expect(clinicalDateOf('FamilyHistory', { condition: 'Asthma', onsetAge: 4 }, WRITTEN)).toBe(WRITTEN);
    expect(clinicalDateOf('Procedure', { name: 'Spirometry' }, WRITTEN)).toBe(WRITTEN);
    expect(clinicalDateOf('NoSuchKind', { performedAt: '2011' }, WRITTEN)).toBe(WRITTEN);
    expect(clinicalDateOf('Procedure', null, WRITTEN)).toBe(WRITTEN);
  });

  it('every kind’s example is dated by its first described field', () => {
    for (const kind of RECORD_KIND_NAMES) {
      const record = exampleRecord(kind) as unknown as Record<string, unknown>;
      const field = clinicalDateFieldsOf(kind)[0];
      expect(clinicalDateOf(kind, record, WRITTEN), kind).toBe(field === undefined ? WRITTEN : record[field]);
    }
  });
});
