import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord, newId, type RecordKind } from '@hale/model';
import type { DeviceDb } from '../store/device-db';
import { EARLIER_CONFLICTS_KEY, resolveRecordConflict } from './conflicts';
import type { PlainRecord } from './plain-record';
import { RecordError } from './records';
import {
  DEVICE,
  OTHER_DEVICE,
  closeRecordDbs,
  pulledSide,
  recordInput,
  setupRecords,
  storeMerged,
  recordRefusal,
} from './records.test-util';

afterEach(closeRecordDbs);

const setup = setupRecords;
const input = recordInput;

/** A stored version of an Allergy, as replication would hand it to the conflict handler. */
const version = (
  data: Record<string, unknown>,
  over: Partial<PlainRecord> & { updatedAt: string },
): PlainRecord => pulledSide('Allergy', { ...data, updatedAt: over.updatedAt }, over);

const raw = async (db: DeviceDb, id: string) => {
  const [doc] = await db.records.storageInstance.findDocumentsById([id], true);
  return doc;
};

describe('records: re-adding under the id of a deleted record', () => {
  it('continues the revision counter of the tombstone', async () => {
    const { db, records } = await setup();
    const first = await records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await records.update('Allergy', first.id, { reaction: 'Rash' });
    await records.remove(first.id);
    const tombstone = await raw(db, first.id);
    expect(tombstone?._deleted).toBe(true);

    await records.add('Allergy', { ...input('Allergy', { substance: 'Latex (again)' }), id: first.id });
    const again = await records.get<'Allergy'>(first.id);
    expect(again?.record.substance).toBe('Latex (again)');
    expect(again?.rv).toBe(tombstone!.rv + 1);
  });
});

describe('records: a write resolves once onWrite settled (the audit note of it is kept by then)', () => {
  it('add, update and remove each wait for what onWrite returns', async () => {
    const noted: string[] = [];
    let release = (): void => undefined;
    const { records } = await setup({
      onWrite: (_id, change) =>
        new Promise<void>((resolve) => {
          release = () => {
            noted.push(change.action);
            resolve();
          };
        }),
    });
    const settledYet = async (write: Promise<unknown>): Promise<boolean> => {
      let settled = false;
      void write.then(() => (settled = true));
      // Longer than a macrotask: a note saved a macrotask later would be in by then.
      await new Promise((r) => setTimeout(r, 20));
      return settled;
    };
    const added = records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    expect(await settledYet(added)).toBe(false);
    release();
    const { id } = await added;
    const updated = records.update('Allergy', id, { reaction: 'Rash' });
    expect(await settledYet(updated)).toBe(false);
    release();
    await updated;
    const removed = records.remove(id);
    expect(await settledYet(removed)).toBe(false);
    release();
    await removed;
    expect(noted).toEqual(['create', 'update', 'delete']);
  });
});

describe('records: an update that changes nothing', () => {
  it('writes no revision and no audit note, and answers the record as stored', async () => {
    const { db, records, writes } = await setup();
    const added = await records.add('Allergy', input('Allergy', { substance: 'Latex', reaction: 'Rash' }));
    const before = await raw(db, added.id);
    await new Promise((r) => setTimeout(r, 5));
    // The whole record back, as a form sends it, and a patch naming stored values.
    const same = await records.update('Allergy', added.id, { ...added });
    const alsoSame = await records.update('Allergy', added.id, { substance: 'Latex' });
    const after = await raw(db, added.id);
    expect([same, alsoSame]).toEqual([added, added]);
    expect([after?.rv, after?.updatedAt, after?.data]).toEqual([before?.rv, before?.updatedAt, before?.data]);
    expect(writes.map((w) => w.action)).toEqual(['create']);

    // A change still writes the next revision, noted.
    const changed = await records.update('Allergy', added.id, { reaction: 'Hives' });
    expect([changed.reaction, (await raw(db, added.id))?.rv]).toEqual(['Hives', before!.rv + 1]);
    expect(writes.map((w) => w.action)).toEqual(['create', 'update']);
  });
});

