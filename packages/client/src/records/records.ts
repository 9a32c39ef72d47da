// The typed record API the app uses: every write is validated against the model first and lands in
// the local store at once (offline first); replication carries it to the server later. A write resolves
// once `onWrite` settled: the session's audit note of its change is then on disk (audit-log.ts), so a crash
// after a write resolved never drops it from the audit log. Once the session's
// account is locked, nothing is read or written here (AccountError LOCKED, from `assertUnlocked`).
// A record is also refused at write (VALIDATION_FAILED) when it is larger than MAX_RECORD_BYTES: such a
// record, or the document a concurrent edit of it makes, could never reach the server.
// `update` builds on whatever the record holds at the moment of writing (an edit pulled meanwhile is
// kept); a record sent back whole (with its `updatedAt`) read before a later write is refused
// (RECORD_CHANGED), since its unchanged fields would undo that write (`requireReadAsStored`).
// `resolveConflict` does not build on it: a person's decision is about the version they were shown, named by
// its `rv`, so it is applied only while the record still holds that version; any other state (a side
// pulled and merged since, another resolve or update first) is refused with RECORD_CHANGED and nothing
// is written. This relies on every write to a record on this device, local or merged, raising its `rv`.
//
// History and authorship of this device's writes (the model's `transitionIssues` states the rules):
// - A versioned record (HealthDocument, LabResult, TreatmentPlan) is versioned here, not by the caller: a
//   write that changes its content (a document: its file) becomes the next version, the previous state
//   appended to `versions` and a provenance (a document: upload time and uploader) naming this account
//   and device at the time of writing, with the caller's `reason`. Earlier versions never change: a
//   `version` or `versions` other than the stored ones is refused (RECORD_FINAL), and so is another
//   provenance (or upload) for content that did not change. A write without a change of content writes
//   no version and takes no reason (VALIDATION_FAILED).
// - Fields naming who wrote, edited, signed, sent or acknowledged are filled with this account (and
//   device) when left out, and refused (AUTHOR_MISMATCH, naming the field) when they name anyone else.
//   Times of the write (`provenance.at`, `signedAt`, `acknowledgement.at`, `uploadedAt` of a replaced
//   file) are the write's: a value given is replaced.
// - A signed NoteSignature, and a NoteVersion once a signed NoteSignature this device holds names it or
//   once it is not the current version of a draft MedicalNote this device holds, are final: update and
//   remove refuse them (RECORD_FINAL); so is removing a signed or amended MedicalNote (removal-rules.ts).
//   The note and its signatures are read just before the write: one pulled in that moment is not seen.
// - A NoteVersion is added only under a version number no other NoteVersion of its note held here has
//   (VALIDATION_FAILED, naming `versionNumber`), read the same way; a new version takes a new number.
// - Merged content given to `resolveConflict` is a write like `update`; taking a side ('keep', 'other')
//   writes no content of this device's and is not checked.
// - The model's write rules (`checkWriteRules`: a next dose before the dose, a signing time on an
//   unsigned signature, a past-only date in the future, …) hold for `add`, `update` and merged content
//   (VALIDATION_FAILED, each issue naming its field and `rule`); over a stored state, only rules reading a
//   field the write changes, so a record another device or an older build stored breaking one stays
//   readable and editable. A side taken as it was ('keep', 'other') is not judged. An Immunization whose
//   `administeredAt` is written is compared with the earliest birth date of the patient's Profiles this
//   device holds (their shown versions and unsettled sides), read from the local store just before the
//   write like the note's versions: none held, none compared (a grant without the profile stream).
// Received versions are checked by the sync engine (signature, model), not by these rules.
// `query` and `observe` list one patient's records: the session's account unless `patientId` is given.
// Ids, `patientId` and a conflict choice from untyped code are checked, never read as a query selector
// or as 'keep'.
// Every refusal writes nothing.
import { HaleError } from '../hale/hale-error';
import { map, takeUntil, type Observable } from 'rxjs';
import { MAX_DOC_BYTES } from '@hale/protocol';
import {
  RECORD_KINDS,
  checkWriteRules,
  isIsoDate,
  isIsoDateTime,
  isRecordKind,
  isVersionedKind,
  newId,
  sameJson,
  supersededVersion,
  transitionIssues,
  validateRecord,
  versionContentChanged,
  type RecordKind,
  type RecordOf,
  type TransitionIssue,
  type ValidationFailed,
  type ValidationIssue,
  type WriteRuleContext,
} from '@hale/model';
import { EARLIER_CONFLICTS_KEY, compareInstants, isDeletionSide, sidesOf } from '../sync/conflicts';
import { emptied, type PlainRecord } from '../sync/record-codec';
import type { NotWritableReason } from '../sync/engine';
import { RxError, type RxDocument } from 'rxdb';
import type { DeviceRecord, JsonObject, RecordsCollection } from '../store/device-db';
import {
  noteVersionRules,
  readNoteVersionContexts,
  readNoteVersionNumbers,
  recreationIssues,
  removalRules,
  versionNumberHolder,
  type NumberedVersion,
} from './removal-rules';

export type RecordErrorCode =
  | 'VALIDATION_FAILED'
  | 'NOT_FOUND'
  | 'NOT_STORABLE'
  | 'NOT_WRITABLE'
  | 'KIND_MISMATCH'
  /**
   * `add` with the id of a record this device already holds (use `update`), or of a deleted record of
   * another kind or patient (use a new id).
   */
  | 'ALREADY_EXISTS'
  /**
   * `resolveConflict` named a revision (`expectedRv`) the record no longer has, or none: the decision
   * was about another state; or `update` sent back a whole record (its `updatedAt` given, `field`)
   * read before a later write. Nothing is written; re-read the record and decide again.
   */
  | 'RECORD_CHANGED'
  /**
   * The write changes what is final (`field` names it): an earlier version of a versioned record (the
   * API keeps `version`, `versions` and the current provenance), a signed NoteSignature, a NoteVersion
   * that is signed or no longer the current version of a draft note, a signed or amended MedicalNote
   * (removal, or a draft again without a new version), a withdrawn acknowledgement. Nothing is written.
   */
  | 'RECORD_FINAL'
  /**
   * A field naming who wrote, edited, signed, sent, uploaded or acknowledged (`field`) names an account
   * or device other than this session's. Leave it out: the API fills it. Nothing is written.
   */
  | 'AUTHOR_MISMATCH';

