/*
 * FHIR R4 export of Hale records (docs/data-model.md is the mapping reference).
 *
 * Invariants:
 * - Pure: the output depends only on the input (no clock, no randomness), so the same input gives the
 *   same bundle byte for byte. Entries are sorted (the export's Patient first, then by fullUrl and
 *   version), so the order of the input records does not matter either.
 * - Every record is validated (`validateRecord`) and must belong to `patientId` (ProviderProfile excepted,
 *   it is a directory entry); a bundle never mixes patients.
 * - Every `reference` in the bundle is a fullUrl of an entry (`urn:hale:{ResourceType}/{id}`), or
 *   `{fullUrl}/_history/{version}` where an entry of that fullUrl has that `meta.versionId`. People and
 *   devices named only by account/device id get a minimal Patient / Practitioner / RelatedPerson / Device
 *   entry so their references resolve; records that point at records, or at versions of records, absent
 *   from the export get a logical reference (`identifier` and a `display`, which names the version where
 *   one is meant; no `reference`).
 * - Hale record ids are kept as `identifier` (system `urn:hale:id`) where the resource has one
 *   (Provenance and AuditEvent have none in R4: there the Hale id is `Resource.id`).
 * - No empty strings, arrays or objects are emitted (FHIR JSON forbids them).
 * - A code typed by a person is labelled with a code system only when it has that system's form (CVX:
 *   1–3 digits; LOINC: digits, dash, a valid check digit); any other code joins the concept's text, with
 *   no coding: a coding claiming the wrong system would be read as the wrong vaccine or test.
 * - Nothing of a value is dropped: a lab value written as text keeps its units (as a Quantity when the
 *   text is a number, with its comparator; else in Observation.note).
 * - What offline devices legitimately leave behind never fails the export, and nothing is dropped:
 *   several Profiles (each device created one before the first sync) become one Patient that all
 *   references name plus a Patient per other Profile, linked `seealso`; NoteVersions sharing a number
 *   (concurrent amendments) keep the number for one and export the others as Compositions of their own
 *   id, linked with the `concurrent-version` extension. Which one keeps the place depends on the records
 *   only (`preferred`: signed first, then latest `updatedAt`, then greater id).
 * - No side of an unsettled conflict is dropped or passed off as settled: a record given with
 *   `conflict` exports each other side beside it (the resources that differ from the record's, under
 *   ids with `-conflict-{n}`; a deletion as a Provenance of a deletion not applied), the record's current
 *   main resource and every side's resource tagged HALE_CONFLICT_TAG and linked both ways
 *   (`conflicting-version`). A record given without `conflict` exports exactly as before.
 *
 * Failure modes: throws FhirExportError with code INVALID_INPUT (bad patientId, generatedAt, signature,
 * a conflict side naming another record or a malformed deletion), INVALID_RECORD (a record or conflict
 * side fails its schema; `issues` says why), PATIENT_MISMATCH (a record or side of another patient) or
 * DUPLICATE_RESOURCE (the same record listed twice, or records whose ids would still export
 * to one resource version, e.g. two ProviderProfiles of one account: input sync does not produce for a
 * patient's own records).
 */
import type { Provenance } from './common-schemas';
import type { Result, ValidationIssue } from './errors';
import { isFhirInstant, isIsoDateTime } from './formats';
import { isAccountId } from './ids';
import { compareInstantTimes, compareInstants } from './instants';
import type {
  Allergy,
  Appointment,
  AuditEntry,
  Consent,
  EmergencyContact,
  Encounter,
  HealthDocument,
  Immunization,
  LabResult,
  MedicalNote,
  Medication,
  Message,
  NoteSignature,
  NoteVersion,
  Profile,
  ProviderProfile,
  TreatmentPlan,
} from './record-schemas';
import { RECORD_KINDS, isRecordKind, type RecordKind, type RecordOf } from './registry';
import type { StreamType } from './stream-types';
import { sameJson } from './transitions';
import { validateRecord } from './validate';
import { exportCondition, exportProcedure, originOf, withCodes } from './fhir-kinds';
import { resolveReference } from './fhir-references';
import {
  LOINC,
  CVX,
  V2_0203,
  V3_ACT_CODE,
  V3_PARTICIPATION,
  V3_DATA_OPERATION,
  PROVENANCE_PARTICIPANT,
  SIGNATURE_TYPE,
  DICOM,
  DATA_ABSENT_REASON,
  type DraftObject,
  FHIR_FORBIDDEN_CONTROL_RE,
  compact,
  makeResource,
  isJsonObject,
  fhirDateTime,
  text,
  coding,
  haleIdentifier,
  versionRef,
  extension,
  stringExt,
  dateTimeExt,
  meta,
  telecom,
  address,
  attachment,
  parseQuantity,
  narrative,
  base64,
  type PersonType,
  type Exporter,
  laboratoryCategory,
  authorSignature,
  labValue,
  isCvxCode,
  isLoincCode,
  codedConcept,
  HALE_CODE_SYSTEM_BASE,
  HALE_ID_SYSTEM,
  HALE_ACCOUNT_SYSTEM,
  HALE_DEVICE_SYSTEM,
  HALE_THREAD_SYSTEM,
  HALE_STREAM_SYSTEM,
  HALE_CONFLICT_TAG,
  fhirId,
  fhirFullUrl,
} from './fhir-draft';
export {
  HALE_FHIR_BASE,
  HALE_EXTENSION_BASE,
  HALE_CODE_SYSTEM_BASE,
  HALE_ID_SYSTEM,
  HALE_ACCOUNT_SYSTEM,
  HALE_DEVICE_SYSTEM,
  HALE_THREAD_SYSTEM,
  HALE_STREAM_SYSTEM,
  HALE_CONFLICT_TAG,
  fhirId,
  fhirFullUrl,
  isFhirBase64Binary,
} from './fhir-draft';

// ------------------------------------------------------------------------------------------ public types

export type FhirJson = string | number | boolean | readonly FhirJson[] | FhirJsonObject;
export interface FhirJsonObject {
  readonly [element: string]: FhirJson;
}

export interface FhirResource extends FhirJsonObject {
  readonly resourceType: string;
  readonly id: string;
}

export interface FhirBundleEntry extends FhirJsonObject {
  readonly fullUrl: string;
  readonly resource: FhirResource;
}

export interface FhirBundle extends FhirJsonObject {
  readonly resourceType: 'Bundle';
  readonly type: 'collection';
  readonly timestamp: string;
  readonly entry: readonly FhirBundleEntry[];
}

/**
 * One record to export. `signature` is the record's author signature (standard base64) as verified by
 * the caller; it becomes `Provenance.signature.data` where the export has a Provenance for the record's
 * current version, else the Hale extension `author-signature` on the record's resource.
 */
export type FhirExportItem = {
  [K in RecordKind]: {
    readonly kind: K;
    readonly record: RecordOf<K>;
    readonly signature?: string;
    /**
     * Present while the record is in an unsettled conflict (concurrent edits nobody has decided between
     * yet): `record` is the version the device shows, `sides` the others it keeps. The record is marked
     * disputed even when no side is given (e.g. the caller could not read one).
     */
    readonly conflict?: FhirExportConflict<K>;
  };
}[RecordKind];

/** The other sides of a record's unsettled conflict (see FhirExportItem.conflict). */
export interface FhirExportConflict<K extends RecordKind = RecordKind> {
  readonly sides: readonly FhirConflictSide<K>[];
}

/**
 * One other side: another version of the record (same kind and id), or a deletion of it made on another
 * device while this version was edited (`by`: the account that deleted it; `at`: when).
 */
export type FhirConflictSide<K extends RecordKind = RecordKind> =
  { readonly record: RecordOf<K> } | { readonly deletion: { readonly by: string; readonly at: string } };

export interface FhirExportInput {
  /** The patient account whose records these are. */
  readonly patientId: string;
  readonly records: readonly FhirExportItem[];
  /** `Bundle.timestamp`: an ISO-8601 date-time with zone, supplied by the caller to keep this pure. */
  readonly generatedAt: string;
}

export type FhirExportErrorCode =
  'INVALID_INPUT' | 'INVALID_RECORD' | 'PATIENT_MISMATCH' | 'DUPLICATE_RESOURCE';

export interface FhirExportErrorDetail {
  readonly code: FhirExportErrorCode;
  readonly message: string;
  readonly kind?: RecordKind;
  readonly recordId?: string;
  readonly issues?: readonly ValidationIssue[];
}

export class FhirExportError extends Error {
  readonly code: FhirExportErrorCode;
  readonly detail: FhirExportErrorDetail;

  constructor(detail: FhirExportErrorDetail) {
    super(detail.message);
    this.name = 'FhirExportError';
    this.code = detail.code;
    this.detail = detail;
  }
}

// -------------------------------------------------------------------------------------- value mappings

const ALLERGY_CLINICAL = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';

const BIRTH_SEX: Record<NonNullable<Profile['sexAtBirth']>, string> = {
  female: 'F',
  male: 'M',
  other: 'UNK',
  unknown: 'UNK',
};

