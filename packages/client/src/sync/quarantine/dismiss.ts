/**
 * Dismissals: quarantine entries a person has seen and taken off the list (`dismissQuarantined`).
 *
 * Invariants:
 * - All named or none: a call naming an entry not listed is refused NOT_QUARANTINED, changing and
 *   recording nothing.
 * - Recorded in the audit log before it is stored (`auditDismissal`: one `quarantine-dismiss` entry per
 *   patient, ids, revisions, reasons and verified signers, never content); a dismissal that cannot be
 *   recorded is not stored (the call rejects with that error).
 * - Once recorded, the write is tried again (DISMISSAL_WRITE_RETRIES_MS) before the call rejects; what was
 *   recorded and not stored is remembered (RECORDED_UNSTORED_KEY, read at start) so it is not recorded
 *   again, and stored with the next dismissals written or at the next start.
 * - Each dismissed version (stream, id, revision) is remembered with its reason (at most `maxDismissed`,
 *   oldest forgotten first): it is not fetched again, and served again it is judged as before and, refused
 *   again for that reason, neither listed nor reported. Dismissing never makes a version pass.
 * - Dismissals run one at a time (`dismissing`).
 */
import { SYNC_STATE } from '../stored-state';
import { SyncError } from '../connection';
import { dismissalAuditEntries } from '../quarantine-dismiss-audit';
import { versionKey, type EngineCore } from '../engine-core';
import type { Dismissal, Listed, QuarantineKey } from '../types';
import type { Dismissals } from '../engine-parts';

/**
 * Dismissed quarantine entries remembered (a version key each, no content): as many as the list holds, so
 * dismissing a full list forgets none. Beyond it the oldest dismissals are forgotten: such a version, if
 * served again and refused again, is listed and reported again.
 */
const MAX_DISMISSED = 10_000;
/**
 * Waits before writing the dismissals again after a failed write, once the dismissal was recorded in the
 * audit log (a store that refuses one write, e.g. a transaction aborted, usually takes the next).
 */
const DISMISSAL_WRITE_RETRIES_MS = [50, 500];
/**
 * Device meta key of the dismissals recorded in the audit log whose write failed (`recordedUnstored`), in
 * the shape of the dismissals' own key: written when that write fails, emptied once one succeeds, read at
 * start, so a restart in between does not record them again.
 */
const RECORDED_UNSTORED_KEY = 'quarantine-dismiss-recorded';

