// More of what an import keeps in Hale's own fields (not only in the source it keeps), each exported from
// those fields and overridden by an edit: a person's names, addresses, phones and identifiers
// (person-parts.ts), a visit's kinds, a medicine's further instructions, dosages, notes and dates, an
// allergy reaction's substance and route and the last reaction, a result part's codes.
import { describe, expect, it } from 'vitest';
import { at, exportOne, importOne, only } from './fhir.test-util';
import { personPartsOf } from './person-parts';
import type { RecordKind, RecordOf } from './registry';

const SNOMED = 'http://snomed.info/sct';
const V2 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const subject = { reference: 'Patient/p1' };

const exportedOwn = <K extends RecordKind>(kind: K, own: Record<string, unknown>) =>
  exportOne(kind, own as Partial<RecordOf<K>>).bundle;

describe('a person’s structured parts', () => {
  const mrn = {
    use: 'usual',
    type: { coding: [{ system: V2, code: 'MR' }] },
    system: 'urn:oid:1.2.36.146.595.217.0.1',
    value: '12345',
  };
  const patient = {
    resourceType: 'Patient',
    identifier: [mrn, { system: 'urn:hale:id', value: 'not-read' }],
    name: [
      { use: 'official', family: 'Chalmers', given: ['Peter', 'James'] },
      { use: 'maiden', family: 'Windsor', given: ['Peter'], period: { end: '2002' } },
    ],
    telecom: [
      { use: 'home' },
      { system: 'phone', value: '(03) 5555 6473', use: 'work', rank: 1 },
      { system: 'email', value: 'p.chalmers@example.org' },
    ],
    address: [{ use: 'home', line: ['534 Erewhon St'], city: 'PleasantVille', postalCode: '3999' }],
  };

  it('import keeps each as the source structured it, Hale’s own identifiers excepted', () => {
    const own = importOne(patient);
    expect(own).toMatchObject({
      fullName: 'Peter James Chalmers',
      medicalRecordNumber: '12345',
      contact: { phone: '(03) 5555 6473', email: 'p.chalmers@example.org' },
      names: patient.name,
      telecoms: patient.telecom,
      addresses: patient.address,
      identifiers: [{ ...mrn, type: { coding: [{ system: V2, code: 'MR' }] } }],
    });
  });

  it('export writes them while the one-line fields agree; an edit of those wins', () => {
    const own = importOne(patient);
    const kept = only(exportedOwn('Profile', own), 'Patient');
    expect(at(kept, 'name')).toEqual(patient.name);
    expect(at(kept, 'telecom')).toEqual(patient.telecom);
    expect(at(kept, 'address')).toEqual(patient.address);
    const identifiers = at(kept, 'identifier') as unknown[];
    expect(identifiers).toContainEqual(mrn);
    // The source's medical record number stands for Hale's: not written twice.
    expect(identifiers.filter((i) => JSON.stringify(i).includes('"MR"'))).toHaveLength(1);

    const edited = only(
      exportedOwn('Profile', {
        ...own,
        fullName: 'Pete Chalmers',
        contact: {
          phone: '0400 000 000',
          email: 'p.chalmers@example.org',
          address: '534 Erewhon St, PleasantVille, 3999',
        },
        medicalRecordNumber: '67890',
      }),
      'Patient',
    );
    expect(at(edited, 'name')).toEqual([{ text: 'Pete Chalmers' }]);
    expect(at(edited, 'telecom')).toEqual([
      { system: 'phone', value: '0400 000 000' },
      { system: 'email', value: 'p.chalmers@example.org' },
    ]);
    // The address was not edited: it leaves as the source structured it.
    expect(at(edited, 'address')).toEqual(patient.address);
    expect(JSON.stringify(at(edited, 'identifier'))).not.toContain('12345');
    expect(at(edited, 'identifier')).toContainEqual({
      type: { coding: [{ system: V2, code: 'MR', display: 'Medical record number' }] },
      value: '67890',
    });
  });

  it('an emergency contact keeps a related person’s parts and exports them', () => {
    const related = {
      resourceType: 'RelatedPerson',
      patient: subject,
      identifier: [{ use: 'official', type: { text: 'BSN' }, system: 'urn:oid:2.16.840.1.113883.2.4.6.3' }],
      relationship: [{ text: 'Wife' }],
      name: [{ use: 'usual', family: 'Abels', given: ['Sarah'] }],
      telecom: [{ system: 'phone', value: '0690383372', use: 'mobile' }],
      address: [{ use: 'home', line: ['Stationsplein 1'], city: 'Amsterdam', country: 'NLD' }],
    };
    const own = importOne(related);
    expect(own).toMatchObject({
      name: 'Sarah Abels',
      names: related.name,
      telecoms: related.telecom,
      addresses: related.address,
      identifiers: related.identifier,
    });
    const kept = only(exportedOwn('EmergencyContact', { email: undefined, ...own }), 'RelatedPerson');
    expect([at(kept, 'name'), at(kept, 'telecom'), at(kept, 'address')]).toEqual([
      related.name,
      related.telecom,
      related.address,
    ]);
    expect(at(kept, 'identifier')).toContainEqual(related.identifier[0]);
    const renamed = only(
      exportedOwn('EmergencyContact', { email: undefined, ...own, name: 'Sarah Jansen' }),
      'RelatedPerson',
    );
    expect(at(renamed, 'name')).toEqual([{ text: 'Sarah Jansen' }]);
  });

  it('what Hale’s own export writes from the one-line fields is not kept twice', () => {
    expect(
      personPartsOf(
        {
          name: [{ text: 'Ada Example' }],
          telecom: [{ system: 'phone', value: '+1 555 0100' }],
          address: [{ text: '1 Main St' }],
          identifier: [
            {
              type: { coding: [{ system: V2, code: 'MR', display: 'Medical record number' }] },
              value: 'M-1',
            },
          ],
        },
        { name: 'Ada Example', phone: '+1 555 0100', address: '1 Main St', mrn: 'M-1' },
      ),
    ).toEqual({});
  });
});

