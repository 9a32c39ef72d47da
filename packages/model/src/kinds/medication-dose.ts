/*
 * A dose marked taken or skipped: a slot of a medication's schedule (its day and time of day), or a dose
 * taken as needed (no slot). Kept in the medication stream: a grant of Medications covers it (FHIR R4
 * MedicationAdministration).
 *
 * | Hale | MedicationAdministration |
 * |---|---|
 * | `status` taken / skipped | `status` completed / not-done |
 * | `medicationName` | `medicationCodeableConcept.text` |
 * | `medicationId` | `supportingInformation[0]`: the MedicationStatement (a reference in the file, else its Hale identifier) |
 * | `slot` | extension `dose-slot` (the day and wall-clock time it was due) |
 * | `at` | `effectiveDateTime` |
 * | `note` | `note[0].text` |
 *
 * Invariants:
 * - A slot is the person's wall-clock day and time (`2026-11-27T08:00`), not an instant: a schedule
 *   follows them across zones and daylight saving.
 * - Two marks of one slot (two devices, offline): the one marked last (`at`, then id) is what it shows.
 * - A mark never changes its medication; one whose medication is gone is kept, shown nowhere.
 * - Import: an administration supporting a MedicationStatement of the same file becomes a mark on the
 *   medication read from it; any other is listed as skipped.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DateTimeSchema, IdSchema, StringEnum, boundedText, patientRecordFields } from '../common-schemas';
import { dateTimeExt, fhirDateTime, haleIdentifier, makeResource, meta, stringExt } from '../fhir-draft';
import type { Exporter } from '../fhir-draft';
import { defined, notKept, type MapContext, type MapOutcome } from '../fhir-import-map-base';
import { instant, isJson, list, str, type Json } from '../fhir-import-read';
import { COMMON_INPUT, ReferenceInput } from '../fhir-import-schemas';
import type { KindDescription } from '../kind-description';

export const DOSE_STATUSES = ['taken', 'skipped'] as const;
/** A schedule's slot: the wall-clock day and time a dose was due. */
export const DoseSlotSchema = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T([01][0-9]|2[0-3]):[0-5][0-9]$',
  maxLength: 16,
});

export const MedicationDoseSchema = Type.Object(
  {
    ...patientRecordFields,
    medicationId: IdSchema,
    /** The medicine's name when marked: the mark reads on its own. */
    medicationName: boundedText(200, 1),
    /** The slot it answers; absent for a dose taken as needed. */
    slot: Type.Optional(DoseSlotSchema),
    status: StringEnum(DOSE_STATUSES),
    /** When it was taken (or marked skipped). */
    at: DateTimeSchema,
    note: Type.Optional(boundedText(500)),
  },
  { additionalProperties: false, title: 'MedicationDose' },
);
export type MedicationDose = Static<typeof MedicationDoseSchema>;

const SLOT_EXT = 'dose-slot';

export const exportMedicationDose = (x: Exporter, r: MedicationDose, signature: string | undefined): void => {
  x.add(
    makeResource('MedicationAdministration', r.id, {
      meta: meta(r.updatedAt),
      extension: [
        dateTimeExt('created-at', r.createdAt),
        stringExt(SLOT_EXT, r.slot),
        stringExt('author-signature', signature),
      ],
      identifier: [haleIdentifier(r.id)],
      status: r.status === 'taken' ? 'completed' : 'not-done',
      medicationCodeableConcept: { text: r.medicationName },
      subject: x.patient,
      supportingInformation: [
        { ...x.recordRef('Medication', r.medicationId), identifier: haleIdentifier(r.medicationId) },
      ],
      effectiveDateTime: fhirDateTime(r.at),
      note: r.note === undefined ? undefined : [{ text: r.note }],
    }),
  );
};

const slotOf = (r: Json): string | undefined => {
  for (const e of list(r['extension']).filter(isJson)) {
    const url = str(e['url']);
    const value = str(e['valueString']);
    if (
      url?.endsWith(`/${SLOT_EXT}`) === true &&
      value !== undefined &&
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value)
    )
      return value;
  }
  return undefined;
};

export const mapMedicationAdministration = (r: Json, x: MapContext): MapOutcome => {
  const status = str(r['status']);
  if (status !== 'completed' && status !== 'not-done')
    return { skip: `a dose ${status ?? 'without a status'}` };
  const supports = list(r['supportingInformation']).filter(isJson);
  const medication = supports.find((s) => x.importedKindOf(s['reference']) === 'Medication');
  const medicationId = medication === undefined ? undefined : x.newIdOf(medication['reference']);
  if (medicationId === undefined) return { skip: 'a dose of a medicine this file does not bring into Hale' };
  const concept = isJson(r['medicationCodeableConcept']) ? r['medicationCodeableConcept'] : undefined;
  const name = str(concept?.['text']) ?? str(medication?.['display']);
  const at = instant(r['effectiveDateTime']);
  if (name === undefined || at === undefined) return { skip: 'a dose without its medicine or its time' };
  const note = str(list(r['note']).filter(isJson)[0]?.['text']);
  return {
    kind: 'MedicationDose',
    input: defined({
      medicationId,
      medicationName: name.slice(0, 200),
      slot: slotOf(r),
      status: status === 'completed' ? 'taken' : 'skipped',
      at,
      note: note?.slice(0, 500),
    }),
    notKept: notKept(r, [
      'status',
      'medicationCodeableConcept',
      'subject',
      'supportingInformation',
      'effectiveDateTime',
      'note',
    ]),
  };
};

const AdministrationInput = Type.Object({
  ...COMMON_INPUT,
  status: Type.Optional(Type.String({ maxLength: 32 })),
  subject: Type.Optional(ReferenceInput),
  medicationCodeableConcept: Type.Optional(
    Type.Object({ text: Type.Optional(Type.String({ maxLength: 10_000 })) }),
  ),
  supportingInformation: Type.Optional(Type.Array(ReferenceInput, { maxItems: 100 })),
  effectiveDateTime: Type.Optional(Type.String({ maxLength: 64 })),
  note: Type.Optional(
    Type.Array(Type.Object({ text: Type.Optional(Type.String({ maxLength: 100_000 })) }), { maxItems: 100 }),
  ),
});

export const MEDICATION_DOSE = {
  slug: 'medication-doses',
  schema: MedicationDoseSchema,
  streamType: 'medication',
  authorship: 'shared',
  fhir: {
    resource: 'MedicationAdministration',
    export: exportMedicationDose,
    import: [
      {
        resourceType: 'MedicationAdministration',
        shape: AdministrationInput,
        map: mapMedicationAdministration,
      },
    ],
  },
  clinicalDate: ['at'],
  search: { note: 1 },
  // Shown on the medicines' today screen and beside each medication, not as a list of its own.
  screen: null,
  example: (p) => ({
    ...p.base(),
    medicationId: p.newId(),
    medicationName: 'Lisinopril',
    slot: '2024-05-02T08:00',
    status: 'taken',
    at: '2024-05-02T08:10:00.000Z',
    note: 'With breakfast.',
  }),
} as const satisfies KindDescription<typeof MedicationDoseSchema>;
