// The typed record API the app uses: every write is validated against the model and lands in the local store
// at once (offline first); replication carries it to the server later.
//
// Invariants:
// - A write resolves once `onWrite` settled: its audit note is on disk (audit-log.ts), never lost to a crash.
// - Locked: nothing is read or written here (AccountError LOCKED, `assertUnlocked`).
// - A record over MAX_RECORD_BYTES is refused (VALIDATION_FAILED): it could never reach the server.
// - `update` builds on the record as stored; one sent back whole, read before a later write: RECORD_CHANGED.
// - `resolveConflict` applies only while the record holds the `rv` the person was shown, else RECORD_CHANGED.
// - Every write to a record on this device, local or merged, raises its `rv`.
// - Versioned kinds (HealthDocument, LabResult, TreatmentPlan) are versioned here; old versions are final.
// - Changed content makes a version (provenance naming this device, the caller's `reason`); else no `reason`.
// - Author fields are filled with this account and device; naming anyone else is AUTHOR_MISMATCH.
// - Times of the write (`provenance.at`, `signedAt`, `acknowledgement.at`, `uploadedAt`) are the write's own.
// - Final (RECORD_FINAL): a signed NoteSignature; a NoteVersion a signed one names, or its draft moved past.
// - A signed or amended MedicalNote is not removed (removal-rules.ts).
// - A new NoteVersion takes a number no other NoteVersion of its note held here has (VALIDATION_FAILED).
// - The model's write rules (`checkWriteRules`) hold for add, update and merged content; over a stored state
//   only rules reading changed fields. A side taken as it was is not judged.
// - What these checks read (notes, signatures, Profiles' birth dates) is read just before the write.
// - Ids, `patientId` and conflict choices from untyped code are checked, never read as a selector.
// - `query`, `observe`: one patient's records, the session's account unless `patientId` is given.
// - `writeAll`: one action's records in one store write and push group (all or none); overtaken
//   WRITE_ALL_TRIES times, the others stay written (RECORD_CHANGED).
// - Received versions are checked by the sync engine (signature, model), not here. A refusal writes nothing.
import {
  type RecordKind,
  type RecordOf,
  validateRecord,
  type WriteRuleContext,
  checkWriteRules,
  transitionIssues,
  authorshipIssues,
  isIsoDate,
  isRecordKind,
  sameJson,
  newId,
} from '@hale/model';
import { type RxDocument, type RxDocumentData, RxError } from 'rxdb';
import { slices } from '../core/slices';
import type { DeviceRecord, JsonObject } from '../store/device-db';
import { type PlainRecord, emptied } from './plain-record';
import {
  readNoteVersionContexts,
  noteVersionRules,
  removalRules,
  recreationIssues,
  readNoteVersionNumbers,
} from './removal-rules';
import { sidesOf, isDeletionSide, EARLIER_CONFLICTS_KEY } from './conflicts';
import { type Observable, filter, map, takeUntil } from 'rxjs';
import {
  type RecordsDeps,
  isDedicatedKind,
  type Stamp,
  REASON_KINDS,
  type HeldVersion,
  type Prepared,
  type Outcome,
  requireStorable,
  dedicatedKind,
  Unchanged,
  type RecordInput,
  type WriteOptions,
  streamFor,
  isJsonObject,
  type Managed,
  type WriteOp,
  type RecordChange,
  type StoredRecord,
  toStored,
} from './record-types';
import {
  RecordError,
  unplainField,
  jsonBytes,
  MAX_RECORD_BYTES,
  tooLarge,
  NOT_WRITABLE_BECAUSE,
} from './record-errors';
import {
  invalidField,
  transitionRefusal,
  finalField,
  filledForCreate,
  requireFreeVersionNumber,
  requireReadAsStored,
  successorOf,
} from './write-history';
import { BY_TEXT, textFloor } from './list-order';
import { createListedRecords } from './listed-records';
import { createNewest, type NewestOptions, type NewestPage } from './newest';
import { SERIES_KINDS } from './newest-digest';

