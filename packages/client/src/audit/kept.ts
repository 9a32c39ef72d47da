/**
 * KEPT: this device's acknowledged entries in other patients' logs, sent again after a restore of the
 * server's store. A grantee cannot read a patient's log, so where its chain is served to end cannot be
 * learnt; instead the newest acknowledged entries (MAX_KEPT, MAX_KEPT_CHARS) are kept as pushed.
 *
 * | moment                                                   | what happens                                    |
 * | -------------------------------------------------------- | ----------------------------------------------- |
 * | rows acknowledged                                        | merged into the patient's KEPT with the incarnation; index noted (`keepAcknowledged`) |
 * | first flush on another incarnation, with a row to push   | KEPT rows queued ahead of that row, byte for byte, once per restore (`resendAfterRestore`) |
 * | access to the patient ended (`accessEnded`)              | KEPT and SEEN removed, but KEPT rows still in the outbox; chain position stays |
 * | over MAX_KEPT_PATIENTS patients                          | least recently written removed, never one with rows in the outbox (`indexKept`) |
 *
 * - Only KEPT tells an entry sent again from a new one: such rows are never given up or re-signed
 *   (outbox.ts), since the server may hold them.
 * - Queued before the restore is recorded in KEPT: a crash in between queues them again, each id once.
 * - A flush compares KEPT's incarnation from memory (`incarnations`) once read, so it reads KEPT only when
 *   a restore may have been announced. Failures: AUDIT_KEPT_NOT_KEPT (not sent again after a restore),
 *   AUDIT_KEPT_NOT_REMOVED (tried again later).
 */
import type { PushDoc } from '@hale/protocol';
import { AUDIT_STATE } from './stored-state';
import type { AuditCore } from './context';
import { messageOf } from '../core/message-of';
import { keptKey, nameOf, seenKey } from './meta-keys';
import {
  AnyValue,
  KEPT,
  KEPT_INDEX,
  KEPT_INDEX_STEP_MS,
  KeptEntries,
  KeptIndex,
  MAX_KEPT_PATIENTS,
  OUTBOX,
  keepNewest,
  outboxNow,
  patientOf,
} from './stored';

export interface KeptState {
  /** Per patient, the incarnation its KEPT holds as last read or written (null: none, or no KEPT). */
  readonly incarnations: Map<string, string | null>;
  /** KEPT_INDEX as last read or written (null: not read yet). */
  index: KeptIndex | null;
}

export const createKeptState = (): KeptState => ({ incarnations: new Map(), index: null });

type Core = Pick<AuditCore, 'deps' | 'issue' | 'names' | 'served' | 'accessGone' | 'ownStream'>;
interface WithKept {
  readonly core: Core;
  readonly kept: KeptState;
}

const noteKept = (s: WithKept, patientId: string, kept: KeptEntries | null): KeptEntries | null => {
  s.kept.incarnations.set(patientId, kept?.incarnation ?? null);
  return kept;
};

export const keptOf = async (s: WithKept, patientId: string): Promise<KeptEntries | null> =>
  noteKept(s, patientId, await s.core.deps.meta.get(keptKey(s.core, patientId), KeptEntries));

/** The rows of `patientId`'s KEPT, read at the first need and then shared (a failed read too). */
export const keptOnce = (s: WithKept, patientId: string): (() => Promise<readonly PushDoc[]>) => {
  let read: Promise<readonly PushDoc[]> | undefined;
  return () => (read ??= keptOf(s, patientId).then((kept) => kept?.rows ?? []));
};

/** KEPT rows queued again ahead of their streams' rows after a restore; answers the outbox as left. */
export const resendAfterRestore = async (s: WithKept, outbox: PushDoc[]): Promise<PushDoc[]> => {
  const { core } = s;
  const { meta } = core.deps;
  const incarnation = core.served;
  if (incarnation === undefined) return outbox;
  let left = outbox;
  // As for the own chain, only a row about to be pushed could link to a lost entry.
  const streams = new Set(outbox.map((d) => d.stream).filter((stream) => stream !== core.ownStream));
  for (const stream of streams) {
    const patientId = patientOf(stream);
    const known = s.kept.incarnations.get(patientId);
    if (known === null || known === incarnation) continue;
    const kept = await keptOf(s, patientId);
    if (kept?.incarnation === undefined || kept.incarnation === incarnation) continue;
    let queued = 0;
    const now = await meta.update(OUTBOX, AUDIT_STATE.auditOutbox, (current) => {
      const list = current ?? [];
      const present = new Set(list.map((d) => d.id));
      const at = list.findIndex((d) => d.stream === stream);
      const next = at < 0 ? Infinity : (list[at]!.audit?.authorSeq ?? 0);
      const again = kept.rows.filter((r) => !present.has(r.id) && (r.audit?.authorSeq ?? 0) < next);
      queued = again.length;
      if (again.length === 0) return current;
      const cut = at < 0 ? list.length : at;
      return [...list.slice(0, cut), ...again, ...list.slice(cut)];
    });
    left = now ?? [];
    noteKept(
      s,
      patientId,
      await meta.update(keptKey(core, patientId), KeptEntries, (current) =>
        current === null ? current : { ...current, incarnation },
      ),
    );
    if (queued > 0) {
      core.issue(
        `AUDIT_RESENT: the server announced a restore of its store; ${queued} audit entr${queued === 1 ? 'y' : 'ies'} ` +
          `of this device for ${patientId} it acknowledged before ${queued === 1 ? 'is' : 'are'} sent again ahead of ` +
          'the next, so that those the restore lost are stored again',
      );
    }
  }
  return left;
};

