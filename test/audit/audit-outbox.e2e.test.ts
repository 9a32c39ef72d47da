import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { waitOnline, openDevice, openPatientAndProvider } from '../support/devices';

const DAY = 24 * 3600_000;

const grantAllergy = (p: DeviceSession, granteeId: string, durationMs: number, purpose: string) =>
  p.consent.grant({ granteeId, scope: [{ type: 'allergy', access: 'write' }], durationMs, purpose });

/** The provider device's entries in the patient's log, as the patient's device sees them. */
const providerEntries = async (p: DeviceSession, providerDeviceId: string) =>
  (await p.audit.fetchAll(p.account.accountId)).filter((e) => e.author === providerDeviceId);

describe('audit entries the server refuses', () => {
  const server = useServer();
  const sessions = server.sessions;

  it('are kept, held back with their later entries, and delivered in order once access returns', async () => {
    const t = server.t;
    const { patient, provider, p, d } = await openPatientAndProvider(t, sessions);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    await grantAllergy(p, provider.accountId, 60_000, 'a');
    await d.audit.append(patient.accountId, { action: 'record-viewed' });
    t.clock.advance(120_000); // the consent expires (server clock) before the entry is pushed
    await d.audit.flush();
    expect(await d.audit.pendingCount()).toBe(1);
    expect(d.audit.issues().filter((i) => i.startsWith('CONSENT_EXPIRED'))).toHaveLength(1);
    expect(await d.audit.undelivered()).toEqual([
      expect.objectContaining({
        patientId: patient.accountId,
        entries: 1,
        code: 'CONSENT_EXPIRED',
        refusals: 1,
      }),
    ]);
    // Backoff: an immediate second flush does not push it again.
    await d.audit.flush();
    expect(d.audit.issues().filter((i) => i.startsWith('CONSENT_EXPIRED'))).toHaveLength(1);

    // A new grant; the next entry (new activity) sends the held one first, then itself.
    await grantAllergy(p, provider.accountId, 3_600_000, 'b');
    await d.audit.append(patient.accountId, { action: 'record-viewed' });
    await d.audit.flush();
    expect(await d.audit.pendingCount()).toBe(0);
    expect(await d.audit.undelivered()).toEqual([]);
    const served = await providerEntries(p, provider.device.keys.deviceId);
    expect(served.map((e) => e.audit?.authorSeq)).toEqual([1, 2]);
    const v = await p.audit.verify();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
  });

  it('given up for good, rewind the chain: the next entry takes their place and nothing shows as deleted', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    let offset = 0;
    const p = await openDevice(t, patient);
    const d = await openDevice(t, provider, { now: () => Date.now() + offset });
    sessions.push(p, d);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    await grantAllergy(p, provider.accountId, 60_000, 'a');
    await d.audit.append(patient.accountId, { action: 'record-viewed' });
    t.clock.advance(120_000);
    await d.audit.flush();
    expect(await d.audit.pendingCount()).toBe(1);
    // Refused over a week, three times: given up.
    offset += 8 * DAY;
    await d.audit.flush();
    expect(await d.audit.pendingCount()).toBe(1);
    offset += DAY;
    await d.audit.flush();
    expect(await d.audit.pendingCount()).toBe(0);
    expect(d.audit.issues().some((i) => i.startsWith('AUDIT_GIVEN_UP'))).toBe(true);
    // The device still remembers what it did.
    expect((await d.audit.ownActions()).filter((a) => a.patientId === patient.accountId)).toHaveLength(1);

    await grantAllergy(p, provider.accountId, 3_600_000, 'b');
    await d.audit.append(patient.accountId, { action: 'record-viewed' });
    await d.audit.flush();
    expect(await d.audit.pendingCount()).toBe(0);
    const served = await providerEntries(p, provider.device.keys.deviceId);
    expect(served.map((e) => e.audit?.authorSeq)).toEqual([1]);
    expect(served[0]!.audit?.prevHash).toBeNull();
    const v = await p.audit.verify();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
  });
});
