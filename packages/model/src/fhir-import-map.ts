/*
 * FHIR R4 resource → Hale record input, per resource type (docs/data-model.md, "Import"). A mapping reads
 * one resource and answers a record input (no id, patient or timestamps: the plan and the records API
 * fill those), files to upload, and the resource's elements it did not keep; or why it is not imported.
 *
 * Invariants: pure; what a mapping cannot keep is said (`notKept` element names, or `skip` with a reason),
 * never dropped silently; a mapping never invents a value a record requires (a medication with no name, a
 * result with no date is skipped, not named "unknown"). Hale's own export reads back to the record it came
 * from (the inverse of fhir.ts), so export → import → export keeps the clinical content.
 */
import type { Coding } from './common-schemas';
import {
  ALLERGY_CATEGORIES,
  BLOOD_TYPES,
  CONDITION_CATEGORIES,
  CONDITION_CLINICAL_STATUSES,
  CONDITION_SEVERITIES,
  CONDITION_VERIFICATION_STATUSES,
  LAB_RESULT_STATUSES,
  OBSERVATION_CATEGORIES,
  PROCEDURE_STATUSES,
} from './record-schemas';
import type { RecordKind } from './registry';
import {
  CVX_SYSTEM,
  LOINC_SYSTEM,
  addressText,
  codeOf,
  codingsOf,
  conceptCodes,
  conceptName,
  dateOrInstant,
  first,
  haleExtension,
  instant,
  isJson,
  list,
  namedCode,
  notesOf,
  personName,
  quantityText,
  rangeText,
  str,
  telecomOf,
  type Json,
} from './fhir-import-read';

/** An embedded file to upload before the record is written (`field`: where its FileRef goes). */
export interface PendingFile {
  readonly field: 'file' | 'attachments';
  /** Standard base64, as FHIR `Attachment.data` holds it. */
  readonly data: string;
  readonly mediaType: string;
  readonly fileName: string;
}

export type MapOutcome =
  | {
      readonly kind: RecordKind;
      readonly input: Record<string, unknown>;
      readonly files?: readonly PendingFile[];
      readonly notKept: readonly string[];
    }
  | { readonly skip: string }
  /** Read into another record of the same file (a blood type into the Profile, a next dose into its vaccine). */
  | { readonly absorbed: string };

/** What a mapping may ask of the rest of the file. */
export interface MapContext {
  readonly importedAt: string;
  /** The resource an entry's reference names in the file (undefined: not in the file). */
  resolve(reference: unknown): Json | undefined;
  /** The Hale account of the person a reference names (a Hale export's Practitioner or Patient). */
  accountOf(reference: unknown): string | undefined;
  /** The id the record read from the resource a reference names will have, when it is imported. */
  newIdOf(reference: unknown): string | undefined;
  /** The blood type read from an Observation of the file, for the Profile. */
  readonly bloodType: string | undefined;
  /** Whether a Profile is created from this file (then a blood-type Observation is absorbed into it). */
  readonly profileImported: boolean;
  /** A next dose an ImmunizationRecommendation gives for this Immunization. */
  nextDoseOf(resource: Json): string | undefined;
  /** Files a Hale DiagnosticReport presents for this Observation. */
  attachmentsOf(resource: Json): readonly Json[];
}

/** Elements every mapping reads or that carry no record content. */
const ALWAYS = ['resourceType', 'id', 'meta', 'text', 'identifier', 'extension', 'contained'];

const notKept = (resource: Json, read: readonly string[]): string[] =>
  Object.keys(resource).filter((key) => !ALWAYS.includes(key) && !read.includes(key) && !key.startsWith('_'));

const defined = (input: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));

const oneOf = <T extends string>(values: readonly T[], value: unknown): T | undefined =>
  typeof value === 'string' && (values as readonly string[]).includes(value) ? (value as T) : undefined;

const record = (
  kind: RecordKind,
  resource: Json,
  read: readonly string[],
  input: Record<string, unknown>,
  files?: readonly PendingFile[],
): MapOutcome => ({
  kind,
  input: defined(input),
  notKept: notKept(resource, read),
  ...(files === undefined || files.length === 0 ? {} : { files }),
});

const haleNote = (resource: Json): string | undefined => str(haleExtension(resource, 'note'));

// ------------------------------------------------------------------------------------------ people

const BIRTH_SEX: Readonly<Record<string, string>> = { F: 'female', M: 'male', UNK: 'unknown' };

