// Every export form and the International Patient Summary checked against the FHIR R4 structure
// definitions by a maintained validator (fhir-r4-validator.test-util.ts), and the IPS against the rules the
// IG asks that a base validator does not (checkIpsRules).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from './examples';
import { toFhirBundle, validateFhirBundleShape, type FhirExportItem } from './fhir';
import { checkIpsRules, toIpsBundle } from './fhir-ips';
import { standardFhirBundle } from './fhir-references';
import { RECORD_KIND_NAMES } from './registry';
import { validateR4 } from './fhir-r4-validator.test-util';
import { planFhirImport } from './fhir-import';
import { validateRecord } from './validate';

const uuidOf = (name: string): string => {
  const h = createHash('sha256').update(name).digest('hex');
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
const GENERATED = '2026-11-25T10:00:00Z';
/** Each entry's errors on its own: the validator checks a resource's invariants (ait-1, …) only at the top. */
const entryErrors = (bundle: { entry: readonly { resource: unknown }[] }): string[] =>
  bundle.entry.flatMap((e) => validateR4(e.resource).errors);
const every = (): FhirExportItem[] =>
  RECORD_KIND_NAMES.filter((k) => k !== 'ProviderProfile').map(
    (kind) => ({ kind, record: exampleRecord(kind) }) as FhirExportItem,
  );

describe('the export against the R4 structure definitions', () => {
  it('a standard export of one record of every kind: no errors, and the shape check holds', () => {
    const bundle = standardFhirBundle(
      toFhirBundle({ patientId: EXAMPLE_PATIENT_ID, records: every(), generatedAt: GENERATED }),
    );
    expect(validateR4(bundle)).toEqual({ errors: [], warnings: [] });
    expect(entryErrors(bundle)).toEqual([]);
    const shape = validateFhirBundleShape(bundle);
    expect(shape.ok ? [] : shape.error.issues).toEqual([]);
    expect(JSON.stringify(bundle)).not.toContain('"reference":"urn:hale:');
    // The first validation loads the R4 definitions: 17 s idle, longer on a loaded machine.
  }, 180_000);
});

describe('the International Patient Summary', () => {
  it('of a full chart: valid R4, the IPS rules hold, every section present', () => {
    const ips = toIpsBundle({
      patientId: EXAMPLE_PATIENT_ID,
      records: every(),
      generatedAt: GENERATED,
      uuidOf,
    });
    const check = validateR4(ips);
    expect(check.errors).toEqual([]);
    expect(entryErrors(ips)).toEqual([]);
    // Medplum checks a reference's target type from a `Type/id` form only; a `urn:uuid:` one it reports
    // as unchecked (a warning), though each carries `type` and resolves in the Bundle (checkIpsRules).
    expect(check.warnings.filter((w) => !/Invalid reference: got "urn:uuid:/.test(w))).toEqual([]);
    expect(checkIpsRules(ips)).toEqual([]);
    const composition = ips.entry[0]?.resource as unknown as {
      section: { code: { coding: { code: string }[] } }[];
    };
    expect(composition.section.map((s) => s.code.coding[0]?.code)).toEqual([
      '48765-2',
      '10160-0',
      '11450-4',
      '11369-6',
      '30954-2',
      '47519-4',
    ]);
    expect(JSON.stringify(ips)).not.toMatch(/"reference":"(?!urn:uuid:)/);
  });

  it('of a chart with only a profile: the required sections say there is no information', () => {
    const ips = toIpsBundle({
      patientId: EXAMPLE_PATIENT_ID,
      records: [{ kind: 'Profile', record: exampleRecord('Profile') }],
      generatedAt: GENERATED,
      uuidOf,
    });
    expect(validateR4(ips).errors).toEqual([]);
    expect(entryErrors(ips)).toEqual([]);
    expect(checkIpsRules(ips)).toEqual([]);
    expect(JSON.stringify(ips)).toContain('no-allergy-info');
    expect(JSON.stringify(ips)).toContain('no-problem-info');
  });

  it('checkIpsRules refuses a summary without its required sections or with a dangling reference', () => {
    const ips = toIpsBundle({
      patientId: EXAMPLE_PATIENT_ID,
      records: every(),
      generatedAt: GENERATED,
      uuidOf,
    });
    const broken = JSON.parse(JSON.stringify(ips)) as { entry: { resource: { section: unknown[] } }[] };
    broken.entry[0]!.resource.section.splice(0, 1);
    broken.entry.splice(2, 1);
    const reasons = checkIpsRules(broken)
      .map((i) => i.reason)
      .join('\n');
    expect(reasons).toContain('Allergies and intolerances (48765-2) is missing');
    expect(reasons).toMatch(/resolves to no entry/);
  });
});

describe('an imported prescription', () => {
  const SOURCE = {
    resourceType: 'MedicationRequest',
    id: 'rx1',
    identifier: [{ system: 'urn:example:rx', value: 'RX-1' }],
    status: 'cancelled',
    intent: 'plan',
    medicationCodeableConcept: {
      coding: [
        { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361', display: 'Amlodipine 5 MG' },
      ],
    },
    subject: { reference: 'Patient/p1' },
    authoredOn: '2024-03-02',
    dosageInstruction: [
      {
        text: 'one tablet daily',
        timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
        doseAndRate: [
          { doseQuantity: { value: 5, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } },
        ],
      },
    ],
    dispenseRequest: {
      validityPeriod: { start: '2024-03-02', end: '2025-03-02' },
      numberOfRepeatsAllowed: 3,
      quantity: { value: 30, unit: 'tablet' },
      performer: { reference: 'Organization/pharmacy' },
    },
  };
  /** `source` imported as the app imports a file: the Medication record it makes. */
  const imported = (source: object = SOURCE) => {
    const plan = planFhirImport(JSON.stringify(source), {
      patientId: EXAMPLE_PATIENT_ID,
      importedAt: GENERATED,
      source: 'rx.json',
    });
    if (!plan.ok) throw new Error(JSON.stringify(plan.error));
    const p = plan.value.records[0]!;
    const record = validateRecord('Medication', {
      ...(p.input as object),
      id: p.id,
      patientId: EXAMPLE_PATIENT_ID,
      createdAt: GENERATED,
      updatedAt: GENERATED,
    });
    if (!record.ok || p.kind !== 'Medication') throw new Error('not a medication');
    return record.value;
  };
  const exported = (record: ReturnType<typeof imported>) => {
    const bundle = standardFhirBundle(
      toFhirBundle({
        patientId: EXAMPLE_PATIENT_ID,
        records: [{ kind: 'Medication', record }],
        generatedAt: GENERATED,
      }),
    );
    const rx = bundle.entry.map((e) => e.resource).find((r) => r.resourceType === 'MedicationRequest');
    return { bundle, rx: rx as Record<string, unknown> | undefined };
  };

  it('leaves as the MedicationRequest it came from, unchanged or edited in Hale: valid R4 either way', () => {
    const { bundle, rx } = exported(imported());
    expect(validateR4(bundle).errors).toEqual([]);
    expect(entryErrors(bundle)).toEqual([]);
    expect(bundle.entry.some((e) => e.resource.resourceType === 'MedicationStatement')).toBe(false);
    expect(rx?.['status']).toBe('cancelled');
    expect(rx?.['intent']).toBe('plan');
    // The pharmacy is not in the file: its reference keeps what it says (an Organization).
    expect(rx?.['dispenseRequest']).toEqual({
      validityPeriod: { start: '2024-03-02', end: '2025-03-02' },
      numberOfRepeatsAllowed: 3,
      quantity: { value: 30, unit: 'tablet' },
      performer: { type: 'Organization' },
    });
    expect(rx?.['dosageInstruction']).toEqual(SOURCE.dosageInstruction);

    // Edited: Hale's dose, end and status win; the intent and what Hale does not model of the dispense stay.
    const edited = exported({
      ...imported(),
      dose: '10 mg',
      active: true,
      status: 'active',
      endDate: '2026-01-01',
    } as never);
    expect(validateR4(edited.bundle).errors).toEqual([]);
    expect(entryErrors(edited.bundle)).toEqual([]);
    expect(edited.rx?.['status']).toBe('active');
    expect(edited.rx?.['intent']).toBe('plan');
    expect(edited.rx?.['dispenseRequest']).toEqual({
      validityPeriod: { start: '2024-03-02', end: '2026-01-01' },
      numberOfRepeatsAllowed: 3,
      quantity: { value: 30, unit: 'tablet' },
      performer: { type: 'Organization' },
    });
    expect(JSON.stringify(edited.rx?.['dosageInstruction'])).toContain('"doseQuantity":{"value":10');
  }, 180_000);

  it('naming a contained Medication: leaves with it (ingredients, form) while unedited; valid R4', () => {
    const { medicationCodeableConcept: _concept, ...rest } = SOURCE;
    const source = {
      ...rest,
      contained: [
        {
          resourceType: 'Medication',
          id: 'med',
          code: { text: 'Amoxicillin 250 mg / Clavulanate 62.5 mg' },
          form: { coding: [{ system: 'http://snomed.info/sct', code: '385055001', display: 'Tablet' }] },
          ingredient: [
            {
              itemCodeableConcept: { text: 'Amoxicillin' },
              strength: { numerator: { value: 250, unit: 'mg' }, denominator: { value: 1, unit: 'tablet' } },
            },
          ],
        },
      ],
      medicationReference: { reference: '#med' },
    };
    const record = { value: imported(source) };
    expect(record.value.name).toBe('Amoxicillin 250 mg / Clavulanate 62.5 mg');
    const { bundle, rx } = exported(record.value);
    expect(validateR4(bundle).errors).toEqual([]);
    expect(entryErrors(bundle)).toEqual([]);
    const shape = validateFhirBundleShape(bundle);
    expect(shape.ok ? [] : shape.error.issues).toEqual([]);
    expect(rx?.['contained']).toEqual(source.contained);
    expect(rx?.['medicationReference']).toEqual({ reference: '#med' });

    // In the summary too: the contained Medication rides with its entry, named in the section's words.
    const ips = toIpsBundle({
      patientId: EXAMPLE_PATIENT_ID,
      records: [
        { kind: 'Profile', record: exampleRecord('Profile') },
        { kind: 'Medication', record: record.value },
      ],
      generatedAt: GENERATED,
      uuidOf,
    });
    expect(validateR4(ips).errors).toEqual([]);
    expect(entryErrors(ips)).toEqual([]);
    expect(checkIpsRules(ips)).toEqual([]);
    const inSummary = ips.entry.find((e) => e.resource.resourceType === 'MedicationRequest')?.resource;
    expect(inSummary?.['medicationReference']).toEqual({ reference: '#med' });
    expect(JSON.stringify(ips.entry[0]?.resource)).toContain('Amoxicillin 250 mg / Clavulanate 62.5 mg');
  }, 180_000);

  it('is in the summary’s medication section: valid R4, the IPS rules hold', () => {
    const ips = toIpsBundle({
      patientId: EXAMPLE_PATIENT_ID,
      records: [
        { kind: 'Profile', record: exampleRecord('Profile') },
        { kind: 'Medication', record: imported() },
      ],
      generatedAt: GENERATED,
      uuidOf,
    });
    expect(validateR4(ips).errors).toEqual([]);
    expect(entryErrors(ips)).toEqual([]);
    expect(checkIpsRules(ips)).toEqual([]);
    const rx = ips.entry.find((e) => e.resource.resourceType === 'MedicationRequest');
    const composition = ips.entry[0]?.resource as unknown as {
      section: { code: { coding: { code: string }[] }; entry: { reference: string }[] }[];
    };
    const medications = composition.section.find((s) => s.code.coding[0]?.code === '10160-0');
    expect(medications?.entry).toEqual([{ reference: rx?.fullUrl }]);
    expect(JSON.stringify(ips)).not.toContain('no-medication-info');
  }, 180_000);
});

describe('a document read from a DiagnosticReport', () => {
  const SOURCE = {
    resourceType: 'DiagnosticReport',
    id: 'gingival-mass',
    identifier: [{ system: 'https://lab.example', value: 'P73456090' }],
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'PAT' }] }],
    code: { coding: [{ system: 'https://lab.example', code: '4503' }], text: 'Biopsy' },
    subject: { display: 'Max Jones' },
    effectiveDateTime: '2017-03-02',
    issued: '2017-03-15T08:13:08Z',
    conclusion: 'Benign',
    presentedForm: [{ contentType: 'application/pdf', language: 'en', data: 'JVBERi0x'.repeat(6000) }],
  };
  const imported = () => {
    const plan = planFhirImport(JSON.stringify(SOURCE), {
      patientId: EXAMPLE_PATIENT_ID,
      importedAt: GENERATED,
      source: 'lab.json',
    });
    if (!plan.ok) throw new Error(JSON.stringify(plan.error));
    const p = plan.value.records[0]!;
    const file = { blobId: 'Blob00000000000000001', fileName: 'Biopsy', mediaType: 'application/pdf' };
    const record = validateRecord('HealthDocument', {
      ...(p.input as object),
      id: p.id,
      patientId: EXAMPLE_PATIENT_ID,
      createdAt: GENERATED,
      updatedAt: GENERATED,
      file: { ...file, size: 36000, sha256: '0'.repeat(64) },
      version: 1,
      versions: [],
    });
    if (!record.ok) throw new Error(record.error.message);
    return record.value;
  };
  const exported = (record: ReturnType<typeof imported>) => {
    const bundle = standardFhirBundle(
      toFhirBundle({
        patientId: EXAMPLE_PATIENT_ID,
        records: [{ kind: 'HealthDocument', record }],
        generatedAt: GENERATED,
      }),
    );
    const types = bundle.entry.map((e) => e.resource.resourceType);
    const report = bundle.entry.find((e) => e.resource.resourceType === 'DiagnosticReport')?.resource;
    return { bundle, types, report: report as Record<string, unknown> | undefined };
  };

  it('keeps its source without the file’s data, and leaves as the DiagnosticReport it came from: valid R4', () => {
    const record = imported();
    expect(JSON.stringify(record.origin?.resource)).not.toContain('JVBERi0x');
    const { bundle, types, report } = exported(record);
    expect(validateR4(bundle).errors).toEqual([]);
    expect(entryErrors(bundle)).toEqual([]);
    expect(types).not.toContain('DocumentReference');
    expect(report?.['code']).toEqual(SOURCE.code);
    expect([report?.['category'], report?.['effectiveDateTime'], report?.['conclusion']]).toEqual([
      SOURCE.category,
      '2017-03-02',
      'Benign',
    ]);
    expect(report?.['identifier']).toContainEqual(SOURCE.identifier[0]);
    expect(report?.['presentedForm']).toMatchObject([
      { contentType: 'application/pdf', language: 'en', url: 'hale-blob:Blob00000000000000001' },
    ]);

    // Edited in Hale: its title and description win; the source's code and conclusion do not come back.
    const edited = exported({ ...record, title: 'Gingival biopsy', description: 'Benign, re-read' });
    expect(validateR4(edited.bundle).errors).toEqual([]);
    expect(edited.report?.['code']).toEqual({ text: 'Gingival biopsy' });
    expect(edited.report?.['conclusion']).toBe('Benign, re-read');
    expect(edited.report?.['effectiveDateTime']).toBe('2017-03-02');
  }, 180_000);
});