const APPOINTMENT_STATUS: Record<Appointment['status'], string> = {
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
const participantStatuses = (r: Appointment): readonly [string, string] =>
  r.status === 'declined' && r.statusBy === r.patientId
    ? ['declined', 'accepted']
    : APPOINTMENT_PARTICIPANTS[r.status];

const ENCOUNTER_CLASS: Record<Encounter['type'], { code: string; display: string }> = {
  outpatient: { code: 'AMB', display: 'ambulatory' },
  inpatient: { code: 'IMP', display: 'inpatient encounter' },
  emergency: { code: 'EMER', display: 'emergency' },
  telehealth: { code: 'VR', display: 'virtual' },
};

const NOTE_TYPE: Record<MedicalNote['noteType'], { code: string; display: string }> = {
  progress: { code: '11506-3', display: 'Progress note' },
  admission: { code: '34117-2', display: 'History and physical note' },
  discharge: { code: '18842-5', display: 'Discharge summary' },
  consult: { code: '11488-4', display: 'Consult note' },
  procedure: { code: '28570-0', display: 'Procedure note' },
};
// A NoteVersion exported without its MedicalNote still needs Composition.type.
const GENERIC_NOTE_TYPE = { code: '34109-9', display: 'Note' };

const NOTE_STATUS: Record<MedicalNote['status'], string> = {
  draft: 'preliminary',
  under_review: 'preliminary',
  signed: 'final',
  amended: 'amended',
};

const SOAP_SECTIONS = [
  { field: 'subjective', code: '61150-9', title: 'Subjective' },
  { field: 'objective', code: '61149-1', title: 'Objective' },
  { field: 'assessment', code: '51848-0', title: 'Assessment' },
  { field: 'plan', code: '18776-5', title: 'Plan' },
] as const;

const DOCUMENT_TYPE_LOINC: Readonly<Record<string, { code: string; display: string }>> = {
  'lab-report': { code: '11502-2', display: 'Laboratory report' },
  imaging: { code: '18748-4', display: 'Diagnostic imaging study' },
  prescription: { code: '57833-6', display: 'Prescription for medication' },
  'discharge-summary': { code: '18842-5', display: 'Discharge summary' },
};

const SIGNATURE_STATUS_TASK: Record<Exclude<NoteSignature['status'], 'signed'>, string> = {
  requested: 'requested',
  declined: 'rejected',
};

const CONSENT_STATUS: Record<Consent['status'], string> = { active: 'active', revoked: 'inactive' };

const CONSENT_ACTIONS: Record<Consent['scope'][number]['access'], readonly string[]> = {
  read: ['access'],
  write: ['access', 'correct'],
};

/**
 * Resource types a consented stream exports (Consent.provision.class). Provenance is listed only for
 * note-signature, whose records are Provenances; the provenance of labs and plans rides with them.
 */
const STREAM_RESOURCE_TYPES: Record<Exclude<StreamType, 'audit'>, readonly string[]> = {
  profile: ['Patient'],
  'emergency-contact': ['RelatedPerson'],
  document: ['DocumentReference'],
  allergy: ['AllergyIntolerance'],
  immunization: ['Immunization', 'ImmunizationRecommendation'],
  medication: ['MedicationStatement'],
  'lab-result': ['Observation', 'DiagnosticReport', 'ServiceRequest'],
  'treatment-plan': ['CarePlan'],
  appointment: ['Appointment'],
  message: ['Communication'],
  encounter: ['Encounter'],
  note: ['Composition'],
  'note-signature': ['Provenance', 'Task'],
  condition: ['Condition'],
  procedure: ['Procedure'],
};

const SYNC_SERVER_DEVICE_ID = 'hale-sync-server';

// Accounts in fields only providers fill; anything else that is not the patient defaults to Practitioner
// too, except accounts seen only as caregivers (Consent.grantedBy, a plan acknowledged by someone else).
const providerAccounts = (item: FhirExportItem): (string | undefined)[] => {
  switch (item.kind) {
    case 'Profile':
      return [item.record.primaryCareProviderId];
    case 'Immunization':
      return [item.record.providerId];
    case 'Medication':
      return [item.record.prescriberId];
    case 'LabResult':
      return [
        item.record.orderedBy,
        item.record.provenance.by,
        ...item.record.versions.map((v) => v.provenance.by),
      ];
    case 'TreatmentPlan':
      return [
        item.record.authorId,
        item.record.provenance.by,
        ...item.record.versions.map((v) => v.provenance.by),
      ];
    case 'Appointment':
      return [item.record.providerId];
    case 'Encounter':
      return [item.record.clinicianId];
    case 'MedicalNote':
      return [item.record.authorId];
    case 'NoteVersion':
      return [item.record.editorId];
    case 'NoteSignature':
      return [item.record.signerId];
    case 'Consent':
      return [item.record.granteeId];
    case 'ProviderProfile':
      return [item.record.accountId];
    default:
      return [];
  }
};

const caregiverAccounts = (item: FhirExportItem): (string | undefined)[] => {
  switch (item.kind) {
    case 'Consent':
      return [item.record.grantedBy];
    case 'TreatmentPlan':
      return [item.record.acknowledgement?.by];
    default:
      return [];
  }
};

/** The resource holding a record's Hale id, which other resources point at. */
const primaryTarget = (item: FhirExportItem): { type: string; id: string; version?: number } => {
  switch (item.kind) {
    case 'Profile':
      return { type: 'Patient', id: fhirId(item.record.patientId) };
    case 'ProviderProfile':
      return { type: 'PractitionerRole', id: item.record.id };
    case 'NoteVersion':
      return { type: 'Composition', id: item.record.noteId, version: item.record.versionNumber };
    case 'NoteSignature':
      return { type: item.record.status === 'signed' ? 'Provenance' : 'Task', id: item.record.id };
    default:
      return { type: RECORD_KINDS[item.kind].fhirResource, id: item.record.id };
  }
};

// ------------------------------------------------------------------------------------------- mapping

/**
 * Which Patient a Profile becomes. Devices that each create the Profile offline leave the patient with
 * several: the chosen one is the export's Patient (`Patient/{fhirId(patientId)}`, which every reference
 * names), each other one a Patient of its own id; all are linked to each other with `seealso`.
 */
interface ProfileRole {
  readonly primary: boolean;
  /** fullUrls of the patient's other Patient resources. */
  readonly seeAlso: readonly string[];
}

const exportProfile = (x: Exporter, r: Profile, signature: string | undefined, role: ProfileRole): void => {
  const patientFhirId = role.primary ? fhirId(r.patientId) : r.id;
  const gpDisplay = r.primaryCareProvider;
  x.add(
    makeResource('Patient', patientFhirId, {
      meta: meta(r.updatedAt),
      extension: [
        r.sexAtBirth === undefined
          ? undefined
          : {
              url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex',
              valueCode: BIRTH_SEX[r.sexAtBirth],
            },
        r.gender === undefined || r.gender.trim() === ''
          ? undefined
          : {
              url: 'http://hl7.org/fhir/StructureDefinition/patient-genderIdentity',
              valueCodeableConcept: text(r.gender),
            },
        stringExt('note', r.notes),
        dateTimeExt('created-at', r.createdAt),
        stringExt('author-signature', signature),
      ],
      identifier: [
        haleIdentifier(r.id),
        // Only the chosen Patient carries the account: a receiver matching on it must land there.
        role.primary ? { system: HALE_ACCOUNT_SYSTEM, value: r.patientId } : undefined,
        r.medicalRecordNumber === undefined
          ? undefined
          : {
              type: { coding: [coding(V2_0203, 'MR', 'Medical record number')] },
              value: r.medicalRecordNumber,
            },
      ],
      active: r.status === 'active',
      name: [text(r.fullName)],
      telecom: telecom(r.contact),
      gender: r.sexAtBirth,
      birthDate: r.birthDate,
      address: address(r.contact),
      generalPractitioner: [
        r.primaryCareProviderId !== undefined
          ? x.person(r.primaryCareProviderId, gpDisplay)
          : gpDisplay === undefined
            ? undefined
            : { display: gpDisplay },
      ],
      link: role.seeAlso.map((url) => ({ other: { reference: url }, type: 'seealso' })),
    }),
  );
  if (r.bloodType !== undefined && r.bloodType !== 'unknown') {
    x.add(
      makeResource('Observation', `${r.id}-blood-type`, {
        meta: meta(r.updatedAt),
        status: 'final',
        category: [laboratoryCategory],
        code: { coding: [coding(LOINC, '882-1', 'ABO and Rh group [Type] in Blood')], text: 'Blood type' },
        subject: x.patient,
        valueCodeableConcept: text(r.bloodType),
      }),
    );
  }
};

const exportEmergencyContact = (x: Exporter, r: EmergencyContact, signature: string | undefined): void => {
  x.add(
    makeResource('RelatedPerson', r.id, {
      meta: meta(r.updatedAt),
      extension: [
        stringExt('note', r.notes),
        dateTimeExt('created-at', r.createdAt),
        stringExt('author-signature', signature),
      ],
      identifier: [haleIdentifier(r.id)],
      patient: x.patient,
      relationship: [text(r.relationship)],
      name: [text(r.name)],
      telecom: telecom(r),
    }),
  );
};

const exportHealthDocument = (
  x: Exporter,
  r: HealthDocument,
  signature: string | undefined,
  related: readonly DraftObject[],
): void => {
  const known = DOCUMENT_TYPE_LOINC[r.documentType];
  const type = {
    coding: [known === undefined ? undefined : coding(LOINC, known.code, known.display)],
    text: r.documentType,
  };
  const priorId = (version: number) => `${r.id}-v${version}`;
  const sorted = [...r.versions].sort((a, b) => a.version - b.version);
  // Each version replaces the one before it; the first has nothing to replace.
  const replaces = (index: number) => {
    const previous = sorted[index - 1];
    return previous === undefined
      ? undefined
      : [
          {
            code: 'replaces',
            target: { reference: fhirFullUrl('DocumentReference', priorId(previous.version)) },
          },
        ];
  };
  sorted.forEach((version, index) => {
    x.add(
      makeResource('DocumentReference', priorId(version.version), {
        meta: meta(version.uploadedAt, version.version),
        identifier: [haleIdentifier(r.id)],
        status: 'superseded',
        type,
        category: (r.tags ?? []).map(text),
        subject: x.patient,
        date: fhirDateTime(version.uploadedAt),
        author: [version.uploadedBy === undefined ? undefined : x.person(version.uploadedBy)],
        description: version.changeNote,
        relatesTo: replaces(index),
        content: [{ attachment: attachment(version.file, r.title, true) }],
      }),
    );
  });
  x.add(
    makeResource('DocumentReference', r.id, {
      meta: meta(r.updatedAt, r.version),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      status: 'current',
      type,
      category: (r.tags ?? []).map(text),
      subject: x.patient,
      date: fhirDateTime(r.uploadedAt),
      author: [r.uploadedBy === undefined ? undefined : x.person(r.uploadedBy)],
      description: r.description,
      relatesTo: replaces(sorted.length),
      content: [{ attachment: attachment(r.file, r.title, true) }],
      context: { related },
    }),
  );
};

const exportAllergy = (x: Exporter, r: Allergy, signature: string | undefined): void => {
  // verificationStatus is left out on purpose: Hale does not know it, and guessing `unconfirmed` could
  // make a receiving system discount a real allergy.
  x.add(
    makeResource('AllergyIntolerance', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      clinicalStatus: {
        coding: [
          coding(ALLERGY_CLINICAL, r.active ? 'active' : 'inactive', r.active ? 'Active' : 'Inactive'),
        ],
      },
      category: [r.category],
      code: withCodes({ text: r.substance }, r.codes),
      patient: x.patient,
      onsetDateTime: fhirDateTime(r.onsetDate),
      recordedDate: fhirDateTime(r.recordedAt),
      note: [text(r.notes)],
      reaction: [allergyReaction(r.reaction, r.severity)],
    }),
  );
};

/** Nothing when neither is known: a reaction of unknown manifestation and severity says nothing. */
const allergyReaction = (
  reaction: string | undefined,
  severity: Allergy['severity'],
): DraftObject | undefined => {
  const described = reaction !== undefined && reaction.trim() !== '';
  if (!described && severity === undefined) return undefined;
  return {
    // manifestation is required in a reaction; an unknown one is said so, not invented.
    manifestation: [
      described ? text(reaction) : { extension: [{ url: DATA_ABSENT_REASON, valueCode: 'unknown' }] },
    ],
    severity,
  };
};

const DOSE_OF_RE = /^\s*([1-9]\d{0,5})\s+of\s+([1-9]\d{0,5})\s*$/i;

const exportImmunization = (x: Exporter, r: Immunization, signature: string | undefined): void => {
  const doseQuantity = parseQuantity(r.dose);
  const doseOf = r.dose === undefined ? null : DOSE_OF_RE.exec(r.dose);
  const protocolApplied =
    doseQuantity !== undefined || r.dose === undefined
      ? undefined
      : doseOf?.[1] && doseOf[2]
        ? { doseNumberPositiveInt: Number(doseOf[1]), seriesDosesPositiveInt: Number(doseOf[2]) }
        : { doseNumberString: r.dose };
  const vaccineCode = codedConcept(r.vaccineName, r.vaccineCode, CVX, isCvxCode);
  const performer =
    r.providerId !== undefined
      ? x.person(r.providerId, r.performer)
      : r.performer === undefined
        ? undefined
        : { display: r.performer };
  x.add(
    makeResource('Immunization', r.id, {
      meta: meta(r.updatedAt),
      extension: [
        r.proofDocumentId === undefined
          ? undefined
          : extension('proof-document', { valueReference: x.recordRef('HealthDocument', r.proofDocumentId) }),
        stringExt('author-signature', signature),
      ],
      identifier: [haleIdentifier(r.id)],
      status: 'completed',
      vaccineCode,
      patient: x.patient,
      occurrenceDateTime: fhirDateTime(r.administeredAt),
      recorded: fhirDateTime(r.createdAt),
      lotNumber: r.lotNumber,
      doseQuantity,
      performer: [performer === undefined ? undefined : { actor: performer }],
      note: [text(r.notes)],
      protocolApplied: [protocolApplied],
    }),
  );
  if (r.nextDoseDate !== undefined) {
    x.add(
      makeResource('ImmunizationRecommendation', `${r.id}-next-dose`, {
        meta: meta(r.updatedAt),
        patient: x.patient,
        date: fhirDateTime(r.updatedAt),
        recommendation: [
          {
            vaccineCode: [vaccineCode],
            forecastStatus: {
              coding: [
                coding('http://terminology.hl7.org/CodeSystem/immunization-recommendation-status', 'due'),
              ],
            },
            dateCriterion: [
              {
                code: { coding: [coding(LOINC, '30980-7', 'Date vaccine due')] },
                value: fhirDateTime(r.nextDoseDate),
              },
            ],
            supportingImmunization: [{ reference: fhirFullUrl('Immunization', r.id) }],
          },
        ],
      }),
    );
  }
};

