/**
 * The replication engine: one RxDB replication of the device's `records` collection over the device's one
 * WebSocket, multiplexing every stream the device may follow. This file composes the modules and answers
 * the session; each module's header states its invariants.
 *
 * | module | responsibility |
 * |---|---|
 * | engine-core.ts | shared context: deps, positions seen (`known`), flags, the in-order queue |
 * | issues.ts, progress.ts | observable state, issues, initial-sync progress, last synced time |
 * | link.ts | the connection as the handlers wait for it; fatal refusals |
 * | access.ts | what this device may read and write; ends of access |
 * | replication/pull.ts, checkpoint.ts | pull handler; where pulls start (floor, restarts) |
 * | replication/receive.ts, live.ts | served versions decoded and judged; live frames |
 * | replication/push.ts, push-send.ts, push-masters.ts | push handler; frames; conflicts' server versions |
 * | replication/sent.ts, busy.ts | what was sent (echoes, unanswered slots); backoff of busy refusals |
 * | replication/rxdb-bridge.ts | the RxDB replication itself (the only module using its internals) |
 * | pending.ts, unsent.ts, key-wait.ts | pending writes; refused local versions; versions waiting for a key |
 * | quarantine/{list,kept,dismiss,retry}.ts | versions set aside; their kept content; dismissals; retry |
 * | reset.ts, purge.ts | catch-up after a server restore; purge when access ends |
 *
 * Invariants across modules:
 * - RxDB never stores a version this device could not verify, and the server never sees plaintext: served
 *   versions are opened and checked before RxDB sees them, local versions sealed before they leave.
 * - Nothing of a stream whose access ended is handed to RxDB, pushed, or kept (purge.ts).
 * - A local version is always somewhere a person can find it: pending, on the key-wait list, acknowledged
 *   by the server, or in `unsent()`.
 * - Issues never carry record content.
 * Failure modes: network errors make RxDB retry (idempotent: pulls by checkpoint, pushes by tag); while
 * there is no connection the handlers wait for one (never RxDB's pause()); STALE_EPOCH refreshes keys and
 * retries once; a busy server is sent a request again with backoff; permanent refusals are reported per
 * record; a failed purge stays owed and runs again at the next session open.
 */
import { filter, firstValueFrom, type Observable } from 'rxjs';
import {
  SignedHead,
  isStreamId,
  validate,
  type HeadFrame,
  type ReadyFrame,
  type StreamAccess,
} from '@hale/protocol';
import { SyncError } from './connection';
import { authorRulesId } from './device-directory';
import { BUILD_CONTENT_MODEL, tagOf } from './record-codec';
import { emptied } from '../records/plain-record';
import { createHeadSync, headSeenStore, heldReader } from './head-sync';
import { verifiedStore } from './head-verified';
import { replicaGuardOf, writeClockOf } from '../store/device-db';
import { writesSince } from './stream-copies';
import { untilIdle } from '../core/until-idle';
import { streamCopies } from './stream-copies';
import { createCore } from './engine-core';
import { createIssues } from './issues';
import { createProgress, LAST_SYNCED_KEY } from './progress';
import { createLink } from './link';
import type { LinkStatus } from './engine-parts';
import { createAccess } from './access';
import { createPending } from './pending';
import { createUnsent, plainOf } from './unsent';
import { createKeyWaits } from './key-wait';
import { createQuarantineList } from './quarantine/list';
import { createKeptContent } from './quarantine/kept';
import { createDismissals } from './quarantine/dismiss';
import { createQuarantineRetry } from './quarantine/retry';
import { createSentLog } from './replication/sent';
import { createWriteGroups, type GroupMember } from './write-groups';
import { createCheckpoints } from './replication/checkpoint';
import { createReceive } from './replication/receive';
import { createPull } from './replication/pull';
import { createLive } from './replication/live';
import { createPush } from './replication/push';
import { createBusy } from './replication/busy';
import { createRxdbBridge } from './replication/rxdb-bridge';
import { createReset } from './reset';
import { createPurge } from './purge';
import { SYNC_STATE } from './stored-state';
import type {
  EngineDeps,
  PassphraseStatus,
  QuarantinedItem,
  QuarantinedVersion,
  QuarantineKey,
  RemovedStream,
  SyncState,
  UnsentChange,
} from './types';

