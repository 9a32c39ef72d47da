// An unlocked device: its encrypted store, its connection, its keys and the typed record API, wired
// together. Everything platform-specific (WebSocket, storage, fetch-backed account lookup, clock) is
// injected, so the same code runs in Chromium, Electron and Node tests. Given the vault and the HTTP API,
// it also takes a passphrase changed on another device as soon as the server reports it
// (passphrase-watch.ts); without them it only reports it in `sync.state().passphrase`.
//
// Refused before anything is opened, as AccountError: a locked account (LOCKED; its at-rest key would be
// zeroes, under which the store would be sealed for anyone), and a second session of a device database
// that is open or opening in this process, or, with `deviceLock` injected, in another tab, window or
// process holding that lock (SESSION_ALREADY_OPEN). The device is a single writer: its store is claimed
// before it is opened and given back after close() closed it, or after a failed open (store/device-lock.ts).
// An app running in browsers MUST inject a `deviceLock` (webDeviceLock of @hale/platform-web): without it two tabs both open the
// device, overwrite each other's metadata, lose writes and fork the audit chain.
//
// Locked while opening: the open takes the session's copies of the secrets before its first await and
// never reads the account's secret bytes again, so the database (its key check too) is only ever sealed
// under the real key. It answers LOCKED: before the database is touched when the lock came first (while an
// Ed25519 implementation is chosen), else after closing it again (the sign-in entry and metadata written
// meanwhile stay, sealed under the real key). Once unlocked, the same database opens.
//
// Locked while open (an idle auto-lock): lock() zeroes the account's key bytes in place, at any await of
// work under way. The session works with its own copies of the secrets, taken at open and zeroed by
// close(), so work under way finishes under the real keys and nothing is ever sealed, signed or derived
// under zeroes; and once the account is locked it starts nothing more with them: records (reads too),
// files, consent grant/revoke, audit appends and views and the FHIR export refuse with AccountError LOCKED,
// consent's re-keying checks between connects stop (as at close()), the keyring hands out no key (pushes
// stay pending; pulls are set aside and fetched again later; its stream keys are dropped, and zeroed by
// close()), and the connection ends fatal LOCKED at the lock itself (`onLock`; an idle session uses no
// key that would show it) and no other socket is opened (connection.ts `lockedOut`: requests already sent
// keep the socket until answered), so requests waiting for it and `sync.awaitInSync()` reject LOCKED at
// once instead of waiting until close(). A sync issue LOCKED says so. close() still closes cleanly; the
// next session opened with the account unlocked sends what is pending. Record changes noted in the last
// moments before close() are appended to the audit outbox, or, locked, kept for the next session
// (audit-log.ts). Once close() has done that (`shut`), every call refuses as after a lock (AccountError
// LOCKED: nothing is signed under the zeroed copies, nothing reaches the closed store), goOnline() opens
// no socket, and live record views complete.
import type { RxConflictHandler, RxStorage } from 'rxdb';
import { distinctUntilChanged, map, Subject } from 'rxjs';
import {
  base64urlDecode,
  chooseEd25519,
  type AccountKeys,
  type DeviceKeys,
  type Ed25519,
  type X25519,
  isAllZero,
} from '@hale/crypto';
import {
  isStreamId,
  parseStreamId,
  type KeyEnvelope,
  type EnvelopesFrame,
  type StreamsFrame,
} from '@hale/protocol';
import { kindsForStream, toFhirBundle, type FhirBundle, type FhirExportItem } from '@hale/model';
import {
  openDeviceDb,
  type DeviceDb,
  type DeviceRecord,
  type StorageValidationWrapper,
} from '../store/device-db';
import { claimDeviceStore, sessionAlreadyOpen, type DeviceLock } from '../store/device-lock';
import { deviceMetaStore } from '../store/meta-store';
import type { CryptoOffload } from '../offload/crypto-offload';
import { exportSidesOf, recordConflictHandlerFor } from '../records/conflicts';
import {
  createConnection,
  SyncError,
  type WebSocketFactory,
  type ConnectionStatus,
} from '../sync/connection';
import { createKeyring, putEnvelopes } from '../sync/keyring';
import type { CachedKey } from '../sync/key-cache';
import { createStreamSealer } from '../sync/stream-sealer';
import { createStreamSealing } from '../store/stream-sealing';
import { createStreamList } from '../sync/stream-list';
import {
  createDeviceDirectory,
  type AccountDevicesInfo,
  type AccountDeviceInfo,
  type AccountsDevicesAnswer,
} from '../sync/device-directory';
import { createSyncEngine, type RemovedStream } from '../sync/engine';
import type { NotWritableReason } from '../records/record-errors';
import type { ContentModel } from '../sync/record-codec';
import { createRecords, isRecordsApiKind } from '../records/records';
import { createConsent, type Consent } from '../consent/consent';
import { createFiles, type FilesHttpApi } from '../files/files';
import { createAuditLog, type AuditLog } from '../audit/audit-log';
import { signFhirExport, type SignedFhirBundle } from '../io/signed-fhir-export';
import { createDeviceMeta } from '../store/device-meta';
import { SYNC_STATE } from '../sync/stored-state';
import { SESSION_STATE } from './stored-state';
import { createPassphraseWatch, type WrappedRootApi } from './passphrase-watch';
import { createRekeyCheck } from './rekey-check';
import type { Vault } from '../account/vault';
import { assertUnlocked, isLocked, onDeviceRevoked, onLock } from '../account/account';
import { AccountError } from '../core/account-error';

