/**
 * The handles the sync engine's modules reach each other by (engine-core.ts `EngineCore`), and the types
 * they pass between them: declared here, below the modules that implement them, so that no module and
 * the core import each other. Each module's `create…` answers its handle.
 */
import type { PlainRecord } from '../records/plain-record';
import type { NotWritableReason } from '../records/record-errors';
import type { NoteVersionContext } from '../records/removal-rules';
import type { JsonObject } from '../store/device-db';
import type { SyncError } from './connection';
import type { Decoded } from './record-codec';
import type { KeptContentLoss, QuarantineReason } from './stored-state';
import type { StreamList } from './stream-list';
import type {
  Judged,
  KeptWrite,
  KeyWait,
  Listed,
  LoopDirection,
  Overwrite,
  PushInput,
  QuarantineGap,
  QuarantineKey,
  QuarantinedVersion,
  Refusal,
  Refused,
  RemovedStream,
  StreamCheckpoint,
  SyncIssue,
  SyncState,
  UnsentChange,
  Waits,
} from './types';
import type { PushRow, ServedDoc, ServerFrame, StreamAccess } from '@hale/protocol';
import type { RxReplicationPullStreamItem, WithDeleted } from 'rxdb';
import type { BehaviorSubject, Observable, Subject } from 'rxjs';

/** The handle of issues.ts (`createIssues`). */
export interface Issues {
  state$: BehaviorSubject<SyncState>;
  patch: (p: Partial<SyncState>) => void;
  report: (
    raw: Omit<SyncIssue, 'at'>,
    {
      server,
      loop,
    }?: {
      server?: boolean;
      loop?: LoopDirection;
    },
  ) => void;
  dropIssues: (ended: (e: SyncIssue) => boolean) => void;
  clearIssues: (match: { code?: string; stream?: string; id: string }) => void;
  retryPassed: (code: 'SUBSCRIBE_FAILED' | 'QUARANTINE_RETRY_FAILED' | 'RESTORE_RESYNC_FAILED') => void;
  reconnected: () => void;
  loopPassed: (direction: LoopDirection) => void;
}

/** The handle of progress.ts (`createProgress`). */
export interface Progress {
  noteSynced: (also?: Partial<SyncState>) => void;
  syncedSave: {
    save: () => Promise<void>;
    soon: () => void;
    cancel: () => boolean;
    settled: () => Promise<void>;
  };
  countLeft: () => void;
  countServed: (
    docs: ReadonlyArray<{
      stream: string;
      seq: number;
    }>,
  ) => void;
  showProgress: () => void;
  /** The latest listing's stream heads (audit streams aside). */
  listed(
    heads: ReadonlyArray<{
      stream: string;
      head: number;
    }>,
  ): void;
  /** What is left is counted anew at the pull handler's next call (a restore's pull from 0). */
  recountLater(): void;
  /** Counts a listing that came before RxDB's stored positions (see `countDue`), now that they are known. */
  countIfDue(): void;
  /** A pass is done: counted as done from here on, so a later listing does not show less than this. */
  passDone(): void;
  /** Documents of the catch-up received so far (what a pass stored once RxDB stored it, `stored`). */
  received: () => number;
  /** RxDB stored a pass that had received `received` documents. */
  stored(received: number): void;
}

/** The handle of link.ts (`createLink`). */
export interface Link {
  up: () => boolean;
  changes: () => number;
  fatal: () => SyncError | undefined;
  connectedTime: () => number;
  untilConnected: () => Promise<void>;
  fatalWaiters: Set<(error: SyncError) => void>;
  stoppedInSync: () => SyncError;
  releaseLinkWaiters: (error?: Error) => void;
  /** The connection went fatal with `error`; the waiters of `awaitInSync` are told. */
  setFatal(error: SyncError): void;
  /** The connection's status changed (after `setFatal` for a fatal one). */
  status(status: LinkStatus): void;
}

