// The last dates #63 item 2 names that an import kept only in the source: a report's day (a document's
// `serviceDate`), when a family history was recorded (`recordedAt`), a related person's birth date and
// the time they are the patient's contact (`birthDate`, `period`). Each is read into Hale's own field,
// stays as partial as the source gave it (a year stays a year), and is exported from that field.
import { describe, expect, it } from 'vitest';
import { at, exportOne, importOne, only } from './fhir.test-util';
import type { RecordKind, RecordOf } from './registry';

const subject = { reference: 'Patient/p1' };
/** Where an imported record came from, without the source it keeps: export writes Hale's fields alone. */
const originOf = (resourceType: string) => ({
  source: 'file.json',
  resourceType,
  originalId: `${resourceType}/r1`,
  importedAt: '2026-11-27T10:00:00.000Z',
});
const exportedOwn = <K extends RecordKind>(kind: K, own: Record<string, unknown>) =>
  exportOne(kind, own as Partial<RecordOf<K>>).bundle;
/** A document of one file (no earlier versions, each its own resource). */
const oneFile = { version: 1, versions: [] };

describe('a report’s day (DiagnosticReport.effective, DocumentReference.context.period)', () => {
  const report = (effectiveDateTime: string) => ({
    resourceType: 'DiagnosticReport',
    status: 'final',
    code: { text: 'Biopsy of gingival mass' },
    subject,
    effectiveDateTime,
    issued: '2017-03-15T08:13:08Z',
    presentedForm: [{ contentType: 'text/plain', data: 'UmVwb3J0', title: 'report.txt' }],
  });

  it('import keeps the day the report is about, a day or a year as given', () => {
    expect(importOne(report('2017-03-02'))['serviceDate']).toBe('2017-03-02');
    expect(importOne(report('2017'))['serviceDate']).toBe('2017');
    expect(importOne(report('2017-03-02T10:00:00+01:00'))['serviceDate']).toBe('2017-03-02T10:00:00+01:00');
  });

  it('export writes it from Hale’s field as the report’s effectiveDateTime', () => {
    const own = importOne(report('2017-03'));
    const exported = only(
      exportedOwn('HealthDocument', { ...own, ...oneFile, origin: originOf('DiagnosticReport') }),
      'DiagnosticReport',
    );
    expect(at(exported, 'effectiveDateTime')).toBe('2017-03');
    const changed = only(
      exportedOwn('HealthDocument', {
        ...own,
        ...oneFile,
        serviceDate: '2016',
        origin: originOf('DiagnosticReport'),
      }),
      'DiagnosticReport',
    );
    expect(at(changed, 'effectiveDateTime')).toBe('2016');
  });

  it('a document keeps it as its context period’s start, both ways', () => {
    const own = importOne({
      resourceType: 'DocumentReference',
      status: 'current',
      subject,
      description: 'Discharge letter',
      context: { period: { start: '2016-05' } },
      content: [{ attachment: { contentType: 'text/plain', data: 'TGV0dGVy', title: 'letter.txt' } }],
    });
    expect(own['serviceDate']).toBe('2016-05');
    const exported = only(
      exportedOwn('HealthDocument', { ...own, ...oneFile, origin: originOf('DocumentReference') }),
      'DocumentReference',
    );
    expect(at(exported, 'context.period')).toEqual({ start: '2016-05' });
  });
});

describe('when a family history was recorded (FamilyMemberHistory.date)', () => {
  const history = (date: string) => ({
    resourceType: 'FamilyMemberHistory',
    status: 'completed',
    patient: subject,
    date,
    relationship: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'FTH' }] },
    condition: [{ code: { text: 'Heart attack' } }],
  });

  it('import keeps it, a day or a year as given', () => {
    expect(importOne(history('2011-03-18'))['recordedAt']).toBe('2011-03-18');
    expect(importOne(history('2011'))['recordedAt']).toBe('2011');
  });

  it('export writes it from Hale’s field', () => {
    const own = importOne(history('2011-03'));
    expect(at(only(exportedOwn('FamilyHistory', own), 'FamilyMemberHistory'), 'date')).toBe('2011-03');
  });
});

describe('a related person’s birth date and period (RelatedPerson.birthDate, .period)', () => {
  const person = (more: Record<string, unknown>) => ({
    resourceType: 'RelatedPerson',
    patient: subject,
    relationship: [{ text: 'Partner' }],
    name: [{ text: 'Ariadne Bor-Jansma' }],
    telecom: [{ system: 'phone', value: '+31201234567' }],
    ...more,
  });

  it('import keeps a year, a month or a day as given', () => {
    const own = importOne(person({ birthDate: '1963', period: { start: '1975' } }));
    expect(own).toMatchObject({ birthDate: '1963', period: { start: '1975' } });
    const day = importOne(
      person({ birthDate: '1973-05-31', period: { start: '2012-03-11', end: '2020-01' } }),
    );
    expect(day).toMatchObject({ birthDate: '1973-05-31', period: { start: '2012-03-11', end: '2020-01' } });
    // A birth date is a date: a time (no FHIR date) is not read.
    expect(importOne(person({ birthDate: '1973-05-31T10:00:00Z' }))['birthDate']).toBeUndefined();
  });

  it('export writes them from Hale’s fields', () => {
    const own = importOne(person({ birthDate: '1963', period: { start: '1975' } }));
    const exported = only(exportedOwn('EmergencyContact', own), 'RelatedPerson');
    expect(at(exported, 'birthDate')).toBe('1963');
    expect(at(exported, 'period')).toEqual({ start: '1975' });
  });
});
