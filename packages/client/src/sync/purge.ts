/**
 * Purging a stream whose access ended: its local copy deleted without pushing anything for it.
 *
 * Invariants:
 * - A purge empties every local document of the stream (deletions included: a deletion keeps the record's
 *   last content), then deletes it, so neither the tombstones nor RxDB's replication copy of each record
 *   keep the content; an emptied deletion (nobody's change) is never sent (push.ts).
 * - Its local writes never sent stop counting as pending and are named to the person (UNSENT_PURGED, ids
 *   and kinds only), as are its versions kept unsent and waiting for a key, which go too.
 * - Content kept of its refused versions goes (entries stay, marked `purged`), its diverged marks and its
 *   gap go, its keys are forgotten, and it is pulled from 0 if readable again (checkpoint.ts).
 * - What RxDB stores of a stream this device may not read (a batch handed before access ended, stored
 *   after the purge) is emptied and removed again as soon as RxDB reports it stored (`sweep`), in order
 *   with purges and live frames.
 * - A purge or sweep that fails is reported (PURGE_FAILED); a purge that failed stays owed (access.ts).
 */
import { Subject } from 'rxjs';
import { messageOf, type EngineCore } from './engine-core';
import { MAX_ISSUE_MESSAGE, MAX_ISSUE_RECORDS } from './issues';
import { namesThatFit } from '../core/names-that-fit';
import { streamCopies } from './stream-copies';
import type { RemovedStream } from './types';
import type { Purge } from './engine-parts';

