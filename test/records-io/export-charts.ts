// Charts built as the app builds them (`openHaleForTests` over `nodePlatform`, a real server): a patient,
// a clinician with a write grant on every stream and a published directory profile, and an attending who
// co-signs. `fullChart` holds every record kind and every state the app can make; `thinChart` what a new
// user has (a name and little else); `parties` alone is a chart with no records at all.
//
// Invariants:
// - every write goes through the public session (records, care, io), never the store;
// - the patient's device holds the clinicians' writes before a builder returns (the export reads them).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HaleSession } from '@hale/client';
import { CONSENTABLE_STREAM_TYPES, type RecordKind } from '@hale/model';
import { eventually } from '../support/devices';
import { createdSession } from '../client-api/hale-devices';

export interface Parties {
  readonly patient: HaleSession;
  /** Writes notes, plans, results and messages under the patient's write grant; in the directory. */
  readonly clinician: HaleSession;
  /** Co-signs the clinician's notes; not in the directory (its Practitioner is unnamed). */
  readonly attending: HaleSession;
}

const DAY = 24 * 3_600_000;
const CLINICIAN_NAME = 'Dr. Lin Lee';

const pdf = (text: string) => new TextEncoder().encode(`%PDF-1.4 ${text}`);

/** A patient and two clinicians, each granted write access to every stream of the patient's chart. */
export const parties = async (server: string, sessions: HaleSession[]): Promise<Parties> => {
  const { session: patient } = await createdSession(server, sessions);
  const { session: clinician } = await createdSession(server, sessions, { role: 'provider' });
  const { session: attending } = await createdSession(server, sessions, { role: 'provider' });
  await clinician.directory.publishProfile({
    displayName: CLINICIAN_NAME,
    specialty: 'Family medicine',
    clinic: 'Riverside',
    identifier: 'NPI 1234567893',
  });
  for (const provider of [clinician, attending]) {
    await patient.consent.acceptInvite(provider.consent.invite());
    await patient.consent.grant({
      granteeId: provider.account.accountId,
      scope: CONSENTABLE_STREAM_TYPES.map((type) => ({ type, access: 'write' as const })),
      durationMs: DAY,
      purpose: 'care',
    });
  }
  return { patient, clinician, attending };
};

/** Waits until `session` holds record `id` (and `check` holds of it). */
const holds = (session: HaleSession, id: string, what: string, check: (r: object) => boolean = () => true) =>
  eventually(async () => {
    const r = await session.records.get(id);
    return r !== null && check(r.record);
  }, `${session.account.role} holds ${what}`);

const require = createRequire(import.meta.url);
/** A Synthea patient shipped by cql-exec-fhir (npm): another system's whole chart. */
const syntheaPatient = (): string =>
  readFileSync(
    path.join(
      path.dirname(require.resolve('cql-exec-fhir/package.json')),
      'test/fixtures/r4',
      'Luna60_McCullough561_6662f0ca-b617-4e02-8f55-7275e9f49aa0.json',
    ),
    'utf8',
  );

/** A small file from another system: a SNOMED-coded allergy, an undated problem, a coded result. */
const otherSystemFile = (): string => {
  const patient = 'urn:uuid:0b6c1e9a-3f7d-4c1e-9a55-1c2d3e4f5a60';
  const entry = (n: number, resource: object) => ({
    fullUrl: `urn:uuid:0b6c1e9a-3f7d-4c1e-9a55-1c2d3e4f5a${String(60 + n)}`,
    resource,
  });
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        fullUrl: patient,
        resource: { resourceType: 'Patient', name: [{ given: ['Ada'], family: 'Lovelace' }] },
      },
      entry(1, {
        resourceType: 'AllergyIntolerance',
        clinicalStatus: {
          coding: [
            { system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' },
          ],
        },
        code: {
          coding: [{ system: 'http://snomed.info/sct', code: '91936005', display: 'Penicillin allergy' }],
        },
        patient: { reference: patient },
        recordedDate: '2019-03-02',
      }),
      entry(2, {
        resourceType: 'Condition',
        code: { text: 'Seasonal rhinitis' },
        subject: { reference: patient },
      }),
      entry(3, {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }] },
        subject: { reference: patient },
        effectiveDateTime: '2023-11-04T08:15:00Z',
        valueQuantity: { value: 5.4, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      }),
    ],
  });
};