const mapPatient = (r: Json, x: MapContext): MapOutcome => {
  const fullName = personName(first(r['name']));
  if (fullName === undefined) return { skip: 'the patient has no name' };
  const birthSexExt = list(r['extension']).find(
    (e) => isJson(e) && e['url'] === 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex',
  );
  const birthSex = isJson(birthSexExt) ? BIRTH_SEX[String(birthSexExt['valueCode'])] : undefined;
  const identity = list(r['extension']).find(
    (e) => isJson(e) && e['url'] === 'http://hl7.org/fhir/StructureDefinition/patient-genderIdentity',
  );
  const mrn = list(r['identifier'])
    .filter(isJson)
    .find((i) => codingsOf(i['type']).some((c) => c.code === 'MR'));
  const gp = first(r['generalPractitioner']);
  const phone = telecomOf(r['telecom'], 'phone');
  const email = telecomOf(r['telecom'], 'email');
  const address = addressText(first(r['address']));
  const birthDate = str(r['birthDate']);
  return record(
    'Profile',
    r,
    ['name', 'gender', 'birthDate', 'active', 'telecom', 'address', 'generalPractitioner', 'link', 'contact'],
    {
      fullName,
      birthDate: birthDate !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(birthDate) ? birthDate : undefined,
      sexAtBirth: oneOf(['female', 'male', 'other', 'unknown'] as const, r['gender']) ?? birthSex,
      gender: isJson(identity) ? conceptName(identity['valueCodeableConcept']) : undefined,
      medicalRecordNumber: mrn === undefined ? undefined : str(mrn['value']),
      bloodType: x.bloodType,
      primaryCareProvider: gp === undefined ? undefined : str(gp['display']),
      primaryCareProviderId: gp === undefined ? undefined : x.accountOf(gp['reference']),
      contact:
        phone === undefined && email === undefined && address === undefined
          ? undefined
          : defined({ phone, email, address }),
      status: r['active'] === false ? 'inactive' : 'active',
      notes: haleNote(r),
    },
  );
};

/** A Patient.contact as an emergency contact (other systems list next of kin there). */
export const mapPatientContact = (contact: Json, r: Json): MapOutcome => {
  const name = personName(contact['name']);
  const phone = telecomOf(contact['telecom'], 'phone');
  if (name === undefined || phone === undefined)
    return { skip: 'a contact without a name or a phone number' };
  return record('EmergencyContact', r, [], {
    name,
    relationship: conceptName(first(contact['relationship'])) ?? 'contact',
    phone,
    email: telecomOf(contact['telecom'], 'email'),
  });
};

const mapRelatedPerson = (r: Json): MapOutcome => {
  const name = personName(first(r['name']));
  const phone = telecomOf(r['telecom'], 'phone');
  if (name === undefined) return { skip: 'a related person without a name' };
  if (phone === undefined) return { skip: `${name}: an emergency contact needs a phone number` };
  return record('EmergencyContact', r, ['patient', 'relationship', 'name', 'telecom'], {
    name,
    relationship: conceptName(first(r['relationship'])) ?? 'contact',
    phone,
    email: telecomOf(r['telecom'], 'email'),
    notes: haleNote(r),
  });
};

// ------------------------------------------------------------------------------------------ clinical

const mapAllergy = (r: Json, x: MapContext): MapOutcome => {
  const substance = conceptName(r['code']);
  if (substance === undefined) return { skip: 'an allergy that names no substance' };
  const verification = codeOf(r['verificationStatus']);
  if (verification === 'refuted' || verification === 'entered-in-error') {
    return { skip: `${substance}: marked ${verification} by the source` };
  }
  const clinical = codeOf(r['clinicalStatus']);
  const reaction = first(r['reaction']);
  return record(
    'Allergy',
    r,
    [
      'clinicalStatus',
      'verificationStatus',
      'category',
      'code',
      'patient',
      'onsetDateTime',
      'recordedDate',
      'note',
      'reaction',
    ],
    {
      substance,
      codes: conceptCodes(r['code']),
      category: oneOf(ALLERGY_CATEGORIES, list(r['category'])[0]),
      reaction: reaction === undefined ? undefined : conceptName(first(reaction['manifestation'])),
      severity:
        reaction === undefined
          ? undefined
          : oneOf(['mild', 'moderate', 'severe'] as const, reaction['severity']),
      onsetDate: dateOrInstant(r['onsetDateTime'], true),
      recordedAt: instant(r['recordedDate']) ?? x.importedAt,
      active: clinical === undefined || clinical === 'active',
      notes: notesOf(r['note']),
    },
  );
};