/** The handle of access.ts (`createAccess`). */
export interface Access {
  entries: Map<string, StreamAccess>;
  ending: Map<string, RemovedStream>;
  readable: (stream: string) => boolean;
  writable: (stream: string) => boolean;
  whyNotWritable: (stream: string) => NotWritableReason | null;
  endPassed: (stream: string) => boolean;
  current: (a: StreamAccess | undefined) => a is StreamAccess;
  asOf: (a: StreamAccess, t: number) => StreamAccess;
  isOwn: (stream: string) => boolean;
  ownAccess: (s: StreamAccess) => StreamAccess;
  updateAccess: (streams: StreamAccess[]) => void;
  refreshStreams: () => Promise<void>;
  streamList: StreamList;
  armExpiry: () => void;
  noteAccess: () => void;
  settled: () => Promise<void>;
  stopTimer(): void;
  endOf: (a: StreamAccess) => number;
  heldOf: (named: readonly RemovedStream[]) => RemovedStream[];
  endAccess: (claimed: readonly RemovedStream[]) => Promise<void>;
  refuseOwnClaim: (stream: string | undefined, claim: string) => void;
}

/** The handle of pending.ts (`createPending`). */
export interface Pending {
  has: (id: string) => boolean;
  get: (id: string) => number | undefined;
  ids: () => string[];
  size: () => number;
  count: () => number;
  show: () => void;
  save: () => Promise<void>;
  settle: (id: string, rv: number) => boolean;
  /** Persists the list once after the current burst of local writes (a macrotask later). */
  noteSoon(): void;
  /** A local write of revision `rv` of `id` (the records API); answers whether it counts as pending. */
  note(id: string, rv: number): boolean;
  /** At least revision `rv` of `id` is pending (a version waiting for its key, read at start). */
  atLeast(id: string, rv: number): void;
  /**
   * RxDB handed these rows to the push handler: each counts as pending (not saved for it), unless
   * answered already, or an emptied deletion (what a purge left: no change of anyone's). Answers whether
   * any was counted.
   */
  handedRows(rows: PushInput): boolean;
  /** `local` counts as pending until its record's local document is written again (see the header). */
  resolve(local: WithDeleted<PlainRecord>): void;
  /** Whether the local copy of a record is not the server's (see the header). */
  unsettled: (stream: string, id: string) => boolean;
  /** Reads the persisted list (writes noted before it was read are newer). */
  load(): Promise<void>;
  /** RxDB's write of the server's version (or a write that came first) replaces a `resolving` one. */
  watchResolving(): void;
  unwatch(): void;
  /** At stop: what the last moments changed is persisted. */
  flush(): Promise<void>;
}

/** The handle of unsent.ts (`createUnsent`). */
export interface Unsent {
  list: () => UnsentChange[];
  keptAs: (u: UnsentChange, r: PlainRecord) => boolean;
  hold: (
    items: readonly Refusal[],
    {
      quiet,
    }?: {
      quiet?: boolean;
    },
  ) => Promise<void>;
  saveUnsent: (next: UnsentChange[]) => Promise<void>;
  saveDiverged: () => Promise<void>;
  saveDivergedSoon: () => void;
  keepRevokedUnsent: () => void;
  isDiverged: (stream: string, id: string) => boolean;
  divergedOf: (
    stream: string,
    id: string,
  ) =>
    | {
        stream: string;
        id: string;
        floor?: number;
        wait?: true;
      }
    | undefined;
  hasDiverged: () => boolean;
  /** Marks `record` diverged: made on a server state numbered `floor`, `wait` for a key (key-wait list). */
  markDiverged(
    record: {
      stream: string;
      id: string;
    },
    floor: number,
    wait?: boolean,
  ): void;
  /** Forgets a mark; answers whether there was one. */
  undiverge: (stream: string, id: string) => boolean;
  /** Forgets every mark of `stream` (purged); answers whether there was one. */
  undivergeStream(stream: string): boolean;
  load(): Promise<void>;
  /** At stop: a save of the marks left waiting is done now. */
  flush(): Promise<void>;
}

