import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ModelError, type ValidationFailed } from './errors';
import { exampleRecord } from './examples';
import { isTextSchema } from './formats';
import { newId } from './ids';
import { RECORD_KINDS, RECORD_KIND_NAMES, type RecordKind } from './registry';
import { assertRecord, isRecord, validateRecord } from './validate';

// The tests walk each kind's schema alongside its (fully populated) example, so every required field,
// enum and date at any depth is exercised without listing them by hand.

type Path = readonly (string | number)[];
type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const fieldName = (path: Path): string =>
  path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');

const getAt = (root: unknown, path: Path): unknown =>
  path.reduce<unknown>(
    (node, part) => (isObject(node) || Array.isArray(node) ? (node as Json)[part] : undefined),
    root,
  );

const parentOf = (root: unknown, path: Path): { parent: Json; key: string | number } => {
  const parent = getAt(root, path.slice(0, -1));
  const key = path.at(-1);
  if (key === undefined || !(isObject(parent) || Array.isArray(parent)))
    throw new Error(`no parent at ${fieldName(path)}`);
  return { parent: parent as Json, key };
};

const withValueAt = (root: unknown, path: Path, value: unknown): unknown => {
  const copy = structuredClone(root);
  const { parent, key } = parentOf(copy, path);
  parent[key] = value;
  return copy;
};

const withoutValueAt = (root: unknown, path: Path): unknown => {
  const copy = structuredClone(root);
  const { parent, key } = parentOf(copy, path);
  delete parent[key];
  return copy;
};

interface Node {
  readonly path: Path;
  readonly schema: TSchema;
}

/** Every schema node that has a value in `value`, depth first. */
const walk = (schema: TSchema, value: unknown, path: Path = []): Node[] => {
  const nodes: Node[] = [{ path, schema }];
  const properties: unknown = schema.properties;
  if (isObject(properties) && isObject(value)) {
    for (const [key, child] of Object.entries(properties)) {
      if (key in value && isObject(child)) nodes.push(...walk(child as TSchema, value[key], [...path, key]));
    }
  }
  const items: unknown = schema.items;
  if (isObject(items) && Array.isArray(value) && value.length > 0) {
    nodes.push(...walk(items as TSchema, value[0], [...path, 0]));
  }
  return nodes;
};

const branches = (schema: TSchema): TSchema[] => {
  const anyOf: unknown = schema.anyOf;
  return Array.isArray(anyOf) ? anyOf.filter(isObject).map((b) => b as TSchema) : [];
};

const enumValues = (schema: TSchema): string[] | undefined => {
  const options = branches(schema);
  return options.length > 0 && options.every((b) => typeof b.const === 'string')
    ? options.map((b) => String(b.const))
    : undefined;
};

const dateKind = (schema: TSchema): 'date' | 'date-time' | 'either' | undefined => {
  const candidates: unknown[] = [schema, ...branches(schema)].map((node): unknown => node.format);
  const formats = new Set(candidates.filter((f) => typeof f === 'string'));
  if (formats.has('date') && formats.has('date-time')) return 'either';
  if (formats.has('date')) return 'date';
  if (formats.has('date-time')) return 'date-time';
  return undefined;
};

const failure = (kind: RecordKind, value: unknown): ValidationFailed => {
  const result = validateRecord(kind, value);
  if (result.ok) throw new Error(`${kind} unexpectedly valid: ${JSON.stringify(value)}`);
  return result.error;
};

const cases = <T>(make: (kind: RecordKind) => T[]) => RECORD_KIND_NAMES.flatMap(make);

