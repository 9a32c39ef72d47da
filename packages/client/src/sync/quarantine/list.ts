/**
 * The quarantine list: served versions set aside (never written locally, never pushed over).
 *
 * Invariants:
 * - A version is listed once per (record, revision, reason) under this session's rules (record rules
 *   `model`, author rules `authorRules`); judged again with the same outcome it is not reported again;
 *   under other rules it is replaced quietly.
 * - An entry leaves once RxDB has stored that record or a newer revision of it (`received$`, `settle`),
 *   or the server no longer serves it (quarantine/retry.ts), or the person dismisses it
 *   (quarantine/dismiss.ts); a local copy that is not the server's never counts as stored. An entry
 *   marked `overwritten` (this device's change was stored over it) leaves only beyond the cap or
 *   dismissed.
 * - At most `maxQuarantine` entries: beyond it the oldest that can never pass go first, then the oldest
 *   others, each drop reported (QUARANTINE_DROPPED); a dropped entry whose record may still be shown
 *   widens its stream's gap (one persisted seq range per stream), which the retry fetches again.
 * - A refusal other rules may turn into a pass is kept with the identity of the rules that judged it
 *   (BAD_CONTENT: `model`; BAD_AUTHOR: `authorRules`) and fetched again once under other rules.
 * - A version dismissed for a reason is not listed again for that reason (`dismissed`), and one refused
 *   BAD_TRANSITION is refused again whenever served (`refusedTransition`).
 * - Lists are written in the order they replace each other, through the kept-content queue.
 */
import {
  AUTHOR_QUARANTINE,
  CONTENT_QUARANTINE,
  SYNC_STATE,
  RETRYABLE_QUARANTINE,
  type QuarantineReason,
} from '../stored-state';
import type { ServedDoc } from '@hale/protocol';
import { emptied } from '../../records/plain-record';
import { recordKey, revNumber, versionKey, type EngineCore } from '../engine-core';
import { slotsOf } from './kept';
import type {
  Judged,
  KeptWrite,
  Listed,
  Overwrite,
  QuarantinedItem,
  QuarantineGap,
  Refused,
  Waits,
} from '../types';
import type { PlainRecord } from '../../records/plain-record';
import type { QuarantineList } from '../engine-parts';

const MAX_QUARANTINE = 10_000;

