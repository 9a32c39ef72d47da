/**
 * Purges of queued files when access to their stream ends: marked, recorded (`upload-purges`), removed
 * as `cancel` does, retried after a backoff, finished by the next session.
 *
 * Invariants:
 * - `purgeStream` (files.ts, when access to a stream ends) first marks each file of the stream as being
 *   purged (from then on it is never sent, and a second purge of the stream, begun meanwhile, leaves it to
 *   the first: each file is reported once), stores their blob ids and stream in `upload-purges`, then
 *   removes each as `cancel` does (its blob on the server deleted best effort, not waited for), going on
 *   past one that fails; a removal that fails (the device store refuses) is reported UPLOAD_PURGE_FAILED
 *   and tried again by itself after the same backoff, online or not, until it passes (then
 *   UPLOAD_PURGED), reported again, in the same words, at each attempt that fails; a `cancel` that passes
 *   meanwhile ends it (nothing more is reported). The retries stop with the queue (close, lock); what is
 *   still to be purged then (a removal waiting for its retry, files the purge had not reached) is finished
 *   by the next session as it reads the queue (`ready`, before anything is listed or sent: each file
 *   still listed is removed and reported UPLOAD_PURGED, or UPLOAD_PURGE_FAILED and retried as above);
 *   chunks no longer listed go as orphans at start. `upload-purges` is rewritten as purges end (removed
 *   once none is left); a write of it the store refuses is made again with the next retry. Failure mode:
 *   if the store refused that record and the session ends before a retry writes it, the next session
 *   does not know of the purge (the file stays listed until cancelled, as before the record). A record
 *   naming files no longer listed is dropped at the next start; one that does not match its schema is
 *   reported by device-meta and taken as naming none.
 *   A purge is owed, never dropped, when the queue cannot do it at once: one that comes while the session
 *   is locked or the queue stopped marks and records the stream's files all the same (the session lets
 *   work under way finish; after close() the store takes nothing more, and the purge is lost as a record
 *   the store refused is) and leaves their removal to the next session. One that comes while the stored
 *   index could not be read (`ready` false: the files are not known) records the stream alone, beside
 *   what the record holds (an earlier session's purges, unread here), the write made again after the
 *   backoff while the store refuses it; the next session that reads the index purges every file of that
 *   stream it lists (none can have been enqueued since: enqueues are refused while the index is
 *   unread). An enqueue under way when its stream's purge looked at the queue (its entry written after)
 *   purges its own file as the stream's others, once the entry is written, and is refused
 *   (`purgedWhileStored`: files.ts FORBIDDEN); the file is never sent.
 */
import type { QueueCore } from './upload-queue-core';
import { isDeviceMetaError } from '../store/device-meta';
import { cutMiddle } from '../core/cut-middle';
import { quotedName, MAX_REPORT_MESSAGE } from './upload-queue-report';
import { type QueuedEntry, PURGES_KEY, PendingPurgesSchema, type PendingPurges } from './upload-queue-store';

