/**
 * The date a record is about (its clinical date), for sorting lists after opening: record content is
 * sealed at rest, so the store sorts by time of writing only and this sort runs in memory.
 *
 * | kind | clinical date |
 * |---|---|
 * | Allergy | onsetDate, else recordedAt |
 * | Immunization | administeredAt |
 * | Medication | startDate |
 * | LabResult | effectiveAt |
 * | TreatmentPlan | effectiveFrom |
 * | Appointment | startAt |
 * | Message | sentAt |
 * | Encounter | startedAt |
 * | HealthDocument | uploadedAt |
 * | NoteSignature | requestedAt |
 * | Condition | onsetDate, else recordedAt |
 * | Procedure | performedAt |
 * | any other, or the field missing | the time of writing (`updatedAt`) |
 *
 * Dates are ISO text, partial ones (`2019`, `2019-05`) included, and compare as text: a partial date sorts
 * before the full dates it covers.
 */
const FIELDS: Readonly<Record<string, readonly string[]>> = {
  Allergy: ['onsetDate', 'recordedAt'],
  Immunization: ['administeredAt'],
  Medication: ['startDate'],
  LabResult: ['effectiveAt'],
  TreatmentPlan: ['effectiveFrom'],
  Appointment: ['startAt'],
  Message: ['sentAt'],
  Encounter: ['startedAt'],
  HealthDocument: ['uploadedAt'],
  NoteSignature: ['requestedAt'],
  Condition: ['onsetDate', 'recordedAt'],
  Procedure: ['performedAt'],
};

export function clinicalDateOf(kind: string, record: unknown, updatedAt: string): string {
  if (typeof record === 'object' && record !== null) {
    for (const field of FIELDS[kind] ?? []) {
      const value = (record as Record<string, unknown>)[field];
      if (typeof value === 'string' && value !== '') return value;
    }
  }
  return updatedAt;
}