export type {
  EngineDeps,
  PassphraseStatus,
  QuarantinedContent,
  QuarantinedItem,
  QuarantinedVersion,
  QuarantineKey,
  RemovedStream,
  StreamCheckpoint,
  SyncIssue,
  SyncState,
  UnsentChange,
} from './types';
export { STREAMS_PER_REQUEST } from './access';
export {
  RESYNC_BACKOFF_BASE_MS,
  RESYNC_BACKOFF_MAX_MS,
  RESYNC_FREE_RESTARTS,
  RESYNC_WINDOW_MS,
  resyncDelay,
  type ResyncStart,
} from './reset';

/**
 * The replication of a device session: pulls, pushes, quarantine and unsent changes.
 * - A resync after an error backs off up to `RESYNC_BACKOFF_MAX_MS`.
 */
export const createSyncEngine = (deps: EngineDeps) => {
  const { connection, keyring, collection } = deps;
  const codec = {
    keyring,
    ed: deps.ed,
    device: deps.device,
    accountId: deps.accountId,
    lookupDeviceKey: deps.lookupDeviceKey,
    offload: deps.offload ?? null,
    model: deps.contentModel ?? BUILD_CONTENT_MODEL,
    ...(deps.writeGrants === undefined ? {} : { writeGrants: deps.writeGrants }),
  };
  const core = createCore(deps, codec, deps.authorRules ?? ((): string => authorRulesId(false)));
  core.issues = createIssues(core);
  core.progress = createProgress(core);
  core.link = createLink(core);
  core.access = createAccess(core);
  core.pending = createPending(core);
  core.unsent = createUnsent(core);
  core.keyWaits = createKeyWaits(core);
  core.quarantine = createQuarantineList(core);
  core.kept = createKeptContent(core);
  core.dismissals = createDismissals(core);
  core.retry = createQuarantineRetry(core);
  core.sent = createSentLog(core);
  core.groups = createWriteGroups(deps.meta);
  core.checkpoints = createCheckpoints(core);
  core.receive = createReceive(core);
  core.pull = createPull(core);
  core.live = createLive(core);
  core.push = createPush(core);
  core.busy = createBusy(core);
  core.bridge = createRxdbBridge(core);
  core.reset = createReset(core);
  core.purge = createPurge(core);
  const { issues, access, pending, keyWaits, quarantine, link } = core;
  const { state$, patch, report } = issues;
  const unwatchGuard = core.retry.watchGuard();

  // Signed stream heads (head-sync.ts): checked, and signed on own streams, whenever caught up.
  const headSeen = headSeenStore(deps.meta);
  const headVerified = verifiedStore(deps.meta, writeClockOf(collection).settled);
  const headStreams = () => ({
    streams: [...access.entries.keys()]
      .filter(access.readable)
      .map((stream) => ({ stream, seq: core.known[stream] ?? 0 })),
    hints: (id: string) => core.sent.get(id)?.split('-')[1],
  });
  // Head checks are background work: each check, and each page of their store scan, waits for live
  // changes and pulls (bounded, so every check still runs).
  const yieldToLive = (): Promise<void> =>
    untilIdle(() => !core.live.busy() && !core.bridge.storing() && !core.s.stopped);
  const heads = createHeadSync({
    ed: deps.ed,
    accountId: deps.accountId,
    device: deps.device,
    now: deps.now,
    wireReady: () => connection.status() === 'ready',
    putHead: async (signed) => {
      const head = validate(SignedHead, signed);
      if (!head.ok) throw new SyncError('BAD_MESSAGE', head.error.message, false);
      await connection.request({ t: 'putHead', head: head.value });
    },
    getHead: async (stream, after, limit) => {
      if (!isStreamId(stream)) throw new SyncError('BAD_MESSAGE', `not a stream id: ${stream}`, false);
      return connection.request<HeadFrame>({
        t: 'getHead',
        stream,
        ...(after === undefined ? {} : { after }),
        ...(limit === undefined ? {} : { limit }),
      });
    },
    lookupDeviceKey: deps.lookupDeviceKey,
    held: heldReader({
      copies: async (stream: string) =>
        (await streamCopies(collection.storageInstance, stream)).map((d) => ({
          ...plainOf(d),
          deleted: d._deleted,
        })),
      skip: (_stream, d) => d._deleted && emptied(d),
      unsettled: (stream, d) => pending.unsettled(stream, d.id),
      // A revision tag is `${rv}-${tag}`: the leaf names the tag part.
      tagUnder: async (d, epoch) => (await tagOf(keyring, d, epoch))?.split('-')[1] ?? null,
      newestEpoch: async (stream) => (await keyring.writeKey(stream))?.epoch ?? 0,
    }),
    // A record this device set aside (quarantine) was served, not withheld: QUARANTINED tells of it.
    report: (issue) => {
      if (issue.id === undefined || !quarantine.holds(issue.stream, issue.id)) report(issue);
    },
    clear: (stream, keep) => issues.dropIssues((e) => e.stream === stream && heads.owns(e.code) && !keep(e)),
    seen: headSeen,
    verified: headVerified,
    writes: (from) => writesSince(collection.storageInstance, from, yieldToLive),
    schedule: (ms, run) => {
      const timer = setTimeout(run, ms);
      return () => clearTimeout(timer);
    },
    ...(deps.headSignEveryMs === undefined ? {} : { signEveryMs: deps.headSignEveryMs }),
    current: () => headStreams(),
    yieldTo: yieldToLive,
  });
  const settleHeads = (st: SyncState): void => {
    // While a pull fails (RC_PULL: the store refused what was served), the copy is not the served state.
    if (st.status !== 'online' || st.pendingWrites > 0 || st.errors.some((e) => e.code === 'RC_PULL')) return;
    const now = headStreams();
    heads.settled(now.streams, now.hints);
  };
  const headsWatch = state$.subscribe(settleHeads);
  // A served record is stored after its seq moved: a stream found short is checked again once it is.
  let headsAgain: ReturnType<typeof setTimeout> | undefined;
  const storedWatch = core.bridge.stored$.subscribe((stream) => {
    heads.stored(stream);
    headsAgain ??= setTimeout(() => {
      headsAgain = undefined;
      settleHeads(state$.value);
    }, 0);
  });

  return {
    state$: state$ as Observable<SyncState>,
    removed$: core.purge.removed$ as Observable<RemovedStream>,
    /** The current sync state (the last value of `state$`). */
    state: (): SyncState => state$.value,
    /** Takes a server frame: `changes`, `accessChanged` and unasked `error` frames; others are ignored. */
    onFrame: core.live.onFrame,
    /**
     * Loads what earlier sessions kept (pending writes, quarantine, unsent, checkpoints, access), ends access
     * whose end passed on this device's clock, then starts the replication.
     * - Call once, before `onReady`.
     */
    async start(): Promise<void> {
      await headSeen.load();
      await headVerified.load();
      await pending.load();
      await core.groups.load();
      // Versions waiting for their write key: RxDB took them as sent and hands them no more, so they count
      // as pending from the list, whatever became of the pending list's note.
      await keyWaits.load();
      // Versions earlier sessions sent in their last frames, answered or not (replication/sent.ts).
      await core.sent.load();
      await core.checkpoints.load();
      // Dismissals before the list: a crash between their writes leaves an entry listed that was dismissed.
      await core.dismissals.load();
      await quarantine.load();
      await core.unsent.load();
      await core.reset.load();
      const lastSyncedAt = await deps.meta.get(LAST_SYNCED_KEY, SYNC_STATE.lastSynced);
      patch({
        pendingWrites: pending.count(),
        quarantined: quarantine.size(),
        unsent: core.unsent.list().length,
        lastSyncedAt,
      });
      // What this device knew of its access when it last ran. A grant that ended meanwhile by this device's
      // clock, and a purge owed, are done before the session is handed out (offline too), as an online end
      // would do them (reported, onPurged); the timer is armed for the next end.
      const saved = await deps.meta.get('access', SYNC_STATE.access);
      for (const a of saved?.streams ?? []) access.entries.set(a.stream, access.ownAccess(a));
      patch({ streams: access.entries.size });
      const at = deps.now();
      const over = new Map((saved?.ended ?? []).map((r): [string, RemovedStream] => [r.stream, r]));
      for (const a of access.entries.values()) {
        if (access.endOf(a) <= at && !over.has(a.stream))
          over.set(a.stream, { stream: a.stream, reason: 'expired' });
      }
      if (over.size > 0) await access.endAccess([...over.values()]);
      access.armExpiry();
      // After the access list is read: the list's write keeps the content of readable streams only.
      // Housekeeping: a list that cannot be written now is written again by the next `settle`.
      await quarantine.settleStored().catch(() => undefined);
      // RxDB's write of the server's version replaces the local version whose push it answered.
      pending.watchResolving();
      replicaGuardOf(collection)?.set(core.receive.refusesAtStore);
      core.bridge.start();
    },
    /** Called by the client when the connection (re)authenticates, with the server's `ready`. */
    async onReady(ready?: ReadyFrame): Promise<void> {
      heads.connected();
      core.pull.connected();
      core.s.streamsStale = true;
      issues.reconnected();
      core.reset.noteIncarnation(ready?.incarnation);
      try {
        await access.refreshStreams();
        await keyring.refresh().catch(() => 0);
      } finally {
        // Even if the list could not be read: only a pull subscribes this connection to the streams.
        // Keys and device lists may have come in meanwhile (the session expires its device directory).
        core.retry.due();
        core.pull.askResync('after pass');
        keyWaits.wakeKeyWaits(true);
        core.busy.wake();
      }
    },
    /**
     * Called by the client on each connection status change; `fatal` reports the connection's failure as an
     * issue and ends the waits of `awaitInSync`.
     */
    onStatus(status: LinkStatus): void {
      if (status === 'fatal') {
        // Only the connection knows why; a state of plain `fatal` would leave the person guessing.
        const fatal =
          connection.failure() ??
          new SyncError('FATAL', connection.reason() ?? 'the server refused this device', false);
        // A lock is reported by the session when it first sees it, with what to do; the connection's own
        // LOCKED after it would list the lock twice, with other words.
        const lockListed = fatal.code === 'LOCKED' && state$.value.errors.some((e) => e.code === 'LOCKED');
        if (!lockListed) report({ code: fatal.code, message: fatal.message });
        link.setFatal(fatal);
        if (fatal.code === 'DEVICE_REVOKED') core.unsent.keepRevokedUnsent();
      }
      if (status === 'ready') patch({ status: 'syncing' });
      else patch({ status });
      if (status !== 'ready') core.pull.subscribed.clear();
      link.status(status);
    },
    /**
     * Adds an issue to `SyncState.errors`.
     * - Messages are cut to MAX_ISSUE_MESSAGE; an issue equal to a listed one replaces it.
     * - At most MAX_ERRORS issues are kept, the oldest go first.
     */
    reportIssue: report,
    /** Drops the issues about item `id` (of `stream` and `code` when given), whatever their message. */
    clearIssues: issues.clearIssues,
    /** Sets `SyncState.passphrase`; the state is left as is when it holds that value. */
    setPassphrase(passphrase: PassphraseStatus): void {
      if (state$.value.passphrase !== passphrase) patch({ passphrase });
    },
    /** How many files the upload queue holds (SyncState `pendingUploads`); set by the session. */
    setPendingUploads(count: number): void {
      if (state$.value.pendingUploads !== count) patch({ pendingUploads: count });
    },
    /**
     * Called before local writes of one user action (`records.writeAll`): they are pushed as one group the
     * server stores all or none. Answers the cancel of a write that failed.
     */
    groupWrites: (members: readonly GroupMember[]): Promise<() => void> => core.groups.add(members),
    /** Called after each local write of record `id`, with the revision number it wrote. */
    notePending(id: string, rv: number): void {
      // A reply that came before the note (it answered this revision) leaves nothing pending.
      if (!pending.note(id, rv)) return;
      pending.noteSoon();
      if (link.fatal()?.code === 'DEVICE_REVOKED') core.unsent.keepRevokedUnsent();
    },
    /** Whether this device may write to `stream` now: owner, or a write grant whose end has not passed. */
    writable: access.writable,
    /** Whether this device may read `stream` now (an audit stream never: it is not replicated). */
    readable: access.readable,
    /** Why `stream` is not writable now, or null when it is (see `NotWritableReason`). */
    whyNotWritable: access.whyNotWritable,
    /**
     * What this device may access: the server's list at the last connection with the access changes
     * since, kept across restarts (so it is known offline), without entries whose end passed on this
     * device's clock. Empty on a device that never connected.
     */
    access: (): StreamAccess[] => {
      const t = deps.now();
      return [...access.entries.values()].filter(access.current).map((a) => access.asOf(a, t));
    },
    /** The entries set aside, oldest first (see `QuarantinedItem`). */
    quarantine: (): QuarantinedItem[] =>
      core.kept.slots() === 0 ? [...quarantine.list()] : quarantine.list().map(({ slot: _slot, ...q }) => q),
    /**
     * The content of a version refused BAD_TRANSITION as this device opened and verified it, with its
     * author and its entry's reason. Rejects with SyncError NOT_QUARANTINED when the version is not listed,
     * and VERSION_NOT_KEPT when its content is not kept.
     */
    quarantinedVersion: (key: QuarantineKey): Promise<QuarantinedVersion> => core.kept.readKept(key),
    /**
     * Takes entries off `quarantine()` once the person has seen them (all named or none); recorded in the
     * audit log before it is stored (quarantine/dismiss.ts).
     */
    dismissQuarantined: (...entries: QuarantineKey[]): Promise<void> => core.dismissals.dismiss(entries),
    /** Local versions the server did not take, oldest first (see `UnsentChange`). */
    unsent: (): UnsentChange[] => [...core.unsent.list()],
    /**
     * Forgets the kept unsent versions of a record: every one, or with `rv` those of that revision number.
     * Answers whether one was kept. The record stays diverged until a served version replaces it.
     */
    async discardUnsent(stream: string, id: string, rv?: number): Promise<boolean> {
      const gone = (u: UnsentChange): boolean =>
        u.stream === stream && u.id === id && (rv === undefined || u.rv === rv);
      const list = core.unsent.list();
      if (!list.some(gone)) return false;
      await core.unsent.saveUnsent(list.filter((u) => !gone(u)));
      return true;
    },
    /**
     * Reads the server's stream list and takes it as this device's access; a stream it no longer lists is
     * taken as access ended, and purged.
     * - Rejects as the connection's request does (SyncError).
     */
    refreshStreams: access.refreshStreams,
    /**
     * Resolves when everything local was pushed and the last pull found nothing new; rejects with the
     * connection's failure (DEVICE_UNKNOWN, DEVICE_REVOKED, …) once it is fatal, as that never comes then.
     */
    async awaitInSync(): Promise<void> {
      // Stopped (closed): what is unsent goes with the next session, so "in sync" never comes here.
      if (core.s.stopped) throw link.stoppedInSync();
      const replication = core.s.replication;
      if (!replication) return;
      const fatal = link.fatal();
      if (fatal) throw fatal;
      let ended: ((error: SyncError) => void) | undefined;
      const refused = new Promise<never>((_, reject) => {
        ended = reject;
        link.fatalWaiters.add(reject);
      });
      try {
        // RxDB took the changes waiting for their write key as sent: in sync only once they are. And only
        // while connected and caught up: a device reconnecting (a server restart, a dropped link) has not yet
        // pulled what the server holds, whatever RxDB last saw. Taken offline by the app, RxDB's word stands.
        for (;;) {
          await Promise.race([replication.awaitInSync(), refused]);
          if (keyWaits.size() > 0) {
            await Promise.race([keyWaits.drained(), refused]);
            continue;
          }
          const at = state$.value.status;
          if (at === 'online' || at === 'stopped') break;
          await Promise.race([
            firstValueFrom(state$.pipe(filter((x) => x.status === 'online' || x.status === 'stopped'))),
            refused,
          ]);
        }
      } finally {
        if (ended) link.fatalWaiters.delete(ended);
      }
    },
    /**
     * Stops the replication and its timers, and persists what the session changed before the database
     * closes.
     * - Work waiting for the connection, and `awaitInSync`, reject with SyncError STOPPED.
     */
    async stop(): Promise<void> {
      core.s.stopped = true;
      heads.stop();
      headsWatch.unsubscribe();
      storedWatch.unsubscribe();
      clearTimeout(headsAgain);
      unwatchGuard();
      link.releaseLinkWaiters(new SyncError('STOPPED', 'sync stopped', false));
      core.busy.wake();
      for (const w of [...link.fatalWaiters]) w(link.stoppedInSync());
      core.reset.release();
      access.stopTimer();
      core.retry.stopTimer();
      keyWaits.stopTimer();
      core.pull.stopTimer();
      await core.bridge.stop();
      replicaGuardOf(collection)?.set(null);
      pending.unwatch();
      // Entries answered by what RxDB stored last (`settle`), before the database closes.
      if (quarantine.gathered() > 0) await quarantine.settleGathered().catch(() => undefined);
      core.s.replication = null;
      core.live.pullStream$.complete();
      await core.checkpoints.settled();
      await access.settled();
      // What the last moments changed is persisted before the database closes.
      await pending.flush();
      if (core.progress.syncedSave.cancel()) await core.progress.syncedSave.save().catch(() => undefined);
      await core.progress.syncedSave.settled();
      await core.unsent.flush();
      await headSeen.flush();
      await headVerified.flush();
    },
  };
};

/** What `createSyncEngine` answers. */
export type SyncEngine = ReturnType<typeof createSyncEngine>;
