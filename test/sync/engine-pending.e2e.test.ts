import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  eventually,
  grantWrite,
  openDevice,
  openPatientAndProvider,
  waitOnline,
  allPushed,
} from '../support/devices';
import { input } from '../support/records';

type Request = DeviceSession['connection']['request'];

// `pendingWrites` counts local versions the server has not acknowledged: it must not reach 0 while one
// is still unsent, and must reach 0 once nothing will ever send them.
describe('engine: pending writes', () => {
  const server = useServer({ realClock: true });

  it('an edit made while the push of the previous version is answered stays pending until it is pushed', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    server.sessions.push(a);
    await waitOnline(a);
    const rec = await a.records.add('Allergy', input('Allergy', { substance: 'Sulfa' }));
    await allPushed(a);

    // The server has answered the push of v2; its reply is held before the engine sees it.
    const conn = a.connection as { request: Request };
    const send = conn.request.bind(conn);
    let deliver: (() => void) | null = null;
    conn.request = (async (frame: Parameters<Request>[0]) => {
      const reply = await send(frame);
      if (frame.t === 'push' && deliver === null) await new Promise<void>((r) => (deliver = r));
      return reply;
    }) as Request;
    await a.records.update('Allergy', rec.id, { substance: 'Sulfa v2' });
    await eventually(() => deliver !== null, 'v2 pushed and answered');
    await a.records.update('Allergy', rec.id, { substance: 'Sulfa v3' });
    a.sync.goOffline();
    const before = a.sync.state().lastSyncedAt;
    deliver!();
    // The push handler sets lastSyncedAt once it has taken the reply.
    await eventually(() => a.sync.state().lastSyncedAt !== before, 'the reply for v2 was taken');
    const server2 = t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(rec.id) as { rev: string };
    expect(server2.rev.startsWith('2-')).toBe(true);
    expect((await a.records.get<'Allergy'>(rec.id))?.rv).toBe(3);
    expect(a.sync.state().pendingWrites).toBe(1);

    a.sync.goOnline();
    await allPushed(a, 'v3 pushed');
    const server3 = t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(rec.id) as { rev: string };
    expect(server3.rev.startsWith('3-')).toBe(true);
  });

  it('writes to a stream whose access ended while offline stop counting when it is purged', async () => {
    const t = server.t;
    const { provider, p, d } = await openPatientAndProvider(t, server.sessions);
    await waitOnline(d);
    const l1 = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
    const l2 = await p.records.add('LabResult', input('LabResult', { testName: 'hba1c' }));
    await allPushed(p);
    await p.consent.verifyProvider(provider.accountId);
    const grantLabs = (durationMs: number) => grantWrite(p, provider.accountId, 'lab-result', durationMs);
    await grantLabs(4_000);
    await eventually(
      async () => (await d.records.get(l1.id)) !== null && (await d.records.get(l2.id)) !== null,
      'the provider has both',
    );
    d.sync.goOffline();
    await d.records.update('LabResult', l1.id, { testName: 'ferritin (provider note)' });
    await d.records.remove(l2.id);
    expect(d.sync.state().pendingWrites).toBe(2);
    // The grant's end is enforced on the device's clock: its timer purges the stream while offline.
    await eventually(async () => (await d.records.get(l1.id)) === null, 'purged while offline', 10_000);
    expect(d.sync.state().pendingWrites).toBe(0);

    // Granted again: nothing of the purged copy is sent, and nothing stays pending.
    await grantLabs(3_600_000);
    d.sync.goOnline();
    await waitOnline(d);
    await eventually(async () => (await d.records.get(l1.id)) !== null, 'the stream is pulled again');
    expect(d.sync.state().pendingWrites).toBe(0);
    expect((await p.records.get<'LabResult'>(l1.id))?.record.testName).toBe('ferritin');
    expect(await p.records.get(l2.id)).not.toBeNull();
  });
});
