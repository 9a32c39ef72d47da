import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from './examples';
import { FhirExportError, toFhirBundle, validateFhirBundleShape, type FhirExportItem } from './fhir';
import { newId } from './ids';
import { RECORD_KINDS, RECORD_KIND_NAMES, toJsonSchema, type RecordKind, type RecordOf } from './registry';
import { validateRecord } from './validate';

import {
  GENERATED_AT,
  UCUM,
  LOINC,
  item,
  example,
  exportItems,
  refusal,
  once,
  allExamples,
  at,
  entriesOf,
  resourceAt,
  only,
  exportOne,
  exampleWithoutValidation,
} from './fhir.test-util';

describe('two Profiles for one patient', () => {
  const patientUrl = `urn:hale:Patient/${EXAMPLE_PATIENT_ID}`;
  const older = exampleRecord('Profile', {
    fullName: 'Ada Example',
    bloodType: 'O+',
    updatedAt: '2024-05-02T14:05:00.000Z',
  });
  const newer = exampleRecord('Profile', {
    fullName: 'Ada M. Example',
    bloodType: 'A+',
    contact: { phone: '+1 555 0199' },
    updatedAt: '2024-05-03T09:00:00.000Z',
  });
  const audit = exampleRecord('AuditEntry', { entityType: 'Profile', entityId: older.id });
  const input = [
    item('Profile', older),
    item('Profile', newer),
    item('AuditEntry', audit),
    ...allExamples().filter((example) => example.kind !== 'Profile'),
  ];
  const bundle = once(() => exportItems(input));

  it('exports a valid bundle instead of failing the whole export', () => {
    expect(validateFhirBundleShape(bundle())).toMatchObject({ ok: true });
    expect(entriesOf(bundle(), 'Patient')).toHaveLength(2);
  });

  it("makes the latest edited Profile the export's Patient, which every record references", () => {
    const patient = resourceAt(bundle(), 'Patient', EXAMPLE_PATIENT_ID);
    expect(at(patient, 'name[0].text')).toBe('Ada M. Example');
    expect(patient.identifier).toContainEqual({ system: 'urn:hale:account', value: EXAMPLE_PATIENT_ID });
    expect(patient.identifier).toContainEqual({ system: 'urn:hale:id', value: newer.id });
    expect(at(only(bundle(), 'AllergyIntolerance'), 'patient.reference')).toBe(patientUrl);
  });

  it('keeps the other Profile as a Patient of its own id, linked both ways with seealso', () => {
    const other = resourceAt(bundle(), 'Patient', older.id);
    expect(at(other, 'name[0].text')).toBe('Ada Example');
    expect(other.identifier).toContainEqual({ system: 'urn:hale:id', value: older.id });
    expect(other.identifier).not.toContainEqual(expect.objectContaining({ system: 'urn:hale:account' }));
    expect(other.link).toEqual([{ other: { reference: patientUrl }, type: 'seealso' }]);
    expect(resourceAt(bundle(), 'Patient', EXAMPLE_PATIENT_ID).link).toEqual([
      { other: { reference: `urn:hale:Patient/${older.id}` }, type: 'seealso' },
    ]);
  });

  it('keeps both blood types, so a contradiction stays visible', () => {
    const bloodTypes = entriesOf(bundle(), 'Observation')
      .filter((resource) => at(resource, 'code.coding[0].code') === '882-1')
      .map((resource) => [
        resource.id,
        at(resource, 'valueCodeableConcept.text'),
        at(resource, 'subject.reference'),
      ]);
    expect(bloodTypes).toEqual(
      expect.arrayContaining([
        [`${older.id}-blood-type`, 'O+', patientUrl],
        [`${newer.id}-blood-type`, 'A+', patientUrl],
      ]),
    );
  });

  it('points a reference to the other Profile at its own Patient', () => {
    expect(at(resourceAt(bundle(), 'AuditEvent', audit.id), 'entity[0].what.reference')).toBe(
      `urn:hale:Patient/${older.id}`,
    );
  });

  it('chooses the same Profile whatever the input order; equal times go to the greater id', () => {
    expect(exportItems([...input].reverse())).toEqual(bundle());
    const tie = { ...older, id: newId(), updatedAt: newer.updatedAt };
    const winner = tie.id > newer.id ? tie : newer;
    for (const order of [
      [newer, tie],
      [tie, newer],
    ]) {
      const tied = exportItems(order.map((profile) => item('Profile', profile)));
      expect(at(resourceAt(tied, 'Patient', EXAMPLE_PATIENT_ID), 'name[0].text')).toBe(winner.fullName);
    }
  });

  it('still refuses one Profile listed twice', () => {
    expect(refusal(() => exportItems([item('Profile', older), item('Profile', older)]))).toMatchObject({
      code: 'DUPLICATE_RESOURCE',
      recordId: older.id,
    });
  });
});

