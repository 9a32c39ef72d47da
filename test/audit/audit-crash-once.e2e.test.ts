// A device killed after an audit entry was queued in the outbox but before the bookkeeping that says so
// was saved: the noted-changes mirror after a `records-changed` entry, the session's `signed-in` flag
// after the sign-in entry. The next start must not append that entry a second time (both would verify:
// the log would say the changes, or the sign-in, happened twice), and must lose nothing.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { eventually, openDevice } from '../support/devices';
import { crashableStorage } from '../support/crash-storage';
import { input } from '../support/records';

const OUTBOX = (id: string): boolean => id === 'meta-audit-outbox';

/** The bodies of `reader`'s own log that `deviceId` signed, opened, with action `action`. */
const entriesOf = async (reader: DeviceSession, deviceId: string, action: string) =>
  (await reader.audit.entries()).flatMap((e) =>
    e.author === deviceId && e.body.kind === 'AuditEntry' && e.body.action === action ? [e.body] : [],
  );

describe('audit: a crash after an entry was queued, before its bookkeeping was saved', () => {
  const server = useServer({ realClock: true });

  it('a record change is listed once after the restart', async () => {
    const t = server.t;
    const disk = crashableStorage();
    const dbName = `crash-noted-${Date.now()}`;
    const patient = await registerAccount(t);
    const first = await openDevice(t, patient, { offline: true, storage: disk.storage, dbName });
    const queued = disk.stored(OUTBOX);
    // Every save of the mirror once the entry's outbox row is stored: the one after the append never lands.
    disk.holdLocal((id) => id === 'meta-audit-noted-changes' && disk.stored(OUTBOX) > queued);
    const written = await first.records.add('Immunization', input('Immunization'));
    await eventually(() => disk.stored(OUTBOX) > queued, 'the records-changed entry queued', 5_000);
    disk.crash();
    first.sync.goOffline();

    const again = await openDevice(t, patient, { storage: disk.afterCrash(), dbName });
    server.sessions.push(again);
    await again.audit.flushChanges();
    await eventually(async () => (await again.audit.pendingCount()) === 0, 'audit outbox drained');
    const listed = (await entriesOf(again, patient.device.deviceId, 'records-changed')).flatMap((b) =>
      (b.changes ?? []).filter((c) => c.id === written.id),
    );
    expect(listed.map((c) => c.action)).toEqual(['create']);
  });

  it("the device's sign-in is logged once after the restart", async () => {
    const t = server.t;
    const disk = crashableStorage();
    const dbName = `crash-sign-in-${Date.now()}`;
    const patient = await registerAccount(t);
    // The first open appends the sign-in entry, then never gets to save `signed-in`.
    disk.holdLocal((id) => id === 'meta-signed-in');
    void openDevice(t, patient, { offline: true, storage: disk.storage, dbName }).catch(() => undefined);
    await eventually(() => disk.stored(OUTBOX) > 0, 'the sign-in entry queued', 5_000);
    disk.crash();

    const again = await openDevice(t, patient, { storage: disk.afterCrash(), dbName });
    server.sessions.push(again);
    await eventually(async () => (await again.audit.pendingCount()) === 0, 'audit outbox drained');
    expect(await entriesOf(again, patient.device.deviceId, 'device-sign-in')).toHaveLength(1);
  });
});
