// The same record edited offline on two of the patient's devices. The second
// device to reconnect meets the first one's version as a push conflict, merges it, and pushes the merge.
// The pull of that reconnect then brings the first device's version, which the merge already contains:
// an old copy overtaken by this device's own newer push, to be dropped quietly. STALE_VERSION is for a
// server replaying an old version as new (a broken or dishonest server); an honest
// server and an everyday offline conflict must not raise it.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

describe('two devices edit one record offline (honest server)', () => {
  const server = useServer({ realClock: true });

  it('the device that merges reports no STALE_VERSION', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const second = await addDevice(t, patient);
    const a = await openDevice(t, patient);
    const b = await openDevice(t, patient, { device: second });
    server.sessions.push(a, b);
    await waitOnline(a);
    await waitOnline(b);
    const r = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await eventually(async () => (await b.records.get(r.id)) !== null, 'b has the allergy');
    a.sync.goOffline();
    b.sync.goOffline();
    await a.records.update('Allergy', r.id, { severity: 'severe' });
    await b.records.update('Allergy', r.id, { severity: 'mild' });

    a.sync.goOnline();
    await waitOnline(a);
    await allPushed(a);
    b.sync.goOnline();
    await waitOnline(b);
    await eventually(() => b.sync.state().pendingWrites === 0, 'b pushed its merge');
    await eventually(async () => (await a.records.get(r.id))?.rv === 3, 'a has the merge');
    await new Promise((res) => setTimeout(res, 300));

    // Both sides kept, as a conflict: nothing lost.
    const got = await b.records.get(r.id);
    expect(got?.conflict).toBe(true);
    // The honest server served nothing stale.
    expect(b.sync.state().errors.filter((e) => e.code === 'STALE_VERSION')).toEqual([]);
  });
});
