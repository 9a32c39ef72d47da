/*
 * What every FHIR import mapping shares (fhir-import-map.ts, fhir-import-map-results.ts): the outcome and
 * context types, and building a record input with the list of elements it does not keep.
 */
import type { RecordKind } from './registry';
import { conceptsOf, haleExtension, str, type Json } from './fhir-import-read';
import { conceptsText } from './concepts';
import type { Concept } from './record-schemas';

export interface PendingFile {
  readonly field: 'file' | 'attachments';
  /** Standard base64, as FHIR `Attachment.data` holds it. */
  readonly data: string;
  readonly mediaType: string;
  readonly fileName: string;
  /** What the Attachment declares of its data (`size`, `hash`: base64 SHA-1), checked before import. */
  readonly declared?: { readonly size?: number; readonly sha1?: string };
}

/** The `size` and `hash` an Attachment declares, when it declares any. */
export const declaredOf = (attachment: Json): Pick<PendingFile, 'declared'> => {
  const size = typeof attachment['size'] === 'number' ? attachment['size'] : undefined;
  const sha1 = str(attachment['hash']);
  return size === undefined && sha1 === undefined
    ? {}
    : { declared: { ...(size === undefined ? {} : { size }), ...(sha1 === undefined ? {} : { sha1 }) } };
};

export type MapOutcome =
  | {
      readonly kind: RecordKind;
      readonly input: Record<string, unknown>;
      readonly files?: readonly PendingFile[];
      readonly notKept: readonly string[];
    }
  | { readonly skip: string }
  /** Read into another record of the same file (a blood type into the Profile, a next dose into its vaccine). */
  | { readonly absorbed: string };

/** What a mapping may ask of the rest of the file. */
export interface MapContext {
  readonly importedAt: string;
  /** The resource an entry's reference names in the file (undefined: not in the file). */
  resolve(reference: unknown): Json | undefined;
  /** The Hale account of the person a reference names (a Hale export's Practitioner or Patient). */
  accountOf(reference: unknown): string | undefined;
  /** The id the record read from the resource a reference names will have, when it is imported. */
  newIdOf(reference: unknown): string | undefined;
  /** The kind of that record: the kind that imports the resource a reference names in the file. */
  importedKindOf(reference: unknown): RecordKind | undefined;
  /** The blood type read from an Observation of the file, for the Profile. */
  readonly bloodType: string | undefined;
  /** Whether a Profile is created from this file (then a blood-type Observation is absorbed into it). */
  readonly profileImported: boolean;
  /** A next dose an ImmunizationRecommendation gives for this Immunization. */
  nextDoseOf(resource: Json): string | undefined;
  /** Files a Hale DiagnosticReport presents for this Observation. */
  attachmentsOf(resource: Json): readonly Json[];
}

/** Elements every mapping reads or that carry no record content. */
export const ALWAYS = ['resourceType', 'id', 'meta', 'text', 'identifier', 'extension', 'contained'];

export const notKept = (resource: Json, read: readonly string[]): string[] =>
  Object.keys(resource).filter((key) => !ALWAYS.includes(key) && !read.includes(key) && !key.startsWith('_'));

export const defined = (input: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));

export const oneOf = <T extends string>(values: readonly T[], value: unknown): T | undefined =>
  typeof value === 'string' && (values as readonly string[]).includes(value) ? (value as T) : undefined;

export const record = (
  kind: RecordKind,
  resource: Json,
  read: readonly string[],
  input: Record<string, unknown>,
  files?: readonly PendingFile[],
): MapOutcome => ({
  kind,
  input: defined(input),
  notKept: notKept(resource, read),
  ...(files === undefined || files.length === 0 ? {} : { files }),
});

/** A resource's body sites: the words a person reads (`bodySite`) and the concepts the source sent. */
export const bodySitesOf = (r: Json): { bodySite?: string | undefined; bodySites?: Concept[] } => {
  const bodySites = conceptsOf(Array.isArray(r['bodySite']) ? r['bodySite'] : [r['bodySite']]);
  return bodySites === undefined ? {} : { bodySite: conceptsText(bodySites, 200), bodySites };
};

export const haleNote = (resource: Json): string | undefined => str(haleExtension(resource, 'note'));
