// Local search's index: ranked records with the field matched, prefix and typo matching, Han characters,
// updates and removals, and nothing of a kind search does not read.
import { describe, expect, it } from 'vitest';
import { RECORD_KIND_NAMES, exampleRecord, type RecordKind, type RecordOf } from '@hale/model';
import type { StoredRecord } from '../records/records';
import { createRecordIndex, tokenize } from './record-index';
import { SEARCH_FIELDS, fieldText } from './search-fields';

let seq = 0;
const stored = <K extends RecordKind>(
  kind: K,
  fields: { [F in keyof RecordOf<K>]?: RecordOf<K>[F] | undefined } = {},
): StoredRecord<K> => ({
  kind,
  // Through JSON: a field given as undefined is left out, as the store leaves it.
  record: JSON.parse(
    JSON.stringify({ ...exampleRecord(kind), ...fields, id: `R${String(++seq).padStart(4, '0')}` }),
  ) as RecordOf<K>,
  author: 'DevA000000000000000001',
  by: 'PatientAccount00000001',
  conflict: false,
  conflictData: null,
  rv: 1,
});

describe('createRecordIndex', () => {
  it('finds records by their text fields, best match first, naming the field matched', () => {
    const index = createRecordIndex();
    const allergy = stored('Allergy', { substance: 'Penicillin', reaction: 'Hives', notes: undefined });
    const med = stored('Medication', {
      name: 'Amoxicillin',
      instructions: 'Not with penicillin allergy',
      reason: 'Otitis',
    });
    const lab = stored('LabResult', { testName: 'Glucose [Mass/volume] in Serum or Plasma' });
    for (const r of [allergy, med, lab]) index.set(r);

    const { hits, total } = index.search('penicillin');
    expect(total).toBe(2);
    expect(hits.map((h) => [h.record.record.id, h.kind, h.field])).toEqual([
      [allergy.record.id, 'Allergy', 'substance'],
      [med.record.id, 'Medication', 'instructions'],
    ]);
    expect(hits[0]?.terms).toEqual(['penicillin']);
    expect(index.search('glucose serum').hits.map((h) => h.field)).toEqual(['testName']);
  });

  it('matches word prefixes, typos in longer words, any case and accents', () => {
    const index = createRecordIndex();
    const doc = stored('HealthDocument', {
      title: 'Résumé de sortie, Hôpital Riverside',
      description: undefined,
    });
    index.set(doc);
    expect(index.search('hop').total).toBe(1);
    expect(index.search('RESUME').total).toBe(1);
    expect(index.search('riversdie').total).toBe(1);
    // Every word must match.
    expect(index.search('riverside glucose').total).toBe(0);
    expect(index.search('   ').total).toBe(0);
  });

  it('reads nested and listed fields: a file name, tags, attachments', () => {
    const index = createRecordIndex();
    const doc = stored('HealthDocument', {
      title: 'Scan',
      tags: ['cardiology'],
      file: { ...exampleRecord('HealthDocument').file, fileName: 'echo-2024.pdf' },
    });
    const msg = stored('Message', {
      body: 'see attached',
      attachments: [{ ...exampleRecord('HealthDocument').file, fileName: 'bp-readings.csv' }],
    });
    index.set(doc);
    index.set(msg);
    expect(index.search('cardiology').hits[0]?.field).toBe('tags');
    expect(index.search('echo').hits[0]?.field).toBe('file.fileName');
    expect(index.search('readings').hits[0]?.field).toBe('attachments.fileName');
  });

  it('splits Han text into characters, so a word inside a sentence is found', () => {
    expect(tokenize('青黴素過敏 (penicillin)')).toEqual(['青', '黴', '素', '過', '敏', 'penicillin']);
    const index = createRecordIndex();
    const allergy = stored('Allergy', { substance: '青黴素', reaction: '蕁麻疹', notes: '對青黴素過敏' });
    index.set(allergy);
    expect(index.search('青黴素').hits.map((h) => h.field)).toEqual(['substance']);
    expect(index.search('過敏').hits[0]?.field).toBe('notes');
  });

  it('a record set again is found by its new text only; a removed one not at all', () => {
    const index = createRecordIndex();
    const allergy = stored('Allergy', { substance: 'Latex' });
    index.set(allergy);
    index.set({ ...allergy, record: { ...allergy.record, substance: 'Peanut' }, rv: 2 });
    expect(index.search('latex').total).toBe(0);
    expect(index.search('peanut').hits[0]?.record.rv).toBe(2);
    expect(index.size).toBe(1);
    index.remove(allergy.record.id);
    expect(index.search('peanut').total).toBe(0);
    expect(index.size).toBe(0);
  });

  it('filters by kind, limits hits but counts them all, and indexes no kind without chart content', () => {
    const index = createRecordIndex();
    for (let i = 0; i < 5; i++) index.set(stored('Allergy', { substance: `Pollen ${i}` }));
    index.set(stored('Medication', { name: 'Pollen extract' }));
    index.set(stored('Consent', { purpose: 'pollen study' }));
    expect(index.search('pollen', { limit: 2 })).toMatchObject({ total: 6 });
    expect(index.search('pollen', { limit: 2 }).hits).toHaveLength(2);
    expect(index.search('pollen', { kinds: ['Medication'] }).hits.map((h) => h.kind)).toEqual(['Medication']);
    expect(index.size).toBe(6);
  });

  it('finds every kind with chart text by a word of each field its description names', () => {
    const index = createRecordIndex();
    const searched = RECORD_KIND_NAMES.filter((kind) => SEARCH_FIELDS[kind].length > 0);
    expect(RECORD_KIND_NAMES.filter((kind) => !searched.includes(kind))).toEqual([
      'AuditEntry',
      'Consent',
      'ProviderProfile',
    ]);
    const records = searched.map((kind) => stored(kind));
    for (const r of records) index.set(r);
    for (const r of records) {
      for (const path of SEARCH_FIELDS[r.kind]) {
        const text = fieldText(r.record, path);
        expect(text, `${r.kind}.${path} in the example`).toBeDefined();
        const word = tokenize(text ?? '')[0] ?? '';
        const hit = index
          .search(word, { kinds: [r.kind], limit: 500 })
          .hits.find((h) => h.record.record.id === r.record.id);
        expect(hit?.fields, `${r.kind} found by "${word}" in ${path}`).toContain(path);
      }
    }
  });

  it('clear() forgets every record', () => {
    const index = createRecordIndex();
    index.set(stored('Allergy', { substance: 'Latex' }));
    index.clear();
    expect(index.size).toBe(0);
    expect(index.search('latex').total).toBe(0);
  });
});

describe('tokenize', () => {
  it('splits ASCII and other text on the same boundaries', () => {
    const ascii = 'Glucose [Mass/volume] in Serum_or-Plasma, 2.5 mg/dL; x-ray #3 +O';
    expect(tokenize(ascii)).toEqual(tokenize(`${ascii} é`).slice(0, -1));
    expect(tokenize(ascii)).toEqual([
      'Glucose',
      'Mass',
      'volume',
      'in',
      'Serum',
      'or',
      'Plasma',
      '2',
      '5',
      'mg',
      'dL',
      'x',
      'ray',
      '3',
      'O',
    ]);
  });
});