describe('examples', () => {
  it.each(RECORD_KIND_NAMES)('%s example is valid', (kind) => {
    const example = exampleRecord(kind);
    expect(validateRecord(kind, example)).toEqual({ ok: true, value: example });
    expect(assertRecord(kind, example)).toBe(example);
    expect(isRecord(kind, example)).toBe(true);
  });

  it('fills every optional field, so the walks below reach all of them', () => {
    for (const kind of RECORD_KIND_NAMES) {
      const example = exampleRecord(kind);
      for (const { path, schema } of walk(RECORD_KINDS[kind].schema, example)) {
        const properties: unknown = schema.properties;
        if (isObject(properties)) {
          expect(Object.keys(getAt(example, path) as Json).sort(), `${kind} ${fieldName(path)}`).toEqual(
            Object.keys(properties).sort(),
          );
        }
      }
    }
  });

  it('applies overrides and gives fresh ids', () => {
    const a = exampleRecord('Allergy', { substance: 'Peanut', severity: 'severe' });
    const b = exampleRecord('Allergy');
    expect(a.substance).toBe('Peanut');
    expect(a.severity).toBe('severe');
    expect(a.id).not.toBe(b.id);
  });
});

describe('required fields', () => {
  const requiredCases = cases((kind) => {
    const example = exampleRecord(kind);
    return walk(RECORD_KINDS[kind].schema, example).flatMap(({ path, schema }) => {
      const required: unknown = schema.required;
      return Array.isArray(required) ? required.map((key) => ({ kind, path: [...path, String(key)] })) : [];
    });
  });

  it('covers every kind', () => {
    expect(new Set(requiredCases.map((c) => c.kind)).size).toBe(RECORD_KIND_NAMES.length);
  });

  it.each(requiredCases.map((c) => [c.kind, fieldName(c.path), c.path] as const))(
    '%s without %s fails naming the field',
    (kind, field, path) => {
      const error = failure(kind, withoutValueAt(exampleRecord(kind), path));
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.kind).toBe(kind);
      expect(error.issues).toContainEqual({ field, reason: 'is required' });
      expect(error.message).toContain(`${field}: is required`);
    },
  );
});

describe('enumerations', () => {
  const enumCases = cases((kind) =>
    walk(RECORD_KINDS[kind].schema, exampleRecord(kind)).flatMap(({ path, schema }) => {
      const values = enumValues(schema);
      return values ? [[kind, fieldName(path), path, values] as const] : [];
    }),
  );

  it('finds the enumerations the brief names', () => {
    const found = new Set(enumCases.map(([kind, field]) => `${kind}.${field}`));
    for (const name of [
      'Allergy.severity',
      'LabResult.status',
      'LabResult.versions[0].status',
      'TreatmentPlan.status',
      'Appointment.status',
      'Message.status',
      'Encounter.type',
      'Encounter.status',
      'MedicalNote.noteType',
      'MedicalNote.status',
      'NoteVersion.kind',
      'NoteSignature.status',
      'Consent.scope[0].type',
      'Consent.scope[0].access',
      'Consent.status',
      'Profile.status',
    ]) {
      expect(found).toContain(name);
    }
  });

  it.each(enumCases)('%s.%s rejects an unknown value', (kind, field, path, values) => {
    const error = failure(kind, withValueAt(exampleRecord(kind), path, 'not-a-member'));
    expect(error.issues).toContainEqual({ field, reason: `must be one of ${values.join(', ')}` });
  });

  it('uses the exact enumerations of the brief', () => {
    const values = (kind: RecordKind, field: string) => {
      const schema = (RECORD_KINDS[kind].schema.properties as Record<string, TSchema | undefined>)[field];
      if (!schema) throw new Error(`${kind} has no ${field}`);
      return enumValues(schema);
    };
    expect(values('Allergy', 'severity')).toEqual(['mild', 'moderate', 'severe']);
    expect(values('LabResult', 'status')).toEqual([
      'registered',
      'preliminary',
      'final',
      'amended',
      'corrected',
      'cancelled',
      'entered-in-error',
      'unknown',
    ]);
    expect(values('TreatmentPlan', 'status')).toEqual(['draft', 'active', 'completed']);
    // The template's three, then issue #49's request flow (appended).
    expect(values('Appointment', 'status')).toEqual([
      'scheduled',
      'canceled',
      'completed',
      'requested',
      'proposed',
      'declined',
    ]);
    expect(values('Message', 'status')).toEqual(['sent', 'delivered', 'read']);
    expect(values('Encounter', 'type')).toEqual(['outpatient', 'inpatient', 'emergency', 'telehealth']);
    expect(values('Encounter', 'status')).toEqual(['planned', 'in-progress', 'finished', 'cancelled']);
    expect(values('MedicalNote', 'noteType')).toEqual([
      'progress',
      'admission',
      'discharge',
      'consult',
      'procedure',
    ]);
    expect(values('MedicalNote', 'status')).toEqual(['draft', 'under_review', 'signed', 'amended']);
    expect(values('NoteVersion', 'kind')).toEqual(['original', 'amendment', 'addendum']);
    expect(values('NoteSignature', 'status')).toEqual(['requested', 'signed', 'declined']);
  });

  it('names the allowed values in the message', () => {
    const error = failure('Allergy', exampleRecord('Allergy', { severity: 'deadly' as 'mild' }));
    expect(error.message).toBe('Allergy is invalid: severity: must be one of mild, moderate, severe');
  });

  it('refuses to grant the audit stream', () => {
    const error = failure(
      'Consent',
      exampleRecord('Consent', { scope: [{ type: 'audit' as 'allergy', access: 'read' }] }),
    );
    expect(error.issues.map((i) => i.field)).toEqual(['scope[0].type']);
  });
});

