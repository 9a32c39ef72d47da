/**
 * The push handler: RxDB's rows (and the engine's own sends: key-wait list, restore catch-up, merges)
 * decided, sent and answered.
 *
 * Invariants:
 * - RxDB takes every row missing from the returned conflicts as stored on the server and never sends it
 *   again. So a row the server did not take is sent again here (a creation when the server lost the
 *   record; on top of the server's tag when only the tag differed), waits on the key-wait list, fails the
 *   batch so RxDB retries it (no key beyond the list's bound, STALE_EPOCH after one key refresh), or is
 *   kept unsent (refused for good), before the handler returns.
 * - Writes to streams this device may not write are not sent (NOT_WRITABLE, kept unsent); writes to
 *   streams whose access ended are local only and stop counting as pending (named UNSENT_PURGED); an
 *   emptied deletion (what a purge left) and a version a purge removed are never sent.
 * - A version RxDB hands that was made on one waiting on the key-wait list is sent against that one's base
 *   (`pushOnWaits`), and answers it.
 * - Access is the server's list on this connection before anything is decided; while a restore is caught
 *   up with, the push waits for the floor the pull handler fixes first.
 * - The versions of one user action (write-groups.ts) are sent as one group or not at all: one refused or
 *   waiting for a key here holds back the others (refused GROUP_REFUSED, or waiting with it; a grouped row
 *   never waits on the key-wait list). A GROUP_REFUSED answer is kept unsent like the refusal it names,
 *   except when the group met a newer version (a conflict: the row is sent again, without the one that
 *   conflicted, once that one was judged; a text version never depends on its header's merge) or a new
 *   key epoch (sent again with it).
 * - `lastSyncedAt` moves only for a push the server stored something of, or that left nothing to send.
 */
import type { WithDeleted } from 'rxdb';
import type { ServedDoc } from '@hale/protocol';
import { SyncError } from '../connection';
import { sameVersion, type EncodeInput } from '../record-codec';
import { emptied, type PlainRecord } from '../../records/plain-record';
import type { EngineCore } from '../engine-core';
import type { Overwrite, PushInput, Refusal } from '../types';
import { createPushSend } from './push-send';
import { CONFLICT_WAIT, createPushMasters, type AttemptOptions } from './push-masters';
import type { Push, PushOptions } from '../engine-parts';

