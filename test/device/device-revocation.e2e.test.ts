import { describe, expect, it } from 'vitest';
import {
  createHttpApi,
  joinWithPassphrase,
  revokeDevice,
  type DeviceSession,
  type UnlockedAccount,
} from '@hale/client/advanced';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  accountDeps,
  allPushed,
  asTestAccount,
  ed,
  eventually,
  grantRead,
  laptopAndPhone,
  openDevice,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

// Device revocation from the patient's side (the client's own `revokeDevice`, a real server): what the
// revoked device sees, what the remaining devices and a consented provider keep doing, and a device
// revoking itself or the account's last device. Not covered, by design: someone who unlocks the revoked
// device holds the account root (docs/architecture.md, "Devices and revocation").
describe('device revocation from the patient side', () => {
  const server = useServer({ realClock: true });
  const api = () => createHttpApi({ baseUrl: server.t.url, fetch });
  const deps = () => accountDeps(server.t.url);
  const open = async (a: UnlockedAccount, options: { offline?: boolean } = {}): Promise<DeviceSession> => {
    const s = await openDevice(server.t, asTestAccount(a), { lookups: 'http-api', ...options });
    server.sessions.push(s);
    return s;
  };
  const patientWithPhone = () => laptopAndPhone(server.t.url, 'rv');
  const fatalWith = (s: DeviceSession, code: string) =>
    eventually(
      () => s.connection.status() === 'fatal' && s.connection.failure()?.code === code,
      `session fatal with ${code}`,
    );

  it('the phone revoked from the laptop goes fatal (DEVICE_REVOKED), gets nothing newer; laptop and provider carry on', async () => {
    const t = server.t;
    const { laptop, phone } = await patientWithPhone();
    const provider = await registerAccount(t, 'provider');
    const l = await open(laptop);
    const p = await open(phone);
    const d = await openDevice(t, provider);
    server.sessions.push(d);
    await Promise.all([waitOnline(l), waitOnline(p), waitOnline(d)]);
    await l.consent.verifyProvider(provider.accountId);
    await grantRead(l, provider.accountId, 'allergy', HOUR, 'care');
    const fromPhone = await p.records.add('Allergy', input('Allergy', { substance: 'Peanut' }));
    await allPushed(p);
    await eventually(
      async () => (await d.records.get(fromPhone.id)) !== null,
      'provider has the phone allergy',
    );

    const answer = await revokeDevice(
      { api: api(), ed },
      { account: laptop, deviceId: phone.device.deviceId },
    );
    expect(answer.deviceId).toBe(phone.device.deviceId);
    await fatalWith(p, 'DEVICE_REVOKED');
    await expect(p.sync.awaitInSync()).rejects.toMatchObject({ code: 'DEVICE_REVOKED' });

    const after = await l.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(l);
    await eventually(async () => (await d.records.get(after.id)) !== null, 'provider reads what came after');
    await new Promise((r) => setTimeout(r, 500));
    expect(await p.records.get(after.id)).toBeNull();
    // What the phone synced before stays readable (and not quarantined) on the laptop and the provider.
    expect(await l.records.get(fromPhone.id)).not.toBeNull();
    expect(l.sync.quarantine()).toEqual([]);
    expect(d.sync.quarantine()).toEqual([]);
  });

  it('a phone revoked while offline with unsent writes: fatal DEVICE_REVOKED on reconnect, the writes kept in unsent(), its earlier records stay readable elsewhere', async () => {
    const { laptop, phone } = await patientWithPhone();
    const l = await open(laptop);
    const storage = getRxStorageMemory();
    const dbName = `revoked-phone-${Math.random().toString(36).slice(2)}`;
    const openPhone = async (): Promise<DeviceSession> => {
      const s = await openDevice(server.t, asTestAccount(phone), { lookups: 'http-api', storage, dbName });
      server.sessions.push(s);
      return s;
    };
    const p = await openPhone();
    await Promise.all([waitOnline(l), waitOnline(p)]);
    const synced = await p.records.add('Allergy', input('Allergy', { substance: 'Peanut' }));
    const dropped = await p.records.add('Allergy', input('Allergy', { substance: 'Dust' }));
    await allPushed(p);
    await eventually(async () => (await l.records.get(synced.id)) !== null, 'laptop has the synced allergy');

    p.sync.goOffline();
    const unsentWrite = await p.records.add('Allergy', input('Allergy', { substance: 'Shellfish' }));
    await p.records.update('Allergy', synced.id, input('Allergy', { substance: 'Peanut, severe' }));
    await p.records.remove(dropped.id);
    expect(p.sync.state().pendingWrites).toBe(3);
    await revokeDevice({ api: api(), ed }, { account: laptop, deviceId: phone.device.deviceId });
    p.sync.goOnline();
    await fatalWith(p, 'DEVICE_REVOKED');
    // What the person on the phone is left with (the TSDoc of @hale/client/advanced, DEVICE_REVOKED): the changes can never be
    // sent from here, so they are listed with their content in unsent(), not counted as pending for ever,
    // and stay readable in this device's store, for the app to show or copy before its data is removed.
    await eventually(() => p.sync.state().pendingWrites === 0, 'nothing left pending');
    const keptUnsent = (s: DeviceSession) =>
      s.sync
        .unsent()
        .map((u) => [u.id, u.code, u.deleted, u.deleted ? null : u.data['substance']])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    const expected = [
      [unsentWrite.id, 'DEVICE_REVOKED', false, 'Shellfish'],
      [synced.id, 'DEVICE_REVOKED', false, 'Peanut, severe'],
      [dropped.id, 'DEVICE_REVOKED', true, null],
    ].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(keptUnsent(p)).toEqual(expected);
    // One issue for the revocation and one naming the changes kept, not one per change. The second is
    // reported once the kept changes are listed, a moment after unsent() shows them.
    await eventually(
      () => p.sync.state().errors.filter((e) => e.code === 'DEVICE_REVOKED').length >= 2,
      'the issue naming the changes kept',
    );
    const state = p.sync.state();
    expect(state.status).toBe('fatal');
    expect(state.unsent).toBe(3);
    expect(state.errors.filter((e) => e.code === 'DEVICE_REVOKED')).toHaveLength(2);
    expect(await p.records.get(unsentWrite.id)).not.toBeNull();
    expect((await p.records.get<'Allergy'>(synced.id))?.record.substance).toBe('Peanut, severe');
    // The writes never reached the server, so never the laptop.
    expect(await l.records.get(unsentWrite.id)).toBeNull();
    expect((await l.records.get<'Allergy'>(synced.id))?.record.substance).toBe('Peanut');
    expect(await l.records.get(dropped.id)).not.toBeNull();
    // A write made once the revocation is known is kept the same way.
    const late = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    expected.push([late.id, 'DEVICE_REVOKED', false, 'Latex']);
    expected.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    await eventually(
      () => p.sync.state().pendingWrites === 0 && p.sync.unsent().length === 4,
      'the later write kept',
    );
    expect(keptUnsent(p)).toEqual(expected);

    // Opened again on the same store: the list holds each change once, and nothing is pending again.
    await p.close();
    const again = await openPhone();
    await fatalWith(again, 'DEVICE_REVOKED');
    await eventually(
      () => again.sync.state().pendingWrites === 0 && again.sync.unsent().length === 4,
      'after the restart: kept, not pending',
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect(again.sync.state().pendingWrites).toBe(0);
    expect(keptUnsent(again)).toEqual(expected);
    // The phone's earlier record is still there and attributed to the phone on the laptop.
    const kept = await l.records.get(synced.id);
    expect(kept).not.toBeNull();
    expect(kept?.author).toBe(phone.device.deviceId);
    expect(kept?.by).toBe(laptop.accountId);
    expect(l.sync.quarantine()).toEqual([]);
  });

  it('a device revoking itself is cut off at once; revoking the last device leaves the account joinable', async () => {
    const { loginName, laptop, phone } = await patientWithPhone();
    const l = await open(laptop);
    const p = await open(phone);
    await Promise.all([waitOnline(l), waitOnline(p)]);
    const a = await l.records.add('Allergy', input('Allergy'));
    await allPushed(l);

    await revokeDevice({ api: api(), ed }, { account: laptop, deviceId: laptop.device.deviceId });
    await fatalWith(l, 'DEVICE_REVOKED');
    await revokeDevice({ api: api(), ed }, { account: phone, deviceId: phone.device.deviceId });
    await fatalWith(p, 'DEVICE_REVOKED');

    const again = await joinWithPassphrase(deps(), {
      loginName,
      passphrase: 'the first passphrase',
      deviceName: 'new phone',
    });
    const n = await open(again);
    await eventually(async () => (await n.records.get(a.id)) !== null, 'the new device reads the history');
  });
});
