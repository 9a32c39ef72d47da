import type { Static, TSchema } from '@sinclair/typebox';
import { ModelError } from './errors';
import {
  AllergySchema,
  AppointmentSchema,
  AuditEntrySchema,
  ConditionSchema,
  ConsentSchema,
  EmergencyContactSchema,
  EncounterSchema,
  HealthDocumentSchema,
  ImmunizationSchema,
  LabResultSchema,
  MedicalNoteSchema,
  MedicationSchema,
  MessageSchema,
  NoteSignatureSchema,
  NoteVersionSchema,
  ProcedureSchema,
  ProfileSchema,
  ProviderProfileSchema,
  TreatmentPlanSchema,
} from './record-schemas';
import type { StreamType } from './stream-types';

export interface RecordKindInfo {
  readonly schema: TSchema;
  /** The stream the kind replicates in; null for objects that are not patient streams. */
  readonly streamType: StreamType | null;
  /** The FHIR R4 resource the kind maps to (see docs/data-model.md). */
  readonly fhirResource: string;
}

/** Every record kind: schema, stream and FHIR resource. Kind names never change once records exist. */
export const RECORD_KINDS = {
  Profile: { schema: ProfileSchema, streamType: 'profile', fhirResource: 'Patient' },
  EmergencyContact: {
    schema: EmergencyContactSchema,
    streamType: 'emergency-contact',
    fhirResource: 'RelatedPerson',
  },
  HealthDocument: { schema: HealthDocumentSchema, streamType: 'document', fhirResource: 'DocumentReference' },
  Allergy: { schema: AllergySchema, streamType: 'allergy', fhirResource: 'AllergyIntolerance' },
  Immunization: { schema: ImmunizationSchema, streamType: 'immunization', fhirResource: 'Immunization' },
  Medication: { schema: MedicationSchema, streamType: 'medication', fhirResource: 'MedicationStatement' },
  LabResult: { schema: LabResultSchema, streamType: 'lab-result', fhirResource: 'Observation' },
  TreatmentPlan: { schema: TreatmentPlanSchema, streamType: 'treatment-plan', fhirResource: 'CarePlan' },
  Appointment: { schema: AppointmentSchema, streamType: 'appointment', fhirResource: 'Appointment' },
  Message: { schema: MessageSchema, streamType: 'message', fhirResource: 'Communication' },
  Encounter: { schema: EncounterSchema, streamType: 'encounter', fhirResource: 'Encounter' },
  MedicalNote: { schema: MedicalNoteSchema, streamType: 'note', fhirResource: 'Composition' },
  NoteVersion: { schema: NoteVersionSchema, streamType: 'note', fhirResource: 'Composition' },
  NoteSignature: { schema: NoteSignatureSchema, streamType: 'note-signature', fhirResource: 'Provenance' },
  AuditEntry: { schema: AuditEntrySchema, streamType: 'audit', fhirResource: 'AuditEvent' },
  Consent: { schema: ConsentSchema, streamType: null, fhirResource: 'Consent' },
  ProviderProfile: { schema: ProviderProfileSchema, streamType: null, fhirResource: 'Practitioner' },
  Condition: { schema: ConditionSchema, streamType: 'condition', fhirResource: 'Condition' },
  Procedure: { schema: ProcedureSchema, streamType: 'procedure', fhirResource: 'Procedure' },
} as const satisfies Record<string, RecordKindInfo>;

export type RecordKind = keyof typeof RECORD_KINDS;

/** The TypeScript type of a record of kind `K`, e.g. `RecordOf<'Allergy'>`. */
export type RecordOf<K extends RecordKind> = Static<(typeof RECORD_KINDS)[K]['schema']>;

/** Any record, as a union over all kinds. */
export type AnyRecord = { [K in RecordKind]: RecordOf<K> }[RecordKind];

export const RECORD_KIND_NAMES = Object.keys(RECORD_KINDS) as readonly RecordKind[];

export const isRecordKind = (value: unknown): value is RecordKind =>
  typeof value === 'string' && Object.hasOwn(RECORD_KINDS, value);

/** Guards entry points reachable with strings from storage or the wire. */
export const assertRecordKind: (value: unknown) => asserts value is RecordKind = (value) => {
  if (!isRecordKind(value)) {
    const kind = String(value);
    throw new ModelError({
      code: 'UNKNOWN_KIND',
      message: `unknown record kind ${JSON.stringify(kind)}`,
      kind,
    });
  }
};

/** The kinds that travel in a stream type (the `note` stream carries MedicalNote and NoteVersion). */
export const kindsForStream = (streamType: StreamType): RecordKind[] =>
  RECORD_KIND_NAMES.filter((kind) => RECORD_KINDS[kind].streamType === streamType);

/** Plain JSON Schema (TypeBox symbols stripped) for Fastify/Ajv and RxDB. Returns a fresh copy each call. */
export const toJsonSchema = (kind: RecordKind): Record<string, unknown> => {
  assertRecordKind(kind);
  const parsed: unknown = JSON.parse(JSON.stringify(RECORD_KINDS[kind].schema));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('unreachable: a record schema serialises to an object');
  }
  return { ...parsed };
};
