import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import {
  AUDIT_ACTION_PATTERN,
  AccountIdSchema,
  CodingsSchema,
  ConceptCodingSchema,
  ContactSchema,
  DateOrDateTimeSchema,
  DateSchema,
  DateTimeSchema,
  DeviceIdSchema,
  FileRefSchema,
  IdSchema,
  MAX_CODINGS,
  PartialDateOrDateTimeSchema,
  PartialDaySchema,
  ProvenanceSchema,
  StringEnum,
  boundedText,
  patientRecordFields,
} from './common-schemas';
import { STREAM_TYPES, type StreamType } from './stream-types';
import { PeriodSchema, personPartFields } from './person-parts';

// Enumerations are exported so UIs and FHIR mappers list the same values the validator accepts.

export const PROFILE_STATUSES = ['active', 'inactive', 'archived'] as const;
export const SEXES_AT_BIRTH = ['female', 'male', 'other', 'unknown'] as const;
export const BLOOD_TYPES = ['A+', 'A-', 'B+', 'B-', 'AB+', 'AB-', 'O+', 'O-', 'unknown'] as const;
export const ALLERGY_SEVERITIES = ['mild', 'moderate', 'severe'] as const;
export const ALLERGY_CATEGORIES = ['food', 'medication', 'environment', 'biologic'] as const;
/** R4 allergyintolerance-verification, less `refuted` and `entered-in-error` (such an allergy is not kept). */
export const ALLERGY_VERIFICATIONS = ['unconfirmed', 'confirmed'] as const;
/** R4 allergyintolerance-clinical: `active` is `active: true`; the other two say how it stopped. */
export const ALLERGY_CLINICAL_STATUSES = ['active', 'inactive', 'resolved'] as const;
/** R4 allergy-intolerance-criticality: the potential for a serious reaction, not the last reaction's severity. */
export const ALLERGY_CRITICALITIES = ['low', 'high', 'unable-to-assess'] as const;
/** R4 ObservationStatus, the same codes. */
export const LAB_RESULT_STATUSES = [
  'registered',
  'preliminary',
  'final',
  'amended',
  'corrected',
  'cancelled',
  'entered-in-error',
  'unknown',
] as const;
export const TREATMENT_PLAN_STATUSES = ['draft', 'active', 'completed'] as const;
/**
 * `scheduled` is a confirmed appointment (the template's word); the request flow adds `requested` (the
 * patient asks), `proposed` (the provider offers a time) and `declined`. Append-only.
 */
export const APPOINTMENT_STATUSES = [
  'scheduled',
  'canceled',
  'completed',
  'requested',
  'proposed',
  'declined',
] as const;
/** Why an appointment reached its status (a decline, a cancellation, a new time). Append-only. */
export const APPOINTMENT_STATUS_REASONS = [
  /** Another patient's booking of the same published slot was confirmed first. */
  'slot-taken',
  /** The provider cannot see the patient then. */
  'unavailable',
  /** The patient asked for it. */
  'patient-request',
  'other',
] as const;
/** An IANA time zone name (`Europe/Berlin`, `America/Argentina/Buenos_Aires`, `UTC`). */
export const TIME_ZONE_PATTERN = '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$';
/** Most preferred times one appointment request names. */
export const MAX_PREFERRED_TIMES = 10;
export const MESSAGE_STATUSES = ['sent', 'delivered', 'read'] as const;
export const ENCOUNTER_TYPES = ['outpatient', 'inpatient', 'emergency', 'telehealth'] as const;
export const ENCOUNTER_STATUSES = ['planned', 'in-progress', 'finished', 'cancelled'] as const;
export const NOTE_TYPES = ['progress', 'admission', 'discharge', 'consult', 'procedure'] as const;
export const NOTE_STATUSES = ['draft', 'under_review', 'signed', 'amended'] as const;
export const NOTE_VERSION_KINDS = ['original', 'amendment', 'addendum'] as const;
export const SIGNATURE_STATUSES = ['requested', 'signed', 'declined'] as const;
export const CONSENT_ACCESS_LEVELS = ['read', 'write'] as const;
export const CONSENT_STATUSES = ['active', 'revoked'] as const;
/** FHIR observation-category codes: what kind of observation a result is (laboratory when absent). */
export const OBSERVATION_CATEGORIES = [
  'laboratory',
  'vital-signs',
  'social-history',
  'imaging',
  'survey',
  'exam',
  'therapy',
  'activity',
  'procedure',
] as const;
/** FHIR condition-clinical codes. */
export const CONDITION_CLINICAL_STATUSES = [
  'active',
  'recurrence',
  'relapse',
  'inactive',
  'remission',
  'resolved',
] as const;
/** FHIR condition-ver-status codes. */
export const CONDITION_VERIFICATION_STATUSES = [
  'unconfirmed',
  'provisional',
  'differential',
  'confirmed',
  'refuted',
  'entered-in-error',
] as const;
/** FHIR condition-category codes: a problem on the problem list, or a diagnosis made at a visit. */
export const CONDITION_CATEGORIES = ['problem-list-item', 'encounter-diagnosis'] as const;
export const CONDITION_SEVERITIES = ['mild', 'moderate', 'severe'] as const;
/**
 * R4 MedicationStatement status codes Hale keeps (a prescription's `draft` is `intended`, `cancelled` is
 * `stopped`); `entered-in-error` and `not-taken` are not imported.
 */
