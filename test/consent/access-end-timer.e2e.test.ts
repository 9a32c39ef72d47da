import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import { eventually, openPatientAndProvider, waitOnline, grantRead } from '../support/devices';
import { input } from '../support/records';

// A grant's end is enforced by the provider device's own clock: with no connection at all, its copy of
// the stream is purged at the instant the grant expires.
describe('grant expiry on a device that stays offline', () => {
  const server = useServer({ realClock: true });

  it('purges the stream at the expiry instant without the server', async () => {
    const t = server.t;
    const { provider, p, d } = await openPatientAndProvider(t, server.sessions);
    await waitOnline(d);
    const lab = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
    await p.consent.verifyProvider(provider.accountId);
    await grantRead(p, provider.accountId, 'lab-result', 3_000, 'one look');
    await eventually(async () => (await d.records.get(lab.id)) !== null, 'the provider has the lab result');
    d.sync.goOffline();
    const purged = new Promise<string>((resolve) => d.engine.removed$.subscribe((r) => resolve(r.reason)));
    await eventually(async () => (await d.records.get(lab.id)) === null, 'purged while offline', 8_000);
    expect(await purged).toBe('expired');
    expect(d.sync.state().status).toBe('stopped');
  });
});
