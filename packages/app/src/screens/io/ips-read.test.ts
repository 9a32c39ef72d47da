import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord, toIpsBundle, type FhirExportItem } from '@hale/model';
import { readSummary } from './ips-read';

const names = new Map<string, string>();
const uuidOf = (name: string): string => {
  const held =
    names.get(name) ?? `urn:uuid:00000000-0000-4000-8000-${names.size.toString(16).padStart(12, '0')}`;
  names.set(name, held);
  return held;
};

const item = <K extends FhirExportItem['kind']>(kind: K, record: object): FhirExportItem =>
  ({ kind, record: { ...exampleRecord(kind), ...record } }) as FhirExportItem;

describe('the summary screen reads an IPS', () => {
  it('names the patient and each section’s entries, with values and dates', () => {
    const ips = toIpsBundle({
      patientId: EXAMPLE_PATIENT_ID,
      generatedAt: '2025-03-01T10:00:00Z',
      uuidOf,
      records: [
        item('Profile', { fullName: 'Lee Ka-Wai', birthDate: '1970-02-03' }),
        item('Allergy', { substance: 'Peanuts', active: true }),
        item('Condition', { name: 'Type 2 diabetes', clinicalStatus: 'active', abatementDate: undefined }),
        item('LabResult', {
          testName: 'HbA1c',
          value: 7.1,
          units: '%',
          effectiveAt: '2025-02-01',
          status: 'final',
        }),
      ],
    });
    const read = readSummary(ips);
    expect(read.patient).toEqual({ name: 'Lee Ka-Wai', birthDate: '1970-02-03' });
    expect(read.date).toBe('2025-03-01T10:00:00Z');
    const byCode = new Map(read.sections.map((s) => [s.code, s]));
    expect(byCode.get('48765-2')?.rows.map((r) => r.name)).toEqual(['Peanuts']);
    expect(byCode.get('11450-4')?.rows[0]?.name).toBe('Type 2 diabetes');
    // The coded status goes to the screen as an i18n key, not as FHIR's English code.
    expect(byCode.get('11450-4')?.rows[0]?.status).toEqual({
      key: 'enum.conditionClinicalStatus.active',
      code: 'active',
    });
    const hba1c = byCode.get('30954-2')?.rows.find((r) => r.name === 'HbA1c');
    expect(hba1c?.detail).toBe('7.1 %');
    expect(hba1c?.date).toBe('2025-02-01');
    // No medication: the required section says there is no information, rather than listing nothing.
    expect(byCode.get('10160-0')).toMatchObject({ absent: true, rows: [] });
  });

  it('reads nonsense as empty, never throwing', () => {
    expect(readSummary(null).sections).toEqual([]);
    expect(readSummary({ entry: [{ resource: 7 }, 'x'] }).resources).toBe(0);
  });
});
