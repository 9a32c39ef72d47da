/*
 * A comment: the person's own words about another record of the chart (a clinician's signed note, a
 * result, a plan), kept beside it without changing it (FHIR R4 Communication with `about`).
 *
 * | Hale | Communication |
 * |---|---|
 * | `about`, `aboutKind` | `about[0]`: the commented record's resource (a reference in the file, else its Hale identifier) |
 * | `text` | `payload[0].contentString` (on import, every contentString, a blank line apart) |
 * | `writtenAt` | `sent` |
 * | (none) | `status` completed, `subject` and `sender` the Patient on export |
 *
 * Invariants:
 * - Only the account that wrote a comment changes or removes it (authorship `writer`), the patient too.
 * - A comment never changes the record it is about; a comment whose record is gone is kept, shown nowhere.
 * - `aboutKind` names a record kind (`Kind` form); the app writes the kind of the record it shows.
 * - Import: a Communication about a resource of the same file that Hale imports becomes a comment on the
 *   record read from it; one about nothing is a message (not imported), one about a resource Hale does
 *   not import (a note) is listed as skipped.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DateTimeSchema, IdSchema, boundedText, patientRecordFields } from '../common-schemas';
import { dateTimeExt, fhirDateTime, haleIdentifier, makeResource, meta, stringExt } from '../fhir-draft';
import type { Exporter } from '../fhir-draft';
import { defined, notKept, type MapContext, type MapOutcome } from '../fhir-import-map-base';
import { instant, isJson, list, str, type Json } from '../fhir-import-read';
import { COMMON_INPUT, ReferenceInput } from '../fhir-import-schemas';
import type { KindDescription } from '../kind-description';

export const CommentSchema = Type.Object(
  {
    ...patientRecordFields,
    /** The id of the record commented on. */
    about: IdSchema,
    /** That record's kind (`LabResult`, `MedicalNote`, …). */
    aboutKind: Type.String({ pattern: '^[A-Z][A-Za-z]{0,39}$', maxLength: 40 }),
    text: boundedText(4000, 1),
    writtenAt: DateTimeSchema,
  },
  { additionalProperties: false, title: 'Comment' },
);
export type Comment = Static<typeof CommentSchema>;

export const exportComment = (x: Exporter, r: Comment, signature: string | undefined): void => {
  const target = x.isRecordKind(r.aboutKind)
    ? x.recordRef(r.aboutKind, r.about)
    : { display: `${r.aboutKind} ${r.about}` };
  x.add(
    makeResource('Communication', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      status: 'completed',
      subject: x.patient,
      about: [{ ...target, identifier: haleIdentifier(r.about) }],
      sent: fhirDateTime(r.writtenAt),
      sender: x.patient,
      payload: [{ contentString: r.text }],
    }),
  );
};

/** Why a Communication about nothing is not read (it is a message). */
const A_MESSAGE = 'a message belongs to the conversation it was sent in';

export const mapCommentCommunication = (r: Json, x: MapContext): MapOutcome => {
  const about = list(r['about']).filter(isJson);
  const [first] = about;
  if (first === undefined) return { skip: A_MESSAGE };
  if (r['status'] === 'entered-in-error') return { skip: 'a comment entered in error' };
  const aboutId = x.newIdOf(first['reference']);
  const aboutKind = x.importedKindOf(first['reference']);
  if (aboutId === undefined || aboutKind === undefined)
    return { skip: 'a comment about a record this file does not bring into Hale' };
  const parts = list(r['payload'])
    .filter(isJson)
    .map((p) => str(p['contentString']));
  const text = parts.filter((p): p is string => p !== undefined).join('\n\n');
  if (text === '') return { skip: 'a comment without words' };
  return {
    kind: 'Comment',
    input: defined({
      about: aboutId,
      aboutKind,
      text: text.slice(0, 4000),
      writtenAt: instant(r['sent']) ?? x.importedAt,
    }),
    notKept: [
      ...notKept(r, ['status', 'subject', 'about', 'sent', 'sender', 'payload']),
      ...about.slice(1).map((_, i) => `about[${i + 1}]`),
      ...parts.flatMap((p, i) => (p === undefined ? [`payload[${i}]`] : [])),
    ],
  };
};

const CommunicationInput = Type.Object({
  ...COMMON_INPUT,
  status: Type.Optional(Type.String({ maxLength: 32 })),
  subject: Type.Optional(ReferenceInput),
  sender: Type.Optional(ReferenceInput),
  sent: Type.Optional(Type.String({ maxLength: 64 })),
  about: Type.Optional(Type.Array(ReferenceInput, { maxItems: 100 })),
  payload: Type.Optional(
    Type.Array(Type.Object({ contentString: Type.Optional(Type.String({ maxLength: 100_000 })) }), {
      maxItems: 100,
    }),
  ),
});

export const COMMENT = {
  slug: 'comments',
  schema: CommentSchema,
  streamType: 'comment',
  authorship: 'writer',
  fhir: {
    resource: 'Communication',
    export: exportComment,
    import: [{ resourceType: 'Communication', shape: CommunicationInput, map: mapCommentCommunication }],
  },
  clinicalDate: ['writtenAt'],
  search: { text: 1 },
  // Shown beside the record it is about (the record's detail screen), not as a list of its own.
  screen: null,
  example: (p) => ({
    ...p.base(),
    about: p.newId(),
    aboutKind: 'MedicalNote',
    text: 'I stopped the tablets in March, not April.',
    writtenAt: '2024-05-02T08:00:00.000Z',
  }),
} as const satisfies KindDescription<typeof CommentSchema>;
