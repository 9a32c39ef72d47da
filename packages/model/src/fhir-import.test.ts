// FHIR import planning: Hale's own export reads back to the records it came from, field by field; a file
// imported twice plans nothing the second time; malformed and hostile files are refused whole.
import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from './examples';
import { toFhirBundle, type FhirExportItem } from './fhir';
import { standardFhirBundle } from './fhir-references';
import { MAX_IMPORT_BYTES, MAX_IMPORT_DEPTH, MAX_IMPORT_RESOURCES } from './fhir-import-input';
import { originKey, planFhirImport, planFhirImportInSlices } from './fhir-import';
import { newId } from './ids';
import type { RecordKind } from './registry';

const IMPORTED_AT = '2026-11-25T10:00:00.000Z';
const FRESH = 'FreshAccount0000000001';
const KINDS = [
  'Profile',
  'EmergencyContact',
  'Allergy',
  'Immunization',
  'Medication',
  'LabResult',
  'Condition',
  'Procedure',
  'Encounter',
] as const satisfies readonly RecordKind[];

/** Fields a record gets from where and when it is written, not from its content. */
const NOT_CONTENT = [
  'id',
  'patientId',
  'createdAt',
  'updatedAt',
  'origin',
  'provenance',
  'version',
  'versions',
];

const content = (kind: RecordKind, record: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (NOT_CONTENT.includes(key)) continue;
    if (kind === 'LabResult' && key === 'attachments') continue;
    // A coded value no longer the value's text is not exported, so it does not come back.
    if (kind === 'LabResult' && key === 'valueConcept' && outOfForce(record, value)) continue;
    if (kind === 'LabResult' && key === 'components' && Array.isArray(value)) {
      // Nor a reason for no value beside a value (R4 obs-6), nor samples beside a value typed since.
      out[key] = value.map((c: Record<string, unknown>) => {
        const { dataAbsentReason: _reason, valueConcept, sampledData: _samples, ...rest } = c;
        return {
          ...(c['value'] === undefined && c['sampledData'] === undefined
            ? { dataAbsentReason: c['dataAbsentReason'] }
            : {}),
          ...(c['value'] === undefined ? { sampledData: c['sampledData'] } : {}),
          ...(outOfForce(c, valueConcept) ? {} : { valueConcept }),
          ...rest,
        };
      });
      continue;
    }
    if (kind === 'LabResult' && key === 'category' && value === 'laboratory') continue;
    if (kind === 'Immunization' && key === 'proofDocumentId') continue;
    // A prescription's own (a record typed in Hale exports as a MedicationStatement).
    if (kind === 'Medication' && key === 'validFrom') continue;
    out[key] = value;
  }
  return out;
};

const outOfForce = (owner: Readonly<Record<string, unknown>>, concept: unknown): boolean =>
  typeof concept !== 'object' || concept === null || (concept as { text?: unknown }).text !== owner['value'];

const exported = () => {
  const records = KINDS.map((kind) => ({ kind, record: exampleRecord(kind) }) as FhirExportItem);
  const bundle = standardFhirBundle(
    toFhirBundle({ patientId: EXAMPLE_PATIENT_ID, records, generatedAt: '2026-11-24T09:00:00Z' }),
  );
  return { records, text: JSON.stringify(bundle) };
};

const planned = (text: string | Uint8Array, extra: Partial<Parameters<typeof planFhirImport>[1]> = {}) => {
  const plan = planFhirImport(text, { patientId: FRESH, importedAt: IMPORTED_AT, ...extra });
  if (!plan.ok) throw new Error(plan.error.message);
  return plan.value;
};

const refusal = (text: string | Uint8Array) => {
  const plan = planFhirImport(text, { patientId: FRESH, importedAt: IMPORTED_AT });
  if (plan.ok) throw new Error('expected a refusal');
  return plan.error;
};