/** The account a device session runs as: ids, role and keys (an `UnlockedAccount` is one). */
export interface DeviceAccount {
  accountId: string;
  role: 'patient' | 'provider';
  root: Uint8Array;
  keys: AccountKeys;
  device: DeviceKeys;
}

/**
 * The database name a session opens when `dbName` is not given, which `removeDeviceDb` needs to wipe the
 * device. Lower-cased since the first release: changing it would leave every existing device's database
 * behind under the old name. The ids are base64url (mixed case), so a name built from them unchanged names
 * another, empty database, and removing that removes nothing.
 */
export const deviceDbName = (accountId: string, deviceId: string): string =>
  `hale-${accountId}-${deviceId}`.toLowerCase();

/**
 * Options of `openDeviceSession`.
 * - `serverUrl` is `http(s)://host:port`; the socket goes to `ws(s)://host:port/sync`.
 * - `storage` is the platform's; the session wraps it with at-rest encryption.
 * - `getAccount` / `getAccounts` / `getDevice` / `getServerInfo` give other accounts' certified devices
 *   (revoked ones included) and the server's audit signing key, without which the server's audit entries do not
 *   verify.
 * - With `vault` and `api` a newer passphrase is taken by itself, and `files` uses the blob routes of `api`.
 * - `deviceLock` is required in a browser (see `DeviceLock`); `dbName` defaults to `deviceDbName`.
 * - Own writes are sealed once and opened stream keys kept for the next session (architecture.md, "Seal
 *   once").
 */
export interface DeviceSessionOptions {
  account: DeviceAccount;
  /** Base URL of the sync server, e.g. http://127.0.0.1:8787; the WebSocket is `${ws}/sync`. */
  serverUrl: string;
  createWebSocket: WebSocketFactory;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  storage: RxStorage<any, any>;
  /** Another account's identity key and certified devices, revoked ones included. */
  getAccount: (accountId: string) => Promise<AccountDevicesInfo>;
  /**
   * The device lists of up to MAX_ACCOUNTS_PER_LOOKUP accounts at once (`lookupAccounts` with a bearer
   * token): the keyring has its patients' lists loaded in batches instead of one `getAccount` each. A
   * server without the route answers NOT_FOUND, and `getAccount` is used instead.
   */
  getAccounts?: (accountIds: string[]) => Promise<AccountsDevicesAnswer>;
  /**
   * One device of an account, revoked ones too (`getAccountDevice`): what a device signed before its
   * account revoked it then still verifies. Without it such a device is an unknown author.
   */
  getDevice?: (accountId: string, deviceId: string) => Promise<AccountDeviceInfo>;
  /** GET /v1/server: the server's id and the public key it signs its audit entries with. */
  getServerInfo?: () => Promise<{ serverId: string; publicKey: string }>;
  ed?: Ed25519;
  /**
   * The host's X25519 for the sealed boxes (key envelopes, audit entry bodies, grant purposes); tweetnacl
   * by default. Node hosts pass node:crypto's (`createNodeX25519` of @hale/crypto/node): the same boxes.
   */
  x25519?: X25519;
  /** The session's clock (default `Date.now`). */
  now?: () => number;
  dbName?: string;
  /**
   * The exclusive lock of this device's store across tabs, windows and processes (`webDeviceLock(
   * navigator.locks)` in browsers, which MUST inject one). Held elsewhere, the open fails
   * SESSION_ALREADY_OPEN and opens nothing. Without it only a second open in this process is refused.
   */
  deviceLock?: DeviceLock;
  validation?: StorageValidationWrapper;
  batchSize?: number;
  /**
   * Backoff of re-fetching records set aside for a reason that can pass (a key not there yet, an author
   * lookup that failed): default 30 s, doubling up to 30 min. Reconnects and access changes retry at once.
   */
  quarantineRetry?: { baseMs: number; maxMs: number };
  /** RxDB's wait before sending a failed push or pull again (1 s) and the busy backoff (replication/busy.ts). */
  busyRetry?: { retryMs: number; baseMs: number; maxMs: number };
  /** The connection's reconnect waits (250 ms doubling to 15 s by default). */
  reconnect?: { initialMs: number; maxMs: number };
  /**
   * The record rules served content is judged by: this build's `@hale/model` (MODEL_VERSION,
   * validateRecord) by default. For tests that play an older or newer build.
   */
  contentModel?: ContentModel;
  /** Called after a stream's local copy was deleted because access to it ended. */
  onPurged?: (removed: RemovedStream, count: number) => void;
  /** Runs bulk cryptography (at-rest and wire seals/opens) off the main thread, e.g. `createNodeCryptoOffload()`. */
  cryptoOffload?: CryptoOffload;
  /** Open the stored versions a read returns in slices (a page's thread: no long task). */
  slicedReads?: boolean;
  /** Start offline (the app can call goOnline later). */
  offline?: boolean;
  /**
   * This device's vault. With `api`, a passphrase changed on another device is taken as soon as the server
   * reports it (`refreshWrappedRoot`); alone, it makes `sync.state().passphrase` exact without writing.
   */
  vault?: Vault;
  /**
   * The HTTP API (`createHttpApi(...)`): challenge, session and getWrappedRoot for the passphrase watch;
   * `files` needs the blob routes too (createBlob, putChunk, getBlob, getChunk, deleteBlob) and serverInfo.
   */
  api?: WrappedRootApi & Partial<FilesHttpApi>;
  /**
   * How often a patient device reads the server's grant list while connected, to learn of grants made or
   * revoked on the patient's other devices (consent GRANT_REFRESH_MS, 5 min, by default).
   */
  grantRefreshMs?: number;
  /** First wait before a revocation the server did not take while connected is sent again (consent REVOCATION_RETRY_MS, 5 s, by default). */
  revocationRetryMs?: number;
}