export const MEDICATION_STATUSES = [
  'active',
  'intended',
  'on-hold',
  'completed',
  'stopped',
  'unknown',
] as const;
/** The statuses of a medication still taken (or about to be): `active: true`. */
export const ACTIVE_MEDICATION_STATUSES: readonly string[] = ['active', 'intended', 'on-hold'];
/** FHIR EventStatus codes of a Procedure. */
export const PROCEDURE_STATUSES = [
  'preparation',
  'in-progress',
  'not-done',
  'on-hold',
  'stopped',
  'completed',
  'entered-in-error',
  'unknown',
] as const;
/** The audit stream is sealed to the patient alone, so it can never be granted. */
export const CONSENTABLE_STREAM_TYPES = STREAM_TYPES.filter(
  (type): type is Exclude<StreamType, 'audit'> => type !== 'audit',
);

const strictObject = <P extends TProperties>(title: string, properties: P): TObject<P> =>
  Type.Object(properties, { additionalProperties: false, title });

const patientRecord = <P extends TProperties>(title: string, properties: P) =>
  strictObject(title, { ...patientRecordFields, ...properties });

const Version = Type.Integer({ minimum: 1, maximum: 1_000_000 });
const MAX_VERSIONS = 1000;
const MAX_ATTACHMENTS = 20;

// ---------------------------------------------------------------------------------------------- patient

export const ProfileSchema = patientRecord('Profile', {
  fullName: boundedText(200, 1),
  birthDate: Type.Optional(DateSchema),
  /** Sex assigned at birth, FHIR AdministrativeGender codes. */
  sexAtBirth: Type.Optional(StringEnum(SEXES_AT_BIRTH)),
  /** Gender identity as the patient states it. */
  gender: Type.Optional(boundedText(100)),
  medicalRecordNumber: Type.Optional(boundedText(64, 1)),
  bloodType: Type.Optional(StringEnum(BLOOD_TYPES)),
  /** Name or clinic of the primary care provider as the patient knows it. */
  primaryCareProvider: Type.Optional(boundedText(200)),
  /** The primary care provider's Hale account, when they have one. */
  primaryCareProviderId: Type.Optional(AccountIdSchema),
  contact: Type.Optional(ContactSchema),
  status: StringEnum(PROFILE_STATUSES),
  notes: Type.Optional(boundedText(4000)),
  /** As an imported Patient structured them (person-parts.ts: each in force while the fields above agree). */
  ...personPartFields,
});
export type Profile = Static<typeof ProfileSchema>;

export const EmergencyContactSchema = patientRecord('EmergencyContact', {
  name: boundedText(200, 1),
  relationship: boundedText(100, 1),
  phone: boundedText(40, 1),
  email: Type.Optional(boundedText(254)),
  notes: Type.Optional(boundedText(1000)),
  /** The contact's birth date: a day, or only the year or month a source gives (FHIR RelatedPerson.birthDate). */
  birthDate: Type.Optional(PartialDaySchema),
  /** Since when (and until when) the person is the patient's contact (FHIR RelatedPerson.period). */
  period: Type.Optional(PeriodSchema),
  /** As an imported RelatedPerson structured them (person-parts.ts). */
  ...personPartFields,
});
export type EmergencyContact = Static<typeof EmergencyContactSchema>;

export const DocumentVersionSchema = strictObject('DocumentVersion', {
  version: Version,
  file: FileRefSchema,
  uploadedAt: DateTimeSchema,
  uploadedBy: Type.Optional(AccountIdSchema),
  changeNote: Type.Optional(boundedText(1000)),
});
export type DocumentVersion = Static<typeof DocumentVersionSchema>;

export const HealthDocumentSchema = patientRecord('HealthDocument', {
  /** The current file; earlier files are in `versions`. */
  file: FileRefSchema,
  /** Category such as `lab-report`, `imaging`, `prescription`, `discharge-summary`, `insurance`. */
  documentType: boundedText(64, 1),
  title: boundedText(200, 1),
  description: Type.Optional(boundedText(4000)),
  tags: Type.Optional(Type.Array(boundedText(64, 1), { maxItems: 50 })),
  uploadedAt: DateTimeSchema,
  uploadedBy: Type.Optional(AccountIdSchema),
  /**
   * The day of the care the document is about (a test, a visit): FHIR DiagnosticReport.effective[x],
   * DocumentReference.context.period.start; a day, an instant, or only the year or month.
   */
  serviceDate: Type.Optional(PartialDateOrDateTimeSchema),
  /** Version number of `file`; prior versions have smaller numbers. */
  version: Version,
  /** Prior file versions, oldest first. */
  versions: Type.Array(DocumentVersionSchema, { maxItems: MAX_VERSIONS }),
});
export type HealthDocument = Static<typeof HealthDocumentSchema>;

