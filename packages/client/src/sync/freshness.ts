/**
 * Freshness of served versions: a record version the server serves is applied only if it is not older than
 * the version this device already holds of that record as the server's.
 *
 * Invariants:
 * - `rv` only grows on the server (REV_MISMATCH otherwise), a deletion taking a number of its own.
 * - Below the settled local copy's `rv`, or equal with other content: stale (a replay, an overtaken frame).
 * - The settled local copy itself (stream, id, `rv`, deletion flag, content) is `same`: never handed to RxDB,
 *   which could otherwise take it over a local edit acknowledged meanwhile.
 * - Settled: the last state exchanged with the server. An unsent write or refused version is `unsettled`.
 * - A refused version stays unsettled until a served version of the record is stored (diverged marks).
 * - An unsettled record is left to RxDB, except below its `floor` (the state a refused one built on): stale.
 * - A local deletion is a version like any other; a purge's tombstones are no copy (the lookup skips them).
 * - A served id this device holds under another stream `clashes`: never applied, also within one batch.
 * - Own versions older than a copy whose write is still `pending` are `superseded`: dropped quietly.
 * Failure modes: a failed lookup rejects the whole check (the caller fails the batch, fetched again); a
 * version whose tag cannot be computed (no key) counts as other content, so stale.
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
