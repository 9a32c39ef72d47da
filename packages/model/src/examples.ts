import type { FileRef, Provenance } from './common-schemas';
import { newId } from './ids';
import { assertRecordKind, type RecordKind, type RecordOf } from './registry';

// Fixed people and times keep examples readable in test failures; ids are fresh so examples can be
// stored side by side (benchmarks insert thousands).

export const EXAMPLE_PATIENT_ID = 'PatientAccount00000001';
export const EXAMPLE_PROVIDER_ID = 'ProviderAccount0000001';
export const EXAMPLE_CAREGIVER_ID = 'CaregiverAccount000001';
export const EXAMPLE_DEVICE_ID = 'ProviderDevice00000001';

const CREATED = '2024-05-01T09:30:00.000Z';
const UPDATED = '2024-05-02T14:05:00.000Z';

const ORIGIN = {
  source: 'Riverside Hospital patient portal',
  resourceType: 'Resource',
  originalId: 'urn:uuid:4f2c1d7a-9a9e-4f5b-8c53-2d7b0f3e6a11',
  importedAt: UPDATED,
};

const base = () => ({
  id: newId(),
  patientId: EXAMPLE_PATIENT_ID,
  createdAt: CREATED,
  updatedAt: UPDATED,
  origin: ORIGIN,
});

const file = (fileName: string, mediaType: string, size: number): FileRef => ({
  blobId: newId(),
  fileName,
  mediaType,
  size,
  sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
});

const provenance = (at: string, reason: string): Provenance => ({
  by: EXAMPLE_PROVIDER_ID,
  deviceId: EXAMPLE_DEVICE_ID,
  at,
  reason,
});