export const createQuarantineList = (core: EngineCore): QuarantineList => {
  const { deps } = core;
  const { collection } = deps;
  const report = core.issues.report;
  const iso = core.iso;
  const modelVersion = core.modelVersion;
  const authorRules = core.authorRules;
  const maxQuarantine = deps.maxQuarantine ?? MAX_QUARANTINE;
  let quarantine: Listed[] = [];
  /** recordKey of every quarantined entry: the only per-record cost of quarantine is one lookup here. */
  let quarantinedKeys = new Set<string>();
  /** A refusal other rules may turn into a pass: by the record rules (content) or the author rules. */
  const ruled = (reason: QuarantineReason): boolean =>
    CONTENT_QUARANTINE.has(reason) || AUTHOR_QUARANTINE.has(reason);
  /** An entry whose record may still be shown: one that can pass, or one other rules may take. */
  const renewable = (reason: QuarantineReason): boolean => RETRYABLE_QUARANTINE.has(reason) || ruled(reason);
  /** What a record refused for `reason` under this session's rules waits for: other rules of that kind. */
  const waitsFor = (reason: QuarantineReason): Waits =>
    CONTENT_QUARANTINE.has(reason) ? { model: modelVersion } : { authorRules: authorRules() };
  /**
   * Whether the retry fetches an entry's record again: its reason can pass, or it was refused under other
   * rules than this session's for its reason (record rules for content, author rules for an author; an
   * entry kept before they were recorded counts as refused under unknown ones). One refused under this
   * session's rules waits for others.
   */
  const due = (q: Waits & { reason: QuarantineReason }): boolean =>
    RETRYABLE_QUARANTINE.has(q.reason) ||
    (CONTENT_QUARANTINE.has(q.reason) && q.model !== modelVersion) ||
    (AUTHOR_QUARANTINE.has(q.reason) && q.authorRules !== authorRules());
  /** A gap is fetched again unless everything in it waits for rules this session still judges by. */
  const gapDue = (g: Waits): boolean =>
    (g.model === undefined && g.authorRules === undefined) ||
    (g.model !== undefined && g.model !== modelVersion) ||
    (g.authorRules !== undefined && g.authorRules !== authorRules());
  /**
   * What a gap waits for once a record that failed for `reason` joins it (`was`: what it waited for; {}
   * for a new one): null, fetched again at any retry, if it did not wait or the record may pass (`passes`).
   */
  const joinWaits = (was: Waits | null, reason: QuarantineReason, passes: boolean): Waits | null =>
    was === null || passes ? null : { ...was, ...waitsFor(reason) };

  /**
   * Per stream, the seq range of entries dropped beyond the cap whose record may still be shown: the
   * retry fetches it again as it would have fetched them (one range per stream, so memory stays bounded).
   */
  const gaps = new Map<string, QuarantineGap>();
  const saveGaps = (): Promise<void> => deps.meta.set('quarantine-gaps', [...gaps.values()]);
  const widenGaps = (dropped: readonly QuarantinedItem[]): boolean => {
    let widened = false;
    for (const q of dropped) {
      if (!renewable(q.reason)) continue;
      const was = gaps.get(q.stream);
      // Waits for other rules only if everything in it was refused under this session's rules.
      const waits = joinWaits(was === undefined ? {} : gapDue(was) ? null : was, q.reason, due(q));
      gaps.set(q.stream, {
        ...waits,
        stream: q.stream,
        from: Math.min(was?.from ?? q.seq, q.seq),
        to: Math.max(was?.to ?? q.seq, q.seq),
      });
      widened = true;
    }
    return widened;
  };

  /**
   * `announce` runs as the list changes in memory, before it is written: what `quarantine()` lists and the
   * errors that report it appear together. `contents`: content of entries of `listed` to keep (written
   * before the list, if those entries are still listed after the cap and the budget).
   */
  const saveQuarantine = async (
    listed: Listed[],
    announce?: () => void,
    contents: readonly KeptWrite[] = [],
  ): Promise<void> => {
    // A list computed before a dismissal finished saving (a page set aside meanwhile) does not bring back
    // what it dismissed (for the reason dismissed; see `setAside`).
    const next = core.dismissals.none()
      ? listed
      : listed.filter((q) => core.dismissals.reasonOf(q.stream, q.id, q.rev) !== q.reason);
    let kept = next;
    const over = next.length - maxQuarantine;
    if (over > 0) {
      // Entries nothing will fetch again go first, oldest first: they only report. An entry whose record
      // may still be shown leaves its seq in its stream's gap, so dropping it does not hide the record.
      const drop = new Set<Listed>();
      for (const q of next) if (drop.size < over && !renewable(q.reason)) drop.add(q);
      for (const q of next) if (drop.size < over && renewable(q.reason)) drop.add(q);
      kept = next.filter((q) => !drop.has(q));
      const gapped = widenGaps([...drop]);
      report({
        code: 'QUARANTINE_DROPPED',
        message: `${drop.size} quarantine entr${drop.size === 1 ? 'y was' : 'ies were'} dropped: more than ${maxQuarantine} were kept${gapped ? '; records that may still be shown are fetched again all the same' : ''}`,
      });
      if (gapped) await saveGaps();
    }
    // Kept content is looked at only while some is kept or comes now: a list without any costs nothing more.
    const kc = core.kept;
    const withContent = kc.slots() > 0 || contents.length > 0;
    const before = withContent ? slotsOf(quarantine) : null;
    if (withContent) {
      // No content of a stream this device may no longer read: its purge took `access` first, and checks
      // the list for content only after that, so content kept here now would outlive it. Checked in the
      // same synchronous step as the list is replaced, so the purge sees either this or the list.
      const at = iso();
      kept = kc.withinBudget(
        kept.map((q) =>
          q.slot !== undefined && !core.access.readable(q.stream) ? kc.withoutContent(q, 'purged', at) : q,
        ),
      );
    }
    const listedBefore = quarantinedKeys;
    quarantine = kept;
    quarantinedKeys = new Set(quarantine.map((q) => recordKey(q.stream, q.id)));
    core.issues.patch({ quarantined: quarantine.length });
    // A record that leaves the list now (answered, retried and taken, dismissed, purged) is no longer set
    // aside: its warning ends with it. One dropped for the cap is still not applied: its warning stays.
    if (core.issues.state$.value.errors.some((e) => e.code === 'QUARANTINED')) {
      const listedNow = over > 0 ? new Set(next.map((q) => recordKey(q.stream, q.id))) : quarantinedKeys;
      core.issues.dropIssues((e) => {
        if (e.code !== 'QUARANTINED' || e.id === undefined || e.stream === undefined) return false;
        const key = recordKey(e.stream, e.id);
        return listedBefore.has(key) && !listedNow.has(key);
      });
    }
    announce?.();
    // Every list write goes through the one queue of kept-content work, in the order the lists replaced
    // each other above: a list saved later is never overwritten by one computed before it that waited.
    const writeList = (): Promise<void> => kc.job(() => deps.meta.set('quarantine', kept));
    if (before === null) {
      await writeList();
      return;
    }
    const now = slotsOf(kept);
    kc.setSlots(now.size);
    // Content is written before the list that names it, and removed after the list that no longer does: a
    // crash in between leaves a key no entry names, removed at the next start (`start`).
    const fresh = contents.filter((c) => now.has(c.slot));
    const written =
      fresh.length > 0
        ? kc.job(async () => {
            await Promise.all(fresh.map((c) => kc.write(c)));
          })
        : null;
    written?.catch(() => undefined);
    // After every content write queued so far, this list's and those of lists saved before it.
    await writeList();
    // Listed all the same: content that could not be written is answered as not kept when read.
    if (written !== null) await written;
    const listedNow = slotsOf(quarantine);
    const gone = [...before].filter((slot) => !now.has(slot) && !listedNow.has(slot));
    if (gone.length > 0) await kc.job(() => kc.forgetKept(gone));
  };

  /**
   * Sets aside a batch of served documents with one persisted write. An entry already there for the same
   * revision and reason under this session's rules (record and author rules) stays as it is (a retry that
   * fails again is not reported again); under other rules it is replaced quietly, now judged under these.
   * One for the same revision with another reason, or one of an older revision (never served again) whose
   * record may still be shown, is replaced.
   */
  const setAside = async (items: readonly Refused[]): Promise<void> => {
    if (items.length === 0) return;
    const rules = authorRules();
    const byKey = new Map(items.map((i) => [recordKey(i.doc.stream, i.doc.id), i]));
    const unchanged = new Set<string>();
    /** recordKey → the entry of entries judged again with the same outcome (when first set aside, mark). */
    const again = new Map<string, Listed>();
    const kept = quarantine.filter((q) => {
      const key = recordKey(q.stream, q.id);
      const item = byKey.get(key);
      if (!item) return true;
      if (q.rev === item.doc.rev && q.reason === item.reason) {
        if (q.model === modelVersion && q.authorRules === rules) {
          unchanged.add(key);
          return true;
        }
        again.set(key, q);
        return false;
      }
      return q.rev !== item.doc.rev && !(renewable(q.reason) && q.seq <= item.doc.seq);
    });
    // A version the person dismissed is refused as before, but neither listed nor reported again when it is
    // refused for the reason they saw. Refused for another (a NO_KEY one now opens and proves TAMPERED), it
    // is listed and reported: dismissing what could not be checked yet hides no later finding. It still
    // answers the older entries of its record above, as any newer version set aside does.
    const silenced = (doc: ServedDoc, reason: QuarantineReason): boolean =>
      core.dismissals.reasonOf(doc.stream, doc.id, doc.rev) === reason;
    const added = [...byKey].filter(
      ([key, { doc, reason }]) => !unchanged.has(key) && !silenced(doc, reason),
    );
    if (added.length === 0 && kept.length === quarantine.length) return;
    const contents: KeptWrite[] = [];
    await saveQuarantine(
      [
        ...kept,
        ...added.map(([key, item]): Listed => {
          const { doc, reason, message } = item;
          const before = again.get(key);
          return {
            stream: doc.stream,
            id: doc.id,
            seq: doc.seq,
            rev: doc.rev,
            reason,
            message,
            at: before?.at ?? iso(),
            model: modelVersion,
            authorRules: rules,
            ...(before?.overwritten ? { overwritten: before.overwritten } : {}),
            ...(before?.content
              ? { content: before.content, ...(before.slot === undefined ? {} : { slot: before.slot }) }
              : core.kept.keep(item, contents)),
          };
        }),
      ],
      () => {
        for (const [key, { doc, reason, message }] of added) {
          if (again.has(key)) continue;
          report({
            code: 'QUARANTINED',
            message:
              reason === 'NO_WRITE_GRANT'
                ? // The codec's message says which: no grant known that covers it, or grants not readable.
                  `A record written by another account was set aside, not shown: this device found no write access you granted that covers it (${reason}): ${message}`
                : RETRYABLE_QUARANTINE.has(reason)
                  ? `A record could not be verified yet (${reason}) and was set aside; will retry: ${message}`
                  : CONTENT_QUARANTINE.has(reason)
                    ? `A record could not be read by this version of the app (${reason}) and was set aside; it is read again after an update: ${message}`
                    : `A record could not be verified (${reason}) and was set aside, not applied: ${message}`,
            stream: doc.stream,
            id: doc.id,
          });
        }
      },
      contents,
    );
    if (added.some(([, i]) => RETRYABLE_QUARANTINE.has(i.reason))) core.retry.armRetry(true);
  };
  /**
  /**
   * The server took this device's versions sent over server versions it refused (`forgedOver`): their
   * entries are marked (kept from then on, the only trace of those versions here, with their content where
   * it is kept) and each overwrite is reported once, naming the version and its signer, nothing of its
   * content.
   */
  const noteOverwritten = async (items: readonly Overwrite[]): Promise<void> => {
    if (items.length === 0) return;
    const at = iso();
    const byVersion = new Map(items.map((o) => [versionKey(o.master.stream, o.master.id, o.master.rev), o]));
    await saveQuarantine(
      quarantine.map((q) => {
        const o = byVersion.get(versionKey(q.stream, q.id, q.rev));
        return o && q.overwritten === undefined ? { ...q, overwritten: { at, by: o.by } } : q;
      }),
      () => {
        const listed = new Map(quarantine.map((q) => [versionKey(q.stream, q.id, q.rev), q]));
        for (const { master, by } of items) {
          const kept = listed.get(versionKey(master.stream, master.id, master.rev))?.content?.kept === true;
          report({
            code: 'OVERWROTE_REFUSED',
            message: `A change made here was stored over the server's version ${master.rev} of a ${master.stream} record, signed by account ${by}, which this app's rules refused: that version is no longer on the server, only listed in quarantine${kept ? ', its content kept here (quarantinedVersion): if it was a valid change (e.g. by a newer app version), it can be entered again from there' : '. If it was a valid change (e.g. by a newer app version), ask that account to make it again'}`,
            stream: master.stream,
            id: master.id,
          });
        }
      },
    );
  };

  /**
   * Entries whose record (this revision or a newer one) RxDB has now stored leave the quarantine. Called
   * for every stored record: with nothing quarantined it is one set lookup.
   */
  let settling: Array<{ key: string; rv: number }> = [];
  /** Takes the entries gathered by `settle` off the list (one write). */
  const settleGathered = (): Promise<void> => {
    const done = new Map(settling.map((r) => [r.key, r.rv]));
    settling = [];
    const next = quarantine.filter((q) => {
      const stored = done.get(recordKey(q.stream, q.id));
      return q.overwritten !== undefined || stored === undefined || stored < revNumber(q.rev);
    });
    return next.length < quarantine.length ? saveQuarantine(next) : Promise.resolve();
  };
  const settle = (stream: string, id: string, rv: number): void => {
    if (quarantinedKeys.size === 0) return;
    const key = recordKey(stream, id);
    if (!quarantinedKeys.has(key)) return;
    // RxDB reports stored records one by one: gathered, so a page costs one persisted write. Once stopped,
    // stop() writes what was gathered (RxDB stores the last batch while stop waits for it): a list written
    // only by this timer lost the entries a batch stored just before the app closed answered.
    if (settling.length === 0) {
      setTimeout(() => {
        if (!core.s.stopped) void settleGathered().catch(() => undefined);
      }, 0);
    }
    settling.push({ key, rv });
  };
  /**
   * RxDB stored a served version of the record (`received$`): its local copy is the server's again, no
   * longer diverged; quarantine entries it answers leave. With nothing diverged it is one size check.
   */
  const onStored = (stream: string, id: string, rv: number): void => {
    if (core.unsent.hasDiverged() && core.unsent.undiverge(stream, id)) core.unsent.saveDivergedSoon();
    settle(stream, id, rv);
  };

  /**
   * At start: entries whose record the store holds at a newer revision, as the server's (settled), leave
   * the list. RxDB stored that version and the process ended before the list without them was written (a
   * crash), so no `received$` will answer them again: a version the store holds is not handed over again.
   * Strictly newer: a copy of the very revision may be the genuine version a tampered copy of it was served
   * after (the retry judges entries that can pass by the same revision too). Not entries marked
   * `overwritten` (only the cap or a dismissal ends those), nor a purge's emptied tombstones (no copy).
   */
  const settleStored = async (): Promise<void> => {
    const open = quarantine.filter((q) => q.overwritten === undefined);
    if (open.length === 0) return;
    const held = await collection.storageInstance.findDocumentsById(
      [...new Set(open.map((q) => q.id))],
      true,
    );
    const copies = new Map(held.filter((d) => !emptied(d)).map((d) => [d.id, d]));
    const next = quarantine.filter((q) => {
      const local = copies.get(q.id);
      return (
        q.overwritten !== undefined ||
        local === undefined ||
        local.stream !== q.stream ||
        core.pending.unsettled(q.stream, q.id) ||
        local.rv <= revNumber(q.rev)
      );
    });
    if (next.length < quarantine.length) await saveQuarantine(next);
  };

  /** Quarantines the failures of a decoded batch (one write) and answers what opened. */
  const sortOutcomes = async (docs: readonly ServedDoc[], decoded: readonly Judged[]) => {
    const out: PlainRecord[] = [];
    const failed: Refused[] = [];
    for (const [n, r] of decoded.entries()) {
      if (r.ok) out.push(r.record);
      else
        failed.push({
          doc: docs[n]!,
          reason: r.reason,
          message: r.message,
          ...(r.record === undefined ? {} : { record: r.record }),
        });
    }
    await setAside(failed);
    return out;
  };

  /**
   * Why this very version was set aside BAD_TRANSITION, when it was: its quarantine entry, or its
   * dismissal (dismissing an entry does not make its version pass).
   */
  const refusedTransition = (stream: string, id: string, rev: string): { message: string } | undefined => {
    const key = recordKey(stream, id);
    const listed = quarantinedKeys.has(key)
      ? quarantine.find(
          (q) => recordKey(q.stream, q.id) === key && q.rev === rev && q.reason === 'BAD_TRANSITION',
        )
      : undefined;
    if (listed !== undefined || core.dismissals.none()) return listed;
    return core.dismissals.reasonOf(stream, id, rev) === 'BAD_TRANSITION'
      ? { message: 'set aside BAD_TRANSITION before; the quarantine entry was dismissed' }
      : undefined;
  };
  /** This device, writing in its own name what it sends over a refused server version. */
  return {
    list: (): Listed[] => quarantine,
    size: (): number => quarantine.length,
    holds: (stream: string, id: string): boolean => quarantinedKeys.has(recordKey(stream, id)),
    empty: (): boolean => quarantinedKeys.size === 0,
    saveQuarantine,
    setAside,
    noteOverwritten,
    settle,
    settleGathered,
    gathered: (): number => settling.length,
    onStored,
    settleStored,
    sortOutcomes,
    refusedTransition,
    due,
    gapDue,
    joinWaits,
    renewable,
    gaps,
    saveGaps,
    /** Whether the retry has anything to fetch. */
    anyDue: (): boolean => quarantine.some(due) || [...gaps.values()].some(gapDue),
    /** Reads the list at start (without entries dismissed for their reason: a crash between the writes). */
    async load(): Promise<void> {
      const dismissed = core.dismissals.reasonOf;
      quarantine = ((await deps.meta.get('quarantine', SYNC_STATE.quarantine)) ?? []).filter(
        (q) => dismissed(q.stream, q.id, q.rev) !== q.reason,
      );
      quarantinedKeys = new Set(quarantine.map((q) => recordKey(q.stream, q.id)));
      const slots = slotsOf(quarantine);
      core.kept.setSlots(slots.size);
      await core.kept.removeStrays(slots);
      for (const g of (await deps.meta.get('quarantine-gaps', SYNC_STATE.quarantineGaps)) ?? []) {
        gaps.set(g.stream, g);
      }
    },
  };
};
