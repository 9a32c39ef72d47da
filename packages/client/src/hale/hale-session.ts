/**
 * `HaleSession`: an unlocked device as an app's screens use it. Declared here, not inferred: what an app
 * may call is this interface and nothing else (the parts it is built from are `@hale/client/advanced`).
 *
 * | area | reads (Observed: get/subscribe and `$`) | does |
 * |---|---|---|
 * | `records` | `list(kind, query)`, `one(id)`, `history(id)` | query (once), add, update, remove, get, resolveConflict |
 * | `sync` | `state`, `initialSync`, `issues`, `quarantine`, `unsent` | goOnline/goOffline, awaitInSync, dismiss, discard |
 * | `consent` | `grants` (given, with their state), `grantsReceived` (charts shared with this account) | grant, revoke, describe/verify a provider |
 * | `audit` | `access` (who accessed what), `disclosures`, `verification` | refresh |
 * | `files` | `uploads` and `downloads`, with progress | put, enqueue, get, delete, cancel, retry |
 * | `devices` | `list` (active and revoked) | revoke, rename, refresh, approvePairing |
 * | `directory` | `results(q)` (pages of a search) | search (one page a call), publish this provider's profile |
 * | `search(q)` | records of a chart matching words, ranked, with the field matched | — |
 * | `drafts` | — | get, set, delete, list, clear: forms' unsaved typing, sealed at rest on this device (drafts.ts) |
 *
 * Invariants: every Observed reads only what this device holds or last fetched; views of records
 * complete when the session closes; every method refuses with a HaleError once the session is locked
 * or closed (AccountError LOCKED). A refusal names the record a call was given (`recordId`) when the
 * error does not already.
 */
import { map, merge, Observable, distinctUntilChanged, firstValueFrom, of, switchMap, timer } from 'rxjs';
import { parseStreamId, type HttpAccountDeleteResponse, type HttpDeviceRevokeResponse } from '@hale/protocol';
import type { RecordKind, RecordOf, FileRef } from '@hale/model';
import type { DeviceSession } from '../session/session';
import {
  RecordError,
  type NewestOptions,
  type NewestPage,
  type RecordInput,
  type StoredRecord,
  type WriteOptions,
  type WriteOp,
} from '../records/records';
import type {
  QuarantinedItem,
  QuarantinedVersion,
  QuarantineKey,
  RemovedStream,
  SyncIssue,
  SyncState,
  UnsentChange,
} from '../sync/engine';
import type { ChangeResult, GrantChange, GrantRequest, RevokeResult, StoredGrant } from '../consent/consent';
import type { AccessRecord, AuditViewAnswer, Disclosure } from '../audit/audit-log';
import type { AuditVerification } from '../audit/audit-chain';
import type { FileEnqueueInput, FileLocation, FilePutInput } from '../files/files';
import type { DeviceList } from '../account/device-list';
import type { ProviderProfileInput, UnlockedAccount, VerifiedProvider } from '../account/account';
import type { SignedFhirBundle } from '../io/signed-fhir-export';
import { DEFAULT_PACING, createLiveIndex, type IndexPacing, type LiveIndex } from '../search/live-index';
import { SEARCHABLE_KINDS } from '../search/search-fields';
import { searchObserved, type SearchOptions, type SearchResults } from '../search/chart-search';
import type { PairingRequest } from '../pairing/approver';
import { observedFrom, type Observed } from '../core/observed';
import { concerning } from '../core/hale-error';
import { polled, sameJson } from './polled';
import { checkRecordQuery, pageOfView, type RecordPage, type RecordQuery } from '../records/record-query';
import { createRecordViews } from '../records/record-views';
import { historyOf, type RecordHistory } from '../records/record-history';
import {
  grantStateOf,
  receivedGrantsOf,
  type GrantView,
  type ReceivedGrant,
  type SeenEnd,
} from './grant-views';
import { downloadTracker, uploadsWithProgress, type DownloadView, type UploadView } from './transfers';
import { providerSearch, type ProviderSearch } from './provider-search';
import { createHaleCare, type HaleCare, type HaleCareDeps } from './hale-care';
import { directoryLookup, linkCounts, toHaleIo, type HaleIo } from './hale-io';
import type { RecordsIoDeps } from '../io/records-io-deps';
import { createDrafts, lockedDrafts, type HaleDrafts } from './drafts';
import { createDeviceNaming } from './device-naming';
import { createDeviceMeta } from '../store/device-meta';
import { deviceMetaStore } from '../store/meta-store';