const exportMedication = (x: Exporter, r: Medication, signature: string | undefined): void => {
  const doseQuantity = parseQuantity(r.dose);
  x.add(
    makeResource('MedicationStatement', r.id, {
      meta: meta(r.updatedAt),
      extension: [stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      status: r.active ? 'active' : 'completed',
      medicationCodeableConcept: withCodes({ text: r.name }, r.codes),
      subject: x.patient,
      effectivePeriod: { start: fhirDateTime(r.startDate), end: fhirDateTime(r.endDate) },
      dateAsserted: fhirDateTime(r.createdAt),
      informationSource: r.prescriberId === undefined ? undefined : x.person(r.prescriberId),
      reasonCode: [text(r.reason)],
      dosage: [
        {
          text: doseQuantity === undefined ? r.dose : undefined,
          patientInstruction: r.instructions,
          timing: { code: text(r.frequency) },
          doseAndRate: [doseQuantity === undefined ? undefined : { doseQuantity }],
        },
      ],
    }),
  );
};

const versionProvenance = (
  x: Exporter,
  target: { type: string; id: string; version: number },
  provenance: Provenance,
  signature: string | undefined,
): FhirResource =>
  makeResource('Provenance', `${target.id}-prov-${target.version}`, {
    meta: meta(provenance.at),
    target: [{ reference: `${fhirFullUrl(target.type, target.id)}/_history/${target.version}` }],
    recorded: fhirDateTime(provenance.at),
    reason: [text(provenance.reason)],
    activity: { coding: [coding(V3_DATA_OPERATION, target.version === 1 ? 'CREATE' : 'UPDATE')] },
    agent: [
      {
        type: { coding: [coding(PROVENANCE_PARTICIPANT, 'author', 'Author')] },
        who: x.person(provenance.by),
      },
      {
        type: { coding: [coding(V3_PARTICIPATION, 'DEV', 'device')] },
        who: x.device(provenance.deviceId),
        onBehalfOf: x.person(provenance.by),
      },
    ],
    signature: [
      signature === undefined
        ? undefined
        : authorSignature(provenance.at, x.person(provenance.by), signature),
    ],
  });

const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const CATEGORY_DISPLAY: Readonly<Record<NonNullable<LabResult['category']>, string>> = {
  laboratory: 'Laboratory',
  'vital-signs': 'Vital Signs',
  'social-history': 'Social History',
  imaging: 'Imaging',
  survey: 'Survey',
  exam: 'Exam',
  therapy: 'Therapy',
  activity: 'Activity',
  procedure: 'Procedure',
};

const observationCategory = (category: LabResult['category']): DraftObject =>
  category === undefined || category === 'laboratory'
    ? laboratoryCategory
    : { coding: [coding(OBSERVATION_CATEGORY, category, CATEGORY_DISPLAY[category])] };

const exportLabResult = (x: Exporter, r: LabResult, signature: string | undefined): void => {
  const code = withCodes(codedConcept(r.testName, r.testCode, LOINC, isLoincCode), r.codes);
  const category = observationCategory(r.category);
  const orderId = `${r.id}-order`;
  const basedOn =
    r.orderedBy === undefined ? undefined : [{ reference: fhirFullUrl('ServiceRequest', orderId) }];
  const observation = (
    v: Pick<LabResult, 'status' | 'value' | 'units' | 'referenceRange' | 'effectiveAt' | 'publishedAt'>,
    version: number,
    lastUpdated: string,
    current: boolean,
  ) =>
    makeResource('Observation', r.id, {
      meta: meta(lastUpdated, version),
      extension: current ? [dateTimeExt('created-at', r.createdAt)] : undefined,
      identifier: [haleIdentifier(r.id)],
      basedOn,
      status: v.status,
      category: [category],
      code,
      subject: x.patient,
      effectiveDateTime: fhirDateTime(v.effectiveAt),
      issued: fhirDateTime(v.publishedAt),
      performer: [r.performer === undefined ? undefined : { display: r.performer }],
      ...labValue(v.value, v.units),
      referenceRange: [text(v.referenceRange)],
      component: current
        ? (r.components ?? []).map((c) => ({
            code: codedConcept(c.testName, c.testCode, LOINC, isLoincCode),
            ...labValue(c.value, c.units),
            referenceRange: [text(c.referenceRange)],
          }))
        : undefined,
    });
  for (const v of r.versions) {
    x.add(observation(v, v.version, v.provenance.at, false));
    x.add(
      versionProvenance(x, { type: 'Observation', id: r.id, version: v.version }, v.provenance, undefined),
    );
  }
  x.add(observation(r, r.version, r.updatedAt, true));
  x.add(versionProvenance(x, { type: 'Observation', id: r.id, version: r.version }, r.provenance, signature));
  if (r.orderedBy !== undefined) {
    x.add(
      makeResource('ServiceRequest', orderId, {
        meta: meta(r.updatedAt),
        status: labOrderStatus(r.status),
        intent: 'order',
        code,
        subject: x.patient,
        requester: x.person(r.orderedBy),
      }),
    );
  }
  if (r.attachments !== undefined && r.attachments.length > 0) {
    x.add(
      makeResource('DiagnosticReport', `${r.id}-report`, {
        meta: meta(r.updatedAt, r.version),
        basedOn,
        // Every Hale lab status is also a DiagnosticReport status code.
        status: r.status,
        category: [category],
        code,
        subject: x.patient,
        effectiveDateTime: fhirDateTime(r.effectiveAt),
        issued: fhirDateTime(r.publishedAt),
        performer: [r.performer === undefined ? undefined : { display: r.performer }],
        result: [{ reference: fhirFullUrl('Observation', r.id) }],
        presentedForm: r.attachments.map((file) => attachment(file, undefined, false)),
      }),
    );
  }
};

const labOrderStatus = (status: LabResult['status']): string => {
  switch (status) {
    case 'registered':
    case 'preliminary':
      return 'active';
    case 'cancelled':
      return 'revoked';
    case 'entered-in-error':
      return 'entered-in-error';
    default:
      return 'completed';
  }
};

const exportTreatmentPlan = (x: Exporter, r: TreatmentPlan, signature: string | undefined): void => {
  const carePlan = (
    v: Pick<TreatmentPlan, 'summary' | 'details' | 'status' | 'effectiveFrom' | 'effectiveTo'>,
    version: number,
    lastUpdated: string,
  ) =>
    makeResource('CarePlan', r.id, {
      meta: meta(lastUpdated, version),
      identifier: [haleIdentifier(r.id)],
      status: v.status,
      intent: 'plan',
      title: v.summary,
      description: v.details,
      subject: x.patient,
      period: { start: fhirDateTime(v.effectiveFrom), end: fhirDateTime(v.effectiveTo) },
      created: fhirDateTime(r.createdAt),
      author: x.person(r.authorId),
    });
  for (const v of r.versions) {
    x.add(carePlan(v, v.version, v.provenance.at));
    x.add(versionProvenance(x, { type: 'CarePlan', id: r.id, version: v.version }, v.provenance, undefined));
  }
  x.add(carePlan(r, r.version, r.updatedAt));
  x.add(versionProvenance(x, { type: 'CarePlan', id: r.id, version: r.version }, r.provenance, signature));
  const ack = r.acknowledgement;
  if (ack !== undefined) {
    x.add(
      makeResource('Provenance', `${r.id}-ack`, {
        meta: meta(ack.at),
        // validateRecord takes a history with gaps, so the version acknowledged may not be exported.
        target: [
          versionRef(
            'CarePlan',
            r.id,
            'TreatmentPlan',
            ack.version,
            ack.version === r.version || r.versions.some((v) => v.version === ack.version),
          ),
        ],
        recorded: fhirDateTime(ack.at),
        activity: { text: 'acknowledged' },
        agent: [
          {
            type: { coding: [coding(PROVENANCE_PARTICIPANT, 'attester', 'Attester')] },
            who: x.person(ack.by),
          },
        ],
      }),
    );
  }
};

const exportAppointment = (x: Exporter, r: Appointment, signature: string | undefined): void => {
  x.add(
    makeResource('Appointment', r.id, {
      meta: meta(r.updatedAt),
      extension: [stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      status: APPOINTMENT_STATUS[r.status],
      reasonCode: [text(r.reason)],
      start: fhirDateTime(r.startAt),
      end: fhirDateTime(r.endAt),
      created: fhirDateTime(r.createdAt),
      requestedPeriod: r.preferredTimes?.map((w) => ({
        start: fhirDateTime(w.startAt),
        end: fhirDateTime(w.endAt),
      })),
      participant: [
        { actor: x.patient, status: participantStatuses(r)[0] },
        { actor: x.person(r.providerId), status: participantStatuses(r)[1] },
        r.location === undefined ? undefined : { actor: { display: r.location }, status: 'accepted' },
      ],
    }),
  );
};

const exportMessage = (x: Exporter, r: Message, signature: string | undefined): void => {
  x.add(
    makeResource('Communication', r.id, {
      meta: meta(r.updatedAt),
      extension: [
        dateTimeExt('read-at', r.readAt),
        dateTimeExt('created-at', r.createdAt),
        stringExt('author-signature', signature),
      ],
      identifier: [haleIdentifier(r.id)],
      // The receipt level (sent / delivered / read) is carried by `received` and the read-at extension.
      status: 'completed',
      subject: x.patient,
      topic: { coding: [{ system: HALE_THREAD_SYSTEM, code: r.threadId }] },
      sent: fhirDateTime(r.sentAt),
      received: fhirDateTime(r.deliveredAt),
      recipient: [x.person(r.recipientId)],
      sender: x.person(r.senderId),
      payload: [
        { contentString: r.body },
        ...(r.attachments ?? []).map((file) => ({ contentAttachment: attachment(file, undefined, false) })),
      ],
    }),
  );
};

const exportEncounter = (x: Exporter, r: Encounter, signature: string | undefined): void => {
  const encounterClass = ENCOUNTER_CLASS[r.type];
  x.add(
    makeResource('Encounter', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      identifier: [
        haleIdentifier(r.id),
        { type: { coding: [coding(V2_0203, 'VN', 'Visit number')] }, value: r.encounterNumber },
      ],
      status: r.status,
      class: coding(V3_ACT_CODE, encounterClass.code, encounterClass.display),
      serviceType: text(r.department),
      subject: x.patient,
      participant: [
        r.clinicianId === undefined
          ? undefined
          : {
              type: [{ coding: [coding(V3_PARTICIPATION, 'ATND', 'attender')] }],
              individual: x.person(r.clinicianId),
            },
      ],
      period: { start: fhirDateTime(r.startedAt), end: fhirDateTime(r.endedAt) },
      reasonCode: [text(r.reason)],
      location: [r.location === undefined ? undefined : { location: { display: r.location } }],
    }),
  );
};

interface NoteEntry {
  readonly record: NoteVersion;
  readonly signature: string | undefined;
}

interface NoteGroup {
  note?: { record: MedicalNote; signature: string | undefined };
  /** The version each number exports as: `Composition/{noteId}/_history/{number}`. */
  readonly versions: Map<number, NoteEntry>;
  /**
   * Versions written concurrently under a number already taken (two clinicians amending the same
   * version offline). Each exports as a Composition of its own id, linked both ways to the numbered one.
   */
  readonly concurrent: Map<number, NoteEntry[]>;
}

const signedKey = (noteId: string, version: number) => `${noteId}/${version}`;
/** Signatures of a concurrent version attach to it by its id: it has no number of its own in the history. */
const concurrentKey = (noteVersionId: string) => `concurrent/${noteVersionId}`;

const concurrentExt = (reference: string) =>
  extension('concurrent-version', { valueReference: { reference } });

const noteVersionProvenance = (x: Exporter, entry: NoteEntry, target: string): void => {
  const version = entry.record;
  x.add(
    makeResource('Provenance', version.id, {
      meta: meta(version.updatedAt),
      target: [{ reference: target }],
      recorded: fhirDateTime(version.createdAt),
      reason: [text(version.amendmentReason)],
      activity: {
        coding: [
          coding(
            V3_DATA_OPERATION,
            version.kind === 'original' ? 'CREATE' : version.kind === 'amendment' ? 'UPDATE' : 'APPEND',
          ),
        ],
        text: version.changeSummary,
      },
      agent: [
        {
          type: { coding: [coding(PROVENANCE_PARTICIPANT, 'author', 'Author')] },
          who: x.person(version.editorId),
        },
      ],
      signature: [
        entry.signature === undefined
          ? undefined
          : authorSignature(version.createdAt, x.person(version.editorId), entry.signature),
      ],
    }),
  );
};

const exportNote = (
  x: Exporter,
  noteId: string,
  group: NoteGroup,
  signedBy: ReadonlyMap<string, readonly NoteSignature[]>,
): void => {
  const note = group.note?.record;
  const historyUrl = (number: number) => `${fhirFullUrl('Composition', noteId)}/_history/${number}`;
  // The numbers exported as Composition versions: the versions given and the note's current one.
  const numbers = new Set(group.versions.keys());
  if (note !== undefined) numbers.add(note.currentVersionNumber);
  const type = note === undefined ? GENERIC_NOTE_TYPE : NOTE_TYPE[note.noteType];
  const authorId = (version: NoteVersion | undefined) => note?.authorId ?? version?.editorId;
  // What a numbered version and a concurrent one under the same number have alike.
  const body = (version: NoteVersion | undefined, number: number, signatures: readonly NoteSignature[]) => {
    const author = authorId(version);
    const relation =
      version === undefined || number === 1
        ? undefined
        : version.kind === 'amendment'
          ? 'replaces'
          : version.kind === 'addendum'
            ? 'appends'
            : undefined;
    return {
      type: { coding: [coding(LOINC, type.code, type.display)] },
      subject: x.patient,
      encounter: note?.encounterId === undefined ? undefined : x.recordRef('Encounter', note.encounterId),
      date: fhirDateTime(version?.createdAt ?? note?.updatedAt),
      author: [author === undefined ? undefined : x.person(author)],
      title: note !== undefined && note.title.trim() !== '' ? note.title : `Clinical note, version ${number}`,
      attester: signatures.map((s) => ({
        mode: s.signerRole === 'author' || s.signerId === note?.authorId ? 'legal' : 'professional',
        time: fhirDateTime(s.signedAt),
        party: x.person(s.signerId),
      })),
      relatesTo: [
        relation === undefined
          ? undefined
          : {
              code: relation,
              // The version before may not be exported (this device holds no copy of it).
              targetReference: versionRef(
                'Composition',
                noteId,
                'MedicalNote',
                number - 1,
                numbers.has(number - 1),
              ),
            },
      ],
      section: SOAP_SECTIONS.map((section) => {
        const value = version?.[section.field];
        return value === undefined || value.trim() === ''
          ? undefined
          : {
              title: section.title,
              code: { coding: [coding(LOINC, section.code, section.title)] },
              text: narrative(value),
            };
      }),
    };
  };
  const requiresCosign =
    note?.requiresCosign === undefined
      ? undefined
      : extension('requires-cosign', { valueBoolean: note.requiresCosign });

  for (const number of [...numbers].sort((a, b) => a - b)) {
    const entry = group.versions.get(number);
    const version = entry?.record;
    const isCurrent = note !== undefined && note.currentVersionNumber === number;
    const signatures = signedBy.get(signedKey(noteId, number)) ?? [];
    const concurrent = group.concurrent.get(number) ?? [];
    // A version that was signed, or that a later version amends, was final at the time.
    const amendedLater = group.versions.get(number + 1)?.record.kind === 'amendment';
    const status = isCurrent
      ? NOTE_STATUS[note.status]
      : signatures.length > 0 || amendedLater
        ? 'final'
        : 'preliminary';
    const lastUpdated = isCurrent ? note.updatedAt : (version?.updatedAt ?? note?.updatedAt ?? '');
    x.add(
      makeResource('Composition', noteId, {
        meta: meta(lastUpdated, number),
        extension: [
          requiresCosign,
          dateTimeExt('created-at', note?.createdAt),
          isCurrent ? stringExt('author-signature', group.note?.signature) : undefined,
          ...concurrent.map((other) => concurrentExt(fhirFullUrl('Composition', other.record.id))),
        ],
        identifier: haleIdentifier(noteId),
        status,
        ...body(version, number, signatures),
      }),
    );
    if (entry !== undefined) noteVersionProvenance(x, entry, historyUrl(number));
    for (const other of concurrent) {
      const otherSignatures = signedBy.get(concurrentKey(other.record.id)) ?? [];
      x.add(
        makeResource('Composition', other.record.id, {
          meta: meta(other.record.updatedAt),
          extension: [requiresCosign, concurrentExt(historyUrl(number))],
          identifier: haleIdentifier(other.record.id),
          status: otherSignatures.length > 0 ? 'final' : 'preliminary',
          ...body(other.record, number, otherSignatures),
        }),
      );
      noteVersionProvenance(x, other, fhirFullUrl('Composition', other.record.id));
    }
  }
};

const exportNoteSignature = (
  x: Exporter,
  r: NoteSignature,
  signature: string | undefined,
  noteTarget: (noteId: string, version: number | undefined, noteVersionId: string) => DraftObject,
  versionNumberOf: (noteVersionId: string) => number | undefined,
): void => {
  const common = {
    meta: meta(r.updatedAt),
    extension: [
      extension('note-version-id', { valueId: r.noteVersionId }),
      dateTimeExt('created-at', r.createdAt),
    ],
  };
  if (r.status === 'signed') {
    const signer = x.person(r.signerId);
    const signedAt = r.signedAt ?? r.updatedAt;
    x.add(
      makeResource('Provenance', r.id, {
        ...common,
        extension: [
          ...common.extension,
          stringExt('note', r.comment),
          dateTimeExt('requested-at', r.requestedAt),
          r.requestedBy === undefined
            ? undefined
            : extension('requested-by', { valueReference: x.person(r.requestedBy) }),
        ],
        target: [
          noteTarget(r.noteId, r.signedVersionNumber ?? versionNumberOf(r.noteVersionId), r.noteVersionId),
        ],
        recorded: fhirDateTime(signedAt),
        activity: { text: 'signed' },
        agent: [
          {
            type: { coding: [coding(PROVENANCE_PARTICIPANT, 'attester', 'Attester')] },
            role: [text(r.signerRole)],
            who: signer,
          },
        ],
        // Only with the signature itself (`data`): a signature element without one would show a viewer an
        // ASTM-typed signature by the signer where there is only the record's claim (data-model.md).
        signature:
          signature === undefined
            ? undefined
            : [
                {
                  type: [
                    r.signerRole === 'author'
                      ? coding(SIGNATURE_TYPE, '1.2.840.10065.1.12.1.1', "Author's Signature")
                      : coding(SIGNATURE_TYPE, '1.2.840.10065.1.12.1.5', 'Verification Signature'),
                  ],
                  when: fhirDateTime(signedAt),
                  who: signer,
                  data: signature,
                },
              ],
      }),
    );
    return;
  }
  x.add(
    makeResource('Task', r.id, {
      ...common,
      extension: [...common.extension, stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      status: SIGNATURE_STATUS_TASK[r.status],
      intent: 'order',
      code: { coding: [coding(`${HALE_CODE_SYSTEM_BASE}task`, 'sign', 'Sign note')] },
      focus: noteTarget(r.noteId, versionNumberOf(r.noteVersionId), r.noteVersionId),
      for: x.patient,
      authoredOn: fhirDateTime(r.requestedAt),
      requester: r.requestedBy === undefined ? undefined : x.person(r.requestedBy),
      owner: x.person(r.signerId),
      note: [text(r.comment)],
    }),
  );
};

const exportConsent = (x: Exporter, r: Consent, signature: string | undefined): void => {
  x.add(
    makeResource('Consent', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('revoked-at', r.revokedAt), stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      status: CONSENT_STATUS[r.status],
      scope: {
        coding: [
          coding('http://terminology.hl7.org/CodeSystem/consentscope', 'patient-privacy', 'Privacy Consent'),
        ],
      },
      category: [{ coding: [coding(LOINC, '59284-0', 'Patient Consent')] }],
      patient: x.patient,
      dateTime: fhirDateTime(r.createdAt),
      performer: [r.grantedBy === undefined ? x.patient : x.person(r.grantedBy)],
      policyRule: { coding: [coding(V3_ACT_CODE, 'OPTIN', 'opt-in')] },
      // Deny-by-default for the grantee, with one permit per granted stream.
      provision: {
        type: 'deny',
        period: { start: fhirDateTime(r.startsAt), end: fhirDateTime(r.expiresAt) },
        actor: [
          {
            role: { coding: [coding(V3_PARTICIPATION, 'IRCP', 'information recipient')] },
            reference: x.person(r.granteeId),
          },
        ],
        purpose: [r.purpose === undefined ? undefined : { display: r.purpose }],
        provision: r.scope.map((item) => ({
          type: 'permit',
          action: CONSENT_ACTIONS[item.access].map((code) => ({
            coding: [coding('http://terminology.hl7.org/CodeSystem/consentaction', code)],
          })),
          class: STREAM_RESOURCE_TYPES[item.type].map((resourceType) =>
            coding('http://hl7.org/fhir/resource-types', resourceType),
          ),
        })),
      },
    }),
  );
};

const auditAction = (action: string): string => {
  const verb = action.slice(action.lastIndexOf('.') + 1);
  switch (verb) {
    case 'create':
      return 'C';
    case 'view':
    case 'pull':
      return 'R';
    case 'update':
      return 'U';
    case 'delete':
      return 'D';
    default:
      return 'E';
  }
};

const FHIR_CODE_RE = /^[^\s]+( [^\s]+)*$/;

const exportAuditEntry = (x: Exporter, r: AuditEntry, signature: string | undefined): void => {
  const what: DraftObject = isRecordKind(r.entityType)
    ? x.recordRef(r.entityType, r.entityId)
    : {
        identifier: {
          system:
            r.entityType === 'Stream'
              ? HALE_STREAM_SYSTEM
              : r.entityType === 'Device'
                ? HALE_DEVICE_SYSTEM
                : HALE_ID_SYSTEM,
          value: r.entityId,
        },
        display: `${r.entityType} ${r.entityId}`,
      };
  const metadata = Object.entries(r.metadata ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => ({
      type: key,
      // Non-empty strings as written; numbers, booleans, null and "" as JSON so none turns into nothing.
      valueString: typeof value === 'string' && value.trim() !== '' ? value : JSON.stringify(value),
    }));
  x.add(
    makeResource('AuditEvent', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      type: r.action.startsWith('export.')
        ? coding(DICOM, '110106', 'Export')
        : coding(DICOM, '110110', 'Patient Record'),
      subtype: [coding(`${HALE_CODE_SYSTEM_BASE}audit-action`, r.action)],
      action: auditAction(r.action),
      recorded: fhirDateTime(r.at),
      agent: [{ who: x.person(r.actorId), requestor: true }],
      source: { observer: x.device(r.actorDeviceId ?? SYNC_SERVER_DEVICE_ID) },
      entity: [
        {
          what,
          type: FHIR_CODE_RE.test(r.entityType)
            ? coding(`${HALE_CODE_SYSTEM_BASE}entity-type`, r.entityType)
            : { display: r.entityType },
          description: r.summary,
          detail: [
            r.streamType === undefined ? undefined : { type: 'hale-stream', valueString: r.streamType },
            ...metadata.filter((detail) => detail.type.trim() !== ''),
          ],
        },
      ],
    }),
  );
};

