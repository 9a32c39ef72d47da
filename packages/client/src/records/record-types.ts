/**
 * What the records API takes and answers, and where each kind is stored.
 *
 * - Managed fields (`MANAGED_FIELDS`: ids, patient, times, versions) are the API's to fill, never the caller's.
 * - A kind with its own API (DEDICATED_STREAM_TYPES) is refused by the generic API (`isRecordsApiKind`).
 * - `requireStorable`: a record larger than MAX_RECORD_BYTES or not plain data → VALIDATION_FAILED.
 */
import type { DeviceMeta } from '../store/device-meta';
import {
  authorshipIssues,
  type RecordKind,
  type RecordOf,
  isRecordKind,
  RECORD_KINDS,
  type WriteRuleContext,
} from '@hale/model';
import type { RecordsCollection, JsonObject } from '../store/device-db';
import type { Observable } from 'rxjs';
import type { PlainRecord } from './plain-record';
import { RecordError, type NotWritableReason } from './record-errors';

/** Fields every record gets from the store, not from the caller. */
const MANAGED = ['id', 'patientId', 'createdAt', 'updatedAt'] as const;

export type Managed = (typeof MANAGED)[number];

export const MANAGED_FIELDS: ReadonlySet<string> = new Set(MANAGED);

/**
 * Fields `add` fills when left out: the writer's account (`editorId`, `authorId`, `senderId`,
 * `signerId` of a signed or declined signature, `uploadedBy`), a provenance of this write, `uploadedAt`
 * (now), and a new history (`version` 1, or one above the last of `versions`; `versions` empty).
 */
type Filled =
  'provenance' | 'version' | 'versions' | 'editorId' | 'authorId' | 'senderId' | 'signerId' | 'uploadedAt';

/** A record as written: its content, without the fields the client manages. */
export type RecordInput<K extends RecordKind> = Omit<RecordOf<K>, Managed | Filled> &
  Partial<Pick<RecordOf<K>, Extract<keyof RecordOf<K>, 'id' | Filled>>>;

/** Options of a record write. */
export interface WriteOptions {
  /**
   * Why this version was made: kept as `provenance.reason` of a LabResult or TreatmentPlan whose content
   * the write changes (at most 1000 characters). Refused (VALIDATION_FAILED, field `reason`) by a kind
   * with no place for it, or a write that makes no new version.
   */
  reason?: string;
}

/** One write of a person's action that writes several records (`records.writeAll`), typed by kind. */
export type WriteOp = {
  [K in RecordKind]:
    | {
        readonly op: 'add';
        readonly kind: K;
        /** With its `id` given when a later write of the action names it. */
        readonly input: RecordInput<K>;
        readonly options?: { patientId?: string } & WriteOptions;
      }
    | {
        readonly op: 'update';
        readonly kind: K;
        readonly id: string;
        readonly patch: Partial<Omit<RecordOf<K>, Managed>>;
        readonly options?: WriteOptions;
      };
}[RecordKind];

/** A record as stored on this device: its content, kind, version and bookkeeping. */
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

/** A stored write of a record (`records.observeChanges`): the version before it, if one was held, and after. */
export interface RecordChange<K extends RecordKind = RecordKind> {
  readonly kind: K;
  readonly before?: StoredRecord<K>;
  readonly after: StoredRecord<K>;
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
  /** Device meta, where `newest` keeps its digests (newest.ts); without it `newest` reads in full. */
  meta?: Pick<DeviceMeta, 'get' | 'update'>;
  /** Runs `run` after `ms` (default `setTimeout`); answers a cancel: `newest`'s saves while a view is open. */
  later?: (run: () => void, ms: number) => () => void;
  /**
   * Before `writeAll` writes several versions as one action: the sync engine sends them as one group the
   * server stores all or none (sync/write-groups.ts). Answers a cancel, called if the write fails.
   */
  onGroup?: (members: readonly { id: string; rv: number }[]) => Promise<() => void>;
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
export const isDedicatedKind = (kind: string): boolean =>
  isRecordKind(kind) && DEDICATED_STREAM_TYPES.has(RECORD_KINDS[kind].streamType ?? '');

export const dedicatedKind = (kind: string): RecordError =>
  new RecordError(
    'NOT_STORABLE',
    `${kind} records are kept by the audit log (session.audit), not as records`,
  );

/**
 * Kinds arrive as strings from UIs and imports, not only from typed code: a name outside the model is
 * refused with a code like a kind kept outside streams, never reaching `RECORD_KINDS[kind]` (a TypeError).
 */
export const requireStorable = (kind: string): string => {
  if (!isRecordKind(kind)) {
    throw new RecordError('NOT_STORABLE', `unknown record kind ${JSON.stringify(kind)}`);
  }
  const type = RECORD_KINDS[kind].streamType;
  if (type === null) throw new RecordError('NOT_STORABLE', `${kind} records are not stored in a stream`);
  if (DEDICATED_STREAM_TYPES.has(type)) throw dedicatedKind(kind);
  return type;
};

export const streamFor = (kind: string, patientId: string): string => `${patientId}/${requireStorable(kind)}`;

/**
 * What a read-modify-write produces: new content (and, when given, new conflict state), or a deletion.
 * `ours`: content this device writes (an update, a merge), held to the model's transition rules; a side
 * taken as it was ('keep', 'other') is not.
 */
export type Outcome =
  | {
      data: Record<string, unknown>;
      conflictData?: JsonObject | null;
      ours?: true;
      /** Content the same as stored (but for `updatedAt`) is not written: no revision, sync or audit. */
      keepIfSame?: true;
    }
  | { delete: true };

/** Thrown inside the write queue to leave a record as it is (`keepIfSame`); never leaves `modify`. */
export class Unchanged extends Error {}

export const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Kinds whose provenance keeps why a version was made (`reason`). */
export const REASON_KINDS: ReadonlySet<string> = new Set(['LabResult', 'TreatmentPlan']);

/** Who writes, and when: the session's account and device at the moment of writing. */
export interface Stamp {
  readonly accountId: string;
  readonly deviceId: string;
  readonly at: string;
  readonly reason: string | undefined;
}

/** The NoteVersion a signature being signed names, as this device holds it (absent: not held). */
export interface HeldVersion {
  readonly noteId: unknown;
  readonly versionNumber: unknown;
}

/** What a write of this device's content read before writing, outside the write queue. */
export interface Prepared {
  readonly held?: HeldVersion;
  /** What the write rules compare with from other records (an Immunization: the birth date held). */
  readonly context?: WriteRuleContext;
}

export const toStored = <K extends RecordKind>(doc: PlainRecord): StoredRecord<K> => ({
  kind: doc.kind as K,
  record: doc.data as unknown as RecordOf<K>,
  author: doc.author,
  by: doc.by,
  conflict: doc.conflict,
  conflictData: doc.conflictData,
  rv: doc.rv,
});

/**
 * What account `accountId` may do with `stored` by the model's authorship rules (another's note, result,
 * visit or plan is theirs to change): what a screen offers, so it never offers what the records API refuses
 * (NOT_AUTHOR). Removal rules of final records (records API `remove`) are not part of it.
 */
export const rightsOver = (
  stored: StoredRecord,
  accountId: string,
): { readonly change: boolean; readonly remove: boolean } => {
  const held = { data: stored.record as unknown as Record<string, unknown>, by: stored.by };
  const patientId = typeof held.data['patientId'] === 'string' ? held.data['patientId'] : '';
  return {
    change: authorshipIssues(stored.kind, held, held.data, accountId, patientId).length === 0,
    remove: authorshipIssues(stored.kind, held, null, accountId, patientId).length === 0,
  };
};