export const createDismissals = (core: EngineCore): Dismissals => {
  const { deps } = core;
  const iso = core.iso;
  const maxDismissed = deps.maxDismissed ?? MAX_DISMISSED;
  /**
   * versionKey → the quarantine entries the person dismissed, oldest first (persisted, at most
   * maxDismissed): such a version is not fetched again, and served again it is judged as it was (one
   * refused BAD_TRANSITION is refused again, see `refusedTransition`) and, refused again, neither listed
   * nor reported QUARANTINED. Dismissing never makes a version pass.
   */
  let dismissed = new Map<string, Dismissal>();
  /** Dismissals run one at a time: each checks and writes the lists as the one before left them. */
  let dismissing: Promise<void> = Promise.resolve();
  /**
   * versionKey → dismissals recorded in the audit log whose write then failed (kept under
   * RECORDED_UNSTORED_KEY too, read at start): not recorded again when dismissed again for the same
   * reason, and stored with the next dismissals written.
   */
  const recordedUnstored = new Map<string, Dismissal>();
  /** Whether RECORDED_UNSTORED_KEY may hold entries (it is emptied after the next dismissals written). */
  let recordedKept = false;
  /** The newest `maxDismissed` of `all` (insertion order: the oldest go). */
  const newest = (all: ReadonlyMap<string, Dismissal>): Map<string, Dismissal> =>
    new Map([...all].slice(Math.max(0, all.size - maxDismissed)));
  /** `base` with the dismissals recorded and not stored put last, newest `maxDismissed` kept. */
  const withRecorded = (base: ReadonlyMap<string, Dismissal>): Map<string, Dismissal> => {
    const next = new Map(base);
    for (const [key, d] of recordedUnstored) {
      next.delete(key);
      next.set(key, d);
    }
    return newest(next);
  };
  /**
   * Writes `recordedUnstored` under RECORDED_UNSTORED_KEY; answers whether it was written. A store that
   * refused the dismissals may refuse this too: they are then remembered in memory only.
   */
  const keepRecorded = async (): Promise<boolean> => {
    try {
      await deps.meta.set(RECORDED_UNSTORED_KEY, [...recordedUnstored.values()]);
      recordedKept = recordedUnstored.size > 0;
      return true;
    } catch {
      return false;
    }
  };
  /**
   * Dismisses listed entries: recorded in the audit log first (`auditDismissal`), then the dismissals are
   * written, then the list without them; after a crash in between, start drops from the list what was
   * dismissed. Nothing changes and nothing is recorded when one is not listed; nothing changes when the
   * dismissal cannot be recorded or the dismissals cannot be written (after retries); a version recorded
   * is not recorded again (`recordedUnstored`).
   */
  const dismiss = (entries: readonly QuarantineKey[]): Promise<void> => {
    const run = dismissing.then(async () => {
      const listed = new Map(core.quarantine.list().map((q) => [versionKey(q.stream, q.id, q.rev), q]));
      // Recorded before and not stored: stored now with this call's (the log already says so).
      const next = withRecorded(dismissed);
      /** This call's entries, each once (named twice, it is one dismissal). */
      const named = new Map<string, Listed>();
      /** Those of them not recorded yet for their reason. */
      const toRecord: Listed[] = [];
      const at = iso();
      for (const e of entries) {
        const key = versionKey(e.stream, e.id, e.rev);
        const q = listed.get(key);
        if (q === undefined) {
          throw new SyncError(
            'NOT_QUARANTINED',
            `no quarantine entry for revision ${e.rev} of ${e.stream} record ${e.id}; nothing was dismissed`,
            false,
          );
        }
        if (named.has(key)) continue;
        named.set(key, q);
        const recorded = recordedUnstored.get(key);
        if (recorded?.reason === q.reason) continue;
        toRecord.push(q);
        next.delete(key);
        next.set(key, { stream: q.stream, id: q.id, rev: q.rev, reason: q.reason, at });
      }
      if (entries.length === 0) return;
      // Before anything is written: a dismissal that cannot be recorded does not happen (see the header).
      if (deps.auditDismissal !== undefined && toRecord.length > 0) {
        const versions = [];
        for (const q of toRecord) {
          const author = await core.kept.verifiedAuthorOf(q);
          versions.push({
            stream: q.stream,
            id: q.id,
            rev: q.rev,
            reason: q.reason,
            ...(author === undefined ? {} : { author }),
          });
        }
        await deps.auditDismissal(dismissalAuditEntries(versions, deps.accountId));
      }
      for (const q of toRecord) {
        const key = versionKey(q.stream, q.id, q.rev);
        recordedUnstored.set(key, next.get(key)!);
      }
      const kept = newest(next);
      // Recorded: the write is tried again before the call gives up (see the header). What the log holds
      // and the store does not is kept at the first failure, so neither a restart during the retries nor
      // one after the call gave up records it again.
      let keptRecorded = false;
      for (let attempt = 0; ; attempt++) {
        try {
          await deps.meta.set('quarantine-dismissed', [...kept.values()]);
          break;
        } catch (error) {
          if (!keptRecorded) keptRecorded = await keepRecorded();
          const wait = DISMISSAL_WRITE_RETRIES_MS[attempt];
          if (wait === undefined) throw error;
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
      recordedUnstored.clear();
      // Stored now: the key is emptied. Left over (that write failed too), it names only dismissals stored,
      // which start skips.
      if (recordedKept) await keepRecorded();
      dismissed = kept;
      await core.quarantine.saveQuarantine(core.quarantine.list());
      // What it dismissed is not fetched again; with nothing else due, the retry's timer stops too.
      if (!core.quarantine.anyDue()) core.retry.armRetry();
    });
    dismissing = run.catch(() => undefined);
    return run;
  };

  return {
    dismiss,
    none: (): boolean => dismissed.size === 0,
    has: (stream: string, id: string, rev: string): boolean => dismissed.has(versionKey(stream, id, rev)),
    /** The reason a version was dismissed for, if it was. */
    reasonOf: (stream: string, id: string, rev: string) => dismissed.get(versionKey(stream, id, rev))?.reason,
    /**
     * Reads the dismissals at start, and stores those recorded in the audit log but not stored (as the next
     * dismissal would): the list then agrees with the log without waiting for the person to dismiss
     * something else. A store that refuses, or a stored list this build cannot read, leaves them for that.
     */
    async load(): Promise<void> {
      for (const d of (await deps.meta.get('quarantine-dismissed', SYNC_STATE.quarantineDismissed)) ?? []) {
        dismissed.set(versionKey(d.stream, d.id, d.rev), d);
      }
      for (const d of (await deps.meta.get(RECORDED_UNSTORED_KEY, SYNC_STATE.quarantineDismissed)) ?? []) {
        recordedKept = true;
        const key = versionKey(d.stream, d.id, d.rev);
        if (dismissed.get(key)?.reason !== d.reason) recordedUnstored.set(key, d);
      }
      if (recordedUnstored.size > 0) {
        const stored = await deps.meta
          .update('quarantine-dismissed', SYNC_STATE.quarantineDismissed, (current) => [
            ...withRecorded(
              new Map((current ?? []).map((d) => [versionKey(d.stream, d.id, d.rev), d])),
            ).values(),
          ])
          .catch(() => null);
        if (stored !== null) {
          dismissed = new Map(stored.map((d) => [versionKey(d.stream, d.id, d.rev), d]));
          recordedUnstored.clear();
          await keepRecorded();
        }
      }
    },
  };
};
