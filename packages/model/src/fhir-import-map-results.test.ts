// An imported result keeps what the round trip (test/records-io/round-trip.ts) found lost: a value given
// as a time, and the status `unknown`. Each is in Hale's own fields and exported, with the kept source
// while the record is unedited, from Hale's fields alone without it.
import { describe, expect, it } from 'vitest';
import { toFhirBundle, validateFhirBundleShape, type FhirExportItem, type FhirResource } from './fhir';
import { planFhirImport } from './fhir-import';
import { validateR4 } from './fhir-r4-validator.test-util';
import { assertRecord } from './validate';

const PATIENT = 'FreshAccount0000000001';
const AT = '2026-11-27T10:00:00.000Z';

const observation = (more: Record<string, unknown>) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://example.org', code: '1234-5', display: 'Time of onset' }] },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2009-07-16T12:18:29-04:00',
  ...more,
});

/** The record an import plans for `resource`, as the records API would write it. */
const imported = (resource: Record<string, unknown>) => {
  const plan = planFhirImport(JSON.stringify(resource), { patientId: PATIENT, importedAt: AT });
  if (!plan.ok) throw new Error(plan.error.message);
  expect(plan.value.skipped).toEqual([]);
  const [planned] = plan.value.records;
  if (planned === undefined) throw new Error('nothing imported');
  const record = assertRecord('LabResult', {
    ...planned.input,
    id: planned.id,
    patientId: PATIENT,
    createdAt: AT,
    updatedAt: AT,
    version: 1,
    versions: [],
    provenance: { by: PATIENT, deviceId: 'FreshDevice00000000001', at: AT },
  });
  return { planned, record };
};

/** The resources the export writes for `record`; `ownFields`: without the source it kept. */
const exported = (record: ReturnType<typeof imported>['record'], ownFields = false) => {
  const { origin, ...own } = record;
  const item = { kind: 'LabResult', record: ownFields ? own : { ...own, origin } } as FhirExportItem;
  const bundle = toFhirBundle({ patientId: PATIENT, records: [item], generatedAt: AT });
  const shape = validateFhirBundleShape(bundle);
  expect(shape.ok ? [] : shape.error.issues).toEqual([]);
  const of = (type: string): FhirResource | undefined =>
    bundle.entry.find((e) => e.resource.resourceType === type)?.resource;
  return { observation: of('Observation'), of };
};

describe('a result given as a time', () => {
  it('keeps the time as its value, and exports it as the source gave it', () => {
    const { planned, record } = imported(observation({ valueTime: '18:23:47.376' }));
    expect(record.value).toBe('18:23:47.376');
    expect(planned.notKept).toEqual([]);
    expect(exported(record).observation?.['valueTime']).toBe('18:23:47.376');
    // From Hale's own fields: the time as text.
    expect(exported(record, true).observation?.['valueString']).toBe('18:23:47.376');
  });

  it('keeps a time not in R4’s format as written, and exports it as text, never as a malformed time', () => {
    // Synthea's: R4's `time` has no zone.
    const { record } = imported(observation({ valueTime: '18:23:47.376-05:00' }));
    expect(record.value).toBe('18:23:47.376-05:00');
    const { observation: out } = exported(record);
    expect(out?.['valueTime']).toBeUndefined();
    expect(out?.['valueString']).toBe('18:23:47.376-05:00');
    expect(validateR4(out).errors).toEqual([]);
  });
});

describe('a result whose status is unknown', () => {
  it('is imported with status unknown, and exported so, its order and report too', () => {
    const { record } = imported(
      observation({
        status: 'unknown',
        valueString: 'TPMT *1/*3A',
        basedOn: [{ reference: 'ServiceRequest/order' }],
      }),
    );
    expect(record.status).toBe('unknown');
    const withOrder = assertRecord('LabResult', {
      ...record,
      orderedBy: 'ProviderAccount0000001',
      attachments: [
        {
          blobId: 'Blob000000000000000001',
          fileName: 'report.pdf',
          mediaType: 'application/pdf',
          size: 1,
          sha256: '0'.repeat(64),
        },
      ],
    });
    const { observation: out, of } = exported(withOrder);
    expect(out?.['status']).toBe('unknown');
    expect(of('ServiceRequest')?.['status']).toBe('unknown');
    expect(of('DiagnosticReport')?.['status']).toBe('unknown');
  });
});
