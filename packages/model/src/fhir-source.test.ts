import { describe, expect, it } from 'vitest';
import type { RecordOrigin } from './common-schemas';
import type { FhirResource } from './fhir-types';
import {
  MAX_KEPT_SOURCE_BYTES,
  keptSource,
  keptTargetOf,
  portableReferences,
  withSource,
  type KeptTarget,
} from './fhir-source';
import { exampleRecord } from './examples';
import { validateRecord } from './validate';

const SOURCE = {
  resourceType: 'AllergyIntolerance',
  id: 'a1',
  meta: { versionId: '7' },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Peanut</div>' },
  identifier: [{ system: 'urn:example:allergies', value: 'A-1' }],
  verificationStatus: { coding: [{ code: 'unconfirmed' }] },
  code: { coding: [{ system: 'http://snomed.info/sct', code: '91935009' }], text: 'Peanut' },
  patient: { reference: 'Patient/p1' },
  onsetAge: { value: 4, unit: 'a' },
  reaction: [
    { manifestation: [{ text: 'Hives' }], severity: 'mild' },
    { manifestation: [{ text: 'Wheeze' }], severity: 'severe' },
  ],
  recorder: { reference: 'Practitioner/x' },
  lastOccurrence: '2019-05',
};
const origin = (over: Partial<RecordOrigin> = {}): RecordOrigin => ({
  source: 'file.json',
  resourceType: 'AllergyIntolerance',
  originalId: 'AllergyIntolerance/a1',
  importedAt: '2026-11-27T00:00:00.000Z',
  resource: SOURCE,
  sourceOnly: ['lastOccurrence', 'onsetAge'],
  ...over,
});
const HALE: FhirResource = {
  resourceType: 'AllergyIntolerance',
  id: 'h1',
  meta: { lastUpdated: '2026-11-27T00:00:00.000Z' },
  identifier: [{ system: 'urn:hale', value: 'h1' }],
  code: { text: 'Peanut' },
  patient: { reference: 'urn:uuid:patient' },
  reaction: [{ manifestation: [{ text: 'Hives' }], severity: 'mild' }],
  onsetDateTime: '2010',
  note: [{ text: 'typed in Hale' }],
};

describe('withSource', () => {
  it('an unchanged record leaves with the source’s detail, Hale’s references and both identifiers', () => {
    const out = withSource(HALE, origin(), false);
    expect(out.id).toBe('h1');
    expect(out['meta']).toEqual(HALE['meta']);
    expect(out['reaction']).toEqual(SOURCE.reaction);
    expect(out['verificationStatus']).toEqual(SOURCE.verificationStatus);
    expect(out['code']).toEqual(SOURCE.code);
    expect(out['patient']).toEqual({ reference: 'urn:uuid:patient' });
    expect(out['recorder']).toBeUndefined();
    expect(out['identifier']).toEqual([{ system: 'urn:hale', value: 'h1' }, ...SOURCE.identifier]);
    expect(out['text']).toEqual(SOURCE.text);
    expect(out['note']).toEqual(HALE['note']);
    // A choice element is one element: the source's onset[x] replaces Hale's, never beside it.
    expect(out['onsetAge']).toEqual(SOURCE.onsetAge);
    expect(out['onsetDateTime']).toBeUndefined();
  });

  it('an edited record: Hale’s elements win, what Hale never reads comes back, a stale narrative does not', () => {
    const out = withSource(HALE, origin(), true);
    expect(out['reaction']).toEqual(HALE['reaction']);
    expect(out['code']).toEqual(HALE['code']);
    expect(out['onsetDateTime']).toBe('2010');
    expect(out['onsetAge']).toBeUndefined();
    expect(out['lastOccurrence']).toBe('2019-05');
    // Read by Hale and removed by the edit: stays removed.
    expect(out['verificationStatus']).toBeUndefined();
    expect(out['text']).toBeUndefined();
  });

  it('a choice value not in its R4 format is not written back', () => {
    const resource = { ...SOURCE, resourceType: 'Observation', valueTime: '2019-05-01T10:00:00Z' };
    const out = withSource({ ...HALE, resourceType: 'Observation' }, origin({ resource }), false);
    expect(out['valueTime']).toBeUndefined();
    const fine = { ...resource, valueTime: '10:00:00', effectiveDateTime: '2019-05-01T10:00:00+08:00' };
    const kept = withSource({ ...HALE, resourceType: 'Observation' }, origin({ resource: fine }), false);
    expect([kept['valueTime'], kept['effectiveDateTime']]).toEqual(['10:00:00', '2019-05-01T10:00:00+08:00']);
  });

  it('a source of another type, or none, changes nothing', () => {
    expect(withSource(HALE, origin({ resource: { ...SOURCE, resourceType: 'Condition' } }), false)).toBe(
      HALE,
    );
    const { resource: _none, ...bare } = origin();
    expect(withSource(HALE, bare, false)).toBe(HALE);
  });
});