// Every optional field is filled so the examples exercise the whole schema.
const EXAMPLES: { readonly [K in RecordKind]: () => RecordOf<K> } = {
  Profile: () => ({
    ...base(),
    fullName: 'Ada Example',
    birthDate: '1984-02-29',
    sexAtBirth: 'female',
    gender: 'woman',
    medicalRecordNumber: 'MRN-004217',
    bloodType: 'O+',
    primaryCareProvider: 'Dr. Lee, Riverside Family Practice',
    primaryCareProviderId: EXAMPLE_PROVIDER_ID,
    contact: { phone: '+1 555 0100', email: 'ada@example.org', address: '1 Main St, Springfield' },
    status: 'active',
    notes: 'Prefers morning appointments.',
  }),
  EmergencyContact: () => ({
    ...base(),
    name: 'Grace Example',
    relationship: 'sister',
    phone: '+1 555 0101',
    email: 'grace@example.org',
    notes: 'Call after 6 pm.',
  }),
  HealthDocument: () => ({
    ...base(),
    file: file('discharge-summary-v2.pdf', 'application/pdf', 48_213),
    documentType: 'discharge-summary',
    title: 'Discharge summary, Riverside Hospital',
    description: 'Corrected medication list on page 2.',
    tags: ['hospital', '2024'],
    uploadedAt: UPDATED,
    uploadedBy: EXAMPLE_PATIENT_ID,
    version: 2,
    versions: [
      {
        version: 1,
        file: file('discharge-summary.pdf', 'application/pdf', 47_990),
        uploadedAt: CREATED,
        uploadedBy: EXAMPLE_PATIENT_ID,
        changeNote: 'First scan.',
      },
    ],
  }),
  Allergy: () => ({
    ...base(),
    substance: 'Penicillin',
    codes: [{ system: 'http://snomed.info/sct', code: '764146007', display: 'Penicillin' }],
    category: 'medication',
    reaction: 'Hives',
    severity: 'moderate',
    onsetDate: '2009-06-15',
    recordedAt: CREATED,
    active: true,
    notes: 'Tolerates cephalosporins.',
  }),
  Immunization: () => ({
    ...base(),
    vaccineName: 'Tetanus, diphtheria, pertussis (Tdap)',
    vaccineCode: '115',
    administeredAt: '2024-04-12',
    dose: '0.5 mL',
    lotNumber: 'TD-88213',
    performer: 'Riverside Family Practice',
    providerId: EXAMPLE_PROVIDER_ID,
    nextDoseDate: '2034-04-12',
    proofDocumentId: newId(),
    notes: 'Left deltoid.',
  }),
  Medication: () => ({
    ...base(),
    name: 'Lisinopril',
    codes: [
      {
        system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
        code: '314076',
        display: 'lisinopril 10 MG Oral Tablet',
      },
    ],
    dose: '10 mg',
    frequency: 'once daily',
    instructions: 'Take in the morning with water.',
    active: true,
    startDate: '2023-11-01',
    endDate: '2025-11-01',
    prescriberId: EXAMPLE_PROVIDER_ID,
    reason: 'Hypertension',
  }),
  LabResult: () => ({
    ...base(),
    testCode: '2345-7',
    testName: 'Glucose [Mass/volume] in Serum or Plasma',
    codes: [{ system: 'http://snomed.info/sct', code: '33747003', display: 'Glucose measurement, blood' }],
    category: 'laboratory',
    status: 'corrected',
    value: 98,
    units: 'mg/dL',
    referenceRange: '70-99 mg/dL',
    effectiveAt: '2024-05-01T08:10:00Z',
    publishedAt: UPDATED,
    orderedBy: EXAMPLE_PROVIDER_ID,
    performer: 'Riverside Lab',
    attachments: [file('glucose-report.pdf', 'application/pdf', 20_480)],
    components: [
      {
        testCode: '2339-0',
        testName: 'Glucose [Mass/volume] in Blood',
        value: 97,
        units: 'mg/dL',
        referenceRange: '70-99 mg/dL',
      },
    ],
    version: 2,
    provenance: provenance(UPDATED, 'Transcription error in value'),
    versions: [
      {
        version: 1,
        status: 'final',
        value: 89,
        units: 'mg/dL',
        referenceRange: '70-99 mg/dL',
        effectiveAt: '2024-05-01T08:10:00Z',
        publishedAt: CREATED,
        provenance: provenance(CREATED, 'Initial result'),
      },
    ],
  }),
  TreatmentPlan: () => ({
    ...base(),
    authorId: EXAMPLE_PROVIDER_ID,
    summary: 'Blood pressure control',
    details: 'Lisinopril 10 mg daily; home readings twice a week; review in 3 months.',
    status: 'active',
    effectiveFrom: '2024-05-01',
    effectiveTo: '2024-08-01',
    version: 2,
    provenance: provenance(UPDATED, 'Added home readings'),
    versions: [
      {
        version: 1,
        summary: 'Blood pressure control',
        details: 'Lisinopril 10 mg daily; review in 3 months.',
        status: 'draft',
        effectiveFrom: '2024-05-01',
        effectiveTo: '2024-08-01',
        provenance: provenance(CREATED, 'Initial plan'),
      },
    ],
    acknowledgement: { by: EXAMPLE_PATIENT_ID, at: '2024-05-03T07:00:00Z', version: 2 },
  }),
  Appointment: () => ({
    ...base(),
    providerId: EXAMPLE_PROVIDER_ID,
    startAt: '2024-06-03T15:00:00+02:00',
    endAt: '2024-06-03T15:30:00+02:00',
    location: 'Riverside Family Practice, room 4',
    status: 'scheduled',
    reason: 'Blood pressure review',
    timeZone: 'Europe/Berlin',
    fromSlot: false,
    preferredTimes: [{ startAt: '2024-06-03T13:00:00Z', endAt: '2024-06-03T15:00:00Z' }],
    statusBy: EXAMPLE_PROVIDER_ID,
    statusAt: '2024-05-20T08:00:00Z',
    statusReason: 'patient-request',
    statusNote: 'Confirmed the time you asked for.',
  }),
  Message: () => ({
    ...base(),
    threadId: newId(),
    senderId: EXAMPLE_PATIENT_ID,
    recipientId: EXAMPLE_PROVIDER_ID,
    body: 'My home readings are attached.',
    attachments: [file('readings.csv', 'text/csv', 512)],
    status: 'read',
    sentAt: CREATED,
    deliveredAt: '2024-05-01T09:30:02.000Z',
    readAt: '2024-05-01T11:00:00.000Z',
  }),
  Encounter: () => ({
    ...base(),
    encounterNumber: 'ENC-2024-00042',
    type: 'outpatient',
    department: 'Family medicine',
    location: 'Riverside Family Practice',
    clinicianId: EXAMPLE_PROVIDER_ID,
    startedAt: '2024-05-01T09:00:00Z',
    endedAt: '2024-05-01T09:25:00Z',
    status: 'finished',
    reason: 'Hypertension follow-up',
  }),
  MedicalNote: () => ({
    ...base(),
    encounterId: newId(),
    authorId: EXAMPLE_PROVIDER_ID,
    title: 'Progress note: hypertension follow-up',
    noteType: 'progress',
    currentVersionNumber: 2,
    status: 'amended',
    requiresCosign: true,
  }),
  NoteVersion: () => ({
    ...base(),
    noteId: newId(),
    versionNumber: 2,
    editorId: EXAMPLE_PROVIDER_ID,
    subjective: 'No headaches. Occasional dizziness on standing.',
    objective: 'BP 138/86, HR 72.',
    assessment: 'Hypertension, improving.',
    plan: 'Continue lisinopril; recheck in 3 months.',
    changeSummary: 'Corrected heart rate.',
    kind: 'amendment',
    amendmentReason: 'Heart rate transcribed wrongly.',
  }),
  NoteSignature: () => ({
    ...base(),
    noteId: newId(),
    noteVersionId: newId(),
    signedVersionNumber: 2,
    signerId: EXAMPLE_PROVIDER_ID,
    signerRole: 'attending',
    requestedBy: EXAMPLE_PROVIDER_ID,
    status: 'signed',
    requestedAt: CREATED,
    signedAt: UPDATED,
    comment: 'Reviewed.',
  }),
  Consent: () => ({
    ...base(),
    granteeId: EXAMPLE_PROVIDER_ID,
    grantedBy: EXAMPLE_CAREGIVER_ID,
    scope: [
      { type: 'allergy', access: 'read' },
      { type: 'lab-result', access: 'write' },
    ],
    startsAt: CREATED,
    expiresAt: '2024-06-01T09:30:00.000Z',
    purpose: 'Hypertension care',
    status: 'revoked',
    revokedAt: '2024-05-20T10:00:00.000Z',
  }),
  AuditEntry: () => ({
    ...base(),
    actorId: EXAMPLE_PROVIDER_ID,
    actorDeviceId: EXAMPLE_DEVICE_ID,
    action: 'record.view',
    entityType: 'LabResult',
    entityId: newId(),
    streamType: 'lab-result',
    summary: 'Viewed glucose result',
    metadata: { screen: 'labs', count: 1, exported: false, note: null },
    at: UPDATED,
  }),
  ProviderProfile: () => ({
    id: newId(),
    accountId: EXAMPLE_PROVIDER_ID,
    displayName: 'Dr. Lin Lee',
    specialty: 'Family medicine',
    clinic: 'Riverside Family Practice',
    identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' },
    contact: { phone: '+1 555 0199', email: 'lee@riverside.example', address: '5 River Rd, Springfield' },
    createdAt: CREATED,
    updatedAt: UPDATED,
  }),
  Condition: () => ({
    ...base(),
    name: 'Essential hypertension',
    codes: [
      { system: 'http://snomed.info/sct', code: '59621000', display: 'Essential hypertension' },
      { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I10' },
    ],
    clinicalStatus: 'resolved',
    verificationStatus: 'confirmed',
    category: 'problem-list-item',
    severity: 'moderate',
    bodySite: 'Cardiovascular system',
    onsetDate: '2019-03',
    abatementDate: '2024-04-20',
    recordedAt: CREATED,
    notes: 'Controlled with lifestyle changes.',
  }),
  Procedure: () => ({
    ...base(),
    name: 'Appendectomy',
    codes: [{ system: 'http://snomed.info/sct', code: '80146002', display: 'Appendectomy' }],
    status: 'completed',
    performedAt: '2018-07-02T10:00:00Z',
    performedEndAt: '2018-07-02T11:20:00Z',
    performer: 'Dr. Chen, Riverside Hospital',
    location: 'Riverside Hospital, theatre 2',
    reason: 'Acute appendicitis',
    bodySite: 'Appendix',
    outcome: 'Uneventful recovery',
    notes: 'Laparoscopic.',
  }),
};

/**
 * A valid record of `kind` with every optional field filled and a fresh id; `overrides` replace fields
 * as given (the result is not re-validated, so tests can build invalid records on purpose).
 */
export const exampleRecord = <K extends RecordKind>(
  kind: K,
  overrides?: Partial<RecordOf<K>>,
): RecordOf<K> => {
  assertRecordKind(kind);
  const make: () => RecordOf<K> = EXAMPLES[kind];
  return { ...make(), ...overrides };
};

/**
 * Fields of the examples that name their made-up people (a provenance by the example provider, an
 * editor, a sender…) or a history they wrote: a records API fills them for the session writing.
 */
const EXAMPLE_WRITER_FIELDS = [
  'provenance',
  'version',
  'versions',
  'editorId',
  'authorId',
  'senderId',
  'signerId',
  'requestedBy',
  'uploadedBy',
  'acknowledgement',
] as const;

/**
 * An example record of `kind` as a records API's `add` takes it: no id, patient or timestamps, and none
 * of the fields naming a writer unless `overrides` gives them; no `origin` (a FHIR import sets it) either.
 */
export const exampleInput = <K extends RecordKind>(
  kind: K,
  overrides: Partial<RecordOf<K>> = {},
): Record<string, unknown> => {
  const full: Record<string, unknown> = { ...exampleRecord(kind, overrides) };
  const { id: _i, patientId: _p, createdAt: _c, updatedAt: _u, ...rest } = full;
  for (const field of [...EXAMPLE_WRITER_FIELDS, 'origin']) if (!(field in overrides)) delete rest[field];
  return rest;
};
