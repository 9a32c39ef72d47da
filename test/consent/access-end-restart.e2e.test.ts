import { describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import type { DeviceSession } from '@hale/client/advanced';
import { diskStorage } from '../support/disk-storage';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, providerWithLabWrite, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

const codes = (s: DeviceSession): string[] => s.sync.state().errors.map((e) => e.code);

// A provider app restarted while offline knows the grants it was given (persisted with the device's
// metadata), so what ended meanwhile is purged at open and what is still granted can be written.
describe('a provider device restarted offline', () => {
  const server = useServer();
  const sessions = server.sessions;
  const now = () => server.t.clock.now;

  /** Closes `d` (not closed again after the test) and opens its database again, offline. */
  const reopenOffline = async (
    d: DeviceSession,
    opened: Awaited<ReturnType<typeof providerWithLabWrite>>,
    disk: ReturnType<typeof diskStorage>,
    dbName: string,
  ): Promise<DeviceSession> => {
    sessions.splice(sessions.indexOf(d), 1);
    await d.close();
    const again = await openDevice(server.t, opened.provider, {
      storage: disk.storage,
      dbName,
      offline: true,
      now,
    });
    sessions.push(again);
    return again;
  };

  it('lists no grant whose end passed, before the timer fires', async () => {
    const t = server.t;
    const { d, stream } = await providerWithLabWrite(t, sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
      now,
    });
    expect(d.engine.access().some((a) => a.stream === stream)).toBe(true);
    d.sync.goOffline();
    t.clock.advance(HOUR + 1000);
    // The timer runs on real time (an hour from now): the listing goes by the device's clock itself.
    expect(d.engine.access().some((a) => a.stream === stream)).toBe(false);
  });

  it('after the grant ended: the stream is purged at open, through the same path as an online end', async () => {
    const t = server.t;
    const disk = diskStorage();
    const dbName = `restart-ended-${Date.now()}`;
    const opened = await providerWithLabWrite(t, sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
      now,
      storage: disk.storage,
      dbName,
    });
    const { patient, d, lab, stream } = opened;
    d.sync.goOffline();
    const mine = await d.records.add('LabResult', input('LabResult', { testName: 'written in clinic' }), {
      patientId: patient.accountId,
    });
    expect(d.sync.state().pendingWrites).toBe(1);
    t.clock.advance(HOUR + 1000);

    const again = await reopenOffline(d, opened, disk, dbName);
    expect(await again.records.get(lab.id)).toBeNull();
    expect(await again.records.get(mine.id)).toBeNull();
    expect(await again.records.query('LabResult', { patientId: patient.accountId })).toEqual([]);
    expect(
      await firstValueFrom(again.records.observe('LabResult', { patientId: patient.accountId })),
    ).toEqual([]);
    expect(JSON.stringify(await again.exportFhir(patient.accountId))).not.toContain('ferritin');
    expect(again.engine.access().some((a) => a.stream === stream)).toBe(false);
    expect(again.engine.readable(stream)).toBe(false);
    const state = again.sync.state();
    expect(state.errors.some((e) => e.code === 'CONSENT_EXPIRED' && e.stream === stream)).toBe(true);
    expect(state.pendingWrites).toBe(0);
    // The write never sent is named, its content is not kept.
    const dropped = state.errors.find((e) => e.code === 'UNSENT_PURGED');
    expect(dropped).toMatchObject({ stream, id: mine.id, records: [{ id: mine.id, kind: 'LabResult' }] });
    expect(dropped?.message).toContain(mine.id);
    expect(JSON.stringify(state.errors)).not.toContain('written in clinic');
    expect(again.sync.unsent()).toEqual([]);
    // Recorded in the provider's own log, as a purge while it runs is.
    await eventually(
      async () =>
        (await again.audit.ownActions()).some(
          (e) => e.body.action === 'purge' && 'reason' in e.body && e.body.reason === 'expired',
        ),
      'the purge is in the audit log',
    );
  });

  it('within the grant: it knows its access offline and writes to the stream, sent once connected', async () => {
    const t = server.t;
    const disk = diskStorage();
    const dbName = `restart-valid-${Date.now()}`;
    const opened = await providerWithLabWrite(t, sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
      now,
      storage: disk.storage,
      dbName,
    });
    const { patient, p, d, lab, stream } = opened;
    const before = d.engine.access().find((a) => a.stream === stream);
    expect(before?.access).toBe('write');
    const listed = d.engine.access().length;

    const again = await reopenOffline(d, opened, disk, dbName);
    expect(again.engine.access().find((a) => a.stream === stream)).toEqual(before);
    expect(again.engine.access()).toHaveLength(listed);
    expect(again.sync.state().streams).toBe(listed);
    expect(await again.records.get(lab.id)).not.toBeNull();
    const mine = await again.records.add('LabResult', input('LabResult', { testName: 'HbA1c' }), {
      patientId: patient.accountId,
    });
    expect(again.sync.state().pendingWrites).toBe(1);

    // A clinician's patient list: on disk only sealed, under a key that names no patient.
    const list = disk.stored('meta-access');
    expect(list.length).toBeGreaterThan(0);
    for (const text of list) {
      expect(text).not.toContain(patient.accountId);
      expect(text).toMatch(/"data":"v1\./);
    }

    again.sync.goOnline();
    await waitOnline(again);
    await allPushed(again);
    await eventually(async () => (await p.records.get(mine.id)) !== null, 'the patient receives the write');
  });

  it('a purge that failed is done at the next open', async () => {
    const t = server.t;
    const disk = diskStorage();
    const dbName = `restart-purge-failed-${Date.now()}`;
    const opened = await providerWithLabWrite(t, sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
      now,
      storage: disk.storage,
      dbName,
    });
    const { p, d, lab, stream } = opened;
    // The purge's first write (the streams to pull from 0 again) fails: nothing of the stream is removed.
    disk.failWrites('meta-purged');
    const [grant] = await p.consent.list();
    await p.consent.revoke(grant!.grant.grantId);
    await eventually(() => codes(d).includes('PURGE_FAILED'), 'the purge fails');
    expect(await d.records.get(lab.id)).not.toBeNull();
    disk.failWrites(null);

    const again = await reopenOffline(d, opened, disk, dbName);
    expect(await again.records.get(lab.id)).toBeNull();
    expect(again.sync.state().errors.some((e) => e.code === 'CONSENT_REVOKED' && e.stream === stream)).toBe(
      true,
    );
    expect(again.engine.access().some((a) => a.stream === stream)).toBe(false);
  });
});