export type { RecordPage, RecordQuery } from '../records/record-query';
export type { NewestOptions, NewestPage } from '../records/newest';
export { pageOf } from '../records/record-query';

/**
 * A chart's records (`session.records`): list, read, write, history and conflicts.
 *
 * @throws `RecordError` (`RecordErrorCode`).
 */
export interface HaleRecords {
  /** A kind's records, filtered, sorted and paged (`RecordQuery`); refuses a malformed query at once (VALIDATION_FAILED). */
  list<K extends RecordKind>(kind: K, query?: RecordQuery): Observed<RecordPage<K>>;
  /** The same page once, as the store holds it now (for code that does not follow changes: exports, tools). */
  query<K extends RecordKind>(kind: K, query?: RecordQuery): Promise<RecordPage<K>>;
  /**
   * The newest `limit` (default 20, 1 to 1000) records of a kind of one chart by clinical date, newest
   * first, live, and `complete` when they are all there are; with `series` (LabResult), the newest result
   * of each of the first `series` tests; reads about `limit` + `series` records, not all of them.
   */
  newest<K extends RecordKind>(kind: K, options?: NewestOptions): Observed<NewestPage<K>>;
  /** One record, live; null while there is none. */
  one<K extends RecordKind>(id: string): Observed<StoredRecord<K> | null>;
  /** One record with its versions, newest first (`RecordHistory`); null while there is none. */
  history<K extends RecordKind>(id: string): Observed<RecordHistory<K> | null>;
  /** `patientId`: a chart this account may write (a clinician's write grant); this account's by default. */
  add<K extends RecordKind>(
    kind: K,
    input: RecordInput<K>,
    options?: { patientId?: string } & WriteOptions,
  ): Promise<RecordOf<K>>;
  /** Writes a new version of a record. */
  update<K extends RecordKind>(
    kind: K,
    id: string,
    patch: Partial<RecordOf<K>>,
    options?: WriteOptions,
  ): Promise<RecordOf<K>>;
  /**
   * One action of a person that writes several records (a note's header and text): each is checked by
   * every rule before any is written; a refusal writes none. The records written, in order.
   */
  writeAll(ops: readonly WriteOp[]): Promise<RecordOf<RecordKind>[]>;
  /** Deletes a record (a new, deleted version). */
  remove(id: string): Promise<void>;
  /** One record, or null. */
  get<K extends RecordKind>(id: string): Promise<StoredRecord<K> | null>;
  /** Settles a record's conflict with the version chosen. */
  resolveConflict<K extends RecordKind>(
    id: string,
    choice: 'keep' | 'other' | Partial<RecordOf<K>>,
    expected: { expectedRv: number },
  ): Promise<RecordOf<K> | null>;
}

/** A first sync's progress: records of the catch-up stored (`done`) of those to fetch (`total`). */
export interface InitialSyncProgress {
  readonly done: number;
  readonly total: number;
  /** Nothing left to fetch (`done >= total`; true with nothing to fetch at all). */
  readonly complete: boolean;
}

/** Sync state and control (`session.sync`): state, quarantine and unsent changes. */
export interface HaleSync {
  readonly state: Observed<SyncState>;
  /** The catch-up's progress bar (n of m), from `state.initialSync`. */
  readonly initialSync: Observed<InitialSyncProgress>;
  readonly issues: Observed<readonly SyncIssue[]>;
  readonly quarantine: Observed<readonly QuarantinedItem[]>;
  readonly unsent: Observed<readonly UnsentChange[]>;
  /** Connects again after `goOffline`. */
  goOnline(): void;
  /** Disconnects; writes stay pending until `goOnline`. */
  goOffline(): void;
  /** Resolves once every pending write was sent and the catch-up is done. */
  awaitInSync(): Promise<void>;
  /** Forgets quarantined versions. */
  dismissQuarantined(...entries: QuarantineKey[]): Promise<void>;
  /** The content of a quarantined version, for a person to inspect. */
  quarantinedVersion(entry: QuarantineKey): Promise<QuarantinedVersion>;
  /** Removes an unsent change; true when there was one. */
  discardUnsent(stream: string, id: string, rv?: number): Promise<boolean>;
}