/** Keeps `rows` (acknowledged now, in other patients' logs) to send again; `outbox`: as stored now. */
export const keepAcknowledged = async (
  s: WithKept,
  rows: readonly PushDoc[],
  outbox: readonly PushDoc[],
): Promise<void> => {
  const { core } = s;
  const byPatient = new Map<string, PushDoc[]>();
  for (const d of rows)
    byPatient.set(patientOf(d.stream), [...(byPatient.get(patientOf(d.stream)) ?? []), d]);
  for (const [patientId, acked] of byPatient) {
    core.accessGone.delete(patientId);
    try {
      const key = keptKey(core, patientId);
      // Unindexed, the entries are still kept (and removed when access to the patient ends).
      await indexKept(s, key, outbox).catch(() => undefined);
      noteKept(
        s,
        patientId,
        await core.deps.meta.update(key, KeptEntries, (current) => {
          const incarnation = core.served ?? current?.incarnation;
          return {
            rows: keepNewest(current?.rows ?? [], acked),
            ...(incarnation === undefined ? {} : { incarnation }),
          };
        }),
      );
    } catch (error) {
      // What is stored is not known now: read again when next needed.
      s.kept.incarnations.delete(patientId);
      core.issue(
        `AUDIT_KEPT_NOT_KEPT: audit entries of this device for ${patientId} could not be kept to be sent again ` +
          `after a restore of the server: ${messageOf(error)}`,
      );
    }
  }
};

/**
 * Notes that the KEPT under `key` is written now, evicting the least recently written past
 * MAX_KEPT_PATIENTS (see the header). Written only when the day of `key` changes. Removed first, indexed
 * after: a crash in between leaves a name indexed that is gone, removed again harmlessly.
 */
const indexKept = async (s: WithKept, key: string, outbox: readonly PushDoc[]): Promise<void> => {
  const { core } = s;
  const { meta } = core.deps;
  const t = core.deps.now();
  const index = s.kept.index ?? (await meta.get(KEPT_INDEX, KeptIndex)) ?? {};
  s.kept.index = index;
  const last = index[key];
  if (last !== undefined && t - last >= 0 && t - last < KEPT_INDEX_STEP_MS) return;
  const next: KeptIndex = { ...index, [key]: t };
  const names = Object.keys(next);
  if (names.length > MAX_KEPT_PATIENTS) {
    const busy = new Set<string>([key]);
    for (const stream of new Set(outbox.map((d) => d.stream)))
      busy.add(nameOf(core, KEPT, patientOf(stream)));
    const oldest = names.filter((n) => !busy.has(n)).sort((a, b) => next[a]! - next[b]!);
    const evicted = oldest.slice(0, names.length - MAX_KEPT_PATIENTS);
    try {
      if (evicted.length > 0) await meta.remove(evicted);
      for (const n of evicted) delete next[n];
      // Which patients those were is not known here (names are digests): read again when needed.
      s.kept.incarnations.clear();
    } catch (error) {
      core.issue(
        `AUDIT_KEPT_NOT_REMOVED: ${evicted.length} patients' audit entries kept for a restore of the server ` +
          `could not be removed (over ${MAX_KEPT_PATIENTS} patients); tried again later: ${messageOf(error)}`,
      );
    }
  }
  await meta.set(KEPT_INDEX, next);
  s.kept.index = next;
};

/**
 * Access to `patientId`'s records ended: its KEPT goes (but rows still in the outbox) with its SEEN; its
 * chain position stays. Never throws (AUDIT_KEPT_NOT_REMOVED). A repeat with nothing kept since reads nothing.
 */
export const accessEnded = (
  s: { readonly core: Core & Pick<AuditCore, 'serial' | 'endings'>; readonly kept: KeptState },
  patientId: string,
): Promise<void> =>
  s.core.serial(async () => {
    const { core } = s;
    const { meta } = core.deps;
    if (patientId === core.deps.accountId) return;
    core.endings.set(patientId, (core.endings.get(patientId) ?? 0) + 1);
    if (core.accessGone.has(patientId)) return;
    const gone: string[] = [];
    try {
      const key = keptKey(core, patientId);
      const outbox = await outboxNow(meta);
      const queued = new Set(outbox.filter((d) => d.stream === `${patientId}/audit`).map((d) => d.id));
      const kept = await keptOf(s, patientId);
      const still = kept?.rows.filter((r) => queued.has(r.id)) ?? [];
      const whole = still.length === 0;
      if (kept !== null && !whole) {
        noteKept(s, patientId, await meta.update(key, KeptEntries, (c) => c && { ...c, rows: still }));
      } else if (kept !== null) {
        gone.push(key);
      }
      const seen = seenKey(core, patientId);
      if ((await meta.get(seen, AnyValue)) !== null) gone.push(seen);
      if (gone.length > 0) await meta.remove(gone);
      if (gone.includes(key)) {
        noteKept(s, patientId, null);
        const index = s.kept.index ?? (await meta.get(KEPT_INDEX, KeptIndex));
        if (index?.[key] !== undefined) {
          const { [key]: _gone, ...rest } = index;
          await meta.set(KEPT_INDEX, rest);
          s.kept.index = rest;
        }
      }
      if (whole) core.accessGone.add(patientId);
    } catch (error) {
      core.issue(
        `AUDIT_KEPT_NOT_REMOVED: the audit state of this device for ${patientId}, whose access ended, could ` +
          `not be removed: ${messageOf(error)}`,
      );
    }
  });
