/**
 * At-rest encryption of the device store: an RxDB storage wrapper (tweetnacl secretbox). Parts:
 * at-rest-schema.ts (field, schema, query checks), clear-digest.ts, value-codec.ts (seal/open),
 * value-memory.ts, composites.ts.
 *
 * Invariants:
 * - `encrypted` fields (and local documents' `data`) are stored only as `v1.<base64url(nonce ‖ secretbox)>`.
 * - A value is bound to {db, c, i, f, r, h}: database, collection, id, field, `_rev`, clear-field digest.
 * - Opening checks that binding: a value moved, or left under clear fields rewritten on disk, is refused.
 * - Every read path opens, except `queryClear` / `queryIds`; a write's own change event reuses its plaintext.
 * - Each seal uses a fresh random 24-byte nonce; ids, indexed fields and RxDB metadata stay clear.
 * - Replication meta's `docData` refers to the records' sealed values (`r1:` composites, `m1.`), not a copy.
 * - Seal once (`streamSealing`): a version the stream sealer accepts is stored as its wire document (`s1.`).
 * - Replication checkpoints are sealed too; one stored in clear reads as none (RxDB starts over).
 * - An offload's batch is taken only if every outcome carries the binding asked for, else nothing is stored
 *   (that its envelope truly seals the value is not checked: the offload holds the key).
 * Failure modes (`AtRestError`, never plaintext in messages): AT_REST_DECRYPT_FAILED (wrong key, tampered,
 * context mismatch, a required field missing); AT_REST_INVALID_KEY (not 32 bytes); AT_REST_UNSUPPORTED_SCHEMA
 * (attachments; nested, primary or indexed encrypted paths); AT_REST_QUERY_ON_ENCRYPTED_FIELD;
 * AT_REST_ENCRYPT_FAILED (not JSON, a failed offload); AT_REST_NO_KEY (key-less wrapper); AT_REST_CLOSED
 * (every instance closed: key zeroed). A change event that fails to open errors the change stream. Not
 * covered: a document rolled back whole on disk; clear fields are readable there.
 */
import {
  type RxStorage,
  type PreparedQuery,
  type RxStorageInstance,
  getPrimaryFieldOfPrimaryKey,
  type RxStorageInstanceCreationParams,
  clone,
  type JsonSchema,
  META_INSTANCE_SCHEMA_TITLE,
  type RxDocumentData,
  type RxDocumentWriteData,
  wrapRxStorageInstance,
} from 'rxdb';
import type { CryptoOffload } from '../offload/crypto-offload';
import { sliceQueue } from '../core/slices';
import { isAtRestKey, invalidAtRestKey, AtRestError, decryptError } from '../offload/at-rest-jobs';
import { map, share } from 'rxjs';
import { type ValueMemory, forgetAll, createValueMemory, type DocBinding } from './value-memory';
import { createClearDigests, type Keyring, createClearText } from './clear-digest';
import {
  encryptedFieldsOf,
  checkSchema,
  META_DOC_FIELD,
  META_CHECKPOINT_FIELD,
  rejectEncryptedFieldQuery,
} from './at-rest-schema';
import { createValueCodec } from './value-codec';
import type { StreamRecordState, StreamSealing } from './stream-sealing';
import { createStreamVersions, STREAM_CONFLICT_MARK, type StreamVersions } from './stream-versions';
import { createStreamMetaCopies, type StreamMetaCopies } from './stream-meta';
import { createCtDigests } from './stored-version';

export { AT_REST_RECENT_VALUES } from './value-memory';

export {
  AT_REST_ERROR_CODES,
  AT_REST_KEY_LENGTH,
  AtRestError,
  boundText,
  invalidAtRestKey,
  isAtRestError,
  runAtRestJob,
  type AtRestErrorCode,
  type AtRestErrorDetails,
  type AtRestJob,
  type AtRestJobResult,
  type AtRestOpenOutcome,
  type AtRestSealOutcome,
  type SealContext,
} from '../offload/at-rest-jobs';
export type { AtRestDecryptReason } from '../offload/at-rest-open-failures';