const exportProviderProfile = (x: Exporter, r: ProviderProfile, signature: string | undefined): void => {
  const practitionerId = fhirId(r.accountId);
  x.add(
    makeResource('Practitioner', practitionerId, {
      meta: meta(r.updatedAt),
      identifier: [
        { system: HALE_ACCOUNT_SYSTEM, value: r.accountId },
        r.identifier === undefined ? undefined : { system: r.identifier.system, value: r.identifier.value },
      ],
      name: [text(r.displayName)],
      address: address(r.contact),
    }),
  );
  x.add(
    makeResource('PractitionerRole', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      practitioner: { reference: fhirFullUrl('Practitioner', practitionerId), display: r.displayName },
      organization: r.clinic === undefined ? undefined : { display: r.clinic },
      specialty: [text(r.specialty)],
      telecom: telecom(r.contact),
    }),
  );
};

// ------------------------------------------------------------------------------------------- bundle

const fail = (detail: FhirExportErrorDetail): never => {
  throw new FhirExportError(detail);
};

const versionOf = (resource: FhirResource): number | undefined => {
  const metaValue = resource.meta;
  if (metaValue === undefined || !isJsonObject(metaValue)) return undefined;
  const versionId = metaValue.versionId;
  return typeof versionId === 'string' ? Number(versionId) : undefined;
};

/** A conflict side as checked: another version of the record, as an export item, or a deletion. */
type CheckedSide = FhirExportItem | { readonly deletion: { readonly by: string; readonly at: string } };

/**
 * The item's conflict sides, each checked: refuses one that is no other version of the item's record
 * (INVALID_RECORD for content its schema refuses, INVALID_INPUT for another record or a malformed
 * deletion, PATIENT_MISMATCH).
 */