/** A coded concept as a source sent it (a FHIR CodeableConcept): its words, and its codes when sent. */
export const ConceptSchema = strictObject('Concept', {
  text: boundedText(200, 1),
  /** Its codings, a coding without a system too (R4 allows one). */
  codes: Type.Optional(Type.Array(ConceptCodingSchema, { maxItems: MAX_CODINGS })),
});
export type Concept = Static<typeof ConceptSchema>;

/** One reaction as a source recorded it (allergy-reactions.ts: how it stands to `reaction` and `severity`). */
export const AllergyReactionSchema = strictObject('AllergyReaction', {
  manifestations: Type.Array(ConceptSchema, { minItems: 1, maxItems: 20 }),
  severity: Type.Optional(StringEnum(ALLERGY_SEVERITIES)),
  onset: Type.Optional(PartialDateOrDateTimeSchema),
  description: Type.Optional(boundedText(1000)),
  notes: Type.Optional(boundedText(4000)),
  /** The substance of this reaction, when the source named one more precisely than the allergy's. */
  substance: Type.Optional(ConceptSchema),
  /** How the patient met the substance (FHIR exposureRoute). */
  exposureRoute: Type.Optional(ConceptSchema),
});
export type AllergyReaction = Static<typeof AllergyReactionSchema>;

export const AllergySchema = patientRecord('Allergy', {
  substance: boundedText(200, 1),
  /** Codes of the substance (SNOMED CT, RxNorm, …), when a source system sent them. */
  codes: Type.Optional(CodingsSchema),
  category: Type.Optional(StringEnum(ALLERGY_CATEGORIES)),
  /** What happened, in words: every reaction's manifestations (allergy-reactions.ts). */
  reaction: Type.Optional(boundedText(500)),
  /** The most severe reaction's. Optional: a patient who does not know it should not have to guess. */
  severity: Type.Optional(StringEnum(ALLERGY_SEVERITIES)),
  /** Each reaction as a source recorded it; in force while it agrees with `reaction` and `severity`. */
  reactions: Type.Optional(Type.Array(AllergyReactionSchema, { maxItems: 20 })),
  /** Absent: not said (a patient's own entry); `unconfirmed` is shown as such, never as confirmed. */
  verificationStatus: Type.Optional(StringEnum(ALLERGY_VERIFICATIONS)),
  criticality: Type.Optional(StringEnum(ALLERGY_CRITICALITIES)),
  onsetDate: Type.Optional(PartialDateOrDateTimeSchema),
  /** When it was recorded: an instant, or the day a source gives without a time. */
  recordedAt: DateOrDateTimeSchema,
  active: Type.Boolean(),
  /** How an allergy that is not active stopped (`inactive`, `resolved`), as the source said; else from `active`. */
  clinicalStatus: Type.Optional(StringEnum(ALLERGY_CLINICAL_STATUSES)),
  notes: Type.Optional(boundedText(4000)),
  /** The last reaction known (a day, month or year as the source gives it). */
  lastOccurrence: Type.Optional(PartialDateOrDateTimeSchema),
});
export type Allergy = Static<typeof AllergySchema>;

export const ImmunizationSchema = patientRecord('Immunization', {
  vaccineName: boundedText(200, 1),
  /** Vaccine code, e.g. CVX. */
  vaccineCode: Type.Optional(boundedText(64, 1)),
  /** A day, an instant, or only the year or month a card gives. */
  administeredAt: PartialDateOrDateTimeSchema,
  /** Dose as recorded, e.g. `2 of 3` or `0.5 mL`. */
  dose: Type.Optional(boundedText(64)),
  lotNumber: Type.Optional(boundedText(64)),
  /** Who or where administered it, as written on the record. */
  performer: Type.Optional(boundedText(200)),
  providerId: Type.Optional(AccountIdSchema),
  nextDoseDate: Type.Optional(DateOrDateTimeSchema),
  /** HealthDocument holding the proof (vaccination card scan, certificate). */
  proofDocumentId: Type.Optional(IdSchema),
  notes: Type.Optional(boundedText(4000)),
});
export type Immunization = Static<typeof ImmunizationSchema>;

/** A time of day on the person's wall clock (`08:00`), wherever they are: a dose follows them across zones. */
export const TimeOfDaySchema = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', maxLength: 5 });
export const MEDICATION_FOOD = ['with', 'without'] as const;
/** Most doses a day a schedule names. */
export const MAX_DOSE_TIMES = 8;

