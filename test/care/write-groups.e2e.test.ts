// One action of a person that writes several records (a note's header and its text, `records.writeAll`)
// reaches the server as one group it stores all or none, through the declared HaleSession on a real server.
// The text's id is a record another clinician created while this device was offline (it could not know):
// the server refuses that text NOT_AUTHOR, so the header is refused with it (GROUP_REFUSED), both are kept
// unsent on the writer's device, and neither reaches the server or another device. A group written offline
// still goes out as one after the device restarts. The server's judgement
// of raw group pushes: sync-server/src/core/push-group.test.ts.
import { describe, expect, it } from 'vitest';
import { newId } from '@hale/model';
import { openHaleForTests } from '@hale/client/testing';
import type { startServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { diskStorage } from '../support/disk-storage';
import { input } from '../support/records';
import { PASSPHRASE, useHaleSessions, when } from '../client-api/hale-devices';
import { careSession, share, until } from './care-devices';

/** The `group` of every row the server's store was asked to write, per batch. */
const batches: Array<Array<string | undefined>> = [];
/** Every row the server's store was asked to write, by record id, with its group. */
const written: Array<{ id: string; group: string | undefined }> = [];
const watched: NonNullable<Parameters<typeof startServer>[0]>['wrapStore'] = (store) => ({
  ...store,
  docs: {
    ...store.docs,
    writeDocs: (rows, ...rest) => {
      batches.push(rows.map((r) => r.group));
      written.push(...rows.map((r) => ({ id: r.doc.id, group: r.group })));
      return store.docs.writeDocs(rows, ...rest);
    },
  },
});

describe("a note's header and its text: one action, stored all or none", () => {
  const server = useServer({ realClock: true, wrapStore: watched });
  const sessions = useHaleSessions();

  it('sent as one group; a text the server refuses refuses its header, and neither reaches another device', async () => {
    const t = server.t;
    const patient = await careSession(t, sessions, 'patient');
    const author = await careSession(t, sessions, 'provider');
    const other = await careSession(t, sessions, 'provider');
    await share(patient, author, ['note']);
    await share(patient, other, ['note']);
    const at = { patientId: patient.account.accountId };
    const stream = `${patient.account.accountId}/note`;

    // A new note: header and text in one local write, pushed as one group.
    batches.length = 0;
    const noteId = newId();
    const [note, first] = await author.hale.records.writeAll([
      {
        op: 'add',
        kind: 'MedicalNote',
        input: {
          ...input('MedicalNote', { status: 'draft', currentVersionNumber: 1, title: 'Knee review' }),
          id: noteId,
        },
        options: at,
      },
      {
        op: 'add',
        kind: 'NoteVersion',
        input: input('NoteVersion', { noteId, versionNumber: 1, kind: 'original', assessment: 'Sprain.' }),
        options: at,
      },
    ] as never);
    await author.hale.sync.awaitInSync();
    const grouped = batches.find((b) => b.length >= 2 && b[0] !== undefined);
    expect(grouped?.slice(0, 2), 'both rows in one batch under one group').toEqual([
      grouped![0],
      grouped![0],
    ]);
    await when(patient.hale.records.one(first!.id), (r) => r !== null, 'the patient holds the text');

    // Offline, the author writes version 2 under an id another clinician's device meanwhile used.
    author.network.down();
    const taken = await other.hale.records.add(
      'NoteVersion',
      input('NoteVersion', { noteId: note!.id, versionNumber: 7, kind: 'original', assessment: "Other's." }),
      at,
    );
    await other.hale.sync.awaitInSync();
    const headerRev = (await t.store.docs.getDoc(stream, note!.id))!.rev;
    await author.hale.records.writeAll([
      {
        op: 'update',
        kind: 'MedicalNote',
        id: note!.id,
        patch: { title: 'Knee review, revised', currentVersionNumber: 2 },
      },
      {
        op: 'add',
        kind: 'NoteVersion',
        input: {
          ...input('NoteVersion', {
            noteId: note!.id,
            versionNumber: 2,
            kind: 'original',
            assessment: 'Torn ligament.',
          }),
          id: taken.id,
        },
        options: at,
      },
    ] as never);
    author.network.up();

    await until(author.hale.sync.unsent.get, (u) => u.length === 2, 'the author keeps both unsent');
    const codes = Object.fromEntries(author.hale.sync.unsent.get().map((u) => [u.kind, u.code]));
    expect(codes).toEqual({ NoteVersion: 'NOT_AUTHOR', MedicalNote: 'GROUP_REFUSED' });
    // Nothing of it on the server, nor on the patient's device once it holds what the server holds.
    expect((await t.store.docs.getDoc(stream, note!.id))!.rev).toBe(headerRev);
    for (const reader of [patient, other]) {
      await reader.hale.sync.awaitInSync();
      const shownNote = await reader.hale.records.get<'MedicalNote'>(note!.id);
      const shownText = await reader.hale.records.get<'NoteVersion'>(taken.id);
      expect([shownNote?.rv, shownNote?.record.title]).toEqual([1, 'Knee review']);
      expect(shownText?.record.assessment).toBe("Other's.");
    }
  });

  it('written offline, the group still goes out as one after the device restarts', async () => {
    const t = server.t;
    // A store kept across sessions of one database name, as the browser's is across app restarts.
    const { storage } = diskStorage();
    const dbName = `write-group-restart-${Date.now()}`;
    const knobs = { session: { dbName } };
    const patient = await careSession(t, sessions, 'patient', {
      platform: { storage },
      knobs: { session: { dbName, offline: true } },
      online: false,
    });
    const [allergy, condition] = await patient.hale.records.writeAll([
      { op: 'add', kind: 'Allergy', input: input('Allergy', { substance: 'Penicillin' }) },
      { op: 'add', kind: 'Condition', input: input('Condition', { name: 'Asthma' }) },
    ] as never);
    await patient.hale.close(); // the app quits before it ever went online

    written.length = 0;
    const after = await (
      await openHaleForTests({ server: t.url, platform: patient.platform }, knobs)
    ).unlock({
      passphrase: PASSPHRASE,
    });
    sessions.push(after);
    await when(
      after.sync.state,
      (x) => x.status === 'online' && x.pendingWrites === 0,
      'the queued group pushed after the restart',
    );
    const groups = written.filter((r) => r.id === allergy!.id || r.id === condition!.id).map((r) => r.group);
    expect(groups, 'both under one group').toEqual([groups[0], groups[0]]);
    expect(groups[0]).toBeDefined();
    const ids = [allergy!.id, condition!.id];
    for (const id of ids) expect(await after.records.get(id)).not.toBeNull();
  });
});