/** The handle of key-wait.ts (`createKeyWaits`). */
export interface KeyWaits {
  get: (id: string) => KeyWait | undefined;
  has: (id: string) => boolean;
  size: () => number;
  waiting: () => number;
  /** Every waiting version, also those being sent now. */
  all: () => Map<string, KeyWait>;
  /** Those of `stream`, also those being sent now. */
  ofStream: (stream: string) => KeyWait[];
  /** Drops the entry of `id` (waiting or being sent). */
  drop(id: string): void;
  /** Drops `id`'s waiting entry only (answered by a newer version). */
  dropWaiting: (id: string) => boolean;
  /** Empties the list (kept unsent: this device was revoked), on disk too. */
  clear(): Promise<void>;
  save: () => Promise<void>;
  roomForWait: (
    id: string,
    held: {
      n: number;
    },
  ) => boolean;
  releaseWaits: (held: { n: number }) => void;
  parkRows: (
    items: ReadonlyArray<{
      record: WithDeleted<PlainRecord>;
      base: WithDeleted<PlainRecord> | undefined;
    }>,
    {
      conflict,
    }?: {
      conflict?: boolean;
    },
  ) => Promise<void>;
  rxdbPush: <T>(run: () => Promise<T>) => Promise<T>;
  wakeKeyWaits: (reset?: boolean) => void;
  /** Resolves once the list is empty (every change of it is saved through `save`). */
  drained: () => Promise<void>;
  stopTimer: () => void;
  /** Reads the list at start: each counts as pending, and has its issue again (a conflict wait at its send). */
  load(): Promise<void>;
}

/** The handle of list.ts (`createQuarantineList`). */
export interface QuarantineList {
  list: () => Listed[];
  size: () => number;
  holds: (stream: string, id: string) => boolean;
  empty: () => boolean;
  saveQuarantine: (listed: Listed[], announce?: () => void, contents?: readonly KeptWrite[]) => Promise<void>;
  setAside: (items: readonly Refused[]) => Promise<void>;
  noteOverwritten: (items: readonly Overwrite[]) => Promise<void>;
  settle: (stream: string, id: string, rv: number) => void;
  settleGathered: () => Promise<void>;
  gathered: () => number;
  onStored: (stream: string, id: string, rv: number) => void;
  settleStored: () => Promise<void>;
  sortOutcomes: (docs: readonly ServedDoc[], decoded: readonly Judged[]) => Promise<PlainRecord[]>;
  refusedTransition: (
    stream: string,
    id: string,
    rev: string,
  ) =>
    | {
        message: string;
      }
    | undefined;
  due: (
    q: Waits & {
      reason: QuarantineReason;
    },
  ) => boolean;
  gapDue: (g: Waits) => boolean;
  joinWaits: (was: Waits | null, reason: QuarantineReason, passes: boolean) => Waits | null;
  renewable: (reason: QuarantineReason) => boolean;
  gaps: Map<string, QuarantineGap>;
  saveGaps: () => Promise<void>;
  /** Whether the retry has anything to fetch. */
  anyDue: () => boolean;
  /** Reads the list at start (without entries dismissed for their reason: a crash between the writes). */
  load(): Promise<void>;
}

/** The handle of kept.ts (`createKeptContent`). */
export interface KeptContent {
  /** Entries of the list whose content is kept; 0 in the common case, which then costs nothing. */
  slots: () => number;
  setSlots(n: number): void;
  job: (job: () => Promise<void>) => Promise<void>;
  /** Waits for the kept-content work queued so far. */
  settled: () => Promise<void>;
  write: (c: KeptWrite) => Promise<void>;
  forgetKept: (slots: readonly string[]) => Promise<void>;
  withoutContent: (q: Listed, why: KeptContentLoss, at: string) => Listed;
  withinBudget: (list: Listed[]) => Listed[];
  keep: (item: Refused, contents: KeptWrite[]) => Pick<Listed, 'content' | 'slot'>;
  verifiedAuthorOf: (q: Listed) => Promise<string | undefined>;
  readKept: (key: QuarantineKey) => Promise<QuarantinedVersion>;
  /** At start: content no entry names (a crash between writes) is removed. */
  removeStrays(named: ReadonlySet<string>): Promise<void>;
}

