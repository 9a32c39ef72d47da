import { addRxPlugin, createRxDatabase, removeRxDatabase } from 'rxdb';
import type { RxCollection, RxConflictHandler, RxDatabase, RxJsonSchema, RxStorage } from 'rxdb';
import { RxDBLocalDocumentsPlugin } from 'rxdb/plugins/local-documents';
import { RxDBCleanupPlugin } from 'rxdb/plugins/cleanup';
import { wrapWithAtRestEncryption, wrapWithoutAtRestKey } from './at-rest-encryption';
import { withChangedSince } from './changed-since';
import type { CryptoOffload } from '../offload/crypto-offload';
import { claimDeviceStore, type DeviceLock } from './device-lock';
import type { StreamSealing } from './stream-sealing';
import { createWriteClock, trackWrites, type WriteClock } from './write-clock';
import { createReplicaGuard, guardReplicaWrites, type ReplicaGuard } from './replica-guard';

/** A JSON object as stored. */
export type JsonObject = { [key: string]: unknown };

/**
 * One stored record of any kind. A single type-discriminated collection keeps a provider that
 * follows many patients, and several simulated devices in one process, far under RxDB's
 * 13-open-collections-per-process limit.
 */
export interface DeviceRecord {
  /** ULID */
  id: string;
  /** `${patientId}/${streamType}` */
  stream: string;
  kind: string;
  patientId: string;
  /** ISO 8601 */
  updatedAt: string;
  /** Write counter of this record (1 for its first version); part of its revision tag. */
  rv: number;
  /** Key epoch the current version was sealed under (as received; new writes use the current epoch). */
  epoch: number;
  /** Device id of the author of this version. */
  author: string;
  /** Account id of the author of this version (the patient, or a grantee with write consent). */
  by: string;
  /** A visible, unresolved conflict: `conflictData` holds the other side. */
  conflict: boolean;
  /** Encrypted at rest. */
  data: JsonObject;
  /** Encrypted at rest: the other side of a conflict. */
  conflictData: JsonObject | null;
}

/** The device database's one collection: every record kind shares it. */
export type RecordsCollection = RxCollection<DeviceRecord>;
/** The collections of a device database. */
export interface DeviceDbCollections {
  records: RecordsCollection;
}
/** A device's RxDB database (`openDeviceDb`). */
export type DeviceDb = RxDatabase<DeviceDbCollections>;

/** The schema of the records collection: which fields stay clear for indexes (the rest is sealed at rest). */
export const RECORDS_SCHEMA: RxJsonSchema<DeviceRecord> = {
  title: 'hale device records',
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 26 },
    stream: { type: 'string', maxLength: 64 },
    kind: { type: 'string', maxLength: 32 },
    patientId: { type: 'string', maxLength: 22 },
    updatedAt: { type: 'string', maxLength: 32 },
    rv: { type: 'integer', minimum: 1 },
    epoch: { type: 'integer', minimum: 0 },
    author: { type: 'string', maxLength: 64 },
    by: { type: 'string', maxLength: 64 },
    conflict: { type: 'boolean' },
    data: { type: 'object', additionalProperties: true },
    conflictData: { type: ['object', 'null'], additionalProperties: true },
  },
  required: [
    'id',
    'stream',
    'kind',
    'patientId',
    'updatedAt',
    'rv',
    'epoch',
    'author',
    'by',
    'conflict',
    'data',
    'conflictData',
  ],
  encrypted: ['data', 'conflictData'],
  indexes: [
    ['stream', 'updatedAt'],
    ['kind', 'updatedAt'],
    ['patientId', 'kind'],
    ['conflict', 'updatedAt'],
  ],
};

/** Signature of RxDB's validator wrappers, e.g. `wrappedValidateAjvStorage`. */
export type StorageValidationWrapper = <Internals, InstanceCreationOptions>(args: {
  storage: RxStorage<Internals, InstanceCreationOptions>;
}) => RxStorage<Internals, InstanceCreationOptions>;

/**
 * Options of `openDeviceDb`: name, platform storage and the at-rest key.
 * - Pass `validation` only in development: it needs `new Function`, which a strict CSP blocks.
 */
export interface OpenDeviceDbOptions<Internals, InstanceCreationOptions> {
  readonly name: string;
  /** Platform storage (Dexie over IndexedDB in apps, memory in Node tests); wrapped here. */
  readonly storage: RxStorage<Internals, InstanceCreationOptions>;
  /** 32-byte at-rest key (`hale/local/v1`). */
  readonly atRestKey: Uint8Array;
  /** Pass true where several tabs may open the same database (installable web app). Default false. */
  readonly multiInstance?: boolean;
  /**
   * Schema validation of plaintext documents, for dev and tests only: ajv compiles with `new Function`
   * (blocked by a strict CSP) and record content is validated against `@hale/model` anyway, so
   * production leaves this out and its bundle carries no validator.
   */
  readonly validation?: StorageValidationWrapper;
  /** Where at-rest seals and opens run (a worker: `@hale/client/node`, or a Web Worker); this thread otherwise. */
  readonly cryptoOffload?: CryptoOffload;
  /** Open the stored versions a read returns in slices (a page's thread: no long task). */
  readonly slicedReads?: boolean;
  /** Resolves push conflicts on plaintext (the sync engine's); RxDB's default otherwise. */
  readonly conflictHandler?: RxConflictHandler<DeviceRecord>;
  /** Seal once (store/stream-versions.ts): local record versions stored as sent, once a sealer is attached. */
  readonly streamSealing?: StreamSealing;
}