const DOSE_OF = (applied: Json | undefined): string | undefined => {
  if (applied === undefined) return undefined;
  const n = applied['doseNumberPositiveInt'];
  const of = applied['seriesDosesPositiveInt'];
  if (typeof n === 'number' && typeof of === 'number') return `${n} of ${of}`;
  return str(applied['doseNumberString']);
};

const mapImmunization = (r: Json, x: MapContext): MapOutcome => {
  const { name, code } = namedCode(r['vaccineCode'], CVX_SYSTEM);
  if (name === undefined) return { skip: 'an immunization that names no vaccine' };
  const status = str(r['status']);
  if (status !== undefined && status !== 'completed') return { skip: `${name}: status ${status}, not given` };
  const administeredAt = dateOrInstant(r['occurrenceDateTime'], true);
  if (administeredAt === undefined) return { skip: `${name}: no date it was given` };
  const actor = first(r['performer'])?.['actor'];
  const proof = haleExtension(r, 'proof-document');
  return record(
    'Immunization',
    r,
    [
      'status',
      'vaccineCode',
      'patient',
      'occurrenceDateTime',
      'recorded',
      'lotNumber',
      'doseQuantity',
      'performer',
      'note',
      'protocolApplied',
      'primarySource',
    ],
    {
      vaccineName: name,
      vaccineCode: code,
      administeredAt,
      dose: quantityText(r['doseQuantity']) ?? DOSE_OF(first(r['protocolApplied'])),
      lotNumber: str(r['lotNumber']),
      performer: isJson(actor) ? str(actor['display']) : undefined,
      providerId: isJson(actor) ? x.accountOf(actor['reference']) : undefined,
      nextDoseDate: x.nextDoseOf(r),
      proofDocumentId: isJson(proof) ? x.newIdOf(proof['reference']) : undefined,
      notes: notesOf(r['note']),
    },
  );
};

/** A medication's name and codes: its concept, or the Medication resource it references. */
const medicationConcept = (r: Json, x: MapContext): unknown => {
  if (r['medicationCodeableConcept'] !== undefined) return r['medicationCodeableConcept'];
  const reference = isJson(r['medicationReference']) ? r['medicationReference'] : undefined;
  const medication = reference === undefined ? undefined : x.resolve(reference['reference']);
  return medication?.['code'] ?? (reference === undefined ? undefined : { text: str(reference['display']) });
};

const ACTIVE_MEDICATION = new Set(['active', 'on-hold', 'intended', 'draft']);

const mapMedicationStatement = (r: Json, x: MapContext): MapOutcome => {
  const concept = medicationConcept(r, x);
  const name = conceptName(concept);
  if (name === undefined) return { skip: 'a medication with no name' };
  const status = str(r['status']);
  if (status === 'entered-in-error' || status === 'not-taken') return { skip: `${name}: ${status}` };
  const dosage = first(r['dosage']);
  const period = isJson(r['effectivePeriod']) ? r['effectivePeriod'] : undefined;
  const doseQuantity = first(dosage?.['doseAndRate'])?.['doseQuantity'];
  const source = isJson(r['informationSource']) ? r['informationSource'] : undefined;
  return record(
    'Medication',
    r,
    [
      'status',
      'medicationCodeableConcept',
      'medicationReference',
      'subject',
      'effectiveDateTime',
      'effectivePeriod',
      'dateAsserted',
      'informationSource',
      'reasonCode',
      'dosage',
    ],
    {
      name,
      codes: conceptCodes(concept),
      dose: quantityText(doseQuantity) ?? str(dosage?.['text']),
      frequency: conceptName(isJson(dosage?.['timing']) ? dosage['timing']['code'] : undefined),
      instructions: str(dosage?.['patientInstruction']),
      active: status === undefined || ACTIVE_MEDICATION.has(status),
      startDate: dateOrInstant(period?.['start']) ?? dateOrInstant(r['effectiveDateTime']),
      endDate: dateOrInstant(period?.['end']),
      prescriberId: source === undefined ? undefined : x.accountOf(source['reference']),
      reason: conceptName(first(r['reasonCode'])),
    },
  );
};