export class RecordError extends HaleError {
  constructor(
    readonly code: RecordErrorCode,
    message: string,
    readonly detail?: ValidationFailed,
    /** The field refused, for RECORD_FINAL and AUTHOR_MISMATCH (`detail` names them for VALIDATION_FAILED). */
    override readonly field?: string,
    /** Why the stream may not be written, for NOT_WRITABLE (see NotWritableReason). */
    readonly reason?: NotWritableReason,
  ) {
    super(message);
    this.name = 'RecordError';
    // A form shows each issue at its field: the model's issues, and the first of them as `field`.
    if (detail !== undefined) {
      this.issues = detail.issues;
      this.field ??= detail.issues[0]?.field;
    }
  }
}

/** How a NOT_WRITABLE refusal says its reason: what the person can ask the patient for follows from it. */
const NOT_WRITABLE_BECAUSE: Record<NotWritableReason, string> = {
  'no-consent': 'no consent covers it',
  'read-only': 'consent to it is read-only',
  expired: 'consent to it expired',
  revoked: 'consent to it was revoked',
};

/**
 * Room in a sealed document (MAX_DOC_BYTES counts its bytes) for what it carries besides two copies of
 * the record: the seal (version, key id, nonce, MAC), the sealed binding and tag (stream, id, epoch,
 * revision), the content's own fields (kind, updatedAt, by, conflict), the `_conflictFrom` a conflict
 * adds to the other side's copy and the `_recordFrom` it adds beside it. Ids and account ids have fixed
 * lengths: 617 bytes at the most, with the longest kind and stream type and 16-digit epoch and revision
 * (records-size.test.ts seals that case).
 */
const DOC_ENVELOPE_BYTES = 1024;

/**
 * Largest record (its JSON, in UTF-8 bytes) `add`, `update` and `resolveConflict` write. Half of what
 * one document may carry: when two devices edit the record at once, the merged version keeps the other
 * side in `conflictData`, in the same document, so two copies of the record must fit one. (Sides of
 * further unsettled conflicts add more: such a version is held unsent as TOO_LARGE by the sync engine.)
 */
export const MAX_RECORD_BYTES = Math.floor((MAX_DOC_BYTES - DOC_ENVELOPE_BYTES) / 2);

/**
 * UTF-8 length of a JSON text. JSON.stringify writes no lone surrogate (it escapes them), so every
 * surrogate is half of a pair: 4 bytes for 2 units.
 */
const utf8Length = (text: string): number => {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    bytes += unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff) ? 1 : 2;
  }
  return bytes;
};

/**
 * UTF-8 bytes of `value` as JSON. The canonical JSON that is sealed has the same length: the same
 * tokens, with the keys in another order.
 */
const jsonBytes = (value: unknown): number => {
  const text = JSON.stringify(value) ?? '';
  // A UTF-16 unit is at most 3 bytes of UTF-8: a record this short needs no count.
  return text.length * 3 <= MAX_RECORD_BYTES ? text.length : utf8Length(text);
};

const formatBytes = (bytes: number): string =>
  bytes >= 1_000_000
    ? `${(bytes / 1_000_000).toFixed(1)} MB`
    : bytes >= 1000
      ? `${Math.round(bytes / 1000)} kB`
      : `${bytes} bytes`;

/** The refusal of a record over MAX_RECORD_BYTES, naming its largest field. Only runs on the failure. */
const tooLarge = (kind: RecordKind, record: Record<string, unknown>, size: number): RecordError => {
  let largest = '';
  let largestBytes = 0;
  for (const [field, value] of Object.entries(record)) {
    const bytes = utf8Length(JSON.stringify(value) ?? '');
    if (bytes > largestBytes) [largest, largestBytes] = [field, bytes];
  }
  let [got, limit] = [formatBytes(size), formatBytes(MAX_RECORD_BYTES)];
  if (got === limit) [got, limit] = [`${size} bytes`, `${MAX_RECORD_BYTES} bytes`];
  const reason = `takes ${formatBytes(largestBytes)}, the most of a record too large to sync (${got}; at most ${limit})`;
  const message =
    `this ${kind} record (${String(record['id'])}) is too large to sync (${got}; at most ${limit}); its largest field is ` +
    `${largest} (${formatBytes(largestBytes)}). Shorten it or split it into several records.`;
  return new RecordError('VALIDATION_FAILED', message, {
    code: 'VALIDATION_FAILED',
    kind,
    message,
    issues: [{ field: largest, reason }],
  });
};

/**
 * The first place in `value`, a record that passed validation, that JSON (and so the store and the seal)
 * would not carry as validation read it: an object that is no plain object or array (a class instance,
 * whose fields validation reads through its prototype's getters and JSON does not see), or a property
 * that is not enumerable (validation reads it, JSON drops it). Either would store a record other than the
 * one validated, or fail in the store with no field named. Records parsed from JSON have neither.
 */
const unplainField = (value: unknown, field: string): ValidationIssue | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  const array = Array.isArray(value);
  const proto: unknown = Object.getPrototypeOf(value);
  if (array ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) {
    return {
      field,
      reason: 'must be plain data (an object or an array as JSON has them), not a class instance',
    };
  }
  const enumerable = new Set(Object.keys(value));
  const hidden = Object.getOwnPropertyNames(value).find(
    (key) => !enumerable.has(key) && !(array && key === 'length'),
  );
  const at = (key: string): string =>
    array ? `${field}[${key}]` : field === '(record)' ? key : `${field}.${key}`;
  if (hidden !== undefined) {
    return {
      field: at(hidden),
      reason: 'must be an enumerable property: JSON, and so the store, would drop it',
    };
  }
  for (const [key, item] of Object.entries(value)) {
    const issue = unplainField(item, at(key));
    if (issue !== undefined) return issue;
  }
  return undefined;
};

