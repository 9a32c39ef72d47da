/**
 * `HaleSession`: an unlocked device as an app's screens use it. Declared here, not inferred: what an app
 * may call is this interface and nothing else (the parts it is built from are `@hale/client/advanced`).
 *
 * | area | reads (Observed: get/subscribe and `$`) | does |
 * |---|---|---|
 * | `records` | `list(kind, query)`, `one(id)`, `conflicts` | add, update, remove, get, resolveConflict |
 * | `sync` | `state`, `issues`, `quarantine`, `unsent` | goOnline/goOffline, awaitInSync, dismiss, discard |
 * | `consent` | `grants` (given, with their state) | grant, revoke, describe/verify a provider |
 * | `audit` | `access` (who accessed what), `disclosures`, `verification` | refresh |
 * | `files` | `uploads` (with progress state) | put, enqueue, get, delete, cancel, retry |
 * | `devices` | `list` (active and revoked) | revoke, refresh |
 * | `directory` | — | search providers (one page a call), publish this provider's profile |
 *
 * Invariants: every Observed reads only what this device holds or last fetched; views of records
 * complete when the session closes; every method refuses with a HaleError once the session is locked
 * or closed (AccountError LOCKED).
 */
import { map, merge, Observable, distinctUntilChanged, timer, switchMap, from, startWith } from 'rxjs';
import type { RecordKind, RecordOf, FileRef } from '@hale/model';
import type { HttpDeviceRevokeResponse } from '@hale/protocol';
import type { DeviceSession } from '../session/session';
import type { RecordInput, StoredRecord, WriteOptions } from '../records/records';
import type {
  QuarantinedItem,
  QuarantinedVersion,
  QuarantineKey,
  SyncIssue,
  SyncState,
  UnsentChange,
} from '../sync/engine';
import type { GrantRequest, GrantStatus, RevokeResult, StoredGrant } from '../consent/consent';
import type { AccessRecord, AuditViewAnswer, Disclosure } from '../audit/audit-log';
import type { AuditVerification } from '../audit/audit-chain';
import type { FileEnqueueInput, FileLocation, FilePutInput } from '../files/files';
import type { QueuedUpload } from '../files/upload-queue';
import type { DeviceList } from '../account/device-list';
import type { ProviderProfileInput, UnlockedAccount, VerifiedProvider } from '../account/account';
import type { SignedFhirBundle } from '../export/signed-fhir-export';
import { observedFrom, type Observed } from './observed';
import { directoryLookup, toHaleIo, type HaleIo } from './hale-io';
import type { RecordsIoDeps } from '../io/records-io-deps';
import { clinicalDateOf } from './clinical-date';

/** What a record list shows: filters on what is clear at rest, a sort, and a page. */
export interface RecordQuery {
  /** Whose chart: this account's by default. */
  readonly patientId?: string;
  /** Only these records. */
  readonly ids?: readonly string[];
  /** Written (last changed) at or after / before these ISO instants. */
  readonly writtenFrom?: string;
  readonly writtenBefore?: string;
  /** Only records with (true) or without (false) an unsettled concurrent edit. */
  readonly conflict?: boolean;
  /** `written` (time of the last change) or `clinical` (the date the record is about); newest first by default. */
  readonly sort?: 'written' | 'clinical';
  readonly order?: 'desc' | 'asc';
  /** A page: `limit` records after the first `offset`. */
  readonly limit?: number;
  readonly offset?: number;
}

export interface RecordPage<K extends RecordKind> {
  readonly items: readonly StoredRecord<K>[];
  /** How many records match, over all pages. */
  readonly total: number;
}