export { type NewestOptions, type NewestPage } from './newest';
export { type RecordErrorCode, RecordError, MAX_RECORD_BYTES } from './record-errors';
export {
  type RecordInput,
  type WriteOptions,
  type WriteOp,
  type StoredRecord,
  type RecordChange,
  type RecordsDeps,
  isRecordsApiKind,
} from './record-types';

/** Times `writeAll` checks and writes a record another write overtook before it gives up. */
const WRITE_ALL_TRIES = 3;

/**
 * A write `writeAll` checked: the version, and the stored state it replaces (a tombstone, or none: a new
 * record); for an update, read just before the write, it must still be the one checked (`baseRv`).
 */
interface PlannedWrite {
  previous?: RxDocumentData<DeviceRecord>;
  baseRv?: number;
  document: DeviceRecord & { _deleted: boolean };
  action: 'create' | 'update';
}

/** The state a store holds under an id, deleted or not; null when it holds none. */
type StoredState = RxDocumentData<DeviceRecord> | null;

/**
 * What one `writeAll` reads once for all its adds: the state under each id an add gives (null: none),
 * and the write rules' context per kind and patient. Read before the checks; a retry reads again.
 */
interface AddBatch {
  readonly stored: ReadonlyMap<string, StoredState>;
  readonly contexts: Map<string, Promise<WriteRuleContext | undefined>>;
}

/**
 * The records API over a device's store (`session.records`), as `HaleRecords` describes it; beyond it,
 * `observeAcross` and `queryAcross` list a kind across every patient the device holds, and
 * `observeChanges(kinds)` emits each stored write with the version it replaced.
 *
 * @throws `RecordError` (`RecordErrorCode`); a locked account is `AccountError` `LOCKED`.
 */