describe('dates', () => {
  const BAD_INSTANTS = [
    '2024-02-30T10:00:00Z',
    '2024-05-01T24:00:00Z',
    '2024-05-01T10:00:00',
    'yesterday',
    '',
  ];
  const BAD_DAYS = ['2023-02-29', '2024-13-01', '2024-5-1', 'May 1, 2024'];

  const dateCases = cases((kind) =>
    walk(RECORD_KINDS[kind].schema, exampleRecord(kind)).flatMap(({ path, schema }) => {
      const which = dateKind(schema);
      if (!which) return [];
      const bad =
        which === 'date'
          ? [...BAD_DAYS, '2024-05-01T10:00:00Z']
          : which === 'date-time'
            ? [...BAD_INSTANTS, '2024-05-01']
            : [...BAD_INSTANTS, ...BAD_DAYS];
      return bad.map((value) => [kind, fieldName(path), path, value] as const);
    }),
  );

  it('finds dates of every shape', () => {
    const fields = new Set(dateCases.map(([kind, field]) => `${kind}.${field}`));
    for (const name of [
      'Profile.birthDate',
      'Allergy.onsetDate',
      'Allergy.recordedAt',
      'LabResult.versions[0].provenance.at',
    ]) {
      expect(fields).toContain(name);
    }
    expect(new Set(dateCases.map(([kind]) => kind)).size).toBe(RECORD_KIND_NAMES.length);
  });

  it.each(dateCases)('%s.%s rejects %j', (kind, field, path, value) => {
    const error = failure(kind, withValueAt(exampleRecord(kind), path, value));
    expect(error.issues.map((i) => i.field)).toContain(field);
    expect(error.issues.find((i) => i.field === field)?.reason).toMatch(/^must be .*(date|characters)/);
  });

  it('accepts a bare calendar date where the template allows one', () => {
    expect(validateRecord('Allergy', exampleRecord('Allergy', { onsetDate: '2010-03-04' })).ok).toBe(true);
    expect(
      validateRecord('Allergy', exampleRecord('Allergy', { onsetDate: '2010-03-04T08:00:00+01:00' })).ok,
    ).toBe(true);
    expect(
      validateRecord('Immunization', exampleRecord('Immunization', { administeredAt: '2024-04-12' })).ok,
    ).toBe(true);
  });

  it('explains the expected date format', () => {
    const error = failure('Encounter', exampleRecord('Encounter', { startedAt: '2024-05-01' }));
    expect(error.message).toBe(
      'Encounter is invalid: startedAt: must be an ISO-8601 date-time with a time zone (e.g. 2024-05-01T09:30:00Z)',
    );
  });

  it('names the year and month a partial date may be, not "a string" (the value is one)', () => {
    const reason =
      'must be a calendar date (YYYY-MM-DD) or an ISO-8601 date-time with a time zone (e.g. 2024-05-01T09:30:00Z) or a year or a month (YYYY or YYYY-MM)';
    for (const onsetDate of ['2024-13', '2024-02-30', '24', '2024-5']) {
      expect(failure('Allergy', exampleRecord('Allergy', { onsetDate })).issues).toEqual([
        { field: 'onsetDate', reason },
      ]);
    }
    expect(failure('Immunization', exampleRecord('Immunization', { administeredAt: '0000' })).issues).toEqual(
      [{ field: 'administeredAt', reason }],
    );
  });
});

