// Defects found in a review of the records API, each pinned by a case that failed before its fix.
import { afterEach, describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, EXAMPLE_PROVIDER_ID } from '@hale/model';
import { RecordError, createRecords, type Records } from './records';
import { closeRecordDbs, recordInput, recordRefusal, setupRecords } from './records.test-util';

afterEach(closeRecordDbs);

/** The records API as plain JavaScript sees it: any argument of any type. */
type Untyped = Record<'add' | 'update', (...args: unknown[]) => Promise<unknown>>;
const untyped = (records: Records): Untyped => records as unknown as Untyped;

describe('records: a draft NoteVersion sent back unchanged by another clinician', () => {
  it('keeps its editor: a stale updatedAt or createdAt in the form is no edit of the text', async () => {
    const { db, records } = await setupRecords();
    const provider = createRecords({
      collection: db.records,
      accountId: EXAMPLE_PROVIDER_ID,
      deviceId: 'DevP000000000000000001',
      now: () => Date.now(),
      whyNotWritable: () => null,
      onWrite: () => undefined,
    });
    const { authorId: _a, ...noteInput } = recordInput('MedicalNote');
    const note = await records.add('MedicalNote', { ...noteInput, status: 'draft', currentVersionNumber: 1 });
    const { amendmentReason: _r, editorId: _e, ...versionInput } = recordInput('NoteVersion');
    const version = await records.add('NoteVersion', {
      ...versionInput,
      noteId: note.id,
      versionNumber: 1,
      kind: 'original',
    });
    expect(version.editorId).toBe(EXAMPLE_PATIENT_ID);

    // A form holding the version as it was read earlier sends it all back, nothing edited.
    const { id: _i, patientId: _p, ...form } = version;
    // (Untyped: a form's data carries the fields the typed patch leaves out.)
    await untyped(provider).update('NoteVersion', version.id, {
      ...form,
      createdAt: '2020-01-01T00:00:00.000Z',
      updatedAt: '2020-01-01T00:00:00.000Z',
    });
    expect((await records.get<'NoteVersion'>(version.id))?.record.editorId).toBe(EXAMPLE_PATIENT_ID);
    // An edit of the text makes the provider its editor.
    const edited = await provider.update('NoteVersion', version.id, { plan: 'Recheck in 6 weeks.' });
    expect(edited.editorId).toBe(EXAMPLE_PROVIDER_ID);
  });
});

describe('records: input or a patch that is no object, from untyped code', () => {
  it('add refuses null, an array or a string as VALIDATION_FAILED naming the record, writing nothing', async () => {
    const { records, writes } = await setupRecords();
    for (const input of [null, undefined, ['Latex'], 'Latex', 42]) {
      const error = await recordRefusal(untyped(records).add('Allergy', input));
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.detail?.issues).toEqual([{ field: '(record)', reason: 'must be an object' }]);
    }
    expect(await records.query('Allergy')).toEqual([]);
    expect(writes).toEqual([]);
  });

  it('update refuses null or an array rather than writing an unchanged version, writing nothing', async () => {
    const { records, writes } = await setupRecords();
    const allergy = await records.add('Allergy', recordInput('Allergy'));
    const before = await records.get(allergy.id);
    for (const patch of [null, undefined, ['Latex'], 'Latex']) {
      const error = await recordRefusal(untyped(records).update('Allergy', allergy.id, patch));
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.detail?.issues).toEqual([{ field: '(record)', reason: 'must be an object' }]);
    }
    expect(await records.get(allergy.id)).toEqual(before);
    expect(writes.map((w) => w.action)).toEqual(['create']);
  });
});