export const createRecords = (deps: RecordsDeps) => {
  const { collection } = deps;
  const iso = (): string => new Date(deps.now()).toISOString();
  const unlocked = (): void => deps.assertUnlocked?.();
  // Lists read each stored revision once and share it (listed-records.ts).
  const lists = createListedRecords();
  const newest = createNewest({
    collection,
    lists,
    now: deps.now,
    unlocked,
    ...(deps.meta ? { meta: deps.meta } : {}),
    ...(deps.later ? { later: deps.later } : {}),
  });

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

  /** Refuses (NOT_AUTHOR) a change (`next`; null: a removal) of `held` that is another account's to make. */
  const requireAuthor = (held: DeviceRecord, next: JsonObject | null): void => {
    if (!isRecordKind(held.kind)) return;
    const [issue] = authorshipIssues(held.kind, held, next, deps.accountId, held.patientId);
    if (issue !== undefined)
      throw new RecordError('NOT_AUTHOR', `${held.kind} ${held.id}: ${issue.reason}`, undefined, issue.field);
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
  const ruleContext = async (
    kind: string,
    patientId: string,
    batch?: AddBatch,
  ): Promise<WriteRuleContext | undefined> => {
    if (kind !== 'Immunization') return undefined;
    if (batch !== undefined) {
      const key = `${kind}\u0000${patientId}`;
      const known = batch.contexts.get(key) ?? ruleContext(kind, patientId);
      batch.contexts.set(key, known);
      return await known;
    }
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
  /** The revision number a new record takes, and the tombstone it takes the place of (see `create`). */
  const prepareCreate = async (
    doc: Omit<PlainRecord, '_deleted' | 'rv'>,
    stored?: StoredState,
  ): Promise<{ rv: number; tombstone: RxDocumentData<DeviceRecord> | undefined }> => {
    // The server takes a version only with a higher revision number than the one it holds, so a record
    // re-added under the id of a deleted one continues the tombstone's counter; starting again at 1
    // would leave it unsent forever.
    const tombstone = stored === undefined ? await storedState(doc.id) : (stored ?? undefined);
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
    const deleted = tombstone?._deleted === true;
    return { rv: deleted ? tombstone.rv + 1 : 1, tombstone: deleted ? tombstone : undefined };
  };
  /** The state held under `id`, deleted or not; null when none. */
  const storedState = async (id: string): Promise<RxDocumentData<DeviceRecord> | null> =>
    (await collection.storageInstance.findDocumentsById([id], true))[0] ?? null;

  /** What `writeAll` reads once for its adds: the states under the ids they give, and rule contexts. */
  const addBatch = async (ops: readonly WriteOp[]): Promise<AddBatch> => {
    const ids = [
      ...new Set(
        ops.flatMap((op) => {
          const id = op.op === 'add' && isJsonObject(op.input) ? op.input['id'] : undefined;
          return typeof id === 'string' ? [id] : [];
        }),
      ),
    ];
    const found = ids.length === 0 ? [] : await collection.storageInstance.findDocumentsById(ids, true);
    const stored = new Map<string, StoredState>(ids.map((id) => [id, null]));
    for (const doc of found) stored.set(doc.id, doc);
    return { stored, contexts: new Map() };
  };
  const create = async (doc: Omit<PlainRecord, '_deleted' | 'rv'>): Promise<void> => {
    const { rv } = await prepareCreate(doc);
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
    /** Only check: every rule is applied to the state held now, and nothing is written. */
    check = false,
    /** With `check`: the write that would be made is added here (`writeAll`). */
    plan?: PlannedWrite[],
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
    type Stored = DeviceRecord & { _deleted?: boolean };
    const step = (stored: Stored): Stored => {
      const current = stored;
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
        requireAuthor(current, null);
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
      if (
        outcome.keepIfSame === true &&
        outcome.conflictData === undefined &&
        sameJson({ ...written, updatedAt: null }, { ...current.data, updatedAt: null })
      ) {
        record = validated(current.kind as K, current.data);
        unchanged = true;
        throw new Unchanged('unchanged');
      }
      if (outcome.ours === true) {
        requireAuthor(current, written);
        requireTransition(current.kind as K, current.data, written);
        requireWriteRules(current.kind as K, written, now, current.data, prepared?.context);
      }
      record = written;
      const result: DeviceRecord = { ...version, data: written };
      if (outcome.conflictData !== undefined) {
        result.conflictData = outcome.conflictData;
        result.conflict = outcome.conflictData !== null;
      }
      if (check) {
        // RxDB hands the stored state without its storage fields (`_rev`): `writeAll` reads them.
        plan?.push({ baseRv: current.rv, document: { ...result, _deleted: false }, action: 'update' });
        throw new Unchanged('checked');
      }
      return result;
    };
    // A check reads the state held now and writes nothing: through RxDB's write queue, a modifier that
    // throws still has the unchanged state written again (a new `_rev`), which a `writeAll` then finds moved.
    const write = check
      ? Promise.resolve().then(() => step({ ...doc.toMutableJSON(false), _deleted: doc.deleted }))
      : doc.incrementalModify(step);
    try {
      await write;
    } catch (error) {
      if (!(error instanceof Unchanged)) throw error;
    }
    if (record === undefined) throw new RecordError('NOT_FOUND', `no ${kind ?? 'record'} with id ${id}`);
    if (unchanged || check) return record;
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

  /** `add`, or with `check` only its checks (every rule on the states held now; nothing written). */
  const addRecord = async <K extends RecordKind>(
    kind: K,
    input: RecordInput<K>,
    options: { patientId?: string } & WriteOptions,
    check: boolean,
    plan?: PlannedWrite[],
    batch?: AddBatch,
  ): Promise<RecordOf<K>> => {
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
    const context = await ruleContext(kind, patientId, batch);
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
    const doc = {
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
    };
    if (check) {
      const known = batch?.stored.get(record.id);
      const stored = known === undefined ? await storedState(record.id) : known;
      if (stored !== null && !stored._deleted)
        throw new RecordError(
          'ALREADY_EXISTS',
          `a record with id ${record.id} exists already; update it instead`,
        );
      if (plan !== undefined) {
        const { rv, tombstone } = await prepareCreate(doc, stored);
        const fresh = { ...doc, rv, _deleted: false };
        plan.push({ ...(tombstone ? { previous: tombstone } : {}), document: fresh, action: 'create' });
      }
      return record;
    }
    await create(doc);
    // A copy: the store keeps `record` itself (the at-rest layer remembers written values by reference),
    // so a caller changing what it was answered would change what is read and sent, unvalidated.
    return structuredClone(record);
  };

  /** `update`, or with `check` only its checks (nothing written). */
  const updateRecord = async <K extends RecordKind>(
    kind: K,
    id: string,
    patch: Partial<Omit<RecordOf<K>, Managed>>,
    options: WriteOptions,
    check: boolean,
    plan?: PlannedWrite[],
  ): Promise<RecordOf<K>> => {
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
      check,
      plan,
    );
    if (record === null) throw new RecordError('NOT_FOUND', `no ${kind} with id ${id}`);
    return record;
  };

  return {
    /**
     * Adds a record for `patientId` (default: this account). Throws VALIDATION_FAILED naming the field,
     * also for a record over MAX_RECORD_BYTES (naming its largest field); `update` and `resolveConflict`
     * refuse the same way. Author fields left out are this session's, a history left out starts at
     * version 1 (module comment); `reason` goes into a LabResult's or TreatmentPlan's provenance.
     */
    add: <K extends RecordKind>(
      kind: K,
      input: RecordInput<K>,
      options: { patientId?: string } & WriteOptions = {},
    ): Promise<RecordOf<K>> => addRecord(kind, input, options, false),

    /**
     * Several writes that are one action of a person (a note's header and its text): all or none. Each is
     * checked against every rule first, on the states held now; only if none is refused are they written,
     * in one write of the local store (one transaction, one change RxDB hands to the push together), as one
     * group the server stores all or none (`onGroup`). A refusal writes none (the first is thrown). A write
     * another one to the same record overtook between the check and the write is checked and written
     * again (at most WRITE_ALL_TRIES times; what the others wrote stays then, see the module comment).
     * Resolves to the records, in order (an update that changes nothing writes nothing).
     */
    async writeAll(ops: readonly WriteOp[]): Promise<RecordOf<RecordKind>[]> {
      const planOf = async (
        op: WriteOp,
        plan: PlannedWrite[],
        batch?: AddBatch,
      ): Promise<RecordOf<RecordKind>> =>
        op.op === 'add'
          ? await addRecord(op.kind, op.input, op.options ?? {}, true, plan, batch)
          : await updateRecord(op.kind, op.id, op.patch, op.options ?? {}, true, plan);
      const results: RecordOf<RecordKind>[] = [];
      let plan: PlannedWrite[] = [];
      // The states held under the ids the adds give, read at once (not one read per add).
      const batch = await addBatch(ops);
      // Checked in slices, the event loop running between them: many writes are no long task on a page.
      const between = slices();
      for (const op of ops) {
        results.push(await planOf(op, plan, batch));
        await between();
      }
      const written: PlannedWrite[] = [];
      for (let tries = 1; plan.length > 0; tries++) {
        // The states the updates were checked on, with their storage fields: changed since, checked again.
        const updated = plan.filter((p) => p.baseRv !== undefined).map((p) => p.document.id);
        const held = new Map(
          (await collection.storageInstance.findDocumentsById(updated, true)).map((d) => [d.id, d]),
        );
        const moved = new Set(
          plan.flatMap((p) => {
            if (p.baseRv === undefined) return [];
            const base = held.get(p.document.id);
            if (base === undefined || base._deleted || base.rv !== p.baseRv) return [p.document.id];
            p.previous = base;
            return [];
          }),
        );
        const rows = plan
          .filter((p) => !moved.has(p.document.id))
          .map(({ previous, document }) => {
            const fresh = { _attachments: {}, _rev: '', _meta: { lwt: 0 }, ...previous, ...document };
            return previous ? { previous, document: fresh } : { document: fresh };
          });
        let failed = moved;
        // Why the last round wrote nothing or not all: moved before the write, or the store's answer.
        let how = `${[...moved].join(', ')}: changed before the write`;
        if (moved.size === 0) {
          unlocked();
          // Registered before the write (RxDB may hand it to the push at once), with what a round before
          // wrote of the action.
          const members = [...written, ...plan].map(({ document: d }) => ({ id: d.id, rv: d.rv }));
          const cancel = (await deps.onGroup?.(members)) ?? (() => {});
          const { error } = await collection.storageInstance.bulkWrite(rows, 'hale-write-all');
          failed = new Set(error.map((e) => e.documentId));
          how = error.map((e) => `${e.documentId}: ${e.status}`).join(', ');
          written.push(...plan.filter((p) => !failed.has(p.document.id)));
          if (failed.size === 0) break;
          if (written.length === 0) cancel();
        }
        if (tries >= WRITE_ALL_TRIES)
          throw new RecordError(
            'RECORD_CHANGED',
            `records changed while they were written (${how}); write again`,
          );
        // Overtaken by another write of the same record: checked again on what it holds now. When nothing
        // was written (a state moved before the write), the others go again as checked.
        const again = moved.size > 0 ? plan.filter((p) => !failed.has(p.document.id)) : [];
        for (const [n, op] of ops.entries()) {
          const id = String(results[n]!.id);
          if (!failed.has(id)) continue;
          // An add again under the id it was given.
          const same = op.op === 'add' ? ({ ...op, input: { ...op.input, id } } as WriteOp) : op;
          results[n] = await planOf(same, again);
        }
        plan = again;
      }
      // Noted together, in order: the notes of one action share one save of what is noted (not one each).
      await Promise.all(
        written.map(async ({ document: d, action }) => {
          await deps.onWrite(d.id, { action, kind: d.kind, patientId: d.patientId, rv: d.rv });
        }),
      );
      // Copies, as `add` answers: the store keeps the objects written.
      return results.map((r) => structuredClone(r));
    },

    /**
     * Changes the fields `patch` gives (fields given as stored are no change; a patch that changes
     * nothing writes nothing: no revision, sync or audit entry, and answers the record as stored). For a
     * versioned record (HealthDocument, LabResult, TreatmentPlan) a change of content is made the next
     * version here: pass only the changes and, for a LabResult or TreatmentPlan, why (`reason`). Refused
     * with RECORD_FINAL or AUTHOR_MISMATCH (naming the field) as the module comment says.
     */
    update: <K extends RecordKind>(
      kind: K,
      id: string,
      patch: Partial<Omit<RecordOf<K>, Managed>>,
      options: WriteOptions = {},
    ): Promise<RecordOf<K>> => updateRecord(kind, id, patch, options, false),

    /**
     * Deletes a record: one write of a tombstone with its own revision number, audited as `delete`.
     * @throws RecordError NOT_FOUND (no such record, or already removed), NOT_STORABLE (an audit-log kind),
     * NOT_WRITABLE, NOT_AUTHOR, RECORD_FINAL (a signed or amended note, a final NoteVersion); AccountError
     * LOCKED.
     */
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
        requireAuthor(next, null);
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

    /**
     * One record as stored; null when there is none (never written, deleted, being purged, or an
     * audit-log kind).
     * @throws AccountError LOCKED.
     */
    async get<K extends RecordKind>(id: string): Promise<StoredRecord<K> | null> {
      unlocked();
      const doc = await load(id);
      return doc ? toStored<K>(doc) : null;
    },

    /**
     * The records of `kind` of one patient (default: this account), newest written first, read once;
     * with `limit`, at most that many.
     * @throws RecordError NOT_STORABLE (a kind not stored as records), VALIDATION_FAILED (`options`,
     * `patientId`, `limit`); AccountError LOCKED.
     */
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
      return lists.newestWrittenFirst<K>(docs).slice(0, limit);
    },

    /**
     * As `query` without `limit`, live: emits the list again at each change.
     * - Completes when the session closes; errors LOCKED at the first change after a lock.
     * @throws RecordError NOT_STORABLE, VALIDATION_FAILED (`options`, `patientId`); AccountError LOCKED.
     */
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
          return lists.newestWrittenFirst<K>(docs);
        }),
      );
      // The store's query never ends by itself: a view of a closed session completes.
      return deps.closed$ === undefined ? view : view.pipe(takeUntil(deps.closed$));
    },

    /**
     * The newest `limit` (default 20, at most 1000) records of `kind` of one chart by clinical date, live,
     * newest first, and whether they are all there are (`complete`); with `series` (LabResult, 1 to 100), the
     * newest result of each of the first `series` tests too; read through a digest (newest.ts).
     */
    newest<K extends RecordKind>(kind: K, options: NewestOptions = {}): Observable<NewestPage<K>> {
      unlocked();
      requireStorable(kind);
      const { patientId, limit = 20, series = 0 } = optionsOf(kind, options);
      if (!(Number.isSafeInteger(limit) && limit >= 1 && limit <= 1000)) {
        throw invalidField(kind, 'limit', 'must be a whole number of records, 1 to 1000');
      }
      if (!(Number.isSafeInteger(series) && series >= 0 && series <= 100)) {
        throw invalidField(kind, 'series', 'must be a whole number of series, 0 to 100');
      }
      if (series > 0 && !SERIES_KINDS.has(kind)) {
        throw invalidField(kind, 'series', `${kind} records form no series (LabResult does, by test)`);
      }
      const view = newest.observe(kind, listedPatient(kind, patientId), limit, series);
      return deps.closed$ === undefined ? view : view.pipe(takeUntil(deps.closed$));
    },

    /** Drops the saved newest digests of a chart's `kinds` (the session calls it when their stream is purged). */
    forgetNewest(patientId: string, kinds: readonly RecordKind[]): Promise<void> {
      return newest.forget(patientId, kinds);
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
          return lists.newestWrittenFirst<K>(docs);
        }),
      );
      return deps.closed$ === undefined ? view : view.pipe(takeUntil(deps.closed$));
    },

    /**
     * Each write stored from now on of a record of `kinds` (any patient held), with the version it
     * replaced: no query, nothing read that was not written (a deletion, or a purge's emptied version,
     * is no change here).
     */
    observeChanges<K extends RecordKind>(kinds: readonly K[]): Observable<RecordChange<K>> {
      unlocked();
      for (const kind of kinds) requireStorable(kind);
      const wanted = new Set<string>(kinds);
      const stored = (doc: RxDocumentData<DeviceRecord> | undefined): StoredRecord<K> | undefined =>
        doc === undefined || doc._deleted || emptied(doc)
          ? undefined
          : toStored<K>({ ...doc, _deleted: false });
      const view = collection.$.pipe(
        filter((event) => event.operation !== 'DELETE' && wanted.has(event.documentData.kind)),
        map((event) => {
          unlocked();
          const after = stored(event.documentData);
          const before = stored(event.previousDocumentData);
          return after === undefined
            ? null
            : { kind: after.kind, after, ...(before === undefined ? {} : { before }) };
        }),
        filter((change): change is RecordChange<K> => change !== null),
      );
      return deps.closed$ === undefined ? view : view.pipe(takeUntil(deps.closed$));
    },

    /** As `observeAcross`, read once. */
    async queryAcross<K extends RecordKind>(kind: K): Promise<StoredRecord<K>[]> {
      unlocked();
      requireStorable(kind);
      const docs = await collection.find({ selector: { kind }, sort: BY_TEXT }).exec();
      return lists.newestWrittenFirst<K>(docs);
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

    /** How many stored revisions lists have read so far (each once: listed-records.ts). */
    listedDecodes: (): number => lists.decodes(),

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

/** The records part of a device session: what `createRecords` answers. */
export type Records = ReturnType<typeof createRecords>;
