// A record edited several times in a row on one device keeps its last version there. The server serves
// this device's own versions back (live echoes), the older ones after newer ones were written locally:
// none of them may take the place of the newer local copy, even once that copy has been acknowledged
// while an older echo was still on its way to RxDB.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

describe("a device's own quick edits", () => {
  const server = useServer({ realClock: true });

  it('keep their last version on the device that wrote them, once every echo was served', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    server.sessions.push(a);
    await waitOnline(a);

    const med = await a.records.add('Medication', input('Medication', { name: 'Placebo', dose: '0 mg' }));
    for (const dose of ['1 mg', '2 mg', '3 mg']) await a.records.update('Medication', med.id, { dose });
    await a.records.add('Medication', input('Medication', { name: 'Aspirin' }));
    await allPushed(a);
    // A record from another device, served to a after every echo of a's pushes (one stream, served in
    // order): once a holds it, a has handled them all.
    const b = await openDevice(t, patient, { device: await addDevice(t, patient) });
    server.sessions.push(b);
    const marker = await b.records.add('Medication', input('Medication', { name: 'Marker' }));
    await eventually(async () => (await a.records.get(marker.id)) !== null, 'a has the marker');

    expect(await a.records.get<'Medication'>(med.id)).toMatchObject({ rv: 4, record: { dose: '3 mg' } });
    // b, which joined after them, gets them from its initial sync.
    await eventually(async () => (await b.records.get(med.id))?.rv === 4, 'b has the last version');
    expect(await b.records.get<'Medication'>(med.id)).toMatchObject({ record: { dose: '3 mg' } });
  });
});
