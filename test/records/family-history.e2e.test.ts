// Family history end to end through the surface the app uses (`openHale` sessions, a real server): the
// records written, refused when malformed, found, shared with a clinician as their own stream; exported as FHIR FamilyMemberHistory valid
// against the R4 definitions (Medplum's validator) and signed; imported into another account field by
// field, once only; another system's FamilyMemberHistory imported with what Hale cannot keep listed.
import { describe, expect, it } from 'vitest';
import { verifyFhirExport, type HaleSession } from '@hale/client';
import type { FamilyHistory } from '@hale/model';
import { useServer } from '../support/fixture';
import { createdSession, online, useHaleSessions, when } from '../client-api/hale-devices';
import { r4Errors } from '../records-io/fhir-ips';

type Json = Record<string, unknown>;
const SNOMED = 'http://snomed.info/sct';

const resourcesOf = (bundle: unknown, type: string): Json[] =>
  ((bundle as { entry?: { resource: Json }[] }).entry ?? [])
    .map((e) => e.resource)
    .filter((r) => r['resourceType'] === type);

/** A record's content: what the person wrote, not its ids and times. */
const contentOf = ({
  relationship,
  relativeName,
  condition,
  codes,
  onsetAge,
  deceased,
  notes,
}: FamilyHistory) => ({
  relationship,
  relativeName,
  condition,
  codes,
  onsetAge,
  deceased,
  notes,
});

const familyOf = async (session: HaleSession) =>
  (await session.records.query('FamilyHistory')).items.map((s) => contentOf(s.record));

