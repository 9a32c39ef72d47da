/**
 * The server versions a push met as conflicts (`masters`): opened, judged, and what becomes of each row.
 *
 * Invariants:
 * - A server version that may not follow the state the local change was made on (RxDB's assumed master
 *   state) is not merged in: set aside BAD_TRANSITION. The local change is sent over it only where that
 *   refusal is sure to hold for the version's writer (`forgedOver`, see below), else kept unsent
 *   (CONFLICT_UNREADABLE). A version already set aside BAD_TRANSITION is set aside again.
 * - A server version that is the assumed master state itself (only its tag was not the one computed here),
 *   an older one of this very record served before a restore (`servedBefore`), or one this device sent and
 *   heard no answer for (`followsUnanswered`) is what the row was made on: the row is sent on top of it,
 *   once (`rebase`). Any other is another device's change, merged as a conflict, both sides kept.
 * - One that cannot be verified yet (NO_KEY, AUTHOR_LOOKUP_FAILED, NO_WRITE_GRANT) keeps the local change
 *   pending: it waits on the key-wait list (CONFLICT_WAIT) for at most `conflictWaitMs` of time connected
 *   since this session first met it, then goes to unsent (CONFLICT_UNREADABLE).
 * - A conflict RxDB's handler resolves to the server's version itself settles the pending write (nothing
 *   is sent again).
 */
import type { WithDeleted } from 'rxdb';
import { parseStreamId, type ServedDoc } from '@hale/protocol';
import { RETRYABLE_QUARANTINE } from '../stored-state';
import { createRecentMap } from '../../core/recent-map';
import { receivedTransitionRefusal } from '../received-transition';
import { overwriteRefused, type MergingDevice } from '../../records/conflicts';
import { sameVersion } from '../record-codec';
import type { PlainRecord } from '../../records/plain-record';
import { versionKey, type EngineCore } from '../engine-core';
import type { Judged, Overwrite, PushInput, SyncIssue } from '../types';

/**
 * How long a local change waits for a newer server version it met that cannot be verified yet, counting
 * only time connected. One still missing after that waits for another device to come online (a wrap not
 * yet made), for hours or for ever: the change goes to unsent rather than stay pending.
 */
const CONFLICT_WAIT_MS = 60_000;
/** The issue code of a local change waiting so, and of the push error that has RxDB send its batch again. */
export const CONFLICT_WAIT = 'CONFLICT_WAIT';
/** Server versions met that could not be verified yet, remembered with when first met. */
const MAX_UNOPENED = 1_000;

/** How a push attempt was asked for (see push.ts `attempt`). */
export interface AttemptOptions {
  readonly rows: PushInput;
  /** Rows are RxDB's (the push handler's): RxDB resolves the conflicts answered and stores the result. */
  readonly rxdb: boolean;
  /** Rows are local copies sent again after a restore of the server's store (no assumed state). */
  readonly repush: boolean;
  /** Rows without a write key, or meeting an unverifiable version, wait on the key-wait list. */
  readonly park: boolean;
  readonly asCreation: boolean;
  readonly rebased: ReadonlyMap<number, string> | undefined;
  readonly replaced: ReadonlyMap<number, Overwrite> | undefined;
  /** The floor of a restore being caught up with, if any. */
  readonly floor: Record<string, number> | null;
  /** Filled with the ids of server versions rows conflicted with that were served before the restore. */
  readonly servedBefore: Set<string> | undefined;
  /** Places reserved on the key-wait list by this attempt. */
  readonly held: { n: number };
  readonly refuse: (i: number, code: string, message: string) => void;
  /** `local` counts as pending until RxDB stored `stored` over it (pending.ts `resolve`). */
  readonly untilStored: (local: WithDeleted<PlainRecord>, stored: WithDeleted<PlainRecord>) => void;
}

export interface MasterOutcome {
  /** Server versions handed back to RxDB as conflicts (decoded, not rebased). */
  conflicts: WithDeleted<PlainRecord>[];
  /** Rows sent again on top of the server's version, by its tag. */
  rebase: Map<number, string>;
  /** Rows sent over a refused server version (its tag), with the versions sent in their place. */
  over: Map<number, string>;
  overwrites: Map<number, Overwrite>;
  /** Rows that wait on the key-wait list for a server version to open. */
  parkAfter: Array<{ record: WithDeleted<PlainRecord>; base: WithDeleted<PlainRecord> | undefined }>;
  /** A row met a server version that cannot be verified yet and found no place on the list. */
  unopened: boolean;
}

