/*
 * FHIR R4 resource → Hale record input, per resource type (docs/data-model.md, "Import"); each kind's
 * description names the mappings that make its records (`fhir.import`). A mapping reads
 * one resource and answers a record input (no id, patient or timestamps: the plan and the records API
 * fill those), files to upload, and the resource's elements it did not keep; or why it is not imported.
 *
 * Invariants: pure; what a mapping cannot keep is said (`notKept` element names, or `skip` with a reason),
 * never dropped silently; a mapping never invents a value a record requires (a medication with no name, a
 * result with no date is skipped, not named "unknown"). Hale's own export reads back to the record it came
 * from (the inverse of fhir.ts), so export → import → export keeps the clinical content.
 */
import {
  ALLERGY_CATEGORIES,
  ALLERGY_CLINICAL_STATUSES,
  ALLERGY_CRITICALITIES,
  ALLERGY_SEVERITIES,
  ALLERGY_VERIFICATIONS,
  CONDITION_CATEGORIES,
  CONDITION_CLINICAL_STATUSES,
  CONDITION_SEVERITIES,
  CONDITION_VERIFICATION_STATUSES,
  MAX_DOSE_TIMES,
  MEDICATION_STATUSES,
  PROCEDURE_STATUSES,
  type MedicationSchedule,
  type AllergyReaction,
  type Concept,
  type MedicationDosage,
} from './record-schemas';
import { reactionSummary } from './allergy-reactions';
import { FOOD_CODES, FOOD_DISPLAY } from './fhir-export-records';

/** The food instructions as Hale's own export writes them, read back as concepts. */
const FOOD_CONCEPTS = Object.fromEntries(
  (['with', 'without'] as const).map((food) => [
    food,
    {
      text: FOOD_DISPLAY[food],
      codes: [{ system: 'http://snomed.info/sct', code: FOOD_CODES[food], display: FOOD_DISPLAY[food] }],
    },
  ]),
) as Readonly<Record<'with' | 'without', Concept>>;
import { conceptsText } from './concepts';
import {
  CVX_SYSTEM,
  addressText,
  codeOf,
  codingsOf,
  clip,
  conceptCodes,
  conceptCodings,
  conceptsOf,
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
  str,
  telecomOf,
  type Json,
} from './fhir-import-read';

/** An embedded file to upload before the record is written (`field`: where its FileRef goes). */
import {
  bodySitesOf,
  defined,
  oneOf,
  record,
  haleNote,
  type MapContext,
  type MapOutcome,
} from './fhir-import-map-base';
import { bloodTypeOf } from './fhir-import-map-results';
import { periodOf, personPartsOf } from './person-parts';

export type { MapContext, MapOutcome, PendingFile } from './fhir-import-map-base';
export { bloodTypeOf };

// ------------------------------------------------------------------------------------------ people

const BIRTH_SEX: Readonly<Record<string, string>> = { F: 'female', M: 'male', UNK: 'unknown' };

export const mapPatient = (r: Json, x: MapContext): MapOutcome => {
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
  const medicalRecordNumber = mrn === undefined ? undefined : str(mrn['value']);
  return record(
    'Profile',
    r,
    ['name', 'gender', 'birthDate', 'active', 'telecom', 'address', 'generalPractitioner', 'link', 'contact'],
    {
      fullName,
      birthDate: birthDate !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(birthDate) ? birthDate : undefined,
      sexAtBirth: oneOf(['female', 'male', 'other', 'unknown'] as const, r['gender']) ?? birthSex,
      gender: isJson(identity) ? conceptName(identity['valueCodeableConcept']) : undefined,
      medicalRecordNumber,
      bloodType: x.bloodType,
      primaryCareProvider: gp === undefined ? undefined : str(gp['display']),
      primaryCareProviderId: gp === undefined ? undefined : x.accountOf(gp['reference']),
      contact:
        phone === undefined && email === undefined && address === undefined
          ? undefined
          : defined({ phone, email, address }),
      status: r['active'] === false ? 'inactive' : 'active',
      notes: haleNote(r),
      ...personPartsOf(r, { name: fullName, phone, email, address, mrn: medicalRecordNumber }),
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
    ...personPartsOf(contact, { name, phone, email: telecomOf(contact['telecom'], 'email') }),
  });
};

