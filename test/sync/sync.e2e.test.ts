import { describe, expect, it } from 'vitest';
import { exampleRecord } from '@hale/model';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, newDevice, openDevice, waitOnline, allPushed } from '../support/devices';

describe('device sync end to end (real server, real sockets, RxDB)', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('a device writes offline, comes online, and the second device of the patient receives it', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const second = await newDevice(t, patient);
    const a = await openDevice(t, patient, { offline: true });
    sessions.push(a);
    const allergy = exampleRecord('Allergy');
    const { id: _id, patientId: _p, createdAt: _c, updatedAt: _u, ...input } = allergy;
    const added = await a.records.add('Allergy', { ...input, substance: 'Penicillin' });
    expect(a.sync.state().pendingWrites).toBe(1);

    const b = await openDevice(t, patient, { device: second });
    sessions.push(b);
    await waitOnline(b);
    expect(await b.records.get(added.id)).toBeNull();

    a.sync.goOnline();
    await eventually(
      async () => (await b.records.get(added.id)) !== null,
      'second device receives the allergy',
    );
    const got = await b.records.get<'Allergy'>(added.id);
    expect(got?.record.substance).toBe('Penicillin');
    expect(got?.author).toBe(patient.device.deviceId);
    await allPushed(a, 'pending writes drain');

    // An update and then a delete travel too.
    await b.records.update('Allergy', added.id, { severity: 'severe' });
    await eventually(
      async () => (await a.records.get<'Allergy'>(added.id))?.record.severity === 'severe',
      'update arrives',
    );
    await a.records.remove(added.id);
    await eventually(async () => (await b.records.get(added.id)) === null, 'delete arrives');
    expect(await b.records.query('Allergy')).toHaveLength(0);
  });
});
