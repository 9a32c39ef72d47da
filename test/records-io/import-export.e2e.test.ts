// Records in and out through the app's path (`session.io` of `openHaleForTests`, a real server): Hale's
// own export (files embedded) imported into a fresh account keeps the clinical content field by field and
// exports again alike; other systems' files (Synthea patients shipped by cql-exec-fhir, Medplum's sample
// resources) import with their codes; a second import writes nothing; malformed and hostile files are
// refused and write nothing. Every export form is valid against the R4 structure definitions (Medplum's
// validator).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { unzipSync, strFromU8 } from 'fflate';
import { HomerObservation1, HomerObservation6, HomerSimpson } from '@medplum/mock';
import { isHaleError, verifyFhirExport, type HaleIo, type HaleSession } from '@hale/client';
import { validateFhirBundleShape, type RecordKind } from '@hale/model';
import { useServer } from '../support/fixture';
import { input } from '../support/records';
import { validateR4 } from '../support/fhir-r4';
import { createdSession, online, useHaleSessions } from '../client-api/hale-devices';

const server = useServer({ realClock: true });
const sessions = useHaleSessions();
/** A new patient account's session (`openHaleForTests` over `nodePlatform`), online. */
const open = async () => {
  const { session } = await createdSession(server.t.url, sessions);
  await online(session);
  return { s: session, io: session.io };
};

const KINDS = [
  'Profile',
  'EmergencyContact',
  'Allergy',
  'Immunization',
  'Medication',
  'LabResult',
  'Condition',
  'Procedure',
  'Encounter',
  'HealthDocument',
] as const;
const NOT_CONTENT = new Set([
  'id',
  'patientId',
  'createdAt',
  'updatedAt',
  'origin',
  'provenance',
  'version',
  'versions',
  'uploadedAt',
  'uploadedBy',
  'proofDocumentId',
]);

/**
 * A record's clinical content: its fields but the ids, times and authorship the writing device sets; files
 * by name and digest; a result's category `laboratory` as its absence (both export as laboratory).
 */
const contentOf = (record: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(record)
      .filter(([k, v]) => !NOT_CONTENT.has(k) && !(k === 'category' && v === 'laboratory'))
      .map(([k, v]) => (k === 'file' ? [k, { ...(v as object), blobId: undefined }] : [k, v])),
  );

const chartOf = async (s: HaleSession) => {
  const chart: Partial<Record<RecordKind, Record<string, unknown>[]>> = {};
  for (const kind of KINDS) {
    chart[kind] = (await s.records.query(kind)).items.map((r) =>
      contentOf(r.record as Record<string, unknown>),
    );
  }
  return chart;
};

/**
 * The example result as one system would send it: the example carries every field at once (a coded value
 * beside a number it does not name, a part's reason for no value or samples beside its value), which FHIR
 * cannot say and export rightly leaves out.
 */
const consistentResult = () => {
  const example = input('LabResult', {}) as { components?: Record<string, unknown>[] };
  return {
    valueConcept: undefined,
    components: (example.components ?? []).map(
      ({ valueConcept: _concept, dataAbsentReason, sampledData, ...part }) =>
        part['value'] !== undefined
          ? part
          : sampledData !== undefined
            ? { ...part, sampledData }
            : { ...part, dataAbsentReason },
    ),
  };
};

const fillChart = async (s: HaleSession) => {
  const bytes = new TextEncoder().encode('%PDF-1.4 discharge summary');
  const file = await s.files.put({
    type: 'document',
    bytes,
    fileName: 'discharge.pdf',
    mediaType: 'application/pdf',
  });
  const doc = await s.records.add('HealthDocument', input('HealthDocument', { file, versions: [] }));
  for (const kind of KINDS) {
    if (kind === 'HealthDocument') continue;
    const overrides =
      kind === 'Immunization'
        ? { proofDocumentId: doc.id }
        : kind === 'LabResult'
          ? { attachments: undefined, ...consistentResult() }
          : kind === 'Medication'
            ? // A prescription's own: a medicine typed in Hale leaves as a MedicationStatement, which has none.
              { validFrom: undefined }
            : {};
    await s.records.add(kind, input(kind, overrides as never));
  }
};

