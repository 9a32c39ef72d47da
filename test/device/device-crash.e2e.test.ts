// A device that dies (no close(), nothing of its last moments saved) between a local write landing in the
// store and the bookkeeping of it: the engine's persisted pending list (saved a macrotask after a burst of
// writes) and the audit log's noted changes (appended up to 200 ms later). The write must still be sent
// once, counted as pending until then, and have its `records-changed` audit entry.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, providerWithLabWrite } from '../support/devices';
import { crashableStorage } from '../support/crash-storage';
import { input } from '../support/records';

/** How many versions of record `id` the server stores (one row per record). */
const storedRows = (server: ReturnType<typeof useServer>, id: string): number =>
  (server.t.store.db.prepare('SELECT count(*) AS n FROM docs WHERE id = ?').get(id) as { n: number }).n;

/** `reader`'s served audit entries by `deviceId` listing a change of record `id`, as (action) lists. */
const changesOf = async (reader: DeviceSession, deviceId: string, id: string): Promise<string[][]> =>
  (await reader.audit.entries()).flatMap((e) =>
    e.author === deviceId && e.body.kind === 'AuditEntry' && e.body.action === 'records-changed'
      ? [(e.body.changes ?? []).filter((c) => c.id === id).map((c) => c.action)]
      : [],
  );

describe('a device crashes right after a local write', () => {
  const server = useServer({ realClock: true });

  it('the write is sent after the restart', async () => {
    const t = server.t;
    const disk = crashableStorage();
    const dbName = `crash-push-${Date.now()}`;
    const patient = await registerAccount(t);
    const first = await openDevice(t, patient, { offline: true, storage: disk.storage, dbName });
    const written = await first.records.add('Immunization', input('Immunization'));
    // Before the pending list's save (a macrotask later) could run; the dead session is never closed.
    disk.crash();
    first.sync.goOffline();

    const again = await openDevice(t, patient, { storage: disk.afterCrash(), dbName });
    server.sessions.push(again);
    expect((await again.records.get(written.id))?.record.id).toBe(written.id);
    await eventually(() => storedRows(server, written.id) === 1, 'the write reached the server');
    await allPushed(again);
  });

  it('the write counts as pending after the restart, until the server took it', async () => {
    const t = server.t;
    const disk = crashableStorage();
    const dbName = `crash-pending-${Date.now()}`;
    const patient = await registerAccount(t);
    const first = await openDevice(t, patient, { offline: true, storage: disk.storage, dbName });
    await first.records.add('Immunization', input('Immunization'));
    const lost = await first.records.add('Immunization', input('Immunization'));
    expect(first.sync.state().pendingWrites).toBe(2);
    disk.crash();
    first.sync.goOffline();

    const again = await openDevice(t, patient, { offline: true, storage: disk.afterCrash(), dbName });
    server.sessions.push(again);
    const counted = await eventually(
      () => again.sync.state().pendingWrites === 2,
      'both writes pending',
      3_000,
    )
      .then(() => 2)
      .catch(() => again.sync.state().pendingWrites);
    expect(counted).toBe(2);
    again.sync.goOnline();
    await allPushed(again);
    expect(storedRows(server, lost.id)).toBe(1);
  });

  // A provider's write reaches the patient; its audit entry must too. The audit append is held until the
  // crash, so it never reaches the disk whatever the timing: the note alone can carry the change over.
  for (const when of ['acknowledged', 'not sent'] as const) {
    it(`a provider's write ${when} before the crash has one audit entry`, async () => {
      const t = server.t;
      const disk = crashableStorage();
      const dbName = `crash-audit-${Date.now()}`;
      const { provider, p, d, lab } = await providerWithLabWrite(t, server.sessions, {
        lab: input('LabResult', { testName: 'ferritin' }),
        storage: disk.storage,
        dbName,
      });
      server.sessions.splice(server.sessions.indexOf(d), 1);
      await d.audit.flushChanges();
      disk.holdLocal((id) => id.startsWith('meta-audit-chain:'));
      if (when === 'not sent') d.sync.goOffline();
      const notedKey = (id: string): boolean => id === 'meta-audit-noted-changes';
      const saves = disk.stored(notedKey);
      await d.records.update('LabResult', lab.id, { testName: 'ferritin, repeated' });
      if (when === 'acknowledged') await allPushed(d);
      // Within the 200 ms the note waits for its entry, once the burst's saves (a macrotask later) are in.
      await eventually(() => disk.stored(notedKey) > saves, 'the noted change saved', 2_000).catch(
        () => undefined,
      );
      disk.crash();
      d.sync.goOffline();

      const again = await openDevice(t, provider, { storage: disk.afterCrash(), dbName });
      server.sessions.push(again);
      await allPushed(again);
      await eventually(
        async () => (await p.records.get<'LabResult'>(lab.id))?.record.testName === 'ferritin, repeated',
        'the patient has the edit',
      );
      const deviceId = provider.device.deviceId;
      const logged = await eventually(
        async () => (await changesOf(p, deviceId, lab.id)).some((c) => c.includes('update')),
        'an audit entry of the edit',
        5_000,
      ).then(
        () => true,
        () => false,
      );
      expect(logged).toBe(true);
      await again.audit.flushChanges();
      await eventually(async () => (await again.audit.pendingCount()) === 0, 'audit outbox drained');
      expect((await changesOf(p, deviceId, lab.id)).flat().filter((a) => a === 'update')).toEqual(['update']);
    });
  }
});
