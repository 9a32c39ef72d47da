/**
 * At-rest encryption of the device store: an RxDB storage wrapper built on tweetnacl secretbox.
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
 *   `queryIds`, which answers ids only (clear) and opens nothing. A change event of a write this
 *   instance is making is answered with the plaintext that write was given (`inFlight`: the same row
 *   objects, held only while the inner write runs); any other event is opened and checked.
 * - Each seal uses a fresh random 24-byte nonce from `crypto.getRandomValues` (via @hale/crypto's pool).
 * - RxDB's replication metadata keeps a full copy of each replicated document (`docData`); that copy
 *   refers to the records instance's envelopes of the same document where it can (`r1:` composites,
 *   see `COMPOSITE_PREFIX`) instead of sealing the same content a second time.
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
import { base64urlEncode, canonicalJson, labeledSha256, utf8Encode } from '@hale/crypto';
import { map, share } from 'rxjs';
import { clone, getPrimaryFieldOfPrimaryKey, META_INSTANCE_SCHEMA_TITLE, wrapRxStorageInstance } from 'rxdb';
import type {
  FilledMangoQuery,
  JsonSchema,
  PreparedQuery,
  RxDocumentData,
  RxDocumentWriteData,
  RxJsonSchema,
  RxStorage,
  RxStorageInstance,
  RxStorageInstanceCreationParams,
} from 'rxdb';
import { getCollectionLocalInstanceName, RX_LOCAL_DOCUMENT_SCHEMA } from 'rxdb/plugins/local-documents';
import { offloadMinBatch, type CryptoOffload } from '../offload/crypto-offload';
import { checkCryptoJobResult } from '../offload/job-result';
import { createRecentMap, type RecentMap } from '../util/recent-map';
import {
  AtRestError,
  boundText,
  decryptError,
  invalidAtRestKey,
  isAtRestKey,
  isRecord,
  open,
  seal,
  VALUE_PREFIX,
  type AtRestJob,
  type SealContext,
} from './at-rest-jobs';

export {
  AT_REST_ERROR_CODES,
  AT_REST_KEY_LENGTH,
  AtRestError,
  boundText,
  invalidAtRestKey,
  isAtRestError,
  runAtRestJob,
  type AtRestDecryptReason,
  type AtRestErrorCode,
  type AtRestErrorDetails,
  type AtRestJob,
  type AtRestJobResult,
  type AtRestOpenOutcome,
  type AtRestSealOutcome,
  type SealContext,
} from './at-rest-jobs';

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
}

const LOCAL_DOCS_PREFIX = getCollectionLocalInstanceName('');
/** The field of a replication-meta document holding its copy of a replicated document (composites). */
const META_DOC_FIELD = 'docData';
/**
 * The field of a replication-meta checkpoint document holding where the next pull (per stream) or push
 * starts. RxDB leaves it clear; sealed here, since one moved ahead on disk would make the device skip what
 * the server serves, or never push its own edits, with nothing failing.
 */
const META_CHECKPOINT_FIELD = 'checkpointData';

const sealedIds = new WeakMap<object, (prepared: PreparedQuery<unknown>) => Promise<string[]>>();

/**
 * The primary keys of the documents `prepared` selects, read without opening any value: ids and the
 * fields a query may use lie in clear (a query on an encrypted field is refused as by `query`), so a
 * listing costs no decryption and a stored value that no longer opens does not fail it (reading that
 * document still does). An instance this wrapper did not make answers through its own `query`.
 */
export async function queryIds<RxDocType>(
  instance: RxStorageInstance<RxDocType, unknown, unknown>,
  prepared: PreparedQuery<RxDocType>,
): Promise<string[]> {
  // RxDB wraps instances in layers of its own (`originalStorageInstance`); ids pass them unchanged.
  for (let layer: unknown = instance; typeof layer === 'object' && layer !== null;) {
    const sealed = sealedIds.get(layer);
    if (sealed !== undefined) return sealed(prepared);
    layer = (layer as { originalStorageInstance?: unknown }).originalStorageInstance;
  }
  const primary = getPrimaryFieldOfPrimaryKey(instance.schema.primaryKey);
  const { documents } = await instance.query(prepared);
  return documents.map((doc) => String((doc as Record<string, unknown>)[primary]));
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
  );
}