describe('Hale’s own export into a fresh account', () => {
  it('keeps the clinical content field by field, exports alike, and writes nothing the second time', async () => {
    const a = await open();
    await fillChart(a.s);
    const exported = await a.io.exportRecords({ attachments: 'embed' });
    if (exported.form !== 'bundle') throw new Error('expected a bundle');
    const text = JSON.stringify(exported.bundle);
    expect(await verifyFhirExport(text)).toMatchObject({ ok: true, signer: a.s.account.accountId });
    expect(validateR4(exported.bundle).errors).toEqual([]);
    expect(text).not.toContain('hale-blob:');
    expect(text).not.toContain('"reference":"urn:hale:');

    const b = await open();
    const report = await b.io.importFhir(text, { source: 'hale-export.json' });
    expect(report.imported.map((r) => r.kind).sort()).toEqual([...KINDS].sort());
    expect(report.skipped.map((s) => s.resourceType)).toContain('Provenance');
    expect(await chartOf(b.s)).toEqual(await chartOf(a.s));
    const imm = (await b.s.records.query('Immunization')).items[0]?.record;
    const doc = (await b.s.records.query('HealthDocument')).items[0]?.record;
    expect(imm?.proofDocumentId).toBe(doc?.id);
    expect(doc?.origin).toMatchObject({ source: 'hale-export.json', resourceType: 'DocumentReference' });
    const fetched = await b.s.files.get(doc!.file, { type: 'document' });
    expect(new TextDecoder().decode(fetched)).toBe('%PDF-1.4 discharge summary');

    // B's export of what it imported says the same: the round trip once more, into a third account.
    const again = await b.io.exportRecords({ attachments: 'embed' });
    if (again.form !== 'bundle') throw new Error('expected a bundle');
    const c = await open();
    await c.io.importFhir(JSON.stringify(again.bundle), { source: 'second.json' });
    expect(await chartOf(c.s)).toEqual(await chartOf(a.s));

    const twice = await b.io.importFhir(text, { source: 'renamed-file.json' });
    expect(twice.imported).toEqual([]);
    expect(twice.duplicates).toHaveLength(report.imported.length);
  });

  it('gives a zip with the files beside the signed Bundle, and NDJSON, each valid R4', async () => {
    const a = await open();
    await fillChart(a.s);
    const zipped = await a.io.exportRecords({ attachments: 'zip' });
    if (zipped.form !== 'zip') throw new Error('expected a zip');
    const files = unzipSync(zipped.zip);
    const bundleText = strFromU8(files['bundle.json']!);
    expect(await verifyFhirExport(bundleText)).toMatchObject({ ok: true });
    const names = Object.keys(files).filter((n) => n.startsWith('files/'));
    expect(names).toHaveLength(1);
    expect(bundleText).toContain(`"url": "${names[0]}"`);
    expect(strFromU8(files[names[0]!]!)).toBe('%PDF-1.4 discharge summary');
    expect(validateR4(JSON.parse(bundleText)).errors).toEqual([]);

    const bulk = await a.io.exportRecords({ format: 'ndjson' });
    if (bulk.form !== 'ndjson') throw new Error('expected ndjson');
    const lines = bulk.ndjson
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { resourceType: string });
    expect(lines.length).toBeGreaterThan(10);
    for (const resource of lines) expect(validateR4(resource).errors, resource.resourceType).toEqual([]);
    const b = await open();
    const report = await b.io.importFhir(bulk.ndjson, { source: 'bulk.ndjson' });
    expect(report.imported.length).toBeGreaterThanOrEqual(KINDS.length - 1);
  });
});

