/**
 * The record kinds the app's generic screens show (list, detail, form), read from each kind's description
 * in @hale/model (`screen`): its route slug, its form fields, how a list row and a title read. A kind with
 * its own screens adds them (plans, appointments); none is described here apart. Labels are i18n keys:
 * `fields.<name>`, `kinds.<slug>.*`, `enum.<enum>.<value>` (the model's `translationKeys`).
 */
import {
  KIND_DESCRIPTIONS,
  SCREEN_KINDS,
  kindDescription,
  type FormField,
  type RecordKind,
  type ScreenSlug,
} from '@hale/model';

export { DOCUMENT_TYPES, NOTE_VERSION_FIELDS } from '@hale/model';

export type FieldSpec = FormField;
export type KindSlug = ScreenSlug;

export interface KindSpec {
  readonly kind: RecordKind;
  readonly slug: KindSlug;
  readonly fields: readonly FieldSpec[];
  /** The field a row's title shows. */
  readonly titleField: string;
  /** A record without a title reads as the kind's name, not as untitled. */
  readonly untitledIsKind: boolean;
  /** Fields a row's second line shows, in order, when set. */
  readonly summaryFields: readonly string[];
  /** Fields the form sets to the time of adding. */
  readonly stampedOnAdd: readonly string[];
  /** Versioned by the library (each content change a version with provenance). */
  readonly versioned: boolean;
  /** A write that changes content takes a reason (provenance.reason). */
  readonly takesReason: boolean;
  /** Added through an upload, not a form (documents). */
  readonly uploaded: boolean;
}

const specOf = (kind: RecordKind): KindSpec => {
  const { slug, screen } = kindDescription(kind);
  if (screen === null) throw new Error(`unreachable: ${kind} has no screens`);
  return {
    kind,
    slug: slug as KindSlug,
    fields: screen.form,
    titleField: screen.title,
    untitledIsKind: screen.untitledIsKind === true,
    summaryFields: screen.summary,
    stampedOnAdd: screen.stampedOnAdd ?? [],
    versioned: screen.versioned,
    takesReason: screen.takesReason,
    uploaded: screen.uploaded === true,
  };
};

/** The kinds a patient's chart screens list, in the navigation's order. */
export const KIND_SLUGS: readonly KindSlug[] = SCREEN_KINDS.map(
  (kind) => KIND_DESCRIPTIONS[kind].slug as KindSlug,
);

export const KINDS: Readonly<Record<KindSlug, KindSpec>> = Object.fromEntries(
  SCREEN_KINDS.map((kind) => [KIND_DESCRIPTIONS[kind].slug, specOf(kind)]),
) as Record<KindSlug, KindSpec>;

export const isKindSlug = (value: string | undefined): value is KindSlug =>
  value !== undefined && (KIND_SLUGS as readonly string[]).includes(value);

export const slugOfKind = (kind: string): KindSlug | undefined =>
  KIND_SLUGS.find((slug) => KINDS[slug].kind === kind);