const PERIOD_UNITS: Readonly<Record<string, string>> = {
  s: 'second',
  min: 'minute',
  h: 'hour',
  d: 'day',
  wk: 'week',
  mo: 'month',
  a: 'year',
};

const timingText = (timing: unknown): string | undefined => {
  if (!isJson(timing)) return undefined;
  const named = conceptName(timing['code']);
  if (named !== undefined) return named;
  const repeat = isJson(timing['repeat']) ? timing['repeat'] : undefined;
  const frequency = repeat?.['frequency'];
  const period = repeat?.['period'];
  const unit = PERIOD_UNITS[String(repeat?.['periodUnit'])];
  if (typeof frequency !== 'number' || typeof period !== 'number' || unit === undefined) return undefined;
  return `${frequency} time${frequency === 1 ? '' : 's'} every ${period === 1 ? '' : `${period} `}${unit}${period === 1 ? '' : 's'}`;
};

const mapMedicationRequest = (r: Json, x: MapContext): MapOutcome => {
  const concept = medicationConcept(r, x);
  const name = conceptName(concept);
  if (name === undefined) return { skip: 'a prescription with no medication name' };
  const status = str(r['status']);
  if (status === 'entered-in-error') return { skip: `${name}: entered in error` };
  const dosage = first(r['dosageInstruction']);
  const doseQuantity = first(dosage?.['doseAndRate'])?.['doseQuantity'];
  const validity = isJson(r['dispenseRequest']) ? r['dispenseRequest']['validityPeriod'] : undefined;
  const reason = conceptName(first(r['reasonCode'])) ?? str(first(r['reasonReference'])?.['display']);
  return record(
    'Medication',
    r,
    [
      'status',
      'medicationCodeableConcept',
      'medicationReference',
      'subject',
      'authoredOn',
      'reasonCode',
      'reasonReference',
      'dosageInstruction',
      'dispenseRequest',
      'intent',
    ],
    {
      name,
      codes: conceptCodes(concept),
      dose: quantityText(doseQuantity),
      frequency:
        timingText(dosage?.['timing']) ?? (dosage?.['asNeededBoolean'] === true ? 'as needed' : undefined),
      instructions: str(dosage?.['text']) ?? str(dosage?.['patientInstruction']),
      active: status === undefined || ACTIVE_MEDICATION.has(status),
      startDate:
        dateOrInstant(r['authoredOn']) ?? dateOrInstant(isJson(validity) ? validity['start'] : undefined),
      endDate: dateOrInstant(isJson(validity) ? validity['end'] : undefined),
      reason,
    },
  );
};

// ------------------------------------------------------------------------------------------ results

const BLOOD_TYPE_LOINC = '882-1';
const RH_RE = /^\s*(AB|A|B|O)\s*(\+|-|pos(?:itive)?|neg(?:ative)?|Rh\(D\) positive|Rh\(D\) negative)/i;

/** A blood type (`O+`) from an ABO/Rh Observation's value, when it reads as one. */
export const bloodTypeOf = (r: Json): string | undefined => {
  if (!codingsOf(r['code']).some((c) => c.system === LOINC_SYSTEM && c.code === BLOOD_TYPE_LOINC))
    return undefined;
  const text = conceptName(r['valueCodeableConcept']) ?? str(r['valueString']);
  if (text === undefined) return undefined;
  if ((BLOOD_TYPES as readonly string[]).includes(text)) return text;
  const match = RH_RE.exec(text.replace(/^Blood group /i, ''));
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  const sign = /^(\+|pos|Rh\(D\) pos)/i.test(match[2]) ? '+' : '-';
  return `${match[1].toUpperCase()}${sign}`;
};

const RENDERED = 'http://hl7.org/fhir/StructureDefinition/rendered-value';

