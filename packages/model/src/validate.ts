/*
 * Record validation. Invariants: a record that passes `validateRecord(kind, v)` matches the kind's JSON
 * Schema exactly (no unknown properties at any depth, every string length-capped, free text well-formed
 * Unicode — no lone surrogate, which could not be sealed — with lengths counted in code points as JSON
 * Schema counts them, dates real calendar dates/instants) and the cross-field rules below (including
 * audit metadata keys, whose bounds TypeBox drops from a record schema). Records arriving from other
 * devices are untrusted input: validation never throws on bad data, only on a kind name outside
 * RECORD_KINDS (a programming error, ModelError UNKNOWN_KIND). Issues name the offending field so a UI or a sync log can say what
 * is wrong; at most MAX_ISSUES are reported so a hostile document cannot make the report unbounded.
 *
 * TypeBox's interpreting `Value` checker is used rather than its compiler because compiled checkers use
 * `new Function`, which the Electron and web-app content security policy forbids.
 */
import type { TSchema } from '@sinclair/typebox';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { ModelError, type Result, type ValidationFailed, type ValidationIssue } from './errors';
import { PARTIAL_DATE_PATTERN, isTextSchema, textBounds, textProblem, type TextProblem } from './formats';
import { ACCOUNT_ID_PATTERN, ID_PATTERN } from './ids';
import { compareInstantTimes, endsBefore } from './instants';
import { AUDIT_METADATA_KEY_LENGTH } from './record-schemas';
import { MAX_KEPT_SOURCE_BYTES } from './fhir-source';
import {
  AUDIT_ACTION_PATTERN,
  BLOB_ID_PATTERN,
  MEDIA_TYPE_PATTERN,
  SHA256_HEX_PATTERN,
} from './common-schemas';
import { RECORD_KINDS, assertRecordKind, type RecordKind, type RecordOf } from './registry';

const MAX_ISSUES = 50;

const PATTERN_REASONS: Record<string, string> = {
  [ID_PATTERN]: 'must be a record id (ULID, 26 Crockford base32 characters)',
  [ACCOUNT_ID_PATTERN]: 'must be an account or device id (22 base64url characters)',
  [BLOB_ID_PATTERN]: 'must be a blob id (16 to 128 base64url characters)',
  [SHA256_HEX_PATTERN]: 'must be a SHA-256 digest (64 lowercase hex characters)',
  [MEDIA_TYPE_PATTERN]: 'must be a media type such as application/pdf',
  [AUDIT_ACTION_PATTERN]: 'must be a lowercase dotted action such as record.create',
};

const FORMAT_NOUNS: Record<string, string> = {
  date: 'a calendar date (YYYY-MM-DD)',
  'date-time': 'an ISO-8601 date-time with a time zone (e.g. 2024-05-01T09:30:00Z)',
};

const numberOption = (schema: TSchema, key: string): string => {
  const value: unknown = schema[key];
  return typeof value === 'number' ? String(value) : '?';
};

const plural = (count: string, one: string, many = `${one}s`): string =>
  `${count} ${count === '1' ? one : many}`;

/** Union branches that are a string of a pattern: what the pattern takes (a string alone says nothing). */
const PATTERN_NOUNS: Record<string, string> = {
  [PARTIAL_DATE_PATTERN]: 'a year or a month (YYYY or YYYY-MM)',
};

/** A short noun phrase for what a schema accepts, used for union branches. */
const describeSchema = (schema: TSchema): string => {
  if ('const' in schema) return JSON.stringify(schema.const);
  const pattern: unknown = schema.pattern;
  const patterned = typeof pattern === 'string' ? PATTERN_NOUNS[pattern] : undefined;
  if (patterned !== undefined) return patterned;
  const format: unknown = schema.format;
  if (typeof format === 'string') return FORMAT_NOUNS[format] ?? `a ${format} string`;
  switch (schema.type) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'integer':
      return 'an integer';
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'array':
      return 'an array';
    case 'object':
      return 'an object';
    default:
      return 'a valid value';
  }
};

const TEXT_REASONS: Record<Exclude<TextProblem, 'not-string'>, (schema: TSchema) => string> = {
  'ill-formed': () =>
    'must be well-formed text: it holds half of a character (a lone UTF-16 surrogate, e.g. an emoji cut in two)',
  'too-short': (schema) =>
    schema.minLength === 1
      ? 'must not be empty'
      : `must be at least ${plural(numberOption(schema, 'minLength'), 'character')}`,
  'too-long': (schema) => `must be at most ${plural(numberOption(schema, 'maxLength'), 'character')}`,
};

