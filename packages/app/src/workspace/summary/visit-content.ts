/**
 * What a visit summary holds, from the records of one encounter (pure; visit-content.test.ts):
 *
 * | part | which records |
 * |---|---|
 * | note | the encounter's notes that are signed or amended (drafts are not given to the patient), each as it reads now (an amendment replaces, an addendum adds) |
 * | new results | lab results entered or taken during the encounter (created, or `effectiveAt`, from its start to its end, or now while it runs), not entered in error |
 * | plan | the patient's active treatment plans |
 */
import type { RecordOf, StoredRecord } from '@hale/client';
import { noteBody } from '../notes/note-actions';

type Lab = RecordOf<'LabResult'>;

const dayOf = (t: number): string => new Date(t).toISOString().slice(0, 10);

/** Whether `at` falls within [from, to]: a day alone by its day (UTC), a month or a year never. */
export const within = (at: string | undefined, from: number, to: number): boolean => {
  if (at === undefined || at.length < 10) return false;
  if (at.length === 10) return at >= dayOf(from) && at <= dayOf(to);
  const t = Date.parse(at);
  return Number.isFinite(t) && t >= from && t <= to;
};

export const resultsDuring = (
  labs: readonly StoredRecord<'LabResult'>[],
  encounter: RecordOf<'Encounter'>,
  now: number = Date.now(),
): Lab[] => {
  const from = Date.parse(encounter.startedAt);
  const to = encounter.endedAt === undefined ? now : Date.parse(encounter.endedAt);
  return labs
    .map((l) => l.record)
    .filter((l) => l.status !== 'entered-in-error')
    .filter((l) => within(l.createdAt, from, to) || within(l.effectiveAt, from, to))
    .sort((a, b) => (a.testName < b.testName ? -1 : a.testName > b.testName ? 1 : 0));
};

export interface SignedNote {
  readonly note: RecordOf<'MedicalNote'>;
  readonly body: RecordOf<'NoteVersion'>[];
}

export const signedNotesOf = (
  encounterId: string,
  notes: readonly RecordOf<'MedicalNote'>[],
  versions: readonly RecordOf<'NoteVersion'>[],
): SignedNote[] =>
  notes
    .filter((n) => n.encounterId === encounterId && (n.status === 'signed' || n.status === 'amended'))
    .map((note) => ({
      note,
      body: noteBody(
        note,
        versions.filter((v) => v.noteId === note.id),
      ),
    }));

export const activePlans = (plans: readonly RecordOf<'TreatmentPlan'>[]): RecordOf<'TreatmentPlan'>[] =>
  plans.filter((p) => p.status === 'active');