/** When a medicine is taken: times of day, with or without food, or as needed; days from start to end. */
export const MedicationScheduleSchema = strictObject('MedicationSchedule', {
  times: Type.Optional(
    Type.Array(TimeOfDaySchema, { minItems: 1, maxItems: MAX_DOSE_TIMES, uniqueItems: true }),
  ),
  food: Type.Optional(StringEnum(MEDICATION_FOOD)),
  /** Taken when needed (no reminder); times, if any, are the usual ones. */
  asNeeded: Type.Optional(Type.Boolean()),
});
export type MedicationSchedule = Static<typeof MedicationScheduleSchema>;

/** A further dosage instruction of a prescription (a second step of a taper, a dose at another meal). */
export const MedicationDosageSchema = strictObject('MedicationDosage', {
  text: Type.Optional(boundedText(1000, 1)),
  route: Type.Optional(ConceptSchema),
  instructions: Type.Optional(boundedText(2000, 1)),
  additionalInstructions: Type.Optional(Type.Array(ConceptSchema, { minItems: 1, maxItems: 10 })),
});
export type MedicationDosage = Static<typeof MedicationDosageSchema>;

export const MedicationSchema = patientRecord('Medication', {
  name: boundedText(200, 1),
  /** Codes of the medicine (RxNorm, SNOMED CT, …), when a source system sent them. */
  codes: Type.Optional(CodingsSchema),
  dose: Type.Optional(boundedText(100)),
  frequency: Type.Optional(boundedText(100)),
  /** How it is taken: `by mouth`, `inhaled`, a source's route concept as text. */
  route: Type.Optional(boundedText(100)),
  /** The source's coded route; in force while `route` is what it says (concepts.ts). */
  routes: Type.Optional(Type.Array(ConceptSchema, { minItems: 1, maxItems: 1 })),
  /** The dosage as the source wrote it (FHIR Dosage.text), beside a dose it gave as a quantity. */
  dosageText: Type.Optional(boundedText(1000)),
  /** For the patient (FHIR Dosage.patientInstruction). */
  instructions: Type.Optional(boundedText(2000)),
  active: Type.Boolean(),
  /** The source's status (`stopped`, `on-hold`, …); in force while it agrees with `active`. */
  status: Type.Optional(StringEnum(MEDICATION_STATUSES)),
  /** A day, an instant, or only the year or month a person or a source knows (`2015-03`). */
  startDate: Type.Optional(PartialDateOrDateTimeSchema),
  endDate: Type.Optional(PartialDateOrDateTimeSchema),
  prescriberId: Type.Optional(AccountIdSchema),
  reason: Type.Optional(boundedText(500)),
  /** The source's coded reasons; in force while `reason` is what they say (concepts.ts). */
  reasons: Type.Optional(Type.Array(ConceptSchema, { minItems: 1, maxItems: 10 })),
  /** The days run from `startDate` to `endDate` (either open). */
  schedule: Type.Optional(MedicationScheduleSchema),
  /**
   * The source's further instructions (FHIR Dosage.additionalInstruction: `at bedtime`, `with food`); a
   * food instruction among them is out of force once `schedule.food` says another.
   */
  additionalInstructions: Type.Optional(Type.Array(ConceptSchema, { minItems: 1, maxItems: 10 })),
  /** A prescription's validity start, when its source dates it apart from when it was written (`startDate`). */
  validFrom: Type.Optional(PartialDateOrDateTimeSchema),
  /** When the source recorded what the patient takes (FHIR MedicationStatement.dateAsserted). */
  assertedDate: Type.Optional(PartialDateOrDateTimeSchema),
  /** Dosage instructions after the first (which the fields above hold), as the source wrote them. */
  moreDosages: Type.Optional(Type.Array(MedicationDosageSchema, { minItems: 1, maxItems: 10 })),
  notes: Type.Optional(boundedText(4000)),
});
export type Medication = Static<typeof MedicationSchema>;

// --------------------------------------------------------------------------------------------- clinical

/** Most coded concepts one field keeps (a result's interpretations, a condition's body sites). */
const MAX_CONCEPTS = 10;
/** Concepts a source sent beside a text field; in force while the text is what they say (concepts.ts). */
const Concepts = Type.Optional(Type.Array(ConceptSchema, { minItems: 1, maxItems: MAX_CONCEPTS }));

/** Units as a source coded them (FHIR Quantity `unit`, `system`, `code`: UCUM `mm[Hg]` for `mmHg`). */
export const CodedUnitsSchema = strictObject('CodedUnits', {
  unit: boundedText(64, 1),
  system: Type.Optional(boundedText(200, 1)),
  code: Type.Optional(boundedText(64, 1)),
});
export type CodedUnits = Static<typeof CodedUnitsSchema>;

/** The longest sampled data a result part keeps (characters; an ECG lead's 10 s at 100 Hz is some 600). */
export const MAX_SAMPLED_DATA = 20_000;

