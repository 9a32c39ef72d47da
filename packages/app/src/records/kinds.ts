/**
 * What the app shows and edits of each record kind a patient keeps: its route slug, its form fields, how
 * a list row and a title read. Enumerations come from @hale/model, so a form offers exactly what the
 * model accepts. Labels are i18n keys: `fields.<name>`, `kinds.<slug>.*`, `enum.<enum>.<value>`.
 *
 * | field type | form control | stored as |
 * |---|---|---|
 * | `text`, `textarea` | text | string, omitted when empty |
 * | `select` | a choice of `options` | string |
 * | `date` | calendar day | `YYYY-MM-DD` |
 * | `instant` | day and time | ISO instant with this device's offset |
 * | `partialDate` | text: a year, month or day | `YYYY`, `YYYY-MM` or `YYYY-MM-DD` |
 * | `boolean` | switch | boolean |
 * | `labValue` | text | a number when the text is one, else the text |
 * | `account` | an account id, found in the directory | account id |
 */
import {
  ALLERGY_CATEGORIES,
  ALLERGY_SEVERITIES,
  APPOINTMENT_STATUSES,
  BLOOD_TYPES,
  CONDITION_CATEGORIES,
  CONDITION_CLINICAL_STATUSES,
  CONDITION_SEVERITIES,
  CONDITION_VERIFICATION_STATUSES,
  ENCOUNTER_STATUSES,
  ENCOUNTER_TYPES,
  LAB_RESULT_STATUSES,
  NOTE_TYPES,
  OBSERVATION_CATEGORIES,
  PROCEDURE_STATUSES,
  PROFILE_STATUSES,
  SEXES_AT_BIRTH,
  TREATMENT_PLAN_STATUSES,
  type RecordKind,
} from '@hale/model';

export type FieldType =
  'text' | 'textarea' | 'select' | 'date' | 'instant' | 'partialDate' | 'boolean' | 'labValue' | 'account';

export interface FieldSpec {
  /** The record's field; a dotted path for nested ones (`contact.phone`). */
  readonly name: string;
  readonly type: FieldType;
  readonly required?: boolean;
  /** For `select`: the model's values, labelled `enum.<enumName>.<value>`. */
  readonly options?: readonly string[];
  readonly enumName?: string;
  /** Where a new record starts. */
  readonly initial?: string | boolean;
}

export const DOCUMENT_TYPES = [
  'lab-report',
  'imaging',
  'prescription',
  'discharge-summary',
  'vaccination-card',
  'insurance',
  'letter',
  'other',
] as const;

/** The kinds a patient's chart screens list, in the navigation's order. */
export const KIND_SLUGS = [
  'profile',
  'contacts',
  'allergies',
  'medications',
  'immunizations',
  'labs',
  'documents',
  'plans',
  'appointments',
  'encounters',
  'notes',
  'conditions',
  'procedures',
] as const;
export type KindSlug = (typeof KIND_SLUGS)[number];

export interface KindSpec {
  readonly kind: RecordKind;
  readonly slug: KindSlug;
  readonly fields: readonly FieldSpec[];
  /** The field a row's title shows. */
  readonly titleField: string;
  /** Fields a row's second line shows, in order, when set. */
  readonly summaryFields: readonly string[];
  /** Versioned by the library (each content change a version with provenance). */
  readonly versioned: boolean;
  /** A write that changes content takes a reason (provenance.reason). */
  readonly takesReason: boolean;
  /** Added through an upload, not a form (documents). */
  readonly uploaded?: boolean;
}

const sel = (
  name: string,
  options: readonly string[],
  enumName: string,
  extra: Partial<FieldSpec> = {},
): FieldSpec => ({
  name,
  type: 'select',
  options,
  enumName,
  ...extra,
});

