/*
 * Every record kind's description (kind-description.ts), one file each in kinds/, and what is read from
 * them all: the glossary (slugs, a stream's name, the words each kind needs), the resources a stream
 * exports as, the importers by resource type, local search's fields and boosts.
 *
 * Invariants:
 * - The order here is the order of RECORD_KIND_NAMES; a new kind is appended (its stream type too:
 *   STREAM_TYPES is append-only).
 * - A stream's name is its first kind's (`streamSlug`): the `note` stream reads as MedicalNote's.
 * - A resource type is read into one kind only; a search path has one boost whatever kind has it.
 */
import type { AnyKindDescription, FhirImporter } from './kind-description';
import type { StreamType } from './stream-types';
import { STREAM_TYPES } from './stream-types';
import { ALLERGY } from './kinds/allergy';
import { APPOINTMENT } from './kinds/appointment';
import { AUDIT_ENTRY } from './kinds/audit-entry';
import { COMMENT } from './kinds/comment';
import { CONDITION } from './kinds/condition';
import { CONSENT } from './kinds/consent';
import { EMERGENCY_CONTACT } from './kinds/emergency-contact';
import { FAMILY_HISTORY } from './kinds/family-history';
import { ENCOUNTER } from './kinds/encounter';
import { HEALTH_DOCUMENT } from './kinds/health-document';
import { IMMUNIZATION } from './kinds/immunization';
import { LAB_RESULT } from './kinds/lab-result';
import { MEDICAL_NOTE } from './kinds/medical-note';
import { MEDICATION } from './kinds/medication';
import { MEDICATION_DOSE } from './kinds/medication-dose';
import { MESSAGE } from './kinds/message';
import { NOTE_SIGNATURE } from './kinds/note-signature';
import { NOTE_VERSION } from './kinds/note-version';
import { PROCEDURE } from './kinds/procedure';
import { PROFILE } from './kinds/profile';
import { PROVIDER_PROFILE } from './kinds/provider-profile';
import { TREATMENT_PLAN } from './kinds/treatment-plan';

export { DOCUMENT_TYPES } from './kinds/health-document';
export {
  FAMILY_RELATIONSHIPS,
  FamilyHistorySchema,
  exportFamilyHistory,
  mapFamilyMemberHistory,
  type FamilyHistory,
} from './kinds/family-history';
export { CommentSchema, exportComment, mapCommentCommunication, type Comment } from './kinds/comment';
export { NOTE_VERSION_FIELDS } from './kinds/medical-note';
export {
  DOSE_STATUSES,
  MedicationDoseSchema,
  exportMedicationDose,
  mapMedicationAdministration,
  type MedicationDose,
} from './kinds/medication-dose';

/** Every kind, by the name records carry (`kind`). Kind names never change once records exist. */
export const KIND_DESCRIPTIONS = {
  Profile: PROFILE,
  EmergencyContact: EMERGENCY_CONTACT,
  HealthDocument: HEALTH_DOCUMENT,
  Allergy: ALLERGY,
  Immunization: IMMUNIZATION,
  Medication: MEDICATION,
  LabResult: LAB_RESULT,
  TreatmentPlan: TREATMENT_PLAN,
  Appointment: APPOINTMENT,
  Message: MESSAGE,
  Encounter: ENCOUNTER,
  MedicalNote: MEDICAL_NOTE,
  NoteVersion: NOTE_VERSION,
  NoteSignature: NOTE_SIGNATURE,
  AuditEntry: AUDIT_ENTRY,
  Consent: CONSENT,
  ProviderProfile: PROVIDER_PROFILE,
  Condition: CONDITION,
  Procedure: PROCEDURE,
  FamilyHistory: FAMILY_HISTORY,
  Comment: COMMENT,
  MedicationDose: MEDICATION_DOSE,
} as const satisfies Readonly<Record<string, AnyKindDescription>>;

type Descriptions = typeof KIND_DESCRIPTIONS;
type Kind = keyof Descriptions;

const KINDS = Object.keys(KIND_DESCRIPTIONS) as readonly Kind[];
const CONSENTABLE_TYPES = STREAM_TYPES.filter(
  (type): type is Exclude<StreamType, 'audit'> => type !== 'audit',
);

/** A table with one entry per key. */
const tableOf = <K extends string, V>(keys: readonly K[], value: (key: K) => V): Readonly<Record<K, V>> =>
  Object.fromEntries(keys.map((key) => [key, value(key)])) as Record<K, V>;

/** A kind's description as code over every kind reads it. */
export const kindDescription = (kind: Kind): AnyKindDescription => KIND_DESCRIPTIONS[kind];

// ------------------------------------------------------------------------------------------- glossary

export type KindSlug = Descriptions[Kind]['slug'];
/** The slugs of kinds with the app's generic screens (list, detail, form). */
export type ScreenSlug = {
  [K in Kind]: Descriptions[K]['screen'] extends null ? never : Descriptions[K]['slug'];
}[Kind];

/** The kind whose slug is `slug`. */
export const kindOfSlug = (slug: string): Kind | undefined =>
  KINDS.find((kind) => KIND_DESCRIPTIONS[kind].slug === slug);

/** The kinds with generic screens, in the navigation's order (the chart's, then care's). */
export const SCREEN_KINDS: readonly Kind[] = KINDS.filter(
  (kind) => kindDescription(kind).screen !== null,
).sort((a, b) => {
  const [sa, sb] = [kindDescription(a).screen, kindDescription(b).screen];
  if (sa === null || sb === null) return 0;
  return sa.section === sb.section ? sa.order - sb.order : sa.section === 'chart' ? -1 : 1;
});

