// The connection drops and comes back while a new device's first sync is being stored. The reconnect's
// resync is not handed to RxDB while that pass runs (it would restart RxDB's upstream scan, which chases
// the pass's own writes and holds live changes): the pass's next page covers it. The device must still get
// every record, end online and follow live changes.
import { describe, expect, it } from 'vitest';
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

describe('a reconnect during a first sync', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('gets every record, ends online and follows live changes', { timeout: 60_000 }, async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    sessions.push(p);
    const written: { id: string }[] = [];
    for (let i = 0; i < 9; i++) written.push(await p.records.add('Allergy', input('Allergy')));
    await allPushed(p);
    await p.consent.verifyProvider(provider.accountId);
    await grantRead(p, provider.accountId, 'allergy', 3_600_000, 'care');

    // The provider's first sync, two records a page: its second page is held while being stored.
    const gate = gatedStorage();
    let pages = 0;
    const d = await openDevice(t, provider, {
      batchSize: 2,
      storage: gate.storage,
      createWebSocket: interceptedWebSocket({
        received: (text, deliver) => {
          const frame = JSON.parse(text) as { t: string; docs?: unknown[] };
          if (frame.t === 'pulled' && (frame.docs?.length ?? 0) > 0 && ++pages === 2) gate.holdNextLookup();
          deliver();
        },
      }),
    });
    sessions.push(d);
    await eventually(() => gate.holding(), 'a page of the first sync is being stored');
    d.sync.goOffline();
    d.sync.goOnline();
    await new Promise((r) => setTimeout(r, 500));
    gate.release();

    await eventually(
      async () => (await Promise.all(written.map((w) => d.records.get(w.id)))).every((r) => r !== null),
      'the provider has every allergy',
      20_000,
    );
    await waitOnline(d);
    const later = await p.records.add('Allergy', input('Allergy'));
    await eventually(
      async () => (await d.records.get(later.id)) !== null,
      'the new allergy arrives live',
      5000,
    );
    expect(pages).toBeGreaterThan(2);
  });
});