describe('keptSource', () => {
  it('keeps a source up to the limit, without contained resources, nulls and primitive extensions', () => {
    expect(keptSource({ ...SOURCE, contained: [{ resourceType: 'Medication' }] })).toEqual(SOURCE);
    const name = { family: 'Lee', given: ['Wei', null], _given: [null, { extension: [] }] };
    expect(keptSource({ ...SOURCE, name: [name] })).toEqual({
      ...SOURCE,
      name: [{ family: 'Lee', given: ['Wei'] }],
    });
    const big = { ...SOURCE, note: [{ text: 'x'.repeat(MAX_KEPT_SOURCE_BYTES) }] };
    expect(keptSource(big)).toBeUndefined();
    // Bytes, not characters: 3-byte characters over the limit in UTF-8 though under it in length.
    const wide = { ...SOURCE, note: [{ text: '藥'.repeat(Math.ceil(MAX_KEPT_SOURCE_BYTES / 3)) }] };
    expect(keptSource(wide)).toBeUndefined();
    const narrow = { ...SOURCE, note: [{ text: '藥'.repeat(Math.floor(MAX_KEPT_SOURCE_BYTES / 4)) }] };
    expect(keptSource(narrow)).toEqual(narrow);
  });

  it('keeps the contained Medication a medicine names, and writes it back with it while unedited', () => {
    const medication = {
      resourceType: 'Medication',
      id: 'med1',
      code: { text: 'Amoxicillin 250 mg' },
      form: { coding: [{ system: 'http://snomed.info/sct', code: '385055001' }] },
      ingredient: [{ itemCodeableConcept: { text: 'Amoxicillin' }, strength: { numerator: { value: 250 } } }],
    };
    const statement = {
      resourceType: 'MedicationStatement',
      id: 's1',
      status: 'active',
      contained: [medication, { resourceType: 'Organization', id: 'org' }],
      medicationReference: { reference: '#med1' },
      subject: { reference: 'Patient/p1' },
    };
    const kept = keptSource(statement)!;
    expect(kept['contained']).toEqual([medication]);
    // Named elsewhere (a Medication of the file, not contained), or holding a reference itself: none kept.
    expect(
      keptSource({ ...statement, medicationReference: { reference: 'Medication/m' } }),
    ).not.toHaveProperty('contained');
    // Holding a file's reference, it is kept but not written back (nor what names it) until made portable.
    const withMaker = { ...medication, manufacturer: { reference: 'Organization/x' } };
    const raw = keptSource({ ...statement, contained: [withMaker] })!;
    expect(raw['contained']).toEqual([withMaker]);

    const hale: FhirResource = {
      resourceType: 'MedicationStatement',
      id: 'h2',
      status: 'active',
      medicationCodeableConcept: { text: 'Amoxicillin 250 mg' },
      subject: { reference: 'urn:uuid:patient' },
    };
    const from = origin({ resourceType: 'MedicationStatement', resource: kept, sourceOnly: [] });
    const unchanged = withSource(hale, from, false);
    expect(unchanged['contained']).toEqual([medication]);
    expect(unchanged['medicationReference']).toEqual({ reference: '#med1' });
    expect(unchanged['medicationCodeableConcept']).toBeUndefined();
    const rawOut = withSource(hale, { ...from, resource: raw }, false);
    expect([rawOut['contained'], rawOut['medicationReference']]).toEqual([undefined, undefined]);
    const portable = portableReferences(
      raw,
      () => undefined,
      () => ({ display: 'Acme Pharma' }),
    );
    const portableOut = withSource(hale, { ...from, resource: portable }, false);
    expect(portableOut['contained']).toEqual([
      { ...medication, manufacturer: { type: 'Organization', display: 'Acme Pharma' } },
    ]);
    expect(portable['contained']).toEqual([
      {
        ...medication,
        manufacturer: { reference: 'hale:elsewhere', type: 'Organization', display: 'Acme Pharma' },
      },
    ]);
    // Edited: Hale's concept, and no contained resource nothing names.
    const edited = withSource(hale, from, true);
    expect(edited['medicationCodeableConcept']).toEqual(hale['medicationCodeableConcept']);
    expect(edited['medicationReference']).toBeUndefined();
    expect(edited['contained']).toBeUndefined();
  });

  it('validateRecord refuses a kept source over the limit', () => {
    const record = exampleRecord('Allergy', { origin: origin() });
    expect(validateRecord('Allergy', record).ok).toBe(true);
    const big = exampleRecord('Allergy', {
      origin: origin({ resource: { ...SOURCE, note: [{ text: 'x'.repeat(MAX_KEPT_SOURCE_BYTES) }] } }),
    });
    const refused = validateRecord('Allergy', big);
    expect(!refused.ok && refused.error.issues.map((i) => i.field)).toEqual(['origin.resource']);
  });
});