/** A limit of a reference range as a source sent it (FHIR SimpleQuantity). */
export const RangeLimitSchema = strictObject('RangeLimit', {
  value: Type.Number(),
  unit: Type.Optional(boundedText(64, 1)),
  system: Type.Optional(boundedText(200, 1)),
  code: Type.Optional(boundedText(64, 1)),
});

/** A reference range's limits as numbers, with the text they read as (in force while `referenceRange` is it). */
export const CodedRangeSchema = strictObject('CodedRange', {
  text: boundedText(200, 1),
  low: Type.Optional(RangeLimitSchema),
  high: Type.Optional(RangeLimitSchema),
});
export type CodedRange = Static<typeof CodedRangeSchema>;

const labResultValueFields = {
  status: StringEnum(LAB_RESULT_STATUSES),
  /** A number, or text: `<0.5`, `positive`, a culture or pathology narrative. */
  value: Type.Optional(Type.Union([Type.Number(), boundedText(20000)])),
  units: Type.Optional(boundedText(64)),
  referenceRange: Type.Optional(boundedText(200)),
  effectiveAt: DateOrDateTimeSchema,
  publishedAt: Type.Optional(DateTimeSchema),
};

export const LabResultVersionSchema = strictObject('LabResultVersion', {
  version: Version,
  ...labResultValueFields,
  provenance: ProvenanceSchema,
});
export type LabResultVersion = Static<typeof LabResultVersionSchema>;

/**
 * Samples taken at a fixed interval, as a source sent them (FHIR SampledData: an ECG lead's waveform).
 * A sample's measured value is `origin.value + factor × datum`; a datum may also be `E` (error), `L`
 * (below `lowerLimit`) or `U` (above `upperLimit`).
 */
export const SampledDataSchema = strictObject('SampledData', {
  /** The zero value and its units. */
  origin: RangeLimitSchema,
  /** Milliseconds between samples. */
  period: Type.Number({ minimum: 0 }),
  factor: Type.Optional(Type.Number()),
  lowerLimit: Type.Optional(Type.Number()),
  upperLimit: Type.Optional(Type.Number()),
  /** Values at each sample point (more than one: signals interleaved). */
  dimensions: Type.Integer({ minimum: 1, maximum: 1000 }),
  /** The data, values separated by spaces, as sent. */
  data: Type.Optional(boundedText(MAX_SAMPLED_DATA, 1)),
});
export type SampledData = Static<typeof SampledDataSchema>;

/** One part of a result measured with others (a blood pressure's systolic and diastolic values). */
export const LabResultComponentSchema = strictObject('LabResultComponent', {
  /** LOINC code of the part. */
  testCode: Type.Optional(boundedText(64, 1)),
  testName: boundedText(200, 1),
  /** The part's other codes as the source sent them (beside `testCode`). */
  codes: Type.Optional(CodingsSchema),
  value: Type.Optional(Type.Union([Type.Number(), boundedText(2000)])),
  /** A coded value as the source sent it (`Positive`, SNOMED 10828004); in force while `value` is its text. */
  valueConcept: Type.Optional(ConceptSchema),
  units: Type.Optional(boundedText(64)),
  /** `units` as the source coded them; in force while `units` is their `unit`. */
  unitsCoded: Type.Optional(CodedUnitsSchema),
  referenceRange: Type.Optional(boundedText(200)),
  /** Why there is no value (FHIR data-absent-reason: `not-performed`, `error`, …). */
  dataAbsentReason: Type.Optional(ConceptSchema),
  /** Its value as samples at a fixed interval (an ECG lead), when it has no other value. */
  sampledData: Type.Optional(SampledDataSchema),
});
export type LabResultComponent = Static<typeof LabResultComponentSchema>;

export const LabResultSchema = patientRecord('LabResult', {
  /** Test code, e.g. LOINC. */
  testCode: Type.Optional(boundedText(64, 1)),
  testName: boundedText(200, 1),
  /** Codes of the test in other systems than LOINC (which is `testCode`), when a source sent them. */
  codes: Type.Optional(CodingsSchema),
  /** What kind of observation this is; absent: laboratory. */
  category: Type.Optional(StringEnum(OBSERVATION_CATEGORIES)),
  ...labResultValueFields,
  /** The reference range's limits as numbers; in force while `referenceRange` is their text. Not kept in `versions`. */
  referenceRangeCoded: Type.Optional(CodedRangeSchema),
  /** A coded value as the source sent it; in force while `value` is its text. Not kept in `versions`. */
  valueConcept: Type.Optional(ConceptSchema),
  /** `units` as the source coded them; in force while `units` is their `unit`. Not kept in `versions`. */
  unitsCoded: Type.Optional(CodedUnitsSchema),
  /** What the value means (`High`, `Abnormal`), in words; the source's coded interpretations beside it. */
  interpretation: Type.Optional(boundedText(200)),
  interpretations: Concepts,
  /** Where on the body it was taken, in words; the source's codes beside it. */
  bodySite: Type.Optional(boundedText(200)),
  bodySites: Concepts,
  notes: Type.Optional(boundedText(4000)),
  /** Parts measured together (a blood pressure); not kept in `versions`. */
  components: Type.Optional(Type.Array(LabResultComponentSchema, { maxItems: MAX_ATTACHMENTS })),
  orderedBy: Type.Optional(AccountIdSchema),
  /** Performing laboratory or clinician, as reported. */
  performer: Type.Optional(boundedText(200)),
  attachments: Type.Optional(Type.Array(FileRefSchema, { maxItems: MAX_ATTACHMENTS })),
  version: Version,
  /** Provenance of the current version. */
  provenance: ProvenanceSchema,
  /** Superseded versions, oldest first. */
  versions: Type.Array(LabResultVersionSchema, { maxItems: MAX_VERSIONS }),
});
export type LabResult = Static<typeof LabResultSchema>;

