import { describe, expect, it } from 'vitest';
import type { RecordOrigin } from './common-schemas';
import type { FhirResource } from './fhir-types';
import { MAX_KEPT_SOURCE_BYTES, keptSource, withSource } from './fhir-source';
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
    const withMaker = { ...medication, manufacturer: { reference: 'Organization/x' } };
    expect(keptSource({ ...statement, contained: [withMaker] })).not.toHaveProperty('contained');

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