const wsUrlOf = (serverUrl: string): string => `${serverUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/sync`;

const isDuplicateDatabaseError = (e: unknown): boolean =>
  typeof e === 'object' &&
  e !== null &&
  (e as { rxdb?: unknown }).rxdb === true &&
  (e as { code?: unknown }).code === 'DB8';

/** The secrets a session works with: its own copies, zeroed by `wipe` (see the header). */
const copySecrets = (account: DeviceAccount) => {
  const root = account.root.slice();
  const keys: AccountKeys = {
    ...account.keys,
    identity: { ...account.keys.identity, secretKey: account.keys.identity.secretKey.slice() },
    wrapping: { ...account.keys.wrapping, secretKey: account.keys.wrapping.secretKey.slice() },
    localKey: account.keys.localKey.slice(),
  };
  const device = { deviceId: account.device.deviceId, secretKey: account.device.secretKey.slice() };
  const all = [root, keys.identity.secretKey, keys.wrapping.secretKey, keys.localKey, device.secretKey];
  return {
    root,
    keys,
    device,
    wipe: (): void => {
      for (const bytes of all) bytes.fill(0);
    },
  };
};

/**
 * Whether files queued offline may upload: connected and caught up. Not at `syncing`: that status comes with
 * the server's `ready`, before the engine took this connection's stream list (its epochs, keyring.ts
 * `noteServerEpoch`), and a file sealed then would go under a key a re-keying done meanwhile on another
 * device shut out (the server refuses a new blob's announce under a replaced epoch, STALE_EPOCH, and files.ts
 * then seals anew, but only a bounded number of times). `online` comes only from a pull pass asked for after it.
 */
const connectedStatus = (status: string): boolean => status === 'online';
/**
 * Whether the link is up (`syncing` too): the queue retries every waiting file at once only when it comes
 * back, not when an access change makes the engine catch up (`syncing`, then `online`) on a link that stayed.
 */
const linkUpStatus = (status: string): boolean => status === 'syncing' || status === 'online';

const lockedWhileOpening = () =>
  new AccountError('LOCKED', 'the account was locked while its device session was opening; unlock it again');

/**
 * Opens a device session: the local database through the at-rest wrapper, the replication, and (unless
 * `offline`) the connection.
 * - One session per device database, in this process and, with `deviceLock`, in other tabs and windows.
 * - `close()` gives the device lock back.
 *
 * @throws `AccountError` `LOCKED` for a locked account, `SESSION_ALREADY_OPEN` for a second session of the
 *   same database, `AtRestError` `AT_REST_DECRYPT_FAILED` for a wrong key.
 */