// -------------------------------------------------------------------------------------------- inputs

const optionalFields = (kind: RecordKind): string[] => {
  const schema = toJsonSchema(kind);
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  return Object.keys(schema.properties as object).filter((field) => !required.has(field));
};

describe('optional fields', () => {
  it.each(RECORD_KIND_NAMES)(
    '%s exports a valid bundle with each optional field left out or empty',
    (kind) => {
      let exported = 0;
      for (const field of optionalFields(kind)) {
        const full: Record<string, unknown> = { ...exampleRecord(kind) };
        const value = full[field];
        const without = { ...full };
        delete without[field];
        const variants = [without];
        if (typeof value === 'string') variants.push({ ...full, [field]: '' });
        if (Array.isArray(value)) variants.push({ ...full, [field]: [] });
        for (const variant of variants) {
          const checked = validateRecord(kind, variant);
          if (!checked.ok) continue; // a cross-field rule needs it (e.g. signedAt when signed)
          const bundle = exportItems([item(kind, checked.value)]);
          const shape = validateFhirBundleShape(bundle);
          expect(shape.ok ? [] : shape.error.issues, `${kind} without ${field}`).toEqual([]);
          exported += 1;
        }
      }
      expect(exported).toBeGreaterThan(0);
    },
  );
});

describe('input errors', () => {
  const code = (run: () => unknown): string | undefined => {
    try {
      run();
    } catch (error) {
      if (error instanceof FhirExportError) return error.code;
      throw error;
    }
    return undefined;
  };

  it('refuses a record of another patient', () => {
    const foreign = exampleRecord('Allergy', { patientId: 'SomeoneElse00000000001' });
    expect(code(() => exportItems([item('Allergy', foreign)]))).toBe('PATIENT_MISMATCH');
  });

  it('refuses an invalid record and says which field', () => {
    const bad = exampleRecord('Allergy', { severity: 'fatal' as 'severe' });
    try {
      exportItems([item('Allergy', bad)]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FhirExportError);
      const detail = (error as FhirExportError).detail;
      expect(detail).toMatchObject({ code: 'INVALID_RECORD', kind: 'Allergy', recordId: bad.id });
      expect(detail.issues?.map((issue) => issue.field)).toContain('severity');
    }
  });

  it('refuses a record listed twice', () => {
    const allergy = exampleRecord('Allergy');
    expect(code(() => exportItems([item('Allergy', allergy), item('Allergy', allergy)]))).toBe(
      'DUPLICATE_RESOURCE',
    );
  });

  it('refuses a bad patient id, timestamp or signature', () => {
    expect(code(() => toFhirBundle({ patientId: 'short', records: [], generatedAt: GENERATED_AT }))).toBe(
      'INVALID_INPUT',
    );
    expect(
      code(() =>
        toFhirBundle({ patientId: EXAMPLE_PATIENT_ID, records: [], generatedAt: '2024-06-01 12:00' }),
      ),
    ).toBe('INVALID_INPUT');
    expect(code(() => exportItems([item('Allergy', exampleRecord('Allergy'), 'not base64!')]))).toBe(
      'INVALID_INPUT',
    );
    expect(
      code(() =>
        toFhirBundle({
          patientId: EXAMPLE_PATIENT_ID,
          records: [{ kind: 'Nope', record: exampleRecord('Allergy') } as unknown as FhirExportItem],
          generatedAt: GENERATED_AT,
        }),
      ),
    ).toBe('INVALID_INPUT');
  });

  it('exports an empty record list as a bundle holding only the Patient', () => {
    const bundle = exportItems([]);
    expect(bundle.entry.map((entry) => entry.resource.resourceType)).toEqual(['Patient']);
  });

  it('maps every kind in the registry', () => {
    // A kind added to RECORD_KINDS without a mapping would throw or export nothing of its type.
    for (const kind of RECORD_KIND_NAMES) {
      const bundle = exportItems([example(kind)]);
      const types = bundle.entry.map((entry) => entry.resource.resourceType);
      const expected = kind === 'ProviderProfile' ? 'PractitionerRole' : RECORD_KINDS[kind].fhirResource;
      expect(types, kind).toContain(kind === 'Profile' ? 'Patient' : expected);
    }
  });
});

