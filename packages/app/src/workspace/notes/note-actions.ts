/**
 * What a clinician does to a note, over the records API (data-model.md, MedicalNote, NoteVersion,
 * NoteSignature): the note holds its current version number and status; each version is its own record;
 * a signature names the exact version it signs.
 *
 * | step | writes |
 * |---|---|
 * | create | MedicalNote (draft, version 1) and NoteVersion 1 (`original`) |
 * | save draft | the current NoteVersion's SOAP text (a draft note's current version is editable) |
 * | sign | the author's NoteSignature of the current version (where the grant allows `note-signature`), then the note `signed` (version 1) or `amended` (later versions) |
 * | amend / add an addendum | NoteVersion n+1 (`amendment` with its reason and the text to correct, or `addendum` with new text only), then the note `draft` at n+1 |
 *
 * Invariants: a signed version never changes (the library refuses it: RECORD_FINAL); an amendment never
 * rewrites an earlier version, it makes the next one. Failure modes: every refusal is the records API's
 * HaleError; a revision whose version was written but whose note was not (a refusal between the two
 * writes) is taken up again by the next attempt instead of numbering another version.
 */
import type { HaleSession, RecordOf } from '@hale/client';

export const SOAP = ['subjective', 'objective', 'assessment', 'plan'] as const;
export type SoapField = (typeof SOAP)[number];
export type Soap = Partial<Record<SoapField, string>>;

type Note = RecordOf<'MedicalNote'>;
type Version = RecordOf<'NoteVersion'>;

/** The SOAP text to store: empty sections left out (or removed, for an update). */
const soapPatch = (soap: Soap, forUpdate: boolean): Record<string, string | undefined> => {
  const out: Record<string, string | undefined> = {};
  for (const f of SOAP) {
    const text = (soap[f] ?? '').trim();
    if (text !== '') out[f] = text;
    else if (forUpdate) out[f] = undefined;
  }
  return out;
};

export const soapOf = (v: Version | undefined): Soap =>
  Object.fromEntries(SOAP.map((f) => [f, v?.[f] ?? '']));

/** The sections of a note's body (noteBody) as one text each: an addendum's text after what it adds to. */
export const bodyText = (body: readonly Version[]): Soap =>
  Object.fromEntries(
    SOAP.map((f) => [
      f,
      body
        .map((v) => v[f] ?? '')
        .filter((x) => x.trim() !== '')
        .join('\n\n'),
    ]),
  );

export async function createNote(
  session: HaleSession,
  patientId: string,
  input: { title: string; noteType: Note['noteType']; encounterId?: string },
): Promise<Note> {
  const note = await session.records.add(
    'MedicalNote',
    {
      title: input.title,
      noteType: input.noteType,
      currentVersionNumber: 1,
      status: 'draft',
      ...(input.encounterId === undefined ? {} : { encounterId: input.encounterId }),
    },
    { patientId },
  );
  await session.records.add(
    'NoteVersion',
    { noteId: note.id, versionNumber: 1, kind: 'original' },
    { patientId },
  );
  return note;
}

export async function saveDraft(session: HaleSession, version: Version, soap: Soap): Promise<void> {
  await session.records.update('NoteVersion', version.id, soapPatch(soap, true));
}

/** Signs the note's current version as its author (`withSignature`: also a NoteSignature record). */
export async function signNote(
  session: HaleSession,
  note: Note,
  current: Version,
  withSignature: boolean,
): Promise<void> {
  if (withSignature) {
    await session.records.add(
      'NoteSignature',
      {
        noteId: note.id,
        noteVersionId: current.id,
        signerId: session.account.accountId,
        signerRole: 'author',
        status: 'signed',
        requestedAt: new Date().toISOString(),
      },
      { patientId: note.patientId },
    );
  }
  await session.records.update('MedicalNote', note.id, {
    status: current.versionNumber === 1 ? 'signed' : 'amended',
  });
}

/** Opens the next version of a signed note: an amendment (the text to correct, with why) or an addendum. */
export async function openRevision(
  session: HaleSession,
  note: Note,
  versions: readonly Version[],
  kind: 'amendment' | 'addendum',
  reason?: string,
): Promise<void> {
  const next = note.currentVersionNumber + 1;
  if (!versions.some((v) => v.versionNumber === next)) {
    await session.records.add(
      'NoteVersion',
      {
        noteId: note.id,
        versionNumber: next,
        kind,
        ...(kind === 'amendment' ? soapPatch(bodyText(noteBody(note, versions)), false) : {}),
        ...(kind === 'amendment' && reason !== undefined ? { amendmentReason: reason } : {}),
      },
      { patientId: note.patientId },
    );
  }
  await session.records.update('MedicalNote', note.id, { currentVersionNumber: next, status: 'draft' });
}

/**
 * The text the note says now: the latest original or amendment at or below the current version, then the
 * addenda after it, in order (an addendum adds to the text, it does not replace it).
 */
export const noteBody = (note: Note, versions: readonly Version[]): Version[] => {
  const upTo = versions
    .filter((v) => v.versionNumber <= note.currentVersionNumber)
    .sort((a, b) => a.versionNumber - b.versionNumber);
  let base = -1;
  upTo.forEach((v, i) => {
    if (v.kind !== 'addendum') base = i;
  });
  return base < 0 ? upTo : upTo.slice(base);
};
