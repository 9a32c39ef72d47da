// Who may change which record, with every party present at once: the patient, the clinician who wrote a
// record, another clinician with write access (the patient's own entries stay open to it). The writer's library refuses another's change before anything
// is written or sent (NOT_AUTHOR); a version the server takes but the rules refuse (the patient's device,
// skipping its own check, rewriting a plan's content) is refused by every reader, which keeps the last valid
// version and lists the refusal naming its author. The server's own judgement of raw pushes is
// sync-server/src/core/push-authorship.test.ts.
import { describe, expect, it } from 'vitest';
import type { GrantableStreamType, PushedFrame } from '@hale/protocol';
import type { RecordKind } from '@hale/model';
import { connect, makeDoc } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually } from '../support/devices';
import { input } from '../support/records';
import { careDevice, share, type CareDevice } from './care-devices';

const ALL: GrantableStreamType[] = [
  'note',
  'note-signature',
  'lab-result',
  'encounter',
  'treatment-plan',
  'message',
  'allergy',
];

/** A change of each kind's content, valid on its own. */
const PATCH: Partial<Record<RecordKind, Record<string, unknown>>> = {
  MedicalNote: { title: 'Progress note (patient edited)' },
  NoteVersion: { plan: 'Stop all medication.' },
  LabResult: { performer: 'Elsewhere' },
  Encounter: { reason: 'edited' },
  TreatmentPlan: { summary: 'No treatment needed' },
};

describe("who may change a record: every party tries another's", () => {
  const server = useServer({ realClock: true });

  const holds = (d: CareDevice, id: string, rv: number) =>
    eventually(
      async () => (await d.hale.records.get(id))?.rv === rv,
      `${d.account.role} holds ${id} at ${rv}`,
    );

  it('the library refuses the patient and another clinician (change and removal), writing and sending nothing', async () => {
    const t = server.t;
    const patient = await careDevice(t, server.sessions, 'patient');
    const author = await careDevice(t, server.sessions, 'provider');
    const other = await careDevice(t, server.sessions, 'provider');
    await share(patient, author, ALL);
    await share(patient, other, ALL);
    const patientId = patient.account.accountId;
    const at = { patientId };
    const note = await author.hale.records.add(
      'MedicalNote',
      input('MedicalNote', { status: 'draft', currentVersionNumber: 1 }),
      at,
    );
    const written: Array<{ kind: RecordKind; id: string }> = [
      { kind: 'MedicalNote', id: note.id },
      {
        kind: 'NoteVersion',
        id: (
          await author.hale.records.add(
            'NoteVersion',
            input('NoteVersion', { noteId: note.id, versionNumber: 1, kind: 'original' }),
            at,
          )
        ).id,
      },
      { kind: 'LabResult', id: (await author.hale.records.add('LabResult', input('LabResult'), at)).id },
      { kind: 'Encounter', id: (await author.hale.records.add('Encounter', input('Encounter'), at)).id },
      {
        kind: 'TreatmentPlan',
        id: (await author.hale.records.add('TreatmentPlan', input('TreatmentPlan', { status: 'active' }), at))
          .id,
      },
    ];
    await author.hale.sync.awaitInSync();
    for (const d of [patient, other]) for (const r of written) await holds(d, r.id, 1);

    for (const d of [patient, other]) {
      for (const { kind, id } of written) {
        const versioned = kind === 'LabResult' || kind === 'TreatmentPlan';
        const edit = d.hale.records.update(
          kind,
          id,
          PATCH[kind] as never,
          versioned ? { reason: 'edited' } : {},
        );
        await expect(edit, `${kind} edit`).rejects.toMatchObject({
          code: 'NOT_AUTHOR',
        });
        await expect(d.hale.records.remove(id), `${kind} removal`).rejects.toMatchObject({
          code: 'NOT_AUTHOR',
        });
      }
      expect(d.hale.sync.state.get().pendingWrites).toBe(0);
    }
    // The patient acknowledges the plan: the one change of it that is theirs.
    await patient.hale.care.plans.acknowledge(written[4]!.id);
    await patient.hale.sync.awaitInSync();
    await holds(author, written[4]!.id, 2);
    // Nothing else went out: every party and the server hold the author's versions.
    for (const { id } of written.slice(0, 4)) {
      for (const d of [patient, author, other]) expect((await d.hale.records.get(id))?.rv, id).toBe(1);
    }
    expect((await other.hale.records.get<'MedicalNote'>(note.id))?.record.title).toBe(note.title);

    // A record the patient entered is the patient's, open like its own entries to the accounts it lets write:
    // a clinician corrects the patient's result, then the patient changes it again.
    const own = await patient.hale.records.add('LabResult', input('LabResult'));
    await patient.hale.sync.awaitInSync();
    await holds(author, own.id, 1);
    await author.hale.records.update('LabResult', own.id, { performer: 'Lab A' }, { reason: 'lab named' });
    await author.hale.sync.awaitInSync();
    await holds(patient, own.id, 2);
    await patient.hale.records.update('LabResult', own.id, { performer: 'Lab B' }, { reason: 'moved' });
    await patient.hale.sync.awaitInSync();
    await holds(other, own.id, 3);
    expect(patient.hale.sync.unsent.get()).toEqual([]);
  });

  it("every reader refuses a version the server takes but the rules do not (the patient rewriting a plan's content)", async () => {
    const t = server.t;
    const patient = await careDevice(t, server.sessions, 'patient');
    const author = await careDevice(t, server.sessions, 'provider');
    const other = await careDevice(t, server.sessions, 'provider');
    await share(patient, author, ['treatment-plan']);
    await share(patient, other, ['treatment-plan']);
    const plan = await author.hale.records.add(
      'TreatmentPlan',
      input('TreatmentPlan', { status: 'active', summary: 'Blood pressure control' }),
      { patientId: patient.account.accountId },
    );
    await author.hale.sync.awaitInSync();
    for (const d of [patient, other]) await holds(d, plan.id, 1);
    const held = (await patient.hale.records.get<'TreatmentPlan'>(plan.id))!;

    // A client that skips its own check: the patient's device key signs a version rewriting the summary.
    const raw = await connect(t, patient.account.device);
    const stream = `${patient.account.accountId}/treatment-plan`;
    const forged = await makeDoc(
      patient.account,
      patient.account.device,
      'treatment-plan',
      {
        kind: 'TreatmentPlan',
        updatedAt: new Date().toISOString(),
        by: patient.account.accountId,
        data: { ...held.record, summary: 'No treatment needed', updatedAt: new Date().toISOString() },
        conflict: false,
        conflictData: null,
      },
      { id: plan.id, rv: 2 },
    );
    const served = await t.store.docs.getDoc(stream, plan.id);
    const answer = await raw.request<PushedFrame>({
      t: 'push',
      rid: raw.rid(),
      rows: [{ doc: forged, assumedRev: served!.rev }],
    });
    expect(answer.results[0]?.status).toBe('ok');
    await raw.close();

    for (const reader of [author, other]) {
      await eventually(
        () =>
          reader.hale.sync.quarantine.get().some((q) => q.id === plan.id && q.reason === 'BAD_TRANSITION'),
        `${reader.account.role} sets the rewrite aside`,
      );
      const entry = reader.hale.sync.quarantine.get().find((q) => q.id === plan.id)!;
      expect(entry.message).toContain(patient.account.accountId);
      const shown = await reader.hale.records.get<'TreatmentPlan'>(plan.id);
      expect([shown?.rv, shown?.record.summary]).toEqual([1, 'Blood pressure control']);
    }
  });
});

