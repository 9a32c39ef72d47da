/**
 * At-rest encryption of the device store: an RxDB storage wrapper built on tweetnacl secretbox.
 * This file wraps the storage and its instances; at-rest-schema.ts (which fields, schema and query checks),
 * clear-digest.ts, value-codec.ts (seal/open), value-memory.ts and composites.ts do the rest.
 *
 * Invariants
 * - Every top-level field named in a schema's `encrypted` array (and `data` of RxDB local documents,
 *   unless disabled) reaches the inner storage only as `v1.<base64url(nonce(24) ‖ secretbox(pt))>`,
 *   pt = JSON({v:2, db, c, i, f, r, h, d}): database, collection, document id, field name,
 *   document revision (`_rev`), digest of the document's clear fields (`h`, see `CLEAR_DIGEST_LABEL`)
 *   and the value. Ids, indexed/routing fields and RxDB metadata stay clear.
 * - Opening checks db/c/i/f/r/h against the stored document, so a value moved to another document,
 *   field, collection or database, paired with another revision, or left under clear fields (kind,
 *   author, `_deleted`…) rewritten on disk, is refused. `_rev`, `_meta` and `_attachments` are not in
 *   `h`: `_rev` is bound on its own, `_meta.lwt` is RxDB bookkeeping, attachments are refused.
 * - Values sealed before `h` existed (pt `v:1`) still open, bound as before to db/c/i/f/r only; every
 *   write seals anew (`_rev` changes), so a document leaves that format at its next write.
 * - Every read path decrypts (query, findDocumentsById, getChangedDocumentsSince, write-conflict
 *   results through RxDB's `wrapRxStorageInstance`; changeStream synchronously, see below), except
 *   `queryClear` / `queryIds`, which answer clear fields / ids only and open nothing. A change event of a write this
 *   instance is making is answered with the plaintext that write was given (`inFlight`: the same row
 *   objects, held only while the inner write runs); any other event is opened and checked.
 * - Each seal uses a fresh random 24-byte nonce from `crypto.getRandomValues` (via @hale/crypto's pool).
 * - RxDB's replication metadata keeps a full copy of each replicated document (`docData`); that copy
 *   refers to the records instance's envelopes of the same document where it can (`r1:` composites,
 *   see `COMPOSITE_PREFIX`) instead of sealing the same content a second time.
 * - Seal once (`streamSealing`, stream-versions.ts): in the named collection, once a sealer is attached,
 *   a version the sealer accepts is stored as its wire document instead (`data` = `s1.…`, `conflictData` =
 *   `s1`), bound by `lb` and opened through the stream key; a replication-meta copy of exactly such a
 *   version refers to its bytes (`docData` = `m1.…`, stream-meta.ts) instead of a composite; everything
 *   else as above.
 * - RxDB's replication checkpoints (`checkpointData` of its meta instance: where the next pull, per
 *   stream, and push start) are sealed too, though RxDB asks only for `docData`. One stored in clear
 *   (written before they were sealed, or on disk) is read as no checkpoint: RxDB pulls and pushes from
 *   the start again (what it already has is not applied twice), never from a position that is not its own.
 *
 * Failure modes (all thrown as `AtRestError` with a stable `code`; never garbage, never plaintext
 * in messages)
 * - wrong key, tampered or truncated value, context mismatch, non-string or missing required
 *   encrypted field (`docData` of a replication-meta document that is not a checkpoint counts as
 *   required) → `AT_REST_DECRYPT_FAILED` (with `reason`).
 * - key not 32 bytes → `AT_REST_INVALID_KEY` when wrapping; `runAtRestJob` throws it for the whole job.
 * - schema with attachments (would store file bytes in clear) or a nested, primary (or part of a composite
 *   primary key) or indexed encrypted path → `AT_REST_UNSUPPORTED_SCHEMA` when the instance is created.
 * - a replication-meta value stored plain whose plaintext is a composite's own (`{ s, refs }`: a composite
 *   stripped on disk of its prefix and referred envelopes) → `AT_REST_DECRYPT_FAILED` (MALFORMED).
 * - a query selecting or sorting on an encrypted field (it would silently compare ciphertext)
 *   → `AT_REST_QUERY_ON_ENCRYPTED_FIELD`.
 * - a change event that fails to decrypt errors the change stream (loud), never stalls writes.
 * - a value that is not JSON (NaN, Infinity, function, bigint…) → `AT_REST_ENCRYPT_FAILED`.
 * - a key-less wrapper (used only to remove a database) → `AT_REST_NO_KEY` on any seal/open.
 * - once every storage instance the wrapper created is closed or removed, the wrapper zeroes its key
 *   copy and forgets every remembered value (see `wrapStorage`); any later read or write of an
 *   encrypted field, even of a value it once remembered → `AT_REST_CLOSED`. Instances can still be
 *   created and removed (RxDB's `remove()` closes a database, then removes it through its storage).
 * - an offload that fails, answers another job or answers a malformed reply (`checkCryptoJobResult`: an
 *   envelope not of the envelope form, an opened value that is undefined), or answers any item with the
 *   binding (db/c/i/f/r/h, `boundText`) of another slot than the one asked for — each outcome carries the
 *   binding the offload sealed it with or found inside it, compared here — → `AT_REST_ENCRYPT_FAILED` for
 *   the whole batch, nothing of it remembered (two writes of one slot at once, e.g. racing inserts at one
 *   revision, share a binding: their replies crossed are not told apart); a write whose batch failed stores nothing (the inner
 *   bulkWrite runs only once every value is sealed). So outcomes crossed between jobs or permuted within
 *   one never hand a document another's value, nor store an envelope that a later open (once this
 *   memory is gone) refuses. Not checked, as it would cost the open the offload saves: that an offload's
 *   envelope really seals the value under the binding it names (the offload holds the key).
 * Not covered: rolling a whole document back to an older stored copy (clear fields and ciphertext
 * together) by someone who can write the disk; clear fields are readable on disk.
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
  );
}

/**
 * Lets a database be removed by someone who no longer has the key (a wiped or forgotten device):
 * removal only opens and drops instances, and any attempt to seal or open a value throws.
 */
export function wrapWithoutAtRestKey<Internals, InstanceCreationOptions>(
  storage: RxStorage<Internals, InstanceCreationOptions>,
): RxStorage<Internals, InstanceCreationOptions> {
  return wrapStorage(storage, null, true, null, null);
}

function wrapStorage<Internals, InstanceCreationOptions>(
  storage: RxStorage<Internals, InstanceCreationOptions>,
  key: Uint8Array | null,
  encryptLocalDocuments: boolean,
  offload: CryptoOffload | null,
  streamSealing: { readonly collection: string; readonly sealing: StreamSealing } | null,
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
