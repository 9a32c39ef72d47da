// An allergy's reactions: every reaction a source sent is kept in Hale's own fields (manifestation codes,
// severity, onset, description, notes) and exported from them; an edit of the summary fields wins.
import { describe, expect, it } from 'vitest';
import { searchFieldsOf } from './kind-descriptions';
import { reactionsInForce, reactionSummary } from './allergy-reactions';
import { at, exportOne, importOne, only } from './fhir.test-util';
import type { AllergyReaction } from './record-schemas';

const SNOMED = 'http://snomed.info/sct';
const CLINICAL = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';

const source = {
  resourceType: 'AllergyIntolerance',
  clinicalStatus: { coding: [{ system: CLINICAL, code: 'resolved' }] },
  code: { text: 'Cashew nuts' },
  note: [{ text: 'First note.' }, { text: 'Second note.' }],
  reaction: [
    {
      manifestation: [{ coding: [{ system: SNOMED, code: '39579001', display: 'Anaphylactic reaction' }] }],
      severity: 'severe',
      onset: '2012-06-12',
      description: 'Challenge test at the clinic',
    },
    {
      manifestation: [
        { coding: [{ system: SNOMED, code: '64305001', display: 'Urticaria' }] },
        { text: 'Itching' },
      ],
      severity: 'moderate',
      note: [{ text: 'Came back a year later.' }],
    },
  ],
  patient: { reference: 'Patient/p1' },
};

describe('an allergy’s reactions', () => {
  it('import keeps every reaction with its manifestations’ codes, severity, onset, description and notes', () => {
    const input = importOne(source);
    expect(input['reactions']).toEqual([
      {
        manifestations: [
          {
            text: 'Anaphylactic reaction',
            codes: [{ system: SNOMED, code: '39579001', display: 'Anaphylactic reaction' }],
          },
        ],
        severity: 'severe',
        onset: '2012-06-12',
        description: 'Challenge test at the clinic',
      },
      {
        manifestations: [
          { text: 'Urticaria', codes: [{ system: SNOMED, code: '64305001', display: 'Urticaria' }] },
          { text: 'Itching' },
        ],
        severity: 'moderate',
        notes: 'Came back a year later.',
      },
    ]);
    // The fields a person reads: every manifestation, the worst severity.
    expect(input['reaction']).toBe('Anaphylactic reaction; Urticaria, Itching');
    expect(input['severity']).toBe('severe');
    expect(input['notes']).toBe('First note.\n\nSecond note.');
    expect(input['active']).toBe(false);
    expect(input['clinicalStatus']).toBe('resolved');
  });

  it('export writes them back from Hale’s fields alone, with the resolved status', () => {
    const input = importOne(source);
    const { bundle } = exportOne('Allergy', {
      reaction: input['reaction'] as string,
      severity: 'severe',
      reactions: input['reactions'] as AllergyReaction[],
      active: false,
      clinicalStatus: 'resolved',
    });
    const resource = only(bundle, 'AllergyIntolerance');
    expect(at(resource, 'clinicalStatus.coding[0].code')).toBe('resolved');
    expect(at(resource, 'reaction[0].manifestation[0].coding[0].code')).toBe('39579001');
    expect(at(resource, 'reaction[0].severity')).toBe('severe');
    expect(at(resource, 'reaction[0].onset')).toBe('2012-06-12');
    expect(at(resource, 'reaction[0].description')).toBe('Challenge test at the clinic');
    expect(at(resource, 'reaction[1].manifestation')).toEqual([
      {
        text: 'Urticaria',
        coding: [{ system: SNOMED, code: '64305001', display: 'Urticaria' }],
      },
      { text: 'Itching' },
    ]);
    expect(at(resource, 'reaction[1].note[0].text')).toBe('Came back a year later.');
  });

  it('an edit of the reaction or the severity wins over the reactions a source sent', () => {
    const input = importOne(source);
    const reactions = input['reactions'] as AllergyReaction[];
    expect(reactionsInForce({ reaction: input['reaction'] as string, severity: 'severe', reactions })).toBe(
      reactions,
    );
    expect(reactionsInForce({ reaction: 'Hives', severity: 'severe', reactions })).toBeUndefined();
    expect(reactionsInForce({ reaction: input['reaction'] as string, severity: 'mild', reactions })).toBe(
      undefined,
    );
    const { bundle } = exportOne('Allergy', { reaction: 'Hives', severity: 'mild', reactions });
    expect(at(only(bundle, 'AllergyIntolerance'), 'reaction')).toEqual([
      { manifestation: [{ text: 'Hives' }], severity: 'mild' },
    ]);
  });

  it('a status the switch no longer agrees with gives way to it', () => {
    const { bundle } = exportOne('Allergy', { active: true, clinicalStatus: 'resolved' });
    expect(at(only(bundle, 'AllergyIntolerance'), 'clinicalStatus.coding[0].code')).toBe('active');
  });

  it('sums up to nothing without reactions, and search reads the reactions’ words', () => {
    expect(reactionSummary([])).toEqual({});
    expect(searchFieldsOf('Allergy')).toEqual(
      expect.arrayContaining(['reaction', 'reactions.description', 'reactions.notes']),
    );
  });
});