describe('unknown properties', () => {
  it.each(RECORD_KIND_NAMES)('%s rejects an extra top-level property', (kind) => {
    const error = failure(kind, { ...exampleRecord(kind), isShared: true });
    expect(error.issues).toEqual([{ field: 'isShared', reason: 'is not allowed' }]);
  });

  const nestedCases = cases((kind) =>
    walk(RECORD_KINDS[kind].schema, exampleRecord(kind))
      .filter(({ path, schema }) => path.length > 0 && schema.additionalProperties === false)
      .map(({ path }) => [kind, fieldName([...path, 'sneaky']), path] as const),
  );

  it('finds nested objects', () => {
    expect(nestedCases.map(([, field]) => field)).toEqual(
      expect.arrayContaining(['versions[0].provenance.sneaky', 'file.sneaky', 'acknowledgement.sneaky']),
    );
  });

  it.each(nestedCases)('%s rejects %s', (kind, field, path) => {
    const example = exampleRecord(kind);
    const error = failure(kind, withValueAt(example, path, { ...(getAt(example, path) as Json), sneaky: 1 }));
    expect(error.issues).toContainEqual({ field, reason: 'is not allowed' });
  });
});

describe('text', () => {
  const CUT_EMOJI = 'Peanut 🥜'.slice(0, 8); // ends in the high half of a surrogate pair
  const BROKEN =
    'must be well-formed text: it holds half of a character (a lone UTF-16 surrogate, e.g. an emoji cut in two)';

  /** Every string schema at any depth (properties, items, union branches, record values). */
  const stringSchemas = (schema: TSchema, path: string): { path: string; schema: TSchema }[] => {
    const found = schema.type === 'string' ? [{ path, schema }] : [];
    const children: [string, unknown][] = [
      ...Object.entries(isObject(schema.properties) ? schema.properties : {}).map(
        ([key, child]): [string, unknown] => [`${path}.${key}`, child],
      ),
      ...Object.values(isObject(schema.patternProperties) ? schema.patternProperties : {}).map(
        (child): [string, unknown] => [`${path}{}`, child],
      ),
      [`${path}[]`, schema.items],
      ...branches(schema).map((child, i): [string, unknown] => [`${path}|${i}`, child]),
    ];
    return [
      ...found,
      ...children.flatMap(([childPath, child]) =>
        isObject(child) ? stringSchemas(child as TSchema, childPath) : [],
      ),
    ];
  };

  it('checks every free-text string of every kind as text (nothing but ids, codes and dates is plain)', () => {
    const plain = RECORD_KIND_NAMES.flatMap((kind) =>
      stringSchemas(RECORD_KINDS[kind].schema, kind)
        .filter(({ schema }) => !isTextSchema(schema))
        .filter(({ schema }) => typeof schema.pattern !== 'string' && typeof schema.format !== 'string')
        .filter(({ schema }) => !('const' in schema))
        .map(({ path }) => path),
    );
    expect(plain).toEqual([]);
  });

  // Patterns and formats are ASCII, so no id, code or date can hold a surrogate either.
  it('leaves no pattern that could match a surrogate', () => {
    const patterns = RECORD_KIND_NAMES.flatMap((kind) =>
      stringSchemas(RECORD_KINDS[kind].schema, kind).flatMap(({ schema }) =>
        typeof schema.pattern === 'string' ? [schema.pattern] : [],
      ),
    );
    expect(patterns.length).toBeGreaterThan(0);
    for (const pattern of new Set(patterns)) expect(new RegExp(pattern).test('\uD83D')).toBe(false);
  });

  const textCases = cases((kind) =>
    walk(RECORD_KINDS[kind].schema, exampleRecord(kind))
      .filter(({ schema }) => isTextSchema(schema))
      .map(({ path }) => [kind, fieldName(path), path] as const),
  );

  it('finds text at every depth', () => {
    expect(textCases.length).toBeGreaterThan(60);
    expect(textCases.map(([kind, field]) => `${kind}.${field}`)).toEqual(
      expect.arrayContaining([
        'Allergy.substance',
        'Profile.contact.address',
        'HealthDocument.tags[0]',
        'HealthDocument.versions[0].file.fileName',
        'LabResult.versions[0].provenance.reason',
        'ProviderProfile.identifier.system',
      ]),
    );
  });

  it.each(textCases)('%s.%s refuses a lone surrogate, naming the field', (kind, field, path) => {
    const error = failure(kind, withValueAt(exampleRecord(kind), path, CUT_EMOJI));
    expect(error.issues).toEqual([{ field, reason: BROKEN }]);
  });

  it('refuses lone surrogates anywhere in the text, and a pair in the wrong order', () => {
    for (const substance of ['\uDF5C nuts', 'nuts \uD83C', 'nu\uD83Cts', '\uDF5C\uD83C']) {
      expect(failure('Allergy', exampleRecord('Allergy', { substance })).issues).toEqual([
        { field: 'substance', reason: BROKEN },
      ]);
    }
  });

  it('refuses a broken textual lab value, and in audit metadata values and keys', () => {
    expect(failure('LabResult', exampleRecord('LabResult', { value: CUT_EMOJI })).issues).toEqual([
      { field: 'value', reason: BROKEN },
    ]);
    expect(
      failure('AuditEntry', exampleRecord('AuditEntry', { metadata: { screen: CUT_EMOJI } })).issues,
    ).toEqual([{ field: 'metadata.screen', reason: BROKEN }]);
    expect(
      failure('AuditEntry', exampleRecord('AuditEntry', { metadata: { [CUT_EMOJI]: 1 } })).issues,
    ).toEqual([
      { field: 'metadata', reason: 'has a key that is not well-formed text (a lone UTF-16 surrogate)' },
    ]);
  });

  it('counts characters as code points: 101 emoji are 101 characters, not 202', () => {
    expect(validateRecord('Allergy', exampleRecord('Allergy', { substance: '💊'.repeat(101) })).ok).toBe(
      true,
    );
    expect(validateRecord('Allergy', exampleRecord('Allergy', { substance: '💊'.repeat(200) })).ok).toBe(
      true,
    );
    expect(failure('Allergy', exampleRecord('Allergy', { substance: '💊'.repeat(201) })).issues).toEqual([
      { field: 'substance', reason: 'must be at most 200 characters' },
    ]);
    expect(
      failure('LabResult', exampleRecord('LabResult', { value: `${'x'.repeat(19_999)}💊💊` })).issues,
    ).toEqual([{ field: 'value', reason: 'must be at most 20000 characters' }]);
    expect(
      validateRecord('LabResult', exampleRecord('LabResult', { value: `${'x'.repeat(19_999)}💊` })).ok,
    ).toBe(true);
  });

  it('bounds audit metadata keys (the schema alone never did)', () => {
    const key = (value: string) => exampleRecord('AuditEntry', { metadata: { [value]: 1 } });
    expect(validateRecord('AuditEntry', key('k'.repeat(64))).ok).toBe(true);
    expect(validateRecord('AuditEntry', key('💊'.repeat(64))).ok).toBe(true);
    expect(failure('AuditEntry', key('k'.repeat(65))).issues).toEqual([
      { field: 'metadata', reason: 'has a key longer than 64 characters' },
    ]);
  });
});