export const createPush = (core: EngineCore): Push => {
  const { deps } = core;
  const { keyring, collection } = deps;
  const report = core.issues.report;
  const send = createPushSend(core);
  const masters = createPushMasters(core);
  /** Streams purged since this engine started. */
  const purgedHere = new Set<string>();

  /**
   * Ids of rows RxDB gathered before a purge of their stream emptied the record (the batch waited for a
   * connection meanwhile): their content is what the purge removed, and is not sent, also once access came
   * back. Looked up only for streams purged since start: after a restart RxDB gathers the stored state.
   */
  const supersededByPurge = async (rows: PushInput): Promise<Set<string>> => {
    const ids = rows
      .map((r) => r.newDocumentState)
      .filter((d) => purgedHere.has(d.stream) && !emptied(d))
      .map((d) => d.id);
    if (ids.length === 0) return new Set();
    const stored = await collection.storageInstance.findDocumentsById(ids, true);
    return new Set(stored.filter(emptied).map((d) => d.id));
  };

  const pushRows = async (
    rows: PushInput,
    options: PushOptions = {},
  ): Promise<WithDeleted<PlainRecord>[]> => {
    await core.link.untilConnected();
    // While a restore of the server's store is caught up with, which server versions are older ones of
    // this device's depends on the floor the pull handler fixes first (reset.ts). Not fixed only right
    // after start, until RxDB's first pull (which no push holds up) fixes it.
    if (options.floor === undefined) await core.reset.floorFixed();
    const floor = options.floor ?? core.reset.floor();
    // Access must be known before deciding what may be sent: the server's list on this connection.
    if (core.access.entries.size === 0 || core.s.streamsStale) await core.access.refreshStreams();
    const superseded = await supersededByPurge(rows);
    /**
     * RxDB writes `stored`, answered as the server's version of `local`'s record, into the local copy
     * only after the push handler returned: `local` counts as pending until it has. Not when a newer local
     * write is pending, nor when `stored` is `local` itself.
     */
    const untilStored = (local: WithDeleted<PlainRecord>, stored: WithDeleted<PlainRecord>): void => {
      if (options.rxdb && !core.pending.has(local.id) && !sameVersion(stored, local))
        core.pending.resolve(local);
    };
    // `rebased`: rows sent against the server's tag given here instead of their assumed master state's;
    // `replaced`: rows sent as the version given here (`overwriteRefused`), not RxDB's new state.
    const attempt = async (
      retryEpoch: boolean,
      only?: ReadonlySet<number>,
      asCreation = false,
      rebased?: ReadonlyMap<number, string>,
      replaced?: ReadonlyMap<number, Overwrite>,
    ): Promise<WithDeleted<PlainRecord>[]> => {
      const held = { n: 0 };
      try {
        return await attemptHolding(held, retryEpoch, only, asCreation, rebased, replaced);
      } finally {
        core.keyWaits.releaseWaits(held);
      }
    };
    const attemptHolding = async (
      held: { n: number },
      retryEpoch: boolean,
      only: ReadonlySet<number> | undefined,
      asCreation: boolean,
      rebased: ReadonlyMap<number, string> | undefined,
      replaced: ReadonlyMap<number, Overwrite> | undefined,
    ): Promise<WithDeleted<PlainRecord>[]> => {
      const toSeal: EncodeInput[] = [];
      const candidates: number[] = [];
      const refused: Refusal[] = [];
      /** Indexes of the rows refused, and of those without a write key (not parked). */
      const refusedHere = new Set<number>();
      const noKey = new Set<number>();
      const refuse = (i: number, code: string, message: string): void => {
        const row = rows[i]!;
        refusedHere.add(i);
        refused.push({ record: row.newDocumentState, base: row.assumedMasterState, code, message });
      };
      const groupOf = (i: number): string | undefined => {
        const doc = replaced?.get(i)?.version ?? rows[i]!.newDocumentState;
        return core.groups.of(doc.id, doc.rv);
      };
      let missingKey = false;
      /** Rows without a write key that go on the key-wait list (`options.park`). */
      const waiting: Array<{ record: WithDeleted<PlainRecord>; base: WithDeleted<PlainRecord> | undefined }> =
        [];
      let skipped = false;
      /** Per stream, changes of this device's never sent because access to it ended. */
      const lost = new Map<string, Array<{ id: string; kind: string }>>();
      for (const [i, row] of rows.entries()) {
        if (only !== undefined && !only.has(i)) continue;
        const doc = replaced?.get(i)?.version ?? row.newDocumentState;
        // An emptied deletion is what a purge left, no change of anyone's: never sent, also when access
        // came back before RxDB got to it. Nor is a version the purge removed (`superseded`).
        const purged = emptied(doc) || superseded.has(doc.id);
        if (purged || !core.access.writable(doc.stream)) {
          // Writes to a stream whose access ended are local only; RxDB takes them as pushed. A purge that is
          // queued or due settles and names them as it removes them (one report per stream); without one
          // coming, they stop counting here, named all the same.
          if (purged || !core.access.readable(doc.stream)) {
            if (!purged && (core.access.ending.has(doc.stream) || core.access.endPassed(doc.stream)))
              continue;
            const settled = core.pending.settle(doc.id, doc.rv);
            skipped = settled || skipped;
            if (settled && !purged) {
              const list = lost.get(doc.stream) ?? [];
              list.push({ id: doc.id, kind: doc.kind });
              lost.set(doc.stream, list);
            }
            continue;
          }
          refuse(i, 'NOT_WRITABLE', `Not allowed to write ${doc.stream}`);
          continue;
        }
        const write = await keyring.writeKey(doc.stream);
        // Waits on the list, answered as sent, so this push holds up nothing else. Not a row sent against a
        // tag alone (`rebased`, `replaced`: the list needs the state it builds on), nor beyond its bound.
        if (
          !write &&
          options.park &&
          rebased === undefined &&
          replaced === undefined &&
          groupOf(i) === undefined &&
          core.keyWaits.roomForWait(doc.id, held)
        ) {
          waiting.push({ record: doc, base: asCreation ? undefined : row.assumedMasterState });
          continue;
        }
        if (!write) {
          // A failure of the push request (RxDB sends the batch again): it ends once a push passes, or once
          // this record is stored.
          report(
            {
              code: 'NO_KEY',
              message: `No key to write ${doc.stream}; will retry`,
              stream: doc.stream,
              id: doc.id,
            },
            { loop: 'push' },
          );
          missingKey = true;
          noKey.add(i);
          continue;
        }
        toSeal.push({ record: doc, write });
        candidates.push(i);
      }
      // A group goes whole or not at all: a row refused here refuses the others, one without a key holds
      // them back with it (the batch fails, RxDB sends it again).
      const groups = new Map<string, number[]>();
      for (const i of rows.keys()) {
        const group = only !== undefined && !only.has(i) ? undefined : groupOf(i);
        if (group !== undefined) groups.set(group, [...(groups.get(group) ?? []), i]);
      }
      for (const members of groups.values()) {
        const by = members.find((i) => refusedHere.has(i));
        if (by === undefined && !members.some((i) => noKey.has(i))) continue;
        for (const i of members) {
          const n = candidates.indexOf(i);
          if (n < 0) continue;
          candidates.splice(n, 1);
          toSeal.splice(n, 1);
          if (by === undefined) missingKey = true;
          else
            refuse(
              i,
              'GROUP_REFUSED',
              `Another record of the same change (${rows[by]!.newDocumentState.id}) cannot be sent; none of it is`,
            );
        }
      }
      for (const [stream, records] of lost) core.purge.reportDiscarded(stream, records, false);
      if (waiting.length > 0) {
        await core.keyWaits.parkRows(waiting);
        core.keyWaits.releaseWaits(held);
      }
      const sent = await send.sendRows(
        rows,
        toSeal,
        candidates,
        async (i) => {
          const row = rows[i]!;
          return (
            rebased?.get(i) ??
            (row.assumedMasterState && !asCreation ? await send.assumedTag(row.assumedMasterState) : null)
          );
        },
        refuse,
        groupOf,
      );
      if (sent === null) {
        if (skipped) await core.pending.save();
        await core.unsent.hold(refused);
        if (missingKey)
          throw new SyncError('NO_KEY', 'no key yet to write some records; retrying later', true);
        return [];
      }
      const { replies, frameRefused } = sent;
      for (const { i, doc, code, message } of frameRefused) {
        core.sent.forget(doc.id, doc.rev);
        core.sent.answeredRev(doc.id, doc.rev, true);
        refuse(i, code, message);
      }
      const met: ServedDoc[] = [];
      /** Index into `rows` of the row each entry of `met` answers. */
      const masterRows: number[] = [];
      /** Per entry of `met`, the incarnation the server says it kept it from (`keptFrom`), if any. */
      const keptFroms: Array<string | undefined> = [];
      /** Per entry of `met`, the tag of the version its row sent. */
      const sentRevs: string[] = [];
      const recreate = new Set<number>();
      /** Versions sent in place of RxDB's (`replaced`) that the server took: answered as its state. */
      const taken: Overwrite[] = [];
      let stale = false;
      /** A record marked diverged for its wait for a key was stored. */
      let settledWaits = false;
      /** The server stored a row of this attempt (`lastSyncedAt`). */
      let stored = false;
      /** Rows refused GROUP_REFUSED for a conflict of another row of their group: sent again after. */
      const regroup = new Set<number>();
      for (const { out, byIndex, reply } of replies) {
        // Why each group of the frame was refused: a refusal for good, or a conflict or stale epoch.
        const cause = new Map<string, 'refused' | 'conflict' | 'stale'>();
        for (const [k, result] of reply.results.entries()) {
          const group = out[k]!.group;
          if (group === undefined || result.status === 'ok') continue;
          const why =
            result.status === 'conflict'
              ? 'conflict'
              : result.code === 'STALE_EPOCH'
                ? 'stale'
                : result.code === 'GROUP_REFUSED'
                  ? undefined
                  : 'refused';
          if (why !== undefined && cause.get(group) !== 'refused') cause.set(group, why);
        }
        for (const [k, result] of reply.results.entries()) {
          const row = rows[byIndex[k]!]!;
          if (result.status === 'ok') {
            core.sent.answeredRev(result.id, out[k]!.doc.rev, true);
            core.sent.noteStored(result.stream, result.id, result.seq);
            core.pending.settle(result.id, row.newDocumentState.rv);
            const version = replaced?.get(byIndex[k]!)?.version ?? row.newDocumentState;
            core.groups.stored(version.id, version.rv);
            stored = true;
            // Its wait for a write key (reported by an earlier attempt) has ended.
            core.issues.clearIssues({ code: 'NO_KEY', stream: result.stream, id: result.id });
            if (core.unsent.divergedOf(result.stream, result.id)?.wait === true) {
              core.unsent.undiverge(result.stream, result.id);
              settledWaits = true;
            }
            const over = replaced?.get(byIndex[k]!);
            if (over) {
              taken.push(over);
              untilStored(row.newDocumentState, over.version);
            }
            continue;
          }
          core.sent.forget(result.id, out[k]!.doc.rev);
          if (result.status === 'conflict') {
            if (result.master === null) {
              // The server lost or never had the assumed state: send it again as a creation.
              recreate.add(byIndex[k]!);
              continue;
            }
            met.push(result.master);
            masterRows.push(byIndex[k]!);
            keptFroms.push(result.keptFrom);
            sentRevs.push(out[k]!.doc.rev);
            continue;
          }
          const why = result.code === 'GROUP_REFUSED' ? cause.get(out[k]!.group ?? '') : undefined;
          if (result.code === 'STALE_EPOCH' || why === 'stale') {
            // Not stored; sealed again under the new epoch (another tag). Versions sent before it stay.
            core.sent.answeredRev(result.id, out[k]!.doc.rev, false);
            stale = true;
            continue;
          }
          if (why === 'conflict') {
            core.sent.answeredRev(result.id, out[k]!.doc.rev, false);
            regroup.add(byIndex[k]!);
            continue;
          }
          core.sent.answeredRev(result.id, out[k]!.doc.rev, true);
          refuse(byIndex[k]!, result.code, result.message);
        }
      }
      // In an attempt that sends again, such rows are not sent a third time: kept unsent.
      if (only !== undefined)
        for (const i of regroup)
          refuse(
            i,
            'GROUP_REFUSED',
            'Another record of the same change met a newer version; none of it was sent',
          );
      if (settledWaits) await core.unsent.saveDiverged();
      // RxDB takes the versions sent in place of its own as the server's state of their records: it stores
      // each here, as it stores a conflict it resolves to the server's version.
      const conflicts: WithDeleted<PlainRecord>[] = taken.map((o) => o.version);
      await core.quarantine.noteOverwritten(taken);
      const a: AttemptOptions = {
        rows,
        rxdb: options.rxdb === true,
        repush: options.repush === true,
        park: options.park === true,
        asCreation,
        rebased,
        replaced,
        floor,
        servedBefore: options.servedBefore,
        held,
        refuse,
        untilStored,
      };
      const outcome = await masters.judgeMasters(a, met, masterRows, keptFroms, sentRevs);
      conflicts.push(...outcome.conflicts);
      const { rebase, over, overwrites, parkAfter, unopened } = outcome;
      if (parkAfter.length > 0) {
        await core.keyWaits.parkRows(parkAfter, { conflict: true });
        core.keyWaits.releaseWaits(held);
      }
      await core.unsent.hold(refused);
      await core.pending.save();
      // A sync only if the server stored something, or once nothing is left to send (the return below): a
      // push it stored nothing of is no sync, and RxDB's retries of it would each say the device just synced.
      if (stored) core.progress.noteSynced();
      // A creation refused as a conflict comes back with the server's version, so this runs at most twice.
      if (recreate.size > 0 && !asCreation) conflicts.push(...(await attempt(retryEpoch, recreate, true)));
      // A group's rows refused for its conflict go with those of it sent again on the server's tag (a
      // group again), or alone; only from the first attempt, so this ends.
      const again = only === undefined ? regroup : new Set<number>();
      if (rebase.size > 0)
        conflicts.push(...(await attempt(retryEpoch, new Set([...rebase.keys(), ...again]), false, rebase)));
      else if (again.size > 0) conflicts.push(...(await attempt(retryEpoch, again)));
      if (over.size > 0)
        conflicts.push(...(await attempt(retryEpoch, new Set(over.keys()), false, over, overwrites)));
      if (stale && retryEpoch) {
        await core.access.refreshStreams();
        if ((await keyring.refresh()) > 0) core.retry.requestRetry();
        const again = await attempt(false, only, asCreation, rebased, replaced);
        return [...conflicts, ...again];
      }
      if (stale) {
        // Still behind after refreshing keys: RxDB retries the batch later. A failure of the push request.
        report(
          { code: 'STALE_EPOCH', message: 'Waiting for the current key of a stream; will retry' },
          { loop: 'push' },
        );
        throw new SyncError('STALE_EPOCH', 'stream key epoch moved on; retrying later', true);
      }
      if (missingKey) {
        // The others were stored; RxDB sends the whole batch again, which the server answers idempotently.
        if ((await keyring.refresh()) > 0) core.retry.requestRetry();
        throw new SyncError('NO_KEY', 'no key yet to write some records; retrying later', true);
      }
      if (unopened) {
        // Under the wait's own code, which `error$` does not report: each waiting change is listed by record.
        throw new SyncError(
          CONFLICT_WAIT,
          'newer server versions of some records cannot be verified yet; their local changes wait',
          true,
        );
      }
      if (!stored) core.progress.noteSynced();
      return conflicts;
    };
    return attempt(true);
  };

  /**
   * RxDB's rows, sent. A version made on one waiting on the key-wait list (which RxDB took as the server's
   * state) builds on what that one was made on, and is sent against it: it carries the waiting one's
   * content further, and answers it. Read here, never while the list's own send runs (`rxdbPush`).
   */
  const pushOnWaits = async (input: PushInput): Promise<WithDeleted<PlainRecord>[]> => {
    const waits = core.keyWaits;
    const built: WithDeleted<PlainRecord>[] = [];
    const rows: PushInput =
      waits.waiting() === 0
        ? input
        : input.map((row) => {
            const w = waits.get(row.newDocumentState.id);
            if (!w || !row.assumedMasterState || !sameVersion(row.assumedMasterState, w.record)) return row;
            built.push(row.newDocumentState);
            return w.base === undefined
              ? { newDocumentState: row.newDocumentState }
              : { newDocumentState: row.newDocumentState, assumedMasterState: w.base };
          });
    const conflicts = await pushRows(rows, { rxdb: true, park: true });
    let dropped = false;
    for (const doc of built) {
      const w = waits.get(doc.id);
      if (!w || w.record.rv >= doc.rv) continue;
      waits.dropWaiting(doc.id);
      core.issues.clearIssues({ code: 'NO_KEY', stream: doc.stream, id: doc.id });
      dropped = true;
    }
    if (dropped) await waits.save();
    return conflicts;
  };

  /**
   * RxDB hands this handler every local version the server has not taken, after a restart too, whatever
   * became of the note of it: each counts as pending again here, before the handler waits for a connection.
   */
  const pushHandler = (rows: PushInput): Promise<WithDeleted<PlainRecord>[]> => {
    const counted = core.pending.handedRows(rows);
    if (counted && core.link.fatal()?.code === 'DEVICE_REVOKED') core.unsent.keepRevokedUnsent();
    return core.keyWaits
      .rxdbPush(() => pushOnWaits(rows))
      .then(
        (conflicts) => {
          core.busy.passed('push');
          return conflicts;
        },
        async (error: unknown) => {
          await core.busy.backoff('push', error);
          throw error;
        },
      );
  };

  return {
    pushRows,
    pushHandler,
    forgedOver: masters.forgedOver,
    /** `stream` was purged: versions RxDB gathered before are checked against the store (`superseded`). */
    purged: (stream: string): void => void purgedHere.add(stream),
  };
};