/** The handle of dismiss.ts (`createDismissals`). */
export interface Dismissals {
  dismiss: (entries: readonly QuarantineKey[]) => Promise<void>;
  none: () => boolean;
  has: (stream: string, id: string, rev: string) => boolean;
  /** The reason a version was dismissed for, if it was. */
  reasonOf: (
    stream: string,
    id: string,
    rev: string,
  ) =>
    | 'WRONG_KEY'
    | 'TAMPERED'
    | 'CONTEXT_MISMATCH'
    | 'BAD_SIGNATURE'
    | 'NO_KEY'
    | 'BAD_TAG'
    | 'BAD_AUTHOR'
    | 'BAD_CONTENT'
    | 'AUTHOR_LOOKUP_FAILED'
    | 'NO_WRITE_GRANT'
    | 'BAD_TRANSITION'
    | undefined;
  /**
   * Reads the dismissals at start, and stores those recorded in the audit log but not stored (as the next
   * dismissal would): the list then agrees with the log without waiting for the person to dismiss
   * something else. A store that refuses, or a stored list this build cannot read, leaves them for that.
   */
  load(): Promise<void>;
}

/** The handle of retry.ts (`createQuarantineRetry`). */
export interface QuarantineRetry {
  armRetry: (reset?: boolean) => void;
  requestRetry: () => void;
  runRetry: () => Promise<void>;
  /** A retry is wanted once online (a reconnect, an access change). */
  due(): void;
  isDue: () => boolean;
  stopTimer: () => void;
  /**
   * The grants changed: a record set aside NO_KEY under an own stream's epoch minted by a device revoked
   * since may open now, and one set aside NO_WRITE_GRANT may pass. Answers the unsubscribe.
   */
  watchGuard: () => () => void;
}

/** The handle of sent.ts (`createSentLog`). */
export interface SentLog {
  /** The tag of the last version of `id` this device pushed, while remembered. */
  get: (id: string) => string | undefined;
  set: (id: string, rev: string) => void;
  /** Forgets `rev` as the version of `id` sent (refused, or sealed again under another epoch). */
  forget(id: string, rev: string): void;
  /** Whether `doc` is the echo of this device's own push. */
  isEcho: (doc: ServedDoc) => boolean;
  noteUnanswered: (rows: readonly PushRow[]) => Promise<void>;
  followsUnanswered: (master: ServedDoc, version: PlainRecord, local: PlainRecord) => boolean;
  answeredRev: (id: string, rev: string, older: boolean) => void;
  /** A push of this device met a verified server version of the record at `seq` as a conflict. */
  metInConflict: (stream: string, id: string, seq: number) => void;
  /** The server stored a version of the record this device pushed at `seq` (its push answered ok). */
  noteStored(stream: string, id: string, seq: number): void;
  /** Forgets every stored position (a restore of the server's store numbers positions anew). */
  forgetStored(): void;
  /** The highest position a push of this device found a version of the record at: stored, or met (0: none). */
  storedAt: (stream: string, id: string) => number;
  /** Reads the slots at start, oldest frame first, so a record's newest tag ends last. */
  load(): Promise<void>;
}

/** The handle of checkpoint.ts (`createCheckpoints`). */
export interface Checkpoints {
  carry: (after: Record<string, number>, at: Record<string, number>) => void;
  dropFloor: (streams: readonly string[]) => void;
  snapshot: () => StreamCheckpoint;
  startOf: (lastCheckpoint: StreamCheckpoint | undefined) => Promise<{
    given: Positions;
    stored: Positions;
    pos: Positions;
  }>;
  restartAll: (pos: Positions, given: Positions) => void;
  beginRestarts: (pos: Positions) => Promise<void>;
  /** The checkpoint handed to RxDB for positions `pos` (with the tokens of pulls from 0 under way). */
  checkpointOf: (pos: Positions) => StreamCheckpoint;
  /** `stream` was purged: it is pulled from 0 when readable again (marks persisted before the purge goes on). */
  purged(stream: string): Promise<void>;
  /** Waits for the floor write under way (stop). */
  settled: () => Promise<void>;
  load(): Promise<void>;
}

