/*
 * Who may change which part of which record: one rule per kind (`AUTHORSHIP`, from each kind's
 * description), judged between the state a party holds and the version another writes
 * (`authorshipIssues`), by the writer's library before a write, by every reader before it shows a version,
 * and, for what it holds in clear, by the server.
 *
 * | rule | kinds | may change or remove an existing record |
 * |---|---|---|
 * | `shared` | the patient's own entries (profile, allergies, medications, …) | the patient and any account with write access |
 * | `author` | MedicalNote, NoteVersion, Encounter, LabResult | its author's account only (`ownerOf`); one the patient wrote, as `shared` |
 * | `writer` | Comment | the account that wrote it only, the patient's own too |
 * | `plan` | TreatmentPlan | its author; the patient changes only `acknowledgement`; one the patient wrote, as `shared` |
 * | `signature` | NoteSignature | who asked for it (`requestedBy`) and who signs (`signerId`); never the patient unless named |
 * | `message` | Message | its sender (content) and its recipient (delivery, see transitions.ts) |
 * | `appointment` | Appointment | the patient and the appointment's clinician (`providerId`) |
 *
 * Invariants:
 * - The author of an `author`, `writer` or `plan` record is fixed by its first version: the field naming
 *   its writer (`authorId`, `editorId`, the first provenance) or, for a kind without one, the account of
 *   the version held (which, by this rule, only the author ever wrote).
 * - A record the patient imported or typed is the patient's: never shown as a clinician's, and open, like the
 *   patient's own entries, to the accounts it gave write access (the consent check decides those); a
 *   `writer` record (a comment) excepted, its writer's alone.
 * - Creations are not judged here (the transition rules check the fields naming the writer).
 * Failure modes: none thrown; issues carry rule `author` and name the field and the account that may.
 */
import type { TransitionIssue } from './transitions';
import { sameJson } from './transitions';
import type { AuthorshipRule } from './kind-description';
import { KIND_DESCRIPTIONS } from './kind-descriptions';
import { RECORD_KIND_NAMES, kindsForStream, type RecordKind } from './registry';
import type { StreamType } from './stream-types';

export type { AuthorshipRule } from './kind-description';

/** Every kind's rule, from its description (`authorship`). */
export const AUTHORSHIP: { readonly [K in RecordKind]: AuthorshipRule } = Object.fromEntries(
  RECORD_KIND_NAMES.map((kind) => [kind, KIND_DESCRIPTIONS[kind].authorship]),
) as { readonly [K in RecordKind]: AuthorshipRule };

/**
 * What the server can judge of a stream type from what it holds in clear (the account that created each
 * record): `author`, a record is changed only by its creator, or by any account that may write the stream
 * when the patient created it; `writer`, only by its creator; `plan`, also by the patient; `open`, not
 * judged by the server.
 */
export const streamAuthorship = (type: StreamType): 'author' | 'writer' | 'plan' | 'open' => {
  const rules = kindsForStream(type).map((kind) => AUTHORSHIP[kind]);
  if (type === 'audit' || rules.length === 0) return 'open';
  if (rules.every((r) => r === 'author')) return 'author';
  if (rules.every((r) => r === 'writer')) return 'writer';
  return rules.every((r) => r === 'plan') ? 'plan' : 'open';
};

type Json = Readonly<Record<string, unknown>>;

/** A held state of a record: its content and the account that wrote it. */
export interface HeldState {
  readonly data: Json;
  readonly by: string;
}

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The account a first provenance names (the oldest kept version's, else the current one's). */
const firstProvenance = (data: Json): string | undefined => {
  const versions = Array.isArray(data['versions']) ? (data['versions'] as unknown[]) : [];
  const first = (versions[0] ?? data) as Json;
  const provenance = first['provenance'] as Json | undefined;
  return text(provenance?.['by']) ?? text((data['provenance'] as Json | undefined)?.['by']);
};

/** The account that wrote a record of an `author` or `plan` kind (see the header). */
export const ownerOf = (kind: RecordKind, held: HeldState): string => {
  const d = held.data;
  switch (kind) {
    case 'MedicalNote':
    case 'TreatmentPlan':
      return text(d['authorId']) ?? held.by;
    case 'NoteVersion':
      return text(d['editorId']) ?? held.by;
    case 'LabResult':
      return firstProvenance(d) ?? held.by;
    case 'Message':
      return text(d['senderId']) ?? held.by;
    default:
      return held.by;
  }
};

/**
 * The accounts that may change a held record of `kind`, the patient's being `patientId` (see the header);
 * `anyone`: every account that may write the stream (its consent decides).
 */
export const mayChange = (
  kind: RecordKind,
  held: HeldState,
  patientId: string,
): readonly string[] | 'anyone' => {
  const d = held.data;
  switch (AUTHORSHIP[kind]) {
    case 'shared':
      return 'anyone';
    case 'author':
    case 'plan': {
      const owner = ownerOf(kind, held);
      return owner === patientId ? 'anyone' : [owner];
    }
    case 'writer':
      return [ownerOf(kind, held)];
    case 'signature':
      return [text(d['requestedBy']), text(d['signerId'])].filter((x): x is string => x !== undefined);
    case 'message':
      return [text(d['senderId']), text(d['recipientId'])].filter((x): x is string => x !== undefined);
    case 'appointment':
      return [patientId, text(d['providerId'])].filter((x): x is string => x !== undefined);
  }
};

const issue = (field: string, reason: string): TransitionIssue => ({ field, reason, rule: 'author' });

/**
 * Why `writer` may not write `next` (null: a deletion) over `held`, a record of `kind` in the chart of
 * `patientId`; empty when it may.
 */
export const authorshipIssues = (
  kind: RecordKind,
  held: HeldState,
  next: Json | null,
  writer: string,
  patientId: string,
): TransitionIssue[] => {
  const rule = AUTHORSHIP[kind];
  const allowed = mayChange(kind, held, patientId);
  if (allowed === 'anyone') return [];
  const owner = ownerOf(kind, held);
  if (rule === 'plan' && writer !== owner) {
    if (writer !== patientId)
      return [issue('authorId', `only its author (${owner}) or the patient may change it`)];
    if (next === null) return [issue('_deleted', `only its author (${owner}) may remove it`)];
    // The patient acknowledges a plan: that field alone may differ.
    const { acknowledgement: _a, updatedAt: _u, ...rest } = next;
    const { acknowledgement: _b, updatedAt: _v, ...before } = held.data;
    return sameJson(rest, before)
      ? []
      : [
          issue(
            'acknowledgement',
            `the patient changes only the acknowledgement; its author (${owner}) the rest`,
          ),
        ];
  }
  const accounts = [...new Set(allowed)];
  if (accounts.includes(writer)) return [];
  const who = accounts.length === 1 ? `its author (${accounts[0]})` : accounts.join(' or ');
  return [
    issue(next === null ? '_deleted' : 'by', `only ${who} may ${next === null ? 'remove' : 'change'} it`),
  ];
};
