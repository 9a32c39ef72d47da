/**
 * Freshness of served versions: a record version the server serves is applied only if it is not older
 * than the version this device already holds of that record as the server's.
 *
 * Invariants:
 * - A record's revision number (`rv`) only grows on the server (it refuses a push that does not raise it,
 *   REV_MISMATCH), and a deletion takes a number of its own. So a served version whose `rv` is below that of
 *   the settled local copy, or equal to it with other content, is not a newer state of the record: a
 *   replay of an older genuine version (a server rolling the device back, or resurrecting a deleted
 *   record), or a live frame overtaken by a newer version this device has already stored.
 * - "Settled" means the local copy is the last state exchanged with the server: not a local write still
 *   to be pushed, not a version the server never took (`unsettled`). For those, the server's state is not
 *   the local one, and RxDB decides (its conflict handling, or it takes the served version). A refused
 *   version stays the local copy after the person discarded its unsent entry (or it dropped out of that
 *   list): it is unsettled until a served version of the record is stored (the engine's diverged marks),
 *   or the server's next version under its number would be dropped here as a replay.
 * - A local deletion is a version like any other (it takes a number of its own; a re-add continues it). The
 *   tombstones a purge leaves (access ended; every document of the stream, deletions included, emptied)
 *   are no copy at all: the caller's lookup leaves them out, since they may carry the number of a local
 *   edit or deletion never pushed, and the server's versions come back when access returns.
 * Failure modes: a failed lookup rejects the whole check (the caller fails the batch, which is fetched
 * again); a version whose tag cannot be computed (no key) is treated as other content, so stale.
 */
import type { PlainRecord } from './record-codec';

export interface LocalVersion {
  readonly rv: number;
  readonly deleted: boolean;
  readonly record: PlainRecord;
}

export interface FreshnessDeps {
  /** The local copies (deleted ones included) of these ids; ids with none are absent from the map. */
  lookup(ids: readonly string[]): Promise<ReadonlyMap<string, LocalVersion>>;
  /** True while the local copy of the record is not the server's state (pending push, version refused). */
  unsettled(stream: string, id: string): boolean;
  /** Revision tag of a version's content (null without a key). */
  tagOf(record: PlainRecord): Promise<string | null>;
}

/** Splits served versions into those to apply and those older than what this device holds. */
export const createFreshnessCheck =
  (deps: FreshnessDeps) =>
  async (
    served: readonly PlainRecord[],
  ): Promise<{ fresh: PlainRecord[]; stale: Array<{ record: PlainRecord; localRv: number }> }> => {
    if (served.length === 0) return { fresh: [], stale: [] };
    const local = await deps.lookup(served.map((r) => r.id));
    const fresh: PlainRecord[] = [];
    const stale: Array<{ record: PlainRecord; localRv: number }> = [];
    for (const record of served) {
      const mine = local.get(record.id);
      if (
        mine === undefined ||
        mine.record.stream !== record.stream ||
        deps.unsettled(record.stream, record.id) ||
        record.rv > mine.rv ||
        (record.rv === mine.rv && (await sameContent(deps, record, mine.record)))
      ) {
        fresh.push(record);
      } else {
        stale.push({ record, localRv: mine.rv });
      }
    }
    return { fresh, stale };
  };

const sameContent = async (deps: FreshnessDeps, a: PlainRecord, b: PlainRecord): Promise<boolean> => {
  if (a._deleted !== b._deleted) return false;
  const [ta, tb] = await Promise.all([deps.tagOf(a), deps.tagOf(b)]);
  return ta !== null && ta === tb;
};
