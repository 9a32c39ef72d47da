/*
 * Reading what a person hands the FHIR import: a Bundle (collection, transaction, batch, searchset,
 * document), a single resource, or NDJSON (one resource per line, FHIR Bulk Data), as text or bytes.
 *
 * | check | limit | refusal (`FhirImportFailure.reason`) |
 * |---|---|---|
 * | size | MAX_IMPORT_BYTES (UTF-8) | TOO_LARGE, before anything is parsed |
 * | nesting | MAX_IMPORT_DEPTH brackets, counted over the text before parsing | TOO_DEEP |
 * | JSON | every line of NDJSON, or the whole text | NOT_JSON (naming the line) |
 * | shape | a Bundle of an accepted type, entries with a resource of a `resourceType` | MALFORMED (issues name paths) |
 * | count | MAX_IMPORT_RESOURCES resources | TOO_LARGE |
 *
 * Invariants: pure; nothing is read beyond what the checks allow (the depth scan runs before JSON.parse,
 * so a hostile nesting never reaches the parser's recursion; json-in-slices.ts). An entry without a resource (a transaction's
 * DELETE) is kept, for the plan to list.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Result } from './errors';
import { jsonSteps } from './json-in-slices';
import { runSteps } from './steps';

/** Largest import, in bytes of UTF-8: a chart with scanned documents embedded (base64) fits. */
export const MAX_IMPORT_BYTES = 32 * 1024 * 1024;
/** Deepest nesting of arrays and objects: FHIR resources in a Bundle stay well under 30. */
export const MAX_IMPORT_DEPTH = 48;
/** Most resources one import reads. */
export const MAX_IMPORT_RESOURCES = 20_000;
/** Most issues a refusal lists. */
const MAX_ISSUES = 50;

/** Append-only: why an import was refused whole (nothing is written). */
export const FHIR_IMPORT_FAILURES = [
  'TOO_LARGE',
  'TOO_DEEP',
  'NOT_JSON',
  'MALFORMED',
  'UNSUPPORTED_BUNDLE',
  'DANGLING_REFERENCE',
  'SEVERAL_PATIENTS',
  'NOTHING_TO_IMPORT',
  /** The file names no patient and the import was not told whose chart it goes into (#63 item 4). */
  'NO_PATIENT',
] as const;
export type FhirImportFailureReason = (typeof FHIR_IMPORT_FAILURES)[number];

export interface FhirImportIssue {
  /** e.g. `entry[3].resource.code.coding[0].code`, or `line 4` of NDJSON. */
  readonly path: string;
  readonly reason: string;
}

export interface FhirImportFailure {
  readonly code: 'FHIR_IMPORT_REFUSED';
  readonly reason: FhirImportFailureReason;
  readonly message: string;
  readonly issues: readonly FhirImportIssue[];
}

export const importFailure = (
  reason: FhirImportFailureReason,
  message: string,
  issues: readonly FhirImportIssue[] = [],
): { ok: false; error: FhirImportFailure } => ({
  ok: false,
  error: { code: 'FHIR_IMPORT_REFUSED', reason, message, issues: issues.slice(0, MAX_ISSUES) },
});

/** Bundle types an import reads: what portals, servers and Hale itself hand out. */
export const IMPORTABLE_BUNDLE_TYPES = [
  'collection',
  'transaction',
  'batch',
  'searchset',
  'document',
] as const;

/** A resource as read: any JSON object naming its type (its elements are checked per type later). */
export type FhirInputResource = Readonly<Record<string, unknown>> & { readonly resourceType: string };

export interface FhirInputEntry {
  /** Where the entry is, for messages: `entry[3]` or `line 4`. */
  readonly path: string;
  readonly fullUrl?: string;
  readonly resource?: FhirInputResource;
  /** A transaction's request method (`POST`, `PUT`, `DELETE`, …), when given. */
  readonly method?: string;
}

export interface FhirInput {
  readonly format: 'bundle' | 'resource' | 'ndjson';
  readonly bundleType?: string;
  /** `Bundle.meta.source` or the Bundle's identifier value: the sending system, when it says. */
  readonly source?: string;
  readonly entries: readonly FhirInputEntry[];
}