/** An Observation's (or component's) value and units as Hale keeps them. */
const valueOf = (r: Json): { value?: number | string; units?: string; notKept?: string } => {
  const q = isJson(r['valueQuantity']) ? r['valueQuantity'] : undefined;
  if (q !== undefined && typeof q['value'] === 'number') {
    const units = str(q['unit']) ?? str(q['code']);
    const rendered = isJson(q['_value'])
      ? list(q['_value']['extension']).find((e) => isJson(e) && e['url'] === RENDERED)
      : undefined;
    const digits = isJson(rendered) ? str(rendered['valueString']) : undefined;
    const comparator = str(q['comparator']);
    const value =
      comparator === undefined && digits === undefined
        ? q['value']
        : `${comparator ?? ''}${digits ?? q['value']}`;
    return { value, ...(units === undefined ? {} : { units }) };
  }
  if (typeof r['valueString'] === 'string') {
    const unitsNote = list(r['note'])
      .filter(isJson)
      .map((n) => /^Units: (.+)$/s.exec(String(n['text']))?.[1])
      .find((u) => u !== undefined);
    return { value: r['valueString'], ...(unitsNote === undefined ? {} : { units: unitsNote }) };
  }
  if (r['valueCodeableConcept'] !== undefined) {
    const name = conceptName(r['valueCodeableConcept']);
    return name === undefined ? {} : { value: name, notKept: 'valueCodeableConcept.coding' };
  }
  if (typeof r['valueInteger'] === 'number') return { value: r['valueInteger'] };
  if (typeof r['valueBoolean'] === 'boolean') return { value: r['valueBoolean'] ? 'yes' : 'no' };
  if (typeof r['valueDateTime'] === 'string') return { value: r['valueDateTime'] };
  return {};
};

const componentOf = (c: Json) => {
  const { name, code } = namedCode(c['code'], LOINC_SYSTEM);
  const { value, units } = valueOf(c);
  return defined({
    testCode: code,
    testName: name ?? 'Component',
    value,
    units,
    referenceRange: rangeText(first(c['referenceRange'])),
  });
};

const mapObservation = (r: Json, x: MapContext): MapOutcome => {
  if (x.profileImported && bloodTypeOf(r) !== undefined)
    return { absorbed: 'blood type, kept in the profile' };
  const { name, code } = namedCode(r['code'], LOINC_SYSTEM);
  if (name === undefined) return { skip: 'a result that names no test' };
  const status = oneOf(LAB_RESULT_STATUSES, r['status']);
  if (status === undefined) return { skip: `${name}: status ${String(r['status'])} has no Hale equivalent` };
  const period = isJson(r['effectivePeriod']) ? r['effectivePeriod'] : undefined;
  const effectiveAt =
    dateOrInstant(r['effectiveDateTime']) ??
    dateOrInstant(r['effectiveInstant']) ??
    dateOrInstant(period?.['start']) ??
    instant(r['issued']);
  if (effectiveAt === undefined) return { skip: `${name}: no date it was taken` };
  const categories = list(r['category']).flatMap((c) => codingsOf(c).map((coding) => coding.code));
  const category = categories.map((c) => oneOf(OBSERVATION_CATEGORIES, c)).find((c) => c !== undefined);
  const { value, units, notKept: valueNotKept } = valueOf(r);
  const order = x.resolve(first(r['basedOn'])?.['reference']);
  const requester = isJson(order?.['requester']) ? order['requester'] : undefined;
  const attachments = x.attachmentsOf(r);
  const files: PendingFile[] = [];
  const missing: string[] = [];
  for (const a of attachments) {
    const data = str(a['data']);
    if (data === undefined) missing.push(str(a['title']) ?? 'attachment');
    else
      files.push({
        field: 'attachments',
        data,
        mediaType: str(a['contentType']) ?? 'application/octet-stream',
        fileName: str(a['title']) ?? 'attachment',
      });
  }
  const components = list(r['component']).filter(isJson).map(componentOf);
  const outcome = record(
    'LabResult',
    r,
    [
      'status',
      'category',
      'code',
      'subject',
      'basedOn',
      'effectiveDateTime',
      'effectiveInstant',
      'effectivePeriod',
      'issued',
      'performer',
      'valueQuantity',
      'valueString',
      'valueCodeableConcept',
      'valueInteger',
      'valueBoolean',
      'valueDateTime',
      'referenceRange',
      'component',
      'note',
      'encounter',
    ],
    {
      testCode: code,
      testName: name,
      codes: conceptCodes(r['code'], (c: Coding) => c.system === LOINC_SYSTEM && c.code === code),
      category: category === 'laboratory' ? undefined : category,
      status,
      value,
      units,
      referenceRange: rangeText(first(r['referenceRange'])),
      effectiveAt,
      publishedAt: instant(r['issued']),
      orderedBy: requester === undefined ? undefined : x.accountOf(requester['reference']),
      performer: str(first(r['performer'])?.['display']),
      components: components.length > 0 ? components.slice(0, 20) : undefined,
    },
    files,
  );
  if (!('kind' in outcome)) return outcome;
  const extra = [
    ...(valueNotKept === undefined ? [] : [valueNotKept]),
    ...missing.map((m) => `${m} (not embedded in the file)`),
  ];
  return extra.length === 0 ? outcome : { ...outcome, notKept: [...outcome.notKept, ...extra] };
};