export const createPushMasters = (core: EngineCore) => {
  const { deps } = core;
  const conflictWait = deps.conflictWaitMs ?? CONFLICT_WAIT_MS;
  /** This device, writing in its own name what it sends over a refused server version. */
  const writer: MergingDevice = { accountId: deps.accountId, deviceId: deps.device.deviceId };
  /**
   * versionKey of a server version a pushed local change met that could not be verified yet → when this
   * session first met it, on the clock of time connected (`connectedTime`), in memory: a restart waits
   * again.
   */
  const unopenedSince = createRecentMap<string, number>(MAX_UNOPENED);

  /** Whether RxDB's conflict handler resolves this conflict to the server's version itself. */
  const resolvesToMaster = async (
    master: WithDeleted<PlainRecord>,
    row: { newDocumentState: WithDeleted<PlainRecord>; assumedMasterState?: WithDeleted<PlainRecord> },
  ): Promise<boolean> => {
    const handler = deps.collection.conflictHandler;
    const input = {
      realMasterState: master,
      newDocumentState: row.newDocumentState,
      ...(row.assumedMasterState ? { assumedMasterState: row.assumedMasterState } : {}),
    };
    const resolved = await handler.resolve(input, 'hale-pending-check');
    return handler.isEqual(resolved, master, 'hale-pending-check');
  };

  /**
   * Whether a server version a push conflicted with was served to this device before the restore being
   * caught up with: the server kept it from a backup of the store of the incarnation this device recorded
   * (`keptFrom`; the floor holds that store's positions) and it sits at or below the floor. Its seq alone
   * says nothing: a store restored onto an empty disk gives versions stored since the restore positions it
   * served before. Without `keptFrom` (a backup of another incarnation) none counts.
   */
  const servedBefore = (
    master: ServedDoc,
    keptFrom: string | undefined,
    floor: Readonly<Record<string, number>>,
  ): boolean =>
    keptFrom !== undefined && keptFrom === core.reset.recorded() && master.seq <= (floor[master.stream] ?? 0);

  /**
   * The issue of a local change waiting for server version `master` to pass `reason` (`unopenedWait`).
   * One code whatever the reason, which may change while it waits (NO_KEY, then AUTHOR_LOOKUP_FAILED once
   * the key came): the end of the wait clears it by record (`clearIssues`).
   */
  const waitIssue = (master: ServedDoc, reason: string): Omit<SyncIssue, 'at'> => ({
    code: CONFLICT_WAIT,
    message: `A newer server version of ${master.stream} record cannot be verified yet (${reason}); the local change waits for it`,
    stream: master.stream,
    id: master.id,
  });

  /**
   * Whether this device sends its local change over `master`, a server version it refused BAD_TRANSITION
   * against `assumed` (RxDB's assumed master state of the change) as the server's side of a conflict:
   * only where that refusal is sure to hold for the version's writer, so no honest version is replaced.
   * - The patient's device only, over a version another account signed (a grantee): the patient's
   *   record, and the patient's own versions are never overwritten (another of its devices that re-sent
   *   a version after a restore names itself as writer of content another device wrote).
   * - One write after `assumed`, judged with every rule: `assumed` must be a state the server held (not
   *   a version it refused, which RxDB assumes once it went unsent), and the server takes a write only
   *   against its current version with a higher number, so a version numbered one past it was written on
   *   it. Further on (versions in between not received, or numbers skipped) the refusal may come from a
   *   merge and a settlement missed here (received-transition.ts, known limits): not overwritten. Nor is a
   *   merge, judged by its sides.
   * - Not while a restore of the server's store is caught up with: versions written since the restore
   *   may sit on a lost version under the same number as the one assumed.
   * The judgement does not depend on consent or on what this device knows of devices (those refusals
   * are BAD_AUTHOR, not BAD_TRANSITION): only on the two states and, for a deletion of a NoteVersion,
   * on its note and signatures as held.
   */
  const forgedOver = (master: PlainRecord, assumed: PlainRecord | undefined): boolean => {
    if (assumed === undefined || core.reset.running()) return false;
    const stream = parseStreamId(master.stream);
    return (
      stream.ok &&
      stream.value.patientId === deps.accountId &&
      master.by !== deps.accountId &&
      !master.conflict &&
      assumed.stream === master.stream &&
      master.rv === assumed.rv + 1 &&
      !core.unsent.isDiverged(assumed.stream, assumed.id) &&
      !core.unsent.list().some((u) => core.unsent.keptAs(u, assumed))
    );
  };

  /** Opens and judges `masters` (each answering row `masterRows[k]`), and says what becomes of each row. */
  const judgeMasters = async (
    a: AttemptOptions,
    masters: readonly ServedDoc[],
    masterRows: readonly number[],
    keptFroms: ReadonlyArray<string | undefined>,
    sentRevs: readonly string[],
  ): Promise<MasterOutcome> => {
    const { rows, asCreation, rebased, replaced, floor, held, refuse, untilStored } = a;
    const options = a;
    const conflicts: WithDeleted<PlainRecord>[] = [];
    /** A row met a server version that cannot be verified yet, and found no place on the key-wait list. */
    let unopened = false;
    // A server version that may not follow the state the local change was made on (RxDB's assumed
    // master state, the last one received) is not merged in: set aside BAD_TRANSITION like one that
    // does not verify. The local change is sent over it when that refusal holds for the version's
    // writer (`forgedOver`), else kept unsent. A creation sent again has no such state; one not newer
    // than it is no transition from it (an ancestor kept from before a restore, see below). A version
    // already set aside BAD_TRANSITION is set aside again whatever the assumed state: after a local
    // change it refused went unsent, RxDB assumes that change, which may carry the same number.
    const overwrites = new Map<number, Overwrite>();
    const opened = await core.receive.decode(masters);
    const assumedOf = (k: number) =>
      asCreation || options.repush ? undefined : rows[masterRows[k]!]!.assumedMasterState;
    const contextOf = await core.receive.noteVersionContexts(
      opened.flatMap((decoded, k) => {
        const assumed = assumedOf(k);
        return decoded.ok && assumed !== undefined ? [[assumed, decoded.record] as const] : [];
      }),
    );
    const decodedMasters: Judged[] = opened.map((decoded, k): Judged => {
      if (!decoded.ok) return decoded;
      const row = rows[masterRows[k]!]!;
      const before = core.quarantine.refusedTransition(masters[k]!.stream, masters[k]!.id, masters[k]!.rev);
      const assumed = assumedOf(k);
      const message =
        assumed === undefined || decoded.record.rv <= assumed.rv
          ? null
          : receivedTransitionRefusal(assumed, decoded.record, contextOf(assumed));
      const why = before?.message ?? message;
      if (why === null) return decoded;
      // One level only: a version sent over a refused one that meets another is not sent again.
      // RxDB's own rows only: it stores the version the server took as a conflict's answer; another
      // caller (storeMerges) would read it as not taken.
      if (options.rxdb && message !== null && !rebased && !replaced && forgedOver(decoded.record, assumed)) {
        overwrites.set(masterRows[k]!, {
          version: overwriteRefused(decoded.record, row.newDocumentState, writer),
          master: masters[k]!,
          by: decoded.record.by,
        });
      }
      return { ok: false, reason: 'BAD_TRANSITION', message: why, record: decoded.record };
    });
    // A server version that is the assumed master state itself is no conflict: only its tag was not the
    // one computed here (see `assumedTag`). Sent again against the server's tag, once.
    // After a restore of the server's store, a server version served before the restore (`servedBefore`)
    // with a lower revision number than the version this row builds on is an older version of that very
    // record (the store took versions in increasing numbers): the newer one is sent on top of it, once. A
    // version stored after the restore is another device's change, whatever its seq: a conflict as any other.
    // A version this device sent and heard no answer for (`followsUnanswered`), numbered below the row, is
    // what the row was made on: within a session RxDB would have sent it again first (answered as stored)
    // and then the row on top of it; after a restart the row is sent on top of it here, once.
    const rebase = new Map<number, string>();
    for (const [k, decoded] of decodedMasters.entries()) {
      const row = rows[masterRows[k]!]!;
      const assumed = row.assumedMasterState;
      const master = masters[k]!;
      const seen = floor !== null && servedBefore(master, keptFroms[k], floor);
      if (seen) options.servedBefore?.add(master.id);
      const base = assumed ?? (options.repush ? row.newDocumentState : undefined);
      const follows =
        decoded.ok &&
        !asCreation &&
        !rebased &&
        ((assumed !== undefined && sameVersion(decoded.record, assumed)) ||
          (seen && base !== undefined && decoded.record.rv < base.rv) ||
          core.sent.followsUnanswered(master, decoded.record, row.newDocumentState));
      if (follows) rebase.set(masterRows[k]!, master.rev);
      // Not a version this row follows: another's (or one that cannot be told ours) holds over the
      // versions sent before this row.
      else core.sent.answeredRev(master.id, sentRevs[k]!, true);
    }
    const rebasedIds = new Set([...rebase.keys()].map((i) => rows[i]!.newDocumentState.id));
    conflicts.push(
      ...(await core.quarantine.sortOutcomes(masters, decodedMasters)).filter((r) => !rebasedIds.has(r.id)),
    );
    for (const [k, decoded] of decodedMasters.entries()) {
      const master = masters[k]!;
      if (decoded.ok) core.sent.metInConflict(master.stream, master.id, master.seq);
    }
    /** Per row sent over a refused server version, that version's tag (what the server holds). */
    const over = new Map<number, string>();
    /** Rows waiting for a server version to open, on the key-wait list (`options.park`). */
    const parkAfter: Array<{
      record: WithDeleted<PlainRecord>;
      base: WithDeleted<PlainRecord> | undefined;
    }> = [];
    /**
     * Whether a local change meeting server version `master` (decoded as `decoded`) waits for it to open
     * (`wait`), waited long enough (`over`: CONFLICT_WAIT_MS of time connected passed since it was first
     * met, and it failed again since, after the keyring fetched that stream's envelopes or the author's
     * devices were asked for once more), or is no such wait (`no`). Ends the wait of a version that opened.
     */
    const unopenedWait = (master: ServedDoc, decoded: Judged): 'wait' | 'over' | 'no' => {
      if (!options.rxdb && !options.park) return 'no';
      const key = versionKey(master.stream, master.id, master.rev);
      const since = unopenedSince.get(key);
      if (decoded.ok || !RETRYABLE_QUARANTINE.has(decoded.reason)) {
        if (since !== undefined) {
          unopenedSince.delete(key);
          core.issues.clearIssues({ code: CONFLICT_WAIT, stream: master.stream, id: master.id });
        }
        return 'no';
      }
      const now = core.link.connectedTime();
      if (since === undefined) {
        unopenedSince.set(key, now);
        return 'wait';
      }
      if (now - since < conflictWait) return 'wait';
      unopenedSince.delete(key);
      core.issues.clearIssues({ code: CONFLICT_WAIT, stream: master.stream, id: master.id });
      return 'over';
    };
    for (const [k, decoded] of decodedMasters.entries()) {
      const master = masters[k]!;
      const row = rows[masterRows[k]!]!;
      const waited = unopenedWait(master, decoded);
      if (!decoded.ok && overwrites.has(masterRows[k]!)) {
        over.set(masterRows[k]!, master.rev);
      } else if (!decoded.ok && waited === 'wait') {
        // Not unreadable for good (NO_KEY: its epoch's key may still come, by an envelope or a grant;
        // AUTHOR_LOOKUP_FAILED): the local change stays pending and waits on the key-wait list (RxDB
        // takes it as sent, so it holds up nothing), sent again from there until that version opens and
        // is merged like any conflict (set aside meanwhile, and fetched again), or until the wait is
        // over (CONFLICT_WAIT_MS; below). Beyond the list's bound RxDB sends the batch again instead.
        core.issues.report(waitIssue(master, decoded.reason));
        const id = row.newDocumentState.id;
        if (
          options.park &&
          rebased === undefined &&
          replaced === undefined &&
          core.keyWaits.roomForWait(id, held)
        ) {
          parkAfter.push({
            record: row.newDocumentState,
            base: asCreation || options.repush ? undefined : row.assumedMasterState,
          });
        } else unopened = true;
      } else if (!decoded.ok && waited === 'over') {
        // The wait is over: the local change goes to unsent, as one meeting a version that cannot be
        // verified; that version stays set aside and is fetched again.
        refuse(
          masterRows[k]!,
          'CONFLICT_UNREADABLE',
          decoded.reason === 'NO_KEY'
            ? `A newer server version of ${master.stream} record cannot be opened: its key did not arrive within ${Math.round(conflictWait / 1000)} s; the local change was not sent`
            : decoded.reason === 'NO_WRITE_GRANT'
              ? `A newer server version of ${master.stream} record was written by an account this device knows no write grant for, and none was learnt within ${Math.round(conflictWait / 1000)} s; the local change was not sent`
              : `A newer server version of ${master.stream} record cannot be verified: its author's devices could not be looked up within ${Math.round(conflictWait / 1000)} s; the local change was not sent`,
        );
      } else if (!decoded.ok) {
        refuse(
          masterRows[k]!,
          'CONFLICT_UNREADABLE',
          decoded.reason === 'BAD_TRANSITION'
            ? `A newer server version of ${master.stream} record breaks the record's rules; the local change was not sent`
            : `A newer server version of ${master.stream} record cannot be verified; the local change was not sent`,
        );
      } else if (!rebase.has(masterRows[k]!) && (await resolvesToMaster(decoded.record, row))) {
        // The local copy becomes the server's version and RxDB sends nothing more (e.g. the same record
        // deleted on two devices, or settled the same way on two): no reply will settle the pending
        // write.
        core.pending.settle(row.newDocumentState.id, row.newDocumentState.rv);
        untilStored(row.newDocumentState, decoded.record);
      }
    }
    return { conflicts, rebase, over, overwrites, parkAfter, unopened };
  };
  return { judgeMasters, forgedOver };
};
export type PushMasters = ReturnType<typeof createPushMasters>;
