/*
 * FHIR export: one resource (or a few) per record of the clinical kinds.
 * The export's invariants and failure modes: fhir.ts.
 */
import type { Provenance } from './common-schemas';
import type {
  Allergy,
  Appointment,
  Concept,
  EmergencyContact,
  Encounter,
  HealthDocument,
  Immunization,
  LabResult,
  Medication,
  MedicationDosage,
  Message,
  Profile,
  TreatmentPlan,
} from './record-schemas';
import { conceptsOut, withCodes } from './fhir-kinds';
import { allergyClinicalStatus, reactionsInForce } from './allergy-reactions';
import {
  LOINC,
  CVX,
  V2_0203,
  V3_ACT_CODE,
  V3_PARTICIPATION,
  V3_DATA_OPERATION,
  PROVENANCE_PARTICIPANT,
  DATA_ABSENT_REASON,
  type DraftObject,
  makeResource,
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
  type Exporter,
  laboratoryCategory,
  authorSignature,
  labValue,
  isCvxCode,
  isLoincCode,
  codedConcept,
  HALE_ACCOUNT_SYSTEM,
  HALE_THREAD_SYSTEM,
  fhirId,
  fhirFullUrl,
} from './fhir-draft';
import {
  ALLERGY_CLINICAL,
  ALLERGY_VERIFICATION,
  APPOINTMENT_STATUS,
  BIRTH_SEX,
  DOCUMENT_TYPE_LOINC,
  ENCOUNTER_CLASS,
  participantStatuses,
} from './fhir-mappings';
import type { FhirResource } from './fhir-types';
import { ACTIVE_MEDICATION_STATUSES } from './record-schemas';
import { withoutReferences } from './fhir-source';
import {
  addressesInForce,
  carriesRecordNumber,
  identifiersInForce,
  namesInForce,
  telecomsInForce,
} from './person-parts';

/** A kept source's object (JSON as read, so a draft). */
const isObject = (value: unknown): value is DraftObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// ------------------------------------------------------------------------------------------- mapping

/**
 * Which Patient a Profile becomes. Devices that each create the Profile offline leave the patient with
 * several: the chosen one is the export's Patient (`Patient/{fhirId(patientId)}`, which every reference
 * names), each other one a Patient of its own id; all are linked to each other with `seealso`.
 */
export interface ProfileRole {
  readonly primary: boolean;
  /** fullUrls of the patient's other Patient resources. */
  readonly seeAlso: readonly string[];
}

export const exportProfile = (
  x: Exporter,
  r: Profile,
  signature: string | undefined,
  role: ProfileRole,
): void => {
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
        r.medicalRecordNumber === undefined || carriesRecordNumber(r.identifiers, r.medicalRecordNumber)
          ? undefined
          : {
              type: { coding: [coding(V2_0203, 'MR', 'Medical record number')] },
              value: r.medicalRecordNumber,
            },
        ...identifiersInForce(r.identifiers, r.medicalRecordNumber),
      ],
      active: r.status === 'active',
      name: namesInForce(r.fullName, r.names) ?? [text(r.fullName)],
      telecom: telecomsInForce(r.contact, r.telecoms) ?? telecom(r.contact),
      gender: r.sexAtBirth,
      birthDate: r.birthDate,
      address: addressesInForce(r.contact?.address, r.addresses) ?? address(r.contact),
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

export const exportEmergencyContact = (
  x: Exporter,
  r: EmergencyContact,
  signature: string | undefined,
): void => {
  x.add(
    makeResource('RelatedPerson', r.id, {
      meta: meta(r.updatedAt),
      extension: [
        stringExt('note', r.notes),
        dateTimeExt('created-at', r.createdAt),
        stringExt('author-signature', signature),
      ],
      identifier: [haleIdentifier(r.id), ...(r.identifiers ?? [])],
      patient: x.patient,
      relationship: [text(r.relationship)],
      name: namesInForce(r.name, r.names) ?? [text(r.name)],
      telecom: telecomsInForce(r, r.telecoms) ?? telecom(r),
      birthDate: r.birthDate,
      address: r.addresses,
      period: r.period,
    }),
  );
};