const DOCUMENT_TYPES: Readonly<Record<string, string>> = {
  '11502-2': 'lab-report',
  '18748-4': 'imaging',
  '57833-6': 'prescription',
  '18842-5': 'discharge-summary',
};

/** A file an Attachment embeds, or why not. */
const embedded = (attachment: unknown, title: string): PendingFile | string => {
  if (!isJson(attachment)) return 'no file';
  const data = str(attachment['data']);
  if (data === undefined) {
    return str(attachment['url']) === undefined ? 'no file' : 'the file is only linked, not in the import';
  }
  const fileName = str(haleExtension(attachment, 'file-name')) ?? str(attachment['title']) ?? title;
  return {
    field: 'file',
    data,
    mediaType: str(attachment['contentType']) ?? 'application/octet-stream',
    fileName,
  };
};

const mapDocumentReference = (r: Json, x: MapContext): MapOutcome => {
  const status = str(r['status']);
  if (status === 'superseded')
    return { skip: 'an earlier version of a document (the current one is imported)' };
  if (status === 'entered-in-error') return { skip: 'a document entered in error' };
  const attachment = first(r['content'])?.['attachment'];
  const title =
    (isJson(attachment) ? str(attachment['title']) : undefined) ??
    str(r['description']) ??
    conceptName(r['type']) ??
    'Document';
  const file = embedded(attachment, title);
  if (typeof file === 'string') return { skip: `${title}: ${file}` };
  const typeCode = codingsOf(r['type']).find((c) => c.system === LOINC_SYSTEM)?.code;
  const typeText = isJson(r['type']) ? str(r['type']['text']) : undefined;
  return record(
    'HealthDocument',
    r,
    [
      'status',
      'type',
      'category',
      'subject',
      'date',
      'author',
      'description',
      'relatesTo',
      'content',
      'context',
    ],
    {
      title,
      documentType: typeText ?? (typeCode === undefined ? undefined : DOCUMENT_TYPES[typeCode]) ?? 'document',
      description: str(r['description']),
      tags: list(r['category']).flatMap((c) => (conceptName(c) === undefined ? [] : [conceptName(c)])),
      uploadedAt: instant(r['date']) ?? x.importedAt,
    },
    [file],
  );
};

const mapDiagnosticReport = (r: Json, x: MapContext): MapOutcome => {
  const name = conceptName(r['code']) ?? 'Report';
  const forms = list(r['presentedForm']).filter(isJson);
  const results = list(r['result']).length;
  if (forms.length === 0) {
    return str(r['conclusion']) !== undefined
      ? {
          skip: `${name}: a report with a conclusion but no file; its ${results} result(s) are imported one by one`,
        }
      : { skip: `${name}: a report grouping ${results} result(s), which are imported one by one` };
  }
  const file = embedded(forms[0], name);
  if (typeof file === 'string') return { skip: `${name}: ${file}` };
  const lab = list(r['category']).some((c) => codingsOf(c).some((coding) => coding.code === 'LAB'));
  return record(
    'HealthDocument',
    r,
    [
      'status',
      'category',
      'code',
      'subject',
      'effectiveDateTime',
      'issued',
      'result',
      'conclusion',
      'presentedForm',
      'performer',
      'basedOn',
    ],
    {
      title: name,
      documentType: lab ? 'lab-report' : 'report',
      description: str(r['conclusion']),
      uploadedAt: instant(r['issued']) ?? x.importedAt,
    },
    [file],
  );
};

// ------------------------------------------------------------------------------------------ visits