/** Options of `wrapWithAtRestEncryption`: the storage to wrap and the key. */
export interface AtRestEncryptionOptions<Internals, InstanceCreationOptions> {
  readonly storage: RxStorage<Internals, InstanceCreationOptions>;
  /** 32-byte secretbox key (the account's `hale/local/v1` key). Copied. */
  readonly key: Uint8Array;
  /** Encrypt `data` of RxDB local documents (device metadata). Default true. */
  readonly encryptLocalDocuments?: boolean;
  /**
   * Runs batches of seals and opens elsewhere (a worker thread), so that a core other than the one
   * running RxDB does the cryptography. Default: in this thread. Change events are always opened
   * here, synchronously (they are values this instance has just sealed, so remembered).
   */
  readonly offload?: CryptoOffload;
  /** Open the stored versions a read returns in slices (`sliceQueue`): a page's thread, no long task. */
  readonly slicedReads?: boolean;
  /**
   * Seal once (stream-versions.ts): the collection whose local stream record versions are stored as the
   * bytes they travel as, once `sealing` has a sealer attached. Absent: every value under the at-rest key.
   */
  readonly streamSealing?: { readonly collection: string; readonly sealing: StreamSealing };
}

/** A document's clear fields: ids, indexed and routing fields, RxDB's `_meta`; the encrypted ones left out. */
export type ClearFields<RxDocType> = Partial<RxDocumentData<RxDocType>>;
const sealedClear = new WeakMap<object, (prepared: PreparedQuery<unknown>) => Promise<object[]>>();

/**
 * The documents `prepared` selects with their clear fields only, read without opening any value: ids and
 * the fields a query may use lie in clear (a query on an encrypted field is refused as by `query`), so a
 * listing costs no decryption and a stored value that no longer opens does not fail it (reading that
 * document still does). The clear fields are as on disk, not checked against their binding (opening the
 * document checks them). An instance this wrapper did not make answers through its own `query`.
 */
export async function queryClear<RxDocType>(
  instance: RxStorageInstance<RxDocType, unknown, unknown>,
  prepared: PreparedQuery<RxDocType>,
): Promise<ClearFields<RxDocType>[]> {
  // RxDB wraps instances in layers of its own (`originalStorageInstance`); queries pass them unchanged.
  for (let layer: unknown = instance; typeof layer === 'object' && layer !== null;) {
    const sealed = sealedClear.get(layer);
    if (sealed !== undefined) return await sealed(prepared);
    layer = (layer as { originalStorageInstance?: unknown }).originalStorageInstance;
  }
  return (await instance.query(prepared)).documents;
}

/** The primary keys of the documents `prepared` selects, read without opening any value (`queryClear`). */
export async function queryIds<RxDocType>(
  instance: RxStorageInstance<RxDocType, unknown, unknown>,
  prepared: PreparedQuery<RxDocType>,
): Promise<string[]> {
  const primary = getPrimaryFieldOfPrimaryKey(instance.schema.primaryKey);
  return (await queryClear(instance, prepared)).map((doc) =>
    String((doc as Record<string, unknown>)[primary]),
  );
}

/**
 * Wraps an RxDB storage so record content, conflict data and the device's bookkeeping are sealed on disk;
 * what stays clear for indexes is `RECORDS_SCHEMA`'s indexed fields.
 * - Do not add RxDB's own encryption plugin.
 *
 * @throws `AtRestError` (`AT_REST_ERROR_CODES`, `e.details`).
 */
export function wrapWithAtRestEncryption<Internals, InstanceCreationOptions>(
  options: AtRestEncryptionOptions<Internals, InstanceCreationOptions>,
): RxStorage<Internals, InstanceCreationOptions> {
  if (!isAtRestKey(options.key)) {
    throw invalidAtRestKey();
  }
  return wrapStorage(
    options.storage,
    options.key.slice(),
    options.encryptLocalDocuments ?? true,
    options.offload ?? null,
    options.streamSealing ?? null,
    options.slicedReads ?? false,
  );
}