/** The handle of receive.ts (`createReceive`). */
export interface Receive {
  decode: (docs: readonly ServedDoc[]) => Promise<Decoded[]>;
  decodeServed: (docs: readonly ServedDoc[]) => Promise<DecodedServed>;
  refusesAtStore: (held: PlainRecord, served: PlainRecord) => boolean;
  applyDecoded: ({ docs, fresh, decoded }: DecodedServed, era?: number) => Promise<PlainRecord[] | null>;
  dropStale: (
    records: PlainRecord[],
    seqOf: ReadonlyMap<string, number>,
    served: ReadonlyMap<string, ServedDoc>,
  ) => Promise<PlainRecord[]>;
  servedByKey: (docs: readonly ServedDoc[]) => Map<string, ServedDoc>;
  noteVersionContexts: (
    pairs: ReadonlyArray<readonly [PlainRecord, PlainRecord]>,
  ) => Promise<(version: { id: string; patientId: string; data: JsonObject }) => NoteVersionContext>;
}

/** The handle of pull.ts (`createPull`). */
export interface Pull {
  pullHandler: (
    lastCheckpoint: StreamCheckpoint | undefined,
    batchSize: number,
  ) => Promise<{
    documents: WithDeleted<PlainRecord>[];
    checkpoint: StreamCheckpoint;
  }>;
  askResync: (duringFirstSync?: 'now' | 'after pass') => void;
  followAll: () => void;
  subscribed: Set<string>;
  /** Forgets that `stream` is followed on this connection (access ended, purged). */
  unsubscribed: (stream: string) => void;
  drainedClear: () => void;
  /** Whether a page that covers `covers` resyncs covers every one asked for. */
  coversResyncs: (covers: number) => boolean;
  /** Resyncs asked for and not covered by a pull yet (the bridge asks again when idle). */
  resyncOwed: () => boolean;
  /** A live frame with documents of `streams` came: a pass must name those streams again. */
  liveArrived(streams: readonly string[]): void;
  /** A new connection: nothing is followed on it yet. */
  connected(): void;
  stopTimer: () => void;
}

/** The handle of live.ts (`createLive`). */
export interface Live {
  pullStream$: Subject<RxReplicationPullStreamItem<PlainRecord, StreamCheckpoint>>;
  hand: (documents: PlainRecord[]) => void;
  onFrame: (frame: ServerFrame) => void;
  resync: () => void;
  /** Whether a change frame is being applied or stored. */
  busy: () => boolean;
}

/** The handle of push.ts (`createPush`). */
export interface Push {
  pushRows: (rows: PushInput, options?: PushOptions) => Promise<WithDeleted<PlainRecord>[]>;
  pushHandler: (rows: PushInput) => Promise<WithDeleted<PlainRecord>[]>;
  forgedOver: (master: PlainRecord, assumed: PlainRecord | undefined) => boolean;
  /** `stream` was purged: versions RxDB gathered before are checked against the store (`superseded`). */
  purged: (stream: string) => void;
}

/** The handle of busy.ts (`createBusy`). */
export interface Busy {
  /** RxDB's retry wait. */
  retryMs: number;
  /** Before a request refused for `error` is handed back to RxDB: waits the backoff (see the header). */
  backoff(direction: LoopDirection, error: unknown): Promise<void>;
  /** A request of `direction` passed: its count starts over, and its failures' issues end. */
  passed(direction: LoopDirection): void;
  /** Ends every wait under way. */
  wake(): void;
}

/** The handle of rxdb-bridge.ts (`createRxdbBridge`). */
export interface RxdbBridge {
  start: () => void;
  stop: () => Promise<void>;
  passStored: (covers: number, online: boolean) => void;
  whenNextStored: (then: () => void) => void;
  storing: () => boolean;
  stored$: Observable<string>;
}

