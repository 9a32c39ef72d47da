// Export in every form (link, embed, zip, NDJSON) for the patient and for a clinician, and the patient
// summary and emergency card, from charts built as the app builds them (export-charts.ts: sessions of
// `openHaleForTests`, so `session.io` has the directory lookup `openHale` sets): each output validates
// with 0 errors against the R4 base definitions (Medplum's validator, every entry also on its own), the
// summary and the card also against the IPS 2.0.0 profiles (fhir-ips.ts). Terminology bindings are out
// of scope: no value set is expanded, so a code is not checked against the value set it is bound to.
import { describe, expect, it } from 'vitest';
import { strFromU8, unzipSync } from 'fflate';
import { verifyFhirExport, type HaleSession } from '@hale/client';
import { HALE_CONFLICT_TAG } from '@hale/model';
import { useServer } from '../support/fixture';
import { useHaleSessions } from '../client-api/hale-devices';
import { fullChart, parties, thinChart, type Parties } from './export-charts';
import { r4Errors, validateIps } from './fhir-ips';

type Json = Record<string, unknown>;
interface Form {
  readonly name: string;
  /** What the form holds as FHIR: the Bundle, or each NDJSON line. */
  readonly resources: readonly Json[];
}

/** Every form of `session.io.exportRecords` for the chart `patientId`, with what each must say of itself. */
const everyForm = async (session: HaleSession, patientId: string): Promise<Form[]> => {
  const forms: Form[] = [];
  for (const attachments of ['link', 'embed'] as const) {
    const out = await session.io.exportRecords({ patientId, attachments });
    if (out.form !== 'bundle') throw new Error(`${attachments}: a ${out.form}`);
    const text = JSON.stringify(out.bundle);
    expect(await verifyFhirExport(text), attachments).toMatchObject({ ok: true });
    if (attachments === 'embed') expect(text).not.toContain('hale-blob:');
    forms.push({ name: attachments, resources: [out.bundle] });
  }
  const zipped = await session.io.exportRecords({ patientId, attachments: 'zip' });
  if (zipped.form !== 'zip') throw new Error(`zip: a ${zipped.form}`);
  const files = unzipSync(zipped.zip);
  const bundleText = strFromU8(files['bundle.json']!);
  expect(await verifyFhirExport(bundleText), 'zip').toMatchObject({ ok: true });
  for (const name of Object.keys(files).filter((n) => n.startsWith('files/')))
    expect(bundleText, name).toContain(`"url": "${name}"`);
  forms.push({ name: 'zip', resources: [JSON.parse(bundleText) as Json] });
  const bulk = await session.io.exportRecords({ patientId, format: 'ndjson' });
  if (bulk.form !== 'ndjson') throw new Error(`ndjson: a ${bulk.form}`);
  const lines = bulk.ndjson.trimEnd().split('\n');
  forms.push({ name: 'ndjson', resources: lines.map((l) => JSON.parse(l) as Json) });
  return forms;
};

/** Each form's R4 errors, one line each: empty when every form is valid. */
const formErrors = (who: string, forms: readonly Form[]): string[] =>
  forms.flatMap((f) => f.resources.flatMap((r) => r4Errors(r).map((e) => `${who} ${f.name}: ${e}`)));

const resourcesOf = (bundle: unknown): Json[] =>
  ((bundle as { entry?: { resource: Json }[] }).entry ?? []).map((e) => e.resource);
const ofType = (bundle: unknown, type: string): Json[] =>
  resourcesOf(bundle).filter((r) => r['resourceType'] === type);

/** The patient's and the clinician's export forms, the summary and the card: every error of each. */
const everyError = async (p: Parties) => {
  const P = p.patient.account.accountId;
  const patientForms = await everyForm(p.patient, P);
  const clinicianForms = await everyForm(p.clinician, P);
  const summary = await p.patient.io.patientSummary();
  const card = await p.patient.io.emergencySummary();
  return {
    patientForms,
    clinicianForms,
    summary: summary.bundle,
    card: card.bundle,
    errors: [
      ...formErrors('patient', patientForms),
      ...formErrors('clinician', clinicianForms),
      ...validateIps(summary.bundle).map((e) => `summary: ${e}`),
      ...validateIps(card.bundle).map((e) => `emergency card: ${e}`),
    ],
  };
};

