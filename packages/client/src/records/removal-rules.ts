/**
 * Which records may no longer go (nor, a NoteVersion, change): one copy of the rules for the records API's
 * own writes (RECORD_FINAL, records.ts) and for deletions received from others (received-transition.ts).
 * A signed NoteSignature is final; a signed or amended MedicalNote is not removed; a NoteVersion is a
 * draft only while no signed NoteSignature names it and it is the current version of its note, held here
 * and a draft. Rules come in the order the API refuses them; `holds` is what one rests on, for judging a
 * writer who may have seen other states: `for-good` no later write undoes it (a signature signed, a
 * note's current version number never decreasing, a signed note a draft again only at a new version),
 * `this-state` a later version of the record may leave it, `as-held` the note and signatures held here
 * may be older than those the writer saw. The rules never throw; the reader's errors are the store's.
 * Also here: a note's version number names one NoteVersion (`versionNumberHolder`; the records API's
 * `add` applies it, received versions are not yet judged by it); and what may come back under a deleted
 * record's id (`recreationIssues`: the records API's `add`, and a re-creation received after a deletion).
 */
import { laterStateIssues, validateRecord, type RecordKind, type TransitionIssue } from '@hale/model';
import type { DeviceRecord, RecordsCollection } from '../store/device-db';

type Content = Readonly<Record<string, unknown>>;

/** What decides whether a NoteVersion is a draft: its note (null: not held) and the patient's signatures. */
export interface NoteVersionContext {
  readonly note: Content | null;
  readonly signatures: readonly Content[];
}

/** A rule a write breaks: what RECORD_FINAL names (`field`, `reason`) and what it rests on (`holds`). */
export interface FinalRule {
  readonly field: string;
  readonly reason: string;
  readonly holds: 'for-good' | 'this-state' | 'as-held';
}

const SIGNED_NOTE: ReadonlySet<unknown> = new Set(['signed', 'amended']);

/**
 * The rules a record re-created under a deleted id breaks: it continues the deleted record's history, so it
 * may be what a later write could make of the deleted one's last state, no more (the model's `final` rules
 * as they compose: a signed note removed as a draft at version 2 does not come back at version 1, making
 * its signed version editable again). None when either state is not a valid record of `kind` (a purge's
 * emptied tombstone, a state this build's model does not accept).
 */
export const recreationIssues = (
  kind: RecordKind,
  deleted: unknown,
  recreated: unknown,
): TransitionIssue[] => {
  const before = validateRecord(kind, deleted);
  const after = validateRecord(kind, recreated);
  return before.ok && after.ok ? laterStateIssues<RecordKind>(kind, before.value, after.value) : [];
};

/** The rules removing a record in state `data` breaks by that state (a NoteVersion: `noteVersionRules`). */
export const removalRules = (kind: string, data: Content): FinalRule[] => {
  const status = data['status'];
  if (kind === 'NoteSignature' && status === 'signed') {
    return [{ field: '(record)', reason: 'is a signed NoteSignature: it is final', holds: 'for-good' }];
  }
  // A signed note becomes a draft again with a new current version (transitions.ts), which may go.
  if (kind !== 'MedicalNote' || !SIGNED_NOTE.has(status)) return [];
  return [
    { field: 'status', reason: `is ${String(status)}: a signed note is not removed`, holds: 'this-state' },
  ];
};

