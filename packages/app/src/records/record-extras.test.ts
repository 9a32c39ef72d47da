// The codes a record's detail shows beside its words: a source's codes while the words are still theirs.
import { describe, expect, it } from 'vitest';
import { createI18n } from '../i18n';
import { codedWords, sampledSummary, sourceParts } from './record-extras';

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

describe('what a source structured beyond the form', () => {
  const profile = {
    fullName: 'Peter Chalmers',
    medicalRecordNumber: '12345',
    contact: { phone: '555 0100', address: '1 Main St, Springfield' },
    names: [
      { use: 'official', family: 'Chalmers', given: ['Peter'] },
      { use: 'maiden', family: 'Windsor', given: ['Peter'] },
    ],
    addresses: [{ use: 'home', line: ['1 Main St'], city: 'Springfield' }],
    telecoms: [{ system: 'phone', value: '555 0100', use: 'work' }, { use: 'home' }],
    identifiers: [
      { type: { coding: [{ system: 'v2', code: 'MR', display: 'Medical record number' }] }, value: '12345' },
      { type: { text: 'Passport' }, system: 'urn:passport', value: 'X1' },
    ],
  };

  it('shows a person’s names, addresses, ways to reach and identifiers while in force', () => {
    expect(sourceParts(profile)).toEqual([
      [
        'extras.names',
        [
          { words: 'Peter Chalmers', use: 'extras.use.official' },
          { words: 'Peter Windsor', use: 'extras.use.maiden' },
        ],
      ],
      ['extras.addresses', [{ words: '1 Main St, Springfield', use: 'extras.use.home' }]],
      [
        'extras.telecoms',
        [
          { words: '555 0100', system: 'extras.telecom.phone', use: 'extras.use.work' },
          { words: '—', use: 'extras.use.home' },
        ],
      ],
      [
        'extras.identifiers',
        [{ words: 'Medical record number 12345' }, { words: 'Passport X1 (urn:passport)' }],
      ],
    ]);
  });

  it('shows none of a part once its one-line field was edited', () => {
    const edited = {
      ...profile,
      fullName: 'Pete Chalmers',
      medicalRecordNumber: '999',
      contact: { phone: '555 0199', address: '2 Elm St' },
    };
    expect(sourceParts(edited)).toEqual([['extras.identifiers', [{ words: 'Passport X1 (urn:passport)' }]]]);
  });

  it('shows a visit’s kinds and a medicine’s further instructions and dosages', () => {
    expect(
      sourceParts({
        visitTypes: [{ text: 'Check-up' }],
        additionalInstructions: [{ text: 'At bedtime' }],
        moreDosages: [{ text: 'One tablet for 4 days', route: { text: 'Oral' } }],
      }),
    ).toEqual([
      ['fields.visitTypes', [{ words: 'Check-up' }]],
      ['fields.additionalInstructions', [{ words: 'At bedtime' }]],
      ['extras.moreDosages', [{ words: 'One tablet for 4 days — Oral' }]],
    ]);
  });
});

describe('a result part’s samples (an ECG lead)', () => {
  const lead = {
    origin: { value: 2048 },
    period: 10,
    factor: 1.612,
    lowerLimit: -3300,
    upperLimit: 3300,
    dimensions: 1,
    data: '2041 2043 2037 2047 E U',
  };

  it('reads in short: how many samples, how often, how a datum reads; not the data', async () => {
    const { t } = await createI18n('en');
    expect(sampledSummary(t, lead)).toBe('6 samples, one every 10 ms, value = 2048 + 1.612 × datum');
    expect(sampledSummary(t, { ...lead, factor: 1, origin: { value: 0, unit: 'mV' }, dimensions: 2 })).toBe(
      '3 samples, one every 10 ms, in mV',
    );
    expect(sampledSummary(t, undefined)).toBeUndefined();
    const zh = await createI18n('zh-Hant');
    expect(sampledSummary(zh.t, lead)).toBe('6 個取樣點，每 10 毫秒一個, 數值 = 2048 + 1.612 × 資料值');
  });

  it('a coded value sent without a system shows its code all the same', () => {
    const pathogenic = { code: 'LA6669-1', display: 'Pathogenic' };
    expect(
      codedWords({ value: 'Pathogenic', valueConcept: { text: 'Pathogenic', codes: [pathogenic] } }),
    ).toEqual([['value', pathogenic]]);
  });
});