describe('other schema checks', () => {
  it('rejects non-objects at the root', () => {
    for (const value of [null, 42, 'allergy', [], undefined]) {
      expect(failure('Allergy', value).issues[0]).toEqual({ field: '(record)', reason: 'must be an object' });
    }
  });

  it('rejects wrong types with a reason', () => {
    const error = failure('Allergy', exampleRecord('Allergy', { active: 'yes' as unknown as boolean }));
    expect(error.issues).toEqual([{ field: 'active', reason: 'must be true or false' }]);
    const lab = failure('LabResult', exampleRecord('LabResult', { value: true as unknown as number }));
    expect(lab.issues).toEqual([{ field: 'value', reason: 'must be a number or a string' }]);
  });

  it('accepts a numeric or textual lab value', () => {
    expect(validateRecord('LabResult', exampleRecord('LabResult', { value: 'positive' })).ok).toBe(true);
    expect(validateRecord('LabResult', exampleRecord('LabResult', { value: 5.4 })).ok).toBe(true);
    expect(validateRecord('LabResult', exampleRecord('LabResult', { value: Number.NaN })).ok).toBe(false);
  });

  it('says a NaN or infinite number is not a finite number, wherever a number goes', () => {
    // JSON has no NaN or Infinity (JSON.stringify writes null): such a value could never be sealed as given.
    const reason = 'must be a finite number (not NaN or Infinity)';
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const lab = exampleRecord('LabResult', { value });
      expect(failure('LabResult', lab).issues).toEqual([{ field: 'value', reason }]);
      const doc = exampleRecord('HealthDocument');
      expect(failure('HealthDocument', { ...doc, file: { ...doc.file, size: value } }).issues).toEqual([
        { field: 'file.size', reason },
      ]);
      expect(failure('HealthDocument', { ...doc, version: value }).issues).toEqual([
        { field: 'version', reason },
      ]);
      const entry = exampleRecord('AuditEntry', { metadata: { dose: value } });
      expect(failure('AuditEntry', entry).issues).toEqual([{ field: 'metadata.dose', reason }]);
    }
  });

  it('rejects malformed ids and account ids', () => {
    const error = failure(
      'Immunization',
      exampleRecord('Immunization', { id: 'abc', patientId: 'x', proofDocumentId: 'doc-1' }),
    );
    expect(error.issues).toEqual([
      { field: 'id', reason: 'must be a record id (ULID, 26 Crockford base32 characters)' },
      { field: 'patientId', reason: 'must be an account or device id (22 base64url characters)' },
      { field: 'proofDocumentId', reason: 'must be a record id (ULID, 26 Crockford base32 characters)' },
    ]);
  });

  it('caps string lengths and rejects empty required text', () => {
    const long = failure('Allergy', exampleRecord('Allergy', { substance: 'x'.repeat(201) }));
    expect(long.issues).toEqual([{ field: 'substance', reason: 'must be at most 200 characters' }]);
    const empty = failure('Allergy', exampleRecord('Allergy', { substance: '' }));
    expect(empty.issues).toEqual([{ field: 'substance', reason: 'must not be empty' }]);
  });

  it('checks file metadata', () => {
    const doc = exampleRecord('HealthDocument');
    const error = failure('HealthDocument', {
      ...doc,
      file: { ...doc.file, sha256: 'ABC', size: -1, mediaType: 'pdf' },
    });
    expect(error.issues).toEqual([
      { field: 'file.mediaType', reason: 'must be a media type such as application/pdf' },
      { field: 'file.size', reason: 'must be at least 0' },
      { field: 'file.sha256', reason: 'must be a SHA-256 digest (64 lowercase hex characters)' },
    ]);
  });

  it('bounds the report for hostile input', () => {
    const hostile: Json = { ...exampleRecord('Allergy') };
    for (let i = 0; i < 10_000; i++) hostile[`k${i}`] = i;
    const error = failure('Allergy', hostile);
    expect(error.issues.length).toBe(50);
  });

  it('bounds history and metadata sizes', () => {
    const plan = exampleRecord('TreatmentPlan');
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ ...plan.versions[0]!, version: i + 1 }));
    expect(failure('TreatmentPlan', { ...plan, version: 2000, versions: tooMany }).issues).toEqual([
      { field: 'versions', reason: 'must have at most 1000 items' },
    ]);
    const metadata = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
    expect(failure('AuditEntry', exampleRecord('AuditEntry', { metadata })).issues).toEqual([
      { field: 'metadata', reason: 'must have at most 50 entries' },
    ]);
  });
});