/** Fields every record gets from the store, not from the caller. */
const MANAGED = ['id', 'patientId', 'createdAt', 'updatedAt'] as const;
type Managed = (typeof MANAGED)[number];
const MANAGED_FIELDS: ReadonlySet<string> = new Set(MANAGED);
/**
 * Fields `add` fills when left out: the writer's account (`editorId`, `authorId`, `senderId`,
 * `signerId` of a signed or declined signature, `uploadedBy`), a provenance of this write, `uploadedAt`
 * (now), and a new history (`version` 1, or one above the last of `versions`; `versions` empty).
 */
type Filled =
  'provenance' | 'version' | 'versions' | 'editorId' | 'authorId' | 'senderId' | 'signerId' | 'uploadedAt';
export type RecordInput<K extends RecordKind> = Omit<RecordOf<K>, Managed | Filled> &
  Partial<Pick<RecordOf<K>, Extract<keyof RecordOf<K>, 'id' | Filled>>>;

export interface WriteOptions {
  /**
   * Why this version was made: kept as `provenance.reason` of a LabResult or TreatmentPlan whose content
   * the write changes (at most 1000 characters). Refused (VALIDATION_FAILED, field `reason`) by a kind
   * with no place for it, or a write that makes no new version.
   */
  reason?: string;
}

export interface StoredRecord<K extends RecordKind = RecordKind> {
  kind: K;
  record: RecordOf<K>;
  /** Device id that wrote this version, and its account. */
  author: string;
  by: string;
  /** True while a concurrent edit awaits a person's decision; `conflictData` holds the other side. */
  conflict: boolean;
  conflictData: Record<string, unknown> | null;
  rv: number;
}

export interface RecordsDeps {
  collection: RecordsCollection;
  accountId: string;
  deviceId: string;
  now: () => number;
  /**
   * Null when this device may write the stream (own streams, or a write grant); otherwise why not (the
   * sync engine's `whyNotWritable`).
   */
  whyNotWritable: (stream: string) => NotWritableReason | null;
  /**
   * Throws (AccountError LOCKED) once the session's account was locked; checked before every read and
   * again at the moment of every write.
   */
  assertUnlocked?: () => void;
  /** Emits when the session closes: live views (`observe`) complete then. */
  closed$?: Observable<unknown>;
  /**
   * After each local write; `rv` is the revision number written (the sync engine tracks it as pending).
   * The write resolves once what this returns settles: the session's audit note of the change is kept on
   * disk by then, so a write resolved is never lost to the audit log by a crash. It must not reject (the
   * record is written: a caller told otherwise would write it again).
   */
  onWrite: (
    id: string,
    change: { action: 'create' | 'update' | 'delete'; kind: string; patientId: string; rv: number },
  ) => void | Promise<void>;
}

/**
 * Stream types whose documents only a dedicated API writes. An audit entry must carry the header the
 * audit log builds (chain position, link, signature); written as a plain record the server refuses it,
 * and shown as one it would read like a genuine entry of the trail.
 */
const DEDICATED_STREAM_TYPES: ReadonlySet<string> = new Set(['audit']);

/** Whether `kind` is a record kind this API reads and writes (in a stream, and no dedicated API's). */
export const isRecordsApiKind = (kind: string): kind is RecordKind => {
  if (!isRecordKind(kind)) return false;
  const type = RECORD_KINDS[kind].streamType;
  return type !== null && !DEDICATED_STREAM_TYPES.has(type);
};

/** A kind of the model that is kept only by a dedicated API (an AuditEntry). */
const isDedicatedKind = (kind: string): boolean =>
  isRecordKind(kind) && DEDICATED_STREAM_TYPES.has(RECORD_KINDS[kind].streamType ?? '');

const dedicatedKind = (kind: string): RecordError =>
  new RecordError(
    'NOT_STORABLE',
    `${kind} records are kept by the audit log (session.audit), not as records`,
  );

/**
 * Kinds arrive as strings from UIs and imports, not only from typed code: a name outside the model is
 * refused with a code like a kind kept outside streams, never reaching `RECORD_KINDS[kind]` (a TypeError).
 */
const requireStorable = (kind: string): string => {
  if (!isRecordKind(kind)) {
    throw new RecordError('NOT_STORABLE', `unknown record kind ${JSON.stringify(kind)}`);
  }
  const type = RECORD_KINDS[kind].streamType;
  if (type === null) throw new RecordError('NOT_STORABLE', `${kind} records are not stored in a stream`);
  if (DEDICATED_STREAM_TYPES.has(type)) throw dedicatedKind(kind);
  return type;
};

const streamFor = (kind: string, patientId: string): string => `${patientId}/${requireStorable(kind)}`;

/**
 * What a read-modify-write produces: new content (and, when given, new conflict state), or a deletion.
 * `ours`: content this device writes (an update, a merge), held to the model's transition rules; a side
 * taken as it was ('keep', 'other') is not.
 */
type Outcome =
  | {
      data: Record<string, unknown>;
      conflictData?: JsonObject | null;
      ours?: true;
      /** Content the same as stored (but for `updatedAt`) is not written: no revision, sync or audit. */
      keepIfSame?: true;
    }
  | { delete: true };

/** Thrown inside the write queue to leave a record as it is (`keepIfSame`); never leaves `modify`. */
class Unchanged extends Error {}

const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Kinds whose provenance keeps why a version was made (`reason`). */
const REASON_KINDS: ReadonlySet<string> = new Set(['LabResult', 'TreatmentPlan']);

/** Who writes, and when: the session's account and device at the moment of writing. */
interface Stamp {
  readonly accountId: string;
  readonly deviceId: string;
  readonly at: string;
  readonly reason: string | undefined;
}

/** The NoteVersion a signature being signed names, as this device holds it (absent: not held). */
interface HeldVersion {
  readonly noteId: unknown;
  readonly versionNumber: unknown;
}