export const createPurge = (core: EngineCore): Purge => {
  const { deps } = core;
  const { collection, keyring } = deps;
  const report = core.issues.report;
  const removed$ = new Subject<RemovedStream>();
  /**
   * Empties the stream's deletions that still hold content: a deletion keeps the record's last content
   * (one made offline was never even sent), and it would outlive the access. The collection cannot write
   * deleted documents, so this goes through its storage instance, which seals them at rest and tells the
   * collection and RxDB's replication (which takes the emptied version as pushed: see the push handler).
   */
  const emptyDeletions = async (stream: string): Promise<void> => {
    const storage = collection.storageInstance;
    // A document written meanwhile (a conflict, 409) is read and emptied again.
    for (let tries = 0; tries < 3; tries++) {
      const documents = await streamCopies(storage, stream, { deleted: true });
      const full = documents.filter((d) => Object.keys(d.data).length > 0 || d.conflictData !== null);
      if (full.length === 0) return;
      const { error } = await storage.bulkWrite(
        full.map((d) => ({
          previous: d,
          document: { ...d, data: {}, conflict: false, conflictData: null },
        })),
        'hale-purge-deletions',
      );
      if (error.length === 0) return;
    }
    throw new Error('deleted records kept changing while they were emptied');
  };

  /**
   * Tells the person which changes made on this device are removed with the records of a stream whose
   * access ended before the server took them: it reads like sync finished otherwise (pending 0, nothing
   * unsent). Ids and kinds only, never content.
   */
  const reportDiscarded = (
    stream: string,
    records: ReadonlyArray<{ id: string; kind: string }>,
    purging: boolean,
  ): void => {
    const head = `${records.length} change(s) made on this device to ${stream} were never sent: access to it ended${purging ? ', and they are removed with its records' : ''}:`;
    // As many as fit in a message; `records` names them all (up to MAX_ISSUE_RECORDS).
    const named = namesThatFit(
      records.map((r) => `${r.kind} ${r.id}`),
      MAX_ISSUE_MESSAGE - head.length - 1,
      ', ',
    );
    report({
      code: 'UNSENT_PURGED',
      message: `${head} ${named}`,
      stream,
      ...(records.length === 1 ? { id: records[0]!.id } : {}),
      records: records.slice(0, MAX_ISSUE_RECORDS).map((r) => ({ id: r.id, kind: r.kind })),
    });
  };

  /**
   * Deletes a stream's local copy without pushing anything for it (access has ended). The records are
   * first emptied, then deleted, and the records deleted before are emptied too (`emptyDeletions`), so
   * neither the tombstones nor the replication's own copy of each record (RxDB keeps the last pushed state
   * beside the collection, and takes the emptied tombstone as pushed) keep the content. No `cleanup()`:
   * it would wait for the replication to be in sync, which never happens while offline.
   */
  const purge = async (removed: RemovedStream): Promise<number> => {
    const stream = removed.stream;
    core.push.purged(stream);
    core.access.entries.delete(stream);
    core.pull.unsubscribed(stream);
    delete core.known[stream];
    await core.checkpoints.purged(stream);
    // Its local writes will never be sent (the push handler skips streams that are not readable), so
    // they are not pending any more; deletions included, hence the look-up with tombstones. They are
    // named to the person, with the refused versions kept unsent, which go too.
    const pending = core.pending;
    const discarded = new Map<string, { id: string; kind: string }>();
    if (pending.size() > 0) {
      const held = await collection.storageInstance.findDocumentsById(pending.ids(), true);
      const ended = held.filter((d) => d.stream === stream);
      for (const d of ended) {
        // Settled for good (`answered`), not only forgotten: RxDB may hand these versions again (a batch it
        // retries), and counted afresh they would show as pending until the push handler drops them.
        pending.settle(d.id, d.rv);
        discarded.set(d.id, { id: d.id, kind: d.kind });
      }
      if (ended.length > 0) await pending.save();
    }
    // Versions waiting for a key go likewise (the local copy may be a served version since).
    const waitingHere = core.keyWaits.ofStream(stream);
    if (waitingHere.length > 0) {
      for (const { record } of waitingHere) {
        core.keyWaits.drop(record.id);
        core.issues.clearIssues({ code: 'NO_KEY', stream: record.stream, id: record.id });
        if (pending.settle(record.id, record.rv)) await pending.save();
        discarded.set(record.id, { id: record.id, kind: record.kind });
      }
      await core.keyWaits.save();
    }
    const unsent = core.unsent;
    for (const u of unsent.list()) {
      if (u.stream === stream && !discarded.has(u.id)) discarded.set(u.id, { id: u.id, kind: u.kind });
    }
    if (discarded.size > 0) reportDiscarded(stream, [...discarded.values()], true);
    const count = await clearStream(stream);
    keyring.forgetStream(stream);
    // Nothing of the stream is a copy any more (freshness.ts ignores emptied deletions).
    if (unsent.undivergeStream(stream)) await unsent.saveDiverged();
    if (unsent.list().some((u) => u.stream === stream)) {
      await unsent.saveUnsent(unsent.list().filter((u) => u.stream !== stream));
    }
    // Refused versions' content kept aside goes with the stream; their entries stay, saying so.
    const q = core.quarantine;
    if (core.kept.slots() > 0 && q.list().some((e) => e.stream === stream && e.slot !== undefined)) {
      const at = core.iso();
      await q.saveQuarantine(
        q
          .list()
          .map((e) =>
            e.stream === stream && e.slot !== undefined ? core.kept.withoutContent(e, 'purged', at) : e,
          ),
      );
    }
    // The stream starts again from 0 if access comes back: nothing of it is left to fetch again.
    if (q.gaps.delete(stream)) await q.saveGaps();
    deps.onPurged?.(removed, count);
    removed$.next(removed);
    return count;
  };

  /**
   * Empties and deletes every local document of `stream`, deletions included (see `purge`); answers how
   * many were not deleted yet.
   */
  const clearStream = async (stream: string): Promise<number> => {
    const docs = await collection.find({ selector: { stream } }).exec();
    if (docs.length > 0) {
      await collection.bulkUpsert(
        docs.map((d) => ({ ...d.toMutableJSON(), data: {}, conflict: false, conflictData: null })),
      );
      await collection.bulkRemove(docs.map((d) => d.primary));
    }
    await emptyDeletions(stream);
    return docs.length;
  };

  /** Streams a `sweep` is queued for. */
  const sweeping = new Set<string>();
  /**
   * RxDB stored a served version of a stream this device may not read: one handed over before access to
   * it ended, which RxDB persisted only after the purge (it stores handed batches later, and a live batch
   * only once no push runs; nothing tells when, nor whether it will). It is emptied and removed again at
   * once, in order with purges and live frames. Nothing is handed over once access ended, so only such
   * stragglers come here.
   */
  const sweep = (stream: string): void => {
    if (sweeping.has(stream) || core.s.stopped) return;
    sweeping.add(stream);
    const run = core.inOrder(async () => {
      sweeping.delete(stream);
      // Readable again (granted anew): the stream is pulled from 0, and the version may stay.
      if (!core.access.readable(stream) && !core.s.stopped) await clearStream(stream);
    });
    run.catch((error: unknown) =>
      report({
        code: 'PURGE_FAILED',
        message: `Could not remove ${stream} from this device: ${messageOf(error)}`,
        stream,
      }),
    );
  };

  return { purge, clearStream, reportDiscarded, sweep, removed$ };
};