const checkConflict = (item: FhirExportItem): CheckedSide[] => {
  const { kind, record } = item;
  // Typed out, so a call ends the branch for the checker too.
  const refuse: (code: FhirExportErrorCode, message: string, issues?: readonly ValidationIssue[]) => never = (
    code,
    message,
    issues,
  ) => fail({ code, message, kind, recordId: record.id, ...(issues === undefined ? {} : { issues }) });
  const sides: unknown = item.conflict?.sides;
  if (!Array.isArray(sides))
    return refuse('INVALID_INPUT', `conflict of ${kind} ${record.id} lists no sides`);
  const checkedSides: CheckedSide[] = [];
  for (const side of sides) {
    if (isRecordObject(side) && 'record' in side) {
      const sideItem = { kind, record: side.record };
      if (!isExportItem(sideItem)) {
        const checked = validateRecord(kind, side.record);
        const error = checked.ok ? undefined : checked.error;
        return refuse('INVALID_RECORD', `a conflict side: ${error?.message ?? 'invalid'}`, error?.issues);
      }
      if (sideItem.record.id !== record.id) {
        return refuse('INVALID_INPUT', `a conflict side of ${kind} ${record.id} is another record`);
      }
      if (patientOf(sideItem.record) !== patientOf(record)) {
        return refuse(
          'PATIENT_MISMATCH',
          `a conflict side of ${kind} ${record.id} belongs to another patient`,
        );
      }
      checkedSides.push(sideItem);
      continue;
    }
    const deletion = isRecordObject(side) ? side.deletion : undefined;
    if (
      !isRecordObject(deletion) ||
      !isAccountId(deletion.by) ||
      typeof deletion.at !== 'string' ||
      !isIsoDateTime(deletion.at)
    ) {
      refuse(
        'INVALID_INPUT',
        `a conflict side of ${kind} ${record.id} is neither a record nor a deletion (account id, date-time)`,
      );
    }
    checkedSides.push({ deletion: { by: deletion.by, at: deletion.at } });
  }
  return checkedSides;
};

const patientOf = (record: FhirExportItem['record']): string | undefined =>
  'patientId' in record ? record.patientId : undefined;

/** Suffix of the resource ids a conflict side exports under (`{id}-conflict-{n}`, n from 1). */
const conflictSuffix = (n: number): string => `-conflict-${n}`;

const conflictExt = (reference: string) =>
  extension('conflicting-version', { valueReference: { reference } });

/** `resource` tagged as in conflict, with `links` (references) to the other sides. */
const markedInConflict = (resource: FhirResource, links: readonly string[]): FhirResource => {
  const metaValue = resource.meta !== undefined && isJsonObject(resource.meta) ? resource.meta : {};
  const listed = (value: FhirJson | undefined): readonly FhirJson[] =>
    value !== undefined && isJsonArray(value) ? value : [];
  const tags = listed(metaValue.tag);
  const extensions = listed(resource.extension);
  const added = links.map((link) => compact(conflictExt(link))).filter((e) => e !== undefined);
  // Once, however many sides contest the resource.
  const tagged = tags.some(
    (tag) =>
      isJsonObject(tag) && tag.system === HALE_CONFLICT_TAG.system && tag.code === HALE_CONFLICT_TAG.code,
  );
  return {
    ...resource,
    meta: { ...metaValue, tag: tagged ? tags : [...tags, { ...HALE_CONFLICT_TAG }] },
    ...(extensions.length + added.length > 0 ? { extension: [...extensions, ...added] } : {}),
  };
};

/** `resource` without `meta` (when it was written, its tags): what it says. */
const withoutMeta = (resource: FhirResource): FhirJsonObject =>
  Object.fromEntries(Object.entries(resource).filter(([key]) => key !== 'meta'));

/** `node` with every `reference` in it passed through `rewrite`. */
const withReferencesIn = (
  node: FhirJsonObject,
  rewrite: (reference: string) => string,
): Record<string, FhirJson> => {
  const out: Record<string, FhirJson> = {};
  for (const [key, child] of Object.entries(node)) {
    out[key] = key === 'reference' && typeof child === 'string' ? rewrite(child) : rewritten(child, rewrite);
  }
  return out;
};

const rewritten = (value: FhirJson, rewrite: (reference: string) => string): FhirJson =>
  isJsonArray(value)
    ? value.map((item) => rewritten(item, rewrite))
    : typeof value === 'object'
      ? withReferencesIn(value, rewrite)
      : value;

const isJsonArray = (value: FhirJson): value is readonly FhirJson[] => Array.isArray(value);

/** Whether `record` is a valid record of `kind`: `{ kind, record }` is then an export item. */
const isExportItem = (candidate: { kind: RecordKind; record: unknown }): candidate is FhirExportItem =>
  validateRecord(candidate.kind, candidate.record).ok;

/** The version a record's main resource exports under (`meta.versionId`), if it has one. */
const currentVersionOf = (item: FhirExportItem): number | undefined => {
  switch (item.kind) {
    case 'HealthDocument':
    case 'LabResult':
    case 'TreatmentPlan':
      return item.record.version;
    case 'MedicalNote':
      return item.record.currentVersionNumber;
    case 'NoteVersion':
      return item.record.versionNumber;
    default:
      return undefined;
  }
};

/**
 * Maps a patient's records onto one FHIR R4 Bundle of type `collection` (see docs/data-model.md).
 * Throws FhirExportError (INVALID_INPUT, INVALID_RECORD, PATIENT_MISMATCH, DUPLICATE_RESOURCE).
 */
