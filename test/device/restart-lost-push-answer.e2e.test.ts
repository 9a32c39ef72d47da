// A device pushes version v1 of a record; the server stores it, but the link drops before its answer
// reaches the device. Offline, the device edits the record again (v2, made on v1). Within one session the
// reconnect sends v1 again (RxDB retries the very batch, answered idempotently) and then v2 on top of it:
// no conflict. Before the fix, a restart in between (the session closed, or the process killed while the
// answer was on its way) lost that: RxDB gathered v2 against the state the server last acknowledged (v0),
// the server answered a conflict with the device's own v1, and the device kept it as the other side of a
// conflict (`conflict: true`, v1 in `conflictData`) for the person to settle, on every device of the
// patient. v1 is an ancestor of v2, not a concurrent edit: v2 must simply follow it.
// The last case is the boundary: a device store rolled back to an older copy (a backup restored) meets a
// version this device wrote and then lost locally; that must stay a conflict, never be written over.
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import type { DeviceSession, WebSocketLike } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import {
  allPushed,
  createWebSocket,
  eventually,
  interceptedWebSocket,
  losingAnswer,
  openDevice,
  waitOnline,
} from '../support/devices';
import { crashableStorage } from '../support/crash-storage';
import { input } from '../support/records';

/** What a reader holds of the record: content fields the two edits changed, conflict state, revision. */
const held = async (s: DeviceSession, id: string) => {
  const got = await s.records.get(id);
  if (got === null) return null;
  const record = got.record as { reaction?: unknown; severity?: unknown };
  return {
    reaction: record.reaction,
    severity: record.severity,
    conflict: got.conflict,
    conflictData: got.conflictData,
    rv: got.rv,
  };
};

/** v2 as it must end up everywhere: both edits (v2 was made on v1), no conflict. */
const V2 = { reaction: 'hives', severity: 'severe', conflict: false, conflictData: null, rv: 3 };

/** The revision tag the server holds for a record. */
const serverRev = (t: TestServer, id: string): string =>
  (t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(id) as { rev: string }).rev;

/** Another device of the patient, opened fresh, ends up with v2 and no conflict. */
const expectOnSecondDevice = async (
  server: ReturnType<typeof useServer>,
  patient: TestAccount,
  id: string,
) => {
  const other = await openDevice(server.t, patient, { device: await addDevice(server.t, patient) });
  server.sessions.push(other);
  await waitOnline(other);
  await eventually(async () => (await held(other, id))?.rv === 3, 'the second device has v2');
  expect(await held(other, id)).toEqual(V2);
};

