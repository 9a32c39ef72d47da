// The authorship matrix, table-driven from the model's AUTHORSHIP: for every kind whose records only some
// accounts may change (every rule but `shared`), a clinician (the author) writes one, and every other party
// tries a change of it, all present at once on a real server: the patient, another clinician, a grantee with
// write access (another account with a write grant; caregivers, #67, are not accounts of their own yet), and
// the author's other device once the author's grant ended. Each change the model's `authorshipIssues`
// refuses is refused by the party's own library (nothing written or sent), by the server for a raw push
// that skips that check (NOT_AUTHOR where the stream's rule is one the server judges, `streamAuthorship`;
// the consent code after the grant ended), and by every reader, which keeps the author's version and lists
// the refused one: the version is stored directly into the server's store, as a server that does not check
// would serve it. A cell the rules allow (the patient moving an appointment) is counted, not tried. A kind
// added to the model without a fixture here fails the test.
// Limit: a provider's device is not told of a patient's other grants, so the author's versions after its
// grant ended are refused by the patient's devices only (docs/architecture.md, "Write consent").
import { describe, expect, it } from 'vitest';
import { AUTHORSHIP, RECORD_KINDS, authorshipIssues, streamAuthorship, type RecordKind } from '@hale/model';
import { SUPPORTED_VERSIONS, type PushDoc, type PushedFrame } from '@hale/protocol';
import type { DeviceSession } from '@hale/client/advanced';
import { addDevice, connect, makeDoc, type TestDevice } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';
import { careDevice, share, type CareDevice } from './care-devices';

type Json = Record<string, unknown>;
/** What the author's fixture of a kind needs: the patient, the author and a note of the author's. */
interface Ctx {
  readonly patientId: string;
  readonly authorId: string;
  readonly note: { noteId: string; noteVersionId: string };
  /** A new draft note of the author's (a text version is open to change while its note's current one). */
  readonly newNote: () => Promise<string>;
}
/** Per kind: the author's record (input for `records.add`) and a change of its content. */
const FIXTURES: Partial<
  Record<RecordKind, { make: (c: Ctx) => Json | Promise<Json>; patch: Json; reason?: string }>
> = {
  MedicalNote: {
    make: () => input('MedicalNote', { status: 'draft', currentVersionNumber: 1 }),
    patch: { title: 'Progress note (edited)' },
  },
  NoteVersion: {
    make: async (c) =>
      input('NoteVersion', { noteId: await c.newNote(), versionNumber: 1, kind: 'original' }),
    patch: { plan: 'Stop all medication.' },
  },
  LabResult: { make: () => input('LabResult'), patch: { performer: 'Elsewhere' }, reason: 'edited' },
  Encounter: { make: () => input('Encounter'), patch: { reason: 'edited' } },
  TreatmentPlan: {
    make: () => input('TreatmentPlan', { status: 'active' }),
    patch: { summary: 'No treatment needed' },
    reason: 'edited',
  },
  NoteSignature: {
    make: (c) => {
      const {
        signedAt: _s,
        comment: _c,
        signedVersionNumber: _n,
        ...rest
      } = input('NoteSignature', {
        noteId: c.note.noteId,
        noteVersionId: c.note.noteVersionId,
        status: 'requested',
        signerId: c.authorId,
      }) as Json;
      return rest;
    },
    patch: { signerRole: 'consultant' },
  },
  Message: {
    make: (c) => {
      const {
        attachments: _a,
        deliveredAt: _d,
        readAt: _r,
        ...rest
      } = input('Message', { recipientId: c.patientId, status: 'sent' }) as Json;
      return rest;
    },
    patch: { body: 'Changed words.' },
  },
  Appointment: {
    make: (c) => input('Appointment', { providerId: c.authorId, statusBy: c.authorId }),
    patch: { location: 'Elsewhere' },
  },
  Comment: {
    make: (c) => input('Comment', { about: c.note.noteId, aboutKind: 'MedicalNote' }),
    patch: { text: 'Changed words.' },
  },
};

const streamTypeOf = (kind: RecordKind): string | null => RECORD_KINDS[kind].streamType;
/** Every kind the matrix covers: a rule other than `shared`, written through the records API. */
const KINDS = (Object.keys(AUTHORSHIP) as RecordKind[]).filter(
  (k) => AUTHORSHIP[k] !== 'shared' && streamTypeOf(k) !== null && streamTypeOf(k) !== 'audit',
);
const STREAMS = [...new Set(KINDS.map((k) => streamTypeOf(k)!))] as Parameters<typeof share>[2][number][];

