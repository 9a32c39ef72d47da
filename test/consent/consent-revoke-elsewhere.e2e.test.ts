// A grant revoked on one of the patient's devices, then on another whose copy of the grants still showed
// it in force (both devices showing the list, before the second's next reading of the server's list).
// The server keeps the first revocation and answers the second `ok`; the second device took that answer
// as its own revocation standing: it appended a second `consent-revoke` entry naming itself as the
// device that revoked, and kept its own revocation time, which neither the server nor the first device holds.
import { describe, expect, it } from 'vitest';
import { addDevice, makeRevocation, registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { eventually, grantRead, openDevice, waitOnline } from '../support/devices';

const DAY = 24 * 3_600_000;

/** The patient's `consent-revoke` entries for `grantId` as served: author device, device named. */
const revokeEntries = async (reader: DeviceSession, grantId: string) =>
  (await reader.audit.entries()).flatMap((e) =>
    e.source === 'patient' &&
    e.body.kind === 'AuditEntry' &&
    e.body.action === 'consent-revoke' &&
    e.body.grantId === grantId
      ? [{ author: e.author, deviceId: e.body.deviceId }]
      : [],
  );

const revokedAt = async (s: DeviceSession, grantId: string): Promise<string | undefined> =>
  (await s.consent.list()).find((g) => g.grant.grantId === grantId)?.revokedAt;

describe('a grant revoked on a device whose copy missed a revocation made on another', () => {
  const server = useServer({ realClock: true });

  it('resolves; the first revocation stands alone: one consent-revoke entry, one revocation time', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const bDevice = await addDevice(t, patient);
    // The default refresh (minutes): B reads the server's list only when asked to.
    const a = await openDevice(t, patient);
    const b = await openDevice(t, patient, { device: bDevice });
    server.sessions.push(a, b);
    await Promise.all([waitOnline(a), waitOnline(b)]);
    const { grant } = await grantRead(a, provider.accountId, 'allergy', DAY, 'second opinion');
    // B shows the list: the grant in force.
    expect((await b.consent.list()).map((g) => [g.grant.grantId, g.status])).toEqual([
      [grant.grantId, 'active'],
    ]);

    expect((await a.consent.revoke(grant.grantId)).pending).toEqual([]);
    const first = await revokedAt(a, grant.grantId);
    await new Promise((r) => setTimeout(r, 20));
    // The patient taps revoke on B too, from the list it showed.
    expect((await b.consent.revoke(grant.grantId)).pending).toEqual([]);

    await eventually(async () => (await revokeEntries(a, grant.grantId)).length > 0, 'an entry');
    await b.audit.flushChanges();
    await eventually(async () => (await a.audit.pendingCount()) === 0, 'A outbox drained', 5_000);
    await eventually(async () => (await b.audit.pendingCount()) === 0, 'B outbox drained', 5_000);
    const entries = await revokeEntries(a, grant.grantId);
    const times = { a: first, b: await revokedAt(b, grant.grantId) };
    console.log(`revoked on B after A: ${entries.length} consent-revoke entr(ies); ${JSON.stringify(times)}`);
    expect(entries).toEqual([{ author: patient.device.deviceId, deviceId: patient.device.deviceId }]);
    expect(times.b).toBe(times.a);
    expect((await b.consent.list()).map((g) => g.status)).toEqual(['revoked']);
  });
  it("a revocation the server holds that the patient did not sign is not taken: this device's own stands", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const p = await openDevice(t, patient);
    server.sessions.push(p);
    await waitOnline(p);
    const { grant } = await grantRead(p, provider.accountId, 'allergy', DAY, 'second opinion');
    // The server "revoked" it first: the revocation names the patient, but another key signed it.
    const forgery = await makeRevocation(patient, grant.grantId);
    const foreign = await makeRevocation(stranger, grant.grantId);
    await t.store.grants.revoke(grant.grantId, forgery.revocation.revokedAt, {
      ...forgery,
      sig: foreign.sig,
    });
    await new Promise((r) => setTimeout(r, 20));

    // The server keeps the first and answers `ok`: the device must not take the forged one as standing.
    expect((await p.consent.revoke(grant.grantId)).pending).toEqual([]);
    const own = await revokedAt(p, grant.grantId);
    expect(own).toBeDefined();
    expect(own).not.toBe(forgery.revocation.revokedAt);
    await p.audit.flushChanges();
    await eventually(async () => (await p.audit.pendingCount()) === 0, 'outbox drained', 5_000);
    expect(await revokeEntries(p, grant.grantId)).toEqual([
      { author: patient.device.deviceId, deviceId: patient.device.deviceId },
    ]);
  });
});