/** What a write of this device's content read before writing, outside the write queue. */
interface Prepared {
  readonly held?: HeldVersion;
  /** What the write rules compare with from other records (an Immunization: the birth date held). */
  readonly context?: WriteRuleContext;
}

const invalidField = (kind: RecordKind, field: string, reason: string): RecordError => {
  const message = `${kind} is invalid: ${field}: ${reason}`;
  return new RecordError('VALIDATION_FAILED', message, {
    code: 'VALIDATION_FAILED',
    kind,
    message,
    issues: [{ field, reason }],
  });
};

const finalField = (kind: string, id: unknown, field: string, reason: string): RecordError =>
  new RecordError('RECORD_FINAL', `${kind} ${String(id)}: ${field} ${reason}`, undefined, field);

const transitionRefusal = (kind: string, id: unknown, issues: readonly TransitionIssue[]): RecordError => {
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
const requireFreeVersionNumber = (
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
const filledForCreate = (
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
const requireReadAsStored = (kind: string, id: string, current: JsonObject, patch: JsonObject): void => {
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
const successorOf = (
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

// The store can sort only on the text of `updatedAt` (its index), which is time order for this build's
// stamps (UTC, three fraction digits) but not for a version pulled from a writer that used an offset or
// other fraction digits, which the model takes. So lists are put in time order here, after the query.
const BY_TEXT = [{ updatedAt: 'desc' as const }];

/** Newest first by the instant of `updatedAt`, then by id as the store orders equal keys. */
const newestFirst = (a: DeviceRecord, b: DeviceRecord): number =>
  compareInstants(b.updatedAt, a.updatedAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The wall clock of an instant (its date and time to the second, without the offset) read as UTC, in
 * milliseconds: what the text order of instants follows.
 */
const wallClockMs = (instant: string): number => Date.parse(`${instant.slice(0, 19)}Z`);

// An offset moves the instant less than 24 hours from its wall clock and the fraction less than a second,
// so any record among the newest `limit` by instant has a wall clock no more than two days and a second
// before the earliest wall clock of the first `limit` by text (see `query`); the hour more is margin.
const TEXT_SLACK_MS = 49 * 3600 * 1000;
const FIRST_INSTANT_MS = Date.parse('0001-01-01T00:00:00Z');

/**
 * The least text of `updatedAt` a record among the newest `firstByText.length` by instant can have, given
 * the first that many by text; undefined when no bound holds: one of them is emptied (a purge in flight:
 * not listed, so it stands for no listed record) or is stamped with no instant (such a one is listed last).
 */
const textFloor = (firstByText: readonly DeviceRecord[]): string | undefined => {
  if (firstByText.some((d) => emptied(d) || !isIsoDateTime(d.updatedAt))) return undefined;
  // Not Math.min(...all): a large limit would pass more arguments than an engine takes.
  const earliest = firstByText.reduce((least, d) => Math.min(least, wallClockMs(d.updatedAt)), Infinity);
  const floor = earliest - TEXT_SLACK_MS;
  return floor < FIRST_INSTANT_MS ? undefined : new Date(floor).toISOString().slice(0, 19);
};

const toStored = <K extends RecordKind>(doc: PlainRecord): StoredRecord<K> => ({
  kind: doc.kind as K,
  record: doc.data as unknown as RecordOf<K>,
  author: doc.author,
  by: doc.by,
  conflict: doc.conflict,
  conflictData: doc.conflictData,
  rv: doc.rv,
});

export const createRecords = (deps: RecordsDeps) => {
  const { collection } = deps;
  const iso = (): string => new Date(deps.now()).toISOString();
  const unlocked = (): void => deps.assertUnlocked?.();

  const validated = <K extends RecordKind>(kind: K, value: unknown): RecordOf<K> => {
    const result = validateRecord(kind, value);
    if (!result.ok) throw new RecordError('VALIDATION_FAILED', result.error.message, result.error);
    const unplain = unplainField(result.value, '(record)');
    if (unplain !== undefined) throw invalidField(kind, unplain.field, unplain.reason);
    const size = jsonBytes(result.value);
    if (size > MAX_RECORD_BYTES) {
      throw tooLarge(kind, result.value, size);
    }
    return result.value;
  };

  /**
   * Refuses (VALIDATION_FAILED, each issue naming its field and rule) what the model's write rules
   * refuse in `written`, a write of this device at `at`; with `previous` (the state replaced), only rules
   * reading a field the write changes, so a record stored breaking one stays editable.
   */
  const requireWriteRules = <K extends RecordKind>(
    kind: K,
    written: RecordOf<K>,
    at: string,
    previous: Readonly<Record<string, unknown>> | null,
    context?: WriteRuleContext,
  ): void => {
    const result = checkWriteRules(kind, written, Date.parse(at), previous, context);
    if (!result.ok) throw new RecordError('VALIDATION_FAILED', result.error.message, result.error);
  };

  const toPlain = (doc: RxDocument<DeviceRecord>): PlainRecord => ({
    ...doc.toMutableJSON(),
    _deleted: false,
  });
  /**
   * The record stored under `id`. Ids reach here from untyped code too: RxDB reads anything but a string
   * as a query, whose first match (any record) must not stand in for the one named.
   */
  const findById = async (id: unknown): Promise<RxDocument<DeviceRecord> | null> =>
    typeof id === 'string' ? collection.findOne(id).exec() : null;
  // An AuditEntry in the store came from an older build's `add` (the server never took it): not shown.
  const load = async (id: string): Promise<PlainRecord | null> => {
    const doc = await findById(id);
    // A record a purge is removing (its stream's access ended) is emptied, then deleted: no record any
    // more, here or in any list.
    return doc && !isDedicatedKind(doc.kind) && !emptied(doc) ? toPlain(doc) : null;
  };

  const requireWritable = (stream: string): void => {
    const reason = deps.whyNotWritable(stream);
    if (reason === null) return;
    throw new RecordError(
      'NOT_WRITABLE',
      `this device may not write ${stream}: ${NOT_WRITABLE_BECAUSE[reason]}`,
      undefined,
      undefined,
      reason,
    );
  };

  /**
   * The patient `query` and `observe` list. It goes into a selector, where anything but a string (an
   * operator object from untyped code) would match other patients' records.
   */
  const listedPatient = (kind: RecordKind, patientId: unknown): string => {
    if (patientId === undefined) return deps.accountId;
    if (typeof patientId !== 'string')
      throw invalidField(kind, 'patientId', 'must be an account id (a string)');
    return patientId;
  };

  /**
   * The options untyped code passed: undefined or null are none. Anything else but an object (a patient id
   * passed in their place) is refused, not read as none: `add` would write the record into this account's
   * own chart, `query` list this account's records as the patient's. Call once `kind` is known storable.
   */
  const optionsOf = <T extends object>(kind: RecordKind, options: T | null | undefined): Partial<T> => {
    if (options === undefined || options === null) return {};
    if (typeof options === 'object' && !Array.isArray(options)) return options;
    throw invalidField(kind, 'options', 'must be an object of options, such as { patientId }');
  };

  const writer = { accountId: deps.accountId, deviceId: deps.deviceId };
  const stamp = (at: string, reason: string | undefined): Stamp => ({ ...writer, at, reason });

  /** Refuses `reason` for a kind that has no place to keep it. */
  const requireReasonKind = (kind: RecordKind, reason: string | undefined): void => {
    if (reason !== undefined && !REASON_KINDS.has(kind)) {
      throw invalidField(
        kind,
        'reason',
        `has no place in a ${kind}: only LabResult and TreatmentPlan versions keep one`,
      );
    }
  };

  /** Refuses `written` when, following `previous` (null: a new record), it breaks a transition rule. */
  const requireTransition = <K extends RecordKind>(
    kind: K,
    previous: unknown,
    written: RecordOf<K>,
  ): void => {
    const before = previous === null ? null : validateRecord(kind, previous);
    // A stored state this build's model does not accept is held to the rules of a new record.
    const issues = transitionIssues(kind, before?.ok === true ? before.value : null, written, writer);
    if (issues.length > 0) throw transitionRefusal(kind, written.id, issues);
  };

  const dataOf = (doc: RxDocument<DeviceRecord>): JsonObject => doc.toJSON().data;

  /**
   * The NoteVersion a signature in `data` attests, when this device holds it (in the patient's note
   * stream), for a signing to name its version number.
   */
  const heldVersion = async (patientId: string, data: JsonObject): Promise<HeldVersion | undefined> => {
    const versionId = data['noteVersionId'];
    if (data['status'] !== 'signed' || typeof versionId !== 'string') return undefined;
    const doc = await collection.findOne(versionId).exec();
    if (!doc || doc.kind !== 'NoteVersion' || doc.patientId !== patientId) return undefined;
    const version = dataOf(doc);
    return { noteId: version['noteId'], versionNumber: version['versionNumber'] };
  };

  /**
   * Refuses (RECORD_FINAL) a change to a NoteVersion that is no longer a draft (removal-rules.ts), by the
   * note and signatures this device holds, read just before the write: one pulled in that moment is not seen.
   */
  const requireDraftVersion = async (doc: RxDocument<DeviceRecord>): Promise<void> => {
    const contextOf = await readNoteVersionContexts(collection, [doc]);
    const [rule] = noteVersionRules(doc.id, dataOf(doc), contextOf(doc));
    if (rule) throw finalField('NoteVersion', doc.id, rule.field, rule.reason);
  };

  /**
   * The write rules' context for `kind` written for `patientId`: for an Immunization, the earliest birth
   * date among the patient's Profiles held here, in their shown versions and unsettled sides (a side with
   * the earlier date may be the right one). One local read by patient and kind; no network.
   */
  const ruleContext = async (kind: string, patientId: string): Promise<WriteRuleContext | undefined> => {
    if (kind !== 'Immunization') return undefined;
    const profiles = await collection.find({ selector: { patientId, kind: 'Profile' } }).exec();
    const [birthDate] = profiles
      .flatMap((doc) => {
        const { data, conflictData } = doc.toJSON();
        return [data, ...sidesOf(conflictData).filter((side) => !isDeletionSide(side))];
      })
      .map((version) => version['birthDate'])
      .filter((date): date is string => typeof date === 'string' && isIsoDate(date))
      .sort();
    return birthDate === undefined ? {} : { birthDate };
  };

  /** What a write of this device's content must know before writing: refusals, a held version, context. */
  const prepareWrite = async (doc: RxDocument<DeviceRecord>, patch: JsonObject): Promise<Prepared> => {
    // A signed NoteSignature neither changes nor goes.
    const [signed] = doc.kind === 'NoteSignature' ? removalRules(doc.kind, dataOf(doc)) : [];
    if (signed) throw finalField(doc.kind, doc.id, signed.field, signed.reason);
    if (doc.kind === 'NoteVersion') await requireDraftVersion(doc);
    const held =
      doc.kind === 'NoteSignature'
        ? await heldVersion(doc.patientId, { ...dataOf(doc), ...patch })
        : undefined;
    // A rule about the birth date reads only `administeredAt`: a patch without it cannot break it.
    const context = 'administeredAt' in patch ? await ruleContext(doc.kind, doc.patientId) : undefined;
    return { ...(held !== undefined ? { held } : {}), ...(context !== undefined ? { context } : {}) };
  };

  // Insert, never upsert: an `add` that reuses an id must not replace a record (possibly another
  // author's) without the history and conflict handling of `update`.
  // RxDB's insert refuses a live document with that id (CONFLICT) and takes the place of a deleted one.
  const create = async (doc: Omit<PlainRecord, '_deleted' | 'rv'>): Promise<void> => {
    // The server takes a version only with a higher revision number than the one it holds, so a record
    // re-added under the id of a deleted one continues the tombstone's counter; starting again at 1
    // would leave it unsent forever.
    const [tombstone] = await collection.storageInstance.findDocumentsById([doc.id], true);
    // The server keeps a record per stream and id, this store per id: taking the place of another
    // stream's (or kind's) tombstone would drop a deletion not yet sent and put one record's id on two.
    if (tombstone?._deleted === true && (tombstone.stream !== doc.stream || tombstone.kind !== doc.kind)) {
      throw new RecordError(
        'ALREADY_EXISTS',
        `id ${doc.id} is a deleted ${tombstone.kind} of ${tombstone.stream}: a new ${doc.kind} of ${doc.stream} takes a new id`,
      );
    }
    // A record re-added under its id continues the deleted one's history (removal-rules.ts).
    if (tombstone?._deleted === true && isRecordKind(doc.kind)) {
      const issues = recreationIssues(doc.kind, tombstone.data, doc.data);
      if (issues.length > 0) throw transitionRefusal(doc.kind, doc.id, issues);
    }
    const rv = tombstone?._deleted === true ? tombstone.rv + 1 : 1;
    // The account may have been locked while the tombstone was read.
    unlocked();
    try {
      await collection.insert({ ...doc, rv });
    } catch (error) {
      if (error instanceof RxError && error.code === 'CONFLICT') {
        throw new RecordError(
          'ALREADY_EXISTS',
          `a record with id ${doc.id} exists already; update it instead`,
        );
      }
      throw error;
    }
    await deps.onWrite(doc.id, { action: 'create', kind: doc.kind, patientId: doc.patientId, rv });
  };

  /**
   * Read-modify-write of one record inside RxDB's write queue: `next` sees the stored state at the
   * moment of writing, so an edit pulled from another device between a caller's read and this write is
   * built upon, not overwritten.
   * Resolves to the record written, or null when the outcome was a deletion.
   */
  const modify = async <K extends RecordKind>(
    id: string,
    kind: K | undefined,
    /** `now`: the time of this write, its `updatedAt`. */
    next: (current: DeviceRecord, prepared: Prepared | undefined, now: string) => Outcome,
    prepare?: (doc: RxDocument<DeviceRecord>) => Promise<Prepared | undefined>,
  ): Promise<RecordOf<K> | null> => {
    unlocked();
    if (kind !== undefined) requireStorable(kind);
    const doc = await findById(id);
    if (!doc) throw new RecordError('NOT_FOUND', `no ${kind ?? 'record'} with id ${id}`);
    if (kind !== undefined && doc.kind !== kind)
      throw new RecordError('KIND_MISMATCH', `${id} is a ${doc.kind}, not a ${kind}`);
    if (isDedicatedKind(doc.kind)) throw dedicatedKind(doc.kind);
    requireWritable(doc.stream);
    const prepared = prepare ? await prepare(doc) : undefined;
    let record: RecordOf<K> | null | undefined;
    let rv = 0;
    let unchanged = false;
    const write = doc.incrementalModify((stored) => {
      const current = stored as DeviceRecord & { _deleted?: boolean };
      // A delete can land between the read above and this write (another call, or a pulled tombstone);
      // writing on would put the edit into the tombstone and report success for a record that is gone.
      if (current._deleted === true) throw new RecordError('NOT_FOUND', `no record with id ${id}`);
      unlocked();
      const now = iso();
      const outcome = next(current, prepared, now);
      const version = {
        ...current,
        updatedAt: now,
        // The tombstone gets its own revision number too, so it is attributable and its tag is new.
        rv: current.rv + 1,
        author: deps.deviceId,
        by: deps.accountId,
      };
      rv = version.rv;
      if ('delete' in outcome) {
        record = null;
        return { ...version, conflict: false, conflictData: null, _deleted: true };
      }
      // What the store manages stays its own: a patch or merged content naming another creation time
      // (the types hide the field, data from a UI or import may still carry it) does not change it.
      const createdAt = current.data['createdAt'];
      const written = validated(current.kind as K, {
        ...outcome.data,
        id,
        patientId: current.patientId,
        ...(createdAt !== undefined ? { createdAt } : {}),
        updatedAt: now,
      });
      // Checked against the state being replaced, inside the write queue.
      if (outcome.ours === true) {
        requireTransition(current.kind as K, current.data, written);
        requireWriteRules(current.kind as K, written, now, current.data, prepared?.context);
      }
      if (
        outcome.keepIfSame === true &&
        outcome.conflictData === undefined &&
        sameJson({ ...written, updatedAt: null }, { ...current.data, updatedAt: null })
      ) {
        record = validated(current.kind as K, current.data);
        unchanged = true;
        throw new Unchanged('unchanged');
      }
      record = written;
      const result: DeviceRecord = { ...version, data: written };
      if (outcome.conflictData !== undefined) {
        result.conflictData = outcome.conflictData;
        result.conflict = outcome.conflictData !== null;
      }
      return result;
    });
    try {
      await write;
    } catch (error) {
      if (!(error instanceof Unchanged)) throw error;
    }
    if (record === undefined) throw new RecordError('NOT_FOUND', `no ${kind ?? 'record'} with id ${id}`);
    if (unchanged) return record;
    await deps.onWrite(id, {
      action: record === null ? 'delete' : 'update',
      kind: doc.kind,
      patientId: doc.patientId,
      rv,
    });
    // A copy, as `add` answers: the store keeps the object written.
    return structuredClone(record);
  };

  /** The content and conflict state that taking the side at the top of `conflictData` leaves. */
  const takeOther = (current: DeviceRecord): Outcome => {
    if (current.conflictData === null) return { data: current.data, conflictData: null };
    const [top = {}, ...earlier] = sidesOf(current.conflictData);
    // Accepting a deletion deletes the record with every version of it, as `remove` would.
    if (isDeletionSide(top)) return { delete: true };
    const { _conflictFrom: _from, ...other } = top;
    // The other side as it was: fields it lacks must not come back from the version it replaces. Only
    // what the store manages stays the record's own.
    const data = {
      ...other,
      id: current.data['id'],
      patientId: current.data['patientId'],
      createdAt: current.data['createdAt'],
    };
    // The choice was between this version and the side shown; sides of earlier conflicts stay unsettled.
    const [first, ...rest] = earlier;
    if (first === undefined) return { data, conflictData: null };
    return {
      data,
      conflictData: rest.length > 0 ? { ...first, [EARLIER_CONFLICTS_KEY]: rest } : first,
    };
  };

  return {
    /**
     * Adds a record for `patientId` (default: this account). Throws VALIDATION_FAILED naming the field,
     * also for a record over MAX_RECORD_BYTES (naming its largest field); `update` and `resolveConflict`
     * refuse the same way. Author fields left out are this session's, a history left out starts at
     * version 1 (module comment); `reason` goes into a LabResult's or TreatmentPlan's provenance.
     */
    async add<K extends RecordKind>(
      kind: K,
      input: RecordInput<K>,
      options: { patientId?: string } & WriteOptions = {},
    ) {
      unlocked();
      requireStorable(kind);
      const { patientId: forPatient, reason } = optionsOf(kind, options);
      const patientId = forPatient ?? deps.accountId;
      const stream = streamFor(kind, patientId);
      requireWritable(stream);
      requireReasonKind(kind, reason);
      // From untyped code: null would fail on reading its id (a TypeError, no code), and an array or a
      // string would be read as fields named by index.
      if (!isJsonObject(input)) throw invalidField(kind, '(record)', 'must be an object');
      const given: JsonObject = { ...input };
      const held = kind === 'NoteSignature' ? await heldVersion(patientId, given) : undefined;
      const siblings =
        kind === 'NoteVersion' ? await readNoteVersionNumbers(collection, patientId, given['noteId']) : [];
      const context = await ruleContext(kind, patientId);
      unlocked();
      const now = iso();
      const record = validated(kind, {
        ...filledForCreate(kind, given, stamp(now, reason), held),
        id: given['id'] ?? newId(deps.now),
        patientId,
        createdAt: now,
        updatedAt: now,
      });
      requireTransition(kind, null, record);
      requireWriteRules(kind, record, now, null, context);
      if (kind === 'NoteVersion') requireFreeVersionNumber(record as RecordOf<'NoteVersion'>, siblings);
      await create({
        id: record.id,
        stream,
        kind,
        patientId,
        updatedAt: now,
        epoch: 0,
        author: deps.deviceId,
        by: deps.accountId,
        conflict: false,
        data: record,
        conflictData: null,
      });
      // A copy: the store keeps `record` itself (the at-rest layer remembers written values by reference),
      // so a caller changing what it was answered would change what is read and sent, unvalidated.
      return structuredClone(record);
    },

    /**
     * Changes the fields `patch` gives (fields given as stored are no change; a patch that changes
     * nothing writes nothing: no revision, sync or audit entry, and answers the record as stored). For a
     * versioned record (HealthDocument, LabResult, TreatmentPlan) a change of content is made the next
     * version here: pass only the changes and, for a LabResult or TreatmentPlan, why (`reason`). Refused
     * with RECORD_FINAL or AUTHOR_MISMATCH (naming the field) as the module comment says.
     */
    async update<K extends RecordKind>(
      kind: K,
      id: string,
      patch: Partial<Omit<RecordOf<K>, Managed>>,
      options: WriteOptions = {},
    ): Promise<RecordOf<K>> {
      const { reason } = isRecordKind(kind) ? optionsOf(kind, options) : {};
      if (isRecordKind(kind)) requireReasonKind(kind, reason);
      // From untyped code: null would be read as no change and write an unchanged version (a new
      // revision, synced and audited), an array or a string as fields named by index.
      if (!isJsonObject(patch)) {
        unlocked();
        requireStorable(kind);
        throw invalidField(kind, '(record)', 'must be an object');
      }
      const changes: JsonObject = { ...patch };
      const record = await modify<K>(
        id,
        kind,
        (current, prepared, now) => {
          requireReadAsStored(kind, id, current.data, changes);
          return {
            data: successorOf(kind, current.data, changes, stamp(now, reason), prepared?.held),
            ours: true,
            keepIfSame: true,
          };
        },
        (doc) => prepareWrite(doc, changes),
      );
      if (record === null) throw new RecordError('NOT_FOUND', `no ${kind} with id ${id}`);
      return record;
    },

    async remove(id: string): Promise<void> {
      unlocked();
      const doc = await findById(id);
      if (!doc) throw new RecordError('NOT_FOUND', `no record with id ${id}`);
      if (isDedicatedKind(doc.kind)) throw dedicatedKind(doc.kind);
      requireWritable(doc.stream);
      if (doc.kind === 'NoteVersion') await requireDraftVersion(doc);
      // One write: the tombstone gets its own revision number, so it is attributable and its tag is new.
      let rv = 0;
      await doc.incrementalModify((data) => {
        const next = data as DeviceRecord & { _deleted?: boolean };
        // A second remove racing the first must not count (and audit) a deletion twice.
        if (next._deleted === true) throw new RecordError('NOT_FOUND', `no record with id ${id}`);
        unlocked();
        const [rule] = removalRules(next.kind, next.data);
        if (rule) throw finalField(next.kind, id, rule.field, rule.reason);
        next.rv = next.rv + 1;
        rv = next.rv;
        next.updatedAt = iso();
        next.author = deps.deviceId;
        next.by = deps.accountId;
        next._deleted = true;
        return next;
      });
      await deps.onWrite(id, { action: 'delete', kind: doc.kind, patientId: doc.patientId, rv });
    },

    async get<K extends RecordKind>(id: string): Promise<StoredRecord<K> | null> {
      unlocked();
      const doc = await load(id);
      return doc ? toStored<K>(doc) : null;
    },

    async query<K extends RecordKind>(kind: K, options: { patientId?: string; limit?: number } = {}) {
      unlocked();
      requireStorable(kind);
      const { patientId, limit } = optionsOf(kind, options);
      const selector = { kind, patientId: listedPatient(kind, patientId) };
      if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
        throw invalidField(kind, 'limit', 'must be a whole number of records, 0 or more');
      }
      if (limit === 0) return [];
      // Under a limit the first by text, from the index, bound the newest by instant (`textFloor`): only
      // records stamped within about two days of them are read again, not every record of the kind.
      let docs = await collection
        .find({ selector, sort: BY_TEXT, ...(limit !== undefined ? { limit } : {}) })
        .exec();
      if (docs.length === limit) {
        const floor = textFloor(docs);
        const within = floor === undefined ? selector : { ...selector, updatedAt: { $gte: floor } };
        docs = await collection.find({ selector: within, sort: BY_TEXT }).exec();
      }
      return docs
        .filter((d) => !emptied(d))
        .sort(newestFirst)
        .slice(0, limit)
        .map((d) => toStored<K>(toPlain(d)));
    },

    observe<K extends RecordKind>(
      kind: K,
      options: { patientId?: string } = {},
    ): Observable<StoredRecord<K>[]> {
      unlocked();
      requireStorable(kind);
      const selector = { kind, patientId: listedPatient(kind, optionsOf(kind, options).patientId) };
      const $ = collection.find({ selector, sort: BY_TEXT }).$;
      const view = $.pipe(
        map((docs) => {
          // A view opened before a lock errors at its next change rather than showing more.
          unlocked();
          return docs
            .filter((d) => !emptied(d))
            .sort(newestFirst)
            .map((d) => toStored<K>(toPlain(d)));
        }),
      );
      // The store's query never ends by itself: a view of a closed session completes.
      return deps.closed$ === undefined ? view : view.pipe(takeUntil(deps.closed$));
    },

    /**
     * Records of `kind` of every patient this device holds (a clinician's inbox or schedule across its
     * patients; a patient device holds only its own chart), live, newest written first.
     */
    observeAcross<K extends RecordKind>(kind: K): Observable<StoredRecord<K>[]> {
      unlocked();
      requireStorable(kind);
      const view = collection.find({ selector: { kind }, sort: BY_TEXT }).$.pipe(
        map((docs) => {
          unlocked();
          return docs
            .filter((d) => !emptied(d))
            .sort(newestFirst)
            .map((d) => toStored<K>(toPlain(d)));
        }),
      );
      return deps.closed$ === undefined ? view : view.pipe(takeUntil(deps.closed$));
    },

    /** As `observeAcross`, read once. */
    async queryAcross<K extends RecordKind>(kind: K): Promise<StoredRecord<K>[]> {
      unlocked();
      requireStorable(kind);
      const docs = await collection.find({ selector: { kind }, sort: BY_TEXT }).exec();
      return docs
        .filter((d) => !emptied(d))
        .sort(newestFirst)
        .map((d) => toStored<K>(toPlain(d)));
    },

    /** One record, live: null while there is none (never written, deleted, or being purged). */
    observeOne<K extends RecordKind>(id: string): Observable<StoredRecord<K> | null> {
      unlocked();
      if (typeof id !== 'string')
        throw new RecordError('VALIDATION_FAILED', 'the record id must be a string');
      const view = collection.findOne(id).$.pipe(
        map((doc) => {
          unlocked();
          return doc && !isDedicatedKind(doc.kind) && !emptied(doc) ? toStored<K>(toPlain(doc)) : null;
        }),
      );
      return deps.closed$ === undefined ? view : view.pipe(takeUntil(deps.closed$));
    },

    /** Records with an unresolved concurrent edit. */
    async conflicts(): Promise<StoredRecord[]> {
      unlocked();
      const docs = await collection.find({ selector: { conflict: true } }).exec();
      return docs.filter((d) => !isDedicatedKind(d.kind)).map((d) => toStored(toPlain(d)));
    },

    /**
     * Settles a conflict: keep this version, take the other side, or store merged content. Resolves to
     * the record written, or null when the other side was a deletion and taking it deleted the record.
     * `expectedRv` is the `rv` of the version the person decided on (from `conflicts` or `get`). Required:
     * without it the choice would land on whatever the record holds at write time, e.g. settle a side
     * pulled after the person looked, which they never saw. Refused with RECORD_CHANGED (nothing written)
     * unless the record still holds that version.
     */
    async resolveConflict<K extends RecordKind>(
      id: string,
      choice: 'keep' | 'other' | Partial<RecordOf<K>>,
      expected: { expectedRv: number },
    ): Promise<RecordOf<K> | null> {
      // Untyped callers (the two-argument form of older builds, or an rv read from a UI as text) reach
      // here too: no revision can match, so they are refused rather than settling an unseen state.
      const expectedRv: unknown =
        typeof expected === 'object' && expected !== null ? expected.expectedRv : undefined;
      const merged: JsonObject | null = isJsonObject(choice) ? { ...choice } : null;
      return modify<K>(
        id,
        undefined,
        (current, prepared, now) => {
          // From untyped code any other value would read as 'keep' and drop the other side unseen.
          if (choice !== 'keep' && choice !== 'other' && merged === null) {
            const reason = "must be 'keep', 'other' or the merged record";
            if (!isRecordKind(current.kind)) {
              throw new RecordError('VALIDATION_FAILED', `resolveConflict(${id}): choice ${reason}`);
            }
            throw invalidField(current.kind, 'choice', reason);
          }
          // Checked inside the write queue, against the state being replaced: a merge landing between the
          // caller's read and this write must refuse, not be settled.
          if (current.rv !== expectedRv) {
            throw new RecordError(
              'RECORD_CHANGED',
              typeof expectedRv === 'number'
                ? `record ${id} changed since it was read (rv ${expectedRv}, now ${current.rv}); read it again and decide again`
                : `resolveConflict(${id}) needs expectedRv: the rv of the version the person decided on`,
            );
          }
          if (choice === 'other') return takeOther(current);
          if (merged === null) return { data: current.data, conflictData: null };
          // Merged content is this device's write, versioned and checked like an update.
          const kind = current.kind;
          if (!isRecordKind(kind)) return { data: { ...current.data, ...merged }, conflictData: null };
          return {
            data: successorOf(kind, current.data, merged, stamp(now, undefined), prepared?.held),
            conflictData: null,
            ours: true,
          };
        },
        async (doc) => (merged === null ? undefined : prepareWrite(doc, merged)),
      );
    },
  };
};

export type Records = ReturnType<typeof createRecords>;