describe('the authorship matrix: every party tries every kind another wrote', () => {
  const server = useServer({ realClock: true });

  // One journey through every kind and party: 20 s of CPU, several times that on a loaded machine.
  it(
    'refused by the writer, by the server where it can judge, and by every reader',
    { timeout: 240_000 },
    async () => {
      const t = server.t;
      const missing = KINDS.filter((k) => FIXTURES[k] === undefined);
      expect(missing, 'kinds without a fixture in this matrix').toEqual([]);

      const patient = await careDevice(t, server.sessions, 'patient');
      const author = await careDevice(t, server.sessions, 'provider');
      const other = await careDevice(t, server.sessions, 'provider');
      const grantee = await careDevice(t, server.sessions, 'provider');
      for (const d of [author, other, grantee]) await share(patient, d, STREAMS);
      const authorDevice: TestDevice = await addDevice(t, author.account);
      const authorOther: DeviceSession = await openDevice(t, author.account, { device: authorDevice });
      server.sessions.push(authorOther);
      await waitOnline(authorOther);
      const P = patient.account.accountId;
      const at = { patientId: P };
      const note = await author.hale.records.add(
        'MedicalNote',
        input('MedicalNote', { status: 'draft', currentVersionNumber: 1 }),
        at,
      );
      const text = await author.hale.records.add(
        'NoteVersion',
        input('NoteVersion', { noteId: note.id, versionNumber: 1, kind: 'original' }),
        at,
      );
      const ctx: Ctx = {
        patientId: P,
        authorId: author.account.accountId,
        note: { noteId: note.id, noteVersionId: text.id },
        newNote: async () =>
          (
            await author.hale.records.add(
              'MedicalNote',
              input('MedicalNote', { status: 'draft', currentVersionNumber: 1 }),
              at,
            )
          ).id,
      };

      // One record of each kind per party that tries it (a version stored over it is the party's alone).
      type Party = { name: string; writer?: CareDevice; device: TestDevice; accountId: string };
      const parties: Party[] = [
        { name: 'patient', writer: patient, device: patient.account.device, accountId: P },
        {
          name: 'other clinician',
          writer: other,
          device: other.account.device,
          accountId: other.account.accountId,
        },
        {
          name: 'grantee with write access',
          writer: grantee,
          device: grantee.account.device,
          accountId: grantee.account.accountId,
        },
        {
          name: "author's other device, grant ended",
          device: authorDevice,
          accountId: author.account.accountId,
        },
      ];
      const records = new Map<string, string>();
      const cell = (kind: RecordKind, party: Party) => `${kind} / ${party.name}`;
      for (const kind of KINDS)
        for (const party of parties) {
          const made = await author.hale.records.add(kind, await FIXTURES[kind]!.make(ctx), at);
          records.set(cell(kind, party), made.id);
        }
      await author.hale.sync.awaitInSync();
      const readers = [patient, author, other, grantee];
      for (const r of readers)
        await eventually(
          async () => (await r.hale.records.get([...records.values()].at(-1)!)) !== null,
          `${r.account.role} holds the author's records`,
        );

      const versions = [...SUPPORTED_VERSIONS];
      const stream = (kind: RecordKind) => `${P}/${streamTypeOf(kind)}`;
      /** The party's version of the author's record `id`, signed by its device, over the stored one. */
      const forge = async (
        kind: RecordKind,
        id: string,
        party: Party,
        at = Date.now(),
      ): Promise<{ doc: PushDoc; assumedRev: string }> => {
        const held = (await patient.hale.records.get(id))!;
        const now = new Date(at).toISOString();
        const data = { ...held.record, ...FIXTURES[kind]!.patch, updatedAt: now };
        const doc = await makeDoc(
          patient.account,
          party.device,
          streamTypeOf(kind)!,
          { kind, updatedAt: now, by: party.accountId, data, conflict: false, conflictData: null },
          { id, rv: held.rv + 1 },
        );
        return { doc, assumedRev: (await t.store.docs.getDoc(stream(kind), id))!.rev };
      };
      /** Stores `doc` as a server that does not check would: into the store, served to every reader. */
      const storeUnchecked = async (
        { doc, assumedRev }: { doc: PushDoc; assumedRev: string },
        creator: string,
      ) => {
        const ct = new Uint8Array(Buffer.from(doc.ct, 'base64url'));
        const [written] = await t.store.docs.writeDocs(
          [{ doc: { ...doc, ct, size: ct.byteLength, creator }, assumedRev }],
          new Date().toISOString(),
        );
        expect(written?.status).toBe('ok');
      };

      /** `reader` shows no version of `party`'s, nor its change (a message's recipient marks its delivery). */
      const keepsTheAuthors = async (
        reader: CareDevice,
        id: string,
        kind: RecordKind,
        party: Party,
        name: string,
      ): Promise<void> => {
        const shown = await reader.hale.records.get(id);
        const who = `${name}: ${reader.account.role} ${reader.account.accountId}`;
        if (party.accountId !== author.account.accountId) expect(shown?.by, who).not.toBe(party.accountId);
        for (const [field, value] of Object.entries(FIXTURES[kind]!.patch))
          expect(shown?.record[field as never], `${who}, ${field}`).not.toEqual(value);
      };

      // The patient, another clinician and a grantee: library, server, readers.
      const tried: string[] = [];
      const allowed: string[] = [];
      const refusedBy = new Map<string, { id: string; party: Party; kind: RecordKind }>();
      for (const party of parties.slice(0, 3)) {
        const raw = await connect(t, party.device, { versions });
        for (const kind of KINDS) {
          const id = records.get(cell(kind, party))!;
          const held = (await patient.hale.records.get(id))!;
          const next = { ...held.record, ...FIXTURES[kind]!.patch };
          const issues = authorshipIssues(kind, { data: held.record, by: held.by }, next, party.accountId, P);
          if (issues.length === 0) {
            allowed.push(cell(kind, party));
            continue;
          }
          tried.push(cell(kind, party));
          const reason = FIXTURES[kind]!.reason;
          await expect(
            party.writer!.hale.records.update(
              kind,
              id,
              FIXTURES[kind]!.patch as never,
              reason ? { reason } : {},
            ),
            `${cell(kind, party)}: the library`,
          ).rejects.toMatchObject({ code: 'NOT_AUTHOR' });
          await expect(
            party.writer!.hale.records.remove(id),
            `${cell(kind, party)}: removal`,
          ).rejects.toMatchObject({
            code: 'NOT_AUTHOR',
          });
          const forged = await forge(kind, id, party);
          const [answer] = (await raw.request<PushedFrame>({ t: 'push', rid: raw.rid(), rows: [forged] }))
            .results;
          const rule = streamAuthorship(streamTypeOf(kind) as never);
          const judged = rule === 'author' || rule === 'writer' || (rule === 'plan' && party.accountId !== P);
          expect(
            answer?.status === 'error' ? answer.code : answer?.status,
            `${cell(kind, party)}: the server`,
          ).toBe(judged ? 'NOT_AUTHOR' : 'ok');
          if (judged) await storeUnchecked(forged, party.accountId);
          refusedBy.set(cell(kind, party), { id, party, kind });
        }
        await raw.close();
        expect(party.writer!.hale.sync.state.get().pendingWrites, `${party.name} sent nothing`).toBe(0);
      }
      for (const reader of readers) {
        for (const [name, { id, party, kind }] of refusedBy) {
          if (party.writer === reader) continue;
          await eventually(
            () => reader.hale.sync.quarantine.get().some((q) => q.id === id),
            `${reader.account.role} ${reader.account.accountId} refuses ${name}`,
          );
          await keepsTheAuthors(reader, id, kind, party, name);
        }
      }

      // The author's grant ends: its other device is refused by its library, the server and the patient's devices.
      const ended = parties[3]!;
      const grant = (await patient.device.consent.list()).find(
        (g) => g.grant.granteeId === author.account.accountId,
      )!;
      await patient.device.consent.revoke(grant.grant.grantId);
      const raw = await connect(t, authorDevice, { versions });
      for (const kind of KINDS) {
        const id = records.get(cell(kind, ended))!;
        tried.push(cell(kind, ended));
        await expect(
          authorOther.records.update(kind, id, FIXTURES[kind]!.patch as never),
          `${cell(kind, ended)}: the library`,
        ).rejects.toBeDefined();
        // Dated past the 5 minutes a grant's end is widened by for clocks.
        const late = await forge(kind, id, ended, Date.now() + 6 * 60_000);
        const [answer] = (await raw.request<PushedFrame>({ t: 'push', rid: raw.rid(), rows: [late] }))
          .results;
        expect(answer?.status, `${cell(kind, ended)}: the server`).toBe('error');
        await storeUnchecked(late, author.account.accountId);
      }
      await raw.close();
      for (const kind of KINDS) {
        const id = records.get(cell(kind, ended))!;
        await eventually(
          () => patient.hale.sync.quarantine.get().some((q) => q.id === id && q.reason === 'NO_WRITE_GRANT'),
          `the patient refuses ${cell(kind, ended)}`,
        );
        await keepsTheAuthors(patient, id, kind, ended, cell(kind, ended));
      }
      expect(tried.length + allowed.length).toBe(KINDS.length * parties.length);
      expect(tried.length).toBeGreaterThan(allowed.length);
    },
  );
});