const ENCOUNTER_TYPES: Readonly<Record<string, string>> = {
  AMB: 'outpatient',
  SS: 'outpatient',
  HH: 'outpatient',
  FLD: 'outpatient',
  PRENC: 'outpatient',
  IMP: 'inpatient',
  ACUTE: 'inpatient',
  NONAC: 'inpatient',
  OBSENC: 'inpatient',
  EMER: 'emergency',
  VR: 'telehealth',
  // Words some systems (older Synthea) put in class.code.
  wellness: 'outpatient',
  ambulatory: 'outpatient',
  outpatient: 'outpatient',
  urgentcare: 'outpatient',
  inpatient: 'inpatient',
  emergency: 'emergency',
  virtual: 'telehealth',
};
const ENCOUNTER_STATUSES: Readonly<Record<string, string>> = {
  planned: 'planned',
  arrived: 'in-progress',
  triaged: 'in-progress',
  'in-progress': 'in-progress',
  onleave: 'in-progress',
  finished: 'finished',
  cancelled: 'cancelled',
};

const mapEncounter = (r: Json, x: MapContext): MapOutcome => {
  const classCode = isJson(r['class']) ? str(r['class']['code']) : undefined;
  const type = classCode === undefined ? undefined : ENCOUNTER_TYPES[classCode];
  if (type === undefined)
    return { skip: `a visit of class ${classCode ?? '(none)'}, which Hale has no type for` };
  const status = ENCOUNTER_STATUSES[String(r['status'])];
  if (status === undefined) return { skip: `a visit with status ${String(r['status'])}` };
  const period = isJson(r['period']) ? r['period'] : undefined;
  const startedAt = instant(period?.['start']);
  if (startedAt === undefined) return { skip: 'a visit without a start time' };
  const number =
    list(r['identifier'])
      .filter(isJson)
      .map((i) => (codingsOf(i['type']).some((c) => c.code === 'VN') ? str(i['value']) : undefined))
      .find((v) => v !== undefined) ?? str(r['id']);
  const clinician = first(r['participant'])?.['individual'];
  const place = first(r['location'])?.['location'];
  return record(
    'Encounter',
    r,
    [
      'status',
      'class',
      'type',
      'serviceType',
      'subject',
      'participant',
      'period',
      'reasonCode',
      'location',
      'serviceProvider',
    ],
    {
      encounterNumber: number?.slice(0, 64),
      type,
      department: conceptName(r['serviceType']) ?? conceptName(first(r['type'])),
      location: isJson(place) ? str(place['display']) : undefined,
      clinicianId: isJson(clinician) ? x.accountOf(clinician['reference']) : undefined,
      startedAt,
      endedAt: instant(period?.['end']),
      status,
      reason: conceptName(first(r['reasonCode'])),
    },
  );
};

const SEVERITY_BY_SNOMED: Readonly<Record<string, string>> = {
  '255604002': 'mild',
  '6736007': 'moderate',
  '24484000': 'severe',
};

const mapCondition = (r: Json): MapOutcome => {
  const name = conceptName(r['code']);
  if (name === undefined) return { skip: 'a condition with no name' };
  const onset = isJson(r['onsetPeriod']) ? r['onsetPeriod']['start'] : r['onsetDateTime'];
  const abatement = isJson(r['abatementPeriod']) ? r['abatementPeriod']['end'] : r['abatementDateTime'];
  const abatementDate = dateOrInstant(abatement, true);
  const clinical =
    oneOf(CONDITION_CLINICAL_STATUSES, codeOf(r['clinicalStatus'])) ??
    (abatementDate === undefined ? 'active' : 'resolved');
  const severityCode = codeOf(r['severity']);
  return record(
    'Condition',
    r,
    [
      'clinicalStatus',
      'verificationStatus',
      'category',
      'severity',
      'code',
      'bodySite',
      'subject',
      'onsetDateTime',
      'onsetPeriod',
      'abatementDateTime',
      'abatementPeriod',
      'recordedDate',
      'note',
      'encounter',
    ],
    {
      name,
      codes: conceptCodes(r['code']),
      clinicalStatus: clinical,
      verificationStatus: oneOf(CONDITION_VERIFICATION_STATUSES, codeOf(r['verificationStatus'])),
      category: list(r['category'])
        .flatMap((c) => codingsOf(c).map((x) => oneOf(CONDITION_CATEGORIES, x.code)))
        .find((c) => c !== undefined),
      severity:
        (severityCode === undefined ? undefined : SEVERITY_BY_SNOMED[severityCode]) ??
        oneOf(CONDITION_SEVERITIES, isJson(r['severity']) ? r['severity']['text'] : undefined),
      bodySite: conceptName(first(r['bodySite'])),
      onsetDate: dateOrInstant(onset, true),
      abatementDate,
      recordedAt: instant(r['recordedDate']),
      notes: notesOf(r['note']),
    },
  );
};