export const mapRelatedPerson = (r: Json): MapOutcome => {
  const name = personName(first(r['name']));
  const phone = telecomOf(r['telecom'], 'phone');
  if (name === undefined) return { skip: 'a related person without a name' };
  if (phone === undefined) return { skip: `${name}: an emergency contact needs a phone number` };
  // A FHIR `date`: a year, a month or a day (never a time).
  const birthDate = dateOrInstant(r['birthDate'], true);
  return record(
    'EmergencyContact',
    r,
    ['patient', 'relationship', 'name', 'telecom', 'birthDate', 'period'],
    {
      name,
      relationship: conceptName(first(r['relationship'])) ?? 'contact',
      phone,
      email: telecomOf(r['telecom'], 'email'),
      notes: haleNote(r),
      birthDate: birthDate?.includes('T') === true ? undefined : birthDate,
      period: periodOf(r['period']),
      ...personPartsOf(r, { name, phone, email: telecomOf(r['telecom'], 'email') }),
    },
  );
};

// ------------------------------------------------------------------------------------------ clinical

export const mapAllergy = (r: Json, x: MapContext): MapOutcome => {
  const substance = conceptName(r['code']);
  if (substance === undefined) return { skip: 'an allergy that names no substance' };
  const verification = codeOf(r['verificationStatus']);
  if (verification === 'refuted' || verification === 'entered-in-error') {
    return { skip: `${substance}: marked ${verification} by the source` };
  }
  const clinical = codeOf(r['clinicalStatus']);
  const reactions = list(r['reaction']).filter(isJson).map(reactionOf);
  const kept = reactions.filter((e) => e !== undefined).slice(0, 20);
  // Read but not all kept: said, so that no one takes the record for the whole of the source.
  const partly = kept.length < reactions.length ? ['reaction (one that names no manifestation)'] : [];
  const outcome = record(
    'Allergy',
    r,
    [
      'clinicalStatus',
      'verificationStatus',
      'category',
      'criticality',
      'code',
      'patient',
      'onsetDateTime',
      'recordedDate',
      'note',
      'reaction',
      'lastOccurrence',
    ],
    {
      substance,
      codes: conceptCodes(r['code']),
      category: oneOf(ALLERGY_CATEGORIES, list(r['category'])[0]),
      verificationStatus: oneOf(ALLERGY_VERIFICATIONS, verification),
      criticality: oneOf(ALLERGY_CRITICALITIES, r['criticality']),
      ...reactionSummary(kept),
      reactions: kept.length > 0 ? kept : undefined,
      onsetDate: dateOrInstant(r['onsetDateTime'], true),
      recordedAt: dateOrInstant(r['recordedDate']) ?? x.importedAt,
      active: clinical === undefined || clinical === 'active',
      clinicalStatus: oneOf(ALLERGY_CLINICAL_STATUSES, clinical),
      notes: notesOf(r['note']),
      lastOccurrence: dateOrInstant(r['lastOccurrence'], true),
    },
  );
  return 'kind' in outcome ? { ...outcome, notKept: [...outcome.notKept, ...partly] } : outcome;
};

/** One reaction of an AllergyIntolerance; undefined when it names no manifestation. */
const reactionOf = (reaction: Json): AllergyReaction | undefined => {
  const manifestations = list(reaction['manifestation'])
    .slice(0, 20)
    .flatMap((m): Concept[] => {
      const name = conceptName(m);
      return name === undefined
        ? []
        : [defined({ text: clip(name, 200), codes: conceptCodings(m) }) as Concept];
    });
  if (manifestations.length === 0) return undefined;
  const description = str(reaction['description']);
  const notes = notesOf(reaction['note']);
  return defined({
    substance: conceptsOf([reaction['substance']], 1)?.[0],
    exposureRoute: conceptsOf([reaction['exposureRoute']], 1)?.[0],
    manifestations,
    severity: oneOf(ALLERGY_SEVERITIES, reaction['severity']),
    onset: dateOrInstant(reaction['onset'], true),
    description: description === undefined ? undefined : clip(description, 1000),
    notes: notes === undefined ? undefined : clip(notes, 4000),
  }) as AllergyReaction;
};

const DOSE_OF = (applied: Json | undefined): string | undefined => {
  if (applied === undefined) return undefined;
  const n = applied['doseNumberPositiveInt'];
  const of = applied['seriesDosesPositiveInt'];
  if (typeof n === 'number' && typeof of === 'number') return `${n} of ${of}`;
  return str(applied['doseNumberString']);
};

