// MedicationDose ↔ MedicationAdministration, and a medication's schedule ↔ its dosage: exported, read back
// as a mark on the medication imported from the same file; a dose whose medicine the file lacks is skipped.
import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from '../examples';
import { toFhirBundle, type FhirExportItem } from '../fhir';
import { standardFhirBundle } from '../fhir-references';
import { planFhirImport } from '../fhir-import';
import { validateRecord } from '../validate';

const exported = (records: readonly FhirExportItem[]) =>
  standardFhirBundle(
    toFhirBundle({ patientId: EXAMPLE_PATIENT_ID, records, generatedAt: '2026-11-24T09:00:00Z' }),
  );

const plan = (bundle: unknown) => {
  const planned = planFhirImport(JSON.stringify(bundle), {
    patientId: 'FreshAccount0000000001',
    importedAt: '2026-11-25T10:00:00.000Z',
  });
  if (!planned.ok) throw new Error(planned.error.message);
  return planned.value;
};

const resources = (bundle: unknown): Record<string, unknown>[] =>
  (bundle as { entry: { resource: Record<string, unknown> }[] }).entry.map((e) => e.resource);

describe('MedicationDose', () => {
  const medication = exampleRecord('Medication', {
    schedule: { times: ['08:00', '20:00'], food: 'without' },
  });
  const taken = exampleRecord('MedicationDose', { medicationId: medication.id, slot: '2026-11-27T08:00' });
  const skipped = exampleRecord('MedicationDose', {
    medicationId: medication.id,
    slot: '2026-11-27T20:00',
    status: 'skipped',
    at: '2026-11-27T19:30:00.000Z',
  });

  it('takes a slot as a wall-clock day and time, and times of day as HH:MM', () => {
    expect(validateRecord('MedicationDose', taken).ok).toBe(true);
    expect(validateRecord('MedicationDose', { ...taken, slot: '2026-11-27T08:00:00Z' }).ok).toBe(false);
    expect(validateRecord('MedicationDose', { ...taken, status: 'lost' }).ok).toBe(false);
    expect(validateRecord('Medication', { ...medication, schedule: { times: ['8am'] } }).ok).toBe(false);
    expect(validateRecord('Medication', { ...medication, schedule: { times: ['08:00', '08:00'] } }).ok).toBe(
      false,
    );
  });

  it('exports as MedicationAdministration supporting the MedicationStatement, the schedule in its dosage', () => {
    const bundle = exported([
      { kind: 'Medication', record: medication },
      { kind: 'MedicationDose', record: taken },
      { kind: 'MedicationDose', record: skipped },
    ] as FhirExportItem[]);
    const administrations = resources(bundle).filter((r) => r['resourceType'] === 'MedicationAdministration');
    expect(administrations.map((a) => a['status']).sort()).toEqual(['completed', 'not-done']);
    const statement = resources(bundle).find((r) => r['resourceType'] === 'MedicationStatement')!;
    const ref = (administrations[0]!['supportingInformation'] as { reference: string }[])[0]!.reference;
    expect(ref.endsWith(`MedicationStatement/${statement['id'] as string}`)).toBe(true);
    const [dosage] = statement['dosage'] as Record<string, unknown>[];
    expect(dosage).toMatchObject({ timing: { repeat: { timeOfDay: ['08:00:00', '20:00:00'] } } });
    expect(dosage?.['additionalInstruction']).toContainEqual({
      coding: [{ system: 'http://snomed.info/sct', code: '717154004', display: 'Take on an empty stomach' }],
    });
  });

  it('reads back as marks on the medication imported from the same file', () => {
    const planned = plan(
      exported([
        { kind: 'Medication', record: medication },
        { kind: 'MedicationDose', record: taken },
        { kind: 'MedicationDose', record: skipped },
      ] as FhirExportItem[]),
    );
    const med = planned.records.find((r) => r.kind === 'Medication')!;
    expect(med.input['schedule']).toEqual({ times: ['08:00', '20:00'], food: 'without' });
    const doses = planned.records.filter((r) => r.kind === 'MedicationDose').map((r) => r.input);
    expect(doses).toHaveLength(2);
    for (const d of doses) expect(d['medicationId']).toBe(med.id);
    expect(doses.map((d) => `${String(d['slot'])} ${String(d['status'])}`).sort()).toEqual([
      '2026-11-27T08:00 taken',
      '2026-11-27T20:00 skipped',
    ]);
  });

  it('skips a dose whose medicine the file does not bring', () => {
    const planned = plan(exported([{ kind: 'MedicationDose', record: taken }] as FhirExportItem[]));
    expect(planned.records.filter((r) => r.kind === 'MedicationDose')).toHaveLength(0);
    expect(JSON.stringify(planned)).toContain('a dose of a medicine this file does not bring into Hale');
  });
});