const mapProcedure = (r: Json): MapOutcome => {
  const name = conceptName(r['code']);
  if (name === undefined) return { skip: 'a procedure with no name' };
  const status = oneOf(PROCEDURE_STATUSES, r['status']);
  if (status === undefined) return { skip: `${name}: no status` };
  const period = isJson(r['performedPeriod']) ? r['performedPeriod'] : undefined;
  const actor = first(r['performer'])?.['actor'];
  const location = isJson(r['location']) ? r['location'] : undefined;
  return record(
    'Procedure',
    r,
    [
      'status',
      'code',
      'subject',
      'performedDateTime',
      'performedPeriod',
      'performer',
      'location',
      'reasonCode',
      'bodySite',
      'outcome',
      'note',
      'encounter',
    ],
    {
      name,
      codes: conceptCodes(r['code']),
      status,
      performedAt: dateOrInstant(period?.['start'] ?? r['performedDateTime'], true),
      performedEndAt: dateOrInstant(period?.['end']),
      performer: isJson(actor) ? str(actor['display']) : undefined,
      location: location === undefined ? undefined : str(location['display']),
      reason: conceptName(first(r['reasonCode'])),
      bodySite: conceptName(first(r['bodySite'])),
      outcome: conceptName(r['outcome']),
      notes: notesOf(r['note']),
    },
  );
};

// ------------------------------------------------------------------------------------------ the rest

/** Why a resource of a type Hale has no kind for is not imported, in words for the person. */
const NOT_IMPORTED: Readonly<Record<string, string>> = {
  Practitioner: 'a clinician: kept by name on the records that mention them',
  PractitionerRole: 'a clinician’s role: kept by name on the records that mention it',
  Organization: 'an organisation: kept by name on the records that mention it',
  Location: 'a place: kept by name on the records that mention it',
  Device: 'a device that recorded data',
  Provenance: 'the history of a record in its source system (each imported record keeps where it came from)',
  Claim: 'billing: Hale keeps no billing records',
  ExplanationOfBenefit: 'billing: Hale keeps no billing records',
  Coverage: 'insurance coverage: Hale keeps no insurance records',
  CarePlan:
    'a care plan is written in Hale by the clinician responsible for it, not re-created under your name',
  Goal: 'a care goal: Hale has no record kind for goals',
  CareTeam: 'a care team: Hale has no record kind for care teams',
  Composition: 'a clinical note or document index: notes are written and signed in Hale by their authors',
  Communication: 'a message belongs to the conversation it was sent in',
  Appointment: 'appointments are booked in Hale with a Hale provider',
  Consent: 'sharing is granted in Hale, not imported',
  AuditEvent: 'an access log belongs to the account it was recorded for',
  Task: 'a request to sign a note',
  ServiceRequest: 'an order: the results it led to are imported',
  ImagingStudy: 'imaging series: import the report or the images as documents',
  MedicationAdministration: 'a single dose given in hospital',
  Medication: 'a medicine’s definition: kept on the prescriptions that name it',
  ImmunizationRecommendation: 'a recommendation without the immunization it follows',
  OperationOutcome: 'a server’s message, no record',
};

export const notImportedReason = (resourceType: string): string =>
  NOT_IMPORTED[resourceType] ?? `${resourceType}: Hale has no record kind for it`;

/** Maps one resource (of the file's patient); `undefined` for a type that has no mapping. */
export const mapResource = (r: Json, x: MapContext): MapOutcome | undefined => {
  switch (r['resourceType']) {
    case 'Patient':
      return mapPatient(r, x);
    case 'RelatedPerson':
      return mapRelatedPerson(r);
    case 'AllergyIntolerance':
      return mapAllergy(r, x);
    case 'Immunization':
      return mapImmunization(r, x);
    case 'MedicationStatement':
      return mapMedicationStatement(r, x);
    case 'MedicationRequest':
      return mapMedicationRequest(r, x);
    case 'Observation':
      return mapObservation(r, x);
    case 'DocumentReference':
      return mapDocumentReference(r, x);
    case 'DiagnosticReport':
      return mapDiagnosticReport(r, x);
    case 'Encounter':
      return mapEncounter(r, x);
    case 'Condition':
      return mapCondition(r);
    case 'Procedure':
      return mapProcedure(r);
    default:
      return undefined;
  }
};
