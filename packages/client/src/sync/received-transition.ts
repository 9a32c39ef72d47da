/**
 * Whether a version received from the server may follow the state this device holds as the server's: the
 * model's transition rules (`transitionIssues`), as for own writes, applied to what others wrote. The codec
 * proves who wrote a version, not that it may follow (a grantee can sign one rewriting history).
 *
 * Invariants:
 * - `held`: the last state received from (or acknowledged by) the server, never an unsent local edit.
 * - A record never held (initial sync) is not judged.
 * - Who may change the record (`authorshipIssues`) is judged first, against `by`, after any held state.
 * - The next write (`rv` one higher): every rule; author rules against the verified writer, signed only.
 * - Further on (versions skipped): only the `final` rules as they compose (`laterStateIssues`).
 * - A merge is taken when its record or a side is, or may follow, the held record or one of its sides.
 * - After a held conflict, a version is taken when it is, or may follow, one of its sides.
 * - Content is compared without `updatedAt` and without a side's `_conflictFrom`.
 * - A deletion is refused where the removal rules (removal-rules.ts) held for its writer; a LabResult may go.
 * - Removing a signed or amended MedicalNote: refused in the next write only; a NoteVersion: by its context.
 * - Another kind is judged as a deletion; a version after a held deletion, by the composed `final` rules.
 * - States this build's model does not accept are not judged here (the codec judges content).
 * Failure modes: never throws; answers why the version may not follow (cut at MAX_REFUSAL), or null.
 * Known limits: a forged merge keeping the held content as a side is taken (it stays visible as a conflict);
 * a device that missed a merge and its settlement may refuse that settlement; a NoteVersion's context is read
 * before its batch is stored (a signature in the same batch is not seen).
 */
import {
  authorshipIssues,
  isRecordKind,
  laterStateIssues,
  sameJson,
  transitionIssues,
  validateRecord,
  type RecordKind,
  type TransitionIssue,
} from '@hale/model';
import { isDeletionSide, sidesOf } from '../records/conflicts';
import { mustSign } from './record-codec';
import type { PlainRecord } from '../records/plain-record';
import {
  noteVersionRules,
  recreationIssues,
  removalRules,
  type NoteVersionContext,
} from '../records/removal-rules';

const MAX_REFUSAL = 500;

type Content = Readonly<Record<string, unknown>>;

/** Content as sides are compared: without the write's stamp and a side's writer. */
const comparable = (data: Content): Content => {
  const { updatedAt: _at, _conflictFrom: _from, ...content } = data;
  return content;
};
const sameContent = (a: Content, b: Content): boolean => sameJson(comparable(a), comparable(b));

/** The sides of a conflict state that are versions (not deletions), as records (without their writer). */
const versionSides = (r: Pick<PlainRecord, 'conflictData'>): Content[] =>
  sidesOf(r.conflictData)
    .filter((side) => !isDeletionSide(side))
    .map(({ _conflictFrom: _from, ...side }) => side);

const describe = (kind: string, id: string, issues: readonly TransitionIssue[]): string =>
  `${kind} ${id}: ${issues.map((i) => `${i.field} ${i.reason}`).join('; ')}`.slice(0, MAX_REFUSAL);

/**
 * Why a deletion received may not follow `held`: the records API's `remove` rules, against the held
 * record or, for a held conflict, against every side (a settlement may have taken any of them).
 */
const deletionRefusal = (
  held: PlainRecord,
  received: PlainRecord,
  context: NoteVersionContext | undefined,
): string | null => {
  if (held.conflict && sidesOf(held.conflictData).some(isDeletionSide)) return null;
  const states = held.conflict ? [held.data, ...versionSides(held)] : [held.data];
  const oneWrite = received.rv === held.rv + 1;
  const rulesOf = (data: Content) => {
    if (held.kind !== 'NoteVersion') return removalRules(held.kind, data);
    return context ? noteVersionRules(held.id, data, context) : [];
  };
  // The records API's refusals that held for the writer too (removal-rules.ts `holds`).
  const why = states.map((data) =>
    rulesOf(data).find((r) => r.holds === 'for-good' || (r.holds === 'this-state' && oneWrite)),
  );
  const [refusal] = why.every((w) => w !== undefined) ? why : [];
  return refusal
    ? `${held.kind} ${held.id}: deleted, but ${refusal.field} ${refusal.reason}`.slice(0, MAX_REFUSAL)
    : null;
};

