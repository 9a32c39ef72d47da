/**
 * Types the sync engine's modules share, and those it answers to the session and the app.
 *
 * | type | what |
 * |---|---|
 * | `SyncState`, `SyncIssue` | what the app shows (engine state, issues with codes, never record content) |
 * | `UnsentChange`, `QuarantinedItem`, `QuarantinedVersion` | versions the server did not take / this device refused |
 * | `EngineDeps` | what the session injects |
 * | internal (`Listed`, `Refused`, `Judged`, …) | passed between the engine's modules |
 */
import type { Static } from '@sinclair/typebox';
import type { WithDeleted } from 'rxdb';
import type { AccessChangedFrame, ServedDoc, StreamAccess } from '@hale/protocol';
import type { Ed25519 } from '@hale/crypto';
import type { Connection } from './connection';
import type { DeviceMeta } from '../store/device-meta';
import type { KeptContentLoss, SYNC_STATE, QuarantineReason } from './stored-state';
import type { DeviceKeyLookup } from './device-directory';
import type { RecordsCollection } from '../store/device-db';
import type { Keyring } from './keyring';
import type { CryptoOffload } from '../offload/crypto-offload';
import type { StreamList } from './stream-list';
import type { StreamSealing } from '../store/stream-sealing';
import type { DismissalAuditEntry } from './quarantine-dismiss-audit';
import type { ContentModel, WriteGrantLookup } from './record-codec';
import type { PlainRecord } from '../records/plain-record';

export interface StreamCheckpoint {
  s: Record<string, number>;
  /**
   * Streams being pulled again from 0 after a purge → the token of that pull (`restartTokens`): present
   * only while one is, and proof that RxDB stored a checkpoint of it once handed back.
   */
  r?: Record<string, string>;
}

/**
 * One problem sync reports: `{ code, message, stream?, id?, records?, at }`; each code's meaning is where it
 * is raised.
 */
export interface SyncIssue {
  code: string;
  message: string;
  stream?: string;
  id?: string;
  /**
   * The records an issue is about, when there can be several (UNSENT_PURGED: the local changes never sent
   * that a purge removed): id and kind only, never content; at most MAX_ISSUE_RECORDS.
   */
  records?: Array<{ id: string; kind: string }>;
  at: string;
}

/** A local version the server did not take, kept so its content is not lost (see `unsent`). */
export interface UnsentChange {
  stream: string;
  id: string;
  kind: string;
  /** The version's write counter and whether it was a deletion. */
  rv: number;
  deleted: boolean;
  data: Record<string, unknown>;
  /**
   * Why it was not taken: the server's row error code, `NOT_WRITABLE`, `CONFLICT_UNREADABLE`, `TOO_LARGE`
   * (sealed over MAX_DOC_BYTES: never sent), the code the server refused a frame of this row alone with,
   * or `DEVICE_REVOKED` (pending when this device was revoked: it can never send it).
   */
  code: string;
  message: string;
  at: string;
}

/**
 * A served version set aside by a failed check (`sync.quarantine()`): never stored, nothing pushed over it.
 * - One set aside for a reason that can pass (a key not yet arrived, an author lookup that failed) is fetched
 *   again with backoff.
 */
export interface QuarantinedItem {
  stream: string;
  id: string;
  seq: number;
  rev: string;
  reason: QuarantineReason;
  message: string;
  at: string;
  /** MODEL_VERSION of the rules that judged it; absent in entries kept before it was recorded. */
  model?: string;
  /** The author rules that judged it (`authorRulesId`); absent in entries kept before it was recorded. */
  authorRules?: string;
  /**
   * Set once this device sent its own version over this one and the server took it (`forgedOver`): when,
   * and the account that signed this one. The server no longer holds it; the entry, its only trace here,
   * stays when later versions of the record are stored (see the header).
   */
  overwritten?: { at: string; by: string };
  /**
   * Of a version refused BAD_TRANSITION (it opened and verified): its content is kept on this device
   * (`kept`, `bytes` counted against the budget; `quarantinedVersion` reads it), or it is not, and why:
   * `too-large` for one entry, dropped beyond the budget, or `purged` with its stream. Absent for other
   * reasons and in entries kept before content was.
   */
  content?: QuarantinedContent;
}

/** What is kept of a refused version's content (see `QuarantinedItem.content`). */
export type QuarantinedContent =
  { kept: true; bytes: number } | { kept: false; why: KeptContentLoss; at: string };

/** A quarantine entry as kept: with the random name of the key its content lies under, if kept. */
export type Listed = QuarantinedItem & { slot?: string };

/**
 * A version refused BAD_TRANSITION as this device opened and verified it (`quarantinedVersion`): its entry,
 * the account and device whose signature verified, and its content as that version holds it.
 */
