// The codes a record's detail shows beside its words: a source's codes while the words are still theirs.
import { describe, expect, it } from 'vitest';
import { codedWords } from './record-extras';

const SNOMED = 'http://snomed.info/sct';
const site = { system: SNOMED, code: '368209003', display: 'Right arm' };
const hives = { system: SNOMED, code: '247472004', display: 'Hives' };

describe('codes of coded words', () => {
  it('shows a body site’s, a value’s and a reaction’s codes while the words are theirs', () => {
    expect(
      codedWords({
        bodySite: 'Right arm',
        bodySites: [{ text: 'Right arm', codes: [site] }],
        value: 'Positive',
        valueConcept: { text: 'Positive', codes: [hives] },
        reaction: 'Hives',
        reactions: [{ manifestations: [{ text: 'Hives', codes: [hives] }] }],
      }),
    ).toEqual([
      ['bodySite', site],
      ['value', hives],
      ['reaction', hives],
    ]);
  });

  it('shows none once the words were edited', () => {
    expect(
      codedWords({
        bodySite: 'Left arm',
        bodySites: [{ text: 'Right arm', codes: [site] }],
        value: 'Negative',
        valueConcept: { text: 'Positive', codes: [hives] },
        reaction: 'Rash',
        reactions: [{ manifestations: [{ text: 'Hives', codes: [hives] }] }],
      }),
    ).toEqual([]);
  });
});
