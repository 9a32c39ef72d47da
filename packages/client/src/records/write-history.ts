/**
 * History and authorship of this device's writes (the model's `transitionIssues` states the rules).
 *
 * | rule | refused as |
 * | ---- | ---------- |
 * | a versioned record's earlier versions, or a provenance for unchanged content, rewritten | RECORD_FINAL |
 * | a write without a change of content that gives a reason | VALIDATION_FAILED |
 * | a field naming who wrote/signed/sent/acknowledged names anyone else | AUTHOR_MISMATCH |
 * | a NoteVersion under a version number its note already holds | VALIDATION_FAILED (`versionNumber`) |
 * | a record sent back whole, read before a later write | RECORD_CHANGED |
 *
 * - Times of the write (`provenance.at`, `signedAt`, `acknowledgement.at`, …) are the write's; a value
 *   given is replaced. Author fields left out are filled with this account (and device).
 * - A content change of a versioned kind becomes the next version (`successorOf`), the previous state
 *   appended to `versions` with a provenance naming this account and device.
 */
import {
  type RecordKind,
  type TransitionIssue,
  type RecordOf,
  isVersionedKind,
  sameJson,
  versionContentChanged,
  supersededVersion,
} from '@hale/model';
import { type NumberedVersion, versionNumberHolder } from './removal-rules';
import type { JsonObject } from '../store/device-db';
import { RecordError } from './record-errors';
import { isJsonObject, type Stamp, type HeldVersion, MANAGED_FIELDS } from './record-types';

export const invalidField = (kind: RecordKind, field: string, reason: string): RecordError => {
  const message = `${kind} is invalid: ${field}: ${reason}`;
  return new RecordError('VALIDATION_FAILED', message, {
    code: 'VALIDATION_FAILED',
    kind,
    message,
    issues: [{ field, reason }],
  });
};

export const finalField = (kind: string, id: unknown, field: string, reason: string): RecordError =>
  new RecordError('RECORD_FINAL', `${kind} ${String(id)}: ${field} ${reason}`, undefined, field);

export const transitionRefusal = (
  kind: string,
  id: unknown,
  issues: readonly TransitionIssue[],
): RecordError => {
  const [first] = issues;
  const field = first?.field ?? '(record)';
  const detail = issues.map((issue) => `${issue.field} ${issue.reason}`).join('; ');
  return new RecordError(
    first?.rule === 'author' ? 'AUTHOR_MISMATCH' : 'RECORD_FINAL',
    `${kind} ${String(id)}: ${detail}`,
    undefined,
    field,
  );
};

/**
 * Refuses (VALIDATION_FAILED, `versionNumber`) a new NoteVersion whose number another held version of
 * its note has (removal-rules.ts `versionNumberHolder`).
 */
export const requireFreeVersionNumber = (
  version: RecordOf<'NoteVersion'>,
  siblings: readonly NumberedVersion[],
): void => {
  const taken = versionNumberHolder(version, siblings);
  if (taken === undefined) return;
  const numbers = siblings.flatMap((s) => (typeof s.versionNumber === 'number' ? [s.versionNumber] : []));
  throw invalidField(
    'NoteVersion',
    'versionNumber',
    `${version.versionNumber} is NoteVersion ${taken}'s, of note ${version.noteId}: a version of a note is ` +
      `one record, edited while a draft; a new version takes a new number (${Math.max(...numbers) + 1})`,
  );
};

/** One above the last entry of `versions`, or 1. */
const afterLast = (versions: unknown): number => {
  const last: unknown = Array.isArray(versions) ? versions.at(-1) : undefined;
  const version = isJsonObject(last) ? last['version'] : undefined;
  return typeof version === 'number' ? version + 1 : 1;
};

/**
 * The provenance of a version written now. A `by` or `deviceId` the caller gave is kept, so that one
 * naming someone else is refused by the transition rules rather than replaced; the time is the write's.
 */
