// What a restarted device shows of its sync before it connects: the last time it synced is the one it had
// when it closed, not "never" (an offline device must be able to say how old what it shows is).
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

describe('the sync state a restarted device shows', () => {
  const server = useServer({ realClock: true });

  it('keeps the last synced time across a restart, offline too, and moves it on at the next sync', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const second = await addDevice(t, patient);
    const a = await openDevice(t, patient);
    server.sessions.push(a);
    await a.records.add('Allergy', input('Allergy'));
    await allPushed(a);
    const storage = getRxStorageMemory();
    const reopen = (offline: boolean): Promise<DeviceSession> =>
      openDevice(t, patient, { device: second, storage, dbName: 'restart-state-b', offline });
    let b = await reopen(false);
    server.sessions.push(b);
    await waitOnline(b);
    await eventually(async () => (await b.records.query('Allergy')).length === 1, 'b pulled the allergy');
    const synced = b.sync.state().lastSyncedAt;
    expect(synced).not.toBeNull();
    await b.close();

    b = await reopen(true);
    server.sessions.push(b);
    expect(b.sync.state()).toMatchObject({ status: 'offline', lastSyncedAt: synced });

    await new Promise((r) => setTimeout(r, 5));
    b.sync.goOnline();
    await waitOnline(b);
    expect(Date.parse(b.sync.state().lastSyncedAt!)).toBeGreaterThan(Date.parse(synced!));
  });
});