/** The resource a document exports as: a DiagnosticReport when it came from one, else a DocumentReference. */
export const documentResourceOf = (
  r: Pick<HealthDocument, 'origin'>,
): 'DiagnosticReport' | 'DocumentReference' =>
  r.origin?.resourceType === 'DiagnosticReport' ? 'DiagnosticReport' : 'DocumentReference';

const REPORT_STATUSES = ['registered', 'partial', 'preliminary', 'final', 'amended', 'corrected', 'appended'];

/** A report read from a DiagnosticReport: each file a version of that report, the current one last. */
const exportReportDocument = (x: Exporter, r: HealthDocument, signature: string | undefined): void => {
  const sourceStatus = r.origin?.resource?.['status'];
  const report = (file: HealthDocument['file'], version: number, at: string, current: boolean) =>
    makeResource('DiagnosticReport', r.id, {
      meta: meta(current ? r.updatedAt : at, version),
      extension: current
        ? [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)]
        : undefined,
      identifier: [haleIdentifier(r.id)],
      status:
        typeof sourceStatus === 'string' && REPORT_STATUSES.includes(sourceStatus) ? sourceStatus : 'final',
      category: (r.tags ?? []).map(text),
      code: text(r.title),
      subject: x.patient,
      effectiveDateTime: current ? fhirDateTime(r.serviceDate) : undefined,
      issued: fhirDateTime(at),
      conclusion: current ? r.description : undefined,
      presentedForm: [attachment(file, r.title, true)],
    });
  for (const v of [...r.versions].sort((a, b) => a.version - b.version))
    x.add(report(v.file, v.version, v.uploadedAt, false));
  x.add(report(r.file, r.version, r.uploadedAt, true));
};

export const exportHealthDocument = (
  x: Exporter,
  r: HealthDocument,
  signature: string | undefined,
  related: readonly DraftObject[],
): void => {
  if (documentResourceOf(r) === 'DiagnosticReport') return exportReportDocument(x, r, signature);
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
      context: {
        related,
        period: r.serviceDate === undefined ? undefined : { start: fhirDateTime(r.serviceDate) },
      },
    }),
  );
};

export const exportAllergy = (x: Exporter, r: Allergy, signature: string | undefined): void => {
  // verificationStatus only when known: guessing `unconfirmed` could make a receiving system discount a
  // real allergy.
  const clinical = allergyClinicalStatus(r);
  const reactions = reactionsInForce(r);
  x.add(
    makeResource('AllergyIntolerance', r.id, {
      meta: meta(r.updatedAt),
      extension: [dateTimeExt('created-at', r.createdAt), stringExt('author-signature', signature)],
      identifier: [haleIdentifier(r.id)],
      clinicalStatus: { coding: [coding(ALLERGY_CLINICAL, clinical, ALLERGY_CLINICAL_DISPLAY[clinical])] },
      verificationStatus:
        r.verificationStatus === undefined
          ? undefined
          : { coding: [coding(ALLERGY_VERIFICATION, r.verificationStatus)] },
      category: [r.category],
      criticality: r.criticality,
      code: withCodes({ text: r.substance }, r.codes),
      patient: x.patient,
      onsetDateTime: fhirDateTime(r.onsetDate),
      recordedDate: fhirDateTime(r.recordedAt),
      lastOccurrence: fhirDateTime(r.lastOccurrence),
      note: [text(r.notes)],
      reaction:
        reactions === undefined
          ? [allergyReaction(r.reaction, r.severity)]
          : reactions.map((e) => ({
              substance:
                e.substance === undefined
                  ? undefined
                  : withCodes({ text: e.substance.text }, e.substance.codes),
              exposureRoute:
                e.exposureRoute === undefined
                  ? undefined
                  : withCodes({ text: e.exposureRoute.text }, e.exposureRoute.codes),
              manifestation: e.manifestations.map((m) => withCodes({ text: m.text }, m.codes)),
              severity: e.severity,
              onset: fhirDateTime(e.onset),
              description: e.description,
              note: [text(e.notes)],
            })),
    }),
  );
};