export type { GrantView } from './grant-views';

/**
 * Grants from and to this account (`session.consent`).
 *
 * @throws `ConsentError` (`ConsentErrorCode`).
 */
export interface HaleConsent {
  /** Grants given from this account, refreshed after every grant and revoke and every `refreshMs`. */
  readonly grants: Observed<readonly GrantView[]>;
  /**
   * Charts shared with this account, by patient, with their streams and state (a clinician's list of
   * patients); a chart whose access ended in this session stays listed `ended`, with why.
   */
  readonly grantsReceived: Observed<readonly ReceivedGrant[]>;
  /** The wording to show before a revocation. */
  readonly revocationNotice: string;
  /** Grants a provider access to streams of this chart. */
  grant(request: GrantRequest): Promise<StoredGrant>;
  /** Revokes a grant; its streams are re-keyed. */
  revoke(grantId: string): Promise<RevokeResult>;
  /**
   * Changes a grant in force (kinds, read or write, its end): a new signed grant replaces it, the old one
   * listed `replaced`; a kind left out is re-keyed at once, a kind kept is not.
   */
  change(grantId: string, change: GrantChange): Promise<ChangeResult>;
  /** A provider's fingerprint, safety number and whether its key changed. */
  describeProvider(accountId: string): ReturnType<DeviceSession['consent']['describeProvider']>;
  /** Records that the person compared the provider's fingerprint out of band. */
  verifyProvider(accountId: string): ReturnType<DeviceSession['consent']['verifyProvider']>;
  /** On a provider device: accepts a patient's invite. */
  acceptInvite(invite: string): ReturnType<DeviceSession['consent']['acceptInvite']>;
  /**
   * This account's invite (`hale-invite:1:<accountId>:<fingerprint>`), for a clinician to show as a QR code
   * or link: a patient's `acceptInvite` checks the key the server presents against it.
   */
  invite(): string;
  /** Reads the grant lists again now. */
  refresh(): void;
}

/**
 * The chart's audit log (`session.audit`): who accessed it, disclosures and verification.
 *
 * @throws `AuditError` (`AUDIT_ERROR_CODES`).
 */
export interface HaleAudit {
  /**
   * Who accessed this chart (read from the server's log and verified); offline, what was verified before,
   * `complete: false` with its `asOf`. Null until first read. A grantee's device is named as it named
   * itself in the log (`actorDeviceName`).
   */
  readonly access: Observed<AuditViewAnswer<AccessRecord[]> | null>;
  readonly disclosures: Observed<AuditViewAnswer<Disclosure[]> | null>;
  /** The log's check: intact, or which entry is wrong. Null until first checked. */
  readonly verification: Observed<AuditVerification | null>;
  /** Reads the log again now. */
  refresh(): void;
}

/**
 * Files of the chart (`session.files`), end-to-end encrypted on the server.
 *
 * @throws `FileError` (`FILE_ERROR_CODES`).
 */
export interface HaleFiles {
  /** The upload queue (`enqueue`), each file with its state and `progress`. */
  readonly uploads: Observed<readonly UploadView[]>;
  /** Every `get` under way, with the bytes received. */
  readonly downloads: Observed<readonly DownloadView[]>;
  /** Uploads a file now. */
  put(input: FilePutInput): Promise<FileRef>;
  /** Queues a file's upload; it survives restarts. */
  enqueue(input: FileEnqueueInput): Promise<FileRef>;
  /** A file's bytes, decrypted. */
  get(fileRef: FileRef, location: FileLocation): Promise<Uint8Array>;
  /** Deletes a file from the server. */
  delete(fileRef: FileRef, location: FileLocation): Promise<void>;
  /** Cancels a queued upload; true when there was one. */
  cancelUpload(blobId: string): Promise<boolean>;
  /** Retries a failed queued upload now; true when there was one. */
  retryUpload(blobId: string): Promise<boolean>;
}