export const toFhirBundle = (input: FhirExportInput): FhirBundle => {
  const { patientId, records, generatedAt } = input;
  if (!isAccountId(patientId)) {
    fail({ code: 'INVALID_INPUT', message: `patientId is not an account id: ${JSON.stringify(patientId)}` });
  }
  if (typeof generatedAt !== 'string' || !isIsoDateTime(generatedAt)) {
    fail({ code: 'INVALID_INPUT', message: 'generatedAt must be an ISO-8601 date-time with a time zone' });
  }

  const listed = new Set<string>();
  /** Each item's conflict sides, as checked (`checkConflict`). */
  const conflictSides = new Map<FhirExportItem, CheckedSide[]>();
  for (const item of records) {
    if (!isRecordKind(item.kind)) {
      fail({ code: 'INVALID_INPUT', message: `unknown record kind ${JSON.stringify(String(item.kind))}` });
    }
    const checked = validateRecord(item.kind, item.record);
    if (!checked.ok) {
      fail({
        code: 'INVALID_RECORD',
        message: checked.error.message,
        kind: item.kind,
        recordId: item.record.id,
        issues: checked.error.issues,
      });
    }
    // One record twice is a caller's mistake, not something sync produces (a record id names one record).
    const key = `${item.kind}/${item.record.id}`;
    if (listed.has(key)) duplicate(item.kind, item.record.id);
    listed.add(key);
    if (item.kind !== 'ProviderProfile' && item.record.patientId !== patientId) {
      fail({
        code: 'PATIENT_MISMATCH',
        message: `${item.kind} ${item.record.id} belongs to another patient`,
        kind: item.kind,
        recordId: item.record.id,
      });
    }
    if (item.signature !== undefined && !(item.signature.length > 0 && base64.test(item.signature))) {
      fail({
        code: 'INVALID_INPUT',
        message: `signature of ${item.kind} ${item.record.id} is not standard base64`,
        kind: item.kind,
        recordId: item.record.id,
      });
    }
    if (item.conflict !== undefined) conflictSides.set(item, checkConflict(item));
  }

  // People: the patient, then anyone in a provider-only field, then caregivers; the rest default to
  // Practitioner (providers are who a patient's records name besides themselves).
  const providers = new Set<string>();
  const caregivers = new Set<string>();
  for (const item of records) {
    for (const account of providerAccounts(item)) if (account !== undefined) providers.add(account);
    for (const account of caregiverAccounts(item)) if (account !== undefined) caregivers.add(account);
  }
  const personType = (accountId: string): PersonType =>
    accountId === patientId
      ? 'Patient'
      : caregivers.has(accountId) && !providers.has(accountId)
        ? 'RelatedPerson'
        : 'Practitioner';

  const present = new Map<string, FhirExportItem>();
  for (const item of records) present.set(`${item.kind}/${item.record.id}`, item);

  // Sync can legitimately leave two records claiming one place: a Profile created offline on two devices,
  // two amendments numbered alike. One keeps the place (see `preferred`), the others export beside it.
  const signedVersionIds = new Set<string>();
  for (const item of records) {
    if (item.kind === 'NoteSignature' && item.record.status === 'signed') {
      signedVersionIds.add(item.record.noteVersionId);
    }
  }
  const profiles = records
    .flatMap((item) => (item.kind === 'Profile' ? [item.record] : []))
    .sort(preferred(new Set()));
  const chosenProfileId = profiles[0]?.id;
  const patientUrl = fhirFullUrl('Patient', fhirId(patientId));
  const profileRole = (profile: Profile): ProfileRole =>
    profile.id === chosenProfileId
      ? { primary: true, seeAlso: profiles.slice(1).map((other) => fhirFullUrl('Patient', other.id)) }
      : { primary: false, seeAlso: [patientUrl] };

  const notes = new Map<string, NoteGroup>();
  const noteGroup = (noteId: string): NoteGroup => {
    const existing = notes.get(noteId);
    if (existing !== undefined) return existing;
    const created: NoteGroup = { versions: new Map(), concurrent: new Map() };
    notes.set(noteId, created);
    return created;
  };
  const numbered = new Map<NoteGroup, Map<number, NoteEntry[]>>();
  for (const item of records) {
    if (item.kind === 'MedicalNote') {
      const group = noteGroup(item.record.id);
      if (group.note !== undefined) duplicate('MedicalNote', item.record.id);
      group.note = { record: item.record, signature: item.signature };
    } else if (item.kind === 'NoteVersion') {
      const group = noteGroup(item.record.noteId);
      const byNumber = numbered.get(group) ?? new Map<number, NoteEntry[]>();
      numbered.set(group, byNumber);
      const entry = { record: item.record, signature: item.signature };
      byNumber.set(item.record.versionNumber, [...(byNumber.get(item.record.versionNumber) ?? []), entry]);
    }
  }
  const concurrentIds = new Set<string>();
  const preferredVersion = preferred(signedVersionIds);
  for (const [group, byNumber] of numbered) {
    for (const [number, entries] of byNumber) {
      const [chosen, ...others] = entries.sort((a, b) => preferredVersion(a.record, b.record));
      if (chosen !== undefined) group.versions.set(number, chosen);
      if (others.length > 0) group.concurrent.set(number, others);
      for (const other of others) concurrentIds.add(other.record.id);
    }
  }
  const signedBy = new Map<string, NoteSignature[]>();
  for (const item of records) {
    if (item.kind === 'NoteSignature' && item.record.status === 'signed') {
      const version = item.record.signedVersionNumber;
      const key = concurrentIds.has(item.record.noteVersionId)
        ? concurrentKey(item.record.noteVersionId)
        : version === undefined
          ? undefined
          : signedKey(item.record.noteId, version);
      if (key !== undefined) signedBy.set(key, [...(signedBy.get(key) ?? []), item.record]);
    }
  }
  for (const list of signedBy.values()) {
    // By signing time as instants (signers' devices write their own offsets and fraction digits), then
    // the text and the id, so every device lists the attesters alike.
    list.sort((a, b) => compareInstants(a.signedAt ?? '', b.signedAt ?? '') || compareStrings(a.id, b.id));
  }

  const entries = new Map<string, FhirBundleEntry>();
  const people = new Set<string>();
  const devices = new Set<string>();
  const patientRef = { reference: fhirFullUrl('Patient', fhirId(patientId)) };

  /**
   * The fullUrl of the resource `item` mainly exports as; `chosen`: the Profile chosen as the export's
   * Patient (any other Profile is a Patient of its own id).
   */
  const mainUrlOf = (item: FhirExportItem, chosen: boolean): string => {
    if (item.kind === 'Profile' && !chosen) return fhirFullUrl('Patient', item.record.id);
    if (item.kind === 'NoteVersion' && concurrentIds.has(item.record.id)) {
      return fhirFullUrl('Composition', item.record.id);
    }
    const target = primaryTarget(item);
    return fhirFullUrl(target.type, target.id);
  };
  /** Key of a bundle entry: its fullUrl and version (two records must not export to the same). */
  const entryKey = (fullUrl: string, version: number | undefined) => `${fullUrl}#${version ?? ''}`;

  const exporter: Exporter = {
    patient: patientRef,
    person: (accountId, display) => {
      people.add(accountId);
      return { reference: fhirFullUrl(personType(accountId), fhirId(accountId)), display };
    },
    device: (deviceId) => {
      devices.add(deviceId);
      return { reference: fhirFullUrl('Device', fhirId(deviceId)) };
    },
    recordRef: (kind, id) => {
      const item = present.get(`${kind}/${id}`);
      if (item === undefined) {
        return {
          type: RECORD_KINDS[kind].fhirResource,
          identifier: haleIdentifier(id),
          display: `${kind} ${id}`,
        };
      }
      return { reference: mainUrlOf(item, item.kind === 'Profile' && item.record.id === chosenProfileId) };
    },
    add: (resource) => {
      const fullUrl = fhirFullUrl(resource.resourceType, resource.id);
      const key = entryKey(fullUrl, versionOf(resource));
      if (entries.has(key)) {
        fail({
          code: 'DUPLICATE_RESOURCE',
          message: `two records export to ${fullUrl}${versionOf(resource) === undefined ? '' : ` version ${versionOf(resource)}`}`,
        });
      }
      entries.set(key, { fullUrl, resource });
    },
  };

  const noteTarget = (noteId: string, version: number | undefined, noteVersionId: string): DraftObject => {
    if (concurrentIds.has(noteVersionId)) return { reference: fhirFullUrl('Composition', noteVersionId) };
    const group = notes.get(noteId);
    if (group === undefined) {
      return {
        type: 'Composition',
        identifier: haleIdentifier(noteId),
        display: version === undefined ? `MedicalNote ${noteId}` : `MedicalNote ${noteId} version ${version}`,
      };
    }
    if (version === undefined) return { reference: fhirFullUrl('Composition', noteId) };
    // A version of the note may be signed or asked for without being exported (no copy of it here).
    const exported = group.versions.has(version) || group.note?.record.currentVersionNumber === version;
    return versionRef('Composition', noteId, 'MedicalNote', version, exported);
  };
  const versionNumberOf = (noteVersionId: string): number | undefined => {
    const item = present.get(`NoteVersion/${noteVersionId}`);
    return item?.kind === 'NoteVersion' ? item.record.versionNumber : undefined;
  };
  // A proof document points back at the immunizations it proves (R4 Immunization cannot point at it).
  const provenBy = new Map<string, DraftObject[]>();
  for (const item of records) {
    if (item.kind === 'Immunization' && item.record.proofDocumentId !== undefined) {
      const list = provenBy.get(item.record.proofDocumentId) ?? [];
      list.push({ reference: fhirFullUrl('Immunization', item.record.id) });
      provenBy.set(item.record.proofDocumentId, list);
    }
  }

  /** Exports one record through `x`; MedicalNote and NoteVersion are grouped per note (`exportNote`). */
  const exportItem = (y: Exporter, item: FhirExportItem, role: (profile: Profile) => ProfileRole): void => {
    const { signature } = item;
    // An imported record's main resource says where it came from (fhir-kinds.ts `originOf`).
    const origin = item.kind === 'ProviderProfile' ? undefined : item.record.origin;
    const main = origin === undefined ? undefined : primaryTarget(item);
    const x: Exporter =
      origin === undefined || main === undefined
        ? y
        : {
            ...y,
            add: (resource) =>
              y.add(
                resource.resourceType === main.type && resource.id === main.id
                  ? originOf(resource, origin)
                  : resource,
              ),
          };
    switch (item.kind) {
      case 'Profile':
        exportProfile(x, item.record, signature, role(item.record));
        break;
      case 'EmergencyContact':
        exportEmergencyContact(x, item.record, signature);
        break;
      case 'HealthDocument':
        exportHealthDocument(x, item.record, signature, provenBy.get(item.record.id) ?? []);
        break;
      case 'Allergy':
        exportAllergy(x, item.record, signature);
        break;
      case 'Immunization':
        exportImmunization(x, item.record, signature);
        break;
      case 'Medication':
        exportMedication(x, item.record, signature);
        break;
      case 'LabResult':
        exportLabResult(x, item.record, signature);
        break;
      case 'TreatmentPlan':
        exportTreatmentPlan(x, item.record, signature);
        break;
      case 'Appointment':
        exportAppointment(x, item.record, signature);
        break;
      case 'Message':
        exportMessage(x, item.record, signature);
        break;
      case 'Encounter':
        exportEncounter(x, item.record, signature);
        break;
      case 'MedicalNote':
      case 'NoteVersion':
        break; // grouped per note below: a note and its versions share one Composition history
      case 'NoteSignature':
        exportNoteSignature(x, item.record, signature, noteTarget, versionNumberOf);
        break;
      case 'Consent':
        exportConsent(x, item.record, signature);
        break;
      case 'AuditEntry':
        exportAuditEntry(x, item.record, signature);
        break;
      case 'ProviderProfile':
        exportProviderProfile(x, item.record, signature);
        break;
      case 'Condition':
        exportCondition(x, item.record, signature);
        break;
      case 'Procedure':
        exportProcedure(x, item.record, signature);
        break;
      default:
        unreachable(item);
    }
  };
  for (const item of records) exportItem(exporter, item, profileRole);
  for (const [noteId, group] of notes) exportNote(exporter, noteId, group, signedBy);

  // Records in an unsettled conflict: each other side exports beside the record (see `exportConflict`).
  /** The fullUrl of the resource a record, or a conflict side of it (`side`), mainly exports as. */
  const primaryUrl = (item: FhirExportItem, side: boolean): string =>
    mainUrlOf(item, !side && item.kind === 'Profile' && item.record.id === chosenProfileId);
  /** That resource's `meta.versionId` (a concurrent NoteVersion's Composition has none). */
  const primaryVersion = (item: FhirExportItem): number | undefined =>
    item.kind === 'NoteVersion' && concurrentIds.has(item.record.id) ? undefined : currentVersionOf(item);
  const versioned = (fullUrl: string, version: number | undefined) =>
    version === undefined ? fullUrl : `${fullUrl}/_history/${version}`;
  const sideRole = (): ProfileRole => ({ primary: false, seeAlso: [patientUrl] });

  /** Exports a conflict side of a note or note version through `x`: its note as that side has it. */
  const exportNoteSide = (x: Exporter, side: FhirExportItem): void => {
    if (side.kind === 'MedicalNote') {
      exportNote(
        x,
        side.record.id,
        { ...noteGroup(side.record.id), note: { record: side.record, signature: undefined } },
        signedBy,
      );
    } else if (side.kind === 'NoteVersion') {
      const group = noteGroup(side.record.noteId);
      const entry = { record: side.record, signature: undefined };
      const number = side.record.versionNumber;
      const versions = new Map(group.versions);
      const concurrent = new Map(group.concurrent);
      if (concurrentIds.has(side.record.id)) {
        const others = group.concurrent.get(number) ?? [];
        concurrent.set(
          number,
          others.map((other) => (other.record.id === side.record.id ? entry : other)),
        );
      } else {
        versions.set(number, entry);
      }
      exportNote(x, side.record.noteId, { ...group, versions, concurrent }, signedBy);
    }
  };

  /**
   * Exports the other sides of a record in conflict. A side that is a version of the record exports as
   * the record would; each resource of it that differs from the record's own (same fullUrl and version)
   * is added under its id with `-conflict-{n}`, references among them following, and the rest (e.g. the
   * shared earlier versions of a lab result) is not repeated. A deletion exports as a Provenance of the
   * deletion, not applied. Every resource of a side, the record's current main resource, and every other
   * resource of the record that a side exports differently (its blood-type Observation, a version's
   * Provenance: content the sides contest) or that a deletion would remove (all of the record's but a
   * NoteVersion's note) is tagged HALE_CONFLICT_TAG; the record's links to each side and each side's to
   * the record (`conflicting-version`), each contested resource and the side's version of it to each
   * other, and each resource a deletion disputes to the deletion.
   */
  const exportConflict = (item: FhirExportItem): void => {
    const mainUrl = primaryUrl(item, false);
    const mainVersion = primaryVersion(item);
    const mainRef = versioned(mainUrl, mainVersion);
    const mainKey = entryKey(mainUrl, mainVersion);
    const links: string[] = [];
    /** The record's own resources (but the main one) a side contests: key → the sides' versions of it. */
    const contested = new Map<string, string[]>();
    (conflictSides.get(item) ?? []).forEach((side, index) => {
      const suffix = conflictSuffix(index + 1);
      if ('deletion' in side) {
        const id = `${item.record.id}${suffix}`;
        const resource = makeResource('Provenance', id, {
          meta: meta(side.deletion.at),
          target: [{ reference: mainRef }],
          recorded: fhirDateTime(side.deletion.at),
          activity: {
            coding: [coding(V3_DATA_OPERATION, 'DELETE', 'delete')],
            text: 'deleted on another device while this version was edited: not applied, not settled',
          },
          agent: [
            {
              type: { coding: [coding(PROVENANCE_PARTICIPANT, 'author', 'Author')] },
              who: exporter.person(side.deletion.by),
            },
          ],
        });
        exporter.add(markedInConflict(resource, [mainRef]));
        const deletionRef = fhirFullUrl('Provenance', id);
        links.push(deletionRef);
        // The deletion disputes all the record exports (a lab's report and order, a vaccine's next dose),
        // not only its main resource. A NoteVersion's note is not deleted with it: its main one only.
        const own: FhirResource[] = [];
        const collect: Exporter = { ...exporter, add: (resource) => void own.push(resource) };
        if (item.kind === 'MedicalNote') exportNoteSide(collect, item);
        else if (item.kind !== 'NoteVersion') exportItem(collect, item, profileRole);
        for (const resource of own) {
          const key = entryKey(fhirFullUrl(resource.resourceType, resource.id), versionOf(resource));
          if (key !== mainKey && entries.has(key)) {
            contested.set(key, [...(contested.get(key) ?? []), deletionRef]);
          }
        }
        return;
      }
      // A side exports without a signature (the caller's is the shown version's) and without sides.
      const sideItem = side;
      const captured: FhirResource[] = [];
      const capture: Exporter = { ...exporter, add: (resource) => void captured.push(resource) };
      if (sideItem.kind === 'MedicalNote' || sideItem.kind === 'NoteVersion')
        exportNoteSide(capture, sideItem);
      else exportItem(capture, sideItem, sideRole);
      const keyOf = (resource: FhirResource) =>
        entryKey(fhirFullUrl(resource.resourceType, resource.id), versionOf(resource));
      const differing = captured.filter((resource) => {
        const own = entries.get(keyOf(resource));
        return own === undefined || !sameJson(own.resource, resource);
      });
      const renamed = new Set(differing.map(keyOf));
      const renamedUrls = new Set(differing.map((r) => fhirFullUrl(r.resourceType, r.id)));
      const rewrite = (reference: string): string => {
        const history = HISTORY_RE.exec(reference)?.[0];
        if (history === undefined) return renamedUrls.has(reference) ? `${reference}${suffix}` : reference;
        const url = reference.slice(0, -history.length);
        const version = history.slice('/_history/'.length);
        return renamed.has(`${url}#${version}`) ? `${url}${suffix}${history}` : reference;
      };
      const sideUrl = primaryUrl(sideItem, true);
      const sideVersion = primaryVersion(sideItem);
      const sideKey = entryKey(sideUrl, sideVersion);
      // The side's own main resource links back to the record; were it the record's very resource (the
      // side differs elsewhere only), the first resource that differs does.
      const linked = renamed.has(sideKey) ? sideKey : differing[0] && keyOf(differing[0]);
      for (const resource of differing) {
        const moved: FhirResource = {
          ...withReferencesIn(resource, rewrite),
          resourceType: resource.resourceType,
          id: `${resource.id}${suffix}`,
        };
        const movedRef = versioned(fhirFullUrl(moved.resourceType, moved.id), versionOf(moved));
        const key = keyOf(resource);
        const isLinked = key === linked;
        // The record's own version of this resource, when it has one and the side says otherwise in it
        // (not only a later `meta.lastUpdated`): the sides contest its content.
        const ownEntry = key === mainKey ? undefined : entries.get(key);
        const own =
          ownEntry === undefined || sameJson(withoutMeta(ownEntry.resource), withoutMeta(resource))
            ? undefined
            : ownEntry;
        const ownRef = own === undefined ? undefined : versioned(own.fullUrl, versionOf(own.resource));
        if (ownRef !== undefined) contested.set(key, [...(contested.get(key) ?? []), movedRef]);
        const backLinks = [...(isLinked ? [mainRef] : []), ...(ownRef === undefined ? [] : [ownRef])];
        exporter.add(markedInConflict(moved, [...new Set(backLinks)]));
        if (isLinked) links.push(movedRef);
      }
    });
    for (const [key, sideRefs] of [...contested, [mainKey, links] as const]) {
      const own = entries.get(key);
      if (own === undefined) throw new Error(`unreachable: ${key} was not exported`);
      entries.set(key, { fullUrl: own.fullUrl, resource: markedInConflict(own.resource, sideRefs) });
    }
  };
  for (const item of records) if (item.conflict !== undefined) exportConflict(item);

  // Minimal resources for people and devices named only by id, so every reference resolves.
  const exported = new Set([...entries.values()].map((entry) => entry.fullUrl));
  const ensure = (resource: FhirResource) => {
    const fullUrl = fhirFullUrl(resource.resourceType, resource.id);
    if (exported.has(fullUrl)) return;
    exported.add(fullUrl);
    exporter.add(resource);
  };
  ensure(
    makeResource('Patient', fhirId(patientId), {
      identifier: [{ system: HALE_ACCOUNT_SYSTEM, value: patientId }],
    }),
  );
  for (const accountId of people) {
    const type = personType(accountId);
    ensure(
      makeResource(type, fhirId(accountId), {
        identifier: [{ system: HALE_ACCOUNT_SYSTEM, value: accountId }],
        patient: type === 'RelatedPerson' ? patientRef : undefined,
      }),
    );
  }
  for (const deviceId of devices) {
    ensure(
      makeResource('Device', fhirId(deviceId), {
        identifier: [
          deviceId === SYNC_SERVER_DEVICE_ID ? undefined : { system: HALE_DEVICE_SYSTEM, value: deviceId },
        ],
        deviceName: [
          deviceId === SYNC_SERVER_DEVICE_ID
            ? { name: 'Hale sync server', type: 'user-friendly-name' }
            : undefined,
        ],
      }),
    );
  }

  const entry = [...entries.values()].sort((a, b) => {
    if (a.fullUrl === patientUrl || b.fullUrl === patientUrl) {
      if (a.fullUrl !== b.fullUrl) return a.fullUrl === patientUrl ? -1 : 1;
    }
    return (
      compareStrings(a.fullUrl, b.fullUrl) || (versionOf(a.resource) ?? 0) - (versionOf(b.resource) ?? 0)
    );
  });
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: fhirDateTime(generatedAt) ?? generatedAt,
    entry,
  };
};