// ------------------------------------------------------------------------------------------ validator

describe('lab values written as text', () => {
  // Without the record's own notes, which go in `note` beside a text value's units.
  const observationOf = (overrides: Partial<RecordOf<'LabResult'>>, omit: readonly string[] = []) => {
    const { record, bundle } = exportOne('LabResult', overrides, ['notes', ...omit]);
    return resourceAt(bundle, 'Observation', record.id, record.version);
  };

  it.each([
    ['<0.5', 'ng/mL', { value: 0.5, comparator: '<', unit: 'ng/mL', system: UCUM, code: 'ng/mL' }],
    ['< 0.5', 'ng/mL', { value: 0.5, comparator: '<', unit: 'ng/mL', system: UCUM, code: 'ng/mL' }],
    ['>=10', 'cells/hpf', { value: 10, comparator: '>=', unit: 'cells/hpf' }],
    ['≤ 5', 'mmol/L', { value: 5, comparator: '<=', unit: 'mmol/L', system: UCUM, code: 'mmol/L' }],
    ['> 1000', 'U/L', { value: 1000, comparator: '>', unit: 'U/L', system: UCUM, code: 'U/L' }],
    ['12.5', 'mg/dL', { value: 12.5, unit: 'mg/dL', system: UCUM, code: 'mg/dL' }],
  ] as const)('%j with units %j is a valueQuantity keeping the unit', (value, units, expected) => {
    const observation = observationOf({ value, units });
    expect(observation.valueQuantity).toEqual(expected);
    expect(observation.valueString).toBeUndefined();
    expect(observation.note).toBeUndefined();
  });

  it('a comparator without units is a valueQuantity without a unit', () => {
    expect(observationOf({ value: '<0.5' }, ['units']).valueQuantity).toEqual({
      value: 0.5,
      comparator: '<',
    });
  });

  it('other text keeps its words in valueString and says the units in a note, not glued to the value', () => {
    const observation = observationOf({ value: 'positive', units: 'ng/mL' });
    expect(observation.valueString).toBe('positive');
    expect(observation.valueQuantity).toBeUndefined();
    expect(observation.note).toEqual([{ text: 'Units: ng/mL' }]);
  });

  it('maps earlier versions the same way', () => {
    const [prior] = exampleRecord('LabResult').versions;
    const { record, bundle } = exportOne('LabResult', {
      versions: [{ ...prior!, value: '<0.5', units: 'ng/mL' }],
    });
    expect(resourceAt(bundle, 'Observation', record.id, 1).valueQuantity).toEqual({
      value: 0.5,
      comparator: '<',
      unit: 'ng/mL',
      system: UCUM,
      code: 'ng/mL',
    });
  });

  it('refuses a comparator outside the R4 value set in the shape check', () => {
    const bundle = exportItems([example('LabResult', { value: '<0.5' })]);
    const observation = entriesOf(bundle, 'Observation').at(-1) as Record<string, unknown>;
    (observation.valueQuantity as Record<string, unknown>).comparator = '=<';
    const shape = validateFhirBundleShape(bundle);
    expect(shape.ok ? [] : shape.error.issues.map((issue) => issue.reason)).toEqual([
      'must be one of <, <=, >=, >',
    ]);
  });
});

