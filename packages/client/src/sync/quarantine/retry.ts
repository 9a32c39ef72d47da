/**
 * Fetching set-aside versions again: those quarantined for a reason that can pass (NO_KEY,
 * AUTHOR_LOOKUP_FAILED, NO_WRITE_GRANT), those refused under other rules than this session's, and the gaps
 * left by entries dropped beyond the cap.
 *
 * Invariants:
 * - Runs only while `online` (every stream's position is then known, so nothing handed to RxDB moves its
 *   stored checkpoint back): after a reconnect or an access change once caught up, when the grants change
 *   (the keyring's `onGuardChange`), and with backoff (QUARANTINE_RETRY, util/backoff.ts) while any remain.
 * - The protocol pulls by per-stream position only: each stream is re-pulled from just before its first
 *   such entry (or gap) to its last, and only those records are decoded.
 * - What now verifies is applied in order with live frames and purges (`core.inOrder`): a purged stream's
 *   records never come back. An entry whose record is no longer served there is dropped.
 * - A gap fetched to its end shrinks to what failed again and may still pass, or closes.
 */
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_DOCS,
  type PulledFrame,
  type ServedDoc,
  type StreamAccess,
} from '@hale/protocol';
import { RETRYABLE_QUARANTINE, type QuarantineReason } from '../stored-state';
import type { PlainRecord } from '../../records/plain-record';
import { messageOf, recordKey, revNumber, versionKey, type EngineCore } from '../engine-core';
import { STREAMS_PER_REQUEST } from '../access';
import { createBackoffTimer } from '../../core/backoff';
import type { QuarantinedItem, Waits } from '../types';
import type { QuarantineRetry } from '../engine-parts';

/** Backoff of the retry of records quarantined for a reason that can pass. */
const QUARANTINE_RETRY = { baseMs: 30_000, maxMs: 30 * 60_000 };