describe('portable references', () => {
  const encounter = { kind: 'Encounter', id: 'EncounterRecord00000001' } as const;
  const targets: Readonly<Record<string, KeptTarget>> = {
    'Patient/p1': { patient: true },
    'Encounter/e1': encounter,
    'Practitioner/hale': { account: 'DrAccount000000000001' },
  };
  const immunization = {
    resourceType: 'Immunization',
    id: 'i1',
    contained: [{ resourceType: 'Location', id: 'clinic', name: 'Riverside clinic' }],
    status: 'completed',
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }] },
    patient: { reference: 'Patient/p1' },
    encounter: { reference: 'Encounter/e1', display: 'the visit' },
    location: { reference: '#clinic' },
    occurrenceDateTime: '2021-10-01',
    performer: [
      { function: { coding: [{ code: 'OP' }] }, actor: { reference: 'Practitioner/x' } },
      { function: { coding: [{ code: 'AP' }] }, actor: { reference: 'Practitioner/hale' } },
    ],
    reportOrigin: { coding: [{ code: 'record' }] },
  };
  const kept = portableReferences(
    keptSource(immunization)!,
    (reference) => targets[reference],
    (reference) => (reference === 'Practitioner/x' ? { display: 'Dr Ann Lee' } : undefined),
  );
  const hale: FhirResource = {
    resourceType: 'Immunization',
    id: 'h9',
    status: 'completed',
    vaccineCode: { text: 'Influenza' },
    patient: { reference: 'urn:uuid:patient' },
    occurrenceDateTime: '2021-10-01',
  };
  const from: RecordOrigin = {
    source: 'file.json',
    resourceType: 'Immunization',
    originalId: 'Immunization/i1',
    importedAt: '2026-11-27T00:00:00.000Z',
    resource: kept,
  };
  const resolve = (target: KeptTarget) =>
    'patient' in target
      ? { reference: 'urn:uuid:patient' }
      : 'account' in target
        ? { reference: `urn:uuid:${target.account}`, display: undefined }
        : 'kind' in target
          ? { reference: `urn:uuid:${target.id}` }
          : undefined;

  it('at import: the patient, a record and an account by marker; another by its words; a local one as it is', () => {
    expect(kept['patient']).toEqual({ reference: 'hale:patient' });
    expect(kept['encounter']).toEqual({
      reference: 'hale:record:Encounter:EncounterRecord00000001',
      display: 'the visit',
    });
    expect(kept['location']).toEqual({ reference: '#clinic' });
    expect(kept['contained']).toEqual(immunization.contained);
    expect(kept['performer']).toEqual([
      {
        function: { coding: [{ code: 'OP' }] },
        actor: { reference: 'hale:elsewhere', type: 'Practitioner', display: 'Dr Ann Lee' },
      },
      { function: { coding: [{ code: 'AP' }] }, actor: { reference: 'hale:account:DrAccount000000000001' } },
    ]);
    expect(keptTargetOf('hale:record:Encounter:EncounterRecord00000001')).toEqual(encounter);
    expect(keptTargetOf('Encounter/e1')).toBeUndefined();
  });

  it('a reference left with nothing is dropped, with what held only it', () => {
    const out = portableReferences(
      {
        resourceType: 'Condition',
        evidence: [{ detail: [{ reference: 'urn:uuid:x' }] }],
        note: [{ text: 'a' }],
      },
      () => undefined,
      () => undefined,
    );
    expect(out).toEqual({ resourceType: 'Condition', note: [{ text: 'a' }] });
  });

  it('on export, unchanged: the elements holding references leave whole, the markers as the export’s references', () => {
    const out = withSource(hale, from, false, resolve);
    expect(out['performer']).toEqual([
      { function: { coding: [{ code: 'OP' }] }, actor: { type: 'Practitioner', display: 'Dr Ann Lee' } },
      { function: { coding: [{ code: 'AP' }] }, actor: { reference: 'urn:uuid:DrAccount000000000001' } },
    ]);
    expect(out['encounter']).toEqual({ reference: 'urn:uuid:EncounterRecord00000001', display: 'the visit' });
    expect(out['patient']).toEqual({ reference: 'urn:uuid:patient' });
    expect(out['location']).toEqual({ reference: '#clinic' });
    expect(out['contained']).toEqual(immunization.contained);
    expect(out['vaccineCode']).toEqual(immunization.vaccineCode);
    expect(JSON.stringify(out)).not.toContain('hale:');
    expect(JSON.stringify(out['performer'])).toBe(
      JSON.stringify(out['performer'], (_k, v: unknown) => v ?? null),
    );
    expect(Object.keys((out['performer'] as { actor: object }[])[1]!.actor)).toEqual(['reference']);
  });

  it('on export, edited in Hale: Hale’s elements win over the source’s stale ones', () => {
    const edited = { ...hale, performer: [{ actor: { display: 'Nurse Kim' } }] };
    const out = withSource(edited, { ...from, sourceOnly: ['reportOrigin'] }, true, resolve);
    expect(out['performer']).toEqual([{ actor: { display: 'Nurse Kim' } }]);
    expect(out['vaccineCode']).toEqual(hale['vaccineCode']);
    expect(out['reportOrigin']).toEqual(immunization.reportOrigin);
    expect(out['encounter']).toBeUndefined();
    expect(out['contained']).toBeUndefined();
  });

  it('where Hale names a resource and the source names one not imported, Hale’s reference wins', () => {
    const named = { ...hale, performer: [{ actor: { reference: 'urn:uuid:DrAccount000000000002' } }] };
    const out = withSource(named, from, false, resolve);
    expect(out['performer']).toEqual(named['performer']);
  });

  it('a marker the export cannot write keeps the reference’s other parts', () => {
    const out = withSource(hale, from, false, () => undefined);
    expect(out['encounter']).toEqual({ display: 'the visit' });
  });
});