describe('the export’s clinicians', () => {
  it('fills a Practitioner from the provider’s signed directory profile', async () => {
    const { session: provider } = await createdSession(server.t.url, sessions, { role: 'provider' });
    await provider.directory.publishProfile({
      displayName: 'Dr. Lin Lee',
      specialty: 'Family medicine',
      clinic: 'Riverside',
      identifier: 'NPI 1234567893',
    });
    // The patient's `session.io` finds the prescriber through the directory, as openHale sets it up.
    const { s, io } = await open();
    await s.records.add('Medication', input('Medication', { prescriberId: provider.account.accountId }));
    const exported = await io.exportRecords();
    if (exported.form !== 'bundle') throw new Error('expected a bundle');
    const practitioner = exported.bundle.entry.find(
      (e) => e.resource.resourceType === 'Practitioner',
    )?.resource;
    expect(practitioner?.['name']).toEqual([{ text: 'Dr. Lin Lee' }]);
    expect(JSON.stringify(practitioner?.['identifier'])).toContain('NPI 1234567893');
    expect(await verifyFhirExport(JSON.stringify(exported.bundle))).toMatchObject({ ok: true });
    expect(validateR4(exported.bundle).errors).toEqual([]);
  });
});

const require = createRequire(import.meta.url);
const synthea = (name: string) =>
  readFileSync(
    path.join(path.dirname(require.resolve('cql-exec-fhir/package.json')), 'test/fixtures/r4', name),
    'utf8',
  );

describe('files from other systems', () => {
  it.each([
    'Johnnie679_Hermiston71_2cd30bd6-3a87-4191-af90-6daa70f58f55.json',
    'Luna60_McCullough561_6662f0ca-b617-4e02-8f55-7275e9f49aa0.json',
  ])(
    'a Synthea patient (%s) keeps its LOINC, SNOMED, RxNorm and CVX codes; a second import writes nothing',
    async (file) => {
      const text = synthea(file);
      const { s, io } = await open();
      const progress: { done: number; total: number }[] = [];
      const report = await io.importFhir(text, { source: file, onProgress: (p) => progress.push(p) });
      // One step per record written, in order, ending at the whole.
      // Told after each chunk written (one batch of `writeAll`), rising to the whole.
      const dones = progress.map((p) => p.done);
      expect(dones).toEqual([...dones].sort((a, b) => a - b));
      expect(dones.at(-1)).toBe(report.imported.length);
      expect(new Set(progress.map((p) => p.total))).toEqual(new Set([report.imported.length]));
      const count = (kind: string) => report.imported.filter((r) => r.kind === kind).length;
      expect(count('Profile')).toBe(1);
      expect(count('LabResult')).toBeGreaterThan(50);
      expect(count('Immunization')).toBeGreaterThan(20);
      expect(count('Condition')).toBeGreaterThan(2);
      expect(count('Medication')).toBeGreaterThan(2);
      expect(report.skipped.some((x) => x.resourceType === 'Claim' && /billing/.test(x.reason))).toBe(true);
      const labs = (await s.records.query('LabResult')).items.map((r) => r.record);
      expect(labs.every((l) => l.origin?.originalId.startsWith('urn:uuid:'))).toBe(true);
      expect(labs.some((l) => l.testCode !== undefined && /^\d+-\d$/.test(l.testCode))).toBe(true);
      expect(labs.some((l) => (l.components ?? []).some((c) => c.testCode === '8480-6'))).toBe(true);
      const conditions = (await s.records.query('Condition')).items.map((r) => r.record);
      expect(conditions.some((c) => c.codes?.some((k) => k.system === 'http://snomed.info/sct'))).toBe(true);
      const meds = (await s.records.query('Medication')).items.map((r) => r.record);
      expect(
        meds.some((m) => m.codes?.some((k) => k.system === 'http://www.nlm.nih.gov/research/umls/rxnorm')),
      ).toBe(true);
      const vaccines = (await s.records.query('Immunization')).items.map((r) => r.record);
      expect(vaccines.every((v) => v.vaccineCode !== undefined && /^\d{1,3}$/.test(v.vaccineCode))).toBe(
        true,
      );

      const again = await io.importFhir(text, { source: 'the same file again' });
      expect(again.imported).toEqual([]);
      expect(again.duplicates).toHaveLength(report.imported.length);
      // The chart as Hale exports it is valid R4.
      const exported = await io.exportRecords();
      if (exported.form !== 'bundle') throw new Error('expected a bundle');
      expect(validateR4(exported.bundle).errors).toEqual([]);
      expect(validateFhirBundleShape(exported.bundle).ok).toBe(true);
      // What Hale does not map leaves as it came: each imported record keeps its source (fhir-source.ts).
      const source = (JSON.parse(text) as { entry: { resource: Record<string, unknown> }[] }).entry.find(
        (e) => e.resource['resourceType'] === 'Patient',
      )?.resource;
      const patient = exported.bundle.entry.find((e) => e.resource.resourceType === 'Patient')?.resource;
      expect(source?.['maritalStatus']).toBeDefined();
      expect(patient?.['maritalStatus']).toEqual(source?.['maritalStatus']);
      expect(patient?.['communication']).toEqual(source?.['communication']);
    },
    120_000,
  );

  it('Medplum’s sample patient and observations, as a searchset: what cannot be kept is listed', async () => {
    const { s, io } = await open();
    const bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [HomerSimpson, HomerObservation1, HomerObservation6].map((resource) => ({
        fullUrl: `https://example.com/fhir/R4/${resource.resourceType}/${resource.id}`,
        resource,
      })),
    };
    const report = await io.importFhir(JSON.stringify(bundle), { source: 'medplum' });
    expect(report.imported.map((r) => r.kind)).toEqual(['Profile']);
    // Medplum's sample observations carry no date: listed with the reason, not written undated.
    expect(report.skipped.map((x) => x.reason)).toEqual([
      'Test 1: no date it was taken',
      'Test 6: no date it was taken',
    ]);
    const profile = (await s.records.query('Profile')).items[0]?.record;
    expect(profile?.fullName).toMatch(/Homer/);
  });
});

