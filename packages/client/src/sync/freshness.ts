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
 * - A served version that is the settled local copy itself (same stream, id, `rv`, deletion flag and
 *   content) is `same`: nothing in it to apply, so it is never handed to RxDB. RxDB stores a handed version
 *   only after the batches queued before it; a local edit pushed and acknowledged meanwhile becomes its
 *   assumed master state, RxDB then finds its copy equal to that state and takes the served version, an
 *   older one, in the edit's place. Such versions come back unrecognised as echoes (after a restart the
 *   engine no longer remembers what it sent; re-serves after a reconnect or from an older checkpoint).
 * - "Settled" means the local copy is the last state exchanged with the server: not a local write still
 *   to be pushed, not a version the server never took (`unsettled`). For those, the server's state is not
 *   the local one, and RxDB decides (its conflict handling, or it takes the served version). A refused
 *   version stays the local copy after the person discarded its unsent entry (or it dropped out of that
 *   list): it is unsettled until a served version of the record is stored (the engine's diverged marks),
 *   or the server's next version under its number would be dropped here as a replay. An unsettled record
 *   still has a floor where it is known (`floor`: the server's state a refused version was made on, which
 *   the device held): a served version below it is stale all the same, or a server that refused one push
 *   could hand the device any older version of the record.
 * - A local deletion is a version like any other (it takes a number of its own; a re-add continues it). The
 *   tombstones a purge leaves (access ended; every document of the stream, deletions included, emptied)
 *   are no copy at all: the caller's lookup leaves them out, since they may carry the number of a local
 *   edit or deletion never pushed, and the server's versions come back when access returns.
 * - The device store holds one document per record id, whatever its stream, while the server keys records
 *   by stream and id and each writer picks its ids. A served version whose id this device holds under
 *   another stream is another record that would take that one's place (a patient writing under the id of
 *   another patient's record a provider follows, a grantee writing under the id of a record of a stream it
 *   may only read): it is never applied (`clashes`), whatever its number, and the held record stays; so
 *   is one whose id an earlier version of the same batch, of another stream, takes.
 * - A version this device wrote that is older than its local copy while a local write of that record is
 *   still to be acknowledged (`pending`) is `superseded`, never applied: the local copy continues it,
 *   and the server serves it back (a live echo) after newer local writes. Handed to RxDB, it would take
 *   the local copy's place once that copy's push is acknowledged before RxDB stores the batch (RxDB then
 *   finds its fork equal to the server's and takes the served version). Dropped quietly: it is this
 *   device's own content. A copy the server refused (diverged, not pending) still takes the served one.
 * Failure modes: a failed lookup rejects the whole check (the caller fails the batch, which is fetched
 * again); a version whose tag cannot be computed (no key) is treated as other content, so stale.
 */
import type { PlainRecord } from '../records/plain-record';

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
  /**
   * For an unsettled record, the revision number of the last server state this device held of it (0: none
   * known): a served version below it is a replay, whatever RxDB would make of it.
   */
  floor(stream: string, id: string): number;
  /** True while a local write of the record is still to be acknowledged by the server. */
  pending(id: string): boolean;
  /** This device's id: the author of the versions it wrote. */
  readonly deviceId: string;
  /** Revision tag of a version's content (null without a key). */
  tagOf(record: PlainRecord): Promise<string | null>;
}

export interface FreshnessOutcome {
  fresh: PlainRecord[];
  /** Versions that are the settled local copy itself: nothing to apply, never handed to RxDB. */
  same: PlainRecord[];
  stale: Array<{ record: PlainRecord; localRv: number }>;
  /** Versions whose id this device holds under another stream (`held`): never applied. */
  clashes: Array<{ record: PlainRecord; held: string }>;
  /** This device's own older versions of a record with a local write pending: never applied. */
  superseded: PlainRecord[];
}

/**
 * Splits served versions into those to apply, those that are the settled local copy, those older than
 * what this device holds, and those whose id this device holds under another stream.
 */
export const createFreshnessCheck =
  (deps: FreshnessDeps) =>
  async (served: readonly PlainRecord[]): Promise<FreshnessOutcome> => {
    if (served.length === 0) return { fresh: [], same: [], stale: [], clashes: [], superseded: [] };
    const local = await deps.lookup(served.map((r) => r.id));
    const fresh: PlainRecord[] = [];
    const same: PlainRecord[] = [];
    const stale: Array<{ record: PlainRecord; localRv: number }> = [];
    const clashes: Array<{ record: PlainRecord; held: string }> = [];
    const superseded: PlainRecord[] = [];
    // The stream each id is held under: locally, or by a version of this batch already taken.
    const holders = new Map([...local].map(([id, v]) => [id, v.record.stream]));
    for (const record of served) {
      const mine = local.get(record.id);
      const holder = holders.get(record.id);
      // Before `unsettled`: a pending write is kept by id, so another stream's record may be the pending one.
      if (holder !== undefined && holder !== record.stream) {
        clashes.push({ record, held: holder });
        continue;
      }
      if (
        mine !== undefined &&
        record.author === deps.deviceId &&
        record.rv < mine.rv &&
        deps.pending(record.id)
      ) {
        superseded.push(record);
        continue;
      }
      const unsettled = mine !== undefined && deps.unsettled(record.stream, record.id);
      const floor = unsettled ? deps.floor(record.stream, record.id) : 0;
      if (record.rv < floor) {
        stale.push({ record, localRv: floor });
        continue;
      }
      if (mine === undefined || unsettled || record.rv > mine.rv) {
        fresh.push(record);
        holders.set(record.id, record.stream);
      } else if (record.rv === mine.rv && (await sameContent(deps, record, mine.record))) {
        same.push(record);
      } else {
        stale.push({ record, localRv: mine.rv });
      }
    }
    return { fresh, same, stale, clashes, superseded };
  };

const sameContent = async (deps: FreshnessDeps, a: PlainRecord, b: PlainRecord): Promise<boolean> => {
  if (a._deleted !== b._deleted) return false;
  const [ta, tb] = await Promise.all([deps.tagOf(a), deps.tagOf(b)]);
  return ta !== null && ta === tb;
};