const Text = (maxLength: number) => Type.String({ maxLength });
const ResourceShape = Type.Object({
  resourceType: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Z][A-Za-z]*$' }),
  id: Type.Optional(Text(64)),
});
const EntryShape = Type.Object({
  fullUrl: Type.Optional(Text(2000)),
  resource: Type.Optional(Type.Object({})),
  request: Type.Optional(Type.Object({ method: Type.Optional(Text(16)), url: Type.Optional(Text(4000)) })),
});
const BundleShape = Type.Object({
  resourceType: Type.Literal('Bundle'),
  type: Type.String({ maxLength: 64 }),
  meta: Type.Optional(Type.Object({ source: Type.Optional(Text(2000)) })),
  identifier: Type.Optional(
    Type.Object({ system: Type.Optional(Text(2000)), value: Type.Optional(Text(2000)) }),
  ),
  entry: Type.Optional(Type.Array(Type.Unknown(), { maxItems: MAX_IMPORT_RESOURCES })),
});

/** The issues of `value` against `schema`, paths prefixed with `at` (`entry[2].resource`). */
export const schemaIssues = (schema: TSchema, value: unknown, at: string): FhirImportIssue[] => {
  // Most resources are well formed: a check is a fraction of listing errors (paths and messages made).
  if (Value.Check(schema, value)) return [];
  const issues: FhirImportIssue[] = [];
  for (const error of Value.Errors(schema, value)) {
    const path = error.path
      .split('/')
      .filter((part) => part !== '')
      .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
      .join('');
    issues.push({ path: `${at}${path}`, reason: error.message });
    if (issues.length >= MAX_ISSUES) break;
  }
  return issues;
};

const utf8Length = (text: string): number => {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    bytes += unit < 0x80 ? 1 : unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff) ? 2 : 3;
  }
  return bytes;
};

/** Deepest bracket nesting of `text` outside strings; stops counting past `limit`. */
const isObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const parse = (text: string, where: string): Result<unknown, FhirImportIssue> => {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: { path: where, reason: error instanceof Error ? error.message : 'not JSON' } };
  }
};

const resourceIssues = (value: unknown, at: string): FhirImportIssue[] =>
  isObject(value) ? schemaIssues(ResourceShape, value, at) : [{ path: at, reason: 'must be a JSON object' }];

type ReadAnswer = Result<FhirInput, FhirImportFailure>;

/**
 * Reads `input` (text, or UTF-8 bytes) as a Bundle, a single resource or NDJSON. Refuses (nothing read
 * further) what the header's table says.
 */
export const readFhirInput = (input: string | Uint8Array): ReadAnswer => runSteps(readFhirInputSteps(input));