export const createQuarantineRetry = (core: EngineCore): QuarantineRetry => {
  const { deps } = core;
  const { connection, collection } = deps;
  const report = core.issues.report;
  const online = (): boolean => core.issues.state$.value.status === 'online';
  let retryDue = false;
  let retryRun: Promise<void> | null = null;
  const timer = createBackoffTimer(
    () => deps.quarantineRetry ?? QUARANTINE_RETRY,
    () => requestRetry(),
  );
  const armRetry = (reset = false): void => {
    if (core.s.stopped || !core.quarantine.anyDue()) {
      timer.reset();
      return;
    }
    timer.arm(reset);
  };
  const requestRetry = (): void => {
    retryDue = true;
    if (online()) void runRetry();
  };
  const runRetry = (): Promise<void> => {
    if (retryRun) return retryRun;
    if (core.s.stopped) return Promise.resolve();
    retryDue = false;
    retryRun = retryQuarantined()
      .then(() => core.issues.retryPassed('QUARANTINE_RETRY_FAILED'))
      .catch((error: unknown) =>
        report({
          code: 'QUARANTINE_RETRY_FAILED',
          message: `Records set aside could not be fetched again; will retry: ${messageOf(error)}`,
        }),
      )
      .finally(() => {
        retryRun = null;
        armRetry();
        if (retryDue && online()) void runRetry();
      });
    return retryRun;
  };

  /**
   * Decodes documents fetched again and applies what now verifies, in order with live frames. What fails
   * is set aside, except documents of a gap (`fromGap`) that fail for a reason that may still pass: they
   * are answered instead, to stay in the gap (set aside they would only push other entries out again).
   */
  const applyRetried = async (
    batch: readonly ServedDoc[],
    fromGap: ReadonlySet<ServedDoc>,
  ): Promise<Array<{ doc: ServedDoc; reason: QuarantineReason }>> => {
    if (batch.length === 0) return [];
    const decoded = core.receive.decode(batch);
    decoded.catch(() => undefined);
    const stillOut: Array<{ doc: ServedDoc; reason: QuarantineReason }> = [];
    // In order with live frames and purges: a purged stream's records must not come back.
    const run = core.inOrder(async () => {
      const opened: PlainRecord[] = [];
      const failed: Array<{ doc: ServedDoc; reason: QuarantineReason; message: string }> = [];
      for (const [n, r] of (await decoded).entries()) {
        const doc = batch[n]!;
        if (r.ok) opened.push(r.record);
        else if (fromGap.has(doc) && core.quarantine.renewable(r.reason))
          stillOut.push({ doc, reason: r.reason });
        else failed.push({ doc, reason: r.reason, message: r.message });
      }
      await core.quarantine.setAside(failed);
      // Fetched again from old positions: a stale one is only dropped, never reported as a replay.
      const documents = (
        await core.receive.dropStale(opened, new Map(), core.receive.servedByKey(batch))
      ).filter((r) => core.access.readable(r.stream));
      if (documents.length > 0) core.live.hand(documents);
    });
    await run;
    return stillOut;
  };

  /**
   * Of documents served in a gap, those this device neither stored (that version or a newer one, as the
   * server's) nor keeps aside for that version with nothing that may have changed.
   */
  const notHeld = async (docs: readonly ServedDoc[]): Promise<ServedDoc[]> => {
    if (docs.length === 0) return [];
    const stored = await collection.storageInstance.findDocumentsById(
      docs.map((d) => d.id),
      true,
    );
    const local = new Map(stored.map((d) => [recordKey(d.stream, d.id), d]));
    const aside = new Map(core.quarantine.list().map((q) => [versionKey(q.stream, q.id, q.rev), q]));
    return docs.filter((d) => {
      const key = recordKey(d.stream, d.id);
      const l = local.get(key);
      if (l && l.rv >= revNumber(d.rev) && !core.pending.unsettled(d.stream, d.id)) return false;
      const version = versionKey(d.stream, d.id, d.rev);
      // Dismissed: not fetched again (it would keep the gap open for ever if it may still pass).
      if (core.dismissals.has(d.stream, d.id, d.rev)) return false;
      const q = aside.get(version);
      return q === undefined || core.quarantine.due(q);
    });
  };

  /**
   * Fetches again the records quarantined for a reason that can pass, or refused under other rules than
   * this session's (record rules for content, author rules for an author), and the gaps left by entries
   * dropped beyond the cap, and applies what now verifies. The protocol pulls by per-stream position
   * only, so each stream is re-pulled from just before its first such entry (or gap) to its last; only
   * those records are decoded, the rest (held here already) is skipped. An entry whose record is not
   * served there any more (a newer revision was served at a later seq, or it was removed) is dropped: its
   * revision is no longer the server's. A gap fetched to its end shrinks to what failed again and may
   * still pass, or closes.
   */
  const retryQuarantined = async (): Promise<void> => {
    const { due, gapDue, gaps } = core.quarantine;
    const readable = core.access.readable;
    const entries = core.quarantine.list().filter((q) => due(q) && readable(q.stream));
    const open = [...gaps.values()].filter((g) => gapDue(g) && readable(g.stream));
    if (entries.length === 0 && open.length === 0) return;
    // Stored here already (e.g. the app stopped before the entry was settled): nothing to fetch. Not when
    // the local copy is not the server's (a change not acknowledged, or one the server refused for this
    // very version, CONFLICT_UNREADABLE): its revision number then says nothing of the served version.
    const held = await collection.findByIds(entries.map((q) => q.id)).exec();
    const wanted = new Map<string, QuarantinedItem>();
    for (const q of entries) {
      const local = held.get(q.id);
      if (
        local &&
        local.stream === q.stream &&
        local.rv >= revNumber(q.rev) &&
        !core.pending.unsettled(q.stream, q.id)
      )
        core.quarantine.settle(q.stream, q.id, local.rv);
      else wanted.set(recordKey(q.stream, q.id), q);
    }
    const until = new Map<string, number>();
    const pos = new Map<string, number>();
    const cover = (stream: string, from: number, to: number): void => {
      until.set(stream, Math.max(until.get(stream) ?? 0, to));
      pos.set(stream, Math.min(pos.get(stream) ?? from - 1, from - 1));
    };
    for (const q of wanted.values()) cover(q.stream, q.seq, q.seq);
    for (const g of open) cover(g.stream, g.from, g.to);
    const gapOf = new Map(open.map((g) => [g.stream, g]));
    const servedKeys = new Set<string>();
    const covered = new Set<string>();
    /** Per stream, what of its gap failed again: the range, and the rules all of it waits for (or null). */
    const refailed = new Map<string, { from: number; to: number; waits: Waits | null }>();
    while (pos.size > 0 && !core.s.stopped) {
      const asked = [...pos].slice(0, STREAMS_PER_REQUEST);
      const reply = await connection.request<PulledFrame>({
        t: 'pull',
        streams: asked.map(([stream, since]) => ({ stream: stream as StreamAccess['stream'], since })),
        limit: MAX_BATCH_DOCS,
        maxBytes: MAX_BATCH_BYTES,
      });
      const batch: ServedDoc[] = [];
      const inGaps: ServedDoc[] = [];
      for (const d of reply.docs) {
        if (d.seq > (until.get(d.stream) ?? 0)) continue;
        const key = recordKey(d.stream, d.id);
        const g = gapOf.get(d.stream);
        if (wanted.has(key)) {
          batch.push(d);
          servedKeys.add(key);
        } else if (g && d.seq >= g.from && d.seq <= g.to) inGaps.push(d);
      }
      const fromGap = new Set(await notHeld(inGaps));
      batch.push(...fromGap);
      for (const { doc, reason } of await applyRetried(batch, fromGap)) {
        const was = refailed.get(doc.stream);
        refailed.set(doc.stream, {
          from: Math.min(was?.from ?? doc.seq, doc.seq),
          to: Math.max(was?.to ?? doc.seq, doc.seq),
          waits: core.quarantine.joinWaits(
            was === undefined ? {} : was.waits,
            reason,
            RETRYABLE_QUARANTINE.has(reason),
          ),
        });
      }
      let progressed = false;
      const answered = new Set<string>();
      for (const c of reply.streams) {
        const since = pos.get(c.stream);
        if (since === undefined) continue;
        answered.add(c.stream);
        if (c.done || c.checkpoint >= (until.get(c.stream) ?? 0)) {
          pos.delete(c.stream);
          covered.add(c.stream);
          progressed = true;
        } else if (c.checkpoint > since) {
          pos.set(c.stream, c.checkpoint);
          progressed = true;
        }
      }
      // Denied or unanswered streams are the normal pull's business; the rest waits for the next retry,
      // as do all asked streams when none of them moved (the server has nothing more of them to give).
      for (const [stream] of asked) if (!answered.has(stream) || !progressed) pos.delete(stream);
    }
    const gone = new Map([...wanted].filter(([key, q]) => covered.has(q.stream) && !servedKeys.has(key)));
    if (gone.size > 0) {
      await core.quarantine.saveQuarantine(
        core.quarantine.list().filter((q) => gone.get(recordKey(q.stream, q.id))?.rev !== q.rev),
      );
    }
    // A gap widened meanwhile (entries dropped past the cap again) is another object and stays.
    const done = open.filter((g) => covered.has(g.stream) && gaps.get(g.stream) === g);
    for (const g of done) {
      const left = refailed.get(g.stream);
      if (!left) gaps.delete(g.stream);
      else {
        const { from, to, waits } = left;
        gaps.set(g.stream, { ...waits, stream: g.stream, from, to });
      }
    }
    if (done.length > 0) await core.quarantine.saveGaps();
  };
  return {
    armRetry,
    requestRetry,
    runRetry,
    /** A retry is wanted once online (a reconnect, an access change). */
    due(): void {
      retryDue = true;
    },
    isDue: (): boolean => retryDue,
    stopTimer: (): void => timer.cancel(),
    /**
     * The grants changed: a record set aside NO_KEY under an own stream's epoch minted by a device revoked
     * since may open now, and one set aside NO_WRITE_GRANT may pass. Answers the unsubscribe.
     */
    watchGuard: (): (() => void) =>
      deps.keyring.onGuardChange(() => {
        if (core.s.stopped) return;
        requestRetry();
        core.keyWaits.wakeKeyWaits(true);
      }),
  };
};