describe('Hale’s own export, imported into a fresh account', () => {
  const { records, text } = exported();
  const plan = planned(text);

  it.each(KINDS)('%s reads back field by field', (kind) => {
    const source = records.find((r) => r.kind === kind)?.record as Readonly<Record<string, unknown>>;
    const found = plan.records.filter((r) => r.kind === kind);
    expect(found).toHaveLength(1);
    expect(content(kind, found[0]?.input ?? {})).toEqual(content(kind, source));
  });

  it('keeps where each record came from and lists what it does not import', () => {
    for (const r of plan.records) {
      expect(typeof r.origin.resourceType).toBe('string');
      expect(r.origin.importedAt).toBe(IMPORTED_AT);
      expect(r.origin.originalId).toMatch(/^https:\/\/hale\.invalid\/fhir\//);
      expect(r.input['origin']).toEqual(r.origin);
    }
    const skipped = plan.skipped.map((s) => s.resourceType);
    expect(skipped).toContain('Provenance');
    expect(skipped.filter((t) => t === 'Observation')).toHaveLength(1); // the lab's earlier version
    expect(plan.absorbed.map((a) => a.resourceType).sort()).toEqual(
      ['DiagnosticReport', 'ImmunizationRecommendation', 'Observation', 'ServiceRequest'].sort(),
    );
  });

  it('plans nothing the second time', () => {
    const originKeys = new Set(plan.records.map((r) => originKey(r.origin)));
    const again = planned(text, { existing: { originKeys, ids: new Set() } });
    expect(again.records).toEqual([]);
    expect(again.duplicates).toHaveLength(plan.records.length);
  });

  it('finds the patient’s own records by their Hale ids when re-imported into the same account', () => {
    const ids = new Set(records.map((r) => r.record.id));
    const again = planned(text, { existing: { originKeys: new Set(), ids }, hasProfile: true });
    expect(again.records.map((r) => r.kind)).toEqual([]);
  });
});

const bundle = (entries: unknown[], type = 'collection') =>
  JSON.stringify({ resourceType: 'Bundle', type, entry: entries });
const patient = {
  fullUrl: 'urn:uuid:0b6c1b5e-1111-4a4a-8a8a-000000000001',
  resource: { resourceType: 'Patient', id: 'p1', name: [{ given: ['Ada'], family: 'Lovelace' }] },
};
const subject = { reference: patient.fullUrl };

describe('files from other systems', () => {
  it('plans in slices as at once: the same plan, the event loop let run between slices', async () => {
    const { text } = exported();
    const ids = Array.from({ length: 500 }, () => newId());
    const counter = () => {
      let n = 0;
      return () => ids[n++] ?? newId();
    };
    const options = { patientId: FRESH, importedAt: IMPORTED_AT };
    const whole = planFhirImport(text, { ...options, newId: counter() });
    let pauses = 0;
    const sliced = await planFhirImportInSlices(
      text,
      { ...options, newId: counter() },
      async () => void pauses++,
      0,
    );
    expect(sliced).toEqual(whole);
    expect(whole.ok && whole.value.records.length).toBeGreaterThan(KINDS.length - 1);
    // A slice of 0 ms ends at every resource of every pass.
    expect(pauses).toBeGreaterThan(3 * KINDS.length);
  });

  it('reads NDJSON, one resource per line', () => {
    const text = [
      JSON.stringify({
        resourceType: 'Condition',
        id: 'c1',
        code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003', display: 'Hypertension' }] },
        subject: { reference: 'Patient/p1' },
      }),
      JSON.stringify({
        resourceType: 'AllergyIntolerance',
        id: 'a1',
        code: { text: 'Peanuts' },
        patient: { reference: 'Patient/p1' },
      }),
    ].join('\n');
    const plan = planned(text, { source: 'portal.ndjson' });
    expect(plan.format).toBe('ndjson');
    expect(plan.records.map((r) => r.kind)).toEqual(['Condition', 'Allergy']);
    expect(plan.records[0]?.input).toMatchObject({
      name: 'Hypertension',
      clinicalStatus: 'active',
      codes: [{ system: 'http://snomed.info/sct', code: '38341003' }],
    });
    expect(plan.records[0]?.origin).toMatchObject({
      source: 'portal.ndjson',
      resourceType: 'Condition',
      originalId: 'Condition/c1',
      importedAt: IMPORTED_AT,
      // No Patient in the file: the patient its records name, the type and the id; never the file's name.
      identity: ['Patient/p1|Condition/c1'],
    });
  });

  it('lists a resource it cannot map with the reason, and a record the model refuses with its words', () => {
    const plan = planned(
      bundle([
        patient,
        {
          fullUrl: 'urn:uuid:0b6c1b5e-1111-4a4a-8a8a-000000000002',
          resource: { resourceType: 'Claim', id: 'x' },
        },
        {
          fullUrl: 'urn:uuid:0b6c1b5e-1111-4a4a-8a8a-000000000003',
          resource: { resourceType: 'MedicationStatement', status: 'active', subject },
        },
        {
          fullUrl: 'urn:uuid:0b6c1b5e-1111-4a4a-8a8a-000000000004',
          resource: { resourceType: 'Condition', code: { text: 'x'.repeat(300) }, subject },
        },
      ]),
    );
    expect(plan.records.map((r) => r.kind)).toEqual(['Profile']);
    const reasons = plan.skipped.map((s) => `${s.resourceType}: ${s.reason}`);
    expect(reasons).toEqual([
      'Claim: billing: Hale keeps no billing records',
      'MedicationStatement: a medication with no name',
      expect.stringMatching(/^Condition: Condition is invalid: name: /),
    ]);
  });
});

describe('malformed and hostile files, refused whole', () => {
  it('refuses a file larger than the limit before reading it', () => {
    const big = new Uint8Array(50 * 1024 * 1024).fill(0x20);
    expect(MAX_IMPORT_BYTES).toBeLessThan(big.byteLength);
    expect(refusal(big)).toMatchObject({ code: 'FHIR_IMPORT_REFUSED', reason: 'TOO_LARGE' });
  });

  it('one code for the count limit, in a Bundle and in NDJSON alike', () => {
    const condition = { resourceType: 'Condition', code: { text: 'x' } };
    const many = Array.from({ length: MAX_IMPORT_RESOURCES + 1 }, () => condition);
    const bundle = JSON.stringify({
      resourceType: 'Bundle',
      type: 'collection',
      entry: many.map((resource) => ({ resource })),
    });
    const ndjson = many.map((r) => JSON.stringify(r)).join('\n');
    expect(refusal(bundle)).toMatchObject({ reason: 'TOO_LARGE' });
    expect(refusal(ndjson)).toMatchObject({ reason: 'TOO_LARGE' });
  });

  it('refuses nesting deeper than any FHIR resource before parsing it', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(refusal(deep)).toMatchObject({ reason: 'TOO_DEEP' });
    expect(
      refusal(
        `{"resourceType":"Bundle","type":"collection","entry":[${'{"a":'.repeat(MAX_IMPORT_DEPTH)}1${'}'.repeat(MAX_IMPORT_DEPTH)}]}`,
      ),
    ).toMatchObject({ reason: 'TOO_DEEP' });
  });

  it('refuses text that is no JSON, and a Bundle of another type', () => {
    expect(refusal('{"resourceType": "Bundle",')).toMatchObject({ reason: 'NOT_JSON' });
    expect(refusal(bundle([patient], 'transaction-response'))).toMatchObject({
      reason: 'UNSUPPORTED_BUNDLE',
    });
  });

  it('refuses wrong types, naming the path', () => {
    const error = refusal(
      bundle([
        patient,
        {
          fullUrl: 'urn:uuid:0b6c1b5e-1111-4a4a-8a8a-000000000005',
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code: 2345 }] },
            subject,
          },
        },
      ]),
    );
    expect(error.reason).toBe('MALFORMED');
    expect(error.issues[0]?.path).toBe('entry[1].resource.code.coding[0].code');
  });

  it('an allergy keeps its unconfirmed status, every reaction and a date-only recording as a date', () => {
    const allergy = {
      resourceType: 'AllergyIntolerance',
      verificationStatus: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification',
            code: 'unconfirmed',
          },
        ],
      },
      code: { text: 'Penicillin' },
      recordedDate: '2019-03-02',
      reaction: [
        { manifestation: [{ text: 'Hives' }, { text: 'Wheeze' }] },
        { manifestation: [{ text: 'Rash' }] },
      ],
      patient: { reference: 'Patient/p1' },
    };
    const [only] = planned(JSON.stringify(allergy)).records;
    expect(only?.input['verificationStatus']).toBe('unconfirmed');
    expect(only?.input['reaction']).toBe('Hives, Wheeze; Rash');
    expect(only?.input['reactions']).toEqual([
      { manifestations: [{ text: 'Hives' }, { text: 'Wheeze' }] },
      { manifestations: [{ text: 'Rash' }] },
    ]);
    expect(only?.input['recordedAt']).toBe('2019-03-02');
    expect(only?.notKept).toEqual([]);
  });

  it('a medication keeps its route and a start known to the month; a contained Medication names a prescription', () => {
    const statement = {
      resourceType: 'MedicationStatement',
      status: 'active',
      medicationCodeableConcept: { text: 'Salbutamol' },
      effectivePeriod: { start: '2015-03' },
      dosage: [
        { route: { text: 'Inhaled' }, timing: { repeat: { frequency: 2, period: 1, periodUnit: 'd' } } },
      ],
      subject: { reference: 'Patient/p1' },
    };
    const prescription = {
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      contained: [{ resourceType: 'Medication', id: 'med1', code: { text: 'Amoxicillin 500 mg' } }],
      medicationReference: { reference: '#med1' },
      authoredOn: '2024-02',
      subject: { reference: 'Patient/p1' },
    };
    const [first] = planned(JSON.stringify(statement)).records;
    expect(first?.input).toMatchObject({
      name: 'Salbutamol',
      route: 'Inhaled',
      startDate: '2015-03',
      frequency: '2 times every day',
    });
    const [second] = planned(JSON.stringify(prescription)).records;
    expect(second?.input).toMatchObject({ name: 'Amoxicillin 500 mg', startDate: '2024-02' });
  });

  it('keeps each source with portable references: the patient, a record of the file, others by their words', () => {
    const visit = {
      fullUrl: 'urn:uuid:0b6c1b5e-1111-4a4a-8a8a-000000000020',
      resource: {
        resourceType: 'Encounter',
        id: 'v1',
        status: 'finished',
        class: { code: 'AMB' },
        subject,
        period: { start: '2024-05-02T09:00:00Z' },
      },
    };
    const doctor = {
      fullUrl: 'urn:uuid:0b6c1b5e-1111-4a4a-8a8a-000000000021',
      resource: { resourceType: 'Practitioner', name: [{ given: ['Grace'], family: 'Hopper' }] },
    };
    const gout = {
      fullUrl: 'urn:uuid:0b6c1b5e-1111-4a4a-8a8a-000000000022',
      resource: {
        resourceType: 'Condition',
        code: { text: 'Gout' },
        subject,
        encounter: { reference: visit.fullUrl },
        asserter: { reference: doctor.fullUrl },
        evidence: [{ code: [{ text: 'Tophi' }], detail: [{ reference: 'Observation/elsewhere' }] }],
      },
    };
    const plan = planned(bundle([patient, visit, doctor, gout]));
    const encounter = plan.records.find((r) => r.kind === 'Encounter');
    const condition = plan.records.find((r) => r.kind === 'Condition');
    expect(condition?.origin.resource).toMatchObject({
      subject: { reference: 'hale:patient' },
      encounter: { reference: `hale:record:Encounter:${encounter?.id}` },
      asserter: { reference: 'hale:elsewhere', type: 'Practitioner', display: 'Grace Hopper' },
      evidence: [
        { code: [{ text: 'Tophi' }], detail: [{ reference: 'hale:elsewhere', type: 'Observation' }] },
      ],
    });
    // Exported: the encounter named as the export names the visit's record.
    const records = plan.records.map(
      (r) =>
        ({
          kind: r.kind,
          record: { ...r.input, id: r.id, patientId: FRESH, createdAt: IMPORTED_AT, updatedAt: IMPORTED_AT },
        }) as FhirExportItem,
    );
    const out = toFhirBundle({ patientId: FRESH, records, generatedAt: IMPORTED_AT });
    const urlOf = (type: string) => out.entry.find((e) => e.resource.resourceType === type);
    const exportedCondition = urlOf('Condition')?.resource as Record<string, unknown>;
    expect(exportedCondition['encounter']).toEqual({ reference: urlOf('Encounter')?.fullUrl });
    expect(exportedCondition['evidence']).toEqual([
      { code: [{ text: 'Tophi' }], detail: [{ type: 'Observation' }] },
    ]);
    expect(JSON.stringify(out)).not.toContain('hale:record');
  });

  it('keeps the contained resources a resource names, and says which it does not', () => {
    const apgar = {
      resourceType: 'Observation',
      status: 'final',
      contained: [
        { resourceType: 'Patient', id: 'newborn', birthDate: '2016-05-18' },
        { resourceType: 'Location', id: 'ward', name: 'Ward 3' },
        { resourceType: 'Device', id: 'loose' },
      ],
      code: { text: 'Apgar score' },
      subject: { reference: '#newborn' },
      performer: [{ reference: '#ward' }],
      effectiveDateTime: '2016-05-18T22:33:22Z',
      valueQuantity: { value: 10 },
    };
    const [only] = planned(JSON.stringify(apgar)).records;
    expect(only?.origin.resource?.['contained']).toEqual([apgar.contained[1]]);
    expect(only?.notKept).toEqual([
      'contained Patient (a person in the resource: the record is in this chart)',
      'contained Device (named by nothing in the resource)',
    ]);
  });

  it('names a compounded medicine by its ingredients; cuts a long reference range and says so', () => {
    const mixed = {
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      contained: [
        {
          resourceType: 'Medication',
          id: 'tpn',
          ingredient: [
            {
              itemCodeableConcept: {
                coding: [{ system: 'http://hl7.org/fhir/sid/ndc', display: 'Clinimix' }],
              },
            },
            { itemCodeableConcept: { text: 'Intralipid 20%' } },
          ],
        },
      ],
      medicationReference: { reference: '#tpn' },
      subject: { reference: 'Patient/p1' },
    };
    expect(planned(JSON.stringify(mixed)).records[0]?.input['name']).toBe('Clinimix + Intralipid 20%');
    const result = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Erythrocytes' },
      subject: { reference: 'Patient/p1' },
      effectiveDateTime: '2013-04-02T10:30:10+01:00',
      valueQuantity: { value: 4.12 },
      referenceRange: [{ text: 'x'.repeat(250) }],
    };
    const [cut] = planned(JSON.stringify(result)).records;
    expect(cut?.input['referenceRange']).toBe('x'.repeat(200));
    expect(cut?.notKept).toContain('referenceRange (cut to 200 characters: the source keeps it whole)');
  });

  it('a document of several files imports the first and says so', () => {
    const doc = {
      resourceType: 'DocumentReference',
      status: 'current',
      subject: { reference: 'Patient/p1' },
      content: [
        { attachment: { contentType: 'text/plain', data: 'aGVsbG8=', title: 'a.txt' } },
        { attachment: { contentType: 'text/plain', data: 'd29ybGQ=', title: 'b.txt' } },
      ],
    };
    const [only] = planned(JSON.stringify(doc)).records;
    expect(only?.files.map((f) => f.fileName)).toEqual(['a.txt']);
    expect(only?.notKept).toContain('content (only the first file is imported)');
  });

  it('lists a record naming a person not in the file with its path; refuses two patients', () => {
    const nowhere = {
      fullUrl: 'urn:uuid:0b6c1b5e-1111-4a4a-8a8a-000000000006',
      resource: {
        resourceType: 'AllergyIntolerance',
        code: { text: 'Latex' },
        patient: { reference: 'urn:uuid:0b6c1b5e-9999-4a4a-8a8a-000000000000' },
      },
    };
    const someoneElse = {
      fullUrl: 'urn:uuid:0b6c1b5e-1111-4a4a-8a8a-000000000008',
      resource: {
        resourceType: 'Condition',
        code: { text: 'Gout' },
        subject: { reference: 'Patient/other' },
      },
    };
    const plan = planned(bundle([patient, nowhere, someoneElse]));
    expect(plan.records.map((r) => r.kind)).toEqual(['Profile']);
    expect(plan.skipped.map((s) => s.reason)).toEqual([
      'not imported: entry[1].resource.patient: urn:uuid:0b6c1b5e-9999-4a4a-8a8a-000000000000 names no entry of the file',
      'not imported: entry[2].resource.subject: Patient/other names a person not in this file',
    ]);
    const other = {
      fullUrl: 'urn:uuid:0b6c1b5e-1111-4a4a-8a8a-000000000007',
      resource: { resourceType: 'Patient', name: [{ text: 'Someone else' }] },
    };
    expect(refusal(bundle([patient, other]))).toMatchObject({ reason: 'SEVERAL_PATIENTS' });
  });
});
