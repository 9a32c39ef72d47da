import type { TSchema } from '@sinclair/typebox';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exampleRecord } from './examples';
import { VISIBLE_CHARACTER_PATTERN, isTextSchema } from './formats';
import { RECORD_KINDS, RECORD_KIND_NAMES, toJsonSchema, type RecordKind } from './registry';
import { validateRecord } from './validate';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The issues `validateRecord` reports; [] when the value is valid. */
const issues = (kind: RecordKind, value: unknown) => {
  const result = validateRecord(kind, value);
  return result.ok ? [] : result.error.issues;
};

/** Top-level text fields of a kind that must say something (minLength ≥ 1), with the example's value. */
const requiredTextFields = (kind: RecordKind): string[] => {
  const properties: unknown = RECORD_KINDS[kind].schema.properties;
  if (!isObject(properties)) return [];
  return Object.entries(properties).flatMap(([field, schema]) =>
    isObject(schema) && isTextSchema(schema) && typeof schema.minLength === 'number' && schema.minLength > 0
      ? [field]
      : [],
  );
};

/** Every string schema at any depth of a JSON Schema (properties, items, union branches, records). */
const stringSchemas = (schema: unknown): Json[] => {
  if (!isObject(schema)) return [];
  const children = [
    ...Object.values(isObject(schema.properties) ? schema.properties : {}),
    ...Object.values(isObject(schema.patternProperties) ? schema.patternProperties : {}),
    schema.items,
    ...(Array.isArray(schema.anyOf) ? (schema.anyOf as unknown[]) : []),
  ];
  return [...(schema.type === 'string' ? [schema] : []), ...children.flatMap(stringSchemas)];
};

// Blank to a reader: spaces of several scripts, line breaks, zero-width and other invisible characters.
const BLANKS = [
  ' ',
  '   ',
  '\t\n',
  '\u00a0',
  '\u3000',
  '\u200b',
  '\u200b\u200d',
  '\ufeff',
  '\u2800',
  ' \u2060 ',
];

describe('required text must hold a visible character', () => {
  it.each([
    ['Profile', 'fullName', ' '],
    ['Profile', 'fullName', '\u200b'],
    ['NoteSignature', 'signerRole', ' '],
  ] as const)('%s.%s refuses %j, naming the field', (kind, field, value) => {
    expect(issues(kind, exampleRecord(kind, { [field]: value }))).toEqual([
      { field, reason: 'must not be empty' },
    ]);
  });

  // These two were exported as FHIR without Observation.code / Immunization.vaccineCode.
  it('refuses a blank test or vaccine name when no code stands in for it', () => {
    const lab: Json = { ...exampleRecord('LabResult', { testName: ' ' }) };
    delete lab.testCode;
    expect(issues('LabResult', lab)).toEqual([{ field: 'testName', reason: 'must not be empty' }]);
    const shot: Json = { ...exampleRecord('Immunization', { vaccineName: ' ' }) };
    delete shot.vaccineCode;
    expect(issues('Immunization', shot)).toEqual([{ field: 'vaccineName', reason: 'must not be empty' }]);
  });

  const cases = RECORD_KIND_NAMES.flatMap((kind) =>
    requiredTextFields(kind).flatMap((field) => BLANKS.map((blank) => [kind, field, blank] as const)),
  );

  it('finds the required text of every kind', () => {
    expect(cases.map(([kind, field]) => `${kind}.${field}`)).toEqual(
      expect.arrayContaining([
        'Profile.fullName',
        'Immunization.vaccineName',
        'Immunization.vaccineCode',
        'LabResult.testName',
        'NoteSignature.signerRole',
        'AuditEntry.summary',
      ]),
    );
  });

  it.each(cases)('%s.%s refuses %j', (kind, field, blank) => {
    expect(issues(kind, exampleRecord(kind, { [field]: blank }))).toEqual([
      { field, reason: 'must not be empty' },
    ]);
  });

  it.each(['A', ' Ada ', '💊', 'e\u0301', '\u200bAda', '李', '\u05d0', '-', '·'])(
    'accepts text with something visible: %j',
    (fullName) => {
      expect(issues('Profile', exampleRecord('Profile', { fullName }))).toEqual([]);
    },
  );

  it('still accepts blank optional text, which says nothing rather than something wrong', () => {
    expect(issues('Allergy', exampleRecord('Allergy', { notes: ' ' }))).toEqual([]);
    expect(issues('Message', exampleRecord('Message', { body: '' }))).toEqual([]);
  });

  it('applies inside nested objects and arrays too', () => {
    const doc = exampleRecord('HealthDocument', { tags: ['ok', '\u200b'] });
    expect(issues('HealthDocument', doc)).toEqual([{ field: 'tags[1]', reason: 'must not be empty' }]);
    const file = { ...exampleRecord('HealthDocument').file, fileName: '  ' };
    expect(issues('HealthDocument', exampleRecord('HealthDocument', { file }))).toEqual([
      { field: 'file.fileName', reason: 'must not be empty' },
    ]);
  });
});

