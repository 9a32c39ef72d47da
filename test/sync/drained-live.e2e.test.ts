// A live change of a stream the current pull pass answered as drained reaches the device while a
// page of that pass is on its way. RxDB drops a live batch queued before its next pull call, and the pass
// names the drained stream no more: the change must still reach the device.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  grantRead,
  interceptedWebSocket,
  openDevice,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

describe('a live change of a stream drained in the current pull pass', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it(
    'a live change of a drained stream during a multi-page pass is not lost',
    { timeout: 60_000 },
    async () => {
      const t = server.t;
      const patient = await registerAccount(t);
      const provider = await registerAccount(t, 'provider');
      const p = await openDevice(t, patient);
      sessions.push(p);
      const first = await p.records.add('Allergy', input('Allergy'));
      const meds: string[] = [];
      for (let i = 0; i < 5; i++) meds.push((await p.records.add('Medication', input('Medication'))).id);
      await allPushed(p);
      await p.consent.verifyProvider(provider.accountId);
      await grantRead(p, provider.accountId, 'allergy', 3_600_000, 'care');

      let hold = false;
      let held: (() => void) | null = null;
      let liveSeen = 0;
      const d = await openDevice(t, provider, {
        batchSize: 2,
        createWebSocket: interceptedWebSocket({
          received: (text, deliver) => {
            const f = JSON.parse(text) as { t: string };
            if (f.t === 'changes') liveSeen++;
            if (hold && f.t === 'pulled') {
              hold = false;
              held = () => deliver();
              return;
            }
            deliver();
          },
        }),
      });
      sessions.push(d);
      await waitOnline(d);
      await eventually(
        async () => (await d.records.get(first.id)) !== null,
        'provider has the first allergy',
      );

      // A second grant: a new pull pass whose first page drains the allergy stream and is full (2 meds).
      hold = true;
      await grantRead(p, provider.accountId, 'medication', 3_600_000, 'care');
      await eventually(() => held !== null, 'first page of the pass held');
      // Meanwhile a new allergy: its live frame reaches the device while that page is held.
      const before = liveSeen;
      const second = await p.records.add('Allergy', input('Allergy'));
      await allPushed(p);
      await eventually(() => liveSeen > before, 'live frame of the new allergy delivered');
      await new Promise((r) => setTimeout(r, 500));
      held!();

      await eventually(
        async () => (await Promise.all(meds.map((id) => d.records.get(id)))).every((r) => r !== null),
        'provider has every medication',
      );
      await waitOnline(d);
      // A later allergy moves the stored checkpoint past the lost one.
      const third = await p.records.add('Allergy', input('Allergy'));
      await eventually(
        async () => (await d.records.get(third.id)) !== null,
        'provider has the third allergy',
      );
      // Even a reconnect does not bring it back.
      d.sync.goOffline();
      d.sync.goOnline();
      await waitOnline(d);
      await new Promise((r) => setTimeout(r, 1000));
      expect(await d.records.get(second.id)).not.toBeNull();
    },
  );
});
