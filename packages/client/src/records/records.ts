// The typed record API the app uses: every write is validated against the model first and lands in
// the local store at once (offline first); replication carries it to the server later. Once the session's
// account is locked, nothing is read or written here (AccountError LOCKED, from `assertUnlocked`).
// A record is also refused at write (VALIDATION_FAILED) when it is larger than MAX_RECORD_BYTES: such a
// record, or the document a concurrent edit of it makes, could never reach the server.
// `update` builds on whatever the record holds at the moment of writing (an edit pulled meanwhile is
// kept). `resolveConflict` does not: a person's decision is about the version they were shown, named by
// its `rv`, so it is applied only while the record still holds that version; any other state (a side
// pulled and merged since, another resolve or update first) is refused with RECORD_CHANGED and nothing
// is written. This relies on every write to a record on this device, local or merged, raising its `rv`.
import { map, type Observable } from 'rxjs';
import { MAX_DOC_BYTES } from '@hale/protocol';
import {
  RECORD_KINDS,
  isRecordKind,
  newId,
  validateRecord,
  type RecordKind,
  type RecordOf,
  type ValidationFailed,
} from '@hale/model';
import { EARLIER_CONFLICTS_KEY, isDeletionSide, sidesOf } from '../sync/conflicts';
import type { PlainRecord } from '../sync/record-codec';
import { RxError, type RxDocument } from 'rxdb';
import type { DeviceRecord, JsonObject, RecordsCollection } from '../store/device-db';

export type RecordErrorCode =
  | 'VALIDATION_FAILED'
  | 'NOT_FOUND'
  | 'NOT_STORABLE'
  | 'NOT_WRITABLE'
  | 'KIND_MISMATCH'
  /** `add` with the id of a record this device already holds: use `update`. */
  | 'ALREADY_EXISTS'
  /**
   * `resolveConflict` named a revision (`expectedRv`) the record no longer has, or none: the decision
   * was about another state. Nothing is written; re-read the record and decide again.
   */
  | 'RECORD_CHANGED';

export class RecordError extends Error {
  constructor(
    readonly code: RecordErrorCode,
    message: string,
    readonly detail?: ValidationFailed,
  ) {
    super(message);
    this.name = 'RecordError';
  }
}

/**
 * Room in a sealed document (MAX_DOC_BYTES counts its bytes) for what it carries besides two copies of
 * the record: the seal (version, key id, nonce, MAC), the sealed binding and tag (stream, id, epoch,
 * revision), the content's own fields (kind, updatedAt, by, conflict) and the `_conflictFrom` a conflict
 * adds to the other side's copy. Ids and account ids have fixed lengths: 498 bytes at the most, with the
 * longest kind and stream type and 16-digit epoch and revision (records-size.test.ts seals that case).
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

/** Fields every record gets from the store, not from the caller. */
type Managed = 'id' | 'patientId' | 'createdAt' | 'updatedAt';
export type RecordInput<K extends RecordKind> = Omit<RecordOf<K>, Managed> & Partial<Pick<RecordOf<K>, 'id'>>;

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
  /** Whether this device may write the stream (own streams, or a write grant). */
  canWrite: (stream: string) => boolean;
  /**
   * Throws (AccountError LOCKED) once the session's account was locked; checked before every read and
   * again at the moment of every write.
   */
  assertUnlocked?: () => void;
  /** After each local write; `rv` is the revision number written (the sync engine tracks it as pending). */
  onWrite: (
    id: string,
    change: { action: 'create' | 'update' | 'delete'; kind: string; patientId: string; rv: number },
  ) => void;
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

