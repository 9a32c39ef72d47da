/*
 * FHIR export: value mappings (Hale enums to FHIR codes).
 * The export's invariants and failure modes: fhir.ts.
 */
import type { Appointment, Consent, Encounter, MedicalNote, NoteSignature, Profile } from './record-schemas';

// -------------------------------------------------------------------------------------- value mappings

export const ALLERGY_CLINICAL = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';
export const ALLERGY_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification';

export const BIRTH_SEX: Record<NonNullable<Profile['sexAtBirth']>, string> = {
  female: 'F',
  male: 'M',
  other: 'UNK',
  unknown: 'UNK',
};

export const APPOINTMENT_STATUS: Record<Appointment['status'], string> = {
  scheduled: 'booked',
  canceled: 'cancelled',
  completed: 'fulfilled',
  // The request flow: asked by the patient, a time offered by the provider, refused.
  requested: 'proposed',
  proposed: 'pending',
  declined: 'cancelled',
};

/** Participant statuses (patient, provider) per appointment status: who still has to answer, who refused. */
const APPOINTMENT_PARTICIPANTS: Record<Appointment['status'], readonly [string, string]> = {
  scheduled: ['accepted', 'accepted'],
  canceled: ['accepted', 'accepted'],
  completed: ['accepted', 'accepted'],
  requested: ['accepted', 'needs-action'],
  proposed: ['needs-action', 'accepted'],
  declined: ['accepted', 'declined'],
};

/** A decline is the patient's when the patient set it (a time offered, refused), else the provider's. */
export const participantStatuses = (r: Appointment): readonly [string, string] =>
  r.status === 'declined' && r.statusBy === r.patientId
    ? ['declined', 'accepted']
    : APPOINTMENT_PARTICIPANTS[r.status];

export const ENCOUNTER_CLASS: Record<Encounter['type'], { code: string; display: string }> = {
  outpatient: { code: 'AMB', display: 'ambulatory' },
  inpatient: { code: 'IMP', display: 'inpatient encounter' },
  emergency: { code: 'EMER', display: 'emergency' },
  telehealth: { code: 'VR', display: 'virtual' },
};

export const NOTE_TYPE: Record<MedicalNote['noteType'], { code: string; display: string }> = {
  progress: { code: '11506-3', display: 'Progress note' },
  admission: { code: '34117-2', display: 'History and physical note' },
  discharge: { code: '18842-5', display: 'Discharge summary' },
  consult: { code: '11488-4', display: 'Consult note' },
  procedure: { code: '28570-0', display: 'Procedure note' },
};
// A NoteVersion exported without its MedicalNote still needs Composition.type.
export const GENERIC_NOTE_TYPE = { code: '34109-9', display: 'Note' };

export const NOTE_STATUS: Record<MedicalNote['status'], string> = {
  draft: 'preliminary',
  under_review: 'preliminary',
  signed: 'final',
  amended: 'amended',
};

export const SOAP_SECTIONS = [
  { field: 'subjective', code: '61150-9', title: 'Subjective' },
  { field: 'objective', code: '61149-1', title: 'Objective' },
  { field: 'assessment', code: '51848-0', title: 'Assessment' },
  { field: 'plan', code: '18776-5', title: 'Plan' },
] as const;

export const DOCUMENT_TYPE_LOINC: Readonly<Record<string, { code: string; display: string }>> = {
  'lab-report': { code: '11502-2', display: 'Laboratory report' },
  imaging: { code: '18748-4', display: 'Diagnostic imaging study' },
  prescription: { code: '57833-6', display: 'Prescription for medication' },
  'discharge-summary': { code: '18842-5', display: 'Discharge summary' },
};

export const SIGNATURE_STATUS_TASK: Record<Exclude<NoteSignature['status'], 'signed'>, string> = {
  requested: 'requested',
  declined: 'rejected',
};

export const CONSENT_STATUS: Record<Consent['status'], string> = { active: 'active', revoked: 'inactive' };

export const CONSENT_ACTIONS: Record<Consent['scope'][number]['access'], readonly string[]> = {
  read: ['access'],
  write: ['access', 'correct'],
};

export const SYNC_SERVER_DEVICE_ID = 'hale-sync-server';
