/**
 * One record with its version history, the same shape for every kind (`records.history(id)`).
 *
 * | kind | versions, newest first |
 * |---|---|
 * | HealthDocument, LabResult, TreatmentPlan | the current state, then `record.versions` (the API appends each superseded state there) |
 * | MedicalNote | its NoteVersion records this device holds, by `versionNumber`; the note's `currentVersionNumber` is current |
 * | any other | the current state only: edits overwrite, the store keeps no earlier state |
 *
 * Each version says when (`at`), by whom (`by`: an account) and why (`reason`), as far as the record
 * tells: a provenance (`at`, `by`, `reason`), a document's upload (`uploadedAt`, `uploadedBy`,
 * `changeNote`), a note version's creation and editor (`changeSummary`, else `amendmentReason`).
 * Invariant: built from opened records in memory only; nothing about history is clear at rest.
 */
import { isVersionedKind, supersededVersion, type RecordKind, type RecordOf } from '@hale/model';
import type { StoredRecord } from './record-types';

/** One version of a record in its history. */
export interface RecordVersion {
  /** 1 for the first. */
  readonly version: number;
  readonly current: boolean;
  readonly at: string | null;
  readonly by: string | null;
  readonly reason: string | null;
  /** The version's fields (for a MedicalNote: its NoteVersion record). */
  readonly content: Readonly<Record<string, unknown>>;
}

/** A record and its versions, newest first. */
export interface RecordHistory<K extends RecordKind = RecordKind> {
  readonly record: StoredRecord<K>;
  /** Newest first; at least the current state. */
  readonly versions: readonly RecordVersion[];
}

type Json = Readonly<Record<string, unknown>>;

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const provenanceOf = (entry: Json): Json =>
  typeof entry['provenance'] === 'object' && entry['provenance'] !== null
    ? (entry['provenance'] as Json)
    : {};

const versionOf = (entry: Json, current: boolean, fallback: { at: string; by: string }): RecordVersion => {
  const p = provenanceOf(entry);
  return {
    version: typeof entry['version'] === 'number' ? entry['version'] : 1,
    current,
    at: text(p['at']) ?? text(entry['uploadedAt']) ?? (current ? fallback.at : null),
    by: text(p['by']) ?? text(entry['uploadedBy']) ?? (current ? fallback.by : null),
    reason: text(p['reason']) ?? text(entry['changeNote']),
    content: entry,
  };
};

/** The history of `stored`; for a MedicalNote, `noteVersions` are the NoteVersion records held. */
export function historyOf<K extends RecordKind>(
  stored: StoredRecord<K>,
  noteVersions: readonly StoredRecord<'NoteVersion'>[] = [],
): RecordHistory<K> {
  const record = stored.record as unknown as Json;
  const fallback = { at: stored.record.updatedAt, by: stored.by };
  if (isVersionedKind(stored.kind)) {
    const earlier = Array.isArray(record['versions']) ? (record['versions'] as Json[]) : [];
    const current = supersededVersion(stored.kind, record);
    const versions = [
      versionOf(current, true, fallback),
      ...[...earlier].reverse().map((v) => versionOf(v, false, fallback)),
    ];
    return { record: stored, versions };
  }
  if (stored.kind === 'MedicalNote') {
    const note = stored.record as RecordOf<'MedicalNote'>;
    const versions = noteVersions
      .filter((v) => v.record.noteId === note.id)
      .sort((a, b) => b.record.versionNumber - a.record.versionNumber)
      .map((v): RecordVersion => ({
        version: v.record.versionNumber,
        current: v.record.versionNumber === note.currentVersionNumber,
        at: v.record.createdAt,
        by: v.record.editorId ?? v.by,
        reason: text(v.record.changeSummary) ?? text(v.record.amendmentReason),
        content: v.record,
      }));
    if (versions.length > 0) return { record: stored, versions };
  }
  return {
    record: stored,
    versions: [
      { version: 1, current: true, at: fallback.at, by: fallback.by, reason: null, content: record },
    ],
  };
}