/** The account's devices (`session.devices`). */
export interface HaleDevices {
  readonly list: Observed<DeviceList | null>;
  /**
   * Revokes a device: its certificate and sessions end at once (`DEVICE_REVOKED`).
   * - It does not take the account's keys from that device: whoever can unlock it can join again with its
   *   root.
   */
  revoke(deviceId: string): Promise<HttpDeviceRevokeResponse>;
  /**
   * Names one of the account's active devices (this one or another) anew: the name sealed to the account
   * and signed by it, shown on every device of the account; the server never reads it. This device's new
   * name also goes, sealed, to the patients whose charts it holds (device-naming.ts). AccountError LOCKED,
   * INVALID_DEVICE_NAME (1 to 100 characters); the server's NOT_FOUND, DEVICE_REVOKED.
   */
  rename(deviceId: string, name: string): Promise<void>;
  /** Reads the device list again now. */
  refresh(): void;
  /**
   * Answers a new device's pairing code (typed, or its QR link): resolves once both screens show the digits;
   * `approve()` then sends the account to it (docs/client-api.md, "Adding a device by pairing").
   */
  approvePairing(code: string): Promise<PairingRequest>;
}

/** The provider directory (`session.directory`). */
export interface HaleDirectory {
  /** A provider account publishes (or replaces) its signed profile in the directory. */
  publishProfile(profile: ProviderProfileInput): Promise<void>;
  /** One page of providers whose name matches `q`; `next` (as `cursor`) for the page after. */
  search(
    q: string,
    options?: { limit?: number; cursor?: string },
  ): Promise<{ providers: VerifiedProvider[]; dropped: number; next?: string }>;
  /** The same search for a screen: an Observed of the pages read so far; `more()` reads the next one. */
  results(
    q: string,
    options?: { limit?: number },
  ): Observed<ProviderSearch> & {
    /**
     * Reads the next page; a failed page is read again.
     * - Does nothing while a page is being read, or when the server has no next page (`hasMore` false).
     */
    readonly more: () => void;
  };
}

/** What `changePassphrase` takes: the new passphrase and a proof that the person holds the account. */
export type PassphraseChange = { readonly newPassphrase: string } & (
  { readonly oldPassphrase: string } | { readonly recoveryKey: string }
);

/** The account a session is open on: ids, role, login name and this device. */
export interface HaleAccountInfo {
  readonly accountId: string;
  readonly role: 'patient' | 'provider';
  readonly loginName?: string;
  readonly deviceId: string;
  readonly deviceName: string;
}

/** An open session of an account on this device: what `Hale` hands back and an app uses. */
export interface HaleSession {
  readonly account: HaleAccountInfo;
  readonly records: HaleRecords;
  readonly sync: HaleSync;
  readonly consent: HaleConsent;
  readonly audit: HaleAudit;
  readonly files: HaleFiles;
  readonly devices: HaleDevices;
  readonly directory: HaleDirectory;
  /**
   * The records of a chart (default: this account's) whose text matches every word of `query`, ranked,
   * each with the field it matched in; in memory only, run again as records change (`SearchResults`).
   */
  search(query: string, options?: SearchOptions): Observed<SearchResults>;
  /** Messages, appointments, availability, notifications, plans, co-signatures (hale-care.ts). */
  readonly care: HaleCare;
  /** Records in and out: FHIR import, export forms, the patient summary, shared links, emergency card. */
  readonly io: HaleIo;
  /** What a person typed into forms and has not saved, sealed at rest on this device (drafts.ts). */
  readonly drafts: HaleDrafts;
  /** The chart (default: this account's) as a signed FHIR R4 Bundle; recorded in the audit trail. */
  exportFhir(patientId?: string): Promise<SignedFhirBundle>;
  /**
   * A new passphrase for the account, on the server and in this device's vault (the account's other
   * devices follow at their next connection), proven by the current passphrase or the recovery key.
   * Online only; refusals are AccountErrors (WRONG_PASSPHRASE, WEAK_PASSPHRASE, PASSPHRASE_CHANGED_ELSEWHERE, …).
   */
  changePassphrase(input: PassphraseChange): Promise<void>;
  /**
   * Deletes the account for good: the server erases everything it holds of it (records' ciphertext, key
   * envelopes, files, grants, devices; a patient's account only), then this session closes and this
   * device's store and vault entry are wiped. Online only: a refusal (offline, FORBIDDEN, UNAVAILABLE from
   * a store that cannot erase) leaves everything as it was. The account's other devices are locked out
   * and keep what they hold until they are signed out. Ask the person to confirm first.
   * `erased` runs once the server has erased the account, before this session locks: a screen showing
   * the session lets go of it there, so nothing reads a locked session.
   */
  deleteAccount(options?: { readonly erased?: () => void }): Promise<HttpAccountDeleteResponse>;
  /** Forgets the keys (AccountError LOCKED from then on) and closes the session. */
  lock(): Promise<void>;
  /** Closes the session: stops sync and closes the store. */
  close(): Promise<void>;
}

