// A live change is not held behind the signed-head checks (issue #49): a device whose `getHead` requests
// the server has not answered yet (held here before they reach it) still stores a record another device
// writes meanwhile; once the checks are let through they run, and an honest server gives no HEAD_ issue.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

describe('live changes and head checks', () => {
  const server = useServer({ realClock: true });

  it('a live change is stored while the head checks are still waiting', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    server.sessions.push(a);
    await waitOnline(a);
    await a.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await allPushed(a);

    // The second device's getHead frames wait here until released.
    const held: (() => void)[] = [];
    let holding = true;
    let answered = 0;
    const createWebSocket = interceptedWebSocket({
      sent: (text, send) => {
        if (holding && text.includes('"t":"getHead"')) held.push(() => send(text));
        else send(text);
      },
      received: (text, deliver) => {
        if (text.includes('"t":"head"')) answered++;
        deliver();
      },
    });
    const device = await addDevice(t, patient);
    const c = await openDevice(t, patient, { device, createWebSocket });
    server.sessions.push(c);
    await waitOnline(c);
    await eventually(() => held.length > 0, 'head checks asked');

    const rec = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(a);
    await eventually(async () => (await c.records.get(rec.id)) !== null, 'the live change arrives', 5_000);
    expect(answered).toBe(0);

    holding = false;
    const asked = held.length;
    for (const send of held.splice(0)) send();
    await eventually(() => answered >= asked, 'the held checks are answered');
    await eventually(
      () =>
        c.sync.state().status === 'online' && !c.sync.state().errors.some((e) => e.code.startsWith('HEAD_')),
      'the checks run',
    );
  });
});