/**
 * Every record kind and state: the patient's own records (each kind, inactive and resolved ones, a
 * document with two versions, a record removed), the clinician's (a plan in two versions acknowledged, a
 * draft plan, a completed plan, results corrected and entered in error, notes with an amendment and an
 * addendum, co-signatures signed, declined and outdated, appointments in each state), messages both ways
 * with attachments and receipts, an allergy in an unsettled conflict, and two imported files (a Synthea
 * patient and a small file with undated and coded records).
 */
export const fullChart = async (p: Parties): Promise<void> => {
  const { patient, clinician, attending } = p;
  const P = patient.account.accountId;
  const C = clinician.account.accountId;
  const A = attending.account.accountId;
  const at = { patientId: P };

  // The patient's own.
  await patient.records.add('Profile', {
    fullName: 'Ada Example',
    birthDate: '1984-02-29',
    sexAtBirth: 'female',
    bloodType: 'O+',
    primaryCareProviderId: C,
    contact: { phone: '+1 555 0100', email: 'ada@example.org' },
    status: 'active',
  });
  await patient.records.add('EmergencyContact', {
    name: 'Grace Example',
    relationship: 'sister',
    phone: '+1 555 0101',
  });
  await patient.records.add('Allergy', {
    substance: 'Peanuts',
    category: 'food',
    reaction: 'hives',
    severity: 'severe',
    recordedAt: '2024-01-05T10:00:00.000Z',
    active: true,
  });
  await patient.records.add('Allergy', {
    substance: 'Cat dander',
    recordedAt: '2020-01-05T10:00:00.000Z',
    active: false,
  });
  const file = await patient.files.put({
    type: 'document',
    bytes: pdf('vaccination card'),
    fileName: 'card.pdf',
    mediaType: 'application/pdf',
  });
  const doc = await patient.records.add('HealthDocument', {
    file,
    documentType: 'vaccination-card',
    title: 'Vaccination card',
    uploadedAt: '2024-02-01T09:00:00.000Z',
    version: 1,
    versions: [],
  });
  const file2 = await patient.files.put({
    type: 'document',
    bytes: pdf('vaccination card, second page'),
    fileName: 'card-2.pdf',
    mediaType: 'application/pdf',
  });
  await patient.records.update('HealthDocument', doc.id, { file: file2 });
  await patient.records.add('Immunization', {
    vaccineName: 'Tetanus and diphtheria',
    vaccineCode: '139',
    administeredAt: '2019',
    proofDocumentId: doc.id,
  });
  await patient.records.add('Medication', { name: 'Ibuprofen', dose: '200 mg', active: true });
  await patient.records.add('Medication', {
    name: 'Amoxicillin',
    active: false,
    startDate: '2023-03-01',
    endDate: '2023-03-10',
  });
  await patient.records.add('Condition', { name: 'Migraine', clinicalStatus: 'active' });
  await patient.records.add('Condition', {
    name: 'Appendicitis',
    clinicalStatus: 'resolved',
    onsetDate: '2011-06',
    abatementDate: '2011-06-20',
  });
  await patient.records.add('Procedure', {
    name: 'Appendectomy',
    status: 'completed',
    performedAt: '2011-06-12',
  });
  await patient.records.add('Procedure', { name: 'Knee arthroscopy', status: 'unknown' });
  await patient.records.add('Encounter', {
    encounterNumber: 'E-1',
    type: 'outpatient',
    startedAt: '2024-03-01T09:00:00.000Z',
    status: 'finished',
  });
  const gone = await patient.records.add('Condition', {
    name: 'Entered by mistake',
    clinicalStatus: 'active',
  });
  await patient.records.remove(gone.id);
  await patient.records.add('LabResult', {
    testName: 'Home blood glucose',
    status: 'final',
    value: 5.9,
    units: 'mmol/L',
    effectiveAt: '2024-03-02',
  });

  // The clinician's, in the patient's chart.
  const plan = await clinician.records.add(
    'TreatmentPlan',
    { summary: 'Blood pressure control', details: 'Lisinopril 10 mg daily', status: 'active' },
    at,
  );
  await clinician.records.update(
    'TreatmentPlan',
    plan.id,
    { details: 'Lisinopril 20 mg daily' },
    { reason: 'readings still high' },
  );
  await clinician.records.add('TreatmentPlan', { summary: 'Physiotherapy', status: 'draft' }, at);
  const finished = await clinician.records.add(
    'TreatmentPlan',
    { summary: 'Antibiotic course', status: 'active', effectiveFrom: '2023-03-01' },
    at,
  );
  await clinician.records.update(
    'TreatmentPlan',
    finished.id,
    { status: 'completed', effectiveTo: '2023-03-10' },
    { reason: 'course finished' },
  );
  const mistaken = await clinician.records.add(
    'LabResult',
    { testName: 'Potassium', status: 'final', value: 9.9, units: 'mmol/L', effectiveAt: '2024-03-04' },
    at,
  );
  await clinician.records.update(
    'LabResult',
    mistaken.id,
    { status: 'entered-in-error' },
    { reason: 'another patient’s sample' },
  );
  const result = await clinician.records.add(
    'LabResult',
    {
      testCode: '2093-3',
      testName: 'Cholesterol',
      status: 'preliminary',
      value: 5.1,
      units: 'mmol/L',
      referenceRange: '< 5.2',
      effectiveAt: '2024-03-04T08:00:00.000Z',
      orderedBy: C,
    },
    at,
  );
  await clinician.records.update(
    'LabResult',
    result.id,
    { status: 'corrected', value: 5.3 },
    { reason: 'recalibrated' },
  );
  await clinician.records.add(
    'LabResult',
    {
      testCode: '85354-9',
      testName: 'Blood pressure',
      category: 'vital-signs',
      status: 'final',
      effectiveAt: '2024-03-04T08:05:00.000Z',
      components: [
        { testCode: '8480-6', testName: 'Systolic', value: 142, units: 'mm[Hg]' },
        { testCode: '8462-4', testName: 'Diastolic', value: 91, units: 'mm[Hg]' },
      ],
    },
    at,
  );
  await clinician.records.add(
    'LabResult',
    { testName: 'Throat culture', status: 'final', value: 'No growth', effectiveAt: '2024-03-05' },
    at,
  );
  await clinician.records.add(
    'Condition',
    {
      name: 'Essential hypertension',
      codes: [{ system: 'http://snomed.info/sct', code: '59621000', display: 'Essential hypertension' }],
      clinicalStatus: 'active',
      verificationStatus: 'confirmed',
      category: 'encounter-diagnosis',
      recordedAt: '2024-03-04T08:10:00.000Z',
    },
    at,
  );
  await clinician.records.add(
    'Procedure',
    { name: 'ECG', status: 'completed', performedAt: '2024-03-04T08:20:00.000Z', performer: CLINICIAN_NAME },
    at,
  );
  await clinician.records.add(
    'Medication',
    {
      name: 'Lisinopril',
      dose: '20 mg',
      frequency: 'daily',
      active: true,
      startDate: '2024-03-04',
      prescriberId: C,
    },
    at,
  );
  await clinician.records.add(
    'Immunization',
    { vaccineName: 'Influenza', administeredAt: '2024-01-10T10:00:00.000Z', providerId: C },
    at,
  );
  const encounter = await clinician.records.add(
    'Encounter',
    {
      encounterNumber: 'E-2',
      type: 'telehealth',
      clinicianId: C,
      startedAt: '2024-03-04T08:00:00.000Z',
      endedAt: '2024-03-04T08:30:00.000Z',
      status: 'finished',
    },
    at,
  );

  // Notes: one co-signed then amended and signed again, with an addendum; one whose co-signature was
  // declined; a draft.
  const note = await clinician.records.add(
    'MedicalNote',
    {
      encounterId: encounter.id,
      title: 'Progress note',
      noteType: 'progress',
      currentVersionNumber: 1,
      status: 'under_review',
      requiresCosign: true,
    },
    at,
  );
  await clinician.records.add(
    'NoteVersion',
    {
      noteId: note.id,
      versionNumber: 1,
      kind: 'original',
      subjective: 'Headaches.',
      assessment: 'Hypertension.',
    },
    at,
  );
  const asked = await clinician.care.notes.requestCosign(note.id, A, 'attending');
  await holds(attending, asked.id, 'the co-sign request');
  await holds(attending, note.id, 'the note');
  await attending.care.notes.cosign(asked.id, 'Agree.');
  await holds(clinician, asked.id, 'the signature', (r) => (r as { status: string }).status === 'signed');
  await clinician.records.add(
    'NoteVersion',
    {
      noteId: note.id,
      versionNumber: 2,
      kind: 'amendment',
      amendmentReason: 'dose corrected',
      assessment: 'Hypertension; dose corrected.',
    },
    at,
  );
  await clinician.records.update('MedicalNote', note.id, { currentVersionNumber: 2, status: 'amended' });
  await clinician.records.add(
    'NoteVersion',
    { noteId: note.id, versionNumber: 3, kind: 'addendum', plan: 'Recheck in two weeks.' },
    at,
  );
  await clinician.records.update('MedicalNote', note.id, { currentVersionNumber: 3 });
  const again = await clinician.care.notes.requestCosign(note.id, A);
  await holds(attending, again.id, 'the second request');
  await eventually(
    async () => (await attending.records.get(note.id))?.record !== undefined,
    'the attending holds the amended note',
  );
  await attending.care.notes.cosign(again.id);
  const consult = await clinician.records.add(
    'MedicalNote',
    { title: 'Consult', noteType: 'consult', currentVersionNumber: 1, status: 'under_review' },
    at,
  );
  await clinician.records.add(
    'NoteVersion',
    { noteId: consult.id, versionNumber: 1, kind: 'original', objective: 'BP 142/91.' },
    at,
  );
  const declined = await clinician.care.notes.requestCosign(consult.id, A);
  await holds(attending, declined.id, 'the consult request');
  await attending.care.notes.declineCosign(declined.id, 'Not my patient.');
  const draft = await clinician.records.add(
    'MedicalNote',
    { title: 'Discharge', noteType: 'discharge', currentVersionNumber: 1, status: 'draft' },
    at,
  );
  await clinician.records.add(
    'NoteVersion',
    { noteId: draft.id, versionNumber: 1, kind: 'original', plan: 'To be written.' },
    at,
  );

  // Appointments: requested by the patient and confirmed, one declined, one cancelled, one completed.
  const window = (hours: number) => ({
    startAt: new Date(Date.now() + hours * 3_600_000).toISOString(),
    endAt: new Date(Date.now() + (hours + 0.5) * 3_600_000).toISOString(),
  });
  const request = (hours: number) =>
    patient.care.appointments.request({
      providerId: C,
      reason: 'Follow-up',
      preferredTimes: [window(hours)],
      timeZone: 'Europe/Berlin',
    });
  const confirmed = await request(240);
  const refused = await request(241);
  const cancelled = await request(242);
  // Completed: its time is now (an appointment is completed once it began).
  const done = await request(0.01);
  for (const a of [confirmed, refused, cancelled, done]) await holds(clinician, a.id, 'the appointment');
  await clinician.care.appointments.confirm(confirmed.id);
  await clinician.care.appointments.decline(refused.id, { reason: 'unavailable' });
  await clinician.care.appointments.confirm(cancelled.id);
  await clinician.care.appointments.cancel(cancelled.id, { note: 'clinic closed' });
  await clinician.care.appointments.confirm(done.id);
  await clinician.care.appointments.complete(done.id);

  // Messages both ways, with attachments, read.
  const first = await patient.care.messages.send({
    to: C,
    body: 'My readings this week.',
    attachments: [{ bytes: pdf('readings'), fileName: 'readings.pdf', mediaType: 'application/pdf' }],
  });
  await holds(clinician, first.id, 'the message');
  await clinician.care.messages.markRead(P, first.threadId);
  const reply = await clinician.care.messages.send({
    to: P,
    threadId: first.threadId,
    body: 'Thank you; see the plan.',
    attachments: [
      { bytes: new Uint8Array([137, 80, 78, 71]), fileName: 'chart.png', mediaType: 'image/png' },
    ],
  });
  await holds(patient, reply.id, 'the reply');
  await patient.care.messages.markRead(P, first.threadId);
  await patient.care.messages.send({
    to: C,
    body: 'Photo of the rash.',
    attachments: [{ bytes: new Uint8Array([255, 216, 255]), fileName: 'rash.jpg', mediaType: 'image/jpeg' }],
  });

  // The patient acknowledges the plan's current version.
  await holds(patient, plan.id, 'the plan v2', (r) => (r as { version: number }).version === 2);
  await patient.care.plans.acknowledge(plan.id);

  // A concurrent edit left unsettled: the clinician offline changes the reaction the patient changes too.
  const peanuts = (await patient.records.query('Allergy')).items.find(
    (a) => a.record.substance === 'Peanuts',
  );
  if (peanuts === undefined) throw new Error('the peanut allergy is missing');
  await holds(clinician, peanuts.record.id, 'the allergy');
  clinician.sync.goOffline();
  await clinician.records.update('Allergy', peanuts.record.id, { reaction: 'hives and swelling' });
  await patient.records.update('Allergy', peanuts.record.id, { reaction: 'throat tightness' });
  await patient.sync.awaitInSync();
  clinician.sync.goOnline();
  await eventually(
    async () => (await patient.records.get(peanuts.record.id))?.conflict === true,
    'the patient holds the allergy in conflict',
    30_000,
  );

  // Imported: another system's whole chart, and a small file.
  await patient.io.importFhir(syntheaPatient(), { source: 'synthea.json' });
  await patient.io.importFhir(otherSystemFile(), { source: 'portal.json' });

  await settled(p);
};