describe('kept attachments', () => {
  const report = {
    resourceType: 'DiagnosticReport',
    id: 'r1',
    status: 'final',
    code: { coding: [{ system: 'https://lab.example', code: '4503' }], text: 'Biopsy' },
    presentedForm: [
      { contentType: 'application/pdf', language: 'en', data: 'JVBERi0x'.repeat(8000), title: 'Biopsy' },
    ],
  };
  const hale: FhirResource = {
    resourceType: 'DiagnosticReport',
    id: 'h1',
    status: 'final',
    code: { text: 'Biopsy' },
    presentedForm: [{ contentType: 'application/pdf', url: 'hale-blob:Blob1', size: 48000, title: 'Biopsy' }],
  };
  const kept = keptSource(report)!;
  const from: RecordOrigin = {
    source: 'file.json',
    resourceType: 'DiagnosticReport',
    originalId: 'DiagnosticReport/r1',
    importedAt: '2026-11-27T00:00:00.000Z',
    resource: kept,
  };

  it('a file’s data is not kept (Hale stores it): the rest of a large source is', () => {
    expect(kept['presentedForm']).toEqual([
      { contentType: 'application/pdf', language: 'en', title: 'Biopsy', url: 'hale:file' },
    ]);
    expect(kept['code']).toEqual(report.code);
  });

  it('leaves with the source’s attachment and Hale’s stored file; edited, Hale’s', () => {
    const out = withSource(hale, from, false);
    expect(out['presentedForm']).toEqual([
      {
        contentType: 'application/pdf',
        language: 'en',
        title: 'Biopsy',
        url: 'hale-blob:Blob1',
        size: 48000,
      },
    ]);
    expect(out['code']).toEqual(report.code);
    const edited = withSource({ ...hale, code: { text: 'Gingival biopsy' } }, from, true);
    expect(edited['presentedForm']).toEqual(hale['presentedForm']);
    expect(edited['code']).toEqual({ text: 'Gingival biopsy' });
  });
});