/** The slug that names a stream: its first kind's (a stream and its kinds read alike everywhere). */
export const streamSlug = (type: StreamType): KindSlug => {
  const kind = KINDS.find((k) => KIND_DESCRIPTIONS[k].streamType === type);
  if (kind === undefined) throw new Error(`unreachable: stream type ${type} has no kind`);
  return KIND_DESCRIPTIONS[kind].slug;
};

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void
  ? I
  : never;
/** The nested words a set of dotted keys needs (`contact.phone` → `{ contact: { phone } }`). */
type Words<P extends string> = UnionToIntersection<
  P extends `${infer H}.${infer T}` ? { readonly [K in H]: Words<T> } : { readonly [K in P]: string }
>;
type FieldOf<K extends Kind> =
  Exclude<Descriptions[K]['screen'], null> extends { readonly form: readonly (infer F)[] } ? F : never;
type NameOf<F> = F extends { readonly name: infer N extends string } ? N : never;
type EnumKeyOf<F> = F extends {
  readonly type: 'select';
  readonly options: readonly (infer O extends string)[];
}
  ? `${F extends { readonly enumName: infer E extends string } ? E : NameOf<F>}.${O}`
  : never;
export type FormFieldName = { [K in Kind]: NameOf<FieldOf<K>> }[Kind];
type EnumKey = { [K in Kind]: EnumKeyOf<FieldOf<K>> }[Kind];

/**
 * The words every kind needs in a language (the app's en.ts is checked against it): `kinds.<slug>.title`
 * and `.one` for all, the screens' words for kinds with screens, a label per form field and choice.
 */
export type KindTranslations = {
  readonly kinds: { readonly [S in KindSlug]: { readonly title: string; readonly one: string } } & {
    readonly [S in ScreenSlug]: {
      readonly add: string;
      readonly edit: string;
      readonly empty: string;
      readonly emptyHint: string;
    };
  };
  readonly fields: Words<FormFieldName>;
  readonly enum: Words<EnumKey>;
};

/** The keys of KindTranslations for one kind, as i18n keys (`kinds.allergies.title`, `enum.severity.mild`). */
export const translationKeys = (kind: Kind): string[] => {
  const { slug, screen } = kindDescription(kind);
  const parts = screen === null ? ['title', 'one'] : ['title', 'one', 'add', 'edit', 'empty', 'emptyHint'];
  return [
    ...parts.map((part) => `kinds.${slug}.${part}`),
    ...(screen?.form ?? []).flatMap((field) => [
      `fields.${field.name}`,
      ...(field.options ?? []).map((option) => `enum.${field.enumName ?? field.name}.${option}`),
    ]),
  ];
};

// ----------------------------------------------------------------------------------------------- FHIR

/**
 * Resource types a consented stream exports (Consent.provision.class): each of its kinds' main and other
 * resources. Provenance is listed only for note-signature, whose records are Provenances; the provenance
 * of labs and plans rides with them.
 */
export const STREAM_RESOURCE_TYPES = tableOf(CONSENTABLE_TYPES, (type) => [
  ...new Set(
    KINDS.filter((kind) => KIND_DESCRIPTIONS[kind].streamType === type).flatMap((kind) => {
      const { resource, alsoExports } = kindDescription(kind).fhir;
      return [resource, ...(alsoExports ?? [])];
    }),
  ),
]);

/** The importer of a resource type, and the kind it makes; undefined when no kind imports it. */
export const importerOf = (resourceType: string): (FhirImporter & { readonly kind: Kind }) | undefined => {
  for (const kind of KINDS) {
    const importer = kindDescription(kind).fhir.import.find((i) => i.resourceType === resourceType);
    if (importer !== undefined) return { ...importer, kind };
  }
  return undefined;
};

/** The kinds a FHIR import may write (so the kinds whose records are compared for duplicates). */
export const IMPORTED_KINDS: readonly Kind[] = KINDS.filter(
  (kind) => kindDescription(kind).fhir.import.length > 0,
);

/** Shapes of resource types kinds alone export (fhir-shape.ts adds them to its tables). */
export const KIND_FHIR_SHAPES = Object.fromEntries(
  KINDS.flatMap((kind) => Object.entries(kindDescription(kind).fhir.shapes ?? {})),
);

// --------------------------------------------------------------------------------------------- device

/** The text fields local search reads of a kind; `[]`: the kind is not searched. */
export const searchFieldsOf = (kind: Kind): readonly string[] => Object.keys(kindDescription(kind).search);

/** The kinds local search reads. */
export const SEARCHED_KINDS: readonly Kind[] = KINDS.filter((kind) => searchFieldsOf(kind).length > 0);

/** Each search path's boost (1 when a kind gives none; kinds agree on a path's boost, a test checks). */
export const SEARCH_BOOSTS: Readonly<Record<string, number>> = Object.fromEntries(
  KINDS.flatMap((kind) =>
    Object.entries(kindDescription(kind).search).map(([path, boost]) => [path, boost ?? 1] as const),
  ),
);

/** The fields giving the date a record of `kind` is about, first set wins (clinical-date.ts). */
export const clinicalDateFieldsOf = (kind: Kind): readonly string[] => kindDescription(kind).clinicalDate;