describe('records: nested data that JSON would not carry as validation reads it', () => {
  const fileOf = (input: ReturnType<typeof recordInput<'HealthDocument'>>) => input.file;

  it('a property that is not enumerable is refused naming it, not stored without it', async () => {
    const { records, writes } = await setupRecords();
    const input = recordInput('HealthDocument');
    const file = { ...fileOf(input) };
    Object.defineProperty(file, 'sha256', { value: fileOf(input).sha256, enumerable: false });
    const error = await recordRefusal(records.add('HealthDocument', { ...input, file }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.detail?.issues.map((issue) => issue.field)).toEqual(['file.sha256']);
    expect(await records.query('HealthDocument')).toEqual([]);
    expect(writes).toEqual([]);
  });

  it('an object that is no plain object (a class reading its fields through getters) is refused naming it', async () => {
    const { records, writes } = await setupRecords();
    const input = recordInput('HealthDocument');
    const plain = fileOf(input);
    class FileView {
      get blobId() {
        return plain.blobId;
      }
      get fileName() {
        return plain.fileName;
      }
      get mediaType() {
        return plain.mediaType;
      }
      get size() {
        return plain.size;
      }
      get sha256() {
        return plain.sha256;
      }
    }
    const added = await recordRefusal(records.add('HealthDocument', { ...input, file: new FileView() }));
    const document = await records.add('HealthDocument', input);
    const updated = await recordRefusal(
      records.update('HealthDocument', document.id, { file: new FileView() }),
    );
    for (const error of [added, updated]) {
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.detail?.issues.map((issue) => issue.field)).toEqual(['file']);
    }
    expect((await records.get(document.id))?.record).toEqual(document);
    expect(writes.map((w) => w.action)).toEqual(['create']);
  });
});

describe('records: a message with neither text nor an attachment', () => {
  it('is refused naming body and its rule, writing nothing; an empty body with an attachment is sent', async () => {
    const { records, writes } = await setupRecords();
    const { attachments: _a, deliveredAt: _d, readAt: _r, ...input } = recordInput('Message');
    const error = await recordRefusal(records.add('Message', { ...input, status: 'sent', body: ' \n' }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.detail?.issues).toMatchObject([{ field: 'body', rule: 'MESSAGE_EMPTY' }]);
    expect(writes).toEqual([]);
    const photo = recordInput('Message').attachments ?? [];
    const sent = await records.add('Message', { ...input, status: 'sent', body: '', attachments: photo });
    expect((await records.query('Message')).map((m) => m.record.id)).toEqual([sent.id]);
  });
});

describe('records: options that are no object, from untyped code', () => {
  it("a patient id passed in place of the options is refused naming options, not read as this account's chart", async () => {
    const { records, writes } = await setupRecords();
    const u = records as unknown as Record<
      'add' | 'update' | 'query',
      (...args: unknown[]) => Promise<unknown>
    > & { observe: (...args: unknown[]) => unknown };
    const other = 'OtherPatient0000000001';
    const added = await recordRefusal(u.add('Allergy', recordInput('Allergy'), other));
    const listed = await recordRefusal(u.query('Allergy', other));
    let observed: unknown;
    try {
      u.observe('Allergy', other);
    } catch (error) {
      observed = error;
    }
    const allergy = await records.add('Allergy', recordInput('Allergy'));
    const updated = await recordRefusal(u.update('Allergy', allergy.id, { reaction: 'Rash' }, 'why'));
    for (const error of [added, listed, observed, updated]) {
      expect(error).toBeInstanceOf(RecordError);
      expect(error).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect((error as RecordError).detail?.issues.map((issue) => issue.field)).toEqual(['options']);
    }
    expect(writes.map((w) => w.action)).toEqual(['create']);
  });

  it('null options are none given', async () => {
    const { records } = await setupRecords();
    const u = records as unknown as Record<
      'add' | 'update' | 'query',
      (...args: unknown[]) => Promise<unknown>
    >;
    const allergy = (await u.add('Allergy', recordInput('Allergy'), null)) as { id: string };
    await u.update('Allergy', allergy.id, { reaction: 'Rash' }, null);
    expect(((await u.query('Allergy', null)) as unknown[]).length).toBe(1);
  });
});