describe('the JSON Schema says the same as the model validator', () => {
  const textSchemas = RECORD_KIND_NAMES.flatMap((kind) => stringSchemas(toJsonSchema(kind)));

  it('gives every text with a minimum length the visible-character pattern, and no other text', () => {
    const bounded = textSchemas.filter((schema) => typeof schema.minLength === 'number');
    expect(bounded.length).toBeGreaterThanOrEqual(30);
    for (const schema of bounded) expect(schema.pattern).toBe(VISIBLE_CHARACTER_PATTERN);
    const free = textSchemas.filter(
      (schema) => schema.minLength === undefined && schema.format === undefined,
    );
    for (const schema of free) expect(schema.pattern).not.toBe(VISIBLE_CHARACTER_PATTERN);
  });

  // Ajv (Fastify's validator, RxDB's) compiles patterns with the `u` flag by default; so does the model.
  const visible = new RegExp(VISIBLE_CHARACTER_PATTERN, 'u');
  const text = fc.string({
    unit: fc.oneof(
      fc.constantFrom(...BLANKS.join('').split(''), '\u0000', '\u00ad', '\u{E0041}', 'a', '💊', '\u0301'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    ),
    minLength: 1,
    maxLength: 8,
  });

  it('accepts a required text exactly when the pattern, read with the u flag, matches it', () => {
    fc.assert(
      fc.property(text, (fullName) => {
        const accepted = validateRecord('Profile', exampleRecord('Profile', { fullName })).ok;
        expect(accepted).toBe(visible.test(fullName) && [...fullName].length <= 200);
      }),
    );
  });
});

describe('calendar bounds', () => {
  it('refuses year 0000, which neither FHIR nor ISO-8601 basic dates have', () => {
    expect(issues('Profile', exampleRecord('Profile', { birthDate: '0000-01-01' }))).toEqual([
      { field: 'birthDate', reason: 'must be a calendar date (YYYY-MM-DD)' },
    ]);
    expect(issues('Profile', exampleRecord('Profile', { birthDate: '0001-01-01' }))).toEqual([]);
    expect(issues('Profile', exampleRecord('Profile', { birthDate: '9999-12-31' }))).toEqual([]);
  });

  it('refuses an instant that is before year 1 or after year 9999 once restated in UTC', () => {
    for (const recordedAt of [
      '0000-12-31T23:00:00Z',
      '0001-01-01T00:30:00+01:00',
      '9999-12-31T23:30:00-01:00',
    ]) {
      expect(issues('Allergy', exampleRecord('Allergy', { recordedAt })).map((i) => i.field)).toEqual([
        'recordedAt',
      ]);
    }
    for (const recordedAt of ['0001-01-01T01:00:00+01:00', '9999-12-31T22:59:59.999-01:00']) {
      expect(issues('Allergy', exampleRecord('Allergy', { recordedAt }))).toEqual([]);
    }
  });
});

describe('partial dates where a card or a memory gives only a year or a month', () => {
  it.each(['1995', '1995-06', '1995-06-14', '1995-06-14T10:00:00+02:00'])(
    'Immunization.administeredAt and Allergy.onsetDate accept %j',
    (value) => {
      expect(issues('Immunization', exampleRecord('Immunization', { administeredAt: value }))).toEqual([]);
      expect(issues('Allergy', exampleRecord('Allergy', { onsetDate: value }))).toEqual([]);
    },
  );

  it.each(['0000', '1995-13', '1995-00', '1995-6', '95', '1995-06-31', '1995-06T10:00:00Z', ''])(
    'Immunization.administeredAt and Allergy.onsetDate refuse %j',
    (value) => {
      expect(
        issues('Immunization', exampleRecord('Immunization', { administeredAt: value })).map((i) => i.field),
      ).toEqual(['administeredAt']);
      expect(issues('Allergy', exampleRecord('Allergy', { onsetDate: value })).map((i) => i.field)).toEqual([
        'onsetDate',
      ]);
    },
  );

  it('keeps full dates elsewhere (a birth date)', () => {
    expect(issues('Profile', exampleRecord('Profile', { birthDate: '1984' })).map((i) => i.field)).toEqual([
      'birthDate',
    ]);
  });

  it('a medication started in a month: compared with its end as far as both are known', () => {
    expect(
      issues('Medication', exampleRecord('Medication', { startDate: '2015-03', endDate: '2015-03-20' })),
    ).toEqual([]);
    expect(
      issues('Medication', exampleRecord('Medication', { startDate: '2015-03', endDate: '2015-02' })).map(
        (i) => i.field,
      ),
    ).toEqual(['endDate']);
  });

  it('gives the partial forms a pattern any JSON Schema validator reads alike', () => {
    const administeredAt = (toJsonSchema('Immunization').properties as Json).administeredAt as TSchema;
    const patterns = (administeredAt.anyOf as Json[]).flatMap((branch) =>
      typeof branch.pattern === 'string' ? [branch.pattern] : [],
    );
    expect(patterns).toHaveLength(1);
    const [pattern = ''] = patterns;
    for (const flags of ['', 'u']) {
      const re = new RegExp(pattern, flags);
      expect(['1995', '1995-06', '0001', '9999-12'].every((v) => re.test(v))).toBe(true);
      expect(['0000', '1995-13', '1995-00', '1995-6', '19950', ' 1995'].some((v) => re.test(v))).toBe(false);
    }
  });
});

describe('lab values and allergies', () => {
  it('holds a pathology or culture narrative of up to 20,000 characters as a lab value', () => {
    const narrative = 'Moderate growth of Staphylococcus aureus. '.repeat(500).slice(0, 20_000);
    expect(issues('LabResult', exampleRecord('LabResult', { value: narrative }))).toEqual([]);
    expect(
      issues('LabResult', exampleRecord('LabResult', { value: `${narrative}.` })).map((i) => i.field),
    ).toEqual(['value']);
    const [prior] = exampleRecord('LabResult').versions;
    const versions = [{ ...prior!, value: narrative }];
    expect(issues('LabResult', exampleRecord('LabResult', { versions }))).toEqual([]);
  });

  it('lets a patient record an allergy without knowing its severity', () => {
    const allergy: Json = { ...exampleRecord('Allergy') };
    delete allergy.severity;
    expect(issues('Allergy', allergy)).toEqual([]);
    expect(issues('Allergy', { ...allergy, severity: 'fatal' }).map((i) => i.field)).toEqual(['severity']);
  });
});