describe('a visit’s kinds', () => {
  it('import keeps every type with its codes, and export writes them', () => {
    const checkUp = { coding: [{ system: SNOMED, code: '185349003', display: 'Encounter for check up' }] };
    const own = importOne({
      resourceType: 'Encounter',
      id: 'e1',
      status: 'finished',
      class: { code: 'AMB' },
      type: [checkUp, { text: 'Annual review' }],
      subject,
      period: { start: '2024-05-01T09:00:00Z' },
    });
    expect(own['visitTypes']).toEqual([
      { text: 'Encounter for check up', codes: checkUp.coding },
      { text: 'Annual review' },
    ]);
    const kept = only(exportedOwn('Encounter', own), 'Encounter');
    expect(at(kept, 'type')).toEqual([
      { text: 'Encounter for check up', ...checkUp },
      { text: 'Annual review' },
    ]);
  });
});

describe('a medicine’s further instructions, dosages, notes and dates', () => {
  const withFood = { coding: [{ system: SNOMED, code: '311504000', display: 'With or after food' }] };
  const bedtime = { text: 'Take at bedtime' };
  const prescription = {
    resourceType: 'MedicationRequest',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: { text: 'Prednisolone 5 mg' },
    subject,
    authoredOn: '2015-01-15',
    note: [{ text: 'Tapering course.' }],
    dosageInstruction: [
      {
        sequence: 1,
        text: 'Two tablets daily',
        additionalInstruction: [withFood, bedtime],
        timing: { repeat: { timeOfDay: ['21:00:00'] } },
      },
      { sequence: 2, text: 'One tablet daily for 4 days', additionalInstruction: [withFood] },
    ],
    dispenseRequest: { validityPeriod: { start: '2015-01-16', end: '2015-02-15' } },
  };
  const origin = {
    source: 'rx.json',
    resourceType: 'MedicationRequest',
    originalId: 'MedicationRequest/rx',
    importedAt: '2026-11-27T10:00:00.000Z',
  };

  it('import keeps them', () => {
    const own = importOne(prescription);
    expect(own).toMatchObject({
      startDate: '2015-01-15',
      validFrom: '2015-01-16',
      endDate: '2015-02-15',
      notes: 'Tapering course.',
      schedule: { times: ['21:00'], food: 'with' },
      // The food instruction is the schedule's (as Hale's own export writes it): not kept twice.
      additionalInstructions: [bedtime],
      moreDosages: [
        {
          text: 'One tablet daily for 4 days',
          additionalInstructions: [{ text: 'With or after food', codes: withFood.coding }],
        },
      ],
    });
  });

  it('export writes them as the prescription it came from; a food instruction changed in Hale wins', () => {
    const own = importOne(prescription);
    const rx = only(exportedOwn('Medication', { ...own, origin }), 'MedicationRequest');
    expect(at(rx, 'authoredOn')).toBe('2015-01-15');
    expect(at(rx, 'dispenseRequest.validityPeriod')).toEqual({ start: '2015-01-16', end: '2015-02-15' });
    expect(at(rx, 'note')).toEqual([{ text: 'Tapering course.' }]);
    expect(at(rx, 'dosageInstruction[0].additionalInstruction')).toEqual([bedtime, withFood]);
    expect(at(rx, 'dosageInstruction[1]')).toEqual({
      sequence: 2,
      text: 'One tablet daily for 4 days',
      additionalInstruction: [{ text: 'With or after food', ...withFood }],
    });
    const noFood = only(
      exportedOwn('Medication', { ...own, origin, schedule: { times: ['21:00'], food: 'without' } }),
      'MedicationRequest',
    );
    expect(at(noFood, 'dosageInstruction[0].additionalInstruction')).toEqual([
      bedtime,
      { coding: [{ system: SNOMED, code: '717154004', display: 'Take on an empty stomach' }] },
    ]);
  });

  it('a statement keeps when it was asserted, as a day', () => {
    const own = importOne({
      resourceType: 'MedicationStatement',
      status: 'active',
      medicationCodeableConcept: { text: 'Salbutamol' },
      subject,
      dateAsserted: '2015-02-22',
    });
    expect(own['assertedDate']).toBe('2015-02-22');
    expect(at(only(exportedOwn('Medication', own), 'MedicationStatement'), 'dateAsserted')).toBe(
      '2015-02-22',
    );
  });
});