export interface HaleRecords {
  list<K extends RecordKind>(kind: K, query?: RecordQuery): Observed<RecordPage<K>>;
  /** One record, live; null while there is none. Versioned kinds carry their history in `record.versions`. */
  one<K extends RecordKind>(id: string): Observed<StoredRecord<K> | null>;
  /** `patientId`: a chart this account may write (a clinician's write grant); this account's by default. */
  add<K extends RecordKind>(
    kind: K,
    input: RecordInput<K>,
    options?: { patientId?: string } & WriteOptions,
  ): Promise<RecordOf<K>>;
  update<K extends RecordKind>(
    kind: K,
    id: string,
    patch: Partial<RecordOf<K>>,
    options?: WriteOptions,
  ): Promise<RecordOf<K>>;
  remove(id: string): Promise<void>;
  get<K extends RecordKind>(id: string): Promise<StoredRecord<K> | null>;
  resolveConflict<K extends RecordKind>(
    id: string,
    choice: 'keep' | 'other' | Partial<RecordOf<K>>,
    expected: { expectedRv: number },
  ): Promise<RecordOf<K> | null>;
}

export interface HaleSync {
  readonly state: Observed<SyncState>;
  readonly issues: Observed<readonly SyncIssue[]>;
  readonly quarantine: Observed<readonly QuarantinedItem[]>;
  readonly unsent: Observed<readonly UnsentChange[]>;
  goOnline(): void;
  goOffline(): void;
  awaitInSync(): Promise<void>;
  dismissQuarantined(...entries: QuarantineKey[]): Promise<void>;
  quarantinedVersion(entry: QuarantineKey): Promise<QuarantinedVersion>;
  discardUnsent(stream: string, id: string, rv?: number): Promise<boolean>;
}

/** A grant this device issued, with its state now and its purpose opened. */
export type GrantView = StoredGrant & { readonly status: GrantStatus; readonly purpose: string | null };

export interface HaleConsent {
  /** Grants given from this account, refreshed after every grant and revoke and every `refreshMs`. */
  readonly grants: Observed<readonly GrantView[]>;
  /** The wording to show before a revocation. */
  readonly revocationNotice: string;
  grant(request: GrantRequest): Promise<StoredGrant>;
  revoke(grantId: string): Promise<RevokeResult>;
  describeProvider(accountId: string): ReturnType<DeviceSession['consent']['describeProvider']>;
  verifyProvider(accountId: string): ReturnType<DeviceSession['consent']['verifyProvider']>;
  acceptInvite(invite: string): ReturnType<DeviceSession['consent']['acceptInvite']>;
  refresh(): void;
}

export interface HaleAudit {
  /**
   * Who accessed this chart (read from the server's log and verified); offline, what was verified before,
   * `complete: false` with its `asOf`. Null until first read.
   */
  readonly access: Observed<AuditViewAnswer<AccessRecord[]> | null>;
  readonly disclosures: Observed<AuditViewAnswer<Disclosure[]> | null>;
  /** The log's check: intact, or which entry is wrong. Null until first checked. */
  readonly verification: Observed<AuditVerification | null>;
  refresh(): void;
}

export interface HaleFiles {
  readonly uploads: Observed<readonly QueuedUpload[]>;
  put(input: FilePutInput): Promise<FileRef>;
  enqueue(input: FileEnqueueInput): Promise<FileRef>;
  get(fileRef: FileRef, location: FileLocation): Promise<Uint8Array>;
  delete(fileRef: FileRef, location: FileLocation): Promise<void>;
  cancelUpload(blobId: string): Promise<boolean>;
  retryUpload(blobId: string): Promise<boolean>;
}

export interface HaleDevices {
  readonly list: Observed<DeviceList | null>;
  revoke(deviceId: string): Promise<HttpDeviceRevokeResponse>;
  refresh(): void;
}

export interface HaleDirectory {
  /** A provider account publishes (or replaces) its signed profile in the directory. */
  publishProfile(profile: ProviderProfileInput): Promise<void>;
  search(
    q: string,
    options?: { limit?: number; cursor?: string },
  ): Promise<{ providers: VerifiedProvider[]; dropped: number; next?: string }>;
}

export interface HaleAccountInfo {
  readonly accountId: string;
  readonly role: 'patient' | 'provider';
  readonly loginName?: string;
  readonly deviceId: string;
  readonly deviceName: string;
}

