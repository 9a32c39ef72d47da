// Version-specific references (`…/_history/{vid}`) in an export: the validator resolves them to the entry
// of that fullUrl and `meta.versionId`, not by their base URL alone, and the exporter writes one only where
// that entry is in the Bundle.
import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from './examples';
import { toFhirBundle, validateFhirBundleShape, type FhirBundle, type FhirExportItem } from './fhir';
import { newId } from './ids';
import { RECORD_KIND_NAMES, type RecordKind, type RecordOf } from './registry';

const item = <K extends RecordKind>(kind: K, record: RecordOf<K>): FhirExportItem =>
  // The union member for K; TypeScript cannot pick it from a generic K on its own.
  ({ kind, record }) as FhirExportItem;

const exportItems = (records: readonly FhirExportItem[]): FhirBundle =>
  toFhirBundle({ patientId: EXAMPLE_PATIENT_ID, records, generatedAt: '2024-06-01T12:00:00Z' });

type Json = Record<string, unknown>;
type MutableBundle = { entry: { fullUrl: string; resource: Json }[] };

const copyOf = (bundle: FhirBundle): MutableBundle => JSON.parse(JSON.stringify(bundle)) as MutableBundle;

const reasons = (bundle: unknown): string[] => {
  const result = validateFhirBundleShape(bundle);
  return result.ok ? [] : result.error.issues.map((issue) => `${issue.path}: ${issue.reason}`);
};

/** Every `reference` string under `value`. */
const referencesIn = (value: unknown): string[] => {
  if (Array.isArray(value)) return value.flatMap(referencesIn);
  if (typeof value !== 'object' || value === null) return [];
  const own = typeof (value as Json).reference === 'string' ? [(value as Json).reference as string] : [];
  return [...own, ...Object.values(value).flatMap(referencesIn)];
};

/** `fullUrl#versionId` of every entry, the pair a version-specific reference must name. */
const versionedEntries = (bundle: FhirBundle | MutableBundle): Set<string> =>
  new Set(
    bundle.entry.map((entry) => {
      const meta = entry.resource.meta as Json | undefined;
      return `${entry.fullUrl}#${typeof meta?.versionId === 'string' ? meta.versionId : ''}`;
    }),
  );

const versionedReferences = (bundle: FhirBundle | MutableBundle): string[] =>
  referencesIn(bundle.entry).filter((reference) => reference.includes('/_history/'));

/** Every version-specific reference of `bundle` names an entry of that fullUrl and meta.versionId. */
const expectVersionedReferencesResolve = (bundle: FhirBundle) => {
  const named = versionedEntries(bundle);
  for (const reference of versionedReferences(bundle)) {
    const [url, version] = reference.split('/_history/');
    expect(named.has(`${url}#${version}`), reference).toBe(true);
  }
  expect(reasons(bundle)).toEqual([]);
};

