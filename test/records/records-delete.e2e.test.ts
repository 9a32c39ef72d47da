import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, newDevice, openDevice, openTwoDevices, waitOnline } from '../support/devices';
import { input } from '../support/records';

// Deletions travel like edits: a tombstone, an id used again after it, and a deletion accepted in a
// conflict all reach the server and the patient's other devices.
describe('record deletions across devices', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it("a record added again under a deleted record's id is pushed and reaches another device", async () => {
    const patient = await registerAccount(server.t);
    const a = await openDevice(server.t, patient);
    sessions.push(a);
    await waitOnline(a);
    const first = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(a);
    await a.records.remove(first.id);
    await allPushed(a, 'tombstone pushed');

    await a.records.add('Allergy', { ...input('Allergy', { substance: 'Latex (re-added)' }), id: first.id });
    await allPushed(a, 'the re-added record is pushed');
    expect(a.sync.state().errors.filter((e) => e.id === first.id)).toEqual([]);

    const b = await openDevice(server.t, patient, { device: await newDevice(server.t, patient) });
    sessions.push(b);
    await eventually(
      async () => (await b.records.get<'Allergy'>(first.id))?.record.substance === 'Latex (re-added)',
      'the second device has the re-added record',
    );
  });

  it("resolveConflict(id, 'other') on a delete-versus-edit conflict deletes the record everywhere", async () => {
    const patient = await registerAccount(server.t);
    const { a, b } = await openTwoDevices(server.t, patient, sessions);
    const med = await a.records.add('Medication', input('Medication', { name: 'Warfarin', dose: '5 mg' }));
    await eventually(async () => (await b.records.get(med.id)) !== null, 'b has the medication');

    a.sync.goOffline();
    b.sync.goOffline();
    await a.records.remove(med.id);
    await b.records.update('Medication', med.id, { dose: '2.5 mg' });
    a.sync.goOnline();
    await allPushed(a, 'the deletion is on the server');
    b.sync.goOnline();
    for (const s of [a, b]) {
      await eventually(async () => {
        const x = await s.records.get(med.id);
        return x !== null && x.conflict && x.conflictData?.['deletedAt'] !== undefined;
      }, 'both devices show the delete-versus-edit conflict');
    }

    const shown = (await a.records.get(med.id))!;
    await expect(a.records.resolveConflict(med.id, 'other', { expectedRv: shown.rv })).resolves.toBeNull();
    expect(await a.records.get(med.id)).toBeNull();
    await allPushed(a, 'the accepted deletion is pushed');
    await eventually(async () => (await b.records.get(med.id)) === null, 'the deletion reaches b');
    expect(await b.records.conflicts()).toEqual([]);
  });
});
