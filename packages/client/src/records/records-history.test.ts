// Clinical history and authorship through the records API: a change to a versioned record becomes its
// next version, earlier versions and signed notes never change, fields naming who wrote something name
// the session's account, and a list shows one patient's records.
import { afterEach, describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { EXAMPLE_PATIENT_ID, EXAMPLE_PROVIDER_ID, exampleRecord, newId, type RecordOf } from '@hale/model';
import { resolveRecordConflict } from './conflicts';
import { createRecords, RecordError, type RecordInput } from './records';
import {
  DEVICE,
  OTHER_DEVICE,
  closeRecordDbs,
  pulledSide,
  recordInput,
  writableInput,
  setupRecords,
  storeMerged,
} from './records.test-util';

afterEach(closeRecordDbs);

const SOMEONE = 'SomeoneElse00000000001';
const PROVIDER_DEVICE = 'ProvDev000000000000001';
const OTHER_PATIENT = 'OtherPatient0000000001';

/** A clock that moves on a minute at each reading, so every write has its own time. */
const ticking = () => {
  let now = Date.UTC(2024, 5, 1, 12);
  return () => (now += 60_000);
};
const setup = (extra: Parameters<typeof setupRecords>[0] = {}) => setupRecords({ now: ticking(), ...extra });

const refusal = async (promise: Promise<unknown>): Promise<RecordError> => {
  const error = await promise.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RecordError);
  return error as RecordError;
};

// Inputs whose author fields already name this device's account and device, so that the records an
// older build stored (which took them as given) are the same: what differs is only what the API does.
const MINE = { by: EXAMPLE_PATIENT_ID, deviceId: DEVICE, at: '2024-05-01T09:30:00.000Z' };

const labAtVersion2 = (): RecordInput<'LabResult'> => {
  const example = exampleRecord('LabResult');
  return {
    ...recordInput('LabResult'),
    version: 2,
    provenance: { ...MINE, reason: 'Transcription error in value' },
    versions: [{ ...example.versions[0]!, provenance: MINE }],
  };
};

const documentAtVersion1 = (): RecordInput<'HealthDocument'> => ({
  ...recordInput('HealthDocument'),
  uploadedBy: EXAMPLE_PATIENT_ID,
  version: 1,
  versions: [],
});

const newFile = { ...exampleRecord('HealthDocument').file, blobId: newId(), fileName: 'scan-v3.pdf' };

/** A stored lab result without the store's fields: what a form sends back. */
const formOf = (record: RecordOf<'LabResult'>) => {
  const { id: _i, patientId: _p, createdAt: _c, updatedAt: _u, ...rest } = record;
  return rest;
};