const provenanceFor = (given: unknown, stamp: Stamp): unknown => {
  // Not an object: left for validation to refuse, naming the field.
  if (given !== undefined && !isJsonObject(given)) return given;
  const reason = stamp.reason ?? given?.['reason'];
  return {
    by: given?.['by'] ?? stamp.accountId,
    deviceId: given?.['deviceId'] ?? stamp.deviceId,
    at: stamp.at,
    ...(reason !== undefined ? { reason } : {}),
  };
};

/** A treatment plan acknowledgement given now: by this account unless it says otherwise (refused then). */
const acknowledgementFor = (given: unknown, stamp: Stamp): unknown =>
  isJsonObject(given) ? { ...given, by: given['by'] ?? stamp.accountId, at: stamp.at } : given;

/**
 * A NoteSignature's fields for the step `data` takes from `previousStatus` (undefined: created now): a
 * request names its requester, a signing or declining its signer, and a signing is dated now and names
 * the version number of the NoteVersion it attests, when this device holds it.
 */
const signatureStep = (
  data: JsonObject,
  previousStatus: unknown,
  stamp: Stamp,
  held: HeldVersion | undefined,
): void => {
  const status = data['status'];
  if (previousStatus === undefined && status === 'requested') data['requestedBy'] ??= stamp.accountId;
  if (status === 'signed' || status === 'declined') data['signerId'] ??= stamp.accountId;
  if (status !== 'signed' || previousStatus === 'signed') return;
  data['signedAt'] = stamp.at;
  if (held === undefined) return;
  if (held.noteId !== data['noteId']) {
    throw invalidField(
      'NoteSignature',
      'noteId',
      `must be the note of NoteVersion ${String(data['noteVersionId'])}`,
    );
  }
  data['signedVersionNumber'] ??= held.versionNumber;
  if (data['signedVersionNumber'] !== held.versionNumber) {
    throw invalidField(
      'NoteSignature',
      'signedVersionNumber',
      `must be ${String(held.versionNumber)}, the versionNumber of NoteVersion ${String(data['noteVersionId'])}`,
    );
  }
};

/** `input` as `add` stores it: the fields the API fills added where the caller left them out. */
export const filledForCreate = (
  kind: RecordKind,
  input: JsonObject,
  stamp: Stamp,
  held: HeldVersion | undefined,
): JsonObject => {
  const data: JsonObject = { ...input };
  if (isVersionedKind(kind)) {
    data['versions'] ??= [];
    // A version numbered past its history would claim versions nobody can ever be shown.
    const first = afterLast(data['versions']);
    data['version'] ??= first;
    if (data['version'] !== first) {
      throw finalField(
        kind,
        data['id'],
        'version',
        `must be ${first}: add starts the history (one above the last of versions, or 1)`,
      );
    }
    if (kind === 'HealthDocument') {
      data['uploadedBy'] ??= stamp.accountId;
      data['uploadedAt'] ??= stamp.at;
    } else {
      data['provenance'] = provenanceFor(data['provenance'], stamp);
    }
  }
  switch (kind) {
    case 'TreatmentPlan':
      data['authorId'] ??= stamp.accountId;
      if (data['acknowledgement'] !== undefined) {
        data['acknowledgement'] = acknowledgementFor(data['acknowledgement'], stamp);
      }
      break;
    case 'MedicalNote':
      data['authorId'] ??= stamp.accountId;
      break;
    case 'NoteVersion':
      data['editorId'] ??= stamp.accountId;
      break;
    case 'Message':
      data['senderId'] ??= stamp.accountId;
      break;
    case 'NoteSignature':
      signatureStep(data, undefined, stamp, held);
      break;
    default:
      break;
  }
  return data;
};

/**
 * The fields of `patch` that differ from `current` (a field given as stored is no change). Built with own
 * properties only: assigning a key `__proto__` (a patch parsed from JSON may hold one) would set the
 * prototype and drop the key unvalidated instead of having it refused by name.
 */
const changesOf = (current: JsonObject, patch: JsonObject): JsonObject =>
  Object.fromEntries(
    Object.entries(patch).filter(
      ([key, value]) => !sameJson(value, Object.hasOwn(current, key) ? current[key] : undefined),
    ),
  );

