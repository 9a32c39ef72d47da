/**
 * What the sync engine's modules share: the injected dependencies, the positions this device has seen,
 * a few flags, the one queue live frames, purges and retries are applied in, and each module's handle.
 *
 * Invariants:
 * - Every piece of state has one owner module; the others reach it through that module's handle here
 *   (late bound: a module calls `core.other.fn()` at call time, so creation order does not matter).
 * - `inOrder` applies jobs strictly in the order they were queued; one failing holds back none after it.
 * - `s.stopped` is set once, by stop(); nothing is started after it.
 */
import type { WriteGroups } from './write-groups';
import type { RxReplicationState } from 'rxdb/plugins/replication';
import { parseRevTag } from '@hale/protocol';
import type { CodecDeps } from './record-codec';
import type { PlainRecord } from '../records/plain-record';
import type {
  Issues,
  Progress,
  Link,
  Access,
  Pending,
  Unsent,
  KeyWaits,
  QuarantineList,
  KeptContent,
  Dismissals,
  QuarantineRetry,
  SentLog,
  Checkpoints,
  Receive,
  Pull,
  Live,
  Push,
  Busy,
  RxdbBridge,
  Reset,
  Purge,
} from './engine-parts';
import type { EngineDeps, StreamCheckpoint } from './types';

/** Flags several modules read and write. */
export interface SharedFlags {
  /** stop() ran: nothing more is started. */
  stopped: boolean;
  /**
   * Bumped when a catch-up with a restore starts: live frames received before it come from the store before
   * the restore (or before the catch-up started over) and are dropped; its pull from 0 serves what they held.
   */
  liveEra: number;
  /** Whether the pull handler was handed RxDB's stored positions yet (they are then in `known`). */
  checkpointSeen: boolean;
  /** Set at each connection until the server's list was read: access may have changed while away. */
  streamsStale: boolean;
  replication: RxReplicationState<PlainRecord, StreamCheckpoint> | null;
}

export interface EngineCore {
  readonly deps: EngineDeps;
  readonly codec: CodecDeps;
  readonly iso: () => string;
  readonly modelVersion: string;
  /** The identity of the author rules records are judged by now. */
  readonly authorRules: () => string;
  /** Per stream, the position this device has seen served (pull pages, live frames). */
  readonly known: Record<string, number>;
  readonly s: SharedFlags;
  /** Runs `job` after every live frame, purge and retry queued before it. */
  readonly inOrder: <T>(job: () => Promise<T>) => Promise<T>;
  issues: Issues;
  progress: Progress;
  link: Link;
  access: Access;
  pending: Pending;
  unsent: Unsent;
  keyWaits: KeyWaits;
  quarantine: QuarantineList;
  kept: KeptContent;
  dismissals: Dismissals;
  retry: QuarantineRetry;
  sent: SentLog;
  /** Versions one user action wrote, sent as one group (write-groups.ts). */
  groups: WriteGroups;
  checkpoints: Checkpoints;
  receive: Receive;
  pull: Pull;
  live: Live;
  push: Push;
  busy: Busy;
  bridge: RxdbBridge;
  reset: Reset;
  purge: Purge;
}

export const recordKey = (stream: string, id: string): string => `${stream}\u0000${id}`;
/** One served version of a record (quarantine entries are kept by it). */
export const versionKey = (stream: string, id: string, rev: string): string =>
  `${recordKey(stream, id)}\u0000${rev}`;
export const revNumber = (rev: string): number => parseRevTag(rev)?.n ?? 0;
/** The message of a thrown value, for an issue. */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The core without its modules; `createSyncEngine` fills them in. */
export const createCore = (deps: EngineDeps, codec: CodecDeps, authorRules: () => string): EngineCore => {
  let queue: Promise<void> = Promise.resolve();
  const core = {
    deps,
    codec,
    iso: (): string => new Date(deps.now()).toISOString(),
    modelVersion: codec.model?.version ?? '',
    authorRules,
    known: {},
    s: { stopped: false, liveEra: 0, checkpointSeen: false, streamsStale: true, replication: null },
    inOrder: <T>(job: () => Promise<T>): Promise<T> => {
      const run = queue.then(job);
      queue = run.then(
        () => undefined,
        () => undefined,
      );
      return run;
    },
  };
  // The modules are assigned right after, before anything runs.
  return core as unknown as EngineCore;
};