/**
 * A new user's chart: a name and nothing else of the profile, no allergies known, a medicine without
 * dates prescribed by a clinician not in the directory, a procedure without a date, a result without a
 * performer, and a result without a value.
 */
export const thinChart = async (p: Parties): Promise<void> => {
  const at = { patientId: p.patient.account.accountId };
  await p.patient.records.add('Profile', { fullName: 'Sam Thin', status: 'active' });
  await p.patient.records.add('Medication', {
    name: 'Vitamin D',
    active: true,
    prescriberId: p.attending.account.accountId,
  });
  await p.patient.records.add('Procedure', { name: 'Tonsillectomy', status: 'completed' });
  await p.clinician.records.add(
    'LabResult',
    { testName: 'Haemoglobin', status: 'final', value: 135, units: 'g/L', effectiveAt: '2024-05-01' },
    at,
  );
  await p.clinician.records.add(
    'LabResult',
    { testName: 'Ferritin', status: 'registered', effectiveAt: '2024-05-01' },
    at,
  );
  await settled(p);
};

/** Each clinician's writes sent, and held by the patient at the revision the writer holds. */
const settled = async (p: Pick<Parties, 'patient'> & Partial<Parties>): Promise<void> => {
  const P = p.patient.account.accountId;
  for (const writer of [p.clinician, p.attending]) {
    if (writer === undefined) continue;
    await writer.sync.awaitInSync();
    for (const kind of KINDS_EXPORTED) {
      for (const r of (await writer.records.query(kind, { patientId: P })).items) {
        await eventually(
          async () => ((await p.patient.records.get(r.record.id))?.rv ?? 0) >= r.rv,
          `the patient holds ${kind} ${r.record.id} at rv ${r.rv}`,
        );
      }
    }
  }
  await p.patient.sync.awaitInSync();
};

export const KINDS_EXPORTED: readonly RecordKind[] = [
  'Profile',
  'EmergencyContact',
  'HealthDocument',
  'Allergy',
  'Immunization',
  'Medication',
  'LabResult',
  'TreatmentPlan',
  'Appointment',
  'Message',
  'Encounter',
  'MedicalNote',
  'NoteVersion',
  'NoteSignature',
  'Condition',
  'Procedure',
];