describe('records: a change of a versioned record is its next version', () => {
  it('LabResult: a new value is version 3, version 2 kept as it was, the new one with its own provenance', async () => {
    const { records, writes } = await setup();
    const lab = await records.add('LabResult', labAtVersion2());
    const updated = await records.update(
      'LabResult',
      lab.id,
      { value: 980, status: 'corrected' },
      { reason: 'Unit error' },
    );
    expect({
      version: updated.version,
      versions: updated.versions,
      provenance: updated.provenance,
      value: updated.value,
    }).toEqual({
      version: 3,
      versions: [
        lab.versions[0],
        {
          version: 2,
          status: lab.status,
          value: lab.value,
          units: lab.units,
          referenceRange: lab.referenceRange,
          effectiveAt: lab.effectiveAt,
          publishedAt: lab.publishedAt,
          provenance: lab.provenance,
        },
      ],
      provenance: { by: EXAMPLE_PATIENT_ID, deviceId: DEVICE, at: updated.updatedAt, reason: 'Unit error' },
      value: 980,
    });
    expect((await records.get<'LabResult'>(lab.id))?.record).toEqual(updated);
    expect(writes.map((w) => w.action)).toEqual(['create', 'update']);
  });

  it('refuses a patch that drops, rewrites or renumbers history or names another author, and writes nothing', async () => {
    const { records, writes } = await setup();
    const lab = await records.add('LabResult', labAtVersion2());
    const attempts = {
      wiped: await refusal(records.update('LabResult', lab.id, { versions: [], version: 1 })),
      dropped: await refusal(records.update('LabResult', lab.id, { versions: [] })),
      edited: await refusal(
        records.update('LabResult', lab.id, { versions: [{ ...lab.versions[0]!, value: 98 }] }),
      ),
      renumbered: await refusal(records.update('LabResult', lab.id, { version: 7 })),
      forged: await refusal(
        records.update('LabResult', lab.id, { value: 1, provenance: { ...lab.provenance, by: SOMEONE } }),
      ),
    };
    expect(Object.fromEntries(Object.entries(attempts).map(([k, e]) => [k, [e.code, e.field]]))).toEqual({
      wiped: ['RECORD_FINAL', 'version'],
      dropped: ['RECORD_FINAL', 'versions'],
      edited: ['RECORD_FINAL', 'versions'],
      renumbered: ['RECORD_FINAL', 'version'],
      forged: ['AUTHOR_MISMATCH', 'provenance.by'],
    });
    const stored = await records.get<'LabResult'>(lab.id);
    expect({ record: stored?.record, rv: stored?.rv }).toEqual({ record: lab, rv: 1 });
    expect(writes.map((w) => w.action)).toEqual(['create']);
  });

  it('add starts the history: a version numbered past the versions given is refused, naming version', async () => {
    const { records, writes } = await setup();
    const attempts = {
      labPastNone: await refusal(
        records.add('LabResult', { ...recordInput('LabResult'), version: 5, versions: [] }),
      ),
      labPastGiven: await refusal(records.add('LabResult', { ...labAtVersion2(), version: 3 })),
      documentPastNone: await refusal(records.add('HealthDocument', { ...documentAtVersion1(), version: 3 })),
    };
    expect(Object.fromEntries(Object.entries(attempts).map(([k, e]) => [k, [e.code, e.field]]))).toEqual({
      labPastNone: ['RECORD_FINAL', 'version'],
      labPastGiven: ['RECORD_FINAL', 'version'],
      documentPastNone: ['RECORD_FINAL', 'version'],
    });
    expect(writes).toEqual([]);
    // Left out or as the history says, it is taken.
    const { version: _v, ...unnumbered } = recordInput('LabResult');
    expect((await records.add('LabResult', { ...unnumbered, versions: [] })).version).toBe(1);
    expect((await records.add('LabResult', labAtVersion2())).version).toBe(2);
  });

  it('takes the whole record back with one field changed (what a form sends); no change makes no version', async () => {
    const { records } = await setup();
    const lab = await records.add('LabResult', labAtVersion2());
    const changed = await records.update('LabResult', lab.id, { ...formOf(lab), value: 101 });
    expect([changed.version, changed.versions.length, changed.value]).toEqual([3, 2, 101]);
    const same = await records.update('LabResult', lab.id, formOf(changed));
    expect([same.version, same.versions, same.provenance]).toEqual([3, changed.versions, changed.provenance]);
    const reasonless = await refusal(records.update('LabResult', lab.id, {}, { reason: 'nothing' }));
    expect([reasonless.code, reasonless.detail?.issues.map((i) => i.field)]).toEqual([
      'VALIDATION_FAILED',
      ['reason'],
    ]);
  });

  it('HealthDocument: a new file is a new version keeping the old file; a new title is not', async () => {
    const { records } = await setup();
    const doc = await records.add('HealthDocument', documentAtVersion1());
    const renamed = await records.update('HealthDocument', doc.id, { title: 'Discharge summary (2024)' });
    expect([renamed.version, renamed.versions]).toEqual([1, []]);

    const replaced = await records.update('HealthDocument', doc.id, { file: newFile });
    expect({
      version: replaced.version,
      versions: replaced.versions,
      file: replaced.file,
      uploadedAt: replaced.uploadedAt,
      uploadedBy: replaced.uploadedBy,
    }).toEqual({
      version: 2,
      versions: [{ version: 1, file: doc.file, uploadedAt: doc.uploadedAt, uploadedBy: EXAMPLE_PATIENT_ID }],
      file: newFile,
      uploadedAt: replaced.updatedAt,
      uploadedBy: EXAMPLE_PATIENT_ID,
    });
    const refusals = [
      await refusal(records.update('HealthDocument', doc.id, { uploadedBy: SOMEONE })),
      await refusal(records.update('HealthDocument', doc.id, { uploadedAt: '2020-01-01T00:00:00Z' })),
      await refusal(records.update('HealthDocument', doc.id, { title: 'x' }, { reason: 'why' })),
    ];
    expect(refusals.map((e) => [e.code, e.field ?? e.detail?.issues[0]?.field])).toEqual([
      ['AUTHOR_MISMATCH', 'uploadedBy'],
      ['RECORD_FINAL', 'uploadedAt'],
      ['VALIDATION_FAILED', 'reason'],
    ]);
  });

  it("TreatmentPlan: a change after the patient's acknowledgement is a new version the acknowledgement does not cover", async () => {
    const { db, records: provider } = await setup({
      accountId: EXAMPLE_PROVIDER_ID,
      deviceId: PROVIDER_DEVICE,
    });
    // The patient's device, over the same store: the plan is in the patient's stream.
    const patient = createRecords({
      collection: db.records,
      accountId: EXAMPLE_PATIENT_ID,
      deviceId: DEVICE,
      now: ticking(),
      whyNotWritable: () => null,
      onWrite: () => {},
    });
    const plan = await provider.add(
      'TreatmentPlan',
      {
        ...recordInput('TreatmentPlan'),
        authorId: EXAMPLE_PROVIDER_ID,
        version: 1,
        versions: [],
        provenance: { by: EXAMPLE_PROVIDER_ID, deviceId: PROVIDER_DEVICE, at: MINE.at },
      },
      { patientId: EXAMPLE_PATIENT_ID },
    );
    const acknowledged = await patient.update('TreatmentPlan', plan.id, {
      acknowledgement: { by: EXAMPLE_PATIENT_ID, at: '2000-01-01T00:00:00Z', version: plan.version },
    });
    // Acknowledging is not a change of the plan; the time is the write's.
    expect([acknowledged.version, acknowledged.acknowledgement]).toEqual([
      1,
      { by: EXAMPLE_PATIENT_ID, at: acknowledged.updatedAt, version: 1 },
    ]);

    const changed = await provider.update(
      'TreatmentPlan',
      plan.id,
      { details: 'Lisinopril 20 mg daily.' },
      { reason: 'Dose raised' },
    );
    expect({
      version: changed.version,
      superseded: changed.versions.map((v) => [v.version, v.details, v.provenance.by]),
      provenance: [changed.provenance.by, changed.provenance.reason],
      acknowledgement: changed.acknowledgement,
    }).toEqual({
      version: 2,
      superseded: [[1, plan.details, EXAMPLE_PROVIDER_ID]],
      provenance: [EXAMPLE_PROVIDER_ID, 'Dose raised'],
      acknowledgement: acknowledged.acknowledgement,
    });

    const refusals = [
      await refusal(patient.update('TreatmentPlan', plan.id, { acknowledgement: undefined } as never)),
      await refusal(
        patient.update('TreatmentPlan', plan.id, {
          acknowledgement: { by: SOMEONE, at: MINE.at, version: 2 },
        }),
      ),
    ];
    expect(refusals.map((e) => [e.code, e.field])).toEqual([
      ['RECORD_FINAL', 'acknowledgement'],
      ['AUTHOR_MISMATCH', 'acknowledgement.by'],
    ]);
  });

  it('resolveConflict: merged content is the next version too; a merge that drops history is refused', async () => {
    const { db, records } = await setup();
    const lab = await records.add('LabResult', labAtVersion2());
    const merged = resolveRecordConflict(
      pulledSide('LabResult', { ...lab, value: 90, updatedAt: '2024-06-02T00:00:00.000Z' }),
      pulledSide(
        'LabResult',
        { ...lab, value: 91, updatedAt: '2024-06-01T00:00:00.000Z' },
        { author: OTHER_DEVICE },
      ),
    );
    await storeMerged(db, merged);
    const dropped = await refusal(
      records.resolveConflict(lab.id, { versions: [] }, { expectedRv: merged.rv }),
    );
    expect([dropped.code, dropped.field]).toEqual(['RECORD_FINAL', 'versions']);
    const settled = await records.resolveConflict<'LabResult'>(
      lab.id,
      { value: 95 },
      { expectedRv: merged.rv },
    );
    expect([settled?.version, settled?.versions.length, settled?.value, settled?.provenance.by]).toEqual([
      3,
      2,
      95,
      EXAMPLE_PATIENT_ID,
    ]);
  });
});

