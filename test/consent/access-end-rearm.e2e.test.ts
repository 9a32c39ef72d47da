import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, grantRead, openDevice, openPatientAndProvider, waitOnline } from '../support/devices';
import { input } from '../support/records';

// Every grant's end is enforced by the provider device's own clock while it stays offline, not only the
// first one, and a session opened offline arms the timer for the grants it knows from before.
describe('grant ends on a device that stays offline', () => {
  const server = useServer({ realClock: true });

  it('purges each stream at its own end: the second end too', async () => {
    const t = server.t;
    const { patient, provider, p, d } = await openPatientAndProvider(t, server.sessions);
    await waitOnline(d);
    const allergy = await p.records.add('Allergy', input('Allergy'));
    const lab = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
    await p.consent.verifyProvider(provider.accountId);
    const removed: string[] = [];
    d.engine.removed$.subscribe((r) => removed.push(`${r.stream} ${r.reason}`));
    await grantRead(p, provider.accountId, 'allergy', 3_000, 'short look');
    await grantRead(p, provider.accountId, 'lab-result', 5_000, 'a bit longer');
    await eventually(
      async () => (await d.records.get(allergy.id)) !== null && (await d.records.get(lab.id)) !== null,
      'the provider has both records',
    );
    d.sync.goOffline();

    await eventually(async () => (await d.records.get(allergy.id)) === null, 'the allergy purged', 8_000);
    await eventually(async () => (await d.records.get(lab.id)) === null, 'the lab result purged', 8_000);
    // The end is announced once the purge's bookkeeping is done, a moment after the records are gone.
    await eventually(() => removed.length >= 2, 'both ends announced', 8_000);
    expect(removed).toEqual([
      `${patient.accountId}/allergy expired`,
      `${patient.accountId}/lab-result expired`,
    ]);
    expect(d.engine.access().filter((a) => a.patientId === patient.accountId)).toEqual([]);
  });

  it('a session opened offline purges a stream at the end of a grant it knew from before', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const storage = getRxStorageMemory();
    const dbName = `rearm-open-${Date.now()}`;
    const p = await openDevice(t, patient);
    server.sessions.push(p);
    const lab = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
    const first = await openDevice(t, provider, { storage, dbName });
    await waitOnline(first);
    await p.consent.verifyProvider(provider.accountId);
    await grantRead(p, provider.accountId, 'lab-result', 6_000, 'one look');
    await eventually(
      async () => (await first.records.get(lab.id)) !== null,
      'the provider has the lab result',
    );
    await first.close();

    const again = await openDevice(t, provider, { storage, dbName, offline: true });
    server.sessions.push(again);
    // Within the grant: still shown.
    expect(await again.records.get(lab.id)).not.toBeNull();
    await eventually(async () => (await again.records.get(lab.id)) === null, 'purged at the end', 10_000);
    expect(again.sync.state().errors.map((e) => e.code)).toContain('CONSENT_EXPIRED');
    expect(again.sync.state().status).toBe('offline');
  });
});