describe('codes and their systems', () => {
  const CVX = 'http://hl7.org/fhir/sid/cvx';

  it.each([
    ['115', { coding: [{ system: CVX, code: '115' }], text: 'Tdap' }],
    ['03', { coding: [{ system: CVX, code: '03' }], text: 'Tdap' }],
    ['59267-1000-1', { text: 'Tdap (code 59267-1000-1)' }],
    ['1150', { text: 'Tdap (code 1150)' }],
    ['J07CA', { text: 'Tdap (code J07CA)' }],
  ] as const)('vaccineCode %j', (vaccineCode, expected) => {
    const { bundle } = exportOne('Immunization', { vaccineName: 'Tdap', vaccineCode });
    expect(only(bundle, 'Immunization').vaccineCode).toEqual(expected);
    expect(at(only(bundle, 'ImmunizationRecommendation'), 'recommendation[0].vaccineCode[0]')).toEqual(
      expected,
    );
  });

  it.each([
    ['2345-7', { coding: [{ system: LOINC, code: '2345-7' }], text: 'Glucose' }],
    ['718-7', { coding: [{ system: LOINC, code: '718-7' }], text: 'Glucose' }],
    ['2345-8', { text: 'Glucose (code 2345-8)' }], // wrong check digit
    ['GLU', { text: 'Glucose (code GLU)' }],
    ['12345', { text: 'Glucose (code 12345)' }],
  ] as const)('testCode %j', (testCode, expected) => {
    const { record, bundle } = exportOne('LabResult', { testName: 'Glucose', testCode, codes: [] });
    expect(resourceAt(bundle, 'Observation', record.id, record.version).code).toEqual(expected);
    expect(only(bundle, 'ServiceRequest').code).toEqual(expected);
    expect(only(bundle, 'DiagnosticReport').code).toEqual(expected);
  });
});

describe('what patients may leave out', () => {
  it('an allergy without severity exports its reaction without one', () => {
    const { bundle } = exportOne('Allergy', {}, ['severity']);
    expect(only(bundle, 'AllergyIntolerance').reaction).toEqual([{ manifestation: [{ text: 'Hives' }] }]);
  });

  it('an allergy without severity or reaction exports no reaction', () => {
    const { bundle } = exportOne('Allergy', {}, ['severity', 'reaction']);
    expect(only(bundle, 'AllergyIntolerance').reaction).toBeUndefined();
  });

  it('a year or a month is exported as the FHIR partial dateTime it is', () => {
    expect(only(exportOne('Immunization', { administeredAt: '1995' }).bundle, 'Immunization')).toMatchObject({
      occurrenceDateTime: '1995',
    });
    expect(
      only(exportOne('Allergy', { onsetDate: '2009-06' }).bundle, 'AllergyIntolerance').onsetDateTime,
    ).toBe('2009-06');
  });

  it('refuses, rather than exports without a code, a test or vaccine named only in blanks', () => {
    const lab = exampleWithoutValidation('LabResult', ['testCode'], { testName: ' ' });
    expect(refusal(() => exportItems([item('LabResult', lab)]))).toMatchObject({
      code: 'INVALID_RECORD',
      issues: [{ field: 'testName', reason: 'must not be empty' }],
    });
    const shot = exampleWithoutValidation('Immunization', ['vaccineCode'], { vaccineName: '\u200b' });
    expect(refusal(() => exportItems([item('Immunization', shot)]))).toMatchObject({
      code: 'INVALID_RECORD',
      issues: [{ field: 'vaccineName', reason: 'must not be empty' }],
    });
  });
});

// Two devices that edit a record offline both keep their edit: sync shows one version and keeps the
// others beside it until a person decides (the client's `conflictData`). An export must not hand a
// clinician one of them as settled.