/** What a plan aims a test's results at: the test (by name, and code when known) and the target as a range. */
export const PlanGoalSchema = strictObject('PlanGoal', {
  testName: boundedText(200, 1),
  /** The test's code (LOINC), matched before the name. */
  testCode: Type.Optional(boundedText(64, 1)),
  /** As a reference range is written: `<7.0`, `4.0-5.6`, `>=60` (in the test's usual unit). */
  target: boundedText(200, 1),
});
export type PlanGoal = Static<typeof PlanGoalSchema>;

/** A test the plan asks to be done again, by a day. */
export const PlanRecheckSchema = strictObject('PlanRecheck', {
  testName: boundedText(200, 1),
  testCode: Type.Optional(boundedText(64, 1)),
  due: DateSchema,
});
export type PlanRecheck = Static<typeof PlanRecheckSchema>;

const treatmentPlanContentFields = {
  summary: boundedText(1000, 1),
  details: Type.Optional(boundedText(20000)),
  status: StringEnum(TREATMENT_PLAN_STATUSES),
  effectiveFrom: Type.Optional(DateOrDateTimeSchema),
  effectiveTo: Type.Optional(DateOrDateTimeSchema),
  goal: Type.Optional(PlanGoalSchema),
  recheck: Type.Optional(PlanRecheckSchema),
};

export const TreatmentPlanVersionSchema = strictObject('TreatmentPlanVersion', {
  version: Version,
  ...treatmentPlanContentFields,
  provenance: ProvenanceSchema,
});
export type TreatmentPlanVersion = Static<typeof TreatmentPlanVersionSchema>;

export const AcknowledgementSchema = strictObject('Acknowledgement', {
  by: AccountIdSchema,
  at: DateTimeSchema,
  /** The plan version the patient acknowledged. */
  version: Version,
});
export type Acknowledgement = Static<typeof AcknowledgementSchema>;

export const TreatmentPlanSchema = patientRecord('TreatmentPlan', {
  /** Responsible clinician. */
  authorId: AccountIdSchema,
  ...treatmentPlanContentFields,
  version: Version,
  provenance: ProvenanceSchema,
  versions: Type.Array(TreatmentPlanVersionSchema, { maxItems: MAX_VERSIONS }),
  acknowledgement: Type.Optional(AcknowledgementSchema),
});
export type TreatmentPlan = Static<typeof TreatmentPlanSchema>;

export const TimeWindowSchema = strictObject('TimeWindow', {
  startAt: DateTimeSchema,
  endAt: DateTimeSchema,
});
export type TimeWindow = Static<typeof TimeWindowSchema>;

export const AppointmentSchema = patientRecord('Appointment', {
  providerId: AccountIdSchema,
  /** Instants (the records API writes them in UTC); `timeZone` says the wall time they are there. */
  startAt: DateTimeSchema,
  endAt: DateTimeSchema,
  location: Type.Optional(boundedText(500)),
  status: StringEnum(APPOINTMENT_STATUSES),
  reason: Type.Optional(boundedText(1000)),
  /** The IANA zone the appointment takes place in (the clinic's), e.g. `Europe/Berlin`. */
  timeZone: Type.Optional(Type.String({ pattern: TIME_ZONE_PATTERN, maxLength: 64 })),
  /** Booked on a slot the provider published (its availability): one booking per slot. */
  fromSlot: Type.Optional(Type.Boolean()),
  /** For a request without a slot: the times the patient could come, most preferred first. */
  preferredTimes: Type.Optional(Type.Array(TimeWindowSchema, { maxItems: MAX_PREFERRED_TIMES })),
  /** Who set the current status (the writer), when, why, and a word to the other party. */
  statusBy: Type.Optional(AccountIdSchema),
  statusAt: Type.Optional(DateTimeSchema),
  statusReason: Type.Optional(StringEnum(APPOINTMENT_STATUS_REASONS)),
  statusNote: Type.Optional(boundedText(1000)),
});
export type Appointment = Static<typeof AppointmentSchema>;

