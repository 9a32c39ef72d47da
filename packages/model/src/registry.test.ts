import { describe, expect, it } from 'vitest';
import { exampleRecord } from './examples';
import { RECORD_KINDS, RECORD_KIND_NAMES, isRecordKind, kindsForStream, toJsonSchema } from './registry';
import { STREAM_TYPES } from './stream-types';

describe('RECORD_KINDS', () => {
  it('gives every stream type at least one kind and the note stream two', () => {
    for (const stream of STREAM_TYPES) expect(kindsForStream(stream).length, stream).toBeGreaterThan(0);
    expect(kindsForStream('note')).toEqual(['MedicalNote', 'NoteVersion']);
  });

  it('keeps Consent and ProviderProfile out of patient streams', () => {
    expect(RECORD_KINDS.Consent.streamType).toBeNull();
    expect(RECORD_KINDS.ProviderProfile.streamType).toBeNull();
    const streamed = RECORD_KIND_NAMES.filter((kind) => RECORD_KINDS[kind].streamType !== null);
    expect(streamed).toHaveLength(RECORD_KIND_NAMES.length - 2);
  });

  it('recognises kind names only', () => {
    expect(isRecordKind('Allergy')).toBe(true);
    expect(isRecordKind('allergy')).toBe(false);
    expect(isRecordKind('constructor')).toBe(false);
    expect(isRecordKind(undefined)).toBe(false);
  });

  it('gives every patient-stream kind the common fields', () => {
    for (const kind of RECORD_KIND_NAMES) {
      const required = toJsonSchema(kind).required;
      const expected =
        kind === 'ProviderProfile'
          ? ['id', 'createdAt', 'updatedAt']
          : ['id', 'patientId', 'createdAt', 'updatedAt'];
      expect(required, kind).toEqual(expect.arrayContaining(expected));
    }
  });
});

describe('toJsonSchema', () => {
  it.each(RECORD_KIND_NAMES)('%s is plain JSON Schema', (kind) => {
    const schema = toJsonSchema(kind);
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
    expect(Object.getOwnPropertySymbols(schema)).toEqual([]);
    expect(schema).toMatchObject({ type: 'object', additionalProperties: false, title: kind });
    // Every property an example uses is declared.
    expect(Object.keys(schema.properties as object)).toEqual(
      expect.arrayContaining(Object.keys(exampleRecord(kind))),
    );
  });

  it('returns a copy that callers may change', () => {
    const schema = toJsonSchema('Allergy');
    (schema.properties as Record<string, unknown>).substance = { type: 'number' };
    expect(toJsonSchema('Allergy').properties).toMatchObject({ substance: { type: 'string' } });
  });
});
