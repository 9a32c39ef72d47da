/**
 * Pending writes: records whose newest local revision the server has not acknowledged.
 *
 * Invariants:
 * - Kept by id and revision number (the one the records API wrote, or that of a version RxDB hands the
 *   push handler): the reply to the push of an older revision leaves a newer one counted; a reply that
 *   came before the note (`answered`) leaves nothing pending.
 * - The persisted list (`pending`) is written once for a burst of local writes (`noteSoon`), and before
 *   the push handler returns for what the server answered (`save`). A crash before a burst's save loses
 *   its notes, not the writes: RxDB hands every version it has not pushed to the push handler again after
 *   the restart, which counts each as pending again (`handed`, never saved for that).
 * - A conflict RxDB resolves to the server's version answers the write too, but RxDB writes that version
 *   into the local copy only after the push handler returned: until the record's local document is
 *   written again the record still counts as pending and unsettled (`resolving`, in memory only).
 * - A record is `unsettled` (its local copy is not the server's) while pending, resolving or diverged.
 */
import type { Subscription } from 'rxjs';
import type { WithDeleted } from 'rxdb';
import { coalescedSave } from '../core/coalesced-save';
import { createRecentMap } from '../core/recent-map';
import { SYNC_STATE } from './stored-state';
import { sameVersion } from './record-codec';
import { emptied, type PlainRecord } from '../records/plain-record';
import type { EngineCore } from './engine-core';
import type { PushInput } from './types';
import type { Pending } from './engine-parts';

/** Answers remembered for a note that comes after its reply (at least this many). */
const MAX_ANSWERED = 50_000;

export const createPending = (core: EngineCore): Pending => {
  const { deps } = core;
  let pending = new Map<string, number>();
  /** Ids pending only because RxDB handed them to the push handler (`pushHandler`): never saved. */
  const handed = new Set<string>();
  /** Highest revision answered for good per id (`settle`), for a write noted after its reply. */
  const answered = createRecentMap<string, number>(MAX_ANSWERED);
  const resolving = new Map<string, WithDeleted<PlainRecord>>();
  const count = (): number => pending.size + [...resolving.keys()].filter((id) => !pending.has(id)).length;
  /** Ends the wait of `resolving` at the next write of each record's local document. */
  let resolvingWatch: Subscription | undefined;
  const pendingSave = coalescedSave(() =>
    deps.meta.set(
      'pending',
      [...pending].filter(([id]) => !handed.has(id)).map(([id, rv]) => ({ id, rv })),
    ),
  );
  const show = (): void => core.issues.patch({ pendingWrites: count() });
  const save = (): Promise<void> => {
    show();
    return pendingSave.save();
  };
  /**
   * The server answered revision `rv` of `id` for good (acknowledged it, or it will never be sent: refused
   * into unsent, or its stream is not readable any more): what is pending up to that revision is done.
   * Answers whether the pending list changed (the caller persists it).
   */
  const settle = (id: string, rv: number): boolean => {
    answered.set(id, Math.max(answered.get(id) ?? 0, rv));
    const want = pending.get(id);
    if (want === undefined || want > rv) return false;
    pending.delete(id);
    handed.delete(id);
    return true;
  };
  return {
    has: (id: string): boolean => pending.has(id),
    get: (id: string): number | undefined => pending.get(id),
    ids: (): string[] => [...pending.keys()],
    size: (): number => pending.size,
    count,
    show,
    save,
    settle,
    /** Persists the list once after the current burst of local writes (a macrotask later). */
    noteSoon(): void {
      show();
      pendingSave.soon();
    },
    /** A local write of revision `rv` of `id` (the records API); answers whether it counts as pending. */
    note(id: string, rv: number): boolean {
      if ((answered.get(id) ?? -1) >= rv) return false;
      pending.set(id, rv);
      handed.delete(id);
      return true;
    },
    /** At least revision `rv` of `id` is pending (a version waiting for its key, read at start). */
    atLeast(id: string, rv: number): void {
      if ((pending.get(id) ?? -1) < rv) pending.set(id, rv);
    },
    /**
     * RxDB handed these rows to the push handler: each counts as pending (not saved for it), unless
     * answered already, or an emptied deletion (what a purge left: no change of anyone's). Answers whether
     * any was counted.
     */
    handedRows(rows: PushInput): boolean {
      let counted = false;
      for (const { newDocumentState: doc } of rows) {
        if (emptied(doc) || (answered.get(doc.id) ?? -1) >= doc.rv || (pending.get(doc.id) ?? -1) >= doc.rv)
          continue;
        if (!pending.has(doc.id)) handed.add(doc.id);
        pending.set(doc.id, doc.rv);
        counted = true;
      }
      if (counted) show();
      return counted;
    },
    /** `local` counts as pending until its record's local document is written again (see the header). */
    resolve(local: WithDeleted<PlainRecord>): void {
      resolving.set(local.id, local);
    },
    /** Whether the local copy of a record is not the server's (see the header). */
    unsettled: (stream: string, id: string): boolean =>
      pending.has(id) || resolving.has(id) || core.unsent.isDiverged(stream, id),
    /** Reads the persisted list (writes noted before it was read are newer). */
    async load(): Promise<void> {
      const stored = (await deps.meta.get('pending', SYNC_STATE.pending)) ?? [];
      pending = new Map([
        ...stored.map((e): [string, number] => (typeof e === 'string' ? [e, 0] : [e.id, e.rv])),
        ...pending,
      ]);
    },
    /** RxDB's write of the server's version (or a write that came first) replaces a `resolving` one. */
    watchResolving(): void {
      resolvingWatch = deps.collection.storageInstance.changeStream().subscribe((bulk) => {
        if (resolving.size === 0) return;
        let replaced = false;
        for (const { documentId, documentData } of bulk.events) {
          const pushed = resolving.get(documentId);
          if (pushed === undefined || sameVersion(documentData, pushed)) continue;
          resolving.delete(documentId);
          replaced = true;
        }
        if (replaced) show();
      });
    },
    unwatch(): void {
      resolvingWatch?.unsubscribe();
    },
    /** At stop: what the last moments changed is persisted. */
    async flush(): Promise<void> {
      if (pendingSave.cancel()) await save().catch(() => undefined);
      // A save already under way (a push answer's) too.
      await pendingSave.settled();
    },
  };
};