describe('a push answer lost, the record edited again offline, then reconnected', () => {
  const server = useServer({ realClock: true });

  /**
   * A patient device online with one allergy the server acknowledged (v0), whose sockets lose the answer
   * to the next push once armed and, while `link.down` is set, cannot connect at all.
   */
  const setUp = async (
    options: { storage?: ReturnType<typeof getRxStorageMemory>; dbName?: string } = {},
  ) => {
    const t = server.t;
    const patient = await registerAccount(t);
    const lossy = losingAnswer('push');
    const link = { down: false };
    const sockets = (url: string): WebSocketLike =>
      link.down ? createWebSocket('ws://127.0.0.1:9/unreachable') : lossy.createWebSocket(url);
    const a = await openDevice(t, patient, { ...options, createWebSocket: sockets });
    await waitOnline(a);
    const r = await a.records.add('Allergy', input('Allergy', { substance: 'Latex', reaction: 'rash' }));
    await allPushed(a, 'v0 acknowledged');
    return { t, patient, a, r, lossy, link };
  };

  /** v1 reaches the server, its answer does not; the device is offline from then on. */
  const loseV1 = async (s: Awaited<ReturnType<typeof setUp>>) => {
    s.lossy.arm();
    await s.a.records.update('Allergy', s.r.id, { reaction: 'hives' });
    await s.lossy.cut;
    s.link.down = true;
    s.a.sync.goOffline();
    // The server holds v1 (rv 2); the device has no answer for it.
    await eventually(() => serverRev(s.t, s.r.id).startsWith('2-'), 'the server stored v1');
    expect(s.a.sync.state().pendingWrites).toBe(1);
  };

  it('within one session: v2 follows v1, no conflict (control)', async () => {
    const s = await setUp();
    server.sessions.push(s.a);
    await loseV1(s);
    await s.a.records.update('Allergy', s.r.id, { severity: 'severe' });

    s.link.down = false;
    s.a.sync.goOnline();
    await waitOnline(s.a);
    await allPushed(s.a, 'v2 acknowledged');
    expect(await held(s.a, s.r.id)).toEqual(V2);
    expect(serverRev(s.t, s.r.id)).toMatch(/^3-/);
    await expectOnSecondDevice(server, s.patient, s.r.id);
  });

  it('across a restart (session closed, reopened on the same store): v2 follows v1, no conflict', async () => {
    const storage = getRxStorageMemory();
    const dbName = `lost-answer-restart-${Date.now().toString(36)}`;
    const s = await setUp({ storage, dbName });
    await loseV1(s);
    await s.a.records.update('Allergy', s.r.id, { severity: 'severe' });
    await s.a.close();

    const again = await openDevice(s.t, s.patient, { storage, dbName });
    server.sessions.push(again);
    await waitOnline(again);
    await allPushed(again, 'v2 acknowledged after the restart');
    expect(await held(again, s.r.id)).toEqual(V2);
    expect(serverRev(s.t, s.r.id)).toMatch(/^3-/);
    expect(again.sync.state().errors).toEqual([]);
    await expectOnSecondDevice(server, s.patient, s.r.id);
  });

  it('across a crash as the answer arrived (never closed), v2 made after the restart: no conflict', async () => {
    const t = server.t;
    const disk = crashableStorage();
    const dbName = `lost-answer-crash-${Date.now().toString(36)}`;
    const patient = await registerAccount(t);
    let armed = false;
    let pushRid: unknown;
    let crashed = (): void => undefined;
    const crash = new Promise<void>((resolve) => (crashed = resolve));
    const a = await openDevice(t, patient, {
      storage: disk.storage,
      dbName,
      createWebSocket: interceptedWebSocket({
        sent: (text, send) => {
          const frame = JSON.parse(text) as { t: string; rid?: unknown };
          if (armed && frame.t === 'push') pushRid = frame.rid;
          send(text);
        },
        received: (text, deliver) => {
          const frame = JSON.parse(text) as { rid?: unknown };
          if (pushRid !== undefined && frame.rid === pushRid) {
            // The process dies as the answer arrives: nothing it would write from here on is stored.
            disk.crash();
            crashed();
            return;
          }
          deliver();
        },
      }),
    });
    await waitOnline(a);
    const r = await a.records.add('Allergy', input('Allergy', { substance: 'Latex', reaction: 'rash' }));
    await allPushed(a, 'v0 acknowledged');
    armed = true;
    await a.records.update('Allergy', r.id, { reaction: 'hives' });
    await crash;
    a.sync.goOffline(); // the dead session is never closed
    expect(serverRev(t, r.id).startsWith('2-')).toBe(true);

    const again = await openDevice(t, patient, { storage: disk.afterCrash(), dbName, offline: true });
    server.sessions.push(again);
    expect((await held(again, r.id))?.reaction).toBe('hives');
    await again.records.update('Allergy', r.id, { severity: 'severe' });
    again.sync.goOnline();
    await waitOnline(again);
    await allPushed(again, 'v2 acknowledged after the crash');
    expect(await held(again, r.id)).toEqual(V2);
    expect(serverRev(t, r.id)).toMatch(/^3-/);
    expect(again.sync.state().errors).toEqual([]);
    await expectOnSecondDevice(server, patient, r.id);
  });

  it('a device store rolled back to a copy from before its own v1 still keeps both sides (boundary)', async () => {
    // Two stores of one device: `current`, and `backup`, a copy taken while the device held v0 only (a
    // backup restored later). The device writes v1 (acknowledged) on `current`; restored to `backup`, it
    // edits twice offline (rv 3, past v1's 2) and reconnects after a restart. v1 is this device's own,
    // with a lower revision number, but nothing it kept says its local copy was made on v1: both sides
    // are kept. (Taking every own lower-numbered version as an ancestor would write v1 over silently.)
    const t = server.t;
    const patient = await registerAccount(t);
    const current = { storage: getRxStorageMemory(), dbName: `rollback-current-${Date.now().toString(36)}` };
    const backup = { storage: getRxStorageMemory(), dbName: `rollback-backup-${Date.now().toString(36)}` };
    const a = await openDevice(t, patient, current);
    await waitOnline(a);
    const r = await a.records.add('Allergy', input('Allergy', { substance: 'Latex', reaction: 'rash' }));
    await allPushed(a, 'v0 acknowledged');
    await a.close();
    const copy = await openDevice(t, patient, backup);
    await waitOnline(copy);
    await eventually(async () => (await held(copy, r.id))?.rv === 1, 'the copy holds v0');
    await copy.close();
    const later = await openDevice(t, patient, current);
    await waitOnline(later);
    await later.records.update('Allergy', r.id, { reaction: 'hives' });
    await allPushed(later, 'v1 acknowledged');
    await later.close();

    // Edited offline and restarted before reconnecting, so RxDB sends the newest local version (rv 3),
    // numbered past v1, against v0 (an edit pushed at once would go out as rv 2, no higher than v1).
    const offline = await openDevice(t, patient, { ...backup, offline: true });
    await offline.records.update('Allergy', r.id, { reaction: 'wheezing' });
    await offline.records.update('Allergy', r.id, { severity: 'severe' });
    await offline.close();
    const restored = await openDevice(t, patient, backup);
    server.sessions.push(restored);
    await waitOnline(restored);
    await allPushed(restored, 'the merge acknowledged');
    const got = await held(restored, r.id);
    expect(got?.conflict).toBe(true);
    expect([got?.reaction, got?.conflictData?.['reaction']].sort()).toEqual(['hives', 'wheezing']);
  });
});