const ALLERGY_CLINICAL_DISPLAY = { active: 'Active', inactive: 'Inactive', resolved: 'Resolved' } as const;

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

export const exportImmunization = (x: Exporter, r: Immunization, signature: string | undefined): void => {
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

/** Dosage.text: the dosage as written, and a dose that is no quantity (the one place for its words). */
const dosageText = (dose: string | undefined, written: boolean, asWritten: string | undefined) =>
  written && dose !== undefined
    ? asWritten === undefined || asWritten === dose
      ? dose
      : `${dose}; ${asWritten}`
    : asWritten;

/** The source's status while it agrees with `active` (an edit of the switch wins), else from `active`. */
const medicationStatus = (r: Medication): string =>
  r.status !== undefined && ACTIVE_MEDICATION_STATUSES.includes(r.status) === r.active
    ? r.status
    : r.active
      ? 'active'
      : 'completed';

/** SNOMED CT: the schedule's food instruction (FHIR's additional-instruction codes). */
const SNOMED_CT = 'http://snomed.info/sct';
export const FOOD_CODES = { with: '311504000', without: '717154004' } as const;

/** The words of the food instructions' codes. */
export const FOOD_DISPLAY = { with: 'With or after food', without: 'Take on an empty stomach' } as const;
const FOOD_CONCEPTS = {
  with: { coding: [coding(SNOMED_CT, FOOD_CODES.with, FOOD_DISPLAY.with)] },
  without: { coding: [coding(SNOMED_CT, FOOD_CODES.without, FOOD_DISPLAY.without)] },
} as const;
/** The food instruction a concept codes, if any. */
const foodOf = (c: Concept): 'with' | 'without' | undefined =>
  c.codes?.some((k) => k.system === SNOMED_CT && k.code === FOOD_CODES.with)
    ? 'with'
    : c.codes?.some((k) => k.system === SNOMED_CT && k.code === FOOD_CODES.without)
      ? 'without'
      : undefined;

/** Dosage.additionalInstruction: the source's (a food one unless the schedule says another), then the schedule's. */
const additionalInstructionsOut = (r: Medication): DraftObject[] => {
  const food = r.schedule?.food;
  const kept = (r.additionalInstructions ?? []).filter((c) => {
    const f = foodOf(c);
    return f === undefined || food === undefined || f === food;
  });
  const written = kept.map((c) => withCodes({ text: c.text }, c.codes));
  return food === undefined || kept.some((c) => foodOf(c) === food)
    ? written
    : [...written, FOOD_CONCEPTS[food]];
};

/** A Dosage after the first, as the source wrote it. */
const moreDosageOut = (d: MedicationDosage, sequence: number): DraftObject => ({
  sequence,
  text: d.text,
  additionalInstruction: d.additionalInstructions?.map((c) => withCodes({ text: c.text }, c.codes)),
  patientInstruction: d.instructions,
  route: d.route === undefined ? undefined : withCodes({ text: d.route.text }, d.route.codes),
});

/** The Dosages a medication writes (a MedicationStatement's `dosage`, a MedicationRequest's `dosageInstruction`). */
const dosagesOut = (r: Medication): DraftObject[] => [
  r.moreDosages === undefined ? dosageOut(r) : { sequence: 1, ...dosageOut(r) },
  ...(r.moreDosages ?? []).map((d, i) => moreDosageOut(d, i + 2)),
];

/** The first Dosage a medication writes: its own fields. */
const dosageOut = (r: Medication): DraftObject => {
  const doseQuantity = parseQuantity(r.dose);
  return {
    text: dosageText(r.dose, doseQuantity === undefined, r.dosageText),
    patientInstruction: r.instructions,
    timing: {
      code: text(r.frequency),
      repeat:
        r.schedule?.times === undefined ? undefined : { timeOfDay: r.schedule.times.map((t) => `${t}:00`) },
    },
    asNeededBoolean: r.schedule?.asNeeded,
    additionalInstruction: additionalInstructionsOut(r),
    route: conceptsOut(r.route, r.routes, 100)[0],
    doseAndRate: [doseQuantity === undefined ? undefined : { doseQuantity }],
  };
};

/** A medication's status as a prescription's (MedicationRequest's `status`). */
const REQUEST_STATUS_OUT: Readonly<Record<string, string>> = { intended: 'draft' };

/** The resource a medication exports as: a MedicationRequest when it came from one, else a MedicationStatement. */
export const medicationResourceOf = (
  r: Pick<Medication, 'origin'>,
): 'MedicationRequest' | 'MedicationStatement' =>
  r.origin?.resourceType === 'MedicationRequest' ? 'MedicationRequest' : 'MedicationStatement';

export const exportMedication = (x: Exporter, r: Medication, signature: string | undefined): void => {
  const common = {
    meta: meta(r.updatedAt),
    extension: [stringExt('author-signature', signature)],
    identifier: [haleIdentifier(r.id)],
    medicationCodeableConcept: withCodes({ text: r.name }, r.codes),
    subject: x.patient,
    reasonCode: conceptsOut(r.reason, r.reasons, 500),
    note: [text(r.notes)],
  };
  const status = medicationStatus(r);
  if (medicationResourceOf(r) === 'MedicationRequest') {
    // A prescription: the elements Hale models only in part (intent, the dispense request) keep the source's rest.
    const source = r.origin?.resource ?? {};
    const dispense = isObject(source['dispenseRequest']) ? source['dispenseRequest'] : {};
    const validity = isObject(dispense['validityPeriod']) ? dispense['validityPeriod'] : {};
    // The start is when it was written, unless a kept source dated only its validity.
    const authored = r.origin?.resource === undefined || typeof source['authoredOn'] === 'string';
    x.add(
      makeResource('MedicationRequest', r.id, {
        ...common,
        status: REQUEST_STATUS_OUT[status] ?? status,
        intent: typeof source['intent'] === 'string' ? source['intent'] : 'order',
        authoredOn: authored ? fhirDateTime(r.startDate) : undefined,
        requester: r.prescriberId === undefined ? undefined : x.person(r.prescriberId),
        dosageInstruction: dosagesOut(r),
        dispenseRequest:
          r.endDate === undefined && r.validFrom === undefined && (authored || r.startDate === undefined)
            ? undefined
            : {
                ...withoutReferences(dispense),
                validityPeriod: {
                  ...validity,
                  start: authored
                    ? (fhirDateTime(r.validFrom) ?? validity['start'])
                    : fhirDateTime(r.startDate),
                  end: fhirDateTime(r.endDate),
                },
              },
      }),
    );
    return;
  }
  x.add(
    makeResource('MedicationStatement', r.id, {
      ...common,
      status,
      effectivePeriod: { start: fhirDateTime(r.startDate), end: fhirDateTime(r.endDate) },
      dateAsserted: fhirDateTime(r.assertedDate ?? r.createdAt),
      informationSource: r.prescriberId === undefined ? undefined : x.person(r.prescriberId),
      dosage: dosagesOut(r),
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

export const exportLabResult = (x: Exporter, r: LabResult, signature: string | undefined): void => {
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
  ) => {
    const value = labValue(
      v.value,
      v.units,
      current ? r.unitsCoded : undefined,
      current ? r.valueConcept : undefined,
    );
    const unitsNote = Array.isArray(value['note']) ? (value['note'] as (DraftObject | undefined)[]) : [];
    return makeResource('Observation', r.id, {
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
      ...value,
      // Interpretation, body site and notes are the current version's (like the components).
      note: [...unitsNote, current ? text(r.notes) : undefined],
      interpretation: current ? conceptsOut(r.interpretation, r.interpretations, 200) : undefined,
      bodySite: current ? conceptsOut(r.bodySite, r.bodySites, 200)[0] : undefined,
      referenceRange: [
        current && r.referenceRangeCoded?.text === v.referenceRange
          ? r.referenceRangeCoded
          : text(v.referenceRange),
      ],
      component: current
        ? (r.components ?? []).map((c) => ({
            code: withCodes(codedConcept(c.testName, c.testCode, LOINC, isLoincCode), c.codes),
            ...labValue(c.value, c.units, c.unitsCoded, c.valueConcept),
            // Samples are its value while it has no other (a value typed since wins).
            valueSampledData: c.value === undefined ? c.sampledData : undefined,
            // R4 obs-6: a reason for no value only while there is none (a value typed since wins).
            dataAbsentReason:
              c.value === undefined && c.sampledData === undefined && c.dataAbsentReason !== undefined
                ? withCodes({ text: c.dataAbsentReason.text }, c.dataAbsentReason.codes)
                : undefined,
            referenceRange: [text(c.referenceRange)],
          }))
        : undefined,
    });
  };
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
    case 'unknown':
      return 'unknown';
    default:
      return 'completed';
  }
};

/** A plan's test by name, with its LOINC code when it has one. */
const planTest = (t: { readonly testName: string; readonly testCode?: string | undefined }): DraftObject => ({
  coding: t.testCode !== undefined && isLoincCode(t.testCode) ? [coding(LOINC, t.testCode)] : undefined,
  text: t.testName,
});
/** Goal.lifecycleStatus and CarePlan.activity.detail.status of a plan's status. */
const PLAN_AIM_STATUS = {
  draft: { goal: 'proposed', activity: 'not-started' },
  active: { goal: 'active', activity: 'scheduled' },
  completed: { goal: 'completed', activity: 'unknown' },
} as const;

export const exportTreatmentPlan = (x: Exporter, r: TreatmentPlan, signature: string | undefined): void => {
  type Content = Pick<
    TreatmentPlan,
    'summary' | 'details' | 'status' | 'effectiveFrom' | 'effectiveTo' | 'goal' | 'recheck'
  >;
  const carePlan = (v: Content, version: number, lastUpdated: string) =>
    makeResource('CarePlan', r.id, {
      meta: meta(lastUpdated, version),
      // The goal has no life of its own: contained in the version that sets it (R4 references.html#contained).
      contained:
        v.goal === undefined
          ? undefined
          : [
              {
                resourceType: 'Goal',
                id: 'goal',
                lifecycleStatus: PLAN_AIM_STATUS[v.status].goal,
                description: { text: `${v.goal.testName} ${v.goal.target}` },
                subject: x.patient,
                target: [{ measure: planTest(v.goal), detailString: v.goal.target }],
              },
            ],
      identifier: [haleIdentifier(r.id)],
      status: v.status,
      intent: 'plan',
      title: v.summary,
      description: v.details,
      subject: x.patient,
      period: { start: fhirDateTime(v.effectiveFrom), end: fhirDateTime(v.effectiveTo) },
      created: fhirDateTime(r.createdAt),
      author: x.person(r.authorId),
      goal: v.goal === undefined ? undefined : [{ reference: '#goal' }],
      activity:
        v.recheck === undefined
          ? undefined
          : [
              {
                detail: {
                  kind: 'ServiceRequest',
                  code: planTest(v.recheck),
                  status: PLAN_AIM_STATUS[v.status].activity,
                  scheduledPeriod: { end: fhirDateTime(v.recheck.due) },
                },
              },
            ],
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

export const exportAppointment = (x: Exporter, r: Appointment, signature: string | undefined): void => {
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

export const exportMessage = (x: Exporter, r: Message, signature: string | undefined): void => {
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

export const exportEncounter = (x: Exporter, r: Encounter, signature: string | undefined): void => {
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
      type: r.visitTypes?.map((c) => withCodes({ text: c.text }, c.codes)),
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