/**
 * Lets a database be removed by someone who no longer has the key (a wiped or forgotten device):
 * removal only opens and drops instances, and any attempt to seal or open a value throws.
 */
export function wrapWithoutAtRestKey<Internals, InstanceCreationOptions>(
  storage: RxStorage<Internals, InstanceCreationOptions>,
): RxStorage<Internals, InstanceCreationOptions> {
  return wrapStorage(storage, null, true, null);
}

function wrapStorage<Internals, InstanceCreationOptions>(
  storage: RxStorage<Internals, InstanceCreationOptions>,
  key: Uint8Array | null,
  encryptLocalDocuments: boolean,
  offload: CryptoOffload | null,
): RxStorage<Internals, InstanceCreationOptions> {
  const memories = new Map<string, ValueMemory>();
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
    digests.forget();
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
      const pending: Array<Promise<void>> = [];
      for (const field of fields) {
        const value = out[field];
        if (value === undefined) continue;
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
      const out: Record<string, unknown> = { ...doc };
      for (const field of fields) {
        const stored = out[field];
        if (stored === undefined) continue;
        if (clearCheckpoint(field, stored)) delete out[field];
        else out[field] = values.open(binding, field, stored, itemIdOf(doc, field));
      }
      // The stored shape is RxDocType with the encrypted fields restored above.
      return out as unknown as RxDocumentData<RxDocType>;
    };

    const fromStorage = async (
      doc: RxDocumentData<Record<string, unknown>>,
    ): Promise<RxDocumentData<RxDocType>> => {
      const binding = bindingOf(doc);
      const out: Record<string, unknown> = { ...doc };
      const pending: Array<Promise<void>> = [];
      for (const field of fields) {
        const stored = out[field];
        if (stored === undefined) continue;
        if (clearCheckpoint(field, stored)) {
          delete out[field];
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
    const primary = getPrimaryFieldOfPrimaryKey(schema.primaryKey);
    sealedIds.set(wrapped, async (prepared) => {
      rejectEncryptedFieldQuery(prepared.query, encryptedSet, collection);
      const { documents } = await inner.query(prepared as PreparedQuery<RxDocType>);
      return documents.map((doc) => String((doc as Record<string, unknown>)[primary]));
    });
    return track(wrapped);
  }

  // Spread keeps storage-specific settings (e.g. Dexie's) visible to RxDB; the name is kept like
  // RxDB's own encryption wrapper does, so name-based checks (dev-mode validators) still work.
  return { ...storage, name: storage.name, rxdbVersion: storage.rxdbVersion, createStorageInstance };
}

function encryptedFieldsOf<T>(
  collectionName: string,
  schema: RxJsonSchema<RxDocumentData<T>>,
  encryptLocalDocuments: boolean,
): string[] {
  const fields = new Set(schema.encrypted ?? []);
  // RxDB seals a replicated document's meta copy (`docData`) but leaves its checkpoints clear.
  if (schema.title === META_INSTANCE_SCHEMA_TITLE && fields.has(META_DOC_FIELD)) {
    fields.add(META_CHECKPOINT_FIELD);
  }
  if (
    encryptLocalDocuments &&
    collectionName.startsWith(LOCAL_DOCS_PREFIX) &&
    schema.title === RX_LOCAL_DOCUMENT_SCHEMA.title
  ) {
    fields.add('data');
  }
  return [...fields];
}

function checkSchema<T>(
  schema: RxJsonSchema<RxDocumentData<T>>,
  fields: readonly string[],
  primaryPath: string,
  collection: string,
): void {
  const unsupported = (message: string) =>
    new AtRestError('AT_REST_UNSUPPORTED_SCHEMA', message, { collection });
  if (schema.attachments) throw unsupported('attachments would be stored in clear; keep files elsewhere');
  const properties = schema.properties as Record<string, JsonSchema | undefined>;
  // A composite primary key is written in clear from its fields' values.
  const compositeKeyFields: readonly string[] =
    typeof schema.primaryKey === 'object' ? (schema.primaryKey.fields as readonly string[]) : [];
  for (const field of fields) {
    if (field.includes('.')) throw unsupported(`only top-level fields can be encrypted: ${field}`);
    if (field === primaryPath || compositeKeyFields.includes(field))
      throw unsupported('the primary key (or a field it is composed of) cannot be encrypted');
    if (properties[field] === undefined) throw unsupported(`encrypted field not in schema: ${field}`);
    for (const index of schema.indexes ?? []) {
      const parts: readonly string[] = typeof index === 'string' ? [index] : index;
      if (parts.some((p) => p === field || p.startsWith(`${field}.`))) {
        throw unsupported(`encrypted field cannot be indexed: ${field}`);
      }
    }
  }
}

const SELECTOR_OPERATORS_WITH_SUBSELECTORS = new Set(['$and', '$or', '$nor']);

function rejectEncryptedFieldQuery<T>(
  query: FilledMangoQuery<T>,
  encrypted: ReadonlySet<string>,
  collection: string,
): void {
  const check = (path: string) => {
    const top = path.split('.')[0] ?? path;
    if (encrypted.has(top)) {
      throw new AtRestError(
        'AT_REST_QUERY_ON_ENCRYPTED_FIELD',
        `cannot select or sort on encrypted field ${top}`,
        { collection, field: top },
      );
    }
  };
  const walk = (selector: unknown) => {
    if (!isRecord(selector)) return;
    for (const [k, v] of Object.entries(selector)) {
      if (SELECTOR_OPERATORS_WITH_SUBSELECTORS.has(k) && Array.isArray(v)) {
        for (const sub of v as unknown[]) walk(sub);
      } else if (!k.startsWith('$')) {
        check(k);
      }
    }
  };
  walk(query.selector);
  for (const part of query.sort) for (const k of Object.keys(part)) check(k);
}

/** The key of a wrapper, until it is disposed (then `current` throws `AT_REST_CLOSED`). */
interface Keyring {
  current(): Uint8Array | null;
}

// Fixed label, so this digest cannot be mistaken for any other hash of the same bytes (see hash.ts).
const CLEAR_DIGEST_LABEL = 'hale/at-rest-clear/v1';
/** Not in the clear digest: `_rev` is bound on its own; `_meta` and `_attachments` are RxDB bookkeeping. */
const UNDIGESTED_FIELDS: ReadonlySet<string> = new Set(['_rev', '_meta', '_attachments']);

/**
 * How many clear-field texts a wrapper remembers the digest of (see `createClearDigests`): half as many
 * as values (a document has one or two), each ≈ 0.5 kB.
 */
const RECENT_CLEAR_DIGESTS = 4096;

/**
 * Digests of documents' clear fields: base64url(SHA-256(label ‖ canonical JSON of the clear fields)),
 * one short hash per document instead of the clear fields themselves inside every sealed value. RxDB
 * handles the same state many times (write, change event, `previous` of the next write, replication
 * reads), so digests are remembered by their canonical text: a hit costs building that text, not the
 * hash (≈4 µs of ≈7 µs per document, measured). A rewritten field changes the text, so it misses.
 */
function createClearDigests() {
  let known = createRecentMap<string, string>(RECENT_CLEAR_DIGESTS);
  return {
    /** `notJson` throws the caller's error. */
    of(text: string | null, notJson: () => never): string {
      if (text === null) return notJson();
      let digest = known.get(text);
      if (digest === undefined) {
        digest = base64urlEncode(labeledSha256(CLEAR_DIGEST_LABEL, utf8Encode(text)));
        known.set(text, digest);
      }
      return digest;
    },
    forget(): void {
      known = createRecentMap(RECENT_CLEAR_DIGESTS);
    },
  };
}

/**
 * `canonicalJson` of a document's clear fields (a lone surrogate at the top level is escaped, not
 * refused), or null if they are not JSON; members whose value is undefined are left out (not JSON).
 * Built here because it runs for every document read or written: primitives as JSON.stringify writes
 * them, nested values through `canonicalJson`, and the sorted field order worked out again only when a
 * document's key order differs from the previous one's, which within one collection is rare.
 */
function createClearText(
  encrypted: ReadonlySet<string>,
): (doc: Readonly<Record<string, unknown>>) => string | null {
  let lastKeys: readonly string[] = [];
  let order: ReadonlyArray<readonly [field: string, prefix: string]> = [];
  return (doc) => {
    const keys = Object.keys(doc);
    if (keys.length !== lastKeys.length || keys.some((k, n) => k !== lastKeys[n])) {
      lastKeys = keys;
      order = keys
        .filter((f) => !encrypted.has(f) && !UNDIGESTED_FIELDS.has(f))
        .sort()
        .map((f) => [f, `${JSON.stringify(f)}:`] as const);
    }
    let text = '';
    for (const [field, prefix] of order) {
      const value = doc[field];
      if (value === undefined) continue;
      let json: string;
      if (typeof value === 'string' || typeof value === 'boolean' || value === null)
        json = JSON.stringify(value);
      else if (typeof value === 'number') {
        if (!Number.isFinite(value)) return null;
        json = JSON.stringify(value);
      } else if (typeof value === 'object') {
        try {
          json = canonicalJson(value);
        } catch {
          return null;
        }
      } else return null;
      text += text === '' ? prefix + json : `,${prefix}${json}`;
    }
    return `{${text}}`;
  };
}

/** How many recently sealed or opened values a database's instances remember in plaintext (see `createValueCodec`). */
export const AT_REST_RECENT_VALUES = 8192;

/** What binds the values of one stored document: id, revision and clear digest. */
interface DocBinding {
  readonly i: string;
  readonly r: string;
  readonly h: string;
}

/** Where a value lives: collection, document id, field, document revision and clear digest (the envelope's binding). */
interface Slot {
  readonly c: string;
  readonly i: string;
  readonly f: string;
  readonly r: string;
  readonly h: string;
}

interface Remembered {
  readonly envelope: string;
  readonly context: string;
  readonly value: unknown;
}

/**
 * What the instances of one database remember, shared so that a replication-meta instance can refer
 * to an envelope its records instance has just written (see `createValueCodec`).
 */
interface ValueMemory {
  /** Envelopes of objects (record content). */
  opened: RecentMap<string, Remembered>;
  /** Envelopes of scalars (`null` above all), apart so that they never push content out. */
  openedScalars: RecentMap<string, Remembered>;
  sealed: WeakMap<
    object,
    { readonly context: string; readonly envelope: string; readonly slot: Slot; readonly referable: boolean }
  >;
  sealedScalars: RecentMap<string, { readonly value: unknown; readonly envelope: string }>;
}

const createValueMemory = (): ValueMemory => ({
  opened: createRecentMap(AT_REST_RECENT_VALUES),
  openedScalars: createRecentMap(AT_REST_RECENT_VALUES),
  sealed: new WeakMap(),
  sealedScalars: createRecentMap(AT_REST_RECENT_VALUES),
});

/** Drops every remembered value, for whoever still holds `memory` (an instance in flight). */
const forgetAll = (memory: ValueMemory): void => {
  Object.assign(memory, createValueMemory());
};

// Envelopes are remembered under their nonce (random per seal) and compared whole on a hit: hashing a
// kilobyte-long string for every Map lookup cost more than the lookup saved (≈2.5 µs each, measured).
// A composite value (`r1:`) is remembered under the nonce of its own small envelope.
const ENVELOPE_KEY_CHARS = 32;
const envelopeKey = (stored: string): string => {
  const from = stored.startsWith(COMPOSITE_PREFIX)
    ? COMPOSITE_PREFIX.length + VALUE_PREFIX.length
    : VALUE_PREFIX.length;
  return stored.slice(from, from + ENVELOPE_KEY_CHARS);
};

/**
 * Composite values, only for the `docData` field of RxDB's replication-meta documents (a full copy of a
 * replicated document, which RxDB writes after every push and pull): `r1:<own envelope>:<envelope>…`.
 * Each object-valued member of `docData` that the records instance has just sealed or opened (the same
 * object: RxDB shares it between the document and its meta copy) is stored as that very envelope, not
 * sealed again; the own envelope seals the rest with a null placeholder per member and, per member,
 * [member, collection, field, revision, nonce] of the envelope it refers to. Opening checks the own
 * envelope as usual, that each referred envelope carries the named nonce, and opens each one with the
 * binding it names and the meta document's `itemId` as document id: a referred envelope swapped for any
 * other (another document, field or revision, or a forged one) is refused. Replaying a whole older
 * meta document stays possible, as for any document (see "Not covered" above).
 */
const COMPOSITE_PREFIX = 'r1:';
const COMPOSITE_SEPARATOR = ':';

/** `h`: the clear digest the referred envelope is bound to; '' in refs sealed before it existed (5 members). */
type CompositeRef = readonly [member: string, c: string, f: string, r: string, nonce: string, h: string];

const parseComposite = (stored: string) => {
  const parts = stored.slice(COMPOSITE_PREFIX.length).split(COMPOSITE_SEPARATOR);
  return { own: parts[0] ?? '', referred: parts.slice(1) };
};

/** The checked skeleton and references of a composite's own plaintext; null when malformed. */
const compositeRefs = (
  inner: unknown,
  referred: readonly string[],
): { skeleton: Record<string, unknown>; refs: CompositeRef[] } | null => {
  if (!isRecord(inner) || !isRecord(inner['s']) || !Array.isArray(inner['refs'])) return null;
  const skeleton = inner['s'];
  const refs = inner['refs'] as unknown[];
  if (refs.length === 0 || refs.length !== referred.length) return null;
  const out: CompositeRef[] = [];
  for (const [n, ref] of refs.entries()) {
    // A 5-member ref (no digest) can only name an envelope sealed before digests, which opens with any.
    if (!Array.isArray(ref) || (ref.length !== 5 && ref.length !== 6)) return null;
    if (!ref.every((p) => typeof p === 'string')) return null;
    const [member, c, f, r, nonce, h = ''] = ref as [string, string, string, string, string, string?];
    if (!Object.hasOwn(skeleton, member) || skeleton[member] !== null) return null;
    if (envelopeKey(referred[n]!) !== nonce) return null;
    out.push([member, c, f, r, nonce, h]);
  }
  return { skeleton, refs: out };
};

const assembleComposite = (
  skeleton: Record<string, unknown>,
  refs: readonly CompositeRef[],
  values: readonly unknown[],
): Record<string, unknown> => {
  const out = { ...skeleton };
  refs.forEach(([member], n) => {
    out[member] = values[n];
  });
  return out;
};

/**
 * Seals and opens the encrypted fields of one storage instance. RxDB reads back what it has just
 * written (change events, replication metadata, the previous state of every update), so the instances
 * of a database remember the last `AT_REST_RECENT_VALUES` values both ways:
 * - an envelope produced or opened (the whole string) maps to its plaintext, but only for the same slot
 *   (collection, document, field, revision): a stored string moved anywhere else misses and is opened
 *   (and refused); a changed string misses and is opened (and refused if tampered);
 * - a value object produced or opened maps to its envelope, reused only for the same slot and the same
 *   object (RxDB never mutates stored document data; it clones before changing it); a scalar (`null`)
 *   maps by slot, reused only for the same value.
 * Envelopes of scalars (the `null` conflictData of nearly every record) are remembered apart, so that
 * they never push record content out. This memory holds what RxDB's own document cache already holds in clear.
 * `composites` (replication-meta instances): `docData` may be stored as a composite (see above).
 */
function createValueCodec(
  keyring: Keyring,
  database: string,
  collection: string,
  offload: CryptoOffload | null,
  memoryOf: () => ValueMemory,
  composites: boolean,
) {
  const contextKey = (s: Slot): string => `${s.c}\u0000${s.i}\u0000${s.f}\u0000${s.r}\u0000${s.h}`;
  const sealContext = (s: Slot): SealContext => ({ db: database, c: s.c, i: s.i, f: s.f, r: s.r, h: s.h });
  const where = (s: Slot) => ({ database, collection: s.c, field: s.f, documentId: s.i });
  const slot = (b: DocBinding, f: string): Slot => ({ c: collection, i: b.i, f, r: b.r, h: b.h });
  const remember = (envelope: string, s: Slot, value: unknown): void => {
    const { opened, openedScalars, sealed, sealedScalars } = memoryOf();
    const context = contextKey(s);
    // Values of a meta instance are never referred to: only a records instance's envelopes are.
    if (typeof value === 'object' && value !== null) {
      opened.set(envelopeKey(envelope), { envelope, context, value });
      sealed.set(value, { context, envelope, slot: s, referable: !composites });
    } else {
      openedScalars.set(envelopeKey(envelope), { envelope, context, value });
      sealedScalars.set(context, { value, envelope });
    }
  };
  const knownAt = (s: Slot, value: unknown): string | undefined => {
    const { sealed, sealedScalars } = memoryOf();
    const context = contextKey(s);
    if (typeof value === 'object' && value !== null) {
      const hit = sealed.get(value);
      return hit !== undefined && hit.context === context ? hit.envelope : undefined;
    }
    const hit = sealedScalars.get(context);
    return hit !== undefined && hit.value === value ? hit.envelope : undefined;
  };
  const rememberedAt = (s: Slot, stored: unknown): { hit: true; value: unknown } | { hit: false } => {
    if (typeof stored !== 'string') return { hit: false };
    const { opened, openedScalars } = memoryOf();
    const key = envelopeKey(stored);
    const hit = opened.get(key) ?? openedScalars.get(key);
    return hit !== undefined && hit.envelope === stored && hit.context === contextKey(s)
      ? { hit: true, value: hit.value }
      : { hit: false };
  };
  const malformedComposite = (s: Slot) =>
    decryptError('MALFORMED', 'stored value is not a valid composite envelope', where(s));
  /**
   * A meta document's value stored plain (no `r1:`) is a whole document copy, never a composite's own
   * plaintext (`{ s, refs }`, sealed under the same binding): one stripped of its prefix and referred
   * envelopes on disk would otherwise open as that skeleton and stand for the replicated document.
   */
  const plainValue = (s: Slot, value: unknown): unknown => {
    if (
      composites &&
      s.f === META_DOC_FIELD &&
      isRecord(value) &&
      's' in value &&
      'refs' in value &&
      Object.keys(value).length === 2
    )
      throw malformedComposite(s);
    return value;
  };

  // Seals and opens requested in one turn of the event loop (one bulkWrite, one query result) go to
  // the offload as one batch per kind.
  type Op = 'seal' | 'open';
  interface Request {
    readonly slot: Slot;
    /** The value to seal, or the stored envelope to open. */
    readonly input: unknown;
  }
  type Pending = { request: Request; resolve: (v: unknown) => void; reject: (e: unknown) => void };
  type Settled = { ok: true; value: unknown } | { ok: false; error: AtRestError };
  const queues: Record<Op, Pending[]> = { seal: [], open: [] };
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    for (const op of ['seal', 'open'] as const) {
      const batch = queues[op];
      queues[op] = [];
      if (batch.length > 0) void runBatch(op, batch);
    }
  };
  const enqueue = (op: Op, request: Request): Promise<unknown> =>
    new Promise<unknown>((resolve, reject) => {
      queues[op].push({ request, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    });

  /**
   * `value` when `bound`, the binding the offload says it sealed or opened it with, is the one of the
   * slot it was asked for; throws otherwise, failing the whole batch: a reply crossed with another job's,
   * or outcomes permuted within the batch, would hand one document another's value (and a seal store an
   * envelope that no longer opens once this memory is gone). An envelope sealed before clear digests
   * opens bound without one (see the header).
   */
  const boundTo = <T>(value: T, bound: string, context: SealContext, op: Op, n: number): T => {
    if (bound === boundText(context) || (op === 'open' && bound === boundText({ ...context, h: undefined })))
      return value;
    throw new Error(`crypto offload answered an item for another slot (${op} item ${n})`);
  };

  /** Sends one batch to the offload; answers one outcome per request, in order. */
  const askOffload = async (
    to: CryptoOffload,
    op: Op,
    keyBytes: Uint8Array,
    requests: readonly Request[],
  ): Promise<Settled[]> => {
    const contexts = requests.map((r) => sealContext(r.slot));
    // Each reply crossed a thread boundary: checked against its job before any value is used.
    if (op === 'seal') {
      const job: AtRestJob = {
        op,
        key: keyBytes,
        items: requests.map((r, n) => ({ context: contexts[n]!, value: r.input })),
      };
      const result = checkCryptoJobResult(job, await to.run(job));
      return result.envelopes.map((sealed, n): Settled =>
        sealed !== null
          ? { ok: true, value: boundTo(sealed.envelope, sealed.bound, contexts[n]!, op, n) }
          : {
              ok: false,
              error: new AtRestError('AT_REST_ENCRYPT_FAILED', 'value is not JSON', {
                ...where(requests[n]!.slot),
                reason: 'NOT_JSON',
              }),
            },
      );
    }
    const job: AtRestJob = {
      op,
      key: keyBytes,
      items: requests.map((r, n) => ({ context: contexts[n]!, stored: r.input })),
    };
    const result = checkCryptoJobResult(job, await to.run(job));
    return result.values.map((o, n): Settled =>
      o.ok
        ? { ok: true, value: boundTo(o.value, o.bound, contexts[n]!, op, n) }
        : {
            ok: false,
            error: new AtRestError('AT_REST_DECRYPT_FAILED', o.message, {
              ...where(requests[n]!.slot),
              reason: o.reason,
            }),
          },
    );
  };

  // Each value is looked up in the memory once, before it is queued or done (`known`, `remembered` and
  // `open` for a field; `openAt` and `openNow` for the parts of a composite): these two do the work
  // without looking again (a value asked twice in one batch is done twice, as on an offload).
  const sealHere = (s: Slot, value: unknown): string => {
    const envelope = seal(keyring.current(), sealContext(s), value);
    remember(envelope, s, value);
    return envelope;
  };
  const openHere = (s: Slot, stored: unknown): unknown => {
    const value = open(keyring.current(), sealContext(s), stored, where(s));
    if (typeof stored === 'string') remember(stored, s, value);
    return value;
  };

  const runBatch = async (op: Op, batch: readonly Pending[]): Promise<void> => {
    let key: Uint8Array | null;
    try {
      key = keyring.current();
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    if (key === null || offload === null || batch.length < offloadMinBatch(offload)) {
      for (const { request: r, resolve, reject } of batch) {
        try {
          resolve(op === 'seal' ? sealHere(r.slot, r.input) : openHere(r.slot, r.input));
        } catch (error) {
          reject(error);
        }
      }
      return;
    }
    let settled: Settled[];
    try {
      settled = await askOffload(
        offload,
        op,
        key,
        batch.map((p) => p.request),
      );
    } catch (error) {
      for (const p of batch) p.reject(offloadError(error, collection));
      return;
    }
    // Closed while the batch was away: its values must not be remembered, nor handed out.
    try {
      keyring.current();
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach(({ request: r, resolve, reject }, n) => {
      const outcome = settled[n]!;
      if (!outcome.ok) return reject(outcome.error);
      if (op === 'seal') remember(outcome.value as string, r.slot, r.input);
      else if (typeof r.input === 'string') remember(r.input, r.slot, outcome.value);
      resolve(outcome.value);
    });
  };

  /** Seals in the next batch (callers have looked the value up already). */
  const sealAt = (s: Slot, value: unknown): Promise<string> =>
    enqueue('seal', { slot: s, input: value }) as Promise<string>;
  /** Opens from memory, else in the next batch. */
  const openAt = (s: Slot, stored: unknown): Promise<unknown> => {
    const hit = rememberedAt(s, stored);
    return hit.hit ? Promise.resolve(hit.value) : enqueue('open', { slot: s, input: stored });
  };
  /** Opens from memory, else here. */
  const openNow = (s: Slot, stored: unknown): unknown => {
    const hit = rememberedAt(s, stored);
    return hit.hit ? hit.value : openHere(s, stored);
  };

  /** The members of a meta `docData` that can refer to a records instance's envelope of the same document. */
  const referable = (itemId: string, value: unknown) => {
    if (!composites || !isRecord(value)) return [];
    const out: Array<{ member: string; envelope: string; slot: Slot }> = [];
    for (const member of Object.keys(value)) {
      const v = value[member];
      if (typeof v !== 'object' || v === null) continue;
      const hit = memoryOf().sealed.get(v);
      if (hit !== undefined && hit.referable && hit.slot.i === itemId) {
        out.push({ member, envelope: hit.envelope, slot: hit.slot });
      }
    }
    return out;
  };
  const compositeSeal = async (
    s: Slot,
    itemId: string,
    value: Record<string, unknown>,
  ): Promise<string | null> => {
    const refs = referable(itemId, value);
    if (refs.length === 0) return null;
    const skeleton = { ...value };
    for (const { member } of refs) skeleton[member] = null;
    const own = await sealAt(s, {
      s: skeleton,
      refs: refs.map((r): CompositeRef => [
        r.member,
        r.slot.c,
        r.slot.f,
        r.slot.r,
        envelopeKey(r.envelope),
        r.slot.h,
      ]),
    });
    const stored = COMPOSITE_PREFIX + own + refs.map((r) => COMPOSITE_SEPARATOR + r.envelope).join('');
    remember(stored, s, value);
    return stored;
  };
  const referredSlot = (itemId: string, [, c, f, r, , h]: CompositeRef): Slot => ({ c, i: itemId, f, r, h });
  /**
   * Opening the composite `stored` of slot `s` (not remembered), in the same steps whichever opener
   * runs them: open `own` at `s`; `refer` checks its plaintext and names the referred envelopes with
   * the slot each opens at; `assemble` builds the value from them, in order, and remembers it.
   */
  const compositeOpening = (s: Slot, stored: string, itemId: string | undefined) => {
    if (!composites || itemId === undefined) throw malformedComposite(s);
    const { own, referred } = parseComposite(stored);
    const refer = (ownPlaintext: unknown) => {
      const checked = compositeRefs(ownPlaintext, referred);
      if (checked === null) throw malformedComposite(s);
      const { skeleton, refs } = checked;
      return {
        parts: refs.map((ref, n) => ({ slot: referredSlot(itemId, ref), stored: referred[n] })),
        assemble: (values: readonly unknown[]): unknown => {
          const value = assembleComposite(skeleton, refs, values);
          remember(stored, s, value);
          return value;
        },
      };
    };
    return { own, refer };
  };
  const isComposite = (stored: unknown): stored is string =>
    typeof stored === 'string' && stored.startsWith(COMPOSITE_PREFIX);

  return {
    /** The stored form of `value` if already known for this slot (no sealing needed). */
    known: (b: DocBinding, field: string, value: unknown): string | undefined =>
      knownAt(slot(b, field), value),
    /** The value of `stored` if already known for this slot (no opening needed). */
    remembered: (b: DocBinding, field: string, stored: unknown) => {
      const s = slot(b, field);
      const hit = rememberedAt(s, stored);
      return hit.hit && !isComposite(stored) ? { hit: true as const, value: plainValue(s, hit.value) } : hit;
    },
    /**
     * Seals on the offload (batched) or here, once `known` has missed. `itemId` (meta instances): the
     * replicated document this meta document describes, whose envelopes `value` may refer to.
     */
    async sealLater(b: DocBinding, field: string, value: unknown, itemId?: string): Promise<string> {
      const s = slot(b, field);
      if (itemId !== undefined && isRecord(value)) {
        const composite = await compositeSeal(s, itemId, value);
        if (composite !== null) return composite;
      }
      return sealAt(s, value);
    },
    /** Opens on the offload (batched) or here, once `remembered` has missed. */
    async openLater(b: DocBinding, field: string, stored: unknown, itemId?: string): Promise<unknown> {
      const s = slot(b, field);
      if (!isComposite(stored)) return plainValue(s, await enqueue('open', { slot: s, input: stored }));
      const { own, refer } = compositeOpening(s, stored, itemId);
      const { parts, assemble } = refer(await openAt(s, own));
      return assemble(await Promise.all(parts.map((p) => openAt(p.slot, p.stored))));
    },
    /** Opens from memory, else here, synchronously (change events). */
    open(b: DocBinding, field: string, stored: unknown, itemId?: string): unknown {
      const s = slot(b, field);
      const hit = rememberedAt(s, stored);
      if (hit.hit) return isComposite(stored) ? hit.value : plainValue(s, hit.value);
      if (!isComposite(stored)) return plainValue(s, openHere(s, stored));
      const { own, refer } = compositeOpening(s, stored, itemId);
      const { parts, assemble } = refer(openNow(s, own));
      return assemble(parts.map((p) => openNow(p.slot, p.stored)));
    },
  };
}

function offloadError(error: unknown, collection: string): AtRestError {
  return new AtRestError('AT_REST_ENCRYPT_FAILED', `at-rest offload failed: ${String(error)}`, {
    collection,
  });
}
