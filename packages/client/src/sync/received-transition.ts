/**
 * Whether a version received from the server may follow the state of the record this device holds as
 * the server's: the model's transition rules (`transitionIssues`), which the records API applies to
 * this device's own writes, applied to what others wrote. The codec only proves who wrote a version, that
 * it is a valid record and, on the patient's devices, that its writer held write consent then; a grantee
 * with write consent (or, for unsigned kinds, any holder of the stream key) can still sign a version that
 * rewrites a lab result's earlier versions, edits a signed signature or names another person as author.
 *
 * Invariants:
 * - `held` is the last state this device received from (or had acknowledged by) the server: never an
 *   unsent local edit, against which a server version is a conflict, not a transition. A record this
 *   device never held (initial sync) has nothing to be compared with and is not judged here.
 * - One write after `held` (`rv` one higher): every rule, the author rules against the writer the codec
 *   verified (`by`, `author`) for signed versions only (an unsigned one's author is the stream key
 *   holder's word). Further on (`rv` higher still: versions in between were not received, or the writer
 *   skipped numbers, which the server allows) only the `final` rules as they compose
 *   (`laterStateIssues`); author rules do not compose and are not checked there.
 * - A conflict is not a transition: a merge (`conflict`) is taken when its record or a side is, or may
 *   follow (`laterStateIssues`), a held state — the held record or, when the held version is itself a
 *   conflict, any of its sides; a version after a held conflict is taken when it is, or may follow, one of
 *   those (a settlement took a side, perhaps edited since: a device offline meanwhile receives only the
 *   newest). Content is compared without `updatedAt` (every write stamps it) and without a side's
 *   `_conflictFrom`.
 * - A deletion of a held record is refused by the records API's removal rules (removal-rules.ts) where
 *   they held for its writer too: a signed NoteSignature; a signed or amended MedicalNote in the next write
 *   only (further on it may have become a draft at a new version, then been removed); a NoteVersion, by
 *   the note and signatures the caller holds (`NoteVersionContext`), where it is final for good (a signed
 *   signature names it, its note is past it or signed at it). After a held conflict, a deletion is taken
 *   when a side is one or may be removed. A LabResult, whatever its status, may be removed (as locally).
 * - A version of another kind than the held record replaces it, and is judged as its deletion. A version
 *   after a held deletion re-creates the record, and is judged against the deleted one's last state by
 *   the `final` rules as they compose (`laterStateIssues`), as the records API judges its own `add` under
 *   a deleted id. States this build's model does not accept are not judged here (the codec judges
 *   content).
 * - Who may change the record at all (the model's `authorshipIssues`) is judged first, against the writer's
 *   account (`by`), for every version after a held state.
 * Failure modes: never throws; answers why the version may not follow (cut at MAX_REFUSAL characters),
 * or null. Known limits: a forged merge keeping the held content as a side is taken (the held content
 * stays visible as a conflict until a person settles it, and a settlement taking a side is taken); a
 * device that missed a merge and its settlement may refuse a settlement that took a side not descending
 * from its held state, or a deletion settling such a merge. A NoteVersion's context is read before the
 * batch it arrives in is stored: a signature signed in that batch is not seen (the records API, too,
 * reads it just before its write).
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