describe('malformed and hostile files', () => {
  const refused = async (io: HaleIo, file: string | Uint8Array) =>
    io.importFhir(file).then(
      () => 'imported',
      (e: unknown) =>
        isHaleError(e, 'IMPORT_REFUSED')
          ? (e as unknown as { detail: { reason: string } }).detail.reason
          : String(e),
    );

  it('refuses 50 MB, deep nesting, wrong types and two patients, writing nothing', async () => {
    const { s, io } = await open();
    const patient = {
      fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
      resource: { resourceType: 'Patient', name: [{ text: 'Eve' }] },
    };
    const allergy = (extra: object) => ({
      fullUrl: 'urn:uuid:22222222-2222-4222-8222-222222222222',
      resource: {
        resourceType: 'AllergyIntolerance',
        code: { text: 'Latex' },
        patient: { reference: patient.fullUrl },
        ...extra,
      },
    });
    const bundle = (...entry: object[]) =>
      JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry });
    expect(await refused(io, new Uint8Array(50 * 1024 * 1024).fill(0x7b))).toBe('TOO_LARGE');
    expect(
      await refused(
        io,
        `{"resourceType":"Bundle","type":"collection","entry":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      ),
    ).toBe('TOO_DEEP');
    expect(await refused(io, bundle(patient, allergy({ category: 'food' })))).toBe('MALFORMED');
    expect(await refused(io, bundle(patient, allergy({ code: { coding: [{ code: 7 }] } })))).toBe(
      'MALFORMED',
    );
    expect(
      await refused(
        io,
        bundle(patient, {
          fullUrl: 'urn:uuid:33333333-3333-4333-8333-333333333333',
          resource: { resourceType: 'Patient', name: [{ text: 'Mallory' }] },
        }),
      ),
    ).toBe('SEVERAL_PATIENTS');
    expect(await refused(io, 'not json at all')).toBe('NOT_JSON');
    for (const kind of KINDS) expect((await s.records.query(kind)).items, kind).toEqual([]);
  });
});