/** What `toHaleSession` needs beside the device session: the account-level calls it makes. */
export interface HaleSessionDeps {
  readonly session: DeviceSession;
  readonly account: Pick<UnlockedAccount, 'accountId' | 'role' | 'device'> &
    Partial<Pick<UnlockedAccount, 'loginName' | 'deviceName'>>;
  readonly listDevices: () => Promise<DeviceList>;
  readonly revokeDevice: (deviceId: string) => Promise<HttpDeviceRevokeResponse>;
  readonly renameDevice: (deviceId: string, name: string) => Promise<unknown>;
  readonly searchProviders: HaleDirectory['search'];
  readonly publishProfile: HaleDirectory['publishProfile'];
  readonly changePassphrase: HaleSession['changePassphrase'];
  readonly lock: () => void;
  /** Answers a pairing code (`devices.approvePairing`); absent, it refuses. */
  readonly approvePairing?: (code: string) => Promise<PairingRequest>;
  /** Asks the server to erase the account (`deleteAccount`); absent, it refuses. */
  readonly deleteAccount?: () => Promise<HttpAccountDeleteResponse>;
  /** After the session closed on a deleted account: wipes this device's store and vault entry. */
  readonly wipeDevice?: () => Promise<void>;
  /** After close: what the session's platform made for it (a crypto worker). */
  readonly onClose?: () => Promise<void> | void;
  /** What `io` needs beyond the session: the server's base URL, fetch, bearer tokens, the directory. */
  readonly io?: Omit<RecordsIoDeps, 'session'>;
  /** How often grants, the audit views and devices are read again while something shows them; 60 s by default. */
  readonly refreshMs?: number;
  /** The session's clock (grant states); `Date.now` by default. */
  readonly now?: () => number;
  /** How a chart's search index is built: chunks in later turns (`DEFAULT_PACING`) by default. */
  readonly searchPacing?: IndexPacing;
  /** Streams purged because access ended, with the records removed (the session's `onPurged`). */
  readonly purged$?: Observable<{ readonly removed: RemovedStream; readonly count: number }>;
  /** What the care area needs beside the device session (its HTTP API, Ed25519, clock). */
  readonly care?: Omit<HaleCareDeps, 'session'>;
}

/** `run()`, its refusal naming `about` where the error names nothing itself. */
const naming = async <T>(about: { recordId?: string }, run: () => Promise<T>): Promise<T> => {
  try {
    return await run();
  } catch (e) {
    throw concerning(e, about);
  }
};

