// A record's source identity (fhir-import-identity.ts) as planFhirImport uses it: never the file's name,
// business identifiers first, a changed resource an update, an edit in Hale since a conflict.
import { describe, expect, it } from 'vitest';
import { planFhirImport, type FhirImportPlan, type HeldImport } from './fhir-import';
import { identityKeys, jsonDigest, recordContentDigest } from './fhir-import-identity';

const IMPORTED_AT = '2026-11-25T10:00:00.000Z';
const CHART = 'FreshAccount0000000001';
const patient = {
  resourceType: 'Patient',
  id: 'p1',
  identifier: [{ system: 'urn:mrn', value: '42' }],
  name: [{ family: 'Doe', given: ['Jo'] }],
};
const allergy = (substance: string) => ({
  resourceType: 'AllergyIntolerance',
  id: 'a1',
  code: { text: substance },
  patient: { reference: 'Patient/p1' },
});
const ndjson = (...lines: object[]) => lines.map((l) => JSON.stringify(l)).join('\n');

const plan = (text: string, source: string, held = new Map<string, HeldImport>(), hasProfile = false) => {
  const out = planFhirImport(text, {
    patientId: CHART,
    importedAt: IMPORTED_AT,
    source,
    hasProfile,
    existing: { originKeys: new Set(), ids: new Set(), held },
  });
  if (!out.ok) throw new Error(out.error.message);
  return out.value;
};

/** What a device holds after writing `p`: each record by each identity key. */
const heldAfter = (p: FhirImportPlan, edited?: string): Map<string, HeldImport> => {
  const held = new Map<string, HeldImport>();
  for (const r of p.records) {
    const origin = r.origin as typeof r.origin & { identity: string[]; digest: string };
    const recordDigest = (r.input['origin'] as { recordDigest: string }).recordDigest;
    for (const key of origin.identity)
      held.set(key, {
        id: r.id,
        kind: r.kind,
        digest: origin.digest,
        recordDigest,
        currentDigest: r.kind === edited ? recordContentDigest({ edited: true }) : recordDigest,
      });
  }
  return held;
};

describe('source identity', () => {
  it('business identifiers first, else the patient’s identifier, the type and the id', () => {
    expect(
      identityKeys({ ...allergy('x'), identifier: [{ system: 's', value: 'v' }] }, 'urn:mrn|42', undefined),
    ).toEqual(['AllergyIntolerance|s|v']);
    expect(identityKeys(allergy('x'), 'urn:mrn|42', undefined)).toEqual(['urn:mrn|42|AllergyIntolerance/a1']);
    // Without an id: its content, so the same resource is found again and another one is not.
    const { id: _id, ...bare } = allergy('x');
    expect(identityKeys(bare, undefined, undefined)).toEqual(identityKeys({ ...bare }, undefined, undefined));
    expect(identityKeys(bare, undefined, undefined)).not.toEqual(
      identityKeys({ ...bare, code: { text: 'y' } }, undefined, undefined),
    );
    expect(jsonDigest({ a: 1, b: [2] })).toBe(jsonDigest({ b: [2], a: 1 }));
  });

  it('the same data under another name plans nothing; a change is an update; an edit in Hale a conflict', () => {
    const first = plan(ndjson(patient, allergy('Peanuts')), 'a.ndjson');
    expect(first.records.map((r) => r.kind)).toEqual(['Profile', 'Allergy']);
    const held = heldAfter(first);

    const again = plan(ndjson(patient, allergy('Peanuts')), 'b.ndjson', held, true);
    expect([again.records, again.updates]).toEqual([[], []]);
    expect(again.duplicates.map((d) => d.path)).toEqual(['line 1', 'line 2']);

    const changed = plan(ndjson(patient, allergy('Tree nuts')), 'c.ndjson', held, true);
    expect(changed.records).toEqual([]);
    const allergyId = first.records[1]?.id;
    expect(changed.updates.map((u) => [u.id, u.editedInHale, u.input['substance']])).toEqual([
      [allergyId, false, 'Tree nuts'],
    ]);

    const edited = plan(ndjson(patient, allergy('Tree nuts')), 'c.ndjson', heldAfter(first, 'Allergy'), true);
    expect(edited.updates.map((u) => [u.id, u.editedInHale])).toEqual([[allergyId, true]]);
  });

  it('a file without a Patient says so (whose chart it is must be asked)', () => {
    expect(plan(ndjson(allergy('Peanuts')), 'a.ndjson').noPatient).toBe(true);
    expect(plan(ndjson(patient, allergy('Peanuts')), 'a.ndjson').noPatient).toBe(false);
  });
});