export const openDeviceSession = async (options: DeviceSessionOptions) => {
  const { account } = options;
  assertUnlocked(account);
  // lock() zeroes keys in place; an account object lock() never saw (a copy, a caller's own) may still
  // carry such keys, and a store sealed under zeroes is sealed for anyone.
  if (isAllZero(account.keys.localKey)) {
    throw new AccountError('LOCKED', 'the account has no at-rest key (it was locked); unlock it again');
  }
  const secretBytes = [account.root, account.keys.identity.secretKey, account.keys.wrapping.secretKey];
  if ([...secretBytes, account.device.secretKey].some(isAllZero)) {
    throw new AccountError('LOCKED', 'the account has all-zero keys (it was locked); unlock it again');
  }
  const now = options.now ?? Date.now;
  const dbName = options.dbName ?? deviceDbName(account.accountId, account.device.deviceId);
  // Claimed here synchronously, so that two opens started together cannot both pass; the injected lock is
  // taken below, still before the store is opened.
  const claim = claimDeviceStore({ storageName: options.storage.name, dbName }, options.deviceLock);
  // Taken before the first await, and the only key bytes this open reads: lock() zeroes the account's in
  // place at any await below (see the header).
  const secrets = copySecrets(account);
  let closed = false;
  /** close() kept what it keeps (the audit notes): from then on every call is refused (`assertUsable`). */
  let shut = false;
  /** Emits once, at `shutNow`: the live views complete (records.observe). */
  const closed$ = new Subject<void>();
  const shutNow = (): void => {
    if (shut) return;
    shut = true;
    closed$.next();
    closed$.complete();
  };
  let lockReported = false;
  // A read begun before a lock that reaches a version sealed once after it is refused as locked.
  const streamSealing = createStreamSealing({
    refusedAfterForget: () => new AccountError('LOCKED', 'the account was locked; unlock it to read'),
  });
  let ed: Ed25519;
  let db: DeviceDb;
  try {
    await claim.lock();
    ed = options.ed ?? (await chooseEd25519());
    // The copies would still be good, but the caller asked for nothing more under these keys, and the
    // database is not touched yet.
    if (isLocked(account)) throw lockedWhileOpening();
    db = await openDeviceDb({
      name: dbName,
      storage: options.storage,
      atRestKey: secrets.keys.localKey,
      // This device writes the merges it resolves: they carry its account and device (see conflicts.ts).
      conflictHandler: recordConflictHandlerFor({
        accountId: account.accountId,
        deviceId: account.device.deviceId,
      }) as unknown as RxConflictHandler<DeviceRecord>,
      ...(options.validation ? { validation: options.validation } : {}),
      ...(options.cryptoOffload ? { cryptoOffload: options.cryptoOffload } : {}),
      ...(options.slicedReads ? { slicedReads: true } : {}),
      streamSealing,
    });
  } catch (e) {
    secrets.wipe();
    // The open's own error is what the caller needs, not a lock's that failed to give back.
    await claim.release().catch(() => undefined);
    // Opened outside a session (openDeviceDb), so never claimed, but open all the same.
    if (isDuplicateDatabaseError(e)) throw sessionAlreadyOpen(dbName);
    throw e;
  }
  const collection = db.records;
  const invalid: { report: (key: string, reason: string) => void } = { report: () => undefined };
  const x25519 = options.x25519 === undefined ? {} : { x25519: options.x25519 };
  const meta = createDeviceMeta({
    // Late async work (an audit flush, a purge) may finish after close(); the store leaves a closed db alone.
    ...deviceMetaStore(db),
    onInvalid: (key, reason) => invalid.report(key, reason),
  });
  const directory = createDeviceDirectory({
    ed,
    getAccount: options.getAccount,
    ...(options.getAccounts ? { getAccounts: options.getAccounts } : {}),
    ...(options.getDevice ? { getDevice: options.getDevice } : {}),
    now,
    // A revocation verified once stays so after a restart, whatever device list the server answers then.
    remembered: {
      load: async () => (await meta.get('revoked-devices', SYNC_STATE.revokedDevices)) ?? [],
      save: (all) => meta.set('revoked-devices', all),
    },
  });
  let engineRef: ReturnType<typeof createSyncEngine> | null = null;
  let auditRef: AuditLog | null = null;
  let consentRef: Consent | null = null;
  let connectionRef: { lockedOut: () => void } | null = null;
  let keyringRef: { drop: () => void } | null = null;
  /** Whether the session may still use its keys: not once the account was locked, or after close(). */
  const usable = (): boolean => !closed && !isLocked(account);
  // Whatever finds the account locked first: reported once, and the socket up is given up (no other one
  // is authenticated, see createWebSocket below), so nothing more comes in to be set aside.
  const lockedNow = (): void => {
    if (closed || lockReported || !isLocked(account)) return;
    lockReported = true;
    consentRef?.stop();
    engineRef?.reportIssue({
      code: 'LOCKED',
      message:
        'the account was locked: nothing is read, written or sent with its keys; close this session and ' +
        'open it again once unlocked (unsent writes wait)',
    });
    connectionRef?.lockedOut();
    // Dropped now, zeroed at close(): work under way may still hold them (keyring.ts).
    keyringRef?.drop();
    // Seal once: the plaintext of stored versions and the sealer go with the keys.
    streamSealing.forget();
  };
  const assertUsable = (): void => {
    // Once close() has kept what it keeps, nothing is read, written or signed: its keys are zeroed, its
    // store closed (RxDB's own error would name neither), and an audit entry signed now would be
    // signed under zeroes and stored nowhere.
    if (shut) throw new AccountError('LOCKED', 'the device session was closed; open it again');
    if (!isLocked(account)) return;
    lockedNow();
    assertUnlocked(account);
  };
  // An idle session (an auto-lock) uses no key for a while: it gives up its socket at the lock itself.
  const offLock = onLock(account, lockedNow);
  // A device of the account revoked from here (revokeDevice with any account object of it): this device
  // signed it, so its directory takes it at once instead of trusting the device until its cached list is
  // reloaded.
  const offRevoked = onDeviceRevoked(account, ({ signed, revokedAt }) =>
    directory.noteRevocation(signed, secrets.keys.identity.publicKey, revokedAt),
  );
  const passphrase = createPassphraseWatch({
    account,
    device: secrets.device,
    usable,
    onUnusable: lockedNow,
    ed,
    vault: options.vault,
    api: options.api,
    onStatus: (status) => engineRef?.setPassphrase(status),
    onIssue: (issue) => engineRef?.reportIssue(issue),
    clearIssues: (match) => engineRef?.clearIssues(match),
  });
  const rekeyCheck = createRekeyCheck({
    rotate: () => consentRef?.rotateExpired() ?? null,
    report: (issue) => engineRef?.reportIssue(issue),
    clear: (match) => engineRef?.clearIssues(match),
  });
  const connection = createConnection({
    url: wsUrlOf(options.serverUrl),
    // Authenticating signs with the device key: refused once locked, with AccountError LOCKED, which
    // ends the connection (fatal LOCKED; goOnline() meets the same refusal).
    createWebSocket: (url) => {
      assertUsable();
      return options.createWebSocket(url);
    },
    device: secrets.device,
    ed,
    ...(options.reconnect ? { backoff: options.reconnect } : {}),
    onFrame: (frame) => {
      if (frame.t === 'wrappedRootChanged') passphrase.served(frame.gen);
      else engineRef?.onFrame(frame);
    },
    onStatus: (status: ConnectionStatus) => engineRef?.onStatus(status),
    onReady: (ready) => {
      if (!usable()) return lockedNow();
      // Devices revoked while this one was away must not stay trusted: device lists are fetched again.
      directory.expire();
      void engineRef?.onReady(ready).catch(() => undefined);
      // Noted changes left by an offline close or a failed resume go out too, not only the outbox.
      void auditRef?.connected(ready.incarnation).catch(() => undefined);
      // A re-keying that fails (e.g. the server does not confirm the new epoch) is reported; writes to the
      // streams concerned wait (NO_KEY) until a later check confirms it (keyring write guard).
      rekeyCheck();
      if (ready.wrappedRootGen !== undefined) passphrase.served(ready.wrappedRootGen);
    },
  });
  connectionRef = connection;
  // The engine lists the streams at every connect, and the rotation check started at the same moment has
  // the keyring plan its envelope slices from a list too: one listing (every page) serves both.
  const streamList = createStreamList({
    request: (frame) => connection.request<StreamsFrame>(frame),
    version: () => connection.version(),
  });
  const keyring = createKeyring({
    accountId: account.accountId,
    root: secrets.root,
    keys: secrets.keys,
    device: secrets.device,
    usable,
    onUnusable: lockedNow,
    ed,
    ...x25519,
    fetchEnvelopes: async (streams) => {
      const reply = await connection.request<EnvelopesFrame>(
        streams ? { t: 'getEnvelopes', streams: streams as KeyEnvelope['stream'][] } : { t: 'getEnvelopes' },
      );
      return reply.envelopes;
    },
    listStreams: () => streamList.list(),
    publishEnvelopes: (envelopes) => putEnvelopes(connection, envelopes),
    deviceKey: (accountId, deviceId) => directory.deviceKey(accountId, deviceId),
    preloadDeviceLists: (accountIds) => directory.preload(accountIds),
    // Sealed at rest as all device meta; a failed save only makes the next unlock open more envelopes.
    keyCache: {
      load: async () => (await meta.get('stream-keys', SYNC_STATE.streamKeys)) ?? [],
      save: (all: CachedKey[]) => meta.set('stream-keys', all),
    },
  });
  keyringRef = keyring;
  // Versions stored under kept keys are read once those are in (the load never rejects).
  await keyring.keptLoaded();
  streamSealing.attach(
    createStreamSealer({
      codec: {
        keyring,
        ed,
        device: secrets.device,
        accountId: account.accountId,
        lookupDeviceKey: (accountId, deviceId) => directory.lookupDeviceKey(accountId, deviceId),
        offload: options.cryptoOffload ?? null,
      },
      keyring,
    }),
  );
  // Streams whose records were purged (access ended): the upload queue drops its files of them too.
  const purgeListeners = new Set<(stream: string) => void>();
  const engine = createSyncEngine({
    collection,
    connection,
    streamList,
    keyring,
    ed,
    accountId: account.accountId,
    device: secrets.device,
    lookupDeviceKey: (accountId, deviceId) => directory.lookupDeviceKey(accountId, deviceId),
    authorRules: () => directory.authorRules(),
    // Who the patient let write its streams, by the grants it signed (consent.ts `writeSpans`; null for
    // other patients' streams). Consent is made below, before anything is pulled: a lookup before that
    // rejects, and the version waits aside (NO_WRITE_GRANT) for the next retry rather than pass unchecked.
    writeGrants: (patientId, type, accountId, fresh) =>
      consentRef === null
        ? Promise.reject(new Error('consent is not set up yet'))
        : consentRef.writeSpans(patientId, type, accountId, fresh),
    now,
    replicationId: `hale-sync-${account.accountId}-${account.device.deviceId}`,
    meta,
    onPurged: (removed, count) => {
      // Recorded in this device's own account log: the provider's record of what it no longer holds.
      void audit
        .append(account.accountId, {
          action: 'purge',
          summary: `removed ${count} record(s) of ${removed.stream}: access ${removed.reason}`,
          ...(isStreamId(removed.stream) ? { stream: removed.stream } : {}),
          reason: removed.reason,
          count,
        })
        .catch(() => undefined);
      // No record stream of that patient left: what the audit log kept for it is no longer needed.
      const ended = parseStreamId(removed.stream);
      const left =
        ended.ok &&
        engineRef?.access().some((a) => {
          const held = parseStreamId(a.stream);
          return held.ok && held.value.patientId === ended.value.patientId && held.value.type !== 'audit';
        });
      if (ended.ok && left === false) void audit.accessEnded(ended.value.patientId);
      for (const listener of [...purgeListeners]) listener(removed.stream);
      options.onPurged?.(removed, count);
    },
    // A dismissal is written to each patient's log before it is stored; one that cannot be written is not
    // made (engine.ts). `appendAll` has every wrapping key first, so the usual failure (a patient's key not
    // to be had offline) appends nothing for any patient of the call.
    auditDismissal: async (entries) => {
      try {
        await audit.appendAll(entries);
      } catch (error) {
        if (error instanceof AccountError) throw error;
        throw new SyncError(
          'DISMISSAL_NOT_AUDITED',
          `the dismissal could not be written to the audit log; nothing was dismissed: ${
            error instanceof Error ? error.message : String(error)
          }`,
          true,
        );
      }
    },
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    ...(options.quarantineRetry ? { quarantineRetry: options.quarantineRetry } : {}),
    ...(options.busyRetry ? { busyRetry: options.busyRetry } : {}),
    ...(options.contentModel ? { contentModel: options.contentModel } : {}),
    ...(options.cryptoOffload ? { offload: options.cryptoOffload } : {}),
    storedVersions: streamSealing,
  });
  engineRef = engine;
  // The account's own streams it always writes; others as far as the engine knows its access.
  const whyNotWritable = (stream: string): NotWritableReason | null =>
    stream.startsWith(`${account.accountId}/`) ? null : engine.whyNotWritable(stream);
  invalid.report = (key, reason) =>
    engine.reportIssue({
      code: 'META_INVALID',
      message: `device metadata "${key}" was unreadable and ignored: ${reason}`,
    });
  let serverKeyCache: { serverId: string; publicKey: Uint8Array } | null = null;
  const audit = createAuditLog({
    accountId: account.accountId,
    keys: secrets.keys,
    device: secrets.device,
    assertUnlocked: assertUsable,
    ed,
    ...x25519,
    now,
    connection,
    directory,
    meta,
    // Consent is made after the log: until then, the copy as stored.
    readGrants: () =>
      consentRef === null ? Promise.reject(new Error('consent not ready')) : consentRef.readListed(),
    serverKey: async () => {
      if (serverKeyCache || !options.getServerInfo) return serverKeyCache;
      const info = await options.getServerInfo();
      const pk = base64urlDecode(info.publicKey);
      serverKeyCache = pk.ok ? { serverId: info.serverId, publicKey: pk.value } : null;
      return serverKeyCache;
    },
  });
  auditRef = audit;
  const records = createRecords({
    collection,
    accountId: account.accountId,
    deviceId: account.device.deviceId,
    now,
    assertUnlocked: assertUsable,
    closed$,
    whyNotWritable,
    meta,
    onGroup: (members) => engine.groupWrites(members),
    onWrite: (id, change) => {
      engine.notePending(id, change.rv);
      // Awaited by the write: it resolves once its change is noted on disk for the audit log.
      return audit.noteRecordChange(change.patientId, { action: change.action, kind: change.kind, id });
    },
  });
  // A purged stream's kinds leave the chart's newest digests too (ids and clinical dates).
  purgeListeners.add((stream) => {
    const ended = parseStreamId(stream);
    if (!ended.ok || ended.value.type === 'audit') return;
    void records.forgetNewest(ended.value.patientId, kindsForStream(ended.value.type)).catch(() => undefined);
  });
  const consent = createConsent({
    accountId: account.accountId,
    role: account.role,
    keys: secrets.keys,
    device: secrets.device,
    assertUnlocked: assertUsable,
    usable,
    ...(options.grantRefreshMs === undefined ? {} : { grantRefreshMs: options.grantRefreshMs }),
    ...(options.revocationRetryMs === undefined ? {} : { revocationRetryMs: options.revocationRetryMs }),
    ed,
    ...x25519,
    connection,
    keyring,
    directory,
    now,
    meta,
    recorded: (lookup) => audit.recorded(lookup),
    report: (issue) => engineRef?.reportIssue(issue),
    clearReport: (issue) => engineRef?.clearIssues(issue),
    // Sent at once, not with the next record write or connect: a device lost right after a grant or
    // revocation must not take the only copy of that disclosure decision with it.
    onEvent: (event) => {
      void audit
        .append(account.accountId, { action: event.action, summary: event.action, ...event.detail })
        .then(() => audit.flush())
        .catch(() => undefined);
    },
  });
  consentRef = consent;
  const files = createFiles({
    accountId: account.accountId,
    api: options.api,
    device: secrets.device,
    ed,
    now,
    keyring,
    assertUnlocked: assertUsable,
    usable,
    // Files added offline (files/upload-queue.ts): uploaded while connected and caught up (above).
    queue: {
      meta,
      online: () => connectedStatus(engine.state().status),
      // Only status changes: state$ emits at every change of the sync state (counts, errors too).
      onOnlineChange: (listener) => {
        const subscription = engine.state$
          .pipe(
            map((state) => state.status),
            distinctUntilChanged(),
          )
          .subscribe((status) => listener(connectedStatus(status), linkUpStatus(status)));
        return () => subscription.unsubscribe();
      },
      whyNotWritable,
      report: (issue) => engine.reportIssue(issue),
      clearReport: (issue) => engine.clearIssues(issue),
      onStreamPurged: (listener) => {
        purgeListeners.add(listener);
        return () => purgeListeners.delete(listener);
      },
    },
  });
  // Queued files are not on the server yet: counted apart from pendingWrites (SyncState `pendingUploads`).
  files.uploads$.subscribe((list) => engine.setPendingUploads(list.length));
  // A lock at an await below: the open ends LOCKED through the catch, which closes what it opened. In
  // between, only the copies are used, and audit appends refuse by themselves.
  const assertNotLockedWhileOpening = (): void => {
    if (isLocked(account)) throw lockedWhileOpening();
  };
  try {
    assertNotLockedWhileOpening();
    if ((await meta.get('signed-in', SESSION_STATE.signedIn)) !== true) {
      await audit.append(account.accountId, {
        action: 'device-sign-in',
        summary: 'a device signed in to this account',
        deviceId: account.device.deviceId,
      });
      await meta.set('signed-in', true);
    }
    await audit.resumeNoted();
    // Read before the session is handed out: uploads() and pendingUploads never miss a queued file.
    await files.uploadsRead();
    assertNotLockedWhileOpening();
    await engine.start();
    // Returned now, the caller would get a session that refuses everything: closed instead, as above.
    assertNotLockedWhileOpening();
  } catch (e) {
    // The caller gets no session to close: left open, the database could never be opened again here.
    closed = true;
    shutNow();
    offLock();
    offRevoked();
    audit.stop();
    passphrase.stop();
    consent.stop();
    connection.stop();
    await engine.stop().catch(() => undefined);
    await db.close().catch(() => false);
    secrets.wipe();
    await claim.release().catch(() => undefined);
    throw e;
  }
  if (!options.offline) connection.start();

  return {
    account,
    db,
    records,
    consent,
    files,
    audit,
    keyring,
    directory,
    connection,
    engine,
    sync: {
      state$: engine.state$,
      /** The current sync state (the last value of `state$`). */
      state: engine.state,
      /** The entries set aside, oldest first (see `QuarantinedItem`). */
      quarantine: engine.quarantine,
      /** Local versions the server did not take, oldest first (see `UnsentChange`). */
      unsent: engine.unsent,
      /**
       * Forgets the kept unsent versions of a record: every one, or with `rv` those of that revision number.
       * Answers whether one was kept.
       */
      discardUnsent: (stream: string, id: string, rv?: number) => engine.discardUnsent(stream, id, rv),
      /**
       * Takes entries off `quarantine()` once the person has seen them (all named or none), recorded in the
       * audit log, which is then flushed.
       * @throws SyncError NOT_QUARANTINED (an entry not listed); AccountError LOCKED (locked or closed).
       */
      dismissQuarantined: async (...entries: Parameters<typeof engine.dismissQuarantined>): Promise<void> => {
        assertUsable();
        await engine.dismissQuarantined(...entries);
        // Sent at once, as consent decisions are: the dismissal's only trace must not wait for a write.
        if (entries.length > 0) void audit.flush().catch(() => 0);
      },
      /**
       * The content of a quarantined version as this device opened and verified it, with its author and
       * its entry's reason.
       * @throws SyncError NOT_QUARANTINED, VERSION_NOT_KEPT; AccountError LOCKED (locked or closed).
       */
      quarantinedVersion: async (entry: Parameters<typeof engine.quarantinedVersion>[0]) => {
        assertUsable();
        return engine.quarantinedVersion(entry);
      },
      /** Stops the connection; writes stay pending until `goOnline`. Requests under way reject STOPPED. */
      goOffline: (): void => connection.stop(),
      /**
       * Connects again after `goOffline` (or a fatal refusal).
       * - Does nothing once the session is closed (its device key is zeroed).
       */
      goOnline: (): void => {
        if (!closed) connection.start();
      },
      /**
       * Resolves when everything local was pushed and the last pull found nothing new.
       * - After `goOffline`: in sync as the replication last saw it (nothing is pulled).
       * @throws SyncError STOPPED once the session closed; the connection's failure once it is fatal
       * (DEVICE_REVOKED, LOCKED, …).
       */
      awaitInSync: () => engine.awaitInSync(),
    },
    /**
     * Everything this device holds for a patient (default: this account) as a FHIR R4 Bundle — the
     * standard export, not a private envelope — signed by this account's identity key (`Bundle.signature`,
     * export/signed-fhir-export.ts), so a recipient can check it with `verifyFhirExport`. A record in an
     * unsettled conflict is exported with its other sides beside it, all tagged as in conflict
     * (docs/data-model.md). Recorded in the audit trail.
     */
    /**
     * `prepare`, when given, restates the Bundle before it is signed (hale-io.ts: standard references,
     * Practitioners from the directory, files embedded); what it answers is what is signed.
     */
    async exportFhir(
      patientId: string = account.accountId,
      prepare?: (bundle: FhirBundle) => Promise<FhirBundle>,
    ): Promise<SignedFhirBundle> {
      assertUsable();
      const docs = await collection.find({ selector: { patientId } }).exec();
      // Records of the records API only: an AuditEntry an older build stored as a record is no entry of
      // the trail (it never reached the server) and is left out.
      // A record in an unsettled conflict goes out with its other sides, marked disputed: exporting only
      // the version shown would hand a clinician a contested value as settled.
      const items = docs
        .map((d) => d.toMutableJSON())
        .flatMap((r) =>
          isRecordsApiKind(r.kind)
            ? [
                {
                  kind: r.kind,
                  record: r.data,
                  ...(r.conflict
                    ? { conflict: { sides: exportSidesOf(r.kind, r.data, r.conflictData) } }
                    : {}),
                } as unknown as FhirExportItem,
              ]
            : [],
        );
      const unsigned = toFhirBundle({
        patientId,
        records: items,
        generatedAt: new Date(now()).toISOString(),
      });
      const bundle = await signFhirExport(
        prepare === undefined ? unsigned : await prepare(unsigned),
        { accountId: account.accountId, identity: secrets.keys.identity },
        ed,
        unsigned.timestamp,
      );
      await audit.append(account.accountId, {
        action: 'export',
        summary: `exported ${items.length} record(s) as a FHIR R4 Bundle`,
        patientId,
        count: items.length,
      });
      await audit.flush().catch(() => 0);
      return bundle;
    },
    /** Also after lock(account): the session then closes as ever (see the header). */
    async close(): Promise<void> {
      closed = true;
      offLock();
      offRevoked();
      passphrase.stop();
      consent.stop();
      // First, so an audit push under way fails at once instead of holding up the appends below.
      connection.stop();
      try {
        await audit.close();
        shutNow();
        await engine.stop();
        // The highest epochs held, saved before the store closes (keyring.ts).
        await keyring.floorsSaved();
        await db.close();
      } finally {
        shutNow();
        keyring.wipe();
        secrets.wipe();
        // Last: another tab may open the store once it is given back.
        await claim.release();
      }
    },
  };
};

/**
 * An open device session: `records`, `files`, `consent`, `audit`, `sync`, `engine`, `connection`, `keyring`,
 * `directory`, `db`, `account`, `exportFhir` and `close()`.
 */
export type DeviceSession = Awaited<ReturnType<typeof openDeviceSession>>;