/** Builds the declared session over a device session. */
export function toHaleSession(deps: HaleSessionDeps): HaleSession {
  const { session, account } = deps;
  const everyMs = deps.refreshMs ?? 60_000;
  const now = deps.now ?? Date.now;
  const state$ = session.sync.state$;
  // Something changed that a polled view may show: a grant, a revoke, or `refresh()`.
  const changes = new Set<() => void>();
  const changed$ = new Observable<void>((subscriber) => {
    const f = (): void => subscriber.next();
    changes.add(f);
    return () => changes.delete(f);
  });
  const touch = (): void => {
    for (const f of [...changes]) f();
  };
  const fromState = <T>(pick: (s: SyncState) => T, initial: T): Observed<T> =>
    observedFrom(state$.pipe(map(pick), distinctUntilChanged<T>(sameJson)), initial, () =>
      pick(session.sync.state()),
    );

  // Lists of one kind and chart share one sorted view (record-views.ts). The records API is asked every
  // time, so a locked session or a bad patientId is refused at once, before any view is shared.
  const views = createRecordViews();
  const viewOf = <K extends RecordKind>(kind: K, patientId: string | undefined) =>
    views.view(kind, patientId, session.records.observe(kind, patientId === undefined ? {} : { patientId }));

  const records: HaleRecords = {
    list: <K extends RecordKind>(kind: K, query: RecordQuery = {}) => {
      checkRecordQuery(kind, query);
      return observedFrom(viewOf(kind, query.patientId).pipe(map((view) => pageOfView(view, query))), {
        items: [],
        total: 0,
        loading: true,
      });
    },
    query: async <K extends RecordKind>(kind: K, query: RecordQuery = {}) => {
      checkRecordQuery(kind, query);
      return pageOfView(await firstValueFrom(viewOf(kind, query.patientId)), query);
    },
    newest: (kind, options) =>
      observedFrom(session.records.newest(kind, options), {
        items: [],
        series: [],
        complete: false,
        loading: true,
      }),
    one: <K extends RecordKind>(id: string) => observedFrom(session.records.observeOne<K>(id), null),
    history: <K extends RecordKind>(id: string) =>
      observedFrom<RecordHistory<K> | null>(
        session.records.observeOne<K>(id).pipe(
          switchMap((stored) =>
            stored === null
              ? of(null)
              : stored.kind === 'MedicalNote'
                ? session.records
                    .observe('NoteVersion', {
                      patientId: (stored.record as RecordOf<'MedicalNote'>).patientId,
                    })
                    .pipe(map((versions) => historyOf(stored, versions)))
                : of(historyOf(stored)),
          ),
        ),
        null,
      ),
    add: (kind, input, options) => session.records.add(kind, input, options),
    writeAll: (ops) => session.records.writeAll(ops),
    update: (kind, id, patch, options) =>
      naming({ recordId: id }, () => session.records.update(kind, id, patch, options)),
    remove: (id) => naming({ recordId: id }, () => session.records.remove(id)),
    get: (id) => naming({ recordId: id }, () => session.records.get(id)),
    resolveConflict: (id, choice, expected) =>
      naming({ recordId: id }, () => session.records.resolveConflict(id, choice, expected)),
  };

  const initialSyncOf = (s: SyncState): InitialSyncProgress => ({
    done: s.initialSync.done,
    total: s.initialSync.total,
    complete: s.initialSync.done >= s.initialSync.total,
  });
  const sync: HaleSync = {
    state: observedFrom(state$, session.sync.state()),
    initialSync: fromState(initialSyncOf, initialSyncOf(session.sync.state())),
    issues: fromState((s) => s.errors, session.sync.state().errors),
    quarantine: fromState(() => session.sync.quarantine(), session.sync.quarantine()),
    unsent: fromState(() => session.sync.unsent(), session.sync.unsent()),
    goOnline: () => session.sync.goOnline(),
    goOffline: () => session.sync.goOffline(),
    awaitInSync: () => session.sync.awaitInSync(),
    dismissQuarantined: (...entries) => session.sync.dismissQuarantined(...entries),
    quarantinedVersion: (entry) => session.sync.quarantinedVersion(entry),
    discardUnsent: (stream, id, rv) =>
      naming({ recordId: id }, () => session.sync.discardUnsent(stream, id, rv)),
  };

  // Ends of access seen in this session (a clinician's charts): kept from the start, not from first listen.
  const ends = new Map<string, SeenEnd>();
  const ended$ =
    deps.purged$ ??
    session.engine.removed$.pipe(map((removed) => ({ removed, count: null as number | null })));
  const endsWatch = ended$.subscribe(({ removed, count }) => {
    const parsed = parseStreamId(removed.stream);
    if (!parsed.ok || parsed.value.patientId === account.accountId) return;
    ends.set(removed.stream, {
      patientId: parsed.value.patientId,
      ended: {
        type: parsed.value.type,
        reason: removed.reason,
        purged: count,
        at: new Date(now()).toISOString(),
      },
    });
    touch();
  });
  const receivedNow = (): ReceivedGrant[] =>
    receivedGrantsOf(account.accountId, session.engine.access(), ends, now());
  // This device names itself, sealed, in the log of each patient it holds a grant in force from.
  const inForce = (): string[] =>
    receivedGrantsOf(account.accountId, session.engine.access(), new Map(), now())
      .filter((g) => g.state !== 'ended')
      .map((g) => g.patientId);
  const selfNaming = createDeviceNaming({
    deviceId: account.device.deviceId,
    name: account.deviceName ?? '',
    meta: createDeviceMeta(deviceMetaStore(session.db)),
    patients: inForce,
    changes$: state$.pipe(
      map((s) => `${s.status} ${inForce().join(' ')}`),
      distinctUntilChanged(),
    ),
    append: (patientId, detail) => session.audit.append(patientId, detail),
    flush: () => session.audit.flush(),
    ownActions: () => session.audit.ownActions(),
  });
  const consent: HaleConsent = {
    grants: polled<readonly GrantView[]>(
      async () => {
        const listed = await session.consent.list();
        const at = now();
        return listed.map((g) => ({ ...g, state: grantStateOf(g, at) }));
      },
      [],
      changed$,
      everyMs,
    ),
    grantsReceived: observedFrom(
      merge(state$, changed$, timer(0, everyMs)).pipe(
        map(() => receivedNow()),
        distinctUntilChanged<ReceivedGrant[]>(sameJson),
      ),
      [],
      () => receivedNow(),
    ),
    revocationNotice: session.consent.REVOCATION_NOTICE,
    grant: async (request) => {
      const granted = await session.consent.grant(request);
      touch();
      return granted;
    },
    change: async (grantId, change) => {
      try {
        return await session.consent.change(grantId, change);
      } finally {
        touch();
      }
    },
    revoke: async (grantId) => {
      try {
        return await session.consent.revoke(grantId);
      } finally {
        // A revocation kept unsent is listed `revocation-pending`: shown either way.
        touch();
      }
    },
    describeProvider: (accountId) => session.consent.describeProvider(accountId),
    verifyProvider: (accountId) => session.consent.verifyProvider(accountId),
    acceptInvite: (invite) => session.consent.acceptInvite(invite),
    invite: () => session.consent.inviteFor(account.accountId, session.account.keys.identity.publicKey),
    refresh: touch,
  };

  // Also when the device's copy of the grants changes: a grant learnt of decides how an entry signed by its
  // grantee is judged (audit/check.ts), so a verdict read before is read again at once.
  const grantsChanged$ = new Observable<void>((subscriber) =>
    session.consent.onGrantsChanged(() => subscriber.next()),
  );
  const auditChanged$ = merge(
    changed$,
    grantsChanged$,
    state$.pipe(
      map((s) => s.lastSyncedAt),
      distinctUntilChanged(),
    ),
  );
  const ioDeps: RecordsIoDeps = {
    ...(deps.io ?? {
      baseUrl: '',
      fetch: () => Promise.reject(new Error('no server')),
      withToken: () => Promise.reject(new Error('no server')),
    }),
    providerProfile: directoryLookup(deps.searchProviders),
    session,
  };
  // A link opening is logged without its count: this account's sealed copy of the link has it.
  const countLinks = linkCounts(ioDeps);
  const audit: HaleAudit = {
    access: polled<AuditViewAnswer<AccessRecord[]> | null>(
      async () => {
        const answer = await session.audit.whoAccessed({ offline: 'cached' });
        return { ...answer, records: await countLinks(answer.records) };
      },
      null,
      auditChanged$,
      everyMs,
    ),
    disclosures: polled<AuditViewAnswer<Disclosure[]> | null>(
      () => session.audit.disclosures({ offline: 'cached' }),
      null,
      auditChanged$,
      everyMs,
    ),
    verification: polled<AuditVerification | null>(
      () => session.audit.verify(),
      null,
      auditChanged$,
      everyMs,
    ),
    refresh: touch,
  };

  const downloads = downloadTracker();
  const files: HaleFiles = {
    uploads: uploadsWithProgress(
      session.files.uploads$,
      () => session.files.uploads(),
      session.files.uploadProgress$,
    ),
    downloads: downloads.downloads,
    put: (input) => session.files.put(input),
    enqueue: (input) => session.files.enqueue(input),
    get: (fileRef, location) =>
      downloads.track(fileRef, (onProgress) => session.files.get(fileRef, location, { onProgress })),
    delete: (fileRef, location) => session.files.delete(fileRef, location),
    cancelUpload: (blobId) => session.files.cancelUpload(blobId),
    retryUpload: (blobId) => session.files.retryUpload(blobId),
  };

  const listDevices = async (): Promise<DeviceList> => {
    const list = await deps.listDevices();
    // Renamed from another device of the account: named so to its patients too.
    const own = list.active.find((d) => d.deviceId === account.device.deviceId)?.name;
    if (own !== undefined) selfNaming.named(own);
    return list;
  };
  const devices: HaleDevices = {
    list: polled<DeviceList | null>(listDevices, null, changed$, everyMs),
    revoke: async (deviceId) => {
      const answer = await deps.revokeDevice(deviceId);
      touch();
      return answer;
    },
    rename: async (deviceId, name) => {
      await deps.renameDevice(deviceId, name);
      if (deviceId === account.device.deviceId) selfNaming.named(name);
      touch();
    },
    refresh: touch,
    approvePairing: async (code) => {
      if (deps.approvePairing === undefined)
        throw new Error('approvePairing: this session cannot pair devices');
      const request = await deps.approvePairing(code);
      return {
        ...request,
        approve: async () => {
          const joined = await request.approve();
          touch();
          return joined;
        },
      };
    },
  };

  // One search index per chart searched, kept while the session is open (chart-search.ts).
  const indexes = new Map<string, LiveIndex>();
  const indexOf = (patientId: string): LiveIndex => {
    const held = indexes.get(patientId);
    if (held !== undefined && !held.closed()) return held;
    const made = createLiveIndex(
      (kind) => session.records.observe(kind, { patientId }),
      SEARCHABLE_KINDS,
      deps.searchPacing ?? DEFAULT_PACING,
    );
    indexes.set(patientId, made);
    return made;
  };

  let closing: Promise<void> | null = null;
  const drafts = createDrafts({
    db: session.db,
    assertOpen: () => {
      if (closing !== null) throw lockedDrafts();
    },
    now,
  });
  const close = (): Promise<void> => {
    closing ??= (async () => {
      endsWatch.unsubscribe();
      selfNaming.stop();
      for (const index of indexes.values()) index.close();
      indexes.clear();
      try {
        await session.close();
      } finally {
        await deps.onClose?.();
      }
    })();
    return closing;
  };

  return {
    account: {
      accountId: account.accountId,
      role: account.role,
      ...(account.loginName === undefined ? {} : { loginName: account.loginName }),
      deviceId: account.device.deviceId,
      deviceName: account.deviceName ?? '',
    },
    records,
    sync,
    consent,
    audit,
    files,
    devices,
    directory: {
      search: deps.searchProviders,
      publishProfile: deps.publishProfile,
      results: (q, options = {}) => providerSearch(deps.searchProviders, q, options.limit),
    },
    search: (query, options = {}) => {
      // From untyped code: anything but text is refused by name, not met as a TypeError in the index.
      if (typeof query !== 'string') {
        throw new RecordError('VALIDATION_FAILED', 'search: the query must be text', undefined, 'query');
      }
      return searchObserved(() => indexOf(options.patientId ?? account.accountId), query, options);
    },
    care: createHaleCare({ session, ...deps.care }),
    io: toHaleIo(ioDeps),
    exportFhir: (patientId) => session.exportFhir(patientId),
    drafts,
    changePassphrase: (input) => deps.changePassphrase(input),
    deleteAccount: async (options = {}) => {
      if (deps.deleteAccount === undefined)
        throw new Error('deleteAccount: this session cannot delete accounts');
      if (closing !== null) throw lockedDrafts();
      const erased = await deps.deleteAccount();
      options.erased?.();
      deps.lock();
      for (const index of indexes.values()) index.close();
      await close();
      await deps.wipeDevice?.();
      return erased;
    },
    lock: async () => {
      deps.lock();
      // The indexes hold opened record text: gone at once, not at the end of close().
      for (const index of indexes.values()) index.close();
      await close();
    },
    close,
  };
}