const duplicate = (kind: RecordKind, id: string): never =>
  fail({
    code: 'DUPLICATE_RESOURCE',
    message: `${kind} ${id} is listed twice`,
    kind,
    recordId: id,
  });

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Orders records that claim the same place, the one to keep it first: a version someone signed (the
 * text a signature attests belongs in the note's history), then the latest `updatedAt` (the most recent
 * edit, as an instant: another writer's offset or fraction digits, within one millisecond too), then the
 * greater id (ULIDs sort by creation time). Depends on the records alone, so every device exporting the
 * same records makes the same choice, whatever its engine's Date.parse does with those forms.
 */
const preferred =
  (signed: ReadonlySet<string>) =>
  (a: { readonly id: string; readonly updatedAt: string }, b: typeof a): number =>
    Number(signed.has(b.id)) - Number(signed.has(a.id)) ||
    compareInstantTimes(b.updatedAt, a.updatedAt) ||
    compareStrings(b.id, a.id);

const unreachable = (value: never): never => {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
};

// --------------------------------------------------------------------------------------- validation

export interface FhirShapeIssue {
  /** e.g. `entry[3].resource.reaction[0].manifestation`. */
  readonly path: string;
  readonly reason: string;
}

export interface FhirShapeInvalid {
  readonly code: 'FHIR_SHAPE_INVALID';
  readonly message: string;
  readonly issues: readonly FhirShapeIssue[];
}

/**
 * Elements FHIR R4 requires (min 1) in the resource types Hale exports. `a.b` means: every `a` present
 * must have `b`; `x[x]` is a choice element (`xString`, `xDateTime`, …).
 */
const REQUIRED_ELEMENTS: Readonly<Record<string, readonly string[]>> = {
  Patient: ['link.other', 'link.type'],
  Practitioner: [],
  PractitionerRole: [],
  Device: ['deviceName.name', 'deviceName.type'],
  RelatedPerson: ['patient'],
  DocumentReference: ['status', 'content', 'content.attachment', 'relatesTo.code', 'relatesTo.target'],
  AllergyIntolerance: ['patient', 'reaction.manifestation'],
  Immunization: [
    'status',
    'vaccineCode',
    'patient',
    'occurrence[x]',
    'performer.actor',
    'protocolApplied.doseNumber[x]',
  ],
  ImmunizationRecommendation: [
    'patient',
    'date',
    'recommendation',
    'recommendation.forecastStatus',
    'recommendation.dateCriterion.code',
    'recommendation.dateCriterion.value',
  ],
  MedicationStatement: ['status', 'medication[x]', 'subject'],
  Observation: ['status', 'code'],
  DiagnosticReport: ['status', 'code'],
  ServiceRequest: ['status', 'intent', 'subject'],
  CarePlan: ['status', 'intent', 'subject'],
  Appointment: ['status', 'participant', 'participant.status'],
  Communication: ['status', 'payload.content[x]'],
  Encounter: ['status', 'class', 'location.location'],
  Composition: [
    'status',
    'type',
    'date',
    'author',
    'title',
    'attester.mode',
    'relatesTo.code',
    'relatesTo.target[x]',
  ],
  Provenance: [
    'target',
    'recorded',
    'agent',
    'agent.who',
    'signature.type',
    'signature.when',
    'signature.who',
  ],
  Task: ['status', 'intent'],
  Condition: ['subject'],
  Procedure: ['status', 'subject', 'performer.actor'],
  Consent: ['status', 'scope', 'category', 'provision.actor.role', 'provision.actor.reference'],
  AuditEvent: [
    'type',
    'recorded',
    'agent',
    'agent.requestor',
    'source',
    'source.observer',
    'entity.detail.type',
    'entity.detail.value[x]',
  ],
};

const TELECOM_SYSTEMS = ['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other'];
const RELATES_TO = ['replaces', 'transforms', 'signs', 'appends'];

/** Required bindings (FHIR R4 value sets) of the code elements Hale fills. */
const CODE_ELEMENTS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  Patient: {
    gender: ['male', 'female', 'other', 'unknown'],
    'telecom.system': TELECOM_SYSTEMS,
    'link.type': ['replaced-by', 'replaces', 'refer', 'seealso'],
  },
  RelatedPerson: { 'telecom.system': TELECOM_SYSTEMS },
  PractitionerRole: { 'telecom.system': TELECOM_SYSTEMS },
  DocumentReference: { status: ['current', 'superseded', 'entered-in-error'], 'relatesTo.code': RELATES_TO },
  AllergyIntolerance: {
    category: ['food', 'medication', 'environment', 'biologic'],
    'reaction.severity': ['mild', 'moderate', 'severe'],
  },
  Immunization: { status: ['completed', 'entered-in-error', 'not-done'] },
  MedicationStatement: {
    status: [
      'active',
      'completed',
      'entered-in-error',
      'intended',
      'stopped',
      'on-hold',
      'unknown',
      'not-taken',
    ],
  },
  Observation: {
    'valueQuantity.comparator': ['<', '<=', '>=', '>'],
    status: [
      'registered',
      'preliminary',
      'final',
      'amended',
      'corrected',
      'cancelled',
      'entered-in-error',
      'unknown',
    ],
  },
  DiagnosticReport: {
    status: [
      'registered',
      'partial',
      'preliminary',
      'final',
      'amended',
      'corrected',
      'appended',
      'cancelled',
      'entered-in-error',
      'unknown',
    ],
  },
  ServiceRequest: {
    status: ['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown'],
    intent: [
      'proposal',
      'plan',
      'directive',
      'order',
      'original-order',
      'reflex-order',
      'filler-order',
      'instance-order',
      'option',
    ],
  },
  CarePlan: {
    status: ['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown'],
    intent: ['proposal', 'plan', 'order', 'option'],
  },
  Appointment: {
    status: [
      'proposed',
      'pending',
      'booked',
      'arrived',
      'fulfilled',
      'cancelled',
      'noshow',
      'entered-in-error',
      'checked-in',
      'waitlist',
    ],
    'participant.status': ['accepted', 'declined', 'tentative', 'needs-action'],
  },
  Communication: {
    status: [
      'preparation',
      'in-progress',
      'not-done',
      'on-hold',
      'stopped',
      'completed',
      'entered-in-error',
      'unknown',
    ],
  },
  Encounter: {
    status: [
      'planned',
      'arrived',
      'triaged',
      'in-progress',
      'onleave',
      'finished',
      'cancelled',
      'entered-in-error',
      'unknown',
    ],
  },
  Composition: {
    status: ['preliminary', 'final', 'amended', 'entered-in-error'],
    'attester.mode': ['personal', 'professional', 'legal', 'official'],
    'relatesTo.code': RELATES_TO,
  },
  Task: {
    status: [
      'draft',
      'requested',
      'received',
      'accepted',
      'rejected',
      'ready',
      'cancelled',
      'in-progress',
      'on-hold',
      'failed',
      'completed',
      'entered-in-error',
    ],
    intent: [
      'unknown',
      'proposal',
      'plan',
      'order',
      'original-order',
      'reflex-order',
      'filler-order',
      'instance-order',
      'option',
    ],
  },
  Consent: {
    status: ['draft', 'proposed', 'active', 'rejected', 'inactive', 'entered-in-error'],
    'provision.type': ['deny', 'permit'],
    'provision.provision.type': ['deny', 'permit'],
  },
  AuditEvent: { action: ['C', 'R', 'U', 'D', 'E'] },
  Procedure: {
    status: [
      'preparation',
      'in-progress',
      'not-done',
      'on-hold',
      'stopped',
      'completed',
      'entered-in-error',
      'unknown',
    ],
  },
};

const BUNDLE_TYPES = [
  'document',
  'message',
  'transaction',
  'transaction-response',
  'batch',
  'batch-response',
  'history',
  'searchset',
  'collection',
];
const FHIR_ID_RE = /^[A-Za-z0-9.-]{1,64}$/;
const HISTORY_RE = /\/_history\/[A-Za-z0-9.-]{1,64}$/;
// `/_history` as a whole path segment: what FHIR reserves for versions (`_` is in no FHIR id).
const HISTORY_SEGMENT_RE = /\/_history(?=\/|$)/;
const MAX_SHAPE_ISSUES = 100;