/** What a read-modify-write produces: new content (and, when given, new conflict state), or a deletion. */
type Outcome = { data: Record<string, unknown>; conflictData?: JsonObject | null } | { delete: true };

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
    const size = jsonBytes(result.value);
    if (size > MAX_RECORD_BYTES) {
      throw tooLarge(kind, result.value, size);
    }
    return result.value;
  };

  const toPlain = (doc: RxDocument<DeviceRecord>): PlainRecord => ({
    ...doc.toMutableJSON(),
    _deleted: false,
  });
  // An AuditEntry in the store came from an older build's `add` (the server never took it): not shown.
  const load = async (id: string): Promise<PlainRecord | null> => {
    const doc = await collection.findOne(id).exec();
    return doc && !isDedicatedKind(doc.kind) ? toPlain(doc) : null;
  };

  const requireWritable = (stream: string): void => {
    if (!deps.canWrite(stream)) {
      throw new RecordError('NOT_WRITABLE', `this device may not write ${stream} (no write consent)`);
    }
  };

  // Insert, never upsert: an `add` that reuses an id must not replace a record (possibly another
  // author's) without the history and conflict handling of `update`.
  // RxDB's insert refuses a live document with that id (CONFLICT) and takes the place of a deleted one.
  const create = async (doc: Omit<PlainRecord, '_deleted' | 'rv'>): Promise<void> => {
    // The server takes a version only with a higher revision number than the one it holds, so a record
    // re-added under the id of a deleted one continues the tombstone's counter; starting again at 1
    // would leave it unsent forever.
    const [tombstone] = await collection.storageInstance.findDocumentsById([doc.id], true);
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
    deps.onWrite(doc.id, { action: 'create', kind: doc.kind, patientId: doc.patientId, rv });
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
    next: (current: DeviceRecord) => Outcome,
  ): Promise<RecordOf<K> | null> => {
    unlocked();
    if (kind !== undefined) requireStorable(kind);
    const doc = await collection.findOne(id).exec();
    if (!doc) throw new RecordError('NOT_FOUND', `no ${kind ?? 'record'} with id ${id}`);
    if (kind !== undefined && doc.kind !== kind)
      throw new RecordError('KIND_MISMATCH', `${id} is a ${doc.kind}, not a ${kind}`);
    if (isDedicatedKind(doc.kind)) throw dedicatedKind(doc.kind);
    requireWritable(doc.stream);
    let record: RecordOf<K> | null | undefined;
    let rv = 0;
    await doc.incrementalModify((stored) => {
      const current = stored as DeviceRecord & { _deleted?: boolean };
      // A delete can land between the read above and this write (another call, or a pulled tombstone);
      // writing on would put the edit into the tombstone and report success for a record that is gone.
      if (current._deleted === true) throw new RecordError('NOT_FOUND', `no record with id ${id}`);
      unlocked();
      const now = iso();
      const outcome = next(current);
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
      record = written;
      const result: DeviceRecord = { ...version, data: written };
      if (outcome.conflictData !== undefined) {
        result.conflictData = outcome.conflictData;
        result.conflict = outcome.conflictData !== null;
      }
      return result;
    });
    if (record === undefined) throw new RecordError('NOT_FOUND', `no ${kind ?? 'record'} with id ${id}`);
    deps.onWrite(id, {
      action: record === null ? 'delete' : 'update',
      kind: doc.kind,
      patientId: doc.patientId,
      rv,
    });
    return record;
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
     * refuse the same way.
     */
    async add<K extends RecordKind>(kind: K, input: RecordInput<K>, options: { patientId?: string } = {}) {
      unlocked();
      const patientId = options.patientId ?? deps.accountId;
      const stream = streamFor(kind, patientId);
      requireWritable(stream);
      const now = iso();
      const record = validated(kind, {
        ...input,
        id: input.id ?? newId(deps.now),
        patientId,
        createdAt: now,
        updatedAt: now,
      });
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
      return record;
    },

    async update<K extends RecordKind>(
      kind: K,
      id: string,
      patch: Partial<Omit<RecordOf<K>, Managed>>,
    ): Promise<RecordOf<K>> {
      const record = await modify(id, kind, (current) => ({ data: { ...current.data, ...patch } }));
      if (record === null) throw new RecordError('NOT_FOUND', `no ${kind} with id ${id}`);
      return record;
    },

    async remove(id: string): Promise<void> {
      unlocked();
      const doc = await collection.findOne(id).exec();
      if (!doc) throw new RecordError('NOT_FOUND', `no record with id ${id}`);
      if (isDedicatedKind(doc.kind)) throw dedicatedKind(doc.kind);
      requireWritable(doc.stream);
      // One write: the tombstone gets its own revision number, so it is attributable and its tag is new.
      let rv = 0;
      await doc.incrementalModify((data) => {
        const next = data as DeviceRecord & { _deleted?: boolean };
        // A second remove racing the first must not count (and audit) a deletion twice.
        if (next._deleted === true) throw new RecordError('NOT_FOUND', `no record with id ${id}`);
        unlocked();
        next.rv = next.rv + 1;
        rv = next.rv;
        next.updatedAt = iso();
        next.author = deps.deviceId;
        next.by = deps.accountId;
        next._deleted = true;
        return next;
      });
      deps.onWrite(id, { action: 'delete', kind: doc.kind, patientId: doc.patientId, rv });
    },

    async get<K extends RecordKind>(id: string): Promise<StoredRecord<K> | null> {
      unlocked();
      const doc = await load(id);
      return doc ? toStored<K>(doc) : null;
    },

    async query<K extends RecordKind>(kind: K, options: { patientId?: string; limit?: number } = {}) {
      unlocked();
      requireStorable(kind);
      const selector: Record<string, unknown> = { kind };
      if (options.patientId !== undefined) selector['patientId'] = options.patientId;
      const query = collection.find({
        selector,
        sort: [{ updatedAt: 'desc' }],
        ...(options.limit ? { limit: options.limit } : {}),
      });
      const docs = await query.exec();
      return docs.map((d) => toStored<K>(toPlain(d)));
    },

    observe<K extends RecordKind>(
      kind: K,
      options: { patientId?: string } = {},
    ): Observable<StoredRecord<K>[]> {
      unlocked();
      requireStorable(kind);
      const selector: Record<string, unknown> = { kind };
      if (options.patientId !== undefined) selector['patientId'] = options.patientId;
      const $ = collection.find({ selector, sort: [{ updatedAt: 'desc' }] }).$;
      return $.pipe(
        map((docs) => {
          // A view opened before a lock errors at its next change rather than showing more.
          unlocked();
          return docs.map((d) => toStored<K>(toPlain(d)));
        }),
      );
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
      return modify<K>(id, undefined, (current) => {
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
        const data = choice === 'keep' ? current.data : { ...current.data, ...choice };
        return { data, conflictData: null };
      });
    },
  };
};

export type Records = ReturnType<typeof createRecords>;
