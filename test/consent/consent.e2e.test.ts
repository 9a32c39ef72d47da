import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  eventually,
  openDevice,
  waitOnline,
  openPatientAndProvider,
  allPushed,
  grantRead,
} from '../support/devices';
import { input } from '../support/records';

describe('consent-scoped sync between a patient and providers', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('a provider with read consent to allergies receives allergies and nothing else', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    sessions.push(p);
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    const med = await p.records.add('Medication', input('Medication', { name: 'Metformin' }));
    await allPushed(p, 'patient pushes');

    const d = await openDevice(t, provider);
    sessions.push(d);
    await waitOnline(d);
    await grantRead(p, provider.accountId, 'allergy', 48 * 3600_000, 'allergy review');
    await eventually(async () => (await d.records.get(allergy.id)) !== null, 'provider receives the allergy');
    expect((await d.records.get<'Allergy'>(allergy.id))?.record.substance).toBe('Latex');
    expect(await d.records.get(med.id)).toBeNull();
    expect(await d.records.query('Medication', { patientId: patient.accountId })).toHaveLength(0);
    // The provider cannot write the read-only stream.
    await expect(
      d.records.add('Allergy', input('Allergy'), { patientId: patient.accountId }),
    ).rejects.toMatchObject({ code: 'NOT_WRITABLE' });
  });

  it("a provider with write consent to labs adds a result the patient's devices show with that provider as author", async () => {
    const t = server.t;
    const { patient, provider, p, d } = await openPatientAndProvider(t, sessions);
    await waitOnline(d);
    await p.consent.grant({
      granteeId: provider.accountId,
      scope: [{ type: 'lab-result', access: 'write' }],
      durationMs: 3600_000,
      purpose: 'lab results',
    });
    await eventually(
      () => d.engine.writable(`${patient.accountId}/lab-result`),
      'provider learns of write access',
    );
    const lab = await d.records.add('LabResult', input('LabResult', { testName: 'HbA1c' }), {
      patientId: patient.accountId,
    });
    await eventually(async () => (await p.records.get(lab.id)) !== null, 'patient receives the lab result');
    const got = await p.records.get<'LabResult'>(lab.id);
    expect(got?.record.testName).toBe('HbA1c');
    expect(got?.by).toBe(provider.accountId);
    expect(got?.author).toBe(provider.device.deviceId);
  });
});