type JsonRecord = Readonly<Record<string, unknown>>;
const isRecordObject = (value: unknown): value is JsonRecord =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const asList = (value: unknown): readonly unknown[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Keys of `node` that carry element `name` (`value[x]` matches `valueString`, `valueQuantity`, …). */
const elementKeys = (node: JsonRecord, name: string): string[] => {
  if (!name.endsWith('[x]')) return name in node ? [name] : [];
  const prefix = name.slice(0, -3);
  return Object.keys(node).filter((key) => key.startsWith(prefix) && /^[A-Z]/.test(key.slice(prefix.length)));
};

const checkRequired = (
  node: JsonRecord,
  segments: readonly string[],
  path: string,
  issues: FhirShapeIssue[],
) => {
  const [name, ...rest] = segments;
  if (name === undefined) return;
  const keys = elementKeys(node, name);
  if (rest.length === 0) {
    if (keys.length === 0) issues.push({ path: `${path}.${name}`, reason: 'is required' });
    else if (keys.length > 1)
      issues.push({ path: `${path}.${name}`, reason: 'has more than one choice type' });
    return;
  }
  for (const key of keys) {
    asList(node[key]).forEach((child, index) => {
      const childPath = Array.isArray(node[key]) ? `${path}.${key}[${index}]` : `${path}.${key}`;
      if (isRecordObject(child)) checkRequired(child, rest, childPath, issues);
    });
  }
};

const checkCodes = (
  node: JsonRecord,
  segments: readonly string[],
  allowed: readonly string[],
  path: string,
  issues: FhirShapeIssue[],
) => {
  const [name, ...rest] = segments;
  if (name === undefined || !(name in node)) return;
  const value = node[name];
  asList(value).forEach((child, index) => {
    const childPath = Array.isArray(value) ? `${path}.${name}[${index}]` : `${path}.${name}`;
    if (rest.length > 0) {
      if (isRecordObject(child)) checkCodes(child, rest, allowed, childPath, issues);
    } else if (typeof child !== 'string' || !allowed.includes(child)) {
      issues.push({ path: childPath, reason: `must be one of ${allowed.join(', ')}` });
    }
  });
};

/** Empty values, extension shape, and every `reference` string found (with its path). */
const walk = (
  value: unknown,
  path: string,
  issues: FhirShapeIssue[],
  references: { path: string; reference: string; resolved?: string }[],
): void => {
  if (value === null || value === undefined) {
    issues.push({ path, reason: 'must not be null' });
  } else if (typeof value === 'string') {
    if (value.trim() === '') issues.push({ path, reason: 'must not be empty' });
    else if (FHIR_FORBIDDEN_CONTROL_RE.test(value)) {
      issues.push({ path, reason: 'must not hold control characters other than tab, CR and LF' });
    }
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) issues.push({ path, reason: 'must be a finite number' });
  } else if (Array.isArray(value)) {
    if (value.length === 0) issues.push({ path, reason: 'must not be an empty array' });
    value.forEach((item, index) => walk(item, `${path}[${index}]`, issues, references));
  } else if (isRecordObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) issues.push({ path, reason: 'must not be an empty object' });
    if (typeof value.reference === 'string')
      references.push({ path: `${path}.reference`, reference: value.reference });
    for (const key of ['extension', 'modifierExtension']) {
      asList(value[key]).forEach((ext, index) => {
        if (!isRecordObject(ext)) return;
        const extPath = `${path}.${key}[${index}]`;
        // A complex extension's parts are named by plain names (R4 extensibility.html#complex).
        const nested = /\.(?:modifierE|e)xtension\[\d+\]$/.test(path);
        if (typeof ext.url !== 'string' || !(nested ? /^\S+$/ : /^[a-z][a-z0-9+.-]*:/).test(ext.url)) {
          issues.push({
            path: `${extPath}.url`,
            reason: nested ? 'must be a name' : 'must be an absolute URI',
          });
        }
        const values = Object.keys(ext).filter((k) => /^value[A-Z]/.test(k)).length;
        const parts = ext.extension !== undefined;
        if ((values === 1) === parts || values > 1) {
          issues.push({
            path: extPath,
            reason: 'must have exactly one value[x] or nested extensions, not both',
          });
        }
      });
    }
    for (const key of keys) walk(value[key], `${path}.${key}`, issues, references);
  } else if (typeof value !== 'boolean') {
    issues.push({ path, reason: 'is not JSON' });
  }
};

// R4 Signature: type 1..* Coding, when 1..1 instant, who 1..1 Reference; sigFormat/targetFormat are MIME
// codes and data base64Binary when present.
const MIME_TYPE_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*(?:;.*)?$/i;

const checkSignature = (
  signature: unknown,
  issues: FhirShapeIssue[],
  references: { path: string; reference: string; resolved?: string }[],
) => {
  const path = 'signature';
  if (!isRecordObject(signature)) {
    issues.push({ path, reason: 'must be an object' });
    return;
  }
  const { type, when, who, sigFormat, targetFormat, data } = signature;
  if (!Array.isArray(type) || type.length === 0) {
    issues.push({ path: `${path}.type`, reason: 'is required (at least one Coding)' });
  } else {
    type.forEach((coding: unknown, index) => {
      if (!isRecordObject(coding) || typeof coding.code !== 'string' || typeof coding.system !== 'string') {
        issues.push({ path: `${path}.type[${index}]`, reason: 'must be a Coding with system and code' });
      }
    });
  }
  if (typeof when !== 'string' || !isFhirInstant(when)) {
    issues.push({ path: `${path}.when`, reason: 'is required (an instant)' });
  }
  if (!isRecordObject(who) || (who.reference === undefined && who.identifier === undefined)) {
    issues.push({ path: `${path}.who`, reason: 'is required (a Reference)' });
  }
  for (const [name, value] of [
    ['sigFormat', sigFormat],
    ['targetFormat', targetFormat],
  ] as const) {
    if (value !== undefined && (typeof value !== 'string' || !MIME_TYPE_RE.test(value))) {
      issues.push({ path: `${path}.${name}`, reason: 'must be a MIME type' });
    }
  }
  if (data !== undefined && (typeof data !== 'string' || !base64.test(data))) {
    issues.push({ path: `${path}.data`, reason: 'must be base64Binary' });
  }
  walk(signature, path, issues, references);
};

/**
 * A reference split into the fullUrl it names and the version (`…/_history/{vid}`, vid a FHIR id), or
 * undefined when it has a `/_history` part of any other form: an empty or ill-formed version, or more path
 * after it. Such a reference is refused as malformed rather than looked up whole, so its refusal does not
 * hang on no entry happening to carry that string as its fullUrl.
 */
const splitVersion = (reference: string): { url: string; version?: string } | undefined => {
  const mark = HISTORY_SEGMENT_RE.exec(reference);
  if (mark === null) return { url: reference };
  const version = reference.slice(mark.index + mark[0].length + 1);
  return FHIR_ID_RE.test(version) ? { url: reference.slice(0, mark.index), version } : undefined;
};

const fullUrlMatches = (fullUrl: string, resourceType: string, id: string): boolean =>
  fullUrl.startsWith('urn:uuid:') ||
  fullUrl.startsWith('urn:oid:') ||
  fullUrl.endsWith(`${resourceType}/${id}`);

/**
 * A minimal structural check of a FHIR R4 Bundle, enough to catch mapping mistakes: every entry has a
 * fullUrl consistent with its resource's type and id, the elements R4 requires for the resource types
 * Hale exports, codes from the required value sets Hale uses, no empty values, well-formed extensions,
 * unique fullUrls (or distinct `meta.versionId`s, bdl-7), and every `reference` resolving to an entry's
 * fullUrl (a version-specific one, `{fullUrl}/_history/{version}`, to the entry of that fullUrl whose
 * `meta.versionId` is that version; any other `/_history` form is refused), and a `signature`, when
 * present, with R4's required elements (type, when, who) and well-formed formats and data, its
 * `who.reference` resolving like any other. Not a full FHIR validator, nor a signature check.
 */
export const validateFhirBundleShape = (
  bundle: unknown,
): Result<{ readonly entries: number }, FhirShapeInvalid> => {
  const issues: FhirShapeIssue[] = [];
  const references: { path: string; reference: string; resolved?: string }[] = [];
  if (!isRecordObject(bundle) || bundle.resourceType !== 'Bundle') {
    issues.push({ path: 'resourceType', reason: 'must be Bundle' });
  } else {
    if (typeof bundle.type !== 'string' || !BUNDLE_TYPES.includes(bundle.type)) {
      issues.push({ path: 'type', reason: `must be one of ${BUNDLE_TYPES.join(', ')}` });
    }
    if (
      bundle.timestamp !== undefined &&
      (typeof bundle.timestamp !== 'string' || !isFhirInstant(bundle.timestamp))
    ) {
      issues.push({ path: 'timestamp', reason: 'must be an instant' });
    }
    if (bundle.signature !== undefined) checkSignature(bundle.signature, issues, references);
    const entries = bundle.entry === undefined ? [] : bundle.entry;
    if (!Array.isArray(entries)) issues.push({ path: 'entry', reason: 'must be an array' });
    const fullUrls = new Map<string, (string | undefined)[]>();
    (Array.isArray(entries) ? entries : []).forEach((entry: unknown, index) => {
      const path = `entry[${index}]`;
      if (!isRecordObject(entry)) {
        issues.push({ path, reason: 'must be an object' });
        return;
      }
      const { fullUrl, resource } = entry;
      if (typeof fullUrl !== 'string' || !/^[a-z][a-z0-9+.-]*:\S+$/.test(fullUrl)) {
        issues.push({ path: `${path}.fullUrl`, reason: 'must be an absolute URI' });
      } else if (fullUrl.includes('/_history/')) {
        issues.push({ path: `${path}.fullUrl`, reason: 'must not be version specific' });
      }
      if (!isRecordObject(resource)) {
        issues.push({ path: `${path}.resource`, reason: 'is required' });
        return;
      }
      const { resourceType, id } = resource;
      const resourcePath = `${path}.resource`;
      if (typeof resourceType !== 'string' || !(resourceType in REQUIRED_ELEMENTS)) {
        issues.push({ path: `${resourcePath}.resourceType`, reason: 'is not a resource type Hale exports' });
        return;
      }
      if (typeof id !== 'string' || !FHIR_ID_RE.test(id)) {
        issues.push({ path: `${resourcePath}.id`, reason: 'must be a FHIR id ([A-Za-z0-9.-]{1,64})' });
      } else if (typeof fullUrl === 'string' && !fullUrlMatches(fullUrl, resourceType, id)) {
        issues.push({ path: `${path}.fullUrl`, reason: `does not name ${resourceType}/${id}` });
      }
      if (typeof fullUrl === 'string') {
        const metaValue = resource.meta;
        const versionId =
          isRecordObject(metaValue) && typeof metaValue.versionId === 'string'
            ? metaValue.versionId
            : undefined;
        fullUrls.set(fullUrl, [...(fullUrls.get(fullUrl) ?? []), versionId]);
      }
      for (const element of REQUIRED_ELEMENTS[resourceType] ?? []) {
        checkRequired(resource, element.split('.'), resourcePath, issues);
      }
      for (const [element, allowed] of Object.entries(CODE_ELEMENTS[resourceType] ?? {})) {
        checkCodes(resource, element.split('.'), allowed, resourcePath, issues);
      }
      const before = references.length;
      walk(resource, resourcePath, issues, references);
      // Relative references resolve against this entry's fullUrl when it is RESTful (fhir-references.ts).
      if (typeof fullUrl === 'string') {
        for (let i = before; i < references.length; i++) {
          const found = references[i];
          if (found !== undefined) found.resolved = resolveReference(found.reference, fullUrl);
        }
      }
    });
    for (const [fullUrl, versions] of fullUrls) {
      if (
        versions.length > 1 &&
        (versions.includes(undefined) || new Set(versions).size !== versions.length)
      ) {
        issues.push({
          path: 'entry',
          reason: `${fullUrl} appears more than once without distinct meta.versionId`,
        });
      }
    }
    for (const { path, reference, resolved } of references) {
      const named = splitVersion(resolved ?? reference);
      const versions = named === undefined ? undefined : fullUrls.get(named.url);
      if (named === undefined) {
        issues.push({
          path,
          reason: `${reference} is not a literal reference {fullUrl} or {fullUrl}/_history/{version} (a FHIR id)`,
        });
      } else if (versions === undefined) {
        issues.push({ path, reason: `${reference} does not resolve to an entry of the bundle` });
      } else if (named.version !== undefined && !versions.includes(named.version)) {
        // The version is what a version-specific reference asserts (a signature, an acknowledgement of
        // that exact text): resolving it to another version of the resource would misstate it.
        issues.push({
          path,
          reason: `${reference} names a version no entry of ${named.url} has (meta.versionId)`,
        });
      }
    }
  }
  if (issues.length === 0) {
    return {
      ok: true,
      value: { entries: isRecordObject(bundle) && Array.isArray(bundle.entry) ? bundle.entry.length : 0 },
    };
  }
  const reported = issues.slice(0, MAX_SHAPE_ISSUES);
  return {
    ok: false,
    error: {
      code: 'FHIR_SHAPE_INVALID',
      message: `Bundle is not valid FHIR: ${reported
        .slice(0, 5)
        .map((issue) => `${issue.path}: ${issue.reason}`)
        .join('; ')}${issues.length > 5 ? ` (+${issues.length - 5} more)` : ''}`,
      issues: reported,
    },
  };
};
