/*
 * What one record kind is, in one object (`KindDescription`): every table about kinds in the model, the
 * device library and the app is read from these (kind-descriptions.ts lists them, one file each in kinds/).
 *
 * | piece | read by |
 * |---|---|
 * | `slug` | the glossary: routes (`/chart/<slug>`), the kind's words (`kinds.<slug>.*`), a stream's name |
 * | `schema`, `streamType`, `authorship` | RECORD_KINDS, validateRecord, AUTHORSHIP |
 * | `fhir` | toFhirBundle (export), planFhirImport (import), the shape check, Consent provision classes |
 * | `clinicalDate`, `search` | the library's list sort and local search |
 * | `screen` | the app's navigation, list, detail and form; null: the kind has no generic screens |
 * | `example` | exampleRecord: a valid record with every optional field filled |
 *
 * Invariants:
 * - A piece left out does not compile (KIND_DESCRIPTIONS is typed per kind); a kind with nothing for a
 *   piece says so (`[]`, `{}`, `null`).
 * - Paths (`clinicalDate`, `search`, `screen.title`, `screen.summary`) name fields of the kind's schema.
 * - The words a kind needs (`translationKeys`) follow from `slug` and `screen.form`: none is listed apart.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import type { ExampleParts } from './example-parts';
import type { DraftObject, Exporter } from './fhir-draft';
import type { ProfileRole } from './fhir-export-records';
import type { MapContext, MapOutcome } from './fhir-import-map-base';
import type { Json } from './fhir-import-read';
import type { Profile } from './record-schemas';
import type { StreamType } from './stream-types';

/** Who may change a record once written (authorship.ts). */
export type AuthorshipRule =
  'shared' | 'author' | 'writer' | 'plan' | 'signature' | 'message' | 'appointment';

// ------------------------------------------------------------------------------------------------ FHIR

/** What a record's export may ask of the rest of the export (fhir-bundle.ts answers). */
export interface ExportContext {
  /** Which Patient a Profile becomes (several Profiles: one is the export's Patient). */
  profileRole(profile: Profile): ProfileRole;
  /** References to the Immunizations a document proves. */
  provenBy(documentId: string): readonly DraftObject[];
  /** A reference to a note, or to one version of it. */
  noteTarget(noteId: string, version: number | undefined, noteVersionId: string): DraftObject;
  versionNumberOf(noteVersionId: string): number | undefined;
  /** The resource types a stream's records export as (Consent provision classes). */
  streamResources(type: Exclude<StreamType, 'audit'>): readonly string[];
}

/** Exports one record through `x` (adds its resources). */
export type KindExport<R> = (
  x: Exporter,
  record: R,
  signature: string | undefined,
  context: ExportContext,
) => void;

/** One FHIR resource type read into records of the kind. */
export interface FhirImporter {
  readonly resourceType: string;
  /** The elements read, with their R4 JSON types: a resource that breaks them refuses the file. */
  readonly shape: TSchema;
  readonly map: (resource: Json, context: MapContext) => MapOutcome;
}

/** What the shape check asks of a resource type only this kind exports (fhir-shape.ts). */
export interface FhirShape {
  /** Elements R4 requires (`a.b`: every `a` present has `b`; `x[x]`: a choice). */
  readonly required?: readonly string[];
  /** Code elements and the values their required binding allows. */
  readonly codes?: Readonly<Record<string, readonly string[]>>;
}

export interface KindFhir<R> {
  /** The R4 resource a record mainly becomes (its Hale id is that resource's identifier). */
  readonly resource: string;
  /** Other resource types its records export as (a result's DiagnosticReport, a plan's Provenance excepted). */
  readonly alsoExports?: readonly string[];
  readonly export: KindExport<R>;
  /** Resource types read into records of this kind; `[]`: not imported. */
  readonly import: readonly FhirImporter[];
  readonly shapes?: Readonly<Record<string, FhirShape>>;
}

// ------------------------------------------------------------------------------------------------- app

/**
 * | type | form control | stored as |
 * |---|---|---|
 * | `text`, `textarea` | text | string, omitted when empty |
 * | `select` | a choice of `options`, labelled `enum.<enumName>.<value>` | string |
 * | `date` | calendar day | `YYYY-MM-DD` |
 * | `instant` | day and time | ISO instant with the device's offset |
 * | `partialDate` | text: a year, month or day | `YYYY`, `YYYY-MM` or `YYYY-MM-DD` |
 * | `boolean` | switch | boolean |
 * | `labValue` | text | a number when the text is one, else the text |
 * | `age` | whole years | integer |
 * | `account` | an account id, found in the directory | account id |
 * | `times` | text: times of day, comma-separated (`08:00, 20:00`) | `HH:MM` strings, earliest first |
 */
