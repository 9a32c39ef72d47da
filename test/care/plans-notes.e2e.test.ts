// Treatment plans and co-signed notes through a real server: a clinician writes a plan and a new version,
// the patient sees what changed and acknowledges the current version, the clinician sees it; a second
// clinician co-signs the exact version asked, and an amendment needs a new signature.
import { describe, expect, it } from 'vitest';
import type { CareNotification } from '@hale/client';
import { useServer } from '../support/fixture';
import { eventually } from '../support/devices';
import { careDevice, listen, share, until } from './care-devices';

describe('treatment plans and co-signatures', () => {
  const server = useServer({ realClock: true });

  it('the patient sees what changed, acknowledges the current version, the clinician sees it', async () => {
    const t = server.t;
    const patient = await careDevice(t, server.sessions, 'patient');
    const clinician = await careDevice(t, server.sessions, 'provider');
    await share(patient, clinician, ['treatment-plan']);
    const P = patient.account.accountId;
    const patientSeen: CareNotification[] = [];
    const clinicianSeen: CareNotification[] = [];
    const subs = [
      patient.hale.care.notifications.$.subscribe((n) => patientSeen.push(n)),
      clinician.hale.care.notifications.$.subscribe((n) => clinicianSeen.push(n)),
    ];
    const plans = patient.hale.care.plans.list;
    const stops = [listen(plans), listen(clinician.hale.care.plans.list)];
    await new Promise((r) => setTimeout(r, 300));

    const plan = await clinician.hale.records.add(
      'TreatmentPlan',
      { summary: 'Blood pressure control', details: 'Lisinopril 10 mg daily', status: 'active' },
      { patientId: P },
    );
    const changed = await clinician.hale.records.update(
      'TreatmentPlan',
      plan.id,
      { details: 'Lisinopril 20 mg daily; home readings twice a week' },
      { reason: 'readings still high' },
    );
    expect(changed.version).toBe(2);

    await until(
      plans.get,
      (all) => all.some((p) => p.record.id === plan.id && p.record.version === 2),
      'plan v2',
    );
    const view = plans.get().find((p) => p.record.id === plan.id)!;
    expect(view).toMatchObject({ toAcknowledge: true, acknowledgement: null });
    const diff = patient.hale.care.plans.diff(view.record);
    expect(diff).toMatchObject({
      from: 1,
      to: 2,
      by: clinician.account.accountId,
      reason: 'readings still high',
    });
    expect(diff.changes).toEqual([
      {
        field: 'details',
        before: 'Lisinopril 10 mg daily',
        after: 'Lisinopril 20 mg daily; home readings twice a week',
      },
    ]);
    await eventually(() => patientSeen.some((n) => n.type === 'plan-to-acknowledge'), 'patient notified');

    // Only the patient acknowledges.
    await expect(clinician.hale.care.plans.acknowledge(plan.id)).rejects.toMatchObject({ code: 'NOT_YOURS' });
    await patient.hale.care.plans.acknowledge(plan.id);
    await until(
      clinician.hale.care.plans.list.get,
      (all) =>
        all.some(
          (p) =>
            p.record.id === plan.id && p.acknowledgement?.current === true && p.acknowledgement.version === 2,
        ),
      'the clinician sees the acknowledgement of version 2',
    );
    await eventually(() => clinicianSeen.some((n) => n.type === 'plan-acknowledged'), 'clinician notified');
    expect(JSON.stringify([...patientSeen, ...clinicianSeen])).not.toMatch(/Lisinopril|pressure/);
    for (const s of subs) s.unsubscribe();
    for (const stop of stops) stop();
  });

  it('a second clinician co-signs the exact version asked; an amendment needs a new signature', async () => {
    const t = server.t;
    const patient = await careDevice(t, server.sessions, 'patient');
    const author = await careDevice(t, server.sessions, 'provider');
    const attending = await careDevice(t, server.sessions, 'provider');
    const types = ['note', 'note-signature'] as const;
    await share(patient, author, types);
    await share(patient, attending, types);
    const P = patient.account.accountId;
    const A = attending.account.accountId;

    const note = await author.hale.records.add(
      'MedicalNote',
      {
        title: 'Progress note',
        noteType: 'progress',
        currentVersionNumber: 1,
        status: 'under_review',
        requiresCosign: true,
      },
      { patientId: P },
    );
    await author.hale.records.add(
      'NoteVersion',
      { noteId: note.id, versionNumber: 1, kind: 'original', assessment: 'Hypertension, improving.' },
      { patientId: P },
    );
    const asked = await author.hale.care.notes.requestCosign(note.id, A, 'attending');
    expect(asked).toMatchObject({ status: 'requested', signerId: A, requestedBy: author.account.accountId });

    const queue = attending.hale.care.notes.cosignQueue;
    const stop = listen(queue);
    await until(
      queue.get,
      (q) => q.some((s) => s.record.id === asked.id),
      'the request reaches the co-sign queue',
    );
    // Nobody else signs it.
    await expect(author.hale.care.notes.cosign(asked.id)).rejects.toMatchObject({ code: 'NOT_YOURS' });
    const signed = await attending.hale.care.notes.cosign(asked.id, 'Agree.');
    expect(signed).toMatchObject({ status: 'signed', signedVersionNumber: 1, signerId: A });
    await until(queue.get, (q) => q.length === 0, 'the queue is empty');

    await eventually(
      async () => (await author.hale.care.notes.status(note.id)).signed.length === 1,
      'signed seen',
    );
    // An amendment: a new current version, which the signature does not cover.
    await author.hale.records.add(
      'NoteVersion',
      {
        noteId: note.id,
        versionNumber: 2,
        kind: 'amendment',
        amendmentReason: 'dose corrected',
        assessment: 'Hypertension, improving; dose corrected.',
      },
      { patientId: P },
    );
    await author.hale.records.update('MedicalNote', note.id, { currentVersionNumber: 2, status: 'amended' });
    const after = await author.hale.care.notes.status(note.id);
    expect(after).toMatchObject({ currentVersion: 2, signed: [], pending: [] });
    expect(after.outdated.map((s) => s.id)).toEqual([asked.id]);

    const again = await author.hale.care.notes.requestCosign(note.id, A);
    await until(queue.get, (q) => q.some((s) => s.record.id === again.id), 'the new request arrives');
    await eventually(
      async () => (await attending.hale.records.get(note.id))?.record !== undefined,
      'note held',
    );
    expect(await attending.hale.care.notes.cosign(again.id)).toMatchObject({
      status: 'signed',
      signedVersionNumber: 2,
    });
    await eventually(
      async () => (await author.hale.care.notes.status(note.id)).signed.map((s) => s.id).join() === again.id,
      'the amendment is co-signed',
    );
    stop();
  });
});