/** The handle of reset.ts (`createReset`). */
export interface Reset {
  noteIncarnation: (served: string | undefined) => void;
  storeMerges: (
    merges: readonly Merge[],
    {
      overMaster,
    }?: {
      overMaster?: boolean;
    },
  ) => Promise<Set<string>>;
  running: () => boolean;
  recorded: () => string | undefined;
  /** The floor of the restore being caught up with, or null. */
  floor: () => Record<string, number> | null;
  /** What was seen of `stream` before the restore being caught up with, if any. */
  floorOf: (stream: string) => number | undefined;
  /** Waits until a restore being caught up with has its floor fixed (the first pull fixes it). */
  floorFixed(): Promise<void>;
  /** The pull handler has RxDB's stored positions now: a restore's floor can be fixed. */
  checkpointSeen(): void;
  /**
   * Before a pull serves anything: a catch-up under way sends every local document again first; the
   * first pull after that starts every stream from 0 (`restartPull`).
   */
  beforePull(): Promise<{
    run: ResetRun;
    restartPull: boolean;
  } | null>;
  /** A pass caught up online: a catch-up whose pull from 0 ran is recorded (once all is stored). */
  passCaughtUp(
    started: {
      run: ResetRun;
    } | null,
  ): void;
  release: () => void;
  load(): Promise<void>;
}

/** The handle of purge.ts (`createPurge`). */
export interface Purge {
  purge: (removed: RemovedStream) => Promise<number>;
  clearStream: (stream: string) => Promise<number>;
  reportDiscarded: (
    stream: string,
    records: ReadonlyArray<{
      id: string;
      kind: string;
    }>,
    purging: boolean,
  ) => void;
  sweep: (stream: string) => void;
  removed$: Subject<RemovedStream>;
}

export type LinkStatus = 'offline' | 'connecting' | 'ready' | 'stopped' | 'fatal';

export type Positions = Record<string, number>;

export interface PushOptions {
  /** Rows are RxDB's (the push handler's): RxDB resolves the conflicts answered and stores the result. */
  rxdb?: boolean;
  /** Rows are local copies sent again after a restore of the server's store (no assumed state). */
  repush?: boolean;
  /**
   * A row this device holds no write key for goes on the key-wait list (`keyWaits`) and is answered as
   * sent, instead of failing the push: RxDB's rows and the list's own retries.
   */
  park?: boolean;
  /** The floor of the restore being caught up with, when the caller holds it (see reset.ts). */
  floor?: Record<string, number>;
  /** Filled with the ids of server versions rows conflicted with that were served before the restore. */
  servedBefore?: Set<string>;
}

/** A local copy, the server version stored since a restore it conflicted with, and their merge. */
export interface Merge {
  copy: WithDeleted<PlainRecord>;
  master: WithDeleted<PlainRecord>;
  resolved: WithDeleted<PlainRecord>;
}

/**
 * Catching up with a restore of the server's store (`ready.incarnation` changed). The pull handler fixes
 * `floor` (the per-stream positions this device had seen before the restore: a version at or below them
 * that the server kept from the backup, `servedBefore`, was served before it; persisted, so a run that
 * starts over keeps it), then sends every
 * local document this device may send again (`repush`, before any served version is applied, so none of
 * them is replaced before the server has it), then pulls every readable stream from 0 (`fromZero`). The new
 * incarnation is recorded once that pull caught up and everything local was pushed; until then each
 * `ready` starts a new run.
 */
export interface ResetRun {
  to: string;
  floor: Record<string, number> | null;
  floorReady: Promise<void>;
  /** Resolves `floorReady` (when the floor is fixed, or the run is given up). */
  release: () => void;
  /** The floor persisted. */
  saved: Promise<void> | null;
  /** Resolves true when every local document this device may send was sent again. */
  repush: Promise<boolean> | null;
  fromZero: boolean;
  finishing: boolean;
  /**
   * Announced while catch-ups are backed off (`resyncDelay`): only the floor is fixed (and used by pushes,
   * as in a catch-up); nothing is sent again, nothing pulled from 0, nothing recorded.
   */
  deferred: boolean;
}

/** Served documents, those of them this device did not send itself (`fresh`), and those decoded. */
export interface DecodedServed {
  docs: readonly ServedDoc[];
  fresh: ServedDoc[];
  decoded: Decoded[];
}
