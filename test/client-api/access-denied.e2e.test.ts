// A clinician whose access ended still trying to reach the patient's records, through `openHale` against
// a real server (loopback, SQLite): the patient revokes while the clinician's device is away; it comes
// back, asks for what it held and is refused, then tries a file of it again and again. The patient's
// "Who saw my records" (`session.audit.access`) then holds one `denied` line per stream tried, naming the
// clinician and the device; none for the kind the clinician still holds, whose file it still opens.
import { describe, expect, it } from 'vitest';
import { isHaleError, type AccessRecord, type ReceivedGrant } from '@hale/client';
import { useServer } from '../support/fixture';
import { createdSession, online, useHaleSessions, when } from './hale-devices';

const DAY = 24 * 3_600_000;

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'done',
    (e: unknown) => (isHaleError(e) ? e.code : String(e)),
  );

const deniedIn = (records: readonly AccessRecord[]) =>
  records
    .filter((r) => r.source === 'server' && r.action === 'denied')
    .map((r) => [r.actorId, r.actorDeviceId, r.stream, r.count])
    .sort();

describe("a clinician's device trying after the patient revoked", () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('is told to the patient: one `denied` line per stream, however often it tries; none for what it holds', async () => {
    const url = server.t.url;
    const { session: patient } = await createdSession(url, sessions);
    const { session: clinic } = await createdSession(url, sessions, { role: 'provider' });
    await Promise.all([online(patient), online(clinic)]);
    await patient.consent.acceptInvite(clinic.consent.invite());
    const patientId = patient.account.accountId;
    const clinicId = clinic.account.accountId;
    const chartOf = (list: readonly ReceivedGrant[]) => list.find((c) => c.patientId === patientId);

    const shared = await patient.consent.grant({
      granteeId: clinicId,
      scope: [
        { type: 'allergy', access: 'read' },
        { type: 'document', access: 'read' },
      ],
      durationMs: DAY,
      purpose: 'second opinion',
    });
    await patient.consent.grant({
      granteeId: clinicId,
      scope: [{ type: 'lab-result', access: 'read' }],
      durationMs: DAY,
      purpose: 'lab follow-up',
    });
    await patient.records.add('Allergy', {
      substance: 'Penicillin',
      severity: 'severe',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    const bytes = new TextEncoder().encode('discharge letter');
    const scan = await patient.files.put({
      type: 'document',
      bytes,
      fileName: 'letter.txt',
      mediaType: 'text/plain',
    });
    const labSheet = await patient.files.put({
      type: 'lab-result',
      bytes,
      fileName: 'labs.txt',
      mediaType: 'text/plain',
    });
    await when(clinic.records.list('Allergy', { patientId }), (p) => p.total === 1, 'the clinician has it');
    expect(await clinic.files.get(scan, { patientId, type: 'document' })).toEqual(bytes);

    // Away while the patient revokes; back, its device asks for what it held and is refused.
    clinic.sync.goOffline();
    await patient.consent.revoke(shared.grant.grantId);
    clinic.sync.goOnline();
    await when(
      clinic.consent.grantsReceived,
      (list) => ['allergy', 'document'].every((type) => chartOf(list)?.ended.some((e) => e.type === type)),
      'the clinician lists allergies and documents as ended',
    );
    // It still tries the letter, three times; the lab sheet it still holds opens.
    for (let i = 0; i < 3; i++) {
      expect(await codeOf(clinic.files.get(scan, { patientId, type: 'document' }))).not.toBe('done');
    }
    expect(await clinic.files.get(labSheet, { patientId, type: 'lab-result' })).toEqual(bytes);

    const told = [
      [clinicId, clinic.account.deviceId, `${patientId}/allergy`, undefined],
      [clinicId, clinic.account.deviceId, `${patientId}/document`, undefined],
    ].sort();
    patient.audit.refresh();
    const story = await when(
      patient.audit.access,
      // The lab sheet's download is logged after every refusal: once it is in, all of them are.
      (a) =>
        a !== null &&
        a.records.some((r) => r.action === 'blob-down' && r.stream === `${patientId}/lab-result`),
      'the patient’s log holds the refusals and the download after them',
    );
    expect(deniedIn(story!.records)).toEqual(told);
    // What it was served before is there as before; nothing of the lab results but served access.
    const lab = story!.records.filter((r) => r.stream === `${patientId}/lab-result`);
    expect(lab.length).toBeGreaterThan(0);
    expect(lab.every((r) => r.action !== 'denied')).toBe(true);
  });
});