export interface QuarantinedVersion {
  stream: string;
  id: string;
  rev: string;
  reason: QuarantineReason;
  message: string;
  at: string;
  overwritten?: { at: string; by: string };
  author: { accountId: string; deviceId: string };
  record: {
    kind: string;
    rv: number;
    deleted: boolean;
    updatedAt: string;
    data: Record<string, unknown>;
    conflict: boolean;
    conflictData: Record<string, unknown> | null;
  };
}

/** What names a quarantine entry: the served version (`dismissQuarantined` takes it, or the entry itself). */
export type QuarantineKey = Pick<QuarantinedItem, 'stream' | 'id' | 'rev'>;

/** A quarantine entry the person dismissed: the version, the reason it was set aside, and when. */
export interface Dismissal {
  stream: string;
  id: string;
  rev: string;
  reason: QuarantineReason;
  at: string;
}

/**
 * The rules a record refused under this session's rules waits for (only the ones its reason depends on);
 * for a gap, those of every record in it (see `quarantineGaps`).
 */
export type Waits = Pick<QuarantinedItem, 'model' | 'authorRules'>;

/**
 * A served document as judged: decoded (the codec's outcome), or refused, by the codec or by the rules after
 * it (then with the verified `record` they refused: BAD_TRANSITION).
 */
export type Judged =
  | { ok: true; record: PlainRecord }
  | { ok: false; reason: QuarantineReason; message: string; record?: PlainRecord };
/** A served document set aside, with the verified record when the rules after the codec refused it. */
export interface Refused {
  doc: ServedDoc;
  reason: QuarantineReason;
  message: string;
  record?: PlainRecord;
}

/** A seq range of a stream whose quarantine entries were dropped beyond the cap (see `quarantineGaps`). */
export interface QuarantineGap extends Waits {
  stream: string;
  from: number;
  to: number;
}

/**
 * Whether this device opens with the account's current passphrase (see session/passphrase-watch.ts):
 * `unknown` until the server says; `current`;
 * `updated` — this session took a passphrase changed on another device, the old one no longer opens
 * this device; `changed-elsewhere` — the server holds a newer one this device has not taken (the session
 * has no vault and API to take it, or taking it failed: see `errors`); `refused` — the server offered a
 * wrap this device refused and kept its own (`WRAPPED_ROOT_REFUSED` in `errors`).
 */
export type PassphraseStatus = 'unknown' | 'current' | 'updated' | 'changed-elsewhere' | 'refused';

/**
 * The sync state (`sync.state()`).
 * - `online`: caught up and live on every stream it may read, what the catch-up pulled stored.
 * - `fatal`: the server refused this device or the account was locked; `errors` and `connection.failure()`
 *   say why, no retry.
 * - `errors`: the last 50 `SyncIssue`s, newest last.
 */
export interface SyncState {
  status: 'offline' | 'connecting' | 'syncing' | 'online' | 'stopped' | 'fatal';
  pendingWrites: number;
  /**
   * Files queued on this device that the server has not confirmed whole (`files.uploads()`, refused ones
   * included: they are not on the server either). The session sets it from the upload queue
   * (`setPendingUploads`); the engine only carries it.
   */
  pendingUploads: number;
  /** When a pull, push or live change last completed, kept across restarts; null if never. */
  lastSyncedAt: string | null;
  /**
   * Documents of the catch-up this session: neither number goes down, across reconnects too (what is
   * left at a reconnect is added to what was done). Done counts what was pulled but the latest page, which
   * it counts once the pass is stored: done equals total once every record of the catch-up can be queried.
   */
  initialSync: { done: number; total: number };
  errors: SyncIssue[];
  quarantined: number;
  /** Local versions the server did not take (`unsent()`). */
  unsent: number;
  streams: number;
  passphrase: PassphraseStatus;
}

/** A stream whose local copy was removed because access ended, and why. */
export interface RemovedStream {
  stream: string;
  reason: 'expired' | 'revoked' | 'device-revoked';
}