export const mapImmunization = (r: Json, x: MapContext): MapOutcome => {
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

/** A resource contained in `r` that a local reference (`#id`) names. */
const containedIn = (r: Json, reference: unknown): Json | undefined =>
  typeof reference === 'string' && reference.startsWith('#')
    ? list(r['contained'])
        .filter(isJson)
        .find((c) => c['id'] === reference.slice(1))
    : undefined;

/** A medication's name and codes: its concept, or the Medication resource it references (in the file or contained). */
const medicationConcept = (r: Json, x: MapContext): unknown => {
  if (r['medicationCodeableConcept'] !== undefined) return r['medicationCodeableConcept'];
  const reference = isJson(r['medicationReference']) ? r['medicationReference'] : undefined;
  const medication =
    reference === undefined
      ? undefined
      : (containedIn(r, reference['reference']) ?? x.resolve(reference['reference']));
  return (
    medication?.['code'] ??
    ingredientsName(medication) ??
    (reference === undefined ? undefined : { text: str(reference['display']) })
  );
};

/** A Medication without a code named by its ingredients (a compounded or mixed product), as a concept. */
const ingredientsName = (medication: Json | undefined): Json | undefined => {
  const names = list(medication?.['ingredient'])
    .filter(isJson)
    .map(
      (i) =>
        conceptName(i['itemCodeableConcept']) ??
        (isJson(i['itemReference']) ? str(i['itemReference']['display']) : undefined),
    )
    .filter((n): n is string => n !== undefined);
  return names.length === 0 ? undefined : { text: clip(names.join(' + '), 200) };
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

const ACTIVE_MEDICATION = new Set(['active', 'on-hold', 'intended', 'draft']);

/** A prescription's status as a medication's (fhir-export-records.ts writes it back: `intended` → `draft`). */
const REQUEST_STATUS: Readonly<Record<string, (typeof MEDICATION_STATUSES)[number]>> = {
  active: 'active',
  'on-hold': 'on-hold',
  completed: 'completed',
  stopped: 'stopped',
  unknown: 'unknown',
  draft: 'intended',
  cancelled: 'stopped',
};

/** A Dosage after the first: its words, route and instructions; undefined when it says none. */
const moreDosageOf = (dosage: Json): MedicationDosage | undefined => {
  const text = str(dosage['text']);
  const instructions = str(dosage['patientInstruction']);
  const more = defined({
    text: text === undefined ? undefined : clip(text, 1000),
    route: conceptsOf([dosage['route']], 1)?.[0],
    instructions: instructions === undefined ? undefined : clip(instructions, 2000),
    additionalInstructions: conceptsOf(dosage['additionalInstruction']),
  });
  return Object.keys(more).length === 0 ? undefined : more;
};

/** What a medication keeps of its Dosages: the first in its own fields, the others as written. */
const dosagesOf = (dosages: unknown) => {
  const [firstDosage, ...rest] = list(dosages).filter(isJson);
  const more = rest
    .map(moreDosageOf)
    .filter((d) => d !== undefined)
    .slice(0, 10);
  // The food instruction the schedule holds, as Hale's own export writes it, says nothing more.
  const food = scheduleOf(firstDosage)?.food;
  const instructions = conceptsOf(firstDosage?.['additionalInstruction'])?.filter(
    (c) => food === undefined || JSON.stringify(c) !== JSON.stringify(FOOD_CONCEPTS[food]),
  );
  return {
    ...dosageOf(firstDosage),
    additionalInstructions: instructions?.length === 0 ? undefined : instructions,
    moreDosages: more.length === 0 ? undefined : more,
  };
};

/** What a Dosage gives a medication: the dose, the dosage as written, the route, the instructions. */
const dosageOf = (dosage: Json | undefined) => {
  const dose = quantityText(first(dosage?.['doseAndRate'])?.['doseQuantity']);
  const text = str(dosage?.['text']);
  // Written only (no quantity) and short: it is the dose; else the dose and the words beside it.
  const textIsDose = dose === undefined && text !== undefined && [...text].length <= 100;
  const routes = conceptsOf([dosage?.['route']], 1);
  const instructions = str(dosage?.['patientInstruction']);
  return {
    dose: textIsDose ? text : dose,
    dosageText: textIsDose || text === undefined ? undefined : clip(text, 1000),
    route: routes === undefined ? undefined : conceptsText(routes, 100),
    routes,
    instructions: instructions === undefined ? undefined : clip(instructions, 2000),
  };
};

/** A Dosage's times of day, food instruction and as-needed as a schedule; undefined when it names none. */
const scheduleOf = (dosage: Json | undefined): MedicationSchedule | undefined => {
  const timing = isJson(dosage?.['timing']) ? dosage['timing'] : undefined;
  const repeat = isJson(timing?.['repeat']) ? timing['repeat'] : undefined;
  const times = [
    ...new Set(
      list(repeat?.['timeOfDay'])
        .map((t) => (typeof t === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)/.exec(t)?.[0] : undefined))
        .filter((t): t is string => t !== undefined),
    ),
  ]
    .sort()
    .slice(0, MAX_DOSE_TIMES);
  const codes = list(dosage?.['additionalInstruction'])
    .filter(isJson)
    .flatMap((c) => list(c['coding']).filter(isJson))
    .map((c) => str(c['code']));
  const food = codes.includes(FOOD_CODES.with)
    ? 'with'
    : codes.includes(FOOD_CODES.without)
      ? 'without'
      : undefined;
  const asNeeded = typeof dosage?.['asNeededBoolean'] === 'boolean' ? dosage['asNeededBoolean'] : undefined;
  if (times.length === 0 && asNeeded !== true) return undefined;
  return {
    ...(times.length === 0 ? {} : { times }),
    ...(food === undefined ? {} : { food }),
    ...(asNeeded === undefined ? {} : { asNeeded }),
  };
};

/** A medication's reasons: the words a person reads (`reason`) and the concepts the source sent. */
const reasonsOf = (r: Json): { reason?: string | undefined; reasons?: Concept[] } => {
  const reasons = conceptsOf(r['reasonCode']);
  return reasons === undefined ? {} : { reason: conceptsText(reasons, 500), reasons };
};

export const mapMedicationStatement = (r: Json, x: MapContext): MapOutcome => {
  const concept = medicationConcept(r, x);
  const name = conceptName(concept);
  if (name === undefined) return { skip: 'a medication with no name' };
  const status = str(r['status']);
  if (status === 'entered-in-error' || status === 'not-taken') return { skip: `${name}: ${status}` };
  const dosage = first(r['dosage']);
  const period = isJson(r['effectivePeriod']) ? r['effectivePeriod'] : undefined;
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
      'note',
    ],
    {
      name,
      codes: conceptCodes(concept),
      ...dosagesOf(r['dosage']),
      frequency: timingText(dosage?.['timing']),
      schedule: scheduleOf(dosage),
      active: status === undefined || ACTIVE_MEDICATION.has(status),
      status: oneOf(MEDICATION_STATUSES, status),
      startDate: dateOrInstant(period?.['start'], true) ?? dateOrInstant(r['effectiveDateTime'], true),
      endDate: dateOrInstant(period?.['end'], true),
      assertedDate: dateOrInstant(r['dateAsserted'], true),
      prescriberId: source === undefined ? undefined : x.accountOf(source['reference']),
      ...reasonsOf(r),
      notes: notesOf(r['note']),
    },
  );
};

