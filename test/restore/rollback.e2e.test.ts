import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { replayStored, storedRow, useServer } from '../support/fixture';
import { eventually, waitOnline, allPushed, openTwoDevices } from '../support/devices';
import { input } from '../support/records';

// Every version a server replays is genuine (sealed and tagged by the account), so only its revision
// number can tell that it is older than what a device already holds.
describe('a server replaying an older version of a record', () => {
  const server = useServer({ realClock: true });

  const twoDevices = async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const { a, b } = await openTwoDevices(t, patient, server.sessions);
    await waitOnline(a);
    await waitOnline(b);
    const rec = await a.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await allPushed(a);
    const old = storedRow(t, rec.id);
    return { t, a, b, rec, old };
  };

  it('is not applied over the newer version a device holds, and is reported', async () => {
    const { t, a, b, rec, old } = await twoDevices();
    await a.records.update('Allergy', rec.id, { substance: 'Penicillin (retested: none)' });
    await allPushed(a);
    await eventually(async () => (await b.records.get(rec.id))?.rv === 2, 'b has the second version');

    replayStored(t, rec.id, old);
    b.connection.drop();
    await eventually(
      () => b.sync.state().errors.some((e) => e.code === 'STALE_VERSION' && e.id === rec.id),
      'the replay is reported',
    );
    await waitOnline(b);
    const got = await b.records.get<'Allergy'>(rec.id);
    expect(got?.rv).toBe(2);
    expect(got?.record.substance).toBe('Penicillin (retested: none)');
  });

  it('does not bring a deleted record back', async () => {
    const { t, a, b, rec, old } = await twoDevices();
    await eventually(async () => (await b.records.get(rec.id)) !== null, 'b has the record');
    await a.records.remove(rec.id);
    await allPushed(a);
    await eventually(async () => (await b.records.get(rec.id)) === null, 'b saw the deletion');

    replayStored(t, rec.id, old);
    b.connection.drop();
    await eventually(
      () => b.sync.state().errors.some((e) => e.code === 'STALE_VERSION' && e.id === rec.id),
      'the replay is reported',
    );
    expect(await b.records.get(rec.id)).toBeNull();
    expect(await b.records.query('Allergy')).toEqual([]);
  });
});