export const createUploadPurges = (q: QueueCore) => {
  const { deps } = q;
  /**
   * Files of a purged stream not removed yet (`purgeStream`, or resumed at start): the entry as last seen
   * (its chunk keys once it is no longer listed), the stream, the failed attempts and the backoff, and
   * whether a removal is under way. Tried again online or not: nothing is sent.
   */
  const purges = new Map<
    string,
    { entry: QueuedEntry; stream: string; attempts: number; nextAt: number; running: boolean }
  >();
  let purgeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The stored record of `purges` (PURGES_KEY) is as they are: false after a write the store refused. */
  let purgesStored = true;
  let purgeWrites = 0;
  /**
   * Purges of streams begun in this session, counted (`purgeCount`), and the count at the last one of each
   * stream: an enqueue under way when its stream's purge looked at the queue (its entry not written yet)
   * finds it so once written, and purges its file (see `enqueue`).
   */
  let purgeCount = 0;
  const lastPurgeOf = new Map<string, number>();
  /**
   * Streams purged while the stored index could not be read (`ready` false): recorded for the next session
   * (`storeOwedStreams`); those whose record the store refused, written again after the backoff.
   */
  const owedStreams = new Set<string>();
  let owedTimer: ReturnType<typeof setTimeout> | undefined;
  let owedAttempts = 0;
  /** Schedules the next retry of a failed purge removal (those not tried yet are their purge's to try). */
  const schedulePurges = (): void => {
    if (purgeTimer !== undefined) clearTimeout(purgeTimer);
    purgeTimer = undefined;
    if (q.stopped) return;
    const waits = [...purges.values()].filter((p) => p.attempts > 0).map((p) => p.nextAt);
    if (waits.length === 0) return;
    purgeTimer = setTimeout(
      () => {
        purgeTimer = undefined;
        void purgeDue().catch(() => undefined);
      },
      Math.max(0, Math.min(...waits) - deps.now()),
    );
  };

  /**
   * Stores which files' purges are still to be done (PURGES_KEY), as `purges` holds them now; none: the
   * record is removed. Never rejects: a write the store refuses leaves `purgesStored` false, written again
   * with the next retry (the writes of one key land in call order, so the last one's outcome counts).
   */
  const storePurges = async (): Promise<void> => {
    const write = ++purgeWrites;
    const pending = [...purges].map(([blobId, p]) => ({ blobId, stream: p.stream }));
    const stored = await (
      pending.length === 0 ? q.meta.remove([PURGES_KEY]) : q.meta.set(PURGES_KEY, pending)
    ).then(
      () => true,
      () => false,
    );
    if (write === purgeWrites) purgesStored = stored;
  };

  /**
   * Marks the files of `targets` as being purged: never sent from now on, and left alone by a purge
   * begun later (one report per file). Answers the blob ids marked (those not being purged already).
   */
  const beginPurges = (targets: readonly QueuedEntry[], streamOf: (e: QueuedEntry) => string): string[] => {
    const begun: string[] = [];
    for (const entry of targets) {
      const blobId = entry.ref.blobId;
      if (purges.has(blobId)) continue;
      purges.set(blobId, { entry, stream: streamOf(entry), attempts: 0, nextAt: 0, running: false });
      q.cancelled.add(blobId);
      begun.push(blobId);
    }
    return begun;
  };

  /**
   * A purge of `blobId` is over: its removal passed, or a cancel removed the file. Its standing
   * UPLOAD_PURGE_FAILED, if a removal failed, goes.
   */
  const endPurge = (blobId: string): void => {
    const purge = purges.get(blobId);
    if (purge === undefined) return;
    purges.delete(blobId);
    if (purge.attempts > 0) {
      deps.clearReport?.({ code: 'UPLOAD_PURGE_FAILED', stream: purge.stream, id: blobId });
    }
  };

  /**
   * Removes file `blobId` being purged as `cancel` does (its blob on the server deleted best effort, not
   * waited for); a failure is reported and tried again after the backoff, a removal once it passes. Left
   * alone when its removal is under way already; nothing is reported once a cancel ended it meanwhile.
   */
  const purgeOne = async (blobId: string): Promise<void> => {
    const p = purges.get(blobId);
    if (p === undefined || p.running) return;
    p.running = true;
    // The entry as stored now, if it still is (a sealing may have been stored since the purge began).
    const entry = q.entries.find((e) => e.ref.blobId === blobId) ?? p.entry;
    p.entry = entry;
    const { stream } = p;
    const name = `"${quotedName(entry.ref.fileName)}"`;
    try {
      await q.removeEntry(blobId, entry);
    } catch (e) {
      p.running = false;
      if (purges.get(blobId) !== p) return;
      const still = q.entries.some((x) => x.ref.blobId === blobId);
      p.attempts += 1;
      p.nextAt = deps.now() + q.backoffMs(p.attempts);
      // The same words at each failed attempt (no count, no time): the sync state keeps one issue for a
      // repeat, so a removal that keeps failing is one issue, refreshed, not one per attempt.
      deps.report?.({
        code: 'UPLOAD_PURGE_FAILED',
        message: cutMiddle(
          `the queued file ${name} could not be removed from this device after access to ${stream} ` +
            `ended (${e instanceof Error ? e.message : String(e)}); ` +
            (still
              ? 'it stays listed, unsent, and is tried again by itself (cancelUpload removes it now)'
              : 'it is no longer listed, and the removal of its bytes is tried again by itself (else ' +
                'they go when the session is next opened)'),
          MAX_REPORT_MESSAGE,
        ),
        stream,
        id: blobId,
      });
      return;
    }
    p.running = false;
    // A cancel removed it meanwhile and answered for it.
    if (purges.get(blobId) !== p) return;
    endPurge(blobId);
    // Not waited for: the other files' bytes are not kept on the device behind a round trip.
    void q.deleteRemoteIfSealed(entry).catch(() => undefined);
    deps.report?.({
      code: 'UPLOAD_PURGED',
      message: `the queued file ${name} was removed unsent: access to ${stream} ended`,
      stream,
      id: blobId,
    });
  };

  /**
   * Removes, in turn, the files `begun` (marked by `beginPurges`), their record stored first; stops with
   * the queue (the record takes the rest to the next session). Never rejects.
   */
  const runPurges = async (begun: readonly string[]): Promise<void> => {
    if (begun.length === 0) return;
    await storePurges();
    try {
      for (const blobId of begun) {
        if (q.stopped) return;
        // Locked or closed: the queue stops, as `purgeDue` does (no timer armed only to find that).
        if (!deps.usable()) return q.stop();
        await purgeOne(blobId);
      }
      await storePurges();
    } finally {
      schedulePurges();
    }
  };

  /** Tries again each failed purge removal whose backoff passed, one at a time. */
  let purgingDue = false;
  const purgeDue = async (): Promise<void> => {
    if (purgingDue) return;
    purgingDue = true;
    const before = purges.size;
    try {
      for (const [blobId, p] of [...purges]) {
        if (q.stopped) return;
        // Locked or closed: the queue stops (a retry due again at once would spin on the timer).
        if (!deps.usable()) return q.stop();
        // Not tried yet (its purge is at it), under way, or not due.
        if (p.attempts === 0 || p.running || p.nextAt > deps.now()) continue;
        await purgeOne(blobId);
      }
      // A removal passed, or the record is not stored as it is.
      if (!purgesStored || purges.size !== before) await storePurges();
    } finally {
      purgingDue = false;
      schedulePurges();
    }
  };

  /**
   * Finishes the purges a session before this one recorded and did not finish (closed or locked first):
   * of the files still listed; the others' bytes went as orphans (`removeOrphans`). A record that does
   * not match its schema is reported by device-meta and taken as none.
   */
  const resumePurges = async (): Promise<void> => {
    const stored = await q.meta.get(PURGES_KEY, PendingPurgesSchema);
    if (stored === null || stored.length === 0) return;
    const streams = new Map<string, string>();
    const wholeStreams = new Set<string>();
    for (const p of stored) {
      if (p.blobId === undefined) wholeStreams.add(p.stream);
      else streams.set(p.blobId, p.stream);
    }
    // A stream-wide record names the files of the stream listed now: none could be enqueued since it was
    // written (the session that wrote it could not read the index, so it refused every enqueue).
    const begun = beginPurges(
      q.entries.filter((e) => streams.has(e.ref.blobId) || wholeStreams.has(e.stream)),
      (e) => streams.get(e.ref.blobId) ?? e.stream,
    );
    if (begun.length === 0) {
      await storePurges();
      return;
    }
    await runPurges(begun);
  };

  /**
   * Records that every file of the streams in `owedStreams` is to be purged (PURGES_KEY, without a blob id),
   * beside what the record holds already (an earlier session's purges: this session never read them), for
   * the next session that reads the index. Only while the index cannot be read (`ready` false: nothing
   * else writes the record then). A write the store refuses is made again after the backoff until it
   * passes or the queue stops; a record that does not match its schema (taken as naming none at the next
   * start) is written over. Never rejects.
   */
  const storeOwedStreams = async (): Promise<void> => {
    if (owedTimer !== undefined) clearTimeout(owedTimer);
    owedTimer = undefined;
    const add = (current: PendingPurges | null): PendingPurges => {
      const kept = (current ?? []).filter((p) => !(p.blobId === undefined && owedStreams.has(p.stream)));
      return [...kept, ...[...owedStreams].map((stream) => ({ stream }))];
    };
    const stored = await q.meta.update(PURGES_KEY, PendingPurgesSchema, add).then(
      () => true,
      (e: unknown) =>
        isDeviceMetaError(e, 'META_INVALID')
          ? q.meta.set(PURGES_KEY, add(null)).then(
              () => true,
              () => false,
            )
          : false,
    );
    if (stored) {
      owedAttempts = 0;
      return;
    }
    if (q.stopped || !deps.usable()) return;
    owedAttempts += 1;
    owedTimer = setTimeout(() => {
      owedTimer = undefined;
      void storeOwedStreams();
    }, q.backoffMs(owedAttempts));
  };

  /** The purge of `stream` (see `UploadQueue.purgeStream`), `read`: whether the stored index was read. */
  const purgeStream = async (stream: string, read: boolean): Promise<void> => {
    if (!read) {
      // Which files are queued is not known here (the index was not read): owed for the whole stream,
      // done by the next session that reads the index. Enqueues are refused meanwhile.
      owedStreams.add(stream);
      await storeOwedStreams();
      return;
    }
    lastPurgeOf.set(stream, ++purgeCount);
    // Locked or closed (the queue stopped, or about to): marked and recorded all the same, as work under
    // way that the session lets finish; `runPurges` then removes nothing and the next session does.
    await runPurges(
      beginPurges(
        q.entries.filter((e) => e.stream === stream),
        () => stream,
      ),
    );
  };
  /** Clears the retry timers (the queue stops). */
  const stopTimers = (): void => {
    if (purgeTimer !== undefined) clearTimeout(purgeTimer);
    purgeTimer = undefined;
    if (owedTimer !== undefined) clearTimeout(owedTimer);
    owedTimer = undefined;
  };
  return {
    purges,
    beginPurges,
    endPurge,
    storePurges,
    runPurges,
    resumePurges,
    purgeStream,
    stopTimers,
    /** Purges of streams begun in this session. */
    count: (): number => purgeCount,
    /** `count()` at the last purge of `stream` begun in this session (0: none). */
    lastOf: (stream: string): number => lastPurgeOf.get(stream) ?? 0,
  };
};

export type UploadPurges = ReturnType<typeof createUploadPurges>;