describe('records: signed notes are final', () => {
  /** A draft note at version 1 and its version, written by this device's account. */
  const draftNote = async (records: Awaited<ReturnType<typeof setup>>['records']) => {
    const note = await records.add('MedicalNote', {
      ...recordInput('MedicalNote'),
      authorId: EXAMPLE_PATIENT_ID,
      status: 'draft',
      currentVersionNumber: 1,
    });
    const { amendmentReason: _r, ...rest } = recordInput('NoteVersion');
    const version = await records.add('NoteVersion', {
      ...rest,
      editorId: EXAMPLE_PATIENT_ID,
      noteId: note.id,
      versionNumber: 1,
      kind: 'original',
    });
    return { note, version };
  };

  it('a NoteVersion a signed NoteSignature names cannot be changed or removed; the signature is final too', async () => {
    const { records, writes } = await setup();
    const { note, version } = await draftNote(records);
    const signature = await records.add('NoteSignature', {
      ...recordInput('NoteSignature'),
      noteId: note.id,
      noteVersionId: version.id,
      signerId: EXAMPLE_PATIENT_ID,
      status: 'signed',
      signedVersionNumber: 1,
      signedAt: MINE.at,
    });
    const refusals = {
      edit: await refusal(records.update('NoteVersion', version.id, { assessment: 'Never signed.' })),
      remove: await refusal(records.remove(version.id)),
      editSignature: await refusal(records.update('NoteSignature', signature.id, { comment: 'later' })),
      removeSignature: await refusal(records.remove(signature.id)),
    };
    expect(Object.values(refusals).map((e) => e.code)).toEqual([
      'RECORD_FINAL',
      'RECORD_FINAL',
      'RECORD_FINAL',
      'RECORD_FINAL',
    ]);
    expect((await records.get(version.id))?.record).toEqual(version);
    expect((await records.get(signature.id))?.record).toEqual(signature);
    expect(writes.map((w) => w.action)).toEqual(['create', 'create', 'create']);
  });

  it('a draft version is edited (its editor is who edits it) until its note leaves draft; signed text is never a draft again', async () => {
    const { records } = await setup();
    const { note, version } = await draftNote(records);
    const edited = await records.update('NoteVersion', version.id, { assessment: 'Better wording.' });
    expect([edited.assessment, edited.editorId]).toEqual(['Better wording.', EXAMPLE_PATIENT_ID]);

    await records.update('MedicalNote', note.id, { status: 'signed' });
    const afterSigning = await refusal(records.update('NoteVersion', version.id, { assessment: 'x' }));
    const backToDraft = await refusal(records.update('MedicalNote', note.id, { status: 'draft' }));
    const removeNote = await refusal(records.remove(note.id));
    // An amendment: the note opens version 2; version 1 stays as signed.
    await records.update('MedicalNote', note.id, { status: 'draft', currentVersionNumber: 2 });
    const oldVersion = await refusal(records.update('NoteVersion', version.id, { assessment: 'x' }));
    expect([afterSigning, backToDraft, removeNote, oldVersion].map((e) => [e.code, e.field])).toEqual([
      ['RECORD_FINAL', '(record)'],
      ['RECORD_FINAL', 'status'],
      ['RECORD_FINAL', 'status'],
      ['RECORD_FINAL', 'versionNumber'],
    ]);
    expect((await records.get<'NoteVersion'>(version.id))?.record.assessment).toBe('Better wording.');
  });

  it("a note's version number names one NoteVersion: add refuses another under a number held, naming versionNumber", async () => {
    const { records, writes } = await setup();
    const { note, version } = await draftNote(records);
    await records.add('NoteSignature', {
      ...recordInput('NoteSignature'),
      noteId: note.id,
      noteVersionId: version.id,
      signerId: EXAMPLE_PATIENT_ID,
      status: 'signed',
      signedVersionNumber: 1,
    });
    await records.update('MedicalNote', note.id, { status: 'signed' });
    await records.update('MedicalNote', note.id, { status: 'draft', currentVersionNumber: 2 });
    const { amendmentReason: _r, ...rest } = recordInput('NoteVersion');
    const second = { ...rest, noteId: note.id, editorId: EXAMPLE_PATIENT_ID };
    const amendment = { ...second, kind: 'amendment' as const, amendmentReason: 'Corrected dose' };
    const before = writes.length;
    // Version 1 is signed: a second text under its number would read as what was signed.
    const overSigned = await refusal(
      records.add('NoteVersion', { ...second, versionNumber: 1, kind: 'original' }),
    );
    const v2 = await records.add('NoteVersion', { ...amendment, versionNumber: 2 });
    const overDraft = await refusal(records.add('NoteVersion', { ...amendment, versionNumber: 2 }));
    expect(
      [overSigned, overDraft].map((e) => [e.code, e.detail?.issues.map((i) => i.field), e.message]),
    ).toEqual([
      ['VALIDATION_FAILED', ['versionNumber'], expect.stringContaining(version.id)],
      ['VALIDATION_FAILED', ['versionNumber'], expect.stringContaining(v2.id)],
    ]);
    expect(writes.length).toBe(before + 1);
    // Another note's version 1, or a version number freed by removing a draft version, is taken.
    const other = await draftNote(records);
    expect(other.version.versionNumber).toBe(1);
    await records.remove(v2.id);
    expect((await records.add('NoteVersion', { ...amendment, versionNumber: 2 })).versionNumber).toBe(2);
    const listed = (await records.query('NoteVersion'))
      .map((s) => s.record)
      .filter((v) => v.noteId === note.id)
      .map((v) => v.versionNumber);
    expect(listed.sort()).toEqual([1, 2]);
  });

  it('a NoteVersion whose note this device does not hold cannot be shown to be a draft: refused', async () => {
    const { records } = await setup();
    const { amendmentReason: _r, ...rest } = recordInput('NoteVersion');
    const orphan = await records.add('NoteVersion', { ...rest, versionNumber: 1, kind: 'original' });
    const e = await refusal(records.update('NoteVersion', orphan.id, { plan: 'x' }));
    expect([e.code, e.field]).toEqual(['RECORD_FINAL', 'noteId']);
  });

  it('signing: only the signer signs, dated now, naming the version number of the NoteVersion it attests', async () => {
    const { records } = await setup();
    const { note, version } = await draftNote(records);
    const base = {
      ...recordInput('NoteSignature'),
      noteId: note.id,
      noteVersionId: version.id,
      status: 'requested' as const,
    };
    const { signedAt: _s, signedVersionNumber: _n, ...request } = base;
    const forSomeoneElse = await records.add('NoteSignature', { ...request, signerId: SOMEONE });
    expect(forSomeoneElse.requestedBy).toBe(EXAMPLE_PATIENT_ID);
    const notTheSigner = await refusal(
      records.update('NoteSignature', forSomeoneElse.id, { status: 'signed' }),
    );
    expect([notTheSigner.code, notTheSigner.field]).toEqual(['AUTHOR_MISMATCH', 'signerId']);

    const forMe = await records.add('NoteSignature', { ...request, signerId: EXAMPLE_PATIENT_ID });
    const signed = await records.update('NoteSignature', forMe.id, { status: 'signed' });
    expect([signed.signedAt, signed.signedVersionNumber]).toEqual([signed.updatedAt, 1]);
    const wrongVersion = await refusal(
      records.add('NoteSignature', { ...request, status: 'signed', signedVersionNumber: 2 }),
    );
    expect([wrongVersion.code, wrongVersion.detail?.issues[0]?.field]).toEqual([
      'VALIDATION_FAILED',
      'signedVersionNumber',
    ]);
  });
});

