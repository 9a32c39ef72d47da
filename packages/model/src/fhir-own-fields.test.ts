// What an imported result, condition or procedure keeps in Hale's own fields (not only in the source it
// keeps): a result's interpretation, notes, body site, units as coded, a part's reason for no value; a
// condition's and a procedure's coded body sites. Each is exported from those fields, and an edit wins.
import { describe, expect, it } from 'vitest';
import { searchFieldsOf } from './kind-descriptions';
import { at, exportOne, importOne, only, resourceAt } from './fhir.test-util';
import type { RecordKind, RecordOf } from './registry';

const SNOMED = 'http://snomed.info/sct';
const UCUM = 'http://unitsofmeasure.org';
const V3 = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const ABSENT = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';
const subject = { reference: 'Patient/p1' };

/** An example record of `kind` with the fields Hale's import made (the source it keeps left out). */
const exportedOwn = <K extends RecordKind>(kind: K, own: Record<string, unknown>) =>
  exportOne(kind, own as Partial<RecordOf<K>>);

const bloodPressure = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure panel' }] },
  subject,
  effectiveDateTime: '2024-03-01T09:00:00Z',
  interpretation: [{ coding: [{ system: V3, code: 'H', display: 'High' }], text: 'Above the range' }],
  bodySite: { coding: [{ system: SNOMED, code: '368209003', display: 'Right arm' }] },
  note: [{ text: 'Taken after a walk.' }],
  component: [
    {
      code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
      valueQuantity: { value: 150, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' },
    },
    {
      code: { coding: [{ system: 'http://loinc.org', code: '8462-4', display: 'Diastolic blood pressure' }] },
      dataAbsentReason: { coding: [{ system: ABSENT, code: 'error', display: 'Error' }] },
    },
  ],
};

describe('a result’s own fields', () => {
  it('import keeps the interpretation, body site, notes, coded units and a part’s reason for no value', () => {
    const own = importOne(bloodPressure);
    expect(own['interpretation']).toBe('Above the range');
    expect(own['interpretations']).toEqual([
      { text: 'Above the range', codes: [{ system: V3, code: 'H', display: 'High' }] },
    ]);
    expect(own['bodySite']).toBe('Right arm');
    expect(own['bodySites']).toEqual([
      { text: 'Right arm', codes: [{ system: SNOMED, code: '368209003', display: 'Right arm' }] },
    ]);
    expect(own['notes']).toBe('Taken after a walk.');
    expect(own['components']).toEqual([
      {
        testCode: '8480-6',
        testName: 'Systolic blood pressure',
        value: 150,
        units: 'mmHg',
        unitsCoded: { unit: 'mmHg', system: UCUM, code: 'mm[Hg]' },
      },
      {
        testCode: '8462-4',
        testName: 'Diastolic blood pressure',
        dataAbsentReason: { text: 'Error', codes: [{ system: ABSENT, code: 'error', display: 'Error' }] },
      },
    ]);
  });

  it('export writes them from Hale’s fields: the UCUM code as given, not Hale’s guess', () => {
    const own = importOne(bloodPressure);
    const { record, bundle } = exportedOwn('LabResult', own);
    const observation = resourceAt(bundle, 'Observation', record.id, record.version);
    expect(at(observation, 'interpretation')).toEqual([
      { text: 'Above the range', coding: [{ system: V3, code: 'H', display: 'High' }] },
    ]);
    expect(at(observation, 'bodySite.coding[0].code')).toBe('368209003');
    expect(at(observation, 'note')).toEqual([{ text: 'Taken after a walk.' }]);
    expect(at(observation, 'component[0].valueQuantity')).toEqual({
      value: 150,
      unit: 'mmHg',
      system: UCUM,
      code: 'mm[Hg]',
    });
    expect(at(observation, 'component[1].dataAbsentReason.coding[0].code')).toBe('error');
    expect(at(observation, 'component[1].valueQuantity')).toBeUndefined();
  });

  it('an edit of the words wins over the codes a source sent beside them', () => {
    const own = importOne(bloodPressure);
    const { record, bundle } = exportedOwn('LabResult', {
      ...own,
      interpretation: 'Normal',
      bodySite: 'Left arm',
      value: 120,
      units: 'mg/dL',
      unitsCoded: { unit: 'mmol/L', system: UCUM, code: 'mmol/L' },
    });
    const observation = resourceAt(bundle, 'Observation', record.id, record.version);
    expect(at(observation, 'interpretation')).toEqual([{ text: 'Normal' }]);
    expect(at(observation, 'bodySite')).toEqual({ text: 'Left arm' });
    expect(at(observation, 'valueQuantity.code')).toBe('mg/dL');
  });

  it('a coded value keeps its codes, is exported with them, and a value typed since wins', () => {
    const positive = { coding: [{ system: SNOMED, code: '10828004', display: 'Positive' }] };
    const own = importOne({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Strep A antigen' },
      subject,
      effectiveDateTime: '2024-03-01',
      valueCodeableConcept: positive,
    });
    expect(own['value']).toBe('Positive');
    expect(own['valueConcept']).toEqual({ text: 'Positive', codes: positive.coding });
    const { record, bundle } = exportedOwn('LabResult', { ...own, units: undefined, components: undefined });
    const observation = resourceAt(bundle, 'Observation', record.id, record.version);
    expect(at(observation, 'valueCodeableConcept')).toEqual({ text: 'Positive', coding: positive.coding });
    expect(at(observation, 'valueString')).toBeUndefined();
    const typed = exportedOwn('LabResult', { ...own, value: 'Negative', units: undefined });
    const corrected = resourceAt(typed.bundle, 'Observation', typed.record.id, typed.record.version);
    expect(at(corrected, 'valueString')).toBe('Negative');
    expect(at(corrected, 'valueCodeableConcept')).toBeUndefined();
  });

  it('a reference range keeps its limits as numbers while its text is unchanged', () => {
    const limits = {
      low: { value: 3.5, unit: 'mmol/L', system: UCUM, code: 'mmol/L' },
      high: { value: 5.1, unit: 'mmol/L', system: UCUM, code: 'mmol/L' },
    };
    const own = importOne({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Potassium' },
      subject,
      effectiveDateTime: '2024-03-01',
      valueQuantity: { value: 4.2, unit: 'mmol/L', system: UCUM, code: 'mmol/L' },
      referenceRange: [limits],
    });
    expect(own['referenceRange']).toBe('3.5-5.1 mmol/L');
    expect(own['referenceRangeCoded']).toEqual({ text: '3.5-5.1 mmol/L', ...limits });
    const { record, bundle } = exportedOwn('LabResult', own);
    const observation = resourceAt(bundle, 'Observation', record.id, record.version);
    expect(at(observation, 'referenceRange')).toEqual([{ text: '3.5-5.1 mmol/L', ...limits }]);
    const typed = exportedOwn('LabResult', { ...own, referenceRange: '3.4-5.0 mmol/L' });
    const edited = resourceAt(typed.bundle, 'Observation', typed.record.id, typed.record.version);
    expect(at(edited, 'referenceRange')).toEqual([{ text: '3.4-5.0 mmol/L' }]);
  });

  it('search reads the interpretation, the body site and the notes', () => {
    expect(searchFieldsOf('LabResult')).toEqual(
      expect.arrayContaining(['interpretation', 'bodySite', 'notes']),
    );
  });
});