// A write made offline under a valid write grant whose grant ends before the device reconnects is
// purged with its stream (the provider may no longer hold the patient's data); the clinician is told
// which records were never sent.
describe('writes never sent when access ends', () => {
  const server = useServer();
  const sessions = server.sessions;
  const now = () => server.t.clock.now;

  it('are named in an issue when their stream is purged at reconnect', async () => {
    const t = server.t;
    const { patient, p, d, stream } = await providerWithLabWrite(t, sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
      now,
    });
    d.sync.goOffline();
    const first = await d.records.add('LabResult', input('LabResult', { testName: 'written in clinic' }), {
      patientId: patient.accountId,
    });
    const second = await d.records.add('LabResult', input('LabResult', { testName: 'also in clinic' }), {
      patientId: patient.accountId,
    });
    expect(d.sync.state().pendingWrites).toBe(2);
    t.clock.advance(HOUR + 1000);
    await t.server.hub.sweep();
    d.sync.goOnline();
    await waitOnline(d);
    await eventually(async () => (await d.records.get(first.id)) === null, 'purged');

    const state = d.sync.state();
    expect(state.pendingWrites).toBe(0);
    expect(d.sync.unsent()).toEqual([]);
    const dropped = state.errors.filter((e) => e.code === 'UNSENT_PURGED');
    expect(dropped).toHaveLength(1);
    expect(dropped[0]?.stream).toBe(stream);
    expect(dropped[0]?.records?.map((r) => `${r.kind} ${r.id}`).sort()).toEqual(
      [`LabResult ${first.id}`, `LabResult ${second.id}`].sort(),
    );
    expect(dropped[0]?.message).toContain(first.id);
    expect(dropped[0]?.message).toContain(second.id);
    expect(JSON.stringify(state.errors)).not.toMatch(/in clinic/);
    expect(await p.records.get(first.id)).toBeNull();
  });
});