export interface EngineDeps {
  collection: RecordsCollection;
  connection: Connection;
  keyring: Keyring;
  ed: Ed25519;
  accountId: string;
  device: { deviceId: string; secretKey: Uint8Array };
  /** The author device's key; `unavailable` (could not ask) quarantines for a retry, not for good. */
  lookupDeviceKey: (accountId: string, deviceId: string) => Promise<DeviceKeyLookup>;
  /**
   * When an account held write access to a patient's streams by the grants the patient signed, as this
   * device keeps them (record-codec.ts `writeGrants`; the session asks consent): a version by another
   * account than the patient outside them is set aside NO_WRITE_GRANT and fetched again when the grants
   * change (the keyring's `onGuardChange`). Absent, such versions are not checked against grants.
   */
  writeGrants?: WriteGrantLookup;
  now: () => number;
  replicationId: string;
  /** Persisted per-device lists (pending ids, quarantine); injected so the engine stays storage-agnostic. */
  meta: DeviceMeta;
  /** Called after a stream was purged because access ended (consent expired or revoked). */
  onPurged?: (removed: RemovedStream, count: number) => void;
  /**
   * Records a dismissal in the audit log (the session appends each entry to its patient's log): called
   * once per `dismissQuarantined` call that names listed entries, after they are checked and before
   * anything is written; a rejection refuses the dismissal with its error (see the header). Absent,
   * nothing is recorded.
   */
  auditDismissal?: (entries: readonly DismissalAuditEntry[]) => Promise<void>;
  onAccessChanged?: (frame: AccessChangedFrame) => void;
  /**
   * The server's list of streams, read whole (every page; stream-list.ts), shared with the keyring by the
   * session; one over `connection` when absent. The engine feeds it every `accessChanged` frame on arrival.
   */
  streamList?: StreamList;
  batchSize?: number;
  /** Least time between two stream head statements this device signs of one stream (default 60 s). */
  headSignEveryMs?: number;
  /** Backoff of re-fetching records quarantined for a reason that can pass (default 30 s doubling to 30 min). */
  quarantineRetry?: { baseMs: number; maxMs: number };
  /**
   * How long a local change waits, connected, for a newer server version it met that cannot be verified
   * yet (default CONFLICT_WAIT_MS; see the header); lowered by tests.
   */
  conflictWaitMs?: number;
  /** Backoff of sending versions waiting for their write key again (default KEY_WAIT_RETRY_BASE_MS, …_MAX_MS). */
  keyWaitRetry?: { baseMs: number; maxMs: number };
  /**
   * RxDB's retry wait and the backoff of requests refused as busy or failing (default RETRY_MS,
   * PUSH_BACKOFF_BASE_MS, PUSH_BACKOFF_MAX_MS); lowered by tests.
   */
  busyRetry?: { retryMs: number; baseMs: number; maxMs: number };
  /** Where batches of wire seals and opens run (a worker); this thread when absent. */
  offload?: CryptoOffload;
  /**
   * Seal once (store/stream-sealing.ts): the versions stored as they travel; a push sends one as stored
   * when it is exactly the row's state under the write epoch. Absent: every row is sealed at push.
   */
  storedVersions?: Pick<StreamSealing, 'storedFor' | 'noteReceived'>;
  /** The record rules served content is judged by: this build's `@hale/model` unless a test injects others. */
  contentModel?: ContentModel;
  /**
   * The identity of the rules `lookupDeviceKey` judges authors by now (the device directory's
   * `authorRules`), read as records are judged; `authorRulesId(false)` when absent.
   */
  authorRules?: () => string;
  /** Quarantine entries kept (default MAX_QUARANTINE); lowered by tests. */
  maxQuarantine?: number;
  /** Dismissed quarantine entries remembered (default MAX_DISMISSED); lowered by tests. */
  maxDismissed?: number;
  /**
   * Bytes of refused versions' content kept: per entry (default MAX_KEPT_VERSION_BYTES) and in all
   * (default MAX_KEPT_BYTES); lowered by tests.
   */
  keptContent?: { entryBytes: number; totalBytes: number };
}

/** A local version sent later, once its stream's write key came, and the server state it was made on. */
export interface KeyWait {
  record: WithDeleted<PlainRecord>;
  base: WithDeleted<PlainRecord> | undefined;
  at: string;
  /** Sent, and met a server version that cannot be verified yet (CONFLICT_WAIT), not a missing write key. */
  conflict?: boolean;
}
/** A local version the server will not take, and the state RxDB's row built it on (see unsent.ts `hold`). */
export interface Refusal {
  record: PlainRecord;
  base: PlainRecord | undefined;
  code: string;
  message: string;
}
/** A version this device sends over a server version it refused (`forgedOver`), and that version. */
export interface Overwrite {
  version: WithDeleted<PlainRecord>;
  master: ServedDoc;
  /** The account that signed `master`. */
  by: string;
}
/** Content of a refused version to keep under `slot` (see quarantine/list.ts `saveQuarantine`). */
export interface KeptWrite {
  slot: string;
  value: Static<typeof SYNC_STATE.quarantineKept>;
}
/** Which request of RxDB's replication loop failed (see issues.ts `replicationIssue`, `fromLoop`). */
export type LoopDirection = 'push' | 'pull';
/** RxDB's push rows. */
export type PushInput = Array<{
  newDocumentState: WithDeleted<PlainRecord>;
  assumedMasterState?: WithDeleted<PlainRecord>;
}>;
/** Re-exported for modules that name the access entry type. */
export type { StreamAccess };