/**
 * Lets a database be removed by someone who no longer has the key (a wiped or forgotten device):
 * removal only opens and drops instances, and any attempt to seal or open a value throws.
 */
export function wrapWithoutAtRestKey<Internals, InstanceCreationOptions>(
  storage: RxStorage<Internals, InstanceCreationOptions>,
): RxStorage<Internals, InstanceCreationOptions> {
  return wrapStorage(storage, null, true, null, null, false);
}

function wrapStorage<Internals, InstanceCreationOptions>(
  storage: RxStorage<Internals, InstanceCreationOptions>,
  key: Uint8Array | null,
  encryptLocalDocuments: boolean,
  offload: CryptoOffload | null,
  streamSealing: { readonly collection: string; readonly sealing: StreamSealing } | null,
  slicedReads: boolean,
): RxStorage<Internals, InstanceCreationOptions> {
  const memories = new Map<string, ValueMemory>();
  // Seal once: each database's records instance's stored versions, for its replication-meta copies.
  const streamVersionsOf = new Map<string, StreamVersions>();
  const ctDigests = createCtDigests();
  // The wrapper outlives the database (`db.storage` stays reachable after `close()`), so its key copy
  // and the plaintext it remembers must not: when the last instance it created is closed or removed
  // (RxDB's internal store, always ours and closed last, keeps the count up while a database is open),
  // the key is zeroed and the memories dropped, and every later seal or open is refused.
  const digests = createClearDigests();
  const inTurn = sliceQueue();
  let live = 0;
  let closed = false;
  const dispose = (): void => {
    closed = true;
    key?.fill(0);
    for (const memory of memories.values()) forgetAll(memory);
    memories.clear();
    streamVersionsOf.clear();
    ctDigests.forget();
    digests.forget();
    streamSealing?.sealing.forget();
  };
  const keyring: Keyring = {
    current() {
      if (closed)
        throw new AtRestError('AT_REST_CLOSED', 'the database using this at-rest storage was closed');
      return key;
    },
  };
  const track = <T extends { close(): Promise<void>; remove(): Promise<void> }>(instance: T): T => {
    live++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      live--;
      if (live === 0) dispose();
    };
    const close = instance.close.bind(instance);
    const remove = instance.remove.bind(instance);
    instance.close = () => close().finally(release);
    instance.remove = () => remove().finally(release);
    return instance;
  };

  async function createStorageInstance<RxDocType>(
    params: RxStorageInstanceCreationParams<RxDocType, InstanceCreationOptions>,
  ): Promise<RxStorageInstance<RxDocType, Internals, InstanceCreationOptions>> {
    const schema = params.schema;
    const fields = encryptedFieldsOf(params.collectionName, schema, encryptLocalDocuments);
    if (fields.length === 0) return track(await storage.createStorageInstance(params));

    const primaryPath: string = getPrimaryFieldOfPrimaryKey(schema.primaryKey);
    checkSchema(schema, fields, primaryPath, params.collectionName);

    const innerSchema = clone(schema);
    delete innerSchema.encrypted;
    const innerProperties = innerSchema.properties as Record<string, JsonSchema>;
    for (const field of fields) innerProperties[field] = { type: 'string' };
    const inner = await storage.createStorageInstance<RxDocType>({ ...params, schema: innerSchema });

    const required = new Set<string>((schema.required ?? []).map(String));
    const database = params.databaseName;
    const collection = params.collectionName;
    const encryptedSet = new Set(fields);
    const clearTextOf = createClearText(encryptedSet);

    // RxDB's replication metadata: `docData` is a full copy of a replicated document (see composites),
    // `checkpointData` where the next pull or push starts (see `META_CHECKPOINT_FIELD`).
    const isMeta =
      schema.title === META_INSTANCE_SCHEMA_TITLE &&
      fields.length === 2 &&
      fields.includes(META_DOC_FIELD) &&
      fields.includes(META_CHECKPOINT_FIELD);
    // Taken at each use, not here: after `dispose` an instance must not reach a dropped memory.
    const memoryOf = (): ValueMemory => {
      keyring.current();
      let memory = memories.get(database);
      if (memory === undefined) {
        memory = createValueMemory();
        memories.set(database, memory);
      }
      return memory;
    };
    const values = createValueCodec(keyring, database, collection, offload, memoryOf, isMeta);
    // Seal once: this instance's local stream record versions (`data` holds the version, `conflictData`
    // the mark), opened through the stream keys; any other document as below.
    const stream: StreamVersions | null =
      streamSealing !== null &&
      streamSealing.collection === collection &&
      encryptedSet.has('data') &&
      encryptedSet.has('conflictData')
        ? createStreamVersions({ keyring, database, collection, sealing: streamSealing.sealing, ctDigests })
        : null;
    if (stream !== null) streamVersionsOf.set(database, stream);
    // Seal once, step 5: a meta copy of a record kept as a stream version refers to that version's bytes.
    const metaCopies: StreamMetaCopies | null =
      streamSealing !== null && isMeta
        ? createStreamMetaCopies({
            keyring,
            database,
            collection,
            sealing: streamSealing.sealing,
            versions: () => streamVersionsOf.get(database) ?? null,
            ctDigests,
          })
        : null;
    /** Stores `out` as a stream version when it can (answers whether it did). */
    const toStreamForm = async (out: Record<string, unknown>, binding: DocBinding): Promise<boolean> => {
      if (stream === null) return false;
      let form = stream.known(binding, out['data']);
      form ??= stream.received(binding, out as unknown as StreamRecordState) ?? undefined;
      if (form === undefined && stream.sealsFor(out['author']))
        form = (await stream.sealLater(binding, { ...out } as unknown as StreamRecordState)) ?? undefined;
      if (form === undefined) return false;
      out['data'] = form;
      out['conflictData'] = STREAM_CONFLICT_MARK;
      return true;
    };
    /** The plaintext of a stored stream version, or null when `doc` holds none. */
    const fromStreamForm = (
      doc: RxDocumentData<Record<string, unknown>>,
      binding: DocBinding,
    ): RxDocumentData<RxDocType> | null => {
      const stored = doc['data'];
      if (stream === null || !stream.isStreamValue(stored)) return null;
      const content = stream.open(binding, doc, stored);
      return {
        ...doc,
        data: content.data,
        conflictData: content.conflictData,
      } as unknown as RxDocumentData<RxDocType>;
    };
    // RxDB's meta schema cannot require `docData` (checkpoints have none), yet its replication and the
    // conflict handler read members of a document's copy: one removed on disk failed each push with a
    // TypeError. `bindingOf` requires it of every meta document that is not a checkpoint.
    const itemIdOf = (doc: Record<string, unknown>, field: string): string | undefined =>
      isMeta && field === META_DOC_FIELD && typeof doc['itemId'] === 'string' ? doc['itemId'] : undefined;
    /** A checkpoint stored in clear (written before checkpoints were sealed, or on disk): read as none. */
    const clearCheckpoint = (field: string, stored: unknown): boolean =>
      isMeta && field === META_CHECKPOINT_FIELD && typeof stored !== 'string';

    // The plaintext of each stored form this instance hands its inner storage, while that write is in
    // flight. RxDB's storages emit a write's change events with the very row objects they were given
    // (`categorizeBulkWriteRows`), before the write resolves, so an event is answered from here: no clear
    // digest to derive, no memory lookup, nothing opened, however large the write. Nothing read from the
    // inner storage is ever looked up here (identity of objects this instance made), entries leave when
    // the inner write settles, and a write that never reached it leaves its stored forms unreferenced, so
    // the weak map lets them go.
    const inFlight = new WeakMap<object, Readonly<Record<string, unknown>>>();
    const innerBulkWrite = inner.bulkWrite.bind(inner);
    inner.bulkWrite = async (rows, context) => {
      try {
        return await innerBulkWrite(rows, context);
      } finally {
        for (const row of rows) {
          inFlight.delete(row.document);
          if (row.previous) inFlight.delete(row.previous);
        }
      }
    };
    /** The plaintext form of a stored document this instance produced for a write in flight, if it is one. */
    const inFlightPlain = (
      doc: RxDocumentData<Record<string, unknown>>,
    ): RxDocumentData<RxDocType> | undefined => {
      const plain = inFlight.get(doc);
      if (plain === undefined) return undefined;
      keyring.current();
      const out: Record<string, unknown> = { ...doc };
      for (const field of fields) if (out[field] !== undefined) out[field] = plain[field];
      return out as unknown as RxDocumentData<RxDocType>;
    };

    const toStorage = async (
      doc: RxDocumentWriteData<RxDocType>,
    ): Promise<RxDocumentData<Record<string, unknown>>> => {
      keyring.current();
      const out: Record<string, unknown> = { ...doc };
      const documentId = out[primaryPath];
      if (typeof documentId !== 'string') {
        throw new AtRestError('AT_REST_ENCRYPT_FAILED', 'document id must be a string', { collection });
      }
      const rev = typeof out['_rev'] === 'string' ? out['_rev'] : '';
      const h = digests.of(clearTextOf(out), () => {
        throw new AtRestError('AT_REST_ENCRYPT_FAILED', 'clear fields are not JSON', {
          reason: 'NOT_JSON',
          collection,
          documentId,
        });
      });
      const binding: DocBinding = { i: documentId, r: rev, h };
      if (await toStreamForm(out, binding)) {
        inFlight.set(out, doc);
        return out as RxDocumentData<Record<string, unknown>>;
      }
      const pending: Array<Promise<void>> = [];
      for (const field of fields) {
        const value = out[field];
        if (value === undefined) continue;
        const metaForm =
          metaCopies !== null && field === META_DOC_FIELD
            ? metaCopies.formOf(binding, itemIdOf(out, field), value)
            : null;
        if (metaForm !== null) {
          out[field] = metaForm;
          continue;
        }
        const known = values.known(binding, field, value);
        if (known !== undefined) out[field] = known;
        else
          pending.push(
            values.sealLater(binding, field, value, itemIdOf(out, field)).then((e) => void (out[field] = e)),
          );
      }
      if (pending.length > 0) await Promise.all(pending);
      inFlight.set(out, doc);
      return out as RxDocumentData<Record<string, unknown>>;
    };

    /** Checks the clear parts of a stored document; answers the id, revision and clear digest that bind its values. */
    const bindingOf = (doc: RxDocumentData<Record<string, unknown>>): DocBinding => {
      keyring.current();
      const documentId = doc[primaryPath];
      const rev = typeof doc['_rev'] === 'string' ? doc['_rev'] : '';
      for (const field of fields) {
        const where = { database, collection, field, documentId: String(documentId) };
        if (doc[field] === undefined) {
          if (required.has(field) || (isMeta && field === META_DOC_FIELD && doc['isCheckpoint'] !== '1'))
            throw decryptError('MISSING', 'required encrypted field is missing', where);
        } else if (typeof documentId !== 'string') {
          throw decryptError('MALFORMED', 'document id is not a string', where);
        }
      }
      const h = digests.of(clearTextOf(doc), () => {
        throw decryptError('MALFORMED', 'clear fields are not JSON', {
          database,
          collection,
          documentId: String(documentId),
        });
      });
      return { i: String(documentId), r: rev, h };
    };

    const fromStorageNow = (doc: RxDocumentData<Record<string, unknown>>): RxDocumentData<RxDocType> => {
      const binding = bindingOf(doc);
      const streamed = fromStreamForm(doc, binding);
      if (streamed !== null) return streamed;
      const out: Record<string, unknown> = { ...doc };
      for (const field of fields) {
        const stored = out[field];
        if (stored === undefined) continue;
        if (clearCheckpoint(field, stored)) delete out[field];
        else if (metaCopies?.isForm(stored) && field === META_DOC_FIELD)
          out[field] = metaCopies.open(binding, doc['itemId'], stored);
        else out[field] = values.open(binding, field, stored, itemIdOf(doc, field));
      }
      // The stored shape is RxDocType with the encrypted fields restored above.
      return out as unknown as RxDocumentData<RxDocType>;
    };

    const fromStorage = async (
      doc: RxDocumentData<Record<string, unknown>>,
    ): Promise<RxDocumentData<RxDocType>> => {
      if (slicedReads && stream?.isStreamValue(doc['data'])) return inTurn(() => fromStorageNow(doc));
      const binding = bindingOf(doc);
      const streamed = fromStreamForm(doc, binding);
      if (streamed !== null) return streamed;
      const out: Record<string, unknown> = { ...doc };
      const pending: Array<Promise<void>> = [];
      for (const field of fields) {
        const stored = out[field];
        if (stored === undefined) continue;
        if (clearCheckpoint(field, stored)) {
          delete out[field];
          continue;
        }
        if (metaCopies?.isForm(stored) && field === META_DOC_FIELD) {
          out[field] = metaCopies.open(binding, doc['itemId'], stored);
          continue;
        }
        const known = values.remembered(binding, field, stored);
        if (known.hit) out[field] = known.value;
        else
          pending.push(
            values.openLater(binding, field, stored, itemIdOf(doc, field)).then((v) => void (out[field] = v)),
          );
      }
      if (pending.length > 0) await Promise.all(pending);
      return out as unknown as RxDocumentData<RxDocType>;
    };

    const wrapped = wrapRxStorageInstance<RxDocType>(schema, inner, toStorage, fromStorage);
    // RxDB's helper decrypts change events asynchronously and counts them in flight; an event that
    // fails to decrypt never leaves that count, and every later bulkWrite then waits forever.
    // Decryption here is synchronous, so events still go out before the write resolves, and a
    // failure errors the stream (RxDB reports it as an unhandled error) instead of stalling writes.
    // One decrypting pipeline shared by every subscriber (RxDB subscribes several times per instance):
    // each change is opened once, not once per listener. Synchronous, so write order is kept.
    const decryptedChanges = inner.changeStream().pipe(
      map((bulk) => ({
        ...bulk,
        events: bulk.events.map((event) => ({
          ...event,
          documentData: inFlightPlain(event.documentData) ?? fromStorageNow(event.documentData),
          previousDocumentData: event.previousDocumentData
            ? (inFlightPlain(event.previousDocumentData) ?? fromStorageNow(event.previousDocumentData))
            : event.previousDocumentData,
        })),
      })),
      share(),
    );
    wrapped.changeStream = () => decryptedChanges;
    const guardedQuery = wrapped.query.bind(wrapped);
    const guardedCount = wrapped.count.bind(wrapped);
    wrapped.query = (prepared: PreparedQuery<RxDocType>) => {
      rejectEncryptedFieldQuery(prepared.query, encryptedSet, collection);
      return guardedQuery(prepared);
    };
    wrapped.count = (prepared: PreparedQuery<RxDocType>) => {
      rejectEncryptedFieldQuery(prepared.query, encryptedSet, collection);
      return guardedCount(prepared);
    };
    sealedClear.set(wrapped, async (prepared) => {
      rejectEncryptedFieldQuery(prepared.query, encryptedSet, collection);
      const { documents } = await inner.query(prepared as PreparedQuery<RxDocType>);
      return documents.map((doc) => {
        const clear: Record<string, unknown> = { ...doc };
        for (const field of encryptedSet) delete clear[field];
        return clear;
      });
    });
    return track(wrapped);
  }

  // Spread keeps storage-specific settings (e.g. Dexie's) visible to RxDB; the name is kept like
  // RxDB's own encryption wrapper does, so name-based checks (dev-mode validators) still work.
  return { ...storage, name: storage.name, rxdbVersion: storage.rxdbVersion, createStorageInstance };
}