describe('export in every form, the summary and the emergency card, through openHale', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('a chart with every record kind and state: 0 errors for the patient and the clinician', async () => {
    const p = await parties(server.t.url, sessions);
    await fullChart(p);
    const out = await everyError(p);
    const own = await p.clinician.care.ownEntries.export(p.patient.account.accountId);
    expect([...out.errors, ...r4Errors(own).map((e) => `clinician's own entries: ${e}`)]).toEqual([]);

    // The chart holds what it was built to: every kind, notes with their versions and signatures,
    // messages with files, a record in conflict, imported records; the clinician named from the directory.
    const exported = out.patientForms.find((f) => f.name === 'embed')!.resources[0]!;
    const types = new Set(resourcesOf(exported).map((r) => r['resourceType']));
    for (const type of [
      'Patient',
      'RelatedPerson',
      'AllergyIntolerance',
      'Immunization',
      'MedicationStatement',
      // Synthea's prescriptions, exported as the resource they came as.
      'MedicationRequest',
      'Observation',
      'Condition',
      'Procedure',
      'Encounter',
      'DocumentReference',
      'CarePlan',
      'Appointment',
      'Communication',
      'Composition',
      'Provenance',
      'Practitioner',
    ])
      expect(types, type).toContain(type);
    expect(ofType(exported, 'Composition').length).toBeGreaterThanOrEqual(5);
    const attached = ofType(exported, 'Communication').flatMap(
      (c) => (c['payload'] as Json[]).filter((x) => x['contentAttachment'] !== undefined).length,
    );
    expect(attached.reduce((a, b) => a + b, 0)).toBe(3);
    const text = JSON.stringify(exported);
    expect(text.includes(`"code":"${HALE_CONFLICT_TAG.code}"`), 'a record in conflict').toBe(true);
    expect(text.includes('"valueString":"synthea.json"'), 'records imported from Synthea').toBe(true);
    expect(text.includes('"valueString":"portal.json"'), 'records imported from a small file').toBe(true);
    const named = (bundle: unknown) =>
      ofType(bundle, 'Practitioner').map((r) => JSON.stringify(r['name'] ?? null));
    expect(named(exported)).toContain(JSON.stringify([{ text: 'Dr. Lin Lee' }]));
    expect(named(out.clinicianForms[0]!.resources[0])).toContain(JSON.stringify([{ text: 'Dr. Lin Lee' }]));
    expect(named(out.summary)).toContain(JSON.stringify([{ text: 'Dr. Lin Lee' }]));
    // The summary's medications: those typed in and the prescriptions imported, each checked by its profile.
    expect(ofType(out.summary, 'MedicationStatement').length).toBeGreaterThan(0);
    expect(ofType(out.summary, 'MedicationRequest').length).toBeGreaterThan(0);
  }, 180_000);

  it('a new user’s thin chart: what is unknown is said to be unknown, never made up; 0 errors', async () => {
    const p = await parties(server.t.url, sessions);
    await thinChart(p);
    const out = await everyError(p);
    expect(out.errors).toEqual([]);

    const absent = {
      extension: [
        { url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' },
      ],
    };
    for (const bundle of [out.summary, out.card]) {
      const [patient] = ofType(bundle, 'Patient');
      expect(patient).toMatchObject({ name: [{ text: 'Sam Thin' }], _birthDate: absent });
      expect(patient).not.toHaveProperty('birthDate');
      const [allergy] = ofType(bundle, 'AllergyIntolerance');
      expect(allergy).toMatchObject({ clinicalStatus: absent });
      const [medication] = ofType(bundle, 'MedicationStatement');
      expect(medication).toMatchObject({ _effectiveDateTime: absent });
      // The prescriber is not in the directory: a name no one knows.
      expect(ofType(bundle, 'Practitioner')).toEqual([
        expect.objectContaining({ name: [{ _text: absent }] }),
      ]);
    }
    const [procedure] = ofType(out.summary, 'Procedure');
    expect(procedure).toMatchObject({ _performedDateTime: absent });
    expect(procedure).not.toHaveProperty('performedDateTime');
    for (const result of ofType(out.summary, 'Observation'))
      expect(result).toMatchObject({ performer: [absent] });
    expect(ofType(out.summary, 'Observation').find((o) => o['status'] === 'registered')).toMatchObject({
      dataAbsentReason: { coding: [{ code: 'unknown' }] },
    });
  }, 120_000);

  it('an empty chart: no profile, no records; 0 errors', async () => {
    const p = await parties(server.t.url, sessions);
    const out = await everyError(p);
    expect(out.errors).toEqual([]);
    expect(ofType(out.summary, 'Patient')[0]).toMatchObject({ name: [{ _text: {} }], _birthDate: {} });
  }, 120_000);

  it('the IPS check is not vacuous: it finds what the profiles forbid in a summary', async () => {
    const p = await parties(server.t.url, sessions);
    await thinChart(p);
    const { bundle } = await p.patient.io.patientSummary();
    const broken = JSON.parse(JSON.stringify(bundle)) as { entry: { resource: Json }[] };
    const [composition, patient] = broken.entry.map((e) => e.resource);
    delete composition!['subject'];
    (composition!['section'] as Json[]).splice(0, 1);
    delete (composition!['section'] as Json[])[0]!['title'];
    delete patient!['name'];
    for (const e of broken.entry) {
      if (e.resource['resourceType'] === 'Observation') delete e.resource['performer'];
      if (e.resource['resourceType'] === 'AllergyIntolerance') delete e.resource['clinicalStatus'];
    }
    const errors = validateIps(broken).join('\n');
    expect(errors).toMatch(/CompositionUvIps.*Composition.subject: Missing required property/);
    expect(errors).toMatch(/sectionAllergies: 0 sections, the profile allows 1\.\.1/);
    expect(errors).toMatch(/Composition.section:sectionMedications.title: 0 values/);
    expect(errors).toMatch(/PatientUvIps.*Patient.name: Missing required property/);
    expect(errors).toMatch(/ObservationResultsLaboratoryPathologyUvIps.*Observation.performer/);
    expect(errors).toMatch(/R4 entry\[\d+\] AllergyIntolerance: Constraint ait-1 not met/);
  }, 120_000);
});