describe('a condition’s and a procedure’s coded body sites', () => {
  const site = { coding: [{ system: SNOMED, code: '80248007', display: 'Left breast structure' }] };

  it.each([
    [
      'Condition',
      {
        resourceType: 'Condition',
        clinicalStatus: { coding: [{ code: 'resolved' }] },
        code: { text: 'Lump' },
        bodySite: [site],
        subject,
      },
    ],
    [
      'Procedure',
      { resourceType: 'Procedure', status: 'completed', code: { text: 'Biopsy' }, bodySite: [site], subject },
    ],
  ] as const)('%s keeps them, exports them, and an edit of the site wins', (kind, resource) => {
    const own = importOne(resource);
    expect(own['bodySite']).toBe('Left breast structure');
    expect(own['bodySites']).toEqual([{ text: 'Left breast structure', codes: site.coding }]);
    const kept = only(exportedOwn(kind, own).bundle, kind);
    expect(at(kept, 'bodySite')).toEqual([{ text: 'Left breast structure', coding: site.coding }]);
    const edited = only(exportedOwn(kind, { ...own, bodySite: 'Right breast' }).bundle, kind);
    expect(at(edited, 'bodySite')).toEqual([{ text: 'Right breast' }]);
  });
});

describe('a medication’s own fields', () => {
  const oral = { coding: [{ system: SNOMED, code: '26643006', display: 'Oral route' }] };
  const prescription = {
    resourceType: 'MedicationRequest',
    status: 'cancelled',
    intent: 'order',
    medicationCodeableConcept: { text: 'Amoxicillin' },
    subject,
    reasonCode: [{ coding: [{ system: SNOMED, code: '43878008', display: 'Streptococcal sore throat' }] }],
    dosageInstruction: [
      {
        text: 'One capsule three times a day for ten days',
        patientInstruction: 'Finish the course.',
        route: oral,
        doseAndRate: [{ doseQuantity: { value: 500, unit: 'mg' } }],
      },
    ],
  };

  it('import keeps the dosage as written, the coded route and reasons, the instructions and the status', () => {
    const own = importOne(prescription);
    expect(own).toMatchObject({
      dose: '500 mg',
      dosageText: 'One capsule three times a day for ten days',
      instructions: 'Finish the course.',
      route: 'Oral route',
      routes: [{ text: 'Oral route', codes: oral.coding }],
      reason: 'Streptococcal sore throat',
      reasons: [{ text: 'Streptococcal sore throat' }],
      active: false,
      status: 'stopped',
    });
  });

  it('export writes them from Hale’s fields; an edit of the route, the reason or the switch wins', () => {
    const own = importOne(prescription);
    const kept = only(exportedOwn('Medication', own).bundle, 'MedicationStatement');
    expect(at(kept, 'status')).toBe('stopped');
    expect(at(kept, 'dosage[0].text')).toBe('One capsule three times a day for ten days');
    expect(at(kept, 'dosage[0].patientInstruction')).toBe('Finish the course.');
    expect(at(kept, 'dosage[0].route')).toEqual({ text: 'Oral route', coding: oral.coding });
    expect(at(kept, 'reasonCode[0].coding[0].code')).toBe('43878008');
    const edited = only(
      exportedOwn('Medication', { ...own, route: 'inhaled', reason: 'Asthma', active: true }).bundle,
      'MedicationStatement',
    );
    expect(at(edited, 'status')).toBe('active');
    expect(at(edited, 'dosage[0].route')).toEqual({ text: 'inhaled' });
    expect(at(edited, 'reasonCode')).toEqual([{ text: 'Asthma' }]);
  });

  it('a dose in words and the dosage as written both go in the dosage’s text', () => {
    const { bundle } = exportOne('Medication', { dose: 'one tablet', dosageText: 'with food' });
    expect(at(only(bundle, 'MedicationStatement'), 'dosage[0].text')).toBe('one tablet; with food');
  });

  it('search reads the dosage as written', () => {
    expect(searchFieldsOf('Medication')).toContain('dosageText');
  });
});
