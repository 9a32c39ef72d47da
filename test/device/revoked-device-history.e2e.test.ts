import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import {
  addDevice,
  registerAccount,
  revokeDevice,
  type TestAccount,
  type TestDevice,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantWrite, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';
import { labsOfRevokedDevices } from '../support/revoked-labs';

const HOUR = 3_600_000;

// What a device signed while it was trusted stays verifiable after its account revokes it: the patient's
// audit trail and disclosures keep a lost phone's grants, and a provider's retired device's records still
// verify for a patient device that joins later. What it signed dated after the revocation is refused.
describe('history signed by a device revoked later', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  /** A device as an app opens it: device lists and single devices through the client's HTTP API. */
  const open = async (
    account: TestAccount,
    device?: TestDevice,
    options: { now?: () => number } = {},
  ): Promise<DeviceSession> => {
    const session = await openDevice(server.t, account, {
      ...(device ? { device } : {}),
      ...(options.now ? { now: options.now } : {}),
      lookups: 'http-api',
    });
    sessions.push(session);
    return session;
  };

  it("keeps a revoked phone's grant in the patient's verified log and disclosures", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const phone = await addDevice(t, patient);
    const laptop = await open(patient);
    const lost = await open(patient, phone);
    await Promise.all([waitOnline(laptop), waitOnline(lost)]);
    await lost.consent.verifyProvider(provider.accountId);
    await grantWrite(lost, provider.accountId, 'lab-result', HOUR, 'follow-up');
    await lost.audit.flushChanges();
    await eventually(async () => (await lost.audit.pendingCount()) === 0, 'the phone delivered its entries');

    expect((await revokeDevice(t, patient, phone)).status).toBe(200);

    const verification = await laptop.audit.verify();
    expect(verification.problems.filter((p) => p.author === phone.deviceId)).toEqual([]);
    expect(verification.ok).toBe(true);
    const disclosures = await laptop.audit.disclosures();
    expect(disclosures.map((d) => [d.recipient, d.recordTypes])).toEqual([
      [provider.accountId, ['lab-result']],
    ]);
  });

  it("shows a lost phone's own records (allergy, unsigned; lab, signed) on a device that joins after the phone is revoked", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const phone = await addDevice(t, patient);
    const lost = await open(patient, phone);
    await waitOnline(lost);
    const allergy = await lost.records.add('Allergy', input('Allergy', { substance: 'Peanut' }));
    const lab = await lost.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
    await allPushed(lost);

    expect((await revokeDevice(t, patient, phone)).status).toBe(200);

    const joined = await open(patient, await addDevice(t, patient));
    await eventually(
      async () =>
        (await joined.records.get(allergy.id)) !== null && (await joined.records.get(lab.id)) !== null,
      "the phone's records reach the new device",
    );
    expect(joined.sync.quarantine()).toEqual([]);
  });

  it('refuses an entry the revoked device dated after its revocation', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const phone = await addDevice(t, patient);
    const laptop = await open(patient);
    // The phone's clock runs an hour ahead: every entry it signs is dated after a revocation made now.
    const ahead = await open(patient, phone, { now: () => Date.now() + HOUR });
    await waitOnline(ahead);
    await ahead.audit.flushChanges();
    await eventually(async () => (await ahead.audit.pendingCount()) === 0, 'the phone delivered its entries');
    const phoneEntries = (await laptop.audit.fetchAll(patient.accountId)).filter(
      (e) => e.author === phone.deviceId,
    );
    expect(phoneEntries.length).toBeGreaterThan(0);

    expect((await revokeDevice(t, patient, phone)).status).toBe(200);

    const problems = (await laptop.audit.verify()).problems.filter((p) => p.author === phone.deviceId);
    expect(problems.map((p) => [p.entryId, p.kind])).toEqual(phoneEntries.map((e) => [e.id, 'inserted']));
    for (const p of problems) expect(p.detail).toMatch(/not before its revocation at /);
  });

  it("verifies a lab a provider's retired device wrote, for a patient device that joins later", async () => {
    const t = server.t;
    const { patient, before, dated } = await labsOfRevokedDevices(t, open);

    const joined = await open(patient, await addDevice(t, patient));
    await eventually(
      async () => (await joined.records.get(before.id)) !== null,
      'the lab written before the revocation verifies',
    );
    await eventually(
      () => joined.sync.quarantine().some((q) => q.id === dated.id),
      'the lab dated after the revocation is set aside',
    );
    expect(joined.sync.quarantine().map((q) => [q.id, q.reason])).toEqual([[dated.id, 'BAD_AUTHOR']]);
    expect(await joined.records.get(dated.id)).toBeNull();
  });
});
