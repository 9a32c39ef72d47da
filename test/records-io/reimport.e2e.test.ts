// Importing the same data again, through the app's path (`session.io` of `openHaleForTests`, a real
// server): a record is found again by its source identity (business identifiers, else the patient's
// identifier + type + id), never by the file's name. The same data under another name adds nothing, a
// blood type read into the profile is not a new result the second time, a changed resource becomes the
// next version of its record, and one edited in Hale since stays as edited, listed as a conflict. What an
// import lists or asks instead of refusing the file: a record naming someone else (its path), a file naming
// no one (whose chart?), an embedded file unlike its declared size or hash; and a cancel.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HaleSession } from '@hale/client';
import type { RecordKind } from '@hale/model';
import { useServer } from '../support/fixture';
import { createdSession, useHaleSessions } from '../client-api/hale-devices';

type Json = Record<string, unknown>;
const PATIENT = 'Patient/reimport-1';

/** A chart from another system as NDJSON: a Patient with an MRN, a blood type, an allergy, two results. */
const resources = (glucose = 5.4): Json[] => [
  {
    resourceType: 'Patient',
    id: 'reimport-1',
    identifier: [{ system: 'urn:oid:2.16.840.1.113883.19.5', value: 'MRN-0815' }],
    name: [{ given: ['Ada'], family: 'Lovelace' }],
    birthDate: '1984-02-29',
  },
  {
    resourceType: 'Observation',
    id: 'abo',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '882-1', display: 'ABO and Rh group' }] },
    subject: { reference: PATIENT },
    effectiveDateTime: '2020-01-02T10:00:00Z',
    valueCodeableConcept: { text: 'O+' },
  },
  {
    resourceType: 'AllergyIntolerance',
    id: 'pen',
    identifier: [{ system: 'https://clinic.example/allergies', value: 'A-77' }],
    clinicalStatus: {
      coding: [
        { system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' },
      ],
    },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '91936005', display: 'Penicillin allergy' }] },
    patient: { reference: PATIENT },
  },
  {
    resourceType: 'Observation',
    id: 'glucose',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }] },
    subject: { reference: PATIENT },
    effectiveDateTime: '2023-11-04T08:15:00Z',
    valueQuantity: { value: glucose, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
  },
  {
    resourceType: 'Observation',
    id: 'hba1c',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '4548-4', display: 'Hemoglobin A1c' }] },
    subject: { reference: PATIENT },
    effectiveDateTime: '2023-11-04T08:15:00Z',
    valueQuantity: { value: 5.9, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
  },
];
const ndjson = (list: readonly Json[]): string => list.map((r) => JSON.stringify(r)).join('\n');

const KINDS: readonly RecordKind[] = ['Profile', 'Allergy', 'LabResult', 'EmergencyContact', 'Condition'];
const counts = async (s: HaleSession) => {
  const out: Partial<Record<RecordKind, number>> = {};
  for (const kind of KINDS) out[kind] = (await s.records.query(kind, { limit: 1000 })).items.length;
  return out;
};

const require = createRequire(import.meta.url);
const synthea = (): string =>
  readFileSync(
    path.join(
      path.dirname(require.resolve('cql-exec-fhir/package.json')),
      'test/fixtures/r4',
      'Luna60_McCullough561_6662f0ca-b617-4e02-8f55-7275e9f49aa0.json',
    ),
    'utf8',
  );