describe('records: writes racing a delete', () => {
  it('an update racing a remove is refused with NOT_FOUND and not written into the tombstone', async () => {
    const { db, records, writes } = await setup();
    const rec = await records.add('Allergy', input('Allergy', { reaction: 'Hives' }));
    const [removed, updated] = await Promise.allSettled([
      records.remove(rec.id),
      records.update('Allergy', rec.id, { reaction: 'Edited' }),
    ]);
    expect(removed.status).toBe('fulfilled');
    expect(updated.status).toBe('rejected');
    const reason = (updated as PromiseRejectedResult).reason as unknown;
    expect(reason).toBeInstanceOf(RecordError);
    expect((reason as RecordError).code).toBe('NOT_FOUND');
    expect(writes.map((w) => w.action)).toEqual(['create', 'delete']);
    const stored = await raw(db, rec.id);
    expect(stored?._deleted).toBe(true);
    expect(stored?.data['reaction']).toBe('Hives');
  });

  it('a second remove racing the first is refused with NOT_FOUND and counted once', async () => {
    const { records, writes } = await setup();
    const rec = await records.add('Allergy', input('Allergy'));
    const results = await Promise.allSettled([records.remove(rec.id), records.remove(rec.id)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failed?.reason).toBeInstanceOf(RecordError);
    expect((failed?.reason as RecordError).code).toBe('NOT_FOUND');
    expect(writes.map((w) => w.action)).toEqual(['create', 'delete']);
  });
});

describe("records: resolveConflict(id, 'other')", () => {
  it('on a delete-versus-edit conflict accepts the deletion: a tombstone that settles the conflict', async () => {
    const { db, records, writes } = await setup();
    const data = exampleRecord('Allergy');
    const edit = version(data, { updatedAt: '2024-06-01T00:00:00.000Z' });
    const deletion = version(data, {
      updatedAt: '2024-06-02T00:00:00.000Z',
      author: OTHER_DEVICE,
      rv: 3,
      _deleted: true,
    });
    const merged = resolveRecordConflict(deletion, edit);
    expect(merged.conflictData).toMatchObject({ deletedBy: EXAMPLE_PATIENT_ID });
    await storeMerged(db, merged);

    await expect(records.resolveConflict(data.id, 'other', { expectedRv: merged.rv })).resolves.toBeNull();
    expect(await records.get(data.id)).toBeNull();
    expect(await records.conflicts()).toHaveLength(0);
    expect(writes).toEqual([{ id: data.id, action: 'delete' }]);
    const tombstone = await raw(db, data.id);
    expect(tombstone).toMatchObject({
      _deleted: true,
      conflict: false,
      conflictData: null,
      rv: merged.rv + 1,
      author: DEVICE,
    });
  });

  it('takes the other side as it was: fields it lacks do not come back from the replaced version', async () => {
    const { db, records, writes } = await setup();
    const data = exampleRecord('Allergy');
    expect(data.notes).toBeDefined();
    const { notes: _notes, ...withoutNotes } = data;
    const later = version({ ...data, severity: 'severe' }, { updatedAt: '2024-06-02T00:00:00.000Z' });
    const earlier = version(withoutNotes, { updatedAt: '2024-06-01T00:00:00.000Z', author: OTHER_DEVICE });
    const merged = resolveRecordConflict(later, earlier);
    await storeMerged(db, merged);

    const out = await records.resolveConflict<'Allergy'>(data.id, 'other', { expectedRv: merged.rv });
    expect(out).not.toBeNull();
    expect(out).not.toHaveProperty('notes');
    expect(out?.severity).toBe(data.severity);
    // What the store manages stays the record's own.
    expect(out).toMatchObject({ id: data.id, patientId: data.patientId, createdAt: data.createdAt });
    expect(out).not.toHaveProperty('_conflictFrom');
    const stored = (await records.get<'Allergy'>(data.id))!;
    expect(stored).toMatchObject({ conflict: false, conflictData: null });
    expect(stored.record).toEqual(out);
    expect(writes).toEqual([{ id: data.id, action: 'update' }]);
  });

  it('leaves the sides of earlier conflicts unsettled instead of dropping them', async () => {
    const { db, records } = await setup();
    const data = exampleRecord('Allergy');
    const at = (minute: number) => `2024-06-01T00:0${minute}:00.000Z`;
    const [a, b, c, d] = (['mild', 'moderate', 'severe', 'mild'] as const).map((severity, i) =>
      version(
        { ...data, severity, reaction: `reaction ${i}` },
        { updatedAt: at(i + 1), author: `Dev${i}`.padEnd(22, '0') },
      ),
    );
    const merged = resolveRecordConflict(resolveRecordConflict(resolveRecordConflict(a!, b!), c!), d!);
    const before = merged.conflictData!;
    const { [EARLIER_CONFLICTS_KEY]: listed, ...shown } = before;
    expect(listed).toHaveLength(2);
    await storeMerged(db, merged);

    const out = await records.resolveConflict<'Allergy'>(data.id, 'other', { expectedRv: merged.rv });
    expect(out?.reaction).toBe(shown['reaction']);
    const stored = (await records.get<'Allergy'>(data.id))!;
    expect(stored.conflict).toBe(true);
    const [first, second] = listed as Array<Record<string, unknown>>;
    expect(stored.conflictData).toEqual({ ...first, [EARLIER_CONFLICTS_KEY]: [second] });
    expect((await records.conflicts()).map((r) => r.record.id)).toEqual([data.id]);

    // Each choice is between the record and the side shown, until none is left.
    await records.resolveConflict<'Allergy'>(data.id, 'other', { expectedRv: stored.rv });
    const next = (await records.get<'Allergy'>(data.id))!;
    expect(next.record.reaction).toBe(first!['reaction']);
    expect(next).toMatchObject({ conflict: true, conflictData: second });
    await records.resolveConflict<'Allergy'>(data.id, 'other', { expectedRv: next.rv });
    const after = (await records.get<'Allergy'>(data.id))!;
    expect(after.record.reaction).toBe(second!['reaction']);
    expect(after).toMatchObject({ conflict: false, conflictData: null });
  });
});

describe('records: kind names outside the model', () => {
  it('are refused with NOT_STORABLE by every entry point taking a kind', async () => {
    const { records, writes } = await setup();
    const kind = 'Allergie' as RecordKind;
    const existing = await records.add('Allergy', input('Allergy'));
    const refusals = [
      await recordRefusal(records.add(kind, input('Allergy'))),
      await recordRefusal(records.update(kind, existing.id, {})),
      await recordRefusal(records.query(kind)),
      await recordRefusal(Promise.resolve().then(() => records.observe(kind))),
    ];
    for (const e of refusals) {
      expect(e.code).toBe('NOT_STORABLE');
      expect(e.message).toContain('Allergie');
    }
    expect(writes.map((w) => w.action)).toEqual(['create']);
  });
});

describe('records: AuditEntry belongs to the audit log, not to this API', () => {
  it('is refused with NOT_STORABLE by every entry point taking a kind, and nothing is written', async () => {
    const { db, records, writes } = await setup();
    const existing = await records.add('Allergy', input('Allergy'));
    const refusals = [
      await recordRefusal(records.add('AuditEntry', input('AuditEntry', { actorId: EXAMPLE_PATIENT_ID }))),
      await recordRefusal(records.update('AuditEntry', existing.id, {})),
      await recordRefusal(records.query('AuditEntry')),
      await recordRefusal(Promise.resolve().then(() => records.observe('AuditEntry'))),
    ];
    expect(refusals.map((e) => e.code)).toEqual([
      'NOT_STORABLE',
      'NOT_STORABLE',
      'NOT_STORABLE',
      'NOT_STORABLE',
    ]);
    expect(writes.map((w) => w.action)).toEqual(['create']);
    expect((await db.records.find().exec()).map((d) => d.kind)).toEqual(['Allergy']);
  });

  it("one an older build's add left in the store is not shown, changed or deleted", async () => {
    const { db, records, writes } = await setup();
    const data = exampleRecord('AuditEntry', { patientId: EXAMPLE_PATIENT_ID }) as unknown as Record<
      string,
      unknown
    >;
    const id = String(data['id']);
    await db.records.insert({
      id,
      stream: `${EXAMPLE_PATIENT_ID}/audit`,
      kind: 'AuditEntry',
      patientId: EXAMPLE_PATIENT_ID,
      updatedAt: String(data['updatedAt']),
      rv: 1,
      epoch: 0,
      author: DEVICE,
      by: EXAMPLE_PATIENT_ID,
      conflict: true,
      data,
      conflictData: { ...data, summary: 'other side' },
    });
    expect({
      get: await records.get(id),
      conflicts: await records.conflicts(),
      remove: (await recordRefusal(records.remove(id))).code,
      resolve: (await recordRefusal(records.resolveConflict(id, 'other', { expectedRv: 1 }))).code,
    }).toEqual({ get: null, conflicts: [], remove: 'NOT_STORABLE', resolve: 'NOT_STORABLE' });
    expect(writes).toEqual([]);
  });
});

describe('records: once the account is locked', () => {
  const locked = () => {
    const state = { locked: false, checks: 0, lockAtCheck: Infinity };
    const assertUnlocked = (): void => {
      state.checks++;
      if (state.checks >= state.lockAtCheck) state.locked = true;
      if (state.locked) throw Object.assign(new Error('the account is locked'), { code: 'LOCKED' });
    };
    return { state, assertUnlocked };
  };
  const codeOf = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'done',
      (e: unknown) => String((e as { code?: string }).code),
    );

  it('refuses every read and write with LOCKED, writing nothing', async () => {
    const lock = locked();
    const { db, records, writes } = await setup({ assertUnlocked: lock.assertUnlocked });
    const existing = await records.add('Allergy', input('Allergy'));
    lock.state.locked = true;
    const outcomes = {
      add: await codeOf(records.add('Allergy', input('Allergy'))),
      update: await codeOf(records.update('Allergy', existing.id, { substance: 'Pollen' })),
      remove: await codeOf(records.remove(existing.id)),
      resolve: await codeOf(records.resolveConflict(existing.id, 'keep', { expectedRv: 1 })),
      get: await codeOf(records.get(existing.id)),
      query: await codeOf(records.query('Allergy')),
      observe: await codeOf(Promise.resolve().then(() => records.observe('Allergy'))),
      conflicts: await codeOf(records.conflicts()),
    };
    expect(new Set(Object.values(outcomes))).toEqual(new Set(['LOCKED']));
    expect(writes.map((w) => w.action)).toEqual(['create']);
    expect((await db.records.findOne(existing.id).exec())?.toJSON().rv).toBe(1);
  });

  it('a lock that comes while a write is under way stops it before it is stored', async () => {
    const lock = locked();
    const { db, records, writes } = await setup({ assertUnlocked: lock.assertUnlocked });
    const existing = await records.add('Allergy', input('Allergy'));
    // Locked after the entry check of each call: the check at the moment of writing refuses.
    lock.state.lockAtCheck = lock.state.checks + 2;
    expect(await codeOf(records.add('Allergy', input('Allergy')))).toBe('LOCKED');
    lock.state.locked = false;
    lock.state.lockAtCheck = lock.state.checks + 2;
    expect(await codeOf(records.update('Allergy', existing.id, { substance: 'Pollen' }))).toBe('LOCKED');
    lock.state.locked = false;
    lock.state.lockAtCheck = lock.state.checks + 2;
    expect(await codeOf(records.remove(existing.id))).toBe('LOCKED');
    expect(writes.map((w) => w.action)).toEqual(['create']);
    expect(await db.records.count().exec()).toBe(1);
    expect((await db.records.findOne(existing.id).exec())?.toJSON().rv).toBe(1);
  });
});

