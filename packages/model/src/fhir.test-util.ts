/*
 * Shared fixtures and lookups of the FHIR export and import tests.
 */
import { expect } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from './examples';
import {
  FhirExportError,
  toFhirBundle,
  validateFhirBundleShape,
  type FhirBundle,
  type FhirExportItem,
  type FhirResource,
} from './fhir';
import { planFhirImport } from './fhir-import';
import { RECORD_KIND_NAMES, type RecordKind, type RecordOf } from './registry';
import { assertRecord } from './validate';

export const GENERATED_AT = '2024-06-01T12:00:00Z';
export const UCUM = 'http://unitsofmeasure.org';
export const LOINC = 'http://loinc.org';

export const item = <K extends RecordKind>(
  kind: K,
  record: RecordOf<K>,
  signature?: string,
): FhirExportItem =>
  // The union member for K; TypeScript cannot pick it from a generic K on its own.
  ({ kind, record, ...(signature === undefined ? {} : { signature }) }) as FhirExportItem;

export const example = <K extends RecordKind>(kind: K, overrides?: Partial<RecordOf<K>>): FhirExportItem =>
  item(kind, exampleRecord(kind, overrides));

export const exportItems = (records: readonly FhirExportItem[], patientId = EXAMPLE_PATIENT_ID): FhirBundle =>
  toFhirBundle({ patientId, records, generatedAt: GENERATED_AT });

/** The detail of the FhirExportError `run` throws; undefined when it throws none. */
export const refusal = (run: () => unknown): FhirExportError['detail'] | undefined => {
  try {
    run();
  } catch (error) {
    if (error instanceof FhirExportError) return error.detail;
    throw error;
  }
  return undefined;
};

/** `make()` on first call, the same value after. */
export const once = <T>(make: () => T): (() => T) => {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
};

export const allExamples = (): FhirExportItem[] => RECORD_KIND_NAMES.map((kind) => example(kind));

/** Reads `a.b[0].c` out of JSON; undefined when any step is missing. */
export const at = (value: unknown, path: string): unknown =>
  path
    .split(/\.|(?=\[)/)
    .filter((step) => step !== '')
    .reduce<unknown>((node, step) => {
      if (node === undefined || node === null || typeof node !== 'object') return undefined;
      const index = /^\[(\d+)\]$/.exec(step);
      if (index) return Array.isArray(node) ? node[Number(index[1])] : undefined;
      return (node as Record<string, unknown>)[step];
    }, value);

export const entriesOf = (bundle: FhirBundle, resourceType: string): FhirResource[] =>
  bundle.entry.map((entry) => entry.resource).filter((resource) => resource.resourceType === resourceType);

/** The single entry at `urn:hale:{type}/{id}` (and version, when given). */
export const resourceAt = (bundle: FhirBundle, type: string, id: string, version?: number): FhirResource => {
  const found = bundle.entry.filter(
    (entry) =>
      entry.fullUrl === `urn:hale:${type}/${id}` &&
      (version === undefined || at(entry.resource, 'meta.versionId') === String(version)),
  );
  expect(found, `${type}/${id}${version === undefined ? '' : ` v${version}`}`).toHaveLength(1);
  const [entry] = found;
  if (entry === undefined) throw new Error('unreachable');
  return entry.resource;
};

export const only = (bundle: FhirBundle, resourceType: string): FhirResource => {
  const list = entriesOf(bundle, resourceType);
  expect(list, resourceType).toHaveLength(1);
  const [resource] = list;
  if (resource === undefined) throw new Error('unreachable');
  return resource;
};

/** An example with `omit` fields removed, re-validated so tests only ever feed valid records. */
export const exampleWithout = <K extends RecordKind>(
  kind: K,
  omit: readonly string[],
  overrides?: Partial<RecordOf<K>>,
): RecordOf<K> => {
  const copy: Record<string, unknown> = { ...exampleRecord(kind, overrides) };
  for (const key of omit) delete copy[key];
  return assertRecord(kind, copy);
};

export const exportOne = <K extends RecordKind>(
  kind: K,
  overrides?: Partial<RecordOf<K>>,
  omit: readonly string[] = [],
) => {
  const record = exampleWithout(kind, omit, overrides);
  const bundle = exportItems([item(kind, record)]);
  const check = validateFhirBundleShape(bundle);
  expect(check.ok ? [] : check.error.issues).toEqual([]);
  return { record, bundle };
};

/** Like exampleWithout, but not validated: for records the export must refuse. */
export const exampleWithoutValidation = <K extends RecordKind>(
  kind: K,
  omit: readonly string[],
  overrides: Partial<RecordOf<K>>,
): RecordOf<K> => {
  const copy = { ...exampleRecord(kind, overrides) };
  for (const key of omit) delete (copy as Record<string, unknown>)[key];
  return copy;
};

export const expectElements = (resource: FhirResource, elements: readonly string[]) => {
  for (const element of elements) {
    const present = element.endsWith('[x]')
      ? Object.keys(resource).some(
          (key) => key.startsWith(element.slice(0, -3)) && key !== element.slice(0, -3),
        )
      : resource[element] !== undefined;
    expect(present, `${resource.resourceType}.${element}`).toBe(true);
  }
};

export const haleIds = (resource: FhirResource): unknown[] => {
  const identifier = resource.identifier;
  const list = Array.isArray(identifier) ? identifier : identifier === undefined ? [] : [identifier];
  return list.filter((id) => at(id, 'system') === 'urn:hale:id').map((id) => at(id, 'value'));
};

export const referencesIn = (value: unknown, found: string[] = []): string[] => {
  if (Array.isArray(value)) for (const child of value) referencesIn(child, found);
  else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'reference' && typeof child === 'string') found.push(child);
      else referencesIn(child, found);
    }
  }
  return found;
};

// --------------------------------------------------------------------------------------------- bundle

/** What an import of `resource` keeps in the fields of its first record (the source it keeps left out). */
export const importOne = (resource: Record<string, unknown>): Record<string, unknown> => {
  const plan = planFhirImport(JSON.stringify(resource), {
    patientId: 'FreshAccount0000000001',
    importedAt: '2026-11-27T10:00:00.000Z',
  });
  if (!plan.ok) throw new Error(plan.error.message);
  const [first] = plan.value.records;
  if (first === undefined) throw new Error('nothing imported');
  const { origin: _origin, ...own } = first.input;
  return own;
};