export const MessageSchema = patientRecord('Message', {
  /** Id of the thread (the first message's id or a fresh id). */
  threadId: IdSchema,
  senderId: AccountIdSchema,
  recipientId: AccountIdSchema,
  body: boundedText(20000),
  attachments: Type.Optional(Type.Array(FileRefSchema, { maxItems: MAX_ATTACHMENTS })),
  status: StringEnum(MESSAGE_STATUSES),
  sentAt: DateTimeSchema,
  deliveredAt: Type.Optional(DateTimeSchema),
  readAt: Type.Optional(DateTimeSchema),
});
export type Message = Static<typeof MessageSchema>;

export const EncounterSchema = patientRecord('Encounter', {
  encounterNumber: boundedText(64, 1),
  type: StringEnum(ENCOUNTER_TYPES),
  department: Type.Optional(boundedText(200)),
  location: Type.Optional(boundedText(500)),
  clinicianId: Type.Optional(AccountIdSchema),
  startedAt: DateTimeSchema,
  endedAt: Type.Optional(DateTimeSchema),
  status: StringEnum(ENCOUNTER_STATUSES),
  reason: Type.Optional(boundedText(1000)),
  /** What kind of visit the source called it (FHIR Encounter.type: a check-up, a consultation…), with codes. */
  visitTypes: Type.Optional(Type.Array(ConceptSchema, { maxItems: 10 })),
});
export type Encounter = Static<typeof EncounterSchema>;

export const MedicalNoteSchema = patientRecord('MedicalNote', {
  encounterId: Type.Optional(IdSchema),
  authorId: AccountIdSchema,
  title: boundedText(200, 1),
  noteType: StringEnum(NOTE_TYPES),
  currentVersionNumber: Version,
  status: StringEnum(NOTE_STATUSES),
  requiresCosign: Type.Optional(Type.Boolean()),
});
export type MedicalNote = Static<typeof MedicalNoteSchema>;

export const NoteVersionSchema = patientRecord('NoteVersion', {
  noteId: IdSchema,
  versionNumber: Version,
  editorId: AccountIdSchema,
  subjective: Type.Optional(boundedText(50000)),
  objective: Type.Optional(boundedText(50000)),
  assessment: Type.Optional(boundedText(50000)),
  plan: Type.Optional(boundedText(50000)),
  changeSummary: Type.Optional(boundedText(1000)),
  kind: StringEnum(NOTE_VERSION_KINDS),
  /** Required when `kind` is `amendment`. */
  amendmentReason: Type.Optional(boundedText(1000, 1)),
});
export type NoteVersion = Static<typeof NoteVersionSchema>;

export const NoteSignatureSchema = patientRecord('NoteSignature', {
  noteId: IdSchema,
  /** The NoteVersion to be signed (or that was signed). */
  noteVersionId: IdSchema,
  /** Required once `status` is `signed`. */
  signedVersionNumber: Type.Optional(Version),
  signerId: AccountIdSchema,
  /** e.g. `author`, `attending`, `resident`, `supervisor`. */
  signerRole: boundedText(64, 1),
  requestedBy: Type.Optional(AccountIdSchema),
  status: StringEnum(SIGNATURE_STATUSES),
  requestedAt: DateTimeSchema,
  /** Required once `status` is `signed`. */
  signedAt: Type.Optional(DateTimeSchema),
  comment: Type.Optional(boundedText(1000)),
});
export type NoteSignature = Static<typeof NoteSignatureSchema>;

/** A problem or diagnosis (FHIR Condition): the problem list the summary and the emergency card show. */
export const ConditionSchema = patientRecord('Condition', {
  name: boundedText(200, 1),
  /** Codes of the condition (SNOMED CT, ICD-10, …). */
  codes: Type.Optional(CodingsSchema),
  clinicalStatus: StringEnum(CONDITION_CLINICAL_STATUSES),
  verificationStatus: Type.Optional(StringEnum(CONDITION_VERIFICATION_STATUSES)),
  category: Type.Optional(StringEnum(CONDITION_CATEGORIES)),
  severity: Type.Optional(StringEnum(CONDITION_SEVERITIES)),
  bodySite: Type.Optional(boundedText(200)),
  /** The source's coded body sites; in force while `bodySite` is what they say (concepts.ts). */
  bodySites: Concepts,
  onsetDate: Type.Optional(PartialDateOrDateTimeSchema),
  /** When it ended (resolved, in remission); then `clinicalStatus` is inactive, remission or resolved. */
  abatementDate: Type.Optional(PartialDateOrDateTimeSchema),
  /** When it was first recorded (FHIR `recordedDate`). */
  recordedAt: Type.Optional(DateOrDateTimeSchema),
  notes: Type.Optional(boundedText(4000)),
});
export type Condition = Static<typeof ConditionSchema>;