/**
 * Why the account that wrote `received` may not change `held` at all (the model's `authorshipIssues`):
 * another's note, result, visit or plan, a signature or message of others. Over versions not received (a
 * gap in `rv`) a plan is judged by its writer alone: its author may have amended it meanwhile.
 */
const authorshipRefusal = (held: PlainRecord, received: PlainRecord): string | null => {
  if (!isRecordKind(held.kind) || held.kind !== received.kind) return null;
  const oneWrite = received.rv === held.rv + 1;
  const next = received._deleted ? null : received.data;
  const issues =
    held.kind === 'TreatmentPlan' && !oneWrite && next !== null
      ? authorshipIssues(
          held.kind,
          held,
          { ...held.data, acknowledgement: next['acknowledgement'] },
          received.by,
          held.patientId,
        )
      : authorshipIssues(held.kind, held, next, received.by, held.patientId);
  const [issue] = issues;
  return issue === undefined
    ? null
    : `${held.kind} ${held.id}: ${received._deleted ? 'removed' : 'changed'} by ${received.by}, but ${issue.reason}`.slice(
        0,
        MAX_REFUSAL,
      );
};

/**
 * Why `received` may not follow `held` (the server's state this device holds of the same record), or
 * null when it may. `context`: for the deletion of a held NoteVersion, its note and signatures as held.
 */
export const receivedTransitionRefusal = (
  held: PlainRecord,
  received: PlainRecord,
  context?: NoteVersionContext,
): string | null => {
  if (!held._deleted) {
    const notTheirs = authorshipRefusal(held, received);
    if (notTheirs !== null) return notTheirs;
  }
  if (held._deleted) {
    if (received._deleted || held.kind !== received.kind || !isRecordKind(received.kind)) return null;
    // A record re-created under its id continues the tombstone's history, as the records API's `add` does.
    const issues = recreationIssues(received.kind, held.data, received.data);
    return issues.length === 0 ? null : describe(received.kind, received.id, issues);
  }
  if (received._deleted) return deletionRefusal(held, received, context);
  // Another kind under the id replaces the held record: judged as its deletion (a signed note is not
  // removed by a NoteVersion taking its id either; the kinds of a stream share its key).
  if (held.kind !== received.kind) {
    const replaced = deletionRefusal(held, { ...received, _deleted: true }, context);
    return replaced === null ? null : `replaced by a ${received.kind}: ${replaced}`.slice(0, MAX_REFUSAL);
  }
  const kind = received.kind;
  if (!isRecordKind(kind)) return null;
  const before = validateRecord(kind, held.data);
  const after = validateRecord(kind, received.data);
  if (!before.ok || !after.ok) return null;
  const later = (data: Content): TransitionIssue[] | null => {
    const state = validateRecord(kind, data);
    return state.ok ? laterStateIssues<RecordKind>(kind, before.value, state.value) : null;
  };
  // A held conflict: any of its sides may be the one a settlement took (and edits built on), on a device
  // that did not receive that settlement.
  const heldStates = held.conflict ? [held.data, ...versionSides(held)] : [held.data];
  const follows = (from: Content, to: Content): boolean => {
    if (sameContent(from, to)) return true;
    const a = validateRecord(kind, from);
    const b = validateRecord(kind, to);
    return a.ok && b.ok && laterStateIssues<RecordKind>(kind, a.value, b.value).length === 0;
  };
  if (received.conflict) {
    const candidates = [received.data, ...versionSides(received)];
    if (candidates.some((c) => heldStates.some((h) => follows(h, c)))) return null;
    return describe(kind, received.id, later(received.data) ?? []);
  }
  if (held.conflict && heldStates.some((h) => follows(h, received.data))) return null;
  // A note's text that is final (signed, or its note past it or signed at it) does not change either.
  if (kind === 'NoteVersion' && context !== undefined && !sameContent(held.data, received.data)) {
    const [rule] = noteVersionRules(held.id, held.data, context).filter(
      (r) => r.holds === 'for-good' || (r.holds === 'this-state' && received.rv === held.rv + 1),
    );
    if (rule !== undefined)
      return `NoteVersion ${held.id}: changed, but ${rule.field} ${rule.reason}`.slice(0, MAX_REFUSAL);
  }
  const issues: TransitionIssue[] =
    received.rv === held.rv + 1
      ? transitionIssues<RecordKind>(
          kind,
          before.value,
          after.value,
          mustSign(received.stream, received.by)
            ? { accountId: received.by, deviceId: received.author }
            : undefined,
        )
      : laterStateIssues<RecordKind>(kind, before.value, after.value);
  return issues.length === 0 ? null : describe(kind, received.id, issues);
};