describe('an allergy’s reaction parts and last reaction; a result part’s codes', () => {
  it('import keeps a reaction’s substance and route and the last reaction; export writes them', () => {
    const substance = {
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '1160593' }],
    };
    const route = { coding: [{ system: SNOMED, code: '34206005', display: 'Subcutaneous route' }] };
    const own = importOne({
      resourceType: 'AllergyIntolerance',
      code: { text: 'Cashew nuts' },
      patient: subject,
      lastOccurrence: '2012-06',
      reaction: [{ substance, exposureRoute: route, manifestation: [{ text: 'Anaphylaxis' }] }],
    });
    expect(own['lastOccurrence']).toBe('2012-06');
    expect(own['reactions']).toEqual([
      {
        substance: { text: '1160593', codes: substance.coding },
        exposureRoute: { text: 'Subcutaneous route', codes: route.coding },
        manifestations: [{ text: 'Anaphylaxis' }],
      },
    ]);
    const kept = only(exportedOwn('Allergy', { severity: undefined, ...own }), 'AllergyIntolerance');
    expect(at(kept, 'lastOccurrence')).toBe('2012-06');
    expect(at(kept, 'reaction[0].substance.coding')).toEqual(substance.coding);
    expect(at(kept, 'reaction[0].exposureRoute.coding')).toEqual(route.coding);
  });

  it('a result part keeps its codes beside its LOINC code', () => {
    const own = importOne({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Blood pressure' },
      subject,
      effectiveDateTime: '2024-03-01T09:00:00Z',
      component: [
        {
          code: {
            coding: [
              { system: 'http://loinc.org', code: '8480-6' },
              { system: SNOMED, code: '271649006', display: 'Systolic blood pressure' },
            ],
          },
          valueQuantity: { value: 120, unit: 'mmHg' },
        },
      ],
    });
    const [part] = own['components'] as Record<string, unknown>[];
    expect(part).toMatchObject({
      testCode: '8480-6',
      codes: [{ system: SNOMED, code: '271649006', display: 'Systolic blood pressure' }],
    });
  });
});