describe('importing the same data again (#63, item 3)', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('NDJSON under another name adds 0 records; the blood type stays in the profile', async () => {
    const { session } = await createdSession(server.t.url, sessions);
    const first = await session.io.importFhir(ndjson(resources()), { source: 'clinic-export.ndjson' });
    expect(first.imported.map((r) => r.kind).sort()).toEqual([
      'Allergy',
      'LabResult',
      'LabResult',
      'Profile',
    ]);
    const [profile] = (await session.records.query('Profile')).items;
    expect(profile?.record.bloodType).toBe('O+');
    const before = await counts(session);

    const again = await session.io.importFhir(ndjson(resources()), { source: 'renamed copy.ndjson' });
    expect(again.imported).toEqual([]);
    expect(again.updated).toEqual([]);
    expect(await counts(session)).toEqual(before);
    const listed = [...again.duplicates, ...again.absorbed].map((d) => d.path).sort();
    expect(listed).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
  });

  it('a Synthea patient (a Bundle) imported twice under two names adds 0 records the second time', async () => {
    const { session } = await createdSession(server.t.url, sessions);
    const first = await session.io.importFhir(synthea(), { source: 'luna.json' });
    expect(first.imported.length).toBeGreaterThan(50);
    const before = await counts(session);
    const again = await session.io.importFhir(synthea(), { source: 'luna (1).json' });
    expect(again.imported).toEqual([]);
    expect(again.updated).toEqual([]);
    expect(again.conflicts).toEqual([]);
    expect(again.duplicates.length).toBe(first.imported.length);
    expect(await counts(session)).toEqual(before);
  });

  it('the plan shown is the one imported; one made before the chart changed is made again', async () => {
    const { session } = await createdSession(server.t.url, sessions);
    const file = ndjson(resources());
    const shown = await session.io.planImport(file, { source: 'a.ndjson' });
    const report = await session.io.importFhir(file, { source: 'a.ndjson', plan: shown });
    expect(report.imported.map((r) => r.id).sort()).toEqual(shown.records.map((r) => r.id).sort());

    // Shown, then the same data imported meanwhile (as another tab or device would): the shown plan's
    // records are held now, so the import plans again and adds nothing.
    const stale = await session.io.planImport(file, { source: 'b.ndjson' });
    expect(stale.records).toEqual([]);
    const other = await createdSession(server.t.url, sessions);
    const early = await other.session.io.planImport(file, { source: 'c.ndjson' });
    expect(early.records.length).toBe(4);
    await other.session.io.importFhir(file, { source: 'c.ndjson' });
    const late = await other.session.io.importFhir(file, { source: 'c.ndjson', plan: early });
    expect(late.imported).toEqual([]);
    expect(late.duplicates.length + late.absorbed.length).toBe(5);
    expect(await counts(other.session)).toEqual(await counts(session));
  });

  it('a changed resource becomes the next version of its record; one edited in Hale stays, listed', async () => {
    const { session } = await createdSession(server.t.url, sessions);
    await session.io.importFhir(ndjson(resources()), { source: 'a.ndjson' });
    const glucose = (await session.records.query('LabResult')).items.find(
      (r) => r.record.testCode === '2345-7',
    )!;
    const hba1c = (await session.records.query('LabResult')).items.find(
      (r) => r.record.testCode === '4548-4',
    )!;
    const [allergy] = (await session.records.query('Allergy')).items;
    // Edited in Hale: the allergy's notes.
    await session.records.update('Allergy', allergy!.record.id, { notes: 'hives within an hour' });

    const changed = resources(6.1);
    const allergyIndex = changed.findIndex((r) => r['resourceType'] === 'AllergyIntolerance');
    changed[allergyIndex] = { ...changed[allergyIndex], criticality: 'high' };
    const report = await session.io.importFhir(ndjson(changed), { source: 'b.ndjson' });
    expect(report.imported).toEqual([]);
    expect(report.updated.map((u) => u.id)).toEqual([glucose.record.id]);
    expect(report.conflicts.map((c) => c.id)).toEqual([allergy!.record.id]);

    const now = (await session.records.get(glucose.record.id))!.record as Json;
    expect(now['value']).toBe(6.1);
    expect(now['version']).toBe(2);
    expect((await session.records.get(hba1c.record.id))!.rv).toBe(hba1c.rv);
    const kept = (await session.records.get(allergy!.record.id))!.record as Json;
    expect(kept['notes']).toBe('hives within an hour');

    // The update is itself the source's content now: the same file a third time writes nothing.
    const third = await session.io.importFhir(ndjson(changed), { source: 'c.ndjson' });
    expect([third.imported, third.updated]).toEqual([[], []]);
  });

  it('a record naming a person not in the file is listed with its path; a file naming no one waits for an answer', async () => {
    const { session } = await createdSession(server.t.url, sessions);
    const stranger = {
      resourceType: 'Condition',
      id: 'gout',
      code: { text: 'Gout' },
      subject: { reference: 'Patient/someone-else' },
    };
    const report = await session.io.importFhir(ndjson([...resources(), stranger]), {
      source: 'mixed.ndjson',
    });
    expect(report.imported).toHaveLength(4);
    expect(report.skipped.map((s) => [s.path, s.reason])).toEqual([
      [
        'line 6',
        'not imported: line 6.resource.subject: Patient/someone-else names a person not in this file',
      ],
    ]);

    const { session: other } = await createdSession(server.t.url, sessions);
    const noOne = ndjson(resources().filter((r) => r['resourceType'] !== 'Patient'));
    const plan = await other.io.planImport(noOne, { source: 'labs.ndjson' });
    expect(plan.noPatient).toBe(true);
    await expect(other.io.importFhir(noOne, { source: 'labs.ndjson' })).rejects.toMatchObject({
      code: 'IMPORT_REFUSED',
      detail: { reason: 'NO_PATIENT' },
    });
    expect((await other.records.query('LabResult')).items).toEqual([]);
    const answered = await other.io.importFhir(noOne, {
      source: 'labs.ndjson',
      patientId: other.account.accountId,
    });
    expect(answered.imported.map((r) => r.kind)).toEqual(['LabResult', 'Allergy', 'LabResult', 'LabResult']);
  });

  it('a cancelled import keeps what it wrote and lists the rest', async () => {
    const { session } = await createdSession(server.t.url, sessions);
    const many = [
      resources()[0]!,
      ...Array.from({ length: 450 }, (_, i) => ({
        resourceType: 'Observation',
        id: `hr-${i}`,
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
        subject: { reference: PATIENT },
        effectiveDateTime: new Date(Date.parse('2024-01-01T00:00:00Z') + i * 60_000).toISOString(),
        valueQuantity: { value: 60, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      })),
    ];
    const controller = new AbortController();
    const report = await session.io.importFhir(ndjson(many), {
      source: 'hr.ndjson',
      signal: controller.signal,
      // Stopped once the first chunk is written.
      onProgress: () => controller.abort(),
    });
    expect(report.cancelled).toBe(true);
    const written = (await session.records.query('LabResult', { limit: 1000 })).items.length;
    expect(written).toBe(report.imported.length - 1);
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(450);
    expect(report.skipped.filter((s) => s.reason.includes('cancelled'))).toHaveLength(
      451 - report.imported.length,
    );
  });

  it('an embedded file that is not what its record declares (size, hash) is listed, not imported', async () => {
    const { session } = await createdSession(server.t.url, sessions);
    const bytes = new TextEncoder().encode('%PDF-1.4 discharge letter');
    const data = Buffer.from(bytes).toString('base64');
    const sha1 = createHash('sha1').update(bytes).digest('base64');
    const doc = (id: string, declared: object) => ({
      resourceType: 'DocumentReference',
      id,
      status: 'current',
      subject: { reference: PATIENT },
      content: [{ attachment: { contentType: 'application/pdf', title: `${id}.pdf`, data, ...declared } }],
    });
    const file = ndjson([
      resources()[0]!,
      doc('right', { size: bytes.length, hash: sha1 }),
      doc('short', { size: bytes.length + 10 }),
      doc('altered', { hash: createHash('sha1').update('something else').digest('base64') }),
    ]);
    const report = await session.io.importFhir(file, { source: 'letters.ndjson' });
    expect(report.imported.map((r) => r.kind)).toEqual(['Profile', 'HealthDocument']);
    expect(report.skipped.map((s) => s.path)).toEqual(['line 3', 'line 4']);
    expect(report.skipped[0]?.reason).toContain('its record says');
    expect(report.skipped[1]?.reason).toContain('hash');
  });
});
