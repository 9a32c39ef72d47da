// A revocation that stands on the server must have a `consent-revoke` entry in the patient's audit log,
// whichever of the patient's devices learns that it stands, as a grant has its `consent-grant` entry
// (consent/grant-audit.e2e.test.ts). Before, the entry was appended only when `revoke`'s answer arrived: a lost
// answer (or a lock, or a crash before the outbox write) left the revocation out of the trail for good,
// and `disclosures()` showed the grant with no revocation at all.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { eventually, grantRead, losingAnswer, openDevice, waitOnline } from '../support/devices';

const DAY = 24 * 3_600_000;
const REFRESH_MS = 300;

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

/** Waits for an entry, then several refreshes of every device's grant list (a duplicate would come). */
const settledRevokeEntries = async (reader: DeviceSession, grantId: string) => {
  await eventually(async () => (await revokeEntries(reader, grantId)).length > 0, 'a consent-revoke entry');
  await new Promise((r) => setTimeout(r, 6 * REFRESH_MS));
  await eventually(async () => (await reader.audit.pendingCount()) === 0, 'outbox drained', 5_000);
  return revokeEntries(reader, grantId);
};

/** The revocation time the patient signed, as the device's copy of the grants holds it. */
const signedRevocation = async (s: DeviceSession, grantId: string): Promise<string | undefined> =>
  (await s.consent.list()).find((g) => g.grant.grantId === grantId)?.revokedAt;

describe('a revocation that stands has a consent-revoke audit entry', () => {
  const server = useServer({ realClock: true });

  it('its answer lost: once online again, the revoking device appends it, naming itself', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const lossy = losingAnswer('revoke');
    const p = await openDevice(t, patient, {
      createWebSocket: lossy.createWebSocket,
      grantRefreshMs: REFRESH_MS,
    });
    server.sessions.push(p);
    await waitOnline(p);
    const { grant } = await grantRead(p, provider.accountId, 'allergy', DAY, 'second opinion');

    lossy.arm();
    const outcome = await p.consent.revoke(grant.grantId).then(
      () => 'resolved',
      (error: unknown) => (error instanceof Error ? error.name : String(error)),
    );
    await lossy.cut;
    expect(outcome).toBe('SyncError');
    await waitOnline(p);
    await eventually(
      async () => (await signedRevocation(p, grant.grantId)) !== undefined,
      'the device learns the revocation stands',
    );
    const entries = await settledRevokeEntries(p, grant.grantId);
    console.log(`revoke answer lost: ${entries.length} consent-revoke entr(ies)`);
    expect(entries).toEqual([{ author: patient.device.deviceId, deviceId: patient.device.deviceId }]);
    const [disclosed] = await p.audit.disclosures();
    expect(disclosed).toMatchObject({
      recipient: provider.accountId,
      issuedAt: grant.issuedAt,
      start: grant.start,
      date: grant.issuedAt,
      revokedAt: await signedRevocation(p, grant.grantId),
      revokedByDeviceId: patient.device.deviceId,
    });
  });

  it('its answer lost and the revoking device closed: another device appends it, naming no device', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const bDevice = await addDevice(t, patient);
    const lossy = losingAnswer('revoke');
    const a = await openDevice(t, patient, {
      createWebSocket: lossy.createWebSocket,
      grantRefreshMs: REFRESH_MS,
    });
    const b = await openDevice(t, patient, { device: bDevice, grantRefreshMs: REFRESH_MS });
    server.sessions.push(b);
    await Promise.all([waitOnline(a), waitOnline(b)]);
    const { grant } = await grantRead(a, provider.accountId, 'allergy', DAY, 'lab review');
    await eventually(
      async () => (await b.consent.list()).some((g) => g.grant.grantId === grant.grantId),
      'B learns of the grant',
    );

    lossy.arm();
    const revoking = a.consent.revoke(grant.grantId).catch(() => undefined);
    await lossy.cut;
    await a.close();
    await revoking;
    await eventually(
      async () => (await signedRevocation(b, grant.grantId)) !== undefined,
      'B learns the revocation',
    );
    const entries = await settledRevokeEntries(b, grant.grantId);
    console.log(`revoke answer lost, A closed: ${entries.length} consent-revoke entr(ies)`);
    expect(entries).toEqual([{ author: bDevice.keys.deviceId, deviceId: undefined }]);
    const [disclosed] = await b.audit.disclosures();
    expect(disclosed).toMatchObject({ revokedAt: await signedRevocation(b, grant.grantId) });
    expect(disclosed).not.toHaveProperty('revokedByDeviceId');
  });

  it('confirmed: the revoking device appends it once, and another device learning of it appends none', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const bDevice = await addDevice(t, patient);
    const a = await openDevice(t, patient, { grantRefreshMs: REFRESH_MS });
    const b = await openDevice(t, patient, { device: bDevice, grantRefreshMs: REFRESH_MS });
    server.sessions.push(a, b);
    await Promise.all([waitOnline(a), waitOnline(b)]);
    const { grant } = await grantRead(a, provider.accountId, 'allergy', DAY, 'follow-up');
    await a.consent.revoke(grant.grantId);
    await eventually(
      async () => (await signedRevocation(b, grant.grantId)) !== undefined,
      'B learns the revocation',
    );
    const entries = await settledRevokeEntries(b, grant.grantId);
    expect(entries).toEqual([{ author: patient.device.deviceId, deviceId: patient.device.deviceId }]);
  });
});