export type FieldType =
  | 'text'
  | 'textarea'
  | 'select'
  | 'date'
  | 'instant'
  | 'partialDate'
  | 'boolean'
  | 'labValue'
  | 'age'
  | 'account'
  | 'times';

export interface FormField {
  /** The record's field; a dotted path for nested ones (`contact.phone`); labelled `fields.<name>`. */
  readonly name: string;
  readonly type: FieldType;
  readonly required?: boolean;
  readonly options?: readonly string[];
  /** For `select`: the labels' family (`enum.<enumName>.<value>`); the field's name when absent. */
  readonly enumName?: string;
  /** Where a new record starts. */
  readonly initial?: string | boolean;
}

/** The icons a kind's navigation item may take (the app draws each). */
export const KIND_ICONS = [
  'id',
  'phone',
  'virus',
  'heartbeat',
  'pill',
  'vaccine',
  'activity',
  'file',
  'bandage',
  'clipboard',
  'calendar',
  'stethoscope',
  'notes',
  'people',
  'dna',
  'eye',
  'tooth',
  'scale',
  'brain',
  'lungs',
] as const;
export type KindIcon = (typeof KIND_ICONS)[number];

/** A field of `R` at the top level, or one level down (`contact.phone`, `file.fileName`, `attachments.fileName`). */
export type FieldPath<R> = {
  [K in keyof R & string]-?: NonNullable<R[K]> extends readonly (infer E)[]
    ? E extends object
      ? `${K}.${keyof E & string}`
      : K
    : NonNullable<R[K]> extends object
      ? K | `${K}.${keyof NonNullable<R[K]> & string}`
      : K;
}[keyof R & string];

export interface KindScreen<R> {
  readonly section: 'chart' | 'care';
  /** Place in its section's navigation (ascending). */
  readonly order: number;
  readonly icon: KindIcon;
  /** The kind's own list screen, where it has one (plans, appointments); else `/chart/<slug>`. */
  readonly path?: string;
  /** The field a row's title shows. */
  readonly title: FieldPath<R>;
  /** A record without a title reads as the kind's name (`kinds.<slug>.one`), not as untitled. */
  readonly untitledIsKind?: boolean;
  /** Fields a row's second line shows, in order, when set. */
  readonly summary: readonly FieldPath<R>[];
  readonly form: readonly FormField[];
  /** Fields the form sets to the time of adding (an allergy's `recordedAt`). */
  readonly stampedOnAdd?: readonly (keyof R & string)[];
  /** Versioned by the library (each content change a version with provenance). */
  readonly versioned: boolean;
  /** A write that changes content takes a reason (provenance.reason). */
  readonly takesReason: boolean;
  /** Added through an upload, not a form (documents). */
  readonly uploaded?: boolean;
}

// ---------------------------------------------------------------------------------------------- a kind

export interface KindDescription<S extends TSchema, R = Static<S>> {
  /** Lower-case words with dashes: the route segment and the root of the kind's words. */
  readonly slug: string;
  readonly schema: S;
  /** The stream the kind replicates in; null for objects that are not patient streams. */
  readonly streamType: StreamType | null;
  readonly authorship: AuthorshipRule;
  readonly fhir: KindFhir<R>;
  /** Fields giving the date a record is about, first set wins; `[]`: the time of writing. */
  readonly clinicalDate: readonly (keyof R & string)[];
  /** Text fields local search reads, each with its boost (a name 3, text 1, codes and states below 1). */
  readonly search: Readonly<Partial<Record<FieldPath<R>, number>>>;
  readonly screen: KindScreen<R> | null;
  readonly example: (parts: ExampleParts) => R;
}

/** Any kind's description as code over every kind reads it: paths as text, a record to export cast. */
export type AnyKindDescription = Omit<
  KindDescription<TSchema, Record<string, unknown>>,
  'fhir' | 'example'
> & {
  readonly fhir: KindFhir<never>;
  readonly example: (parts: ExampleParts) => unknown;
};
