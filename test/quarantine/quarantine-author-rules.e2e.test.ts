import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { DeviceSession } from '@hale/client/advanced';
import { addDevice, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';
import { labsOfRevokedDevices } from '../support/revoked-labs';

// A record set aside BAD_AUTHOR was judged by the author rules of the session that read it: one without
// revoked-device lookups (no `getDevice`, an older build) refuses what a provider's retired device signed
// before its revocation. The same device, once it can look such devices up, fetches it again once and
// shows it; what fails again stays aside, reported once, and is not fetched again.
describe('records set aside BAD_AUTHOR, under other author rules', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  const labsOfRevoked = (t: TestServer) =>
    labsOfRevokedDevices(t, async (account, device, options = {}) => {
      const session = await openDevice(t, account, {
        ...(device ? { device } : {}),
        ...(options.now ? { now: options.now } : {}),
      });
      sessions.push(session);
      return session;
    });

  /**
   * A new device of `account` over one store, reopened as an app restarts, with or without revoked-device
   * lookups. `refetched()` counts pulls of `stream` from below `below()` since `count()` was last called:
   * the normal pull starts at the stored position, so only a retry of what was set aside asks for those.
   */
  const reopenableDevice = async (t: TestServer, account: TestAccount, stream: string) => {
    const device = await addDevice(t, account);
    const storage = getRxStorageMemory();
    const dbName = `author-rules-${device.keys.deviceId.slice(0, 8)}-${Date.now()}`;
    const watch = { below: 0, pulls: 0 };
    const createWebSocket = interceptedWebSocket({
      sent: (text, send) => {
        const frame = JSON.parse(text) as { t?: string; streams?: Array<{ stream: string; since: number }> };
        if (frame.t === 'pull' && frame.streams?.some((c) => c.stream === stream && c.since < watch.below))
          watch.pulls++;
        send(text);
      },
    });
    let current: DeviceSession | null = null;
    const open = async (lookups: { getDevice: boolean }): Promise<DeviceSession> => {
      if (current) {
        sessions.splice(sessions.indexOf(current), 1);
        await current.close();
      }
      current = await openDevice(t, account, {
        device,
        createWebSocket,
        storage,
        dbName,
        lookups: lookups.getDevice ? 'harness' : 'no-device-lookup',
      });
      sessions.push(current);
      return current;
    };
    /** Counts from now pulls of the stream from below `seq`. */
    const count = (seq: number): void => {
      watch.below = seq;
      watch.pulls = 0;
    };
    return { open, count, refetched: () => watch.pulls };
  };

  const quarantinedReports = (s: DeviceSession) =>
    s.sync
      .state()
      .errors.filter((e) => e.code === 'QUARANTINED')
      .map((e) => e.id);
  /** Long enough for a retry started when the device came online to have run. */
  const settle = () => new Promise((r) => setTimeout(r, 500));
  const reconnect = async (s: DeviceSession): Promise<void> => {
    s.sync.goOffline();
    s.sync.goOnline();
    await waitOnline(s);
  };

  it('what a revoked device signed before its revocation shows once the device can look it up; the rest stays, once', async () => {
    const t = server.t;
    const { patient, own, before, dated, stream } = await labsOfRevoked(t);
    const device = await reopenableDevice(t, patient, stream);

    let s = await device.open({ getDevice: false });
    await eventually(async () => (await s.records.get(own.id)) !== null, "the patient's own lab shows");
    await eventually(() => s.sync.quarantine().length === 2, 'both provider labs are set aside');
    expect(s.sync.quarantine().map((q) => [q.id, q.reason])).toEqual(
      expect.arrayContaining([
        [before.id, 'BAD_AUTHOR'],
        [dated.id, 'BAD_AUTHOR'],
      ]) as unknown,
    );
    expect(quarantinedReports(s).sort()).toEqual([before.id, dated.id].sort());
    const head = Math.max(...s.sync.quarantine().map((q) => q.seq));

    // The same session again: judged under the same rules, nothing is fetched again.
    device.count(head);
    s = await device.open({ getDevice: false });
    await waitOnline(s);
    await settle();
    expect(device.refetched()).toBe(0);
    expect(await s.records.get(before.id)).toBeNull();

    // Now with revoked-device lookups: fetched again once, the lab signed before the revocation shows.
    device.count(head);
    s = await device.open({ getDevice: true });
    await eventually(
      async () => (await s.records.get<'LabResult'>(before.id))?.record.testName === 'HbA1c',
      'the lab signed before the revocation shows after the retry',
    );
    await eventually(() => s.sync.quarantine().length === 1, 'it left the quarantine');
    expect(s.sync.quarantine().map((q) => [q.id, q.reason])).toEqual([[dated.id, 'BAD_AUTHOR']]);
    expect(await s.records.get(dated.id)).toBeNull();
    await settle();
    expect(device.refetched()).toBe(1);
    // Judged again with the same outcome: not reported again.
    expect(quarantinedReports(s)).toEqual([]);

    // Kept under these rules: neither a reconnect nor a restart fetches it again.
    await reconnect(s);
    await settle();
    s = await device.open({ getDevice: true });
    await waitOnline(s);
    await settle();
    expect(device.refetched()).toBe(1);
    expect(quarantinedReports(s)).toEqual([]);
    expect(s.sync.quarantine().map((q) => [q.id, q.reason])).toEqual([[dated.id, 'BAD_AUTHOR']]);
  });

  it('an entry kept without the author rules that judged it (an older build) is fetched again once', async () => {
    const t = server.t;
    const { patient, before, dated, stream } = await labsOfRevoked(t);
    const device = await reopenableDevice(t, patient, stream);
    let s = await device.open({ getDevice: false });
    await eventually(() => s.sync.quarantine().length === 2, 'both provider labs are set aside');
    const head = Math.max(...s.sync.quarantine().map((q) => q.seq));

    // As an older build stored them: no author rules (nor record rules) on the entries.
    s.sync.goOffline();
    // `quarantine()` lists the entries before their write lands (the page goes to RxDB only after it).
    const kept = async () =>
      (await s.db.getLocal<{ value: Array<Record<string, unknown>> }>('meta-quarantine'))?.toJSON().data
        .value ?? [];
    await eventually(async () => (await kept()).length === 2, 'both entries are kept');
    const entries = await kept();
    expect(entries).toHaveLength(2);
    const legacy = entries.map(({ authorRules: _a, model: _m, ...rest }) => rest);
    await s.db.upsertLocal('meta-quarantine', { value: legacy });

    device.count(head);
    s = await device.open({ getDevice: false });
    expect(s.sync.quarantine().map((q) => Object.keys(q).sort())).toEqual(
      legacy.map((q) => Object.keys(q).sort()),
    );
    // Judged again under this session's rules (still without revoked-device lookups): both stay aside.
    await eventually(
      () => s.sync.quarantine().every((q) => q.authorRules !== undefined),
      'the entries are judged again',
    );
    await settle();
    expect(device.refetched()).toBe(1);
    expect(
      s.sync
        .quarantine()
        .map((q) => q.id)
        .sort(),
    ).toEqual([before.id, dated.id].sort());
    expect(quarantinedReports(s)).toEqual([]);

    await reconnect(s);
    await settle();
    expect(device.refetched()).toBe(1);
  });
});
