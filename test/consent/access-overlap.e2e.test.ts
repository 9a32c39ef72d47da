import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { DeviceSession } from '@hale/client/advanced';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  eventually,
  grantRead,
  grantWrite,
  openDevice,
  openPatientAndProvider,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

/** Non-owner entries of the device's access list, as [access, end of access, end of reading]. */
const listed = (d: DeviceSession) =>
  d.engine
    .access()
    .filter((a) => a.access !== 'owner')
    .map((a) => [a.access, a.expiresAt, a.readExpiresAt]);

// Two grants on one record type, read for an hour and write for a few seconds: when the write grant ends
// the provider device stops writing, but keeps reading (and holding the records) until the read grant ends,
// offline by its own clock as online by the server's word.
describe('overlapping grants on one record type', () => {
  const server = useServer({ realClock: true });

  for (const offline of [true, false]) {
    it(`the write grant's end leaves the read grant's records (${offline ? 'offline' : 'online'})`, async () => {
      const t = server.t;
      const { patient, provider, p, d } = await openPatientAndProvider(t, server.sessions);
      await waitOnline(d);
      const lab = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
      await p.consent.verifyProvider(provider.accountId);
      await grantRead(p, provider.accountId, 'lab-result', HOUR, 'follow-up read');
      const writeStart = Date.now();
      await grantWrite(p, provider.accountId, 'lab-result', 3_000, 'enter one result');
      const stream = `${patient.accountId}/lab-result`;
      await eventually(async () => (await d.records.get(lab.id)) !== null, 'the provider has the lab result');
      await eventually(() => d.engine.writable(stream), 'the provider may write');
      const before = d.engine.access().find((a) => a.stream === stream);
      expect(before?.access).toBe('write');
      const writeEnd = Date.parse(before?.expiresAt ?? '');
      expect(writeEnd - writeStart).toBeLessThan(4_000);

      const removed: string[] = [];
      d.engine.removed$.subscribe((r) => removed.push(`${r.stream} ${r.reason}`));
      if (offline) d.sync.goOffline();
      await eventually(() => !d.engine.writable(stream), 'writing ends with the write grant', 8_000);
      expect(Date.now()).toBeGreaterThanOrEqual(writeEnd);
      // Past the end of the write grant and the device's timer for it.
      await new Promise((r) => setTimeout(r, 1_000));

      expect(removed).toEqual([]);
      expect(await d.records.get(lab.id)).not.toBeNull();
      expect(d.engine.readable(stream)).toBe(true);
      expect(d.sync.state().errors.map((e) => e.code)).not.toContain('CONSENT_EXPIRED');
      // The read grant's end was known before the write grant ended, and is what is listed now.
      const readEnd = Date.parse(before?.readExpiresAt ?? '');
      expect(readEnd - writeEnd).toBeGreaterThan(HOUR - 10_000);
      expect(listed(d)).toEqual([['read', new Date(readEnd).toISOString(), undefined]]);
      await expect(
        d.records.add('LabResult', input('LabResult', { testName: 'too late' }), {
          patientId: patient.accountId,
        }),
      ).rejects.toMatchObject({ code: 'NOT_WRITABLE', reason: 'read-only' });
    });
  }
});

// The same on a device restarted offline: what it keeps of its access says when each grant ends.
describe('overlapping grants on a device restarted offline', () => {
  const server = useServer();
  const now = () => server.t.clock.now;

  it('opens past the write end still reading, and purges at the read end', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const storage = getRxStorageMemory();
    const dbName = `overlap-restart-${Date.now()}`;
    const p = await openDevice(t, patient, { now });
    server.sessions.push(p);
    const lab = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
    const d = await openDevice(t, provider, { now, storage, dbName });
    await waitOnline(d);
    await p.consent.verifyProvider(provider.accountId);
    const granted = now();
    await grantRead(p, provider.accountId, 'lab-result', 5 * HOUR, 'follow-up read');
    await grantWrite(p, provider.accountId, 'lab-result', HOUR, 'enter results');
    const stream = `${patient.accountId}/lab-result`;
    await eventually(async () => (await d.records.get(lab.id)) !== null, 'the provider has the lab result');
    await eventually(() => d.engine.writable(stream), 'the provider may write');
    await d.close();

    t.clock.advance(HOUR + 1000);
    const again = await openDevice(t, provider, { now, storage, dbName, offline: true });
    server.sessions.push(again);
    expect(await again.records.get(lab.id)).not.toBeNull();
    expect(again.engine.readable(stream)).toBe(true);
    expect(again.engine.writable(stream)).toBe(false);
    expect(listed(again)).toEqual([['read', new Date(granted + 5 * HOUR).toISOString(), undefined]]);
    expect(again.sync.state().errors.map((e) => e.code)).not.toContain('CONSENT_EXPIRED');
    await again.close();
    server.sessions.splice(server.sessions.indexOf(again), 1);

    t.clock.advance(4 * HOUR);
    const last = await openDevice(t, provider, { now, storage, dbName, offline: true });
    server.sessions.push(last);
    expect(await last.records.get(lab.id)).toBeNull();
    expect(last.engine.readable(stream)).toBe(false);
    expect(listed(last)).toEqual([]);
    expect(last.sync.state().errors.map((e) => e.code)).toContain('CONSENT_EXPIRED');
  });
});