// A local document whose only job is to fail fast on open with a wrong key, before any record read.
const KEY_CHECK_ID = 'hale-at-rest-key-check';

/**
 * Opens a device's database through the at-rest wrapper (`closeDeviceDb` closes it).
 *
 * @throws `AtRestError` `AT_REST_DECRYPT_FAILED` for a wrong key.
 */
export async function openDeviceDb<Internals, InstanceCreationOptions>(
  options: OpenDeviceDbOptions<Internals, InstanceCreationOptions>,
): Promise<DeviceDb> {
  addRxPlugin(RxDBLocalDocumentsPlugin);
  // Purging a stream whose consent ended must leave no tombstones with record ids behind.
  addRxPlugin(RxDBCleanupPlugin);
  const encrypted = wrapWithAtRestEncryption({
    // RxDB's upstream asks what changed since its checkpoint at every start and resync (changed-since.ts).
    storage: withChangedSince(options.storage),
    key: options.atRestKey,
    ...(options.cryptoOffload ? { offload: options.cryptoOffload } : {}),
    ...(options.slicedReads ? { slicedReads: true } : {}),
    ...(options.streamSealing
      ? { streamSealing: { collection: 'records', sealing: options.streamSealing } }
      : {}),
  });
  const clock = createWriteClock();
  const guard = createReplicaGuard<DeviceRecord>();
  const storage = guardReplicaWrites(
    trackWrites(
      options.validation ? options.validation({ storage: encrypted }) : encrypted,
      clock,
      'records',
    ),
    guard,
    'records',
  );
  const db = await createRxDatabase<DeviceDbCollections>({
    name: options.name,
    storage,
    multiInstance: options.multiInstance ?? false,
    localDocuments: true,
    eventReduce: true,
  });
  try {
    await db.addCollections({
      records: {
        schema: RECORDS_SCHEMA,
        ...(options.conflictHandler ? { conflictHandler: options.conflictHandler } : {}),
      },
    });
    // Reading decrypts: a wrong key throws AtRestError AT_REST_DECRYPT_FAILED here.
    const check = await db.getLocal<{ v: number }>(KEY_CHECK_ID);
    if (!check) await db.upsertLocal(KEY_CHECK_ID, { v: 1 });
  } catch (error) {
    await db.close();
    throw error;
  }
  clocks.set(db.records, clock);
  guards.set(db.records, guard);
  return db;
}

const clocks = new WeakMap<RecordsCollection, WriteClock>();
const guards = new WeakMap<RecordsCollection, ReplicaGuard<DeviceRecord>>();

/** The guard of what replication writes into a records collection opened by `openDeviceDb` (replica-guard.ts). */
export const replicaGuardOf = (collection: RecordsCollection): ReplicaGuard<DeviceRecord> | undefined =>
  guards.get(collection);

/** The write clock of a records collection opened by `openDeviceDb` (write-clock.ts). */
export const writeClockOf = (collection: RecordsCollection): WriteClock => {
  const clock = clocks.get(collection);
  if (clock === undefined) throw new Error('records collection not opened by openDeviceDb');
  return clock;
};

/**
 * Closing (this or `db.close()`) closes every storage instance, which makes the at-rest wrapper zero
 * its key copy and drop the plaintext it remembers: `db.storage` stays reachable after close, and must
 * not keep reading once the account is locked (see at-rest-encryption.ts).
 */
export async function closeDeviceDb(db: DeviceDb): Promise<void> {
  await db.close();
}

/**
 * Options of `removeDeviceDb`: the database's name (exactly the session's, `session.db.name`) and storage.
 */
export interface RemoveDeviceDbOptions<Internals, InstanceCreationOptions> {
  readonly name: string;
  readonly storage: RxStorage<Internals, InstanceCreationOptions>;
  readonly multiInstance?: boolean;
  /** The lock sessions of this store take (the session's `deviceLock`): held elsewhere, nothing is removed. */
  readonly deviceLock?: DeviceLock;
}

/**
 * Deletes every stored piece of a device database. Needs no key, so a device whose owner lost the
 * passphrase can still be wiped. The database must be closed first: with a session of it open in this
 * process, or in another tab holding `deviceLock`, it fails SESSION_ALREADY_OPEN and removes nothing.
 */
export async function removeDeviceDb<Internals, InstanceCreationOptions>(
  options: RemoveDeviceDbOptions<Internals, InstanceCreationOptions>,
): Promise<void> {
  const claim = claimDeviceStore(
    { storageName: options.storage.name, dbName: options.name },
    options.deviceLock,
  );
  try {
    await claim.lock();
    addRxPlugin(RxDBLocalDocumentsPlugin);
    await removeRxDatabase(
      options.name,
      wrapWithoutAtRestKey(options.storage),
      options.multiInstance ?? false,
    );
  } finally {
    await claim.release();
  }
}