describe('records: fields naming who wrote a record name the session writing it', () => {
  it('add refuses a provenance naming another account or device, or a history by someone else; fills it when left out', async () => {
    const { db, records } = await setup();
    const input = recordInput('LabResult');
    const example = exampleRecord('LabResult');
    const refusals = [
      await refusal(records.add('LabResult', { ...input, provenance: { ...MINE, by: SOMEONE } })),
      await refusal(records.add('LabResult', { ...input, provenance: { ...MINE, deviceId: OTHER_DEVICE } })),
      await refusal(
        records.add('LabResult', {
          ...input,
          version: 2,
          versions: [{ ...example.versions[0]!, provenance: { ...MINE, by: EXAMPLE_PROVIDER_ID } }],
        }),
      ),
    ];
    expect(refusals.map((e) => [e.code, e.field])).toEqual([
      ['AUTHOR_MISMATCH', 'provenance.by'],
      ['AUTHOR_MISMATCH', 'provenance.deviceId'],
      ['AUTHOR_MISMATCH', 'versions[0].provenance.by'],
    ]);
    expect(await db.records.count().exec()).toBe(0);

    const filled = await records.add('LabResult', input, { reason: 'Entered from the paper report' });
    expect([filled.version, filled.versions, filled.provenance]).toEqual([
      1,
      [],
      {
        by: EXAMPLE_PATIENT_ID,
        deviceId: DEVICE,
        at: filled.createdAt,
        reason: 'Entered from the paper report',
      },
    ]);
  });

  it.each([
    ['NoteSignature', 'signerId'],
    ['NoteVersion', 'editorId'],
    ['MedicalNote', 'authorId'],
    ['TreatmentPlan', 'authorId'],
    ['Message', 'senderId'],
    ['HealthDocument', 'uploadedBy'],
  ] as const)('%s: %s naming someone else is refused; left out, it is the writer', async (kind, field) => {
    const { db, records } = await setup();
    const e = await refusal(records.add(kind, { ...writableInput(kind), [field]: SOMEONE }));
    expect([e.code, e.field]).toEqual(['AUTHOR_MISMATCH', field]);
    expect(await db.records.count().exec()).toBe(0);
    const added: Record<string, unknown> = { ...(await records.add(kind, writableInput(kind))) };
    expect(added[field]).toBe(EXAMPLE_PATIENT_ID);
  });

  it("a provider writing a patient's chart is named as its author, and a message's sender does not change", async () => {
    const { records } = await setup({ accountId: EXAMPLE_PROVIDER_ID, deviceId: PROVIDER_DEVICE });
    const lab = await records.add('LabResult', recordInput('LabResult'), { patientId: EXAMPLE_PATIENT_ID });
    expect([lab.patientId, lab.provenance.by, lab.provenance.deviceId]).toEqual([
      EXAMPLE_PATIENT_ID,
      EXAMPLE_PROVIDER_ID,
      PROVIDER_DEVICE,
    ]);
    const message = await records.add(
      'Message',
      { ...writableInput('Message'), recipientId: EXAMPLE_PATIENT_ID },
      {
        patientId: EXAMPLE_PATIENT_ID,
      },
    );
    const e = await refusal(records.update('Message', message.id, { senderId: EXAMPLE_PATIENT_ID }));
    expect([e.code, e.field]).toEqual(['AUTHOR_MISMATCH', 'senderId']);
  });
});

describe('records: a list shows one patient', () => {
  it("query and observe without patientId list the session's account; with it, that patient", async () => {
    const { records } = await setup();
    const mine = await records.add('Allergy', recordInput('Allergy', { substance: 'Mine' }));
    const theirs = await records.add('Allergy', recordInput('Allergy', { substance: 'Theirs' }), {
      patientId: OTHER_PATIENT,
    });
    const ids = (list: ReadonlyArray<{ record: { id: string } }>) => list.map((r) => r.record.id);
    expect({
      query: ids(await records.query('Allergy')),
      observe: ids(await firstValueFrom(records.observe('Allergy'))),
      queryOther: ids(await records.query('Allergy', { patientId: OTHER_PATIENT })),
      observeOther: ids(await firstValueFrom(records.observe('Allergy', { patientId: OTHER_PATIENT }))),
    }).toEqual({ query: [mine.id], observe: [mine.id], queryOther: [theirs.id], observeOther: [theirs.id] });
  });
});
