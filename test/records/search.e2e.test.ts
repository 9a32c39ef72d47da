// Local search through the surface the app uses (`HaleSession.search`), against a real server: every
// kind a patient writes is found by its text, whatever kind it is (the fields come from the kinds'
// descriptions, so no kind is left out of the index).
import { describe, expect, it } from 'vitest';
import { exampleInput, searchFieldsOf, type RecordKind } from '@hale/model';
import { useServer } from '../support/fixture';
import { createdSession, useHaleSessions, when } from '../client-api/hale-devices';

/** The kinds a patient adds through `records.add` (files, notes, plans and messages take other paths). */
const PATIENT_KINDS = [
  'Profile',
  'EmergencyContact',
  'Allergy',
  'Immunization',
  'Medication',
  'LabResult',
  'Condition',
  'Procedure',
  'Encounter',
  'FamilyHistory',
] as const satisfies readonly RecordKind[];

describe('search through HaleSession', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('"asthma" finds the allergy, the condition, the procedure and the family history that name it', async () => {
    const { session } = await createdSession(server.t.url, sessions);
    const now = new Date().toISOString();
    const allergy = await session.records.add('Allergy', {
      substance: 'Aspirin',
      reaction: 'Asthma attack',
      recordedAt: now,
      active: true,
    });
    const condition = await session.records.add('Condition', { name: 'Asthma', clinicalStatus: 'active' });
    const procedure = await session.records.add('Procedure', {
      name: 'Asthma spirometry',
      status: 'completed',
    });
    const family = await session.records.add('FamilyHistory', {
      relationship: 'father',
      condition: 'Asthma',
    });
    await session.records.add('Medication', { name: 'Ibuprofen', active: true });

    const found = await when(session.search('asthma'), (r) => r.ready && r.total === 4, 'four records');
    expect(found.hits.map((h) => [h.kind, h.field]).sort()).toEqual([
      ['Allergy', 'reaction'],
      ['Condition', 'name'],
      ['FamilyHistory', 'condition'],
      ['Procedure', 'name'],
    ]);
    expect(new Set(found.hits.map((h) => h.record.record.id))).toEqual(
      new Set([allergy.id, condition.id, procedure.id, family.id]),
    );
  });

  it('every kind a patient writes is found by a word of its main text', async () => {
    const { session } = await createdSession(server.t.url, sessions);
    const ids = new Map<RecordKind, string>();
    for (const kind of PATIENT_KINDS) {
      // A word no other record has, in the kind's first search field (its name or title).
      const field = searchFieldsOf(kind)[0] ?? '';
      expect(field, kind).not.toBe('');
      const word = `zq${kind.toLowerCase()}`;
      const input = exampleInput(kind);
      const added = await session.records.add(kind, { ...input, [field]: `${word} example` });
      ids.set(kind, added.id);
    }
    for (const kind of PATIENT_KINDS) {
      const word = `zq${kind.toLowerCase()}`;
      const found = await when(session.search(word), (r) => r.ready && r.total > 0, `${kind} found`);
      // Typo matching may add a near word of another kind (`zqallergy` has `medication`): found is enough.
      expect(
        found.hits.map((h) => [h.kind, h.record.record.id]),
        kind,
      ).toContainEqual([kind, ids.get(kind)]);
    }
  });
});
