// The connection comes back while the last (full) page of a pull pass is being applied. The
// reconnect asks for a resync (new connection: nothing subscribed yet); the pass must still end online
// with the streams subscribed on the new connection.
import { describe, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { gatedStorage } from '../support/gated-storage';
import {
  allPushed,
  eventually,
  grantRead,
  interceptedWebSocket,
  openDevice,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

describe('a reconnect while the last full page of a pull pass is applied', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('ends online and receives live changes', { timeout: 60_000 }, async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    sessions.push(p);
    await p.records.add('Allergy', input('Allergy'));
    await allPushed(p);
    await p.consent.verifyProvider(provider.accountId);
    await grantRead(p, provider.accountId, 'allergy', 3_600_000, 'care');

    const gate = gatedStorage();
    let armOnPulled = false;
    const d = await openDevice(t, provider, {
      batchSize: 2,
      storage: gate.storage,
      createWebSocket: interceptedWebSocket({
        received: (text, deliver) => {
          if (armOnPulled && (JSON.parse(text) as { t: string }).t === 'pulled') {
            armOnPulled = false;
            gate.holdNextLookup();
          }
          deliver();
        },
      }),
    });
    sessions.push(d);
    await waitOnline(d);

    // Offline, two new allergies: the pull at reconnect brings exactly a full page that drains the stream.
    d.sync.goOffline();
    const a = await p.records.add('Allergy', input('Allergy'));
    const b = await p.records.add('Allergy', input('Allergy'));
    await allPushed(p);
    armOnPulled = true;
    d.sync.goOnline();
    await eventually(() => gate.holding(), 'the page is being applied');
    // The link flaps while it is applied.
    d.sync.goOffline();
    d.sync.goOnline();
    await new Promise((r) => setTimeout(r, 1000));
    gate.release();

    await eventually(
      async () => (await d.records.get(a.id)) !== null && (await d.records.get(b.id)) !== null,
      'provider has both allergies',
    );
    await new Promise((r) => setTimeout(r, 2000));
    const later = await p.records.add('Allergy', input('Allergy'));
    await eventually(
      async () => (await d.records.get(later.id)) !== null,
      'the new allergy arrives live',
      5000,
    );
    // Not stuck syncing: 'online' follows once RxDB reports the live change stored.
    await waitOnline(d);
  });
});