export const mapMedicationRequest = (r: Json, x: MapContext): MapOutcome => {
  const concept = medicationConcept(r, x);
  const name = conceptName(concept);
  if (name === undefined) return { skip: 'a prescription with no medication name' };
  const status = str(r['status']);
  if (status === 'entered-in-error') return { skip: `${name}: entered in error` };
  const dosage = first(r['dosageInstruction']);
  const validity = isJson(r['dispenseRequest']) ? r['dispenseRequest']['validityPeriod'] : undefined;
  const reasons = reasonsOf(r);
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
      'note',
    ],
    {
      name,
      codes: conceptCodes(concept),
      ...dosagesOf(r['dosageInstruction']),
      frequency:
        timingText(dosage?.['timing']) ?? (dosage?.['asNeededBoolean'] === true ? 'as needed' : undefined),
      schedule: scheduleOf(dosage),
      active: status === undefined || ACTIVE_MEDICATION.has(status),
      status: status === undefined ? undefined : REQUEST_STATUS[status],
      startDate:
        dateOrInstant(r['authoredOn'], true) ??
        dateOrInstant(isJson(validity) ? validity['start'] : undefined, true),
      endDate: dateOrInstant(isJson(validity) ? validity['end'] : undefined),
      validFrom:
        r['authoredOn'] === undefined
          ? undefined
          : dateOrInstant(isJson(validity) ? validity['start'] : undefined, true),
      ...reasons,
      reason: reasons.reason ?? str(first(r['reasonReference'])?.['display']),
      notes: notesOf(r['note']),
    },
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

export const mapEncounter = (r: Json, x: MapContext): MapOutcome => {
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
      visitTypes: conceptsOf(r['type']),
    },
  );
};

const SEVERITY_BY_SNOMED: Readonly<Record<string, string>> = {
  '255604002': 'mild',
  '6736007': 'moderate',
  '24484000': 'severe',
};

export const mapCondition = (r: Json): MapOutcome => {
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
      ...bodySitesOf(r),
      onsetDate: dateOrInstant(onset, true),
      abatementDate,
      recordedAt: dateOrInstant(r['recordedDate']),
      notes: notesOf(r['note']),
    },
  );
};

export const mapProcedure = (r: Json): MapOutcome => {
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
      ...bodySitesOf(r),
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