export const KINDS: Readonly<Record<KindSlug, KindSpec>> = {
  profile: {
    kind: 'Profile',
    slug: 'profile',
    titleField: 'fullName',
    summaryFields: ['birthDate', 'bloodType', 'primaryCareProvider'],
    versioned: false,
    takesReason: false,
    fields: [
      { name: 'fullName', type: 'text', required: true },
      { name: 'birthDate', type: 'date' },
      sel('sexAtBirth', SEXES_AT_BIRTH, 'sexAtBirth'),
      { name: 'gender', type: 'text' },
      sel('bloodType', BLOOD_TYPES, 'bloodType'),
      { name: 'medicalRecordNumber', type: 'text' },
      { name: 'primaryCareProvider', type: 'text' },
      { name: 'contact.phone', type: 'text' },
      { name: 'contact.email', type: 'text' },
      { name: 'contact.address', type: 'textarea' },
      sel('status', PROFILE_STATUSES, 'profileStatus', { required: true, initial: 'active' }),
      { name: 'notes', type: 'textarea' },
    ],
  },
  contacts: {
    kind: 'EmergencyContact',
    slug: 'contacts',
    titleField: 'name',
    summaryFields: ['relationship', 'phone'],
    versioned: false,
    takesReason: false,
    fields: [
      { name: 'name', type: 'text', required: true },
      { name: 'relationship', type: 'text', required: true },
      { name: 'phone', type: 'text', required: true },
      { name: 'email', type: 'text' },
      { name: 'notes', type: 'textarea' },
    ],
  },
  allergies: {
    kind: 'Allergy',
    slug: 'allergies',
    titleField: 'substance',
    summaryFields: ['severity', 'reaction', 'category'],
    versioned: false,
    takesReason: false,
    fields: [
      { name: 'substance', type: 'text', required: true },
      sel('category', ALLERGY_CATEGORIES, 'allergyCategory'),
      { name: 'reaction', type: 'text' },
      sel('severity', ALLERGY_SEVERITIES, 'severity'),
      { name: 'onsetDate', type: 'partialDate' },
      { name: 'active', type: 'boolean', initial: true },
      { name: 'notes', type: 'textarea' },
    ],
  },
  medications: {
    kind: 'Medication',
    slug: 'medications',
    titleField: 'name',
    summaryFields: ['dose', 'frequency', 'reason'],
    versioned: false,
    takesReason: false,
    fields: [
      { name: 'name', type: 'text', required: true },
      { name: 'dose', type: 'text' },
      { name: 'frequency', type: 'text' },
      { name: 'instructions', type: 'textarea' },
      { name: 'reason', type: 'text' },
      { name: 'startDate', type: 'date' },
      { name: 'endDate', type: 'date' },
      { name: 'active', type: 'boolean', initial: true },
    ],
  },
  immunizations: {
    kind: 'Immunization',
    slug: 'immunizations',
    titleField: 'vaccineName',
    summaryFields: ['administeredAt', 'dose', 'performer'],
    versioned: false,
    takesReason: false,
    fields: [
      { name: 'vaccineName', type: 'text', required: true },
      { name: 'administeredAt', type: 'partialDate', required: true },
      { name: 'dose', type: 'text' },
      { name: 'lotNumber', type: 'text' },
      { name: 'vaccineCode', type: 'text' },
      { name: 'performer', type: 'text' },
      { name: 'nextDoseDate', type: 'date' },
      { name: 'notes', type: 'textarea' },
    ],
  },
  labs: {
    kind: 'LabResult',
    slug: 'labs',
    titleField: 'testName',
    summaryFields: ['effectiveAt', 'status'],
    versioned: true,
    takesReason: true,
    fields: [
      { name: 'testName', type: 'text', required: true },
      { name: 'testCode', type: 'text' },
      { name: 'value', type: 'labValue' },
      { name: 'units', type: 'text' },
      { name: 'referenceRange', type: 'text' },
      { name: 'effectiveAt', type: 'instant', required: true },
      sel('status', LAB_RESULT_STATUSES, 'labStatus', { required: true, initial: 'final' }),
      sel('category', OBSERVATION_CATEGORIES, 'observationCategory'),
      { name: 'performer', type: 'text' },
    ],
  },
  documents: {
    kind: 'HealthDocument',
    slug: 'documents',
    titleField: 'title',
    summaryFields: ['documentType', 'uploadedAt'],
    versioned: true,
    takesReason: false,
    uploaded: true,
    fields: [
      { name: 'title', type: 'text', required: true },
      sel('documentType', DOCUMENT_TYPES, 'documentType', { required: true, initial: 'other' }),
      { name: 'description', type: 'textarea' },
    ],
  },
  plans: {
    kind: 'TreatmentPlan',
    slug: 'plans',
    titleField: 'summary',
    summaryFields: ['status', 'effectiveFrom', 'effectiveTo'],
    versioned: true,
    takesReason: true,
    fields: [
      { name: 'summary', type: 'text', required: true },
      { name: 'details', type: 'textarea' },
      sel('status', TREATMENT_PLAN_STATUSES, 'planStatus', { required: true, initial: 'draft' }),
      { name: 'effectiveFrom', type: 'date' },
      { name: 'effectiveTo', type: 'date' },
    ],
  },
  appointments: {
    kind: 'Appointment',
    slug: 'appointments',
    titleField: 'reason',
    summaryFields: ['startAt', 'location', 'status'],
    versioned: false,
    takesReason: false,
    fields: [
      { name: 'providerId', type: 'account', required: true },
      { name: 'startAt', type: 'instant', required: true },
      { name: 'endAt', type: 'instant', required: true },
      { name: 'reason', type: 'text' },
      { name: 'location', type: 'text' },
      sel('status', APPOINTMENT_STATUSES, 'appointmentStatus', { required: true, initial: 'scheduled' }),
    ],
  },
  encounters: {
    kind: 'Encounter',
    slug: 'encounters',
    titleField: 'reason',
    summaryFields: ['startedAt', 'type', 'department'],
    versioned: false,
    takesReason: false,
    fields: [
      { name: 'encounterNumber', type: 'text', required: true },
      sel('type', ENCOUNTER_TYPES, 'encounterType', { required: true, initial: 'outpatient' }),
      { name: 'reason', type: 'text' },
      { name: 'department', type: 'text' },
      { name: 'location', type: 'text' },
      { name: 'clinicianId', type: 'account' },
      { name: 'startedAt', type: 'instant', required: true },
      { name: 'endedAt', type: 'instant' },
      sel('status', ENCOUNTER_STATUSES, 'encounterStatus', { required: true, initial: 'finished' }),
    ],
  },
  notes: {
    kind: 'MedicalNote',
    slug: 'notes',
    titleField: 'title',
    summaryFields: ['noteType', 'status'],
    versioned: false,
    takesReason: false,
    fields: [
      { name: 'title', type: 'text', required: true },
      sel('noteType', NOTE_TYPES, 'noteType', { required: true, initial: 'progress' }),
      { name: 'subjective', type: 'textarea' },
      { name: 'objective', type: 'textarea' },
      { name: 'assessment', type: 'textarea' },
      { name: 'plan', type: 'textarea' },
    ],
  },
  conditions: {
    kind: 'Condition',
    slug: 'conditions',
    titleField: 'name',
    summaryFields: ['clinicalStatus', 'onsetDate', 'severity'],
    versioned: false,
    takesReason: false,
    fields: [
      { name: 'name', type: 'text', required: true },
      sel('clinicalStatus', CONDITION_CLINICAL_STATUSES, 'conditionClinicalStatus', {
        required: true,
        initial: 'active',
      }),
      sel('verificationStatus', CONDITION_VERIFICATION_STATUSES, 'conditionVerificationStatus'),
      sel('category', CONDITION_CATEGORIES, 'conditionCategory', { initial: 'problem-list-item' }),
      sel('severity', CONDITION_SEVERITIES, 'severity'),
      { name: 'bodySite', type: 'text' },
      { name: 'onsetDate', type: 'partialDate' },
      { name: 'abatementDate', type: 'partialDate' },
      { name: 'notes', type: 'textarea' },
    ],
  },
  procedures: {
    kind: 'Procedure',
    slug: 'procedures',
    titleField: 'name',
    summaryFields: ['performedAt', 'status', 'performer'],
    versioned: false,
    takesReason: false,
    fields: [
      { name: 'name', type: 'text', required: true },
      sel('status', PROCEDURE_STATUSES, 'procedureStatus', { required: true, initial: 'completed' }),
      { name: 'performedAt', type: 'partialDate' },
      { name: 'performedEndAt', type: 'date' },
      { name: 'performer', type: 'text' },
      { name: 'location', type: 'text' },
      { name: 'reason', type: 'text' },
      { name: 'bodySite', type: 'text' },
      { name: 'outcome', type: 'text' },
      { name: 'notes', type: 'textarea' },
    ],
  },
};

/** The SOAP fields of a note, kept in its NoteVersion rather than the MedicalNote. */
export const NOTE_VERSION_FIELDS = ['subjective', 'objective', 'assessment', 'plan'] as const;

export const isKindSlug = (value: string | undefined): value is KindSlug =>
  value !== undefined && (KIND_SLUGS as readonly string[]).includes(value);

export const slugOfKind = (kind: string): KindSlug | undefined =>
  KIND_SLUGS.find((slug) => KINDS[slug].kind === kind);