export interface HaleSession {
  readonly account: HaleAccountInfo;
  readonly records: HaleRecords;
  readonly sync: HaleSync;
  readonly consent: HaleConsent;
  readonly audit: HaleAudit;
  readonly files: HaleFiles;
  readonly devices: HaleDevices;
  readonly directory: HaleDirectory;
  /** Records in and out: FHIR import, export forms, the patient summary, shared links, emergency card. */
  readonly io: HaleIo;
  /** The chart (default: this account's) as a signed FHIR R4 Bundle; recorded in the audit trail. */
  exportFhir(patientId?: string): Promise<SignedFhirBundle>;
  /** Forgets the keys (AccountError LOCKED from then on) and closes the session. */
  lock(): Promise<void>;
  close(): Promise<void>;
}

/** What `toHaleSession` needs beside the device session: the account-level calls it makes. */
export interface HaleSessionDeps {
  readonly session: DeviceSession;
  readonly account: Pick<UnlockedAccount, 'accountId' | 'role' | 'device'> &
    Partial<Pick<UnlockedAccount, 'loginName' | 'deviceName'>>;
  readonly listDevices: () => Promise<DeviceList>;
  readonly revokeDevice: (deviceId: string) => Promise<HttpDeviceRevokeResponse>;
  readonly searchProviders: HaleDirectory['search'];
  readonly publishProfile: HaleDirectory['publishProfile'];
  readonly lock: () => void;
  /** After close: what the session's platform made for it (a crypto worker). */
  readonly onClose?: () => Promise<void> | void;
  /** What `io` needs beyond the session: the server's base URL, fetch, bearer tokens, the directory. */
  readonly io?: Omit<RecordsIoDeps, 'session'>;
  /** How often grants and the audit views are read again while something shows them; 60 s by default. */
  readonly refreshMs?: number;
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Applies a RecordQuery to a kind's records (newest written first, as the store lists them). */
export function pageOf<K extends RecordKind>(
  all: readonly StoredRecord<K>[],
  query: RecordQuery,
): RecordPage<K> {
  const ids = query.ids ? new Set(query.ids) : null;
  const matching = all.filter((r) => {
    const at = r.record.updatedAt;
    return (
      (ids === null || ids.has(r.record.id)) &&
      (query.writtenFrom === undefined || at >= query.writtenFrom) &&
      (query.writtenBefore === undefined || at < query.writtenBefore) &&
      (query.conflict === undefined || r.conflict === query.conflict)
    );
  });
  const sign = query.order === 'asc' ? 1 : -1;
  if (query.sort === 'clinical' || query.order === 'asc') {
    const keyOf = (r: StoredRecord<K>): string =>
      query.sort === 'clinical' ? clinicalDateOf(r.kind, r.record, r.record.updatedAt) : r.record.updatedAt;
    const keyed = matching.map((r) => ({ r, k: keyOf(r) }));
    keyed.sort((a, b) =>
      a.k < b.k ? -sign : a.k > b.k ? sign : a.r.record.id < b.r.record.id ? -sign : sign,
    );
    matching.splice(0, matching.length, ...keyed.map((x) => x.r));
  }
  const offset = query.offset ?? 0;
  const items =
    query.limit === undefined ? matching.slice(offset) : matching.slice(offset, offset + query.limit);
  return { items, total: matching.length };
}

/** A value read by `read` at first listen, again at every `refresh$` emission and every `everyMs`. */
function polled<T>(
  read: () => Promise<T>,
  initial: T,
  refresh$: Observable<unknown>,
  everyMs: number,
): Observed<T> {
  const source = merge(refresh$, timer(0, everyMs)).pipe(
    switchMap(() => from(read().catch(() => undefined))),
    // A failed read keeps what was shown; the sync issues say why.
    distinctUntilChanged<T | undefined>((a, b) => a === undefined || b === undefined || sameJson(a, b)),
  );
  return observedFrom<T>(
    new Observable<T>((subscriber) =>
      source.subscribe({
        next: (v) => {
          if (v !== undefined) subscriber.next(v);
        },
        error: (e: unknown) => subscriber.error(e),
      }),
    ),
    initial,
  );
}

/** Builds the declared session over a device session. */
export function toHaleSession(deps: HaleSessionDeps): HaleSession {
  const { session, account } = deps;
  const everyMs = deps.refreshMs ?? 60_000;
  const state$ = session.sync.state$;
  // Something changed that a polled view may show: a grant, a revoke, or a sync state change.
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
    observedFrom(state$.pipe(map(pick), distinctUntilChanged<T>(sameJson)), initial);

  const records: HaleRecords = {
    list: <K extends RecordKind>(kind: K, query: RecordQuery = {}) =>
      observedFrom(
        session.records
          .observe(kind, query.patientId === undefined ? {} : { patientId: query.patientId })
          .pipe(map((all) => pageOf(all, query))),
        { items: [], total: 0 },
      ),
    one: <K extends RecordKind>(id: string) => observedFrom(session.records.observeOne<K>(id), null),
    add: (kind, input, options) => session.records.add(kind, input, options),
    update: (kind, id, patch, options) => session.records.update(kind, id, patch, options),
    remove: (id) => session.records.remove(id),
    get: (id) => session.records.get(id),
    resolveConflict: (id, choice, expected) => session.records.resolveConflict(id, choice, expected),
  };

  const sync: HaleSync = {
    state: observedFrom(state$, session.sync.state()),
    issues: fromState((s) => s.errors, session.sync.state().errors),
    quarantine: fromState(() => session.sync.quarantine(), session.sync.quarantine()),
    unsent: fromState(() => session.sync.unsent(), session.sync.unsent()),
    goOnline: () => session.sync.goOnline(),
    goOffline: () => session.sync.goOffline(),
    awaitInSync: () => session.sync.awaitInSync(),
    dismissQuarantined: (...entries) => session.sync.dismissQuarantined(...entries),
    quarantinedVersion: (entry) => session.sync.quarantinedVersion(entry),
    discardUnsent: (stream, id, rv) => session.sync.discardUnsent(stream, id, rv),
  };

  const consent: HaleConsent = {
    grants: polled(() => session.consent.list(), [], changed$, everyMs),
    revocationNotice: session.consent.REVOCATION_NOTICE,
    grant: async (request) => {
      const granted = await session.consent.grant(request);
      touch();
      return granted;
    },
    revoke: async (grantId) => {
      const result = await session.consent.revoke(grantId);
      touch();
      return result;
    },
    describeProvider: (accountId) => session.consent.describeProvider(accountId),
    verifyProvider: (accountId) => session.consent.verifyProvider(accountId),
    acceptInvite: (invite) => session.consent.acceptInvite(invite),
    refresh: touch,
  };

  const auditChanged$ = merge(
    changed$,
    state$.pipe(
      map((s) => s.lastSyncedAt),
      distinctUntilChanged(),
    ),
  );
  const audit: HaleAudit = {
    access: polled<AuditViewAnswer<AccessRecord[]> | null>(
      () => session.audit.whoAccessed({ offline: 'cached' }),
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

  const files: HaleFiles = {
    uploads: observedFrom(
      session.files.uploads$.pipe(startWith(session.files.uploads())),
      session.files.uploads(),
    ),
    put: (input) => session.files.put(input),
    enqueue: (input) => session.files.enqueue(input),
    get: (fileRef, location) => session.files.get(fileRef, location),
    delete: (fileRef, location) => session.files.delete(fileRef, location),
    cancelUpload: (blobId) => session.files.cancelUpload(blobId),
    retryUpload: (blobId) => session.files.retryUpload(blobId),
  };

  const devices: HaleDevices = {
    list: polled<DeviceList | null>(deps.listDevices, null, changed$, everyMs),
    revoke: async (deviceId) => {
      const answer = await deps.revokeDevice(deviceId);
      touch();
      return answer;
    },
    refresh: touch,
  };

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
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
    directory: { search: deps.searchProviders, publishProfile: deps.publishProfile },
    io: toHaleIo({
      ...(deps.io ?? {
        baseUrl: '',
        fetch: () => Promise.reject(new Error('no server')),
        withToken: () => Promise.reject(new Error('no server')),
      }),
      providerProfile: directoryLookup(deps.searchProviders),
      session,
    }),
    exportFhir: (patientId) => session.exportFhir(patientId),
    lock: async () => {
      deps.lock();
      await close();
    },
    close,
  };
}
