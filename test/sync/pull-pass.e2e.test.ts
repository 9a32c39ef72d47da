// A pull pass whose last page is full: RxDB asks once more after a full page, and by then the device has
// every stream drained (it names a drained stream no more within a pass). That call must leave the pass
// as its last page left it — online — not turn the device back to `syncing` for good. The benchmark's
// provider (10,000 allergies in pages of 500, its own empty streams drained by the first page) ended this
// way; tests whose last page was short did not see it.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

describe('a pull pass ending on a full page', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('goes online, and stays online', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    sessions.push(p);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await p.records.add('Allergy', input('Allergy'))).id);
    await allPushed(p);
    await p.consent.verifyProvider(provider.accountId);
    await grantRead(p, provider.accountId, 'allergy', 3_600_000, 'care');

    // Pages of 2: the first drains the provider's own (empty) streams and brings 2 allergies; the second
    // is full and drains the allergy stream, the last one open.
    const d = await openDevice(t, provider, { batchSize: 2 });
    sessions.push(d);
    await waitOnline(d);
    await eventually(
      async () => (await Promise.all(ids.map((id) => d.records.get(id)))).every((r) => r !== null),
      'the provider holds the 4 allergies',
    );
    // RxDB's call after that full page must not leave the device syncing.
    await new Promise((r) => setTimeout(r, 300));
    expect(d.sync.state().status).toBe('online');
    const later = await p.records.add('Allergy', input('Allergy'));
    await eventually(async () => (await d.records.get(later.id)) !== null, 'the new record arrives');
    expect(d.sync.state().status).toBe('online');
  });
});