describe("records: the creation time is the store's", () => {
  it('update and a merged resolveConflict keep the stored createdAt', async () => {
    const { records } = await setup();
    const added = await records.add('Allergy', input('Allergy'));
    // Not allowed by the types (Managed), but data from a UI or an import may carry it.
    const updated = await records.update('Allergy', added.id, {
      substance: 'Pollen',
      createdAt: '2000-01-01T00:00:00.000Z',
    } as never);
    const merged = await records.resolveConflict<'Allergy'>(
      added.id,
      { substance: 'Dust', createdAt: '1999-01-01T00:00:00.000Z' },
      { expectedRv: (await records.get(added.id))!.rv },
    );
    expect({
      updated: [updated.substance, updated.createdAt],
      merged: [merged?.substance, merged?.createdAt],
    }).toEqual({
      updated: ['Pollen', added.createdAt],
      merged: ['Dust', added.createdAt],
    });
    expect((await records.get<'Allergy'>(added.id))?.record.createdAt).toBe(added.createdAt);
  });
});

// Text cut in the middle of an emoji (a lone UTF-16 surrogate) has no UTF-8 form, so sealing it would
// fail deep in the store; the records layer must refuse it first, as a validation error naming the field.
describe('records with Unicode text', () => {
  it('refuses text cut mid-emoji as VALIDATION_FAILED naming the field, and stores nothing', async () => {
    const { db, records } = await setup();
    const error = await recordRefusal(
      records.add('Allergy', input('Allergy', { substance: 'Peanut 🥜'.slice(0, 8) })),
    );
    expect(error).toBeInstanceOf(RecordError);
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(error.detail?.issues.map((issue) => issue.field)).toEqual(['substance']);
    expect(await db.records.count().exec()).toBe(0);
  });

  it('refuses the same cut in an update', async () => {
    const { records } = await setup();
    const stored = await records.add('Allergy', input('Allergy', { substance: 'Peanut 🥜' }));
    const error = await recordRefusal(
      records.update('Allergy', stored.id, { reaction: `Hives ${'🤧'.slice(0, 1)}` }),
    );
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await records.get<'Allergy'>(stored.id))?.record.substance).toBe('Peanut 🥜');
  });

  it('stores 101 emoji in a 200-character field: characters are code points', async () => {
    const { records } = await setup();
    const stored = await records.add('Allergy', input('Allergy', { substance: '💊'.repeat(101) }));
    expect((await records.get<'Allergy'>(stored.id))?.record.substance).toBe('💊'.repeat(101));
  });
});