/** Whether `changes` touch a field besides those the store manages (`updatedAt` and the like). */
const editsContent = (changes: JsonObject): boolean =>
  Object.keys(changes).some((key) => !MANAGED_FIELDS.has(key));

/**
 * A patch that carries the record's `updatedAt` is a record sent back whole (a form): every field it holds
 * reads as the person's, so it must be the state stored now. Read before a later write (an edit pulled
 * from another device, or another update here), its unchanged fields would write that edit back over:
 * refused (RECORD_CHANGED) unless it changes nothing but the fields the store manages. A patch of the
 * changed fields alone builds on whatever the record holds.
 */
export const requireReadAsStored = (
  kind: string,
  id: string,
  current: JsonObject,
  patch: JsonObject,
): void => {
  const read = patch['updatedAt'];
  if (!Object.hasOwn(patch, 'updatedAt') || read === current['updatedAt']) return;
  if (!editsContent(changesOf(current, patch))) return;
  throw new RecordError(
    'RECORD_CHANGED',
    `${kind} ${id} was written since the record sent back was read (its updatedAt ${JSON.stringify(read)}, ` +
      `stored now ${JSON.stringify(current['updatedAt'])}): its other fields would write that change back over. ` +
      'Read it again and apply the change to what it holds now, or pass only the fields that change',
    undefined,
    'updatedAt',
  );
};

/**
 * The content `update` (or a merged `resolveConflict`) writes over `current`: the fields `patch`
 * changes — a field given as stored is no change, so a form may send the whole record back — and, when
 * that changes a versioned record's content, its next version.
 */
export const successorOf = (
  kind: RecordKind,
  current: JsonObject,
  patch: JsonObject,
  stamp: Stamp,
  held: HeldVersion | undefined,
): JsonObject => {
  const id = current['id'];
  const changes = changesOf(current, patch);
  const next: JsonObject = { ...current, ...changes };
  if (kind === 'NoteSignature') signatureStep(next, current['status'], stamp, held);
  // Whoever changes a version's text is its editor. The fields the store manages are no text: a form
  // sending back a version read before a later write carries an older `updatedAt`, which is not an edit.
  if (kind === 'NoteVersion' && changes['editorId'] === undefined && editsContent(changes)) {
    next['editorId'] = stamp.accountId;
  }
  if (kind === 'TreatmentPlan' && changes['acknowledgement'] !== undefined) {
    next['acknowledgement'] = acknowledgementFor(changes['acknowledgement'], stamp);
  }
  if (!isVersionedKind(kind)) return next;
  for (const field of ['version', 'versions']) {
    if (field in changes) {
      throw finalField(
        kind,
        id,
        field,
        'is kept by the records API: pass only the changes (and a reason); a change of content makes the next version and earlier versions never change',
      );
    }
  }
  const [version, versions] = [current['version'], current['versions']];
  // A stored state this build cannot read has no history to extend: the write is validated as it is.
  if (typeof version !== 'number' || !Array.isArray(versions)) return next;
  if (!versionContentChanged(kind, current, next)) {
    // What describes the current version (its provenance, its upload) stays: the transition rules refuse
    // a change to it, and a reason has no version to go with.
    if (stamp.reason !== undefined) {
      throw invalidField(
        kind,
        'reason',
        'goes with a change of content, which makes a new version; nothing changes',
      );
    }
    return next;
  }
  next['version'] = version + 1;
  const earlier: readonly unknown[] = versions;
  next['versions'] = [...earlier, supersededVersion(kind, current)];
  // An uploader or provenance naming someone else is kept, for the transition rules to refuse.
  if (kind === 'HealthDocument') {
    next['uploadedBy'] = changes['uploadedBy'] ?? stamp.accountId;
    next['uploadedAt'] = stamp.at;
    return next;
  }
  // A given provenance that is no object names no one to check: this write's takes its place.
  const given = changes['provenance'];
  next['provenance'] = provenanceFor(isJsonObject(given) ? given : undefined, stamp);
  return next;
};