describe("a note's header and its text, as a reader judges them together", () => {
  const server = useServer({ realClock: true });

  it("a header naming a text version the readers refuse is refused with it (the author's client skipping its checks)", async () => {
    const t = server.t;
    const patient = await careDevice(t, server.sessions, 'patient');
    const author = await careDevice(t, server.sessions, 'provider');
    await share(patient, author, ['note']);
    const at = { patientId: patient.account.accountId };
    const note = await author.hale.records.add(
      'MedicalNote',
      input('MedicalNote', { status: 'draft', currentVersionNumber: 1, title: 'Knee review' }),
      at,
    );
    const text = await author.hale.records.add(
      'NoteVersion',
      input('NoteVersion', { noteId: note.id, versionNumber: 1, kind: 'original', assessment: 'Sprain.' }),
      at,
    );
    await author.hale.records.update('MedicalNote', note.id, { status: 'signed' });
    await author.hale.sync.awaitInSync();
    await eventually(
      async () => (await patient.hale.records.get<'MedicalNote'>(note.id))?.record.status === 'signed',
      'the patient holds the signed note',
    );
    const heldNote = (await patient.hale.records.get<'MedicalNote'>(note.id))!;
    const heldText = (await patient.hale.records.get<'NoteVersion'>(text.id))!;

    // The signed text rewritten, and the header renamed with it: one action of a client that skips checks.
    const raw = await connect(t, author.account.device);
    const stream = `${patient.account.accountId}/note`;
    const now = new Date().toISOString();
    const version = (kind: 'MedicalNote' | 'NoteVersion', data: Record<string, unknown>) => ({
      kind,
      updatedAt: now,
      by: author.account.accountId,
      data: { ...data, updatedAt: now },
      conflict: false,
      conflictData: null,
    });
    const header = await makeDoc(
      patient.account,
      author.account.device,
      'note',
      version('MedicalNote', { ...heldNote.record, title: 'Knee review (rewritten)' }),
      { id: note.id, rv: heldNote.rv + 1 },
    );
    const rewritten = await makeDoc(
      patient.account,
      author.account.device,
      'note',
      version('NoteVersion', { ...heldText.record, assessment: 'Nothing found.' }),
      { id: text.id, rv: heldText.rv + 1 },
    );
    const revOf = async (id: string) => (await t.store.docs.getDoc(stream, id))!.rev;
    const answer = await raw.request<PushedFrame>({
      t: 'push',
      rid: raw.rid(),
      rows: [
        { doc: header, assumedRev: await revOf(note.id) },
        { doc: rewritten, assumedRev: await revOf(text.id) },
      ],
    });
    expect(answer.results.map((r) => r.status)).toEqual(['ok', 'ok']);
    await raw.close();

    await eventually(
      () => patient.hale.sync.quarantine.get().filter((q) => q.reason === 'BAD_TRANSITION').length === 2,
      'the patient sets both aside',
    );
    expect((await patient.hale.records.get<'MedicalNote'>(note.id))?.record.title).toBe('Knee review');
    expect((await patient.hale.records.get<'NoteVersion'>(text.id))?.record.assessment).toBe('Sprain.');
  });
});