/** Something done to the patient (FHIR Procedure): an operation, an endoscopy, a course of therapy. */
export const ProcedureSchema = patientRecord('Procedure', {
  name: boundedText(200, 1),
  /** Codes of the procedure (SNOMED CT, CPT, …). */
  codes: Type.Optional(CodingsSchema),
  status: StringEnum(PROCEDURE_STATUSES),
  /** When it was done (or began). */
  performedAt: Type.Optional(PartialDateOrDateTimeSchema),
  /** When it ended, for one that took a while; not before `performedAt`. */
  performedEndAt: Type.Optional(DateOrDateTimeSchema),
  /** Who or where performed it, as written. */
  performer: Type.Optional(boundedText(200)),
  location: Type.Optional(boundedText(500)),
  reason: Type.Optional(boundedText(500)),
  bodySite: Type.Optional(boundedText(200)),
  /** The source's coded body sites; in force while `bodySite` is what they say (concepts.ts). */
  bodySites: Concepts,
  outcome: Type.Optional(boundedText(500)),
  notes: Type.Optional(boundedText(4000)),
});
export type Procedure = Static<typeof ProcedureSchema>;

// ------------------------------------------------------------------------------------- access and audit

export const ConsentScopeItemSchema = strictObject('ConsentScopeItem', {
  type: StringEnum(CONSENTABLE_STREAM_TYPES),
  access: StringEnum(CONSENT_ACCESS_LEVELS),
});
export type ConsentScopeItem = Static<typeof ConsentScopeItemSchema>;

export const ConsentSchema = patientRecord('Consent', {
  granteeId: AccountIdSchema,
  /** Who granted it when not the patient (a caregiver acting for the patient). */
  grantedBy: Type.Optional(AccountIdSchema),
  /** One entry per stream type; `write` implies read. */
  scope: Type.Array(ConsentScopeItemSchema, { minItems: 1, maxItems: CONSENTABLE_STREAM_TYPES.length }),
  startsAt: DateTimeSchema,
  /** Absent: until revoked. */
  expiresAt: Type.Optional(DateTimeSchema),
  purpose: Type.Optional(boundedText(500)),
  status: StringEnum(CONSENT_STATUSES),
  /** Required when `status` is `revoked`. */
  revokedAt: Type.Optional(DateTimeSchema),
});
export type Consent = Static<typeof ConsentSchema>;

// TypeBox turns a record's key schema into a pattern matching any key, so its maxLength is not checked
// there; validate.ts checks the keys like any other text.
export const AUDIT_METADATA_KEY_LENGTH = 64;

export const AuditEntrySchema = patientRecord('AuditEntry', {
  actorId: AccountIdSchema,
  /** Absent for entries the sync server writes about access events. */
  actorDeviceId: Type.Optional(DeviceIdSchema),
  /** Dotted lowercase verb, e.g. `record.create`, `record.view`, `consent.grant`, `stream.pull`. */
  action: Type.String({ pattern: AUDIT_ACTION_PATTERN, maxLength: 64 }),
  /** A record kind name or another entity (`Stream`, `Device`, `Export`). */
  entityType: boundedText(64, 1),
  entityId: boundedText(128, 1),
  streamType: Type.Optional(StringEnum(STREAM_TYPES)),
  summary: boundedText(1000, 1),
  /** Keys are text of at most AUDIT_METADATA_KEY_LENGTH characters (a cross-field rule checks them). */
  metadata: Type.Optional(
    Type.Record(
      Type.String({ maxLength: AUDIT_METADATA_KEY_LENGTH }),
      Type.Union([boundedText(1000), Type.Number(), Type.Boolean(), Type.Null()]),
      {
        maxProperties: 50,
      },
    ),
  ),
  at: DateTimeSchema,
});
export type AuditEntry = Static<typeof AuditEntrySchema>;

export const ProviderIdentifierSchema = strictObject('ProviderIdentifier', {
  /** Identifier system URI, e.g. `http://hl7.org/fhir/sid/us-npi`. */
  system: boundedText(200, 1),
  value: boundedText(64, 1),
});
export type ProviderIdentifier = Static<typeof ProviderIdentifierSchema>;

/** A directory entry, not a patient record: keyed by the provider's own account. */
export const ProviderProfileSchema = strictObject('ProviderProfile', {
  id: IdSchema,
  accountId: AccountIdSchema,
  displayName: boundedText(200, 1),
  specialty: Type.Optional(boundedText(200)),
  clinic: Type.Optional(boundedText(200)),
  identifier: Type.Optional(ProviderIdentifierSchema),
  contact: Type.Optional(ContactSchema),
  createdAt: DateTimeSchema,
  updatedAt: DateTimeSchema,
});
export type ProviderProfile = Static<typeof ProviderProfileSchema>;
