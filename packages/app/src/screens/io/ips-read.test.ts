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
    expect(byCode.get('11450-4')?.rows[0]?.facts).toEqual([
      { value: 'active', key: 'enum.conditionClinicalStatus.active' },
    ]);
    const hba1c = byCode.get('30954-2')?.rows.find((r) => r.name === 'HbA1c');
    expect(hba1c?.facts).toEqual([{ value: '7.1 %' }]);
    expect(hba1c?.date).toEqual({ label: 'date', value: '2025-02-01' });
    // No medication: the required section says there is no information, rather than listing nothing.
    expect(byCode.get('10160-0')).toMatchObject({ absent: true, rows: [] });
  });

  it('gives a medication its dose and frequency, an allergy its reaction and severity', () => {
    const ips = toIpsBundle({
      patientId: EXAMPLE_PATIENT_ID,
      generatedAt: '2025-03-01T10:00:00Z',
      uuidOf,
      records: [
        item('Medication', {
          name: 'Lisinopril',
          dose: '10 mg',
          frequency: 'Once a day',
          route: 'by mouth',
          startDate: undefined,
          moreDosages: undefined,
        }),
        item('Medication', {
          name: 'Salbutamol',
          dose: '2 puffs',
          frequency: undefined,
          route: undefined,
          startDate: '2015-03',
          moreDosages: undefined,
        }),
        item('Allergy', {
          substance: 'Peanuts',
          reaction: 'Swelling',
          severity: 'severe',
          criticality: 'high',
          verificationStatus: 'unconfirmed',
          onsetDate: undefined,
        }),
        item('Allergy', {
          substance: 'Latex',
          reaction: undefined,
          severity: undefined,
          criticality: undefined,
          verificationStatus: undefined,
        }),
      ],
    });
    const byCode = new Map(readSummary(ips).sections.map((s) => [s.code, s]));
    const [lisinopril, salbutamol] = byCode.get('10160-0')?.rows ?? [];
    // "10 mg" goes out as a quantity, "2 puffs" as the dosage's text: both read back as the dose.
    expect(lisinopril?.facts).toEqual([
      { label: 'dose', value: '10 mg' },
      { label: 'frequency', value: 'Once a day' },
      { label: 'route', value: 'by mouth' },
    ]);
    expect(salbutamol?.facts).toEqual([{ label: 'dose', value: '2 puffs' }]);
    // A start known only to the month stays a month.
    expect(salbutamol?.date).toEqual({ label: 'started', value: '2015-03' });
    // No start date: the day it was written down, said to be that.
    expect(lisinopril?.date?.label).toBe('recorded');
    const [peanuts, latex] = byCode.get('48765-2')?.rows ?? [];
    expect(peanuts?.facts).toEqual([
      { label: 'reaction', value: 'Swelling' },
      { label: 'severity', value: 'severe', key: 'enum.severity.severe' },
      { value: 'high', key: 'summary.criticality.high' },
      { value: 'unconfirmed', key: 'enum.allergyVerification.unconfirmed' },
    ]);
    // Nothing known of it but its name: nothing said (no reaction of unknown manifestation).
    expect(latex?.facts).toEqual([]);
  });

  it('labels an onset only when one is recorded, else the recorded day, each as precise as recorded', () => {
    const ips = toIpsBundle({
      patientId: EXAMPLE_PATIENT_ID,
      generatedAt: '2025-03-01T10:00:00Z',
      uuidOf,
      records: [
        item('Allergy', {
          substance: 'Penicillin',
          onsetDate: '2009',
          recordedAt: '2024-05-02T08:00:00.000Z',
        }),
        item('Allergy', {
          substance: 'Peanuts',
          onsetDate: undefined,
          recordedAt: '2026-11-27T04:56:00.000Z',
        }),
        item('Condition', { name: 'Asthma', onsetDate: '2015-03', abatementDate: undefined }),
      ],
    });
    const byCode = new Map(readSummary(ips).sections.map((s) => [s.code, s]));
    const dates = new Map(byCode.get('48765-2')?.rows.map((r) => [r.name, r.date]));
    expect(dates.get('Penicillin')).toEqual({ label: 'onset', value: '2009' });
    expect(dates.get('Peanuts')).toEqual({ label: 'recorded', value: '2026-11-27T04:56:00.000Z' });
    expect(byCode.get('11450-4')?.rows[0]?.date).toEqual({ label: 'onset', value: '2015-03' });
  });

  it('reads what another system sent: route, criticality, the gravest of several reactions, an onset period', () => {
    const entry = (fullUrl: string, resource: object) => ({ fullUrl, resource });
    const bundle = {
      resourceType: 'Bundle',
      entry: [
        entry('urn:c', {
          resourceType: 'Composition',
          section: [
            { code: { coding: [{ code: '48765-2' }] }, entry: [{ reference: 'urn:a' }] },
            {
              code: { coding: [{ code: '10160-0' }] },
              entry: [{ reference: 'urn:m' }, { reference: 'urn:rx' }, { reference: 'urn:rx2' }],
            },
          ],
        }),
        entry('urn:a', {
          resourceType: 'AllergyIntolerance',
          code: { coding: [{ display: 'Shellfish' }] },
          criticality: 'high',
          onsetPeriod: { start: '2001-07' },
          recordedDate: '2020-01-01',
          reaction: [
            { manifestation: [{ text: 'Hives' }], severity: 'mild' },
            { manifestation: [{ text: 'Anaphylaxis' }, { text: 'Wheeze' }], severity: 'severe' },
            { manifestation: [{ extension: [] }], severity: 'moderate' },
          ],
        }),
        entry('urn:m', {
          resourceType: 'MedicationStatement',
          medicationReference: { reference: 'urn:med' },
          effectiveDateTime: '2019',
          dosage: [
            {
              doseAndRate: [{ doseQuantity: { value: 1, unit: 'tablet' } }],
              timing: { code: { coding: [{ code: 'BID', display: 'Twice a day' }] } },
              route: { coding: [{ display: 'Oral' }] },
            },
          ],
        }),
        entry('urn:med', { resourceType: 'Medication', code: { text: 'Metformin 500 mg' } }),
        // A prescription: its dosage instruction, when it was written, else from when it may be filled.
        entry('urn:rx', {
          resourceType: 'MedicationRequest',
          medicationCodeableConcept: { text: 'Amlodipine 5 mg' },
          authoredOn: '2024-03-02',
          dispenseRequest: { validityPeriod: { start: '2024-03-05' } },
          dosageInstruction: [{ text: 'one a day', timing: { code: { text: 'Daily' } } }],
        }),
        entry('urn:rx2', {
          resourceType: 'MedicationRequest',
          contained: [{ resourceType: 'Medication', id: 'm', code: { text: 'Salbutamol' } }],
          medicationReference: { reference: '#m' },
          dispenseRequest: { validityPeriod: { start: '2024-03-05' } },
        }),
      ],
    };
    const [allergies, medications] = readSummary(bundle).sections;
    expect(allergies?.rows[0]).toEqual({
      name: 'Shellfish',
      facts: [
        { label: 'reaction', value: 'Hives' },
        { label: 'reaction', value: 'Anaphylaxis' },
        { label: 'reaction', value: 'Wheeze' },
        { label: 'severity', value: 'severe', key: 'enum.severity.severe' },
        { value: 'high', key: 'summary.criticality.high' },
      ],
      date: { label: 'onset', value: '2001-07' },
    });
    expect(medications?.rows[0]).toEqual({
      name: 'Metformin 500 mg',
      facts: [
        { label: 'dose', value: '1 tablet' },
        { label: 'frequency', value: 'Twice a day' },
        { label: 'route', value: 'Oral' },
      ],
      date: { label: 'started', value: '2019' },
    });
    expect(medications?.rows.slice(1)).toEqual([
      {
        name: 'Amlodipine 5 mg',
        facts: [
          { label: 'dose', value: 'one a day' },
          { label: 'frequency', value: 'Daily' },
        ],
        date: { label: 'prescribed', value: '2024-03-02' },
      },
      { name: 'Salbutamol', facts: [], date: { label: 'started', value: '2024-03-05' } },
    ]);
  });

  it("names the blood type in Hale's words (an i18n key), its value as recorded", () => {
    const ips = toIpsBundle({
      patientId: EXAMPLE_PATIENT_ID,
      generatedAt: '2025-03-01T10:00:00Z',
      uuidOf,
      records: [item('Profile', { fullName: 'Lee Ka-Wai', bloodType: 'A-' })],
    });
    const rows = readSummary(ips).sections.flatMap((s) => s.rows);
    const blood = rows.find((r) => r.nameKey !== undefined);
    expect(blood?.nameKey).toBe('fields.bloodType');
    expect(blood?.facts.map((f) => f.value).join(' ')).toMatch(/A/);
    expect(rows.filter((r) => r.nameKey !== undefined)).toHaveLength(1);
  });

  it('reads nonsense as empty, never throwing', () => {
    expect(readSummary(null).sections).toEqual([]);
    expect(readSummary({ entry: [{ resource: 7 }, 'x'] }).resources).toBe(0);
  });
});