/** The rules a change or removal of NoteVersion `id` in state `version` breaks; none: a draft. */
export const noteVersionRules = (
  id: string,
  version: Content,
  { note, signatures }: NoteVersionContext,
): FinalRule[] => {
  const rules: FinalRule[] = [];
  const broken = (field: string, lasting: boolean, reason: string) =>
    rules.push({ field, reason, holds: lasting ? 'for-good' : 'as-held' });
  if (signatures.some((s) => s['noteVersionId'] === id && s['status'] === 'signed')) {
    broken(
      '(record)',
      true,
      'is attested by a signed NoteSignature; an amendment or addendum is a new NoteVersion',
    );
  }
  const noteId = String(version['noteId']);
  if (note === null) {
    broken(
      'noteId',
      false,
      `names a MedicalNote this device does not hold (${noteId}), so the version cannot be shown to be a draft`,
    );
    return rules;
  }
  const { status, currentVersionNumber: current } = note;
  const number = version['versionNumber'];
  const numbered = typeof number === 'number' && typeof current === 'number';
  if (status !== 'draft') {
    const signedAtIt = numbered && current === number && SIGNED_NOTE.has(status);
    broken('(record)', signedAtIt, `belongs to a note that is ${String(status)}, not a draft`);
  }
  if (current !== number) {
    const past = numbered && current > number;
    broken(
      'versionNumber',
      past,
      `is not the current version of its note (${String(current)}); a change is a new NoteVersion`,
    );
  }
  return rules;
};

type HeldVersion = Pick<DeviceRecord, 'id' | 'patientId' | 'data'>;

/**
 * Reads what decides whether each of `versions` (held NoteVersions) is a draft: the notes in one read and
 * each patient's signatures in one, however many versions. A version not given may read as not held.
 */
export const readNoteVersionContexts = async (
  collection: RecordsCollection,
  versions: readonly HeldVersion[],
): Promise<(version: HeldVersion) => NoteVersionContext> => {
  const noteIds = [...new Set(versions.map((v) => v.data['noteId']).filter((id) => typeof id === 'string'))];
  const signaturesOf = async (patientId: string) => {
    const docs = await collection.find({ selector: { patientId, kind: 'NoteSignature' } }).exec();
    return [patientId, docs.map((d) => d.toJSON().data)] as const;
  };
  const [notes, signatures] = await Promise.all([
    noteIds.length > 0 ? collection.findByIds(noteIds).exec() : undefined,
    Promise.all([...new Set(versions.map((v) => v.patientId))].map(signaturesOf)).then((e) => new Map(e)),
  ]);
  return ({ id, patientId, data }) => {
    const noteId = data['noteId'];
    const note = typeof noteId === 'string' ? notes?.get(noteId) : undefined;
    return {
      note: note?.kind === 'MedicalNote' && note.patientId === patientId ? note.toJSON().data : null,
      signatures: (signatures.get(patientId) ?? []).filter((s) => s['noteVersionId'] === id),
    };
  };
};

/** A NoteVersion as `versionNumberHolder` compares it: its id and its number (unknown: as stored). */
export interface NumberedVersion {
  readonly id: string;
  readonly versionNumber: unknown;
}

/**
 * The id of another of `siblings` (NoteVersions of the same note and patient) that has `version`'s
 * number, if any. A note's version number names one NoteVersion: a reader listing the note's versions by
 * number would otherwise see two texts under one, the second perhaps under a number that was signed. A
 * version with the same id is the same record, not another.
 */
export const versionNumberHolder = (
  version: { readonly id: string; readonly versionNumber: unknown },
  siblings: readonly NumberedVersion[],
): string | undefined =>
  siblings.find((s) => s.id !== version.id && s.versionNumber === version.versionNumber)?.id;

/**
 * The NoteVersions of note `noteId` held for `patientId` (ids and numbers), in one read by patient and
 * kind, as the signatures above are read: content is not a query field.
 */
export const readNoteVersionNumbers = async (
  collection: RecordsCollection,
  patientId: string,
  noteId: unknown,
): Promise<NumberedVersion[]> => {
  if (typeof noteId !== 'string') return [];
  const docs = await collection.find({ selector: { patientId, kind: 'NoteVersion' } }).exec();
  return docs.flatMap((doc) => {
    const { data } = doc.toJSON();
    return data['noteId'] === noteId ? [{ id: doc.id, versionNumber: data['versionNumber'] }] : [];
  });
};
