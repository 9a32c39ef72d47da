/**
 * Record writes, coalesced: one `records-changed` entry lists up to COALESCE changes of one patient, made
 * 200 ms after the first note (at once when full). Changes noted and in no entry yet are mirrored in device
 * meta (NOTED), unsigned, so that neither a close nor a crash loses one, and none is appended twice.
 *
 * | when | what |
 * | ---- | ---- |
 * | a note | joins its patient's newest batch; resolves once a NOTED save begun after it completed (the records API resolves the write only then) |
 * | 200 ms later, or a full batch, or a reconnect | every batch appended as the entry its id names, then NOTED saved |
 * | `close` | batches appended into the outbox; if that fails (locked: nothing is signed) they stay in NOTED |
 * | a start (`resumeNoted`) | NOTED's batches appended, but those whose entry this device queued (in the outbox or OWN) |
 *
 * - A batch is named by the id its entry will have, chosen at its first note, and only grows until an
 *   append takes it: NOTED never holds under a name more than that entry lists. The outbox row and NOTED
 *   are written one at a time; a row carries its batch's id, so a start tells a queued batch by its id.
 * - An id never names two entries: a batch whose append failed, and one a start takes from NOTED, are named
 *   anew (an entry acknowledged whose OWN write failed is found nowhere, and its id used again would be
 *   answered stored by the server). Batches named anew are saved in NOTED before any batch is appended.
 * - Cost: one NOTED write per record write awaited alone; writes made together share one (saves coalesce).
 * - Failures: a save a note waited for that fails is reported once until one passes (AUDIT_NOT_KEPT), the
 *   write still resolves and the change stays noted in memory; a failed append keeps its changes noted; a
 *   failed resume is reported (AUDIT_NOTED_PENDING). Crash orders: audit-noted-crash.test.ts.
 */
import { newId } from '@hale/model';
import { AUDIT_STATE } from './stored-state';
import { coalescedSave } from '../core/coalesced-save';
import { append } from './append';
import type { AuditCore } from './context';
import { messageOf } from '../core/message-of';
import type { KeptState } from './kept';
import { flush } from './outbox';
import { COALESCE, NOTED, NotedBatches, OWN, outboxNow, type NotedBatch } from './stored';
import type { RecordChange } from './types';

export interface NotedState {
  /** Batches noted and not taken by an append yet; a patient's newest takes the next note. */
  readonly pending: NotedBatch[];
  /** Batches an append took and has not appended yet: still noted as far as NOTED goes. */
  readonly taken: Set<NotedBatch>;
  timer: ReturnType<typeof setTimeout> | null;
  /** Batches named anew so far, and how many of those the last NOTED saved holds. */
  renamed: number;
  savedRenamed: number;
  /** NOTED's save, folded: a burst of notes costs one or two writes. */
  readonly mirror: ReturnType<typeof coalescedSave>;
  /** Why the mirror could not be saved after the last append that failed (null: it was). */
  mirrorError: Error | null;
  /** Whether the last save a note waited for failed (reported once until one passes). */
  noteNotKept: boolean;
  /** Entry ids of the batches a `resumeNoted` took from NOTED (named anew since). */
  readonly resumed: Set<string>;
}

interface Noted {
  readonly core: AuditCore;
  readonly kept: KeptState;
  readonly noted: NotedState;
}

export const createNotedState = (core: AuditCore): NotedState => {
  const noted: NotedState = {
    pending: [],
    taken: new Set(),
    timer: null,
    renamed: 0,
    savedRenamed: 0,
    mirror: coalescedSave(async () => {
      const names = noted.renamed;
      // What NOTED mirrors: every change noted and in no entry yet, taken ones first.
      const batches = [...noted.taken, ...noted.pending].map((b) => ({ ...b, changes: [...b.changes] }));
      await core.deps.meta.set(NOTED, { batches });
      noted.savedRenamed = Math.max(noted.savedRenamed, names);
    }),
    mirrorError: null,
    noteNotKept: false,
    resumed: new Set(),
  };
  return noted;
};

/** A batch of `patientId`'s changes, named by the id of an entry not made yet. */
const newBatch = (core: AuditCore, patientId: string, changes: RecordChange[] = []): NotedBatch => ({
  patientId,
  entry: newId(core.deps.now),
  changes,
});

/** Stops the pending append's timer. */
export const stopTimer = (noted: NotedState): void => {
  if (noted.timer) clearTimeout(noted.timer);
  noted.timer = null;
};

/**
 * Appends every noted batch, each as the entry its id names; what is not appended stays noted, and the
 * mirror is saved after (a failure to save it is thrown only when nothing else was). See the header.
 */