describe('validateFhirBundleShape: version-specific references', () => {
  const lab = exampleRecord('LabResult'); // versions 1 and 2, a Provenance targeting each
  const labBundle = exportItems([item('Profile', exampleRecord('Profile')), item('LabResult', lab)]);
  const observationUrl = `urn:hale:Observation/${lab.id}`;
  const patientUrl = labBundle.entry[0]!.fullUrl;

  /** The lab bundle with version 1's Provenance targeting `reference` instead. */
  const targeting = (reference: string): MutableBundle => {
    const bundle = copyOf(labBundle);
    const provenance = bundle.entry.find((entry) => entry.resource.id === `${lab.id}-prov-1`);
    if (provenance === undefined) throw new Error('no Provenance of version 1');
    provenance.resource.target = [{ reference }];
    return bundle;
  };

  it('accepts the export, whose versioned references each name an entry of that meta.versionId', () => {
    expect(versionedReferences(labBundle)).toEqual([
      `${observationUrl}/_history/1`,
      `${observationUrl}/_history/2`,
    ]);
    expectVersionedReferencesResolve(labBundle);
    expect(reasons(targeting(`${observationUrl}/_history/2`))).toEqual([]);
  });

  it.each([
    ['a version no entry of that fullUrl has', `/_history/99`],
    ['a well-formed version id that is not one the entries have', `/_history/v1.a-b`],
  ])('refuses %s', (_name, history) => {
    expect(reasons(targeting(`${observationUrl}${history}`))).toEqual([
      expect.stringMatching(
        /target\[0\]\.reference: .* names a version no entry of .* has \(meta\.versionId\)/,
      ),
    ]);
  });

  it('refuses a version of an entry that has no meta.versionId (the Patient)', () => {
    expect(reasons(targeting(`${patientUrl}/_history/1`))).toEqual([
      expect.stringMatching(/names a version no entry of .* has \(meta\.versionId\)/),
    ]);
  });

  it("refuses a reference whose version is not its entry's meta.versionId", () => {
    // The Provenance of version 1 still says `_history/1`; the entry it named now claims to be version 7.
    const bundle = copyOf(labBundle);
    const first = bundle.entry.find(
      (entry) => entry.fullUrl === observationUrl && (entry.resource.meta as Json).versionId === '1',
    );
    if (first === undefined) throw new Error('no Observation version 1');
    first.resource.meta = { ...(first.resource.meta as Json), versionId: '7' };
    expect(reasons(bundle)).toEqual([
      expect.stringMatching(
        /^entry\[\d+\]\.resource\.target\[0\]\.reference: .*\/_history\/1 names a version no entry/,
      ),
    ]);
  });

  it.each([
    ['an empty version', '/_history/'],
    ['no version at all', '/_history'],
    ['a path segment after the version', '/_history/1/x'],
    ['two version parts', '/_history/1/_history/1'],
    ['a version with a character FHIR ids do not have', '/_history/1_2'],
    ['a version longer than 64 characters', `/_history/${'1'.repeat(65)}`],
  ])('refuses %s as malformed, not only as unresolved', (_name, history) => {
    expect(reasons(targeting(`${observationUrl}${history}`))).toEqual([
      expect.stringMatching(/is not a literal reference .*_history\/\{version\}/),
    ]);
  });
});

describe('toFhirBundle: a version not in the export is named logically, not by a dangling reference', () => {
  it('every example record together', () => {
    const bundle = exportItems(RECORD_KIND_NAMES.map((kind) => item(kind, exampleRecord(kind))));
    expectVersionedReferencesResolve(bundle);
  });

  it('an amendment whose earlier version is not exported', () => {
    const version = exampleRecord('NoteVersion', { versionNumber: 3, kind: 'amendment' });
    const bundle = exportItems([item('NoteVersion', version)]);
    expectVersionedReferencesResolve(bundle);
    const composition = bundle.entry.find((entry) => entry.resource.resourceType === 'Composition')!;
    expect(composition.resource.relatesTo).toEqual([
      {
        code: 'replaces',
        targetReference: {
          type: 'Composition',
          identifier: { system: 'urn:hale:id', value: version.noteId },
          display: `MedicalNote ${version.noteId} version 2`,
        },
      },
    ]);
  });

  it('a signature of a note version that is not exported, beside the note', () => {
    const noteId = newId();
    const note = exampleRecord('MedicalNote', { id: noteId, currentVersionNumber: 3 });
    const signed = exampleRecord('NoteSignature', { noteId, signedVersionNumber: 2 });
    const bundle = exportItems([item('MedicalNote', note), item('NoteSignature', signed)]);
    expectVersionedReferencesResolve(bundle);
    const provenance = bundle.entry.find((entry) => entry.resource.id === signed.id)!;
    expect(provenance.resource.target).toEqual([
      {
        type: 'Composition',
        identifier: { system: 'urn:hale:id', value: noteId },
        display: `MedicalNote ${noteId} version 2`,
      },
    ]);
  });

  it('an acknowledgement of a plan version the record no longer holds', () => {
    // validateRecord takes a history with gaps (only increasing): version 2 is not among the versions.
    const base = exampleRecord('TreatmentPlan');
    const plan = exampleRecord('TreatmentPlan', {
      version: 3,
      acknowledgement: { by: EXAMPLE_PATIENT_ID, at: '2024-05-03T07:00:00Z', version: 2 },
      versions: base.versions,
    });
    const bundle = exportItems([item('TreatmentPlan', plan)]);
    expectVersionedReferencesResolve(bundle);
    const ack = bundle.entry.find((entry) => entry.resource.id === `${plan.id}-ack`)!;
    expect(ack.resource.target).toEqual([
      {
        type: 'CarePlan',
        identifier: { system: 'urn:hale:id', value: plan.id },
        display: `TreatmentPlan ${plan.id} version 2`,
      },
    ]);
  });
});