/** `readFhirInput`'s work, yielding where a slice of it may end (json-in-slices.ts; each line, each entry). */
export function* readFhirInputSteps(input: string | Uint8Array): Generator<void, ReadAnswer> {
  const bytes =
    typeof input === 'string'
      ? input.length > MAX_IMPORT_BYTES
        ? Infinity
        : utf8Length(input)
      : input.byteLength;
  if (bytes > MAX_IMPORT_BYTES) {
    return importFailure(
      'TOO_LARGE',
      `the file is larger than ${MAX_IMPORT_BYTES / (1024 * 1024)} MB: split it, or import its documents separately`,
    );
  }
  let text: string;
  try {
    text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    return importFailure('NOT_JSON', 'the file is not UTF-8 text');
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  yield;
  const whole = yield* jsonSteps(text, MAX_IMPORT_DEPTH);
  if (!whole.ok && whole.tooDeep) {
    return importFailure(
      'TOO_DEEP',
      `the file nests deeper than ${MAX_IMPORT_DEPTH} levels: no FHIR resource does`,
    );
  }
  if (whole.ok) return yield* readDocument(whole.value);
  // Not one JSON value: NDJSON, one resource per line.
  const lines = text.split(/\r?\n/);
  const entries: FhirInputEntry[] = [];
  const issues: FhirImportIssue[] = [];
  for (const [index, line] of lines.entries()) {
    yield;
    if (line.trim() === '') continue;
    const path = `line ${index + 1}`;
    const value = parse(line, path);
    if (!value.ok) {
      return importFailure('NOT_JSON', `${path} is not JSON: ${value.error.reason}`, [value.error]);
    }
    const problems = resourceIssues(value.value, path);
    if (problems.length > 0) issues.push(...problems);
    else entries.push({ path, resource: value.value as FhirInputResource });
    if (entries.length > MAX_IMPORT_RESOURCES) {
      return importFailure('TOO_LARGE', `more than ${MAX_IMPORT_RESOURCES} resources in one file`);
    }
  }
  if (issues.length > 0)
    return importFailure(
      'MALFORMED',
      `the file is not FHIR NDJSON: ${issues[0]?.path}: ${issues[0]?.reason}`,
      issues,
    );
  if (entries.length === 0) return importFailure('NOTHING_TO_IMPORT', 'the file holds no FHIR resource');
  return { ok: true, value: { format: 'ndjson', entries } };
}

function* readDocument(value: unknown): Generator<void, ReadAnswer> {
  const problems = resourceIssues(value, 'the file');
  if (problems.length > 0) {
    return importFailure('MALFORMED', 'the file is no FHIR resource (no resourceType)', problems);
  }
  const resource = value as FhirInputResource;
  if (resource.resourceType !== 'Bundle') {
    return { ok: true, value: { format: 'resource', entries: [{ path: 'the file', resource }] } };
  }
  // The count limit answers as in NDJSON (TOO_LARGE), not as a malformed Bundle.
  const listed = (resource as { entry?: unknown }).entry;
  if (Array.isArray(listed) && listed.length > MAX_IMPORT_RESOURCES) {
    return importFailure('TOO_LARGE', `more than ${MAX_IMPORT_RESOURCES} resources in one file`);
  }
  const bundleIssues = schemaIssues(BundleShape, resource, 'Bundle');
  if (bundleIssues.length > 0) {
    const first = bundleIssues[0];
    return importFailure(
      'MALFORMED',
      `the Bundle is malformed: ${first?.path}: ${first?.reason}`,
      bundleIssues,
    );
  }
  const bundle = resource as Static<typeof BundleShape>;
  if (!(IMPORTABLE_BUNDLE_TYPES as readonly string[]).includes(bundle.type)) {
    return importFailure(
      'UNSUPPORTED_BUNDLE',
      `a Bundle of type ${JSON.stringify(bundle.type)} is not imported (${IMPORTABLE_BUNDLE_TYPES.join(', ')} are)`,
    );
  }
  const entries: FhirInputEntry[] = [];
  const issues: FhirImportIssue[] = [];
  for (const [index, raw] of (bundle.entry ?? []).entries()) {
    yield;
    const path = `entry[${index}]`;
    const entryIssues = schemaIssues(EntryShape, raw, path);
    if (entryIssues.length > 0) {
      issues.push(...entryIssues);
      continue;
    }
    const entry = raw as Static<typeof EntryShape>;
    if (entry.resource !== undefined) {
      const problems = resourceIssues(entry.resource, `${path}.resource`);
      if (problems.length > 0) {
        issues.push(...problems);
        continue;
      }
    }
    entries.push({
      path,
      ...(entry.fullUrl === undefined ? {} : { fullUrl: entry.fullUrl }),
      ...(entry.resource === undefined ? {} : { resource: entry.resource as FhirInputResource }),
      ...(entry.request?.method === undefined ? {} : { method: entry.request.method }),
    });
  }
  if (issues.length > 0) {
    const first = issues[0];
    return importFailure('MALFORMED', `the Bundle is malformed: ${first?.path}: ${first?.reason}`, issues);
  }
  if (entries.length === 0) return importFailure('NOTHING_TO_IMPORT', 'the Bundle has no entries');
  const source = bundle.meta?.source ?? bundle.identifier?.value;
  return {
    ok: true,
    value: {
      format: 'bundle',
      bundleType: bundle.type,
      ...(source === undefined ? {} : { source }),
      entries,
    },
  };
}