describe('records.writeAll: one action, several records, all or none', () => {
  it('notes its writes together: each is noted before the first note resolves, so they share one save', async () => {
    const waiting: Array<() => void> = [];
    const noted: string[] = [];
    const { records } = await setupRecords({
      onWrite: (id) => {
        noted.push(id);
        return new Promise<void>((resolve) => waiting.push(resolve));
      },
    });
    const adds = [1, 2, 3].map(
      () => ({ op: 'add', kind: 'Allergy', input: recordInput('Allergy') }) as const,
    );
    const written = records.writeAll(adds);
    await vi.waitFor(() => expect(waiting).toHaveLength(3), { timeout: 2_000 });
    for (const resolve of waiting) resolve();
    expect((await written).map((r) => r.id)).toEqual(noted);
  });

  it('checks an update without writing it: the record is stored once, by the action itself', async () => {
    const { records, db } = await setupRecords();
    const held = await records.add('Allergy', recordInput('Allergy'));
    const height = async (): Promise<number> =>
      Number((await db.records.storageInstance.findDocumentsById([held.id], false))[0]?._rev.split('-')[0]);
    const before = await height();
    await records.writeAll([
      { op: 'update', kind: 'Allergy', id: held.id, patch: { notes: 'checked, then written' } },
      { op: 'add', kind: 'Allergy', input: recordInput('Allergy') },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await height()).toBe(before + 1);
  });

  it('refuses an add under a held id and writes none; one under a deleted id continues its revisions', async () => {
    const { records, writes } = await setupRecords();
    const held = await records.add('Allergy', recordInput('Allergy'));
    const gone = await records.add('Allergy', recordInput('Allergy'));
    await records.remove(gone.id);
    const before = writes.length;
    const fresh = { op: 'add', kind: 'Allergy', input: recordInput('Allergy') } as const;
    await expect(
      records.writeAll([
        fresh,
        { op: 'add', kind: 'Allergy', input: { ...recordInput('Allergy'), id: held.id } },
      ]),
    ).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(writes.length).toBe(before);
    const [again] = await records.writeAll([
      { op: 'add', kind: 'Allergy', input: { ...recordInput('Allergy'), id: gone.id } },
    ]);
    expect(again?.id).toBe(gone.id);
    expect((await records.get(gone.id))?.rv).toBe(3);
  });

  it("writes a note's header and text together; a refused text leaves the header as it was", async () => {
    const { records, writes } = await setupRecords();
    const { authorId: _a, ...noteInput } = recordInput('MedicalNote');
    const { editorId: _e, amendmentReason: _r, ...textInput } = recordInput('NoteVersion');
    const noteId = newId();
    const [note, text] = await records.writeAll([
      {
        op: 'add',
        kind: 'MedicalNote',
        input: { ...noteInput, id: noteId, status: 'draft', currentVersionNumber: 1 },
      },
      { op: 'add', kind: 'NoteVersion', input: { ...textInput, noteId, versionNumber: 1, kind: 'original' } },
    ]);
    expect([note?.id, (text as { noteId?: string } | undefined)?.noteId]).toEqual([noteId, noteId]);
    const before = writes.length;
    // The text is refused (a version number its note already holds): the new title is not written either.
    await expect(
      records.writeAll([
        { op: 'update', kind: 'MedicalNote', id: noteId, patch: { title: 'Renamed' } },
        {
          op: 'add',
          kind: 'NoteVersion',
          input: { ...textInput, noteId, versionNumber: 1, kind: 'original' },
        },
      ]),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(writes.length).toBe(before);
    expect((await records.get<'MedicalNote'>(noteId))?.record.title).toBe(
      note && 'title' in note ? note.title : '',
    );
  });
});