describe('cross-field rules', () => {
  const fields = (kind: RecordKind, value: unknown) =>
    failure(kind, value).issues.map((i) => `${i.field}: ${i.reason}`);

  it('orders start and end', () => {
    expect(
      fields(
        'Appointment',
        exampleRecord('Appointment', { startAt: '2024-06-03T15:00:00Z', endAt: '2024-06-03T14:59:59Z' }),
      ),
    ).toEqual(['endAt: must not be before startAt']);
    // Offsets are compared as instants: 15:30+02:00 is 13:30Z, before 14:00Z.
    expect(
      fields(
        'Encounter',
        exampleRecord('Encounter', {
          startedAt: '2024-05-01T14:00:00Z',
          endedAt: '2024-05-01T15:30:00+02:00',
        }),
      ),
    ).toEqual(['endedAt: must not be before startedAt']);
    expect(
      fields('Medication', exampleRecord('Medication', { startDate: '2024-02-02', endDate: '2024-02-01' })),
    ).toEqual(['endDate: must not be before startDate']);
    expect(
      fields(
        'TreatmentPlan',
        exampleRecord('TreatmentPlan', { effectiveFrom: '2024-02-02', effectiveTo: '2024-02-01' }),
      ),
    ).toEqual(['effectiveTo: must not be before effectiveFrom']);
  });

  // A calendar day on one side and an instant on the other: the instant's own day (as its writer wrote
  // it, in its own zone) is compared with the calendar day, never midnight UTC with the instant.
  it.each([
    ['Medication', { startDate: '2024-05-01T08:00:00+02:00', endDate: '2024-05-01' }],
    ['Medication', { startDate: '2024-05-01', endDate: '2024-05-01T09:00:00+10:00' }],
    ['Medication', { startDate: '2024-05-01T23:30:00-05:00', endDate: '2024-05-01' }],
    ['Medication', { startDate: '2024-05-01T00:30:00+14:00', endDate: '2024-05-01' }],
    ['Medication', { startDate: '2024-04-30', endDate: '2024-05-01T00:00:00+14:00' }],
    ['TreatmentPlan', { effectiveFrom: '2024-05-01T10:00:00Z', effectiveTo: '2024-05-01' }],
    ['TreatmentPlan', { effectiveFrom: '2024-05-01', effectiveTo: '2024-05-01T00:00:00Z' }],
  ] as const)('accepts %s %j (same day or later)', (kind, over) => {
    const result = validateRecord(kind, { ...exampleRecord(kind), ...over });
    expect(result.ok ? 'ok' : result.error.message).toBe('ok');
  });

  it.each([
    ['Medication', { startDate: '2024-05-01T08:00:00+02:00', endDate: '2024-04-30' }, 'endDate', 'startDate'],
    ['Medication', { startDate: '2024-05-02', endDate: '2024-05-01T23:59:59-12:00' }, 'endDate', 'startDate'],
    // 2024-05-01T20:00-05:00 is already 2 May in UTC; its writer's day is still 1 May, before 2 May.
    ['Medication', { startDate: '2024-05-02', endDate: '2024-05-01T20:00:00-05:00' }, 'endDate', 'startDate'],
    [
      'TreatmentPlan',
      { effectiveFrom: '2024-05-01T10:00:00Z', effectiveTo: '2024-04-30' },
      'effectiveTo',
      'effectiveFrom',
    ],
    [
      'TreatmentPlan',
      { effectiveFrom: '2024-05-01', effectiveTo: '2024-04-30T23:59:59Z' },
      'effectiveTo',
      'effectiveFrom',
    ],
  ] as const)('refuses %s %j (a day before)', (kind, over, field, other) => {
    expect(fields(kind, { ...exampleRecord(kind), ...over })).toEqual([
      `${field}: must not be before ${other}`,
    ]);
  });

  it('keeps version history below the current version and increasing', () => {
    const lab = exampleRecord('LabResult');
    expect(fields('LabResult', { ...lab, version: 1 })).toEqual([
      'versions[0].version: must increase through the history and stay below the current version 1',
    ]);
    const doc = exampleRecord('HealthDocument');
    const v1 = doc.versions[0]!;
    expect(
      fields('HealthDocument', {
        ...doc,
        version: 5,
        versions: [
          { ...v1, version: 2 },
          { ...v1, version: 2 },
        ],
      }),
    ).toEqual([
      'versions[1].version: must increase through the history and stay below the current version 5',
    ]);
  });

  it('acknowledges only versions that exist', () => {
    const plan = exampleRecord('TreatmentPlan');
    expect(
      fields('TreatmentPlan', { ...plan, acknowledgement: { ...plan.acknowledgement!, version: 3 } }),
    ).toEqual(['acknowledgement.version: must not exceed the plan version 2']);
  });

  it('requires receipts times for delivered and read messages', () => {
    const { readAt: _readAt, deliveredAt: _deliveredAt, ...message } = exampleRecord('Message');
    expect(fields('Message', { ...message, status: 'read' })).toEqual([
      'readAt: is required when status is read',
    ]);
    expect(fields('Message', { ...message, status: 'delivered' })).toEqual([
      'deliveredAt: is required when status is delivered',
    ]);
    expect(validateRecord('Message', { ...message, status: 'sent' }).ok).toBe(true);
  });

  it('requires a reason for amendments and an original first version', () => {
    const { amendmentReason: _reason, ...version } = exampleRecord('NoteVersion');
    expect(fields('NoteVersion', version)).toEqual(['amendmentReason: is required when kind is amendment']);
    expect(fields('NoteVersion', { ...version, kind: 'addendum', versionNumber: 1 })).toEqual([
      'kind: must be original for version 1',
    ]);
    expect(validateRecord('NoteVersion', { ...version, kind: 'addendum' }).ok).toBe(true);
  });

  it('requires the signed version and time on a signed signature', () => {
    const { signedAt: _at, signedVersionNumber: _n, ...signature } = exampleRecord('NoteSignature');
    expect(fields('NoteSignature', signature)).toEqual([
      'signedAt: is required when status is signed',
      'signedVersionNumber: is required when status is signed',
    ]);
    expect(validateRecord('NoteSignature', { ...signature, status: 'requested' }).ok).toBe(true);
  });

  it('checks consent scope, window and revocation', () => {
    const consent = exampleRecord('Consent');
    expect(
      fields('Consent', {
        ...consent,
        scope: [
          { type: 'allergy', access: 'read' },
          { type: 'allergy', access: 'write' },
        ],
      }),
    ).toEqual(['scope[1].type: lists allergy twice']);
    expect(fields('Consent', { ...consent, expiresAt: consent.startsAt })).toEqual([
      'expiresAt: must be after startsAt',
    ]);
    const { revokedAt: _revokedAt, ...unrevoked } = consent;
    expect(fields('Consent', unrevoked)).toEqual(['revokedAt: is required when status is revoked']);
    expect(validateRecord('Consent', { ...unrevoked, status: 'active' }).ok).toBe(true);
    expect(fields('Consent', { ...consent, scope: [] })).toEqual(['scope: must have at least 1 item']);
  });
});

describe('assertRecord and unknown kinds', () => {
  it('throws ModelError carrying the same error object', () => {
    const bad = exampleRecord('Allergy', { severity: 'bad' as 'mild' });
    const expected = failure('Allergy', bad);
    try {
      assertRecord('Allergy', bad);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ModelError);
      expect((error as ModelError).code).toBe('VALIDATION_FAILED');
      expect((error as ModelError).detail).toEqual(expected);
      expect((error as ModelError).message).toBe(expected.message);
    }
  });

  it('throws UNKNOWN_KIND for a kind outside the registry', () => {
    const kind = 'Prescription' as RecordKind;
    expect(() => validateRecord(kind, {})).toThrow(ModelError);
    expect(() => validateRecord('toString' as RecordKind, {})).toThrow(/unknown record kind/);
    expect(() => exampleRecord(kind)).toThrow(ModelError);
  });

  it('validates a record of one kind as another only where the shapes agree', () => {
    expect(validateRecord('Medication', exampleRecord('Allergy')).ok).toBe(false);
    expect(validateRecord('NoteVersion', { ...exampleRecord('MedicalNote'), id: newId() }).ok).toBe(false);
  });
});