describe('Family history', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('written, exported as valid FHIR FamilyMemberHistory, imported into another account alike, once', async () => {
    const { session: patient } = await createdSession(server.t.url, sessions);
    await online(patient);
    const mother = await patient.records.add('FamilyHistory', {
      relationship: 'mother',
      relativeName: 'Lin Hui-Fen',
      condition: 'Breast cancer',
      codes: [{ system: SNOMED, code: '254837009', display: 'Malignant neoplasm of breast' }],
      onsetAge: 52,
      deceased: true,
      notes: 'Treated at Riverside Hospital.',
    });
    await patient.records.add('FamilyHistory', { relationship: 'father', condition: 'Type 2 diabetes' });
    await patient.records.add('FamilyHistory', {
      relationship: 'brother',
      condition: 'Congenital heart defect',
      onsetAge: 0,
      deceased: false,
    });
    // Refused as the schema says: no condition, an age beyond a life, a relative Hale has no word for.
    for (const bad of [
      { relationship: 'mother', condition: '' },
      { relationship: 'mother', condition: 'Gout', onsetAge: 151 },
      { relationship: 'neighbour', condition: 'Gout' },
    ]) {
      await expect(
        patient.records.add('FamilyHistory', bad as never),
        JSON.stringify(bad),
      ).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
    }
    await patient.records.update('FamilyHistory', mother.id, { onsetAge: 51 });
    const listed = await when(
      patient.records.list('FamilyHistory'),
      (p) => p.total === 3,
      'three relatives listed',
    );
    expect(listed.items.find((s) => s.record.id === mother.id)?.record.onsetAge).toBe(51);
    const found = await when(
      patient.search('breast'),
      (r) => r.ready && r.total === 1,
      'found by its condition',
    );
    expect(found.hits[0]).toMatchObject({ kind: 'FamilyHistory', field: 'condition' });

    // Shared as its own stream: a clinician granted `family-history` reads all three, nothing else.
    const { session: clinic } = await createdSession(server.t.url, sessions, { role: 'provider' });
    await online(clinic);
    await patient.consent.acceptInvite(clinic.consent.invite());
    await patient.consent.grant({
      granteeId: clinic.account.accountId,
      scope: [{ type: 'family-history', access: 'read' }],
      durationMs: 86_400_000,
      purpose: 'genetic counselling',
    });
    const patientId = patient.account.accountId;
    await when(
      clinic.records.list('FamilyHistory', { patientId }),
      (p) => p.total === 3,
      'the clinician reads the family history',
    );
    expect((await clinic.records.query('Profile', { patientId })).total).toBe(0);

    const out = await patient.io.exportRecords({ attachments: 'embed' });
    if (out.form !== 'bundle') throw new Error(`a ${out.form}`);
    expect(await verifyFhirExport(JSON.stringify(out.bundle))).toMatchObject({ ok: true });
    expect(r4Errors(out.bundle)).toEqual([]);
    const histories = resourcesOf(out.bundle, 'FamilyMemberHistory');
    expect(histories).toHaveLength(3);
    const byCondition = (text: string) =>
      histories.find((h) => (h['condition'] as { code: { text: string } }[])[0]?.code.text === text);
    expect(byCondition('Breast cancer')).toMatchObject({
      status: 'completed',
      name: 'Lin Hui-Fen',
      relationship: { coding: [{ code: 'MTH' }] },
      deceasedBoolean: true,
      condition: [
        {
          code: { coding: [{ system: SNOMED, code: '254837009' }] },
          onsetAge: { value: 51, code: 'a', system: 'http://unitsofmeasure.org' },
        },
      ],
    });
    // Age 0 is not an R4 Age (> 0): said in words, and read back as 0.
    expect(byCondition('Congenital heart defect')).toMatchObject({
      relationship: { coding: [{ code: 'BRO' }] },
      condition: [{ onsetString: 'at birth' }],
    });

    const { session: other } = await createdSession(server.t.url, sessions);
    const text = JSON.stringify(out.bundle);
    const report = await other.io.importFhir(text, { source: 'family.json' });
    expect(report.imported.filter((r) => r.kind === 'FamilyHistory')).toHaveLength(3);
    expect(report.imported.filter((r) => r.kind === 'FamilyHistory').flatMap((r) => r.notKept)).toEqual([]);
    const sorted = (list: ReturnType<typeof contentOf>[]) =>
      [...list].sort((a, b) => a.condition.localeCompare(b.condition));
    expect(sorted(await familyOf(other))).toEqual(sorted(await familyOf(patient)));
    const again = await other.io.importFhir(text, { source: 'family again.json' });
    expect(again.imported).toEqual([]);
    expect(again.duplicates.filter((d) => d.resourceType === 'FamilyMemberHistory')).toHaveLength(3);
  });

  it('another system’s FamilyMemberHistory: read as Hale has words for it, the rest listed as not kept', async () => {
    const { session } = await createdSession(server.t.url, sessions);
    const entry = (id: string, resource: Json) => ({
      fullUrl: `https://ehr.example.org/fhir/FamilyMemberHistory/${id}`,
      resource: {
        resourceType: 'FamilyMemberHistory',
        id,
        patient: { reference: 'Patient/p1' },
        ...resource,
      },
    });
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        entry('aunt', {
          status: 'completed',
          relationship: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'MAUNT' }],
          },
          deceasedAge: { value: 70, unit: 'a' },
          condition: [
            { code: { text: 'Ovarian cancer' }, onsetAge: { value: 600, code: 'mo' } },
            { code: { text: 'Hypertension' } },
          ],
        }),
        entry('wrong', {
          status: 'entered-in-error',
          relationship: { text: 'father' },
          condition: [{ code: { text: 'Gout' } }],
        }),
      ],
    };
    // The file names no Patient of its own: whose chart it goes into is said.
    const report = await session.io.importFhir(JSON.stringify(bundle), {
      source: 'ehr.json',
      patientId: session.account.accountId,
    });
    expect(report.imported).toHaveLength(1);
    expect(report.imported[0]?.notKept).toEqual(expect.arrayContaining(['relationship', 'condition[1]']));
    expect(report.skipped.map((s) => s.reason)).toEqual(['a family history entered in error']);
    expect(await familyOf(session)).toEqual([
      {
        relationship: 'aunt',
        relativeName: undefined,
        condition: 'Ovarian cancer',
        codes: undefined,
        onsetAge: 50,
        deceased: true,
        notes: undefined,
      },
    ]);
  });
});