/** Why `value` fails a `boundedText` schema; undefined when it does not. */
const textReason = (schema: TSchema, value: unknown): string | undefined => {
  const { minLength, maxLength } = textBounds(schema);
  const problem = textProblem(value, minLength, maxLength);
  if (problem === undefined) return undefined;
  return problem === 'not-string' ? 'must be a string' : TEXT_REASONS[problem](schema);
};

const describeUnion = (schema: TSchema, value: unknown): string => {
  const branches: unknown = schema.anyOf;
  if (!Array.isArray(branches)) return 'has an invalid value';
  const variants = branches.filter(
    (branch): branch is TSchema => typeof branch === 'object' && branch !== null,
  );
  if (variants.length > 0 && variants.every((variant) => 'const' in variant)) {
    return `must be one of ${variants.map((variant) => String(variant.const)).join(', ')}`;
  }
  // A string failing the text branch says why (too long, broken character), not just "must be a string".
  const text = typeof value === 'string' ? variants.find(isTextSchema) : undefined;
  const reason = text === undefined ? undefined : textReason(text, value);
  return reason ?? `must be ${variants.map(describeSchema).join(' or ')}`;
};

const isNumberSchema = (schema: unknown): boolean =>
  typeof schema === 'object' &&
  schema !== null &&
  ((schema as TSchema).type === 'number' || (schema as TSchema).type === 'integer');

/**
 * Whether `error` is a NaN or an infinity where a number goes. JavaScript numbers, not JSON ones: JSON
 * has neither (JSON.stringify writes null), so "must be a number" would read as nonsense about a number.
 */
const nonFiniteNumber = (error: ValueError): boolean => {
  const { schema, value } = error;
  if (typeof value !== 'number' || Number.isFinite(value)) return false;
  const branches: unknown = schema.anyOf;
  return isNumberSchema(schema) || (Array.isArray(branches) && branches.some(isNumberSchema));
};

