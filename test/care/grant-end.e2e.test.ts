// When a patient ends a clinician's grant, the patient's records leave the clinician's device, what the
// clinician wrote stays in the patient's chart, and the clinician keeps a signed export of its own entries.
import { describe, expect, it } from 'vitest';
import { verifyFhirExport } from '@hale/client';
import { useServer } from '../support/fixture';
import { allPushed, eventually } from '../support/devices';
import { input } from '../support/records';
import { careDevice, share } from './care-devices';

describe('a grant ends', () => {
  const server = useServer({ realClock: true });

  it("purges the chart from the clinician's device and leaves it a signed export of its own entries", async () => {
    const t = server.t;
    const patient = await careDevice(t, server.sessions, 'patient');
    const clinician = await careDevice(t, server.sessions, 'provider');
    const P = patient.account.accountId;
    const D = clinician.account.accountId;
    const allergy = await patient.hale.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await share(patient, clinician, ['lab-result', 'allergy']);
    await eventually(
      async () => (await clinician.device.records.get(allergy.id)) !== null,
      'the chart arrives',
    );

    const lab = await clinician.hale.records.add(
      'LabResult',
      input('LabResult', { testName: 'HbA1c', value: 6.9, units: '%', status: 'final' }),
      { patientId: P },
    );
    await allPushed(clinician.device);
    await eventually(
      async () => (await patient.device.records.get(lab.id)) !== null,
      'the patient has the lab',
    );
    await eventually(async () => (await clinician.hale.care.ownEntries.patients()).includes(P), 'kept');

    // The patient revokes: the clinician's device purges every record of that chart.
    const [grant] = await patient.device.consent.list();
    await patient.device.consent.revoke(grant!.grant.grantId);
    await eventually(
      async () => (await clinician.device.records.queryAcross('LabResult')).length === 0,
      "the lab leaves the clinician's device",
    );
    await eventually(
      async () => (await clinician.device.records.queryAcross('Allergy')).length === 0,
      "the allergy leaves the clinician's device",
    );
    expect(await clinician.device.records.query('LabResult', { patientId: P })).toEqual([]);

    // What the clinician wrote stays in the patient's chart, as the clinician wrote it.
    const kept = await patient.device.records.get(lab.id);
    expect(kept).toMatchObject({ by: D, record: { testName: 'HbA1c', value: 6.9 } });

    // The clinician's signed export of its own entries: the lab, and nothing the patient wrote.
    const bundle = await clinician.hale.care.ownEntries.export(P);
    const verified = await verifyFhirExport(bundle);
    expect(verified).toMatchObject({ ok: true, signer: D, patientId: P });
    const text = JSON.stringify(bundle);
    expect(text).toContain(lab.id);
    expect(text).toContain('HbA1c');
    expect(text).not.toContain(allergy.id);
    expect(text).not.toContain('Penicillin');
    // Tampered with, it no longer verifies.
    const altered = JSON.parse(text.replace('HbA1c', 'HbA1x')) as unknown;
    expect(await verifyFhirExport(altered)).toMatchObject({ ok: false });

    // Of a chart it never wrote in, nothing.
    await expect(
      clinician.hale.care.ownEntries.export(D.replace(/^./, D[0] === 'A' ? 'B' : 'A')),
    ).rejects.toMatchObject({
      code: 'NOTHING_KEPT',
    });
    // A patient keeps no such export: its chart is its own.
    await expect(patient.hale.care.ownEntries.export(P)).rejects.toMatchObject({ code: 'NOT_A_PROVIDER' });
  });
});