export const appendNoted = async (s: Noted): Promise<void> => {
  const { noted } = s;
  if (noted.pending.length === 0) return;
  const batches = noted.pending.splice(0);
  for (const b of batches) noted.taken.add(b);
  let n = 0;
  let tried = false;
  try {
    if (noted.renamed > noted.savedRenamed) await noted.mirror.save();
    for (; n < batches.length; n++) {
      const b = batches[n]!;
      tried = true;
      await append(
        s.core,
        b.patientId,
        { action: 'records-changed', summary: `${b.changes.length} record change(s)`, changes: b.changes },
        b.entry,
      );
      noted.taken.delete(b);
    }
  } catch (error) {
    const failed = batches.slice(n);
    for (const b of failed) noted.taken.delete(b);
    if (tried && failed[0] !== undefined) {
      noted.renamed++;
      failed[0] = newBatch(s.core, failed[0].patientId, failed[0].changes);
    }
    // In front of those noted since.
    noted.pending.unshift(...failed);
    noted.mirrorError = await noted.mirror.save().then(
      () => null,
      (e: unknown) => (e instanceof Error ? e : new Error('the mirror was not saved')),
    );
    throw error;
  }
  await noted.mirror.save();
};

export const flushChanges = async (s: Noted): Promise<void> => {
  s.noted.timer = null;
  await appendNoted(s);
  await flush(s).catch(() => 0);
};

/** Notes a record write (see the header). Never rejects: the record is written already. */
export const noteRecordChange = (s: Noted, patientId: string, change: RecordChange): Promise<void> => {
  const { noted } = s;
  let batch: NotedBatch | undefined;
  for (let i = noted.pending.length - 1; i >= 0 && batch === undefined; i--)
    if (noted.pending[i]!.patientId === patientId) batch = noted.pending[i];
  if (batch === undefined || batch.changes.length >= COALESCE) {
    batch = newBatch(s.core, patientId);
    noted.pending.push(batch);
  }
  batch.changes.push(change);
  if (batch.changes.length >= COALESCE) {
    if (noted.timer) clearTimeout(noted.timer);
    void flushChanges(s).catch(() => undefined);
  } else {
    noted.timer ??= setTimeout(() => void flushChanges(s).catch(() => undefined), 200);
  }
  // A save that starts after this note: NOTED then holds the change, in `taken` when an append took its
  // batch meanwhile, or it left NOTED because its entry's row was queued first.
  return noted.mirror.save().then(
    () => void (noted.noteNotKept = false),
    (error: unknown) => {
      if (noted.noteNotKept) return;
      noted.noteNotKept = true;
      s.core.issue(
        `AUDIT_NOT_KEPT: record changes noted could not be kept in device metadata (a crash before their entry is appended loses them): ${messageOf(
          error,
        )}`,
      );
    },
  );
};

/** At a close: noted changes appended into the outbox, or left in the mirror (see the header). */
export const closeNoted = async (s: Noted): Promise<void> => {
  stopTimer(s.noted);
  try {
    await appendNoted(s);
    return;
  } catch {
    // Kept by the mirror, which appendNoted saved after the failure.
  }
  const { mirrorError, pending } = s.noted;
  if (mirrorError !== null) {
    s.core.issue(
      `AUDIT_NOT_KEPT: ${new Set(pending.map((b) => b.patientId)).size} patient(s)' record changes noted at close could not be kept: ${
        mirrorError.message
      }`,
    );
  }
};

/** Ids of the entries this device queued: in the outbox, or in OWN (written in the same step as the row). */
const madeIds = (core: AuditCore): Promise<Set<string>> =>
  core.serial(async () => {
    const own = (await core.deps.meta.get(OWN, AUDIT_STATE.auditOwn)) ?? [];
    return new Set([...(await outboxNow(core.deps.meta)).map((d) => d.id), ...own.map((o) => o.id)]);
  });

/** At a session's start: NOTED's batches appended (see the header). Never throws. */
export const resumeNoted = async (s: Noted): Promise<void> => {
  const { core, noted } = s;
  try {
    const stored = (await core.deps.meta.get(NOTED, NotedBatches))?.batches ?? [];
    // Those this log holds already (an earlier call took them) are not noted twice.
    const held = new Set([...noted.taken, ...noted.pending].map((b) => b.entry));
    const fresh = stored.filter((b) => !(held.has(b.entry) || noted.resumed.has(b.entry)));
    // Named by an entry this device queued: its changes are in the log already.
    const made = fresh.length > 0 ? await madeIds(core) : new Set<string>();
    const back: NotedBatch[] = [];
    for (const b of fresh) {
      if (made.has(b.entry)) continue;
      noted.resumed.add(b.entry);
      // Named anew (see the header).
      for (let i = 0; i < b.changes.length; i += COALESCE)
        back.push(newBatch(core, b.patientId, b.changes.slice(i, i + COALESCE)));
    }
    if (back.length > 0) noted.renamed++;
    noted.pending.unshift(...back);
    if (noted.pending.length > 0) await appendNoted(s);
    // Only batches already appended: NOTED keeps nothing any entry still needs.
    else if (fresh.length > 0) await noted.mirror.save();
  } catch (error) {
    core.issue(
      `AUDIT_NOTED_PENDING: record changes noted by an earlier session are not in the log yet: ${messageOf(error)}`,
    );
  }
};