const reasonFor = (error: ValueError): string => {
  const { schema } = error;
  if (nonFiniteNumber(error)) return 'must be a finite number (not NaN or Infinity)';
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'is not allowed';
    case ValueErrorType.Union:
      return describeUnion(schema, error.value);
    case ValueErrorType.Kind:
      return (isTextSchema(schema) ? textReason(schema, error.value) : undefined) ?? 'has an invalid value';
    case ValueErrorType.Literal:
      return `must be ${JSON.stringify(schema.const)}`;
    case ValueErrorType.String:
    case ValueErrorType.Number:
    case ValueErrorType.Integer:
    case ValueErrorType.Boolean:
    case ValueErrorType.Array:
    case ValueErrorType.Object:
    case ValueErrorType.Null:
      return `must be ${describeSchema(schema)}`;
    case ValueErrorType.StringFormat:
    case ValueErrorType.StringFormatUnknown:
      return `must be ${describeSchema(schema)}`;
    case ValueErrorType.StringPattern: {
      const pattern: unknown = schema.pattern;
      return (typeof pattern === 'string' ? PATTERN_REASONS[pattern] : undefined) ?? 'has an invalid format';
    }
    case ValueErrorType.StringMaxLength:
      return `must be at most ${plural(numberOption(schema, 'maxLength'), 'character')}`;
    case ValueErrorType.StringMinLength:
      return schema.minLength === 1
        ? 'must not be empty'
        : `must be at least ${plural(numberOption(schema, 'minLength'), 'character')}`;
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be at least ${numberOption(schema, 'minimum')}`;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be at most ${numberOption(schema, 'maximum')}`;
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${plural(numberOption(schema, 'minItems'), 'item')}`;
    case ValueErrorType.ArrayMaxItems:
      return `must have at most ${plural(numberOption(schema, 'maxItems'), 'item')}`;
    case ValueErrorType.ObjectMaxProperties:
      return `must have at most ${plural(numberOption(schema, 'maxProperties'), 'entry', 'entries')}`;
    default:
      return error.message.charAt(0).toLowerCase() + error.message.slice(1);
  }
};

/** JSON pointer `/versions/0/provenance/by` → `versions[0].provenance.by`; the root is `(record)`. */
export const fieldFromPath = (path: string): string => {
  if (path === '') return '(record)';
  let field = '';
  for (const raw of path.slice(1).split('/')) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    field += /^\d+$/.test(segment) ? `[${segment}]` : field === '' ? segment : `.${segment}`;
  }
  return field;
};

/**
 * Why `value` fails `schema`, one issue per field (named as `fieldFromPath` names it), in the words
 * `validateRecord` uses; at most MAX_ISSUES. Empty when it passes.
 */
export const schemaIssues = (schema: TSchema, value: unknown): ValidationIssue[] => {
  // One issue per field: a missing property also fails its type check, which would only repeat the news.
  const byField = new Map<string, string>();
  for (const error of Value.Errors(schema, value)) {
    const field = fieldFromPath(error.path);
    // A field present as undefined (from JavaScript: a form field cleared) is one JSON drops: as missing
    // as one left out, and "must be a string" would send the person looking for a wrong value.
    const missing =
      error.value === undefined &&
      error.path !== '' &&
      error.type !== ValueErrorType.ObjectAdditionalProperties;
    const reason = missing ? 'is required' : reasonFor(error);
    if (!byField.has(field) || error.type === ValueErrorType.ObjectRequiredProperty)
      byField.set(field, reason);
    if (byField.size >= MAX_ISSUES) break;
  }
  return [...byField].map(([field, reason]) => ({ field, reason }));
};

// ------------------------------------------------------------------------------- cross-field rules

const notBefore = (later: string | undefined, earlier: string | undefined, field: string, other: string) =>
  later !== undefined && earlier !== undefined && endsBefore(later, earlier)
    ? [{ field, reason: `must not be before ${other}` }]
    : [];

const requiredWhen = (present: unknown, field: string, condition: string): ValidationIssue[] =>
  present === undefined ? [{ field, reason: `is required when ${condition}` }] : [];

/** Prior versions must be strictly increasing and older than the current one. */
const versionHistory = (
  versions: readonly { readonly version: number }[],
  current: number,
): ValidationIssue[] => {
  let previous = 0;
  for (const [index, entry] of versions.entries()) {
    if (entry.version <= previous || entry.version >= current) {
      return [
        {
          field: `versions[${index}].version`,
          reason: `must increase through the history and stay below the current version ${current}`,
        },
      ];
    }
    previous = entry.version;
  }
  return [];
};

/** Record keys are text too, but a key schema's bounds never reach TypeBox's check (record-schemas.ts). */
const metadataKeys = (metadata: Readonly<Record<string, unknown>> | undefined): ValidationIssue[] => {
  for (const key of Object.keys(metadata ?? {})) {
    const problem = textProblem(key, undefined, AUDIT_METADATA_KEY_LENGTH);
    // The key itself is untrusted (possibly huge or broken), so the report does not quote it.
    if (problem === 'ill-formed' || problem === 'too-long') {
      return [
        {
          field: 'metadata',
          reason:
            problem === 'ill-formed'
              ? 'has a key that is not well-formed text (a lone UTF-16 surrogate)'
              : `has a key longer than ${AUDIT_METADATA_KEY_LENGTH} characters`,
        },
      ];
    }
  }
  return [];
};

const ABATED_STATUSES: ReadonlySet<string> = new Set(['inactive', 'remission', 'resolved']);

type Rules = { readonly [K in RecordKind]?: (record: RecordOf<K>) => ValidationIssue[] };

// Only rules whose fields one writer sets together: comparing instants written by different devices
// (sentAt by the sender, readAt by the recipient) would reject honest records from skewed clocks.
const RULES: Rules = {
  HealthDocument: (r) => versionHistory(r.versions, r.version),
  LabResult: (r) => versionHistory(r.versions, r.version),
  TreatmentPlan: (r) => [
    ...versionHistory(r.versions, r.version),
    ...notBefore(r.effectiveTo, r.effectiveFrom, 'effectiveTo', 'effectiveFrom'),
    ...(r.acknowledgement && r.acknowledgement.version > r.version
      ? [{ field: 'acknowledgement.version', reason: `must not exceed the plan version ${r.version}` }]
      : []),
  ],
  Medication: (r) => notBefore(r.endDate, r.startDate, 'endDate', 'startDate'),
  // FHIR con-4: an abated condition is inactive, in remission or resolved.
  Condition: (r) =>
    r.abatementDate !== undefined && !ABATED_STATUSES.has(r.clinicalStatus)
      ? [
          {
            field: 'clinicalStatus',
            reason: 'must be inactive, remission or resolved when abatementDate is set',
          },
        ]
      : [],
  Procedure: (r) =>
    r.performedEndAt !== undefined && r.performedAt !== undefined && /^\d{4}-\d{2}-\d{2}/.test(r.performedAt)
      ? notBefore(r.performedEndAt, r.performedAt, 'performedEndAt', 'performedAt')
      : [],
  Appointment: (r) => [
    ...notBefore(r.endAt, r.startAt, 'endAt', 'startAt'),
    ...(r.preferredTimes ?? []).flatMap((w, i) =>
      notBefore(w.endAt, w.startAt, `preferredTimes[${i}].endAt`, `preferredTimes[${i}].startAt`),
    ),
  ],
  Encounter: (r) => notBefore(r.endedAt, r.startedAt, 'endedAt', 'startedAt'),
  Message: (r) => [
    ...(r.status === 'delivered' ? requiredWhen(r.deliveredAt, 'deliveredAt', 'status is delivered') : []),
    ...(r.status === 'read' ? requiredWhen(r.readAt, 'readAt', 'status is read') : []),
  ],
  NoteVersion: (r) => [
    ...(r.kind === 'amendment'
      ? requiredWhen(r.amendmentReason, 'amendmentReason', 'kind is amendment')
      : []),
    ...(r.versionNumber === 1 && r.kind !== 'original'
      ? [{ field: 'kind', reason: 'must be original for version 1' }]
      : []),
  ],
  NoteSignature: (r) =>
    r.status === 'signed'
      ? [
          ...requiredWhen(r.signedAt, 'signedAt', 'status is signed'),
          ...requiredWhen(r.signedVersionNumber, 'signedVersionNumber', 'status is signed'),
        ]
      : [],
  AuditEntry: (r) => metadataKeys(r.metadata),
  Consent: (r) => {
    const seen = new Set<string>();
    const duplicates = r.scope.flatMap((item, index) => {
      const duplicate = seen.has(item.type);
      seen.add(item.type);
      return duplicate ? [{ field: `scope[${index}].type`, reason: `lists ${item.type} twice` }] : [];
    });
    return [
      ...duplicates,
      ...(r.expiresAt !== undefined && compareInstantTimes(r.expiresAt, r.startsAt) <= 0
        ? [{ field: 'expiresAt', reason: 'must be after startsAt' }]
        : []),
      ...(r.status === 'revoked' ? requiredWhen(r.revokedAt, 'revokedAt', 'status is revoked') : []),
    ];
  },
};

const conforms = <K extends RecordKind>(kind: K, value: unknown): value is RecordOf<K> =>
  Value.Check(RECORD_KINDS[kind].schema, value);

/** A kept source resource (`origin.resource`) is bounded as JSON, whatever its shape. */
const keptSourceIssues = (value: unknown): ValidationIssue[] => {
  const origin = (value as { origin?: { resource?: unknown } }).origin;
  if (origin?.resource === undefined) return [];
  return new TextEncoder().encode(JSON.stringify(origin.resource)).length > MAX_KEPT_SOURCE_BYTES
    ? [{ field: 'origin.resource', reason: `is over ${MAX_KEPT_SOURCE_BYTES} bytes` }]
    : [];
};

const failure = (kind: RecordKind, issues: readonly ValidationIssue[]): ValidationFailed => ({
  code: 'VALIDATION_FAILED',
  kind,
  message: `${kind} is invalid: ${issues.map((issue) => `${issue.field}: ${issue.reason}`).join('; ')}`,
  issues,
});

/**
 * Checks `value` against the schema and rules of `kind`. Returns the same object, typed, or a
 * `VALIDATION_FAILED` error whose issues name each bad field. Throws ModelError `UNKNOWN_KIND` only for a
 * kind name outside RECORD_KINDS.
 */
export const validateRecord = <K extends RecordKind>(
  kind: K,
  value: unknown,
): Result<RecordOf<K>, ValidationFailed> => {
  assertRecordKind(kind);
  if (!conforms(kind, value)) {
    const issues = schemaIssues(RECORD_KINDS[kind].schema, value);
    // Value.Check and Value.Errors agree; the fallback only guards against a TypeBox regression.
    return {
      ok: false,
      error: failure(kind, issues.length > 0 ? issues : [{ field: '(record)', reason: 'is invalid' }]),
    };
  }
  const rule: ((record: RecordOf<K>) => ValidationIssue[]) | undefined = RULES[kind];
  const issues = [...keptSourceIssues(value), ...(rule ? rule(value) : [])];
  return issues.length > 0 ? { ok: false, error: failure(kind, issues) } : { ok: true, value };
};

/** Like validateRecord but throws ModelError (code `VALIDATION_FAILED`, `detail` = the error object). */
export const assertRecord = <K extends RecordKind>(kind: K, value: unknown): RecordOf<K> => {
  const result = validateRecord(kind, value);
  if (!result.ok) throw new ModelError(result.error);
  return result.value;
};

/** Type guard form for filters. */
export const isRecord = <K extends RecordKind>(kind: K, value: unknown): value is RecordOf<K> =>
  validateRecord(kind, value).ok;
