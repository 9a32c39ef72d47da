/**
 * Conflict resolution on plaintext, run by RxDB when the server refuses a push because another device
 * wrote first.
 *
 * Invariants:
 * - Deterministic: the content of the result (record, sides, conflict flag) depends only on the two
 *   states, so every device resolving the same conflict reaches the same content. Who wrote the result
 *   (`by`, `author`) is the merging device: it sends the merge under its own device key, and readers take a
 *   version only from a device of the account named in `by` (record-codec.ts), so a merge naming the
 *   other side's account would be quarantined (BAD_AUTHOR) by every other device. `updatedAt` stays the
 *   kept content's.
 * - Nothing clinical is dropped silently: when both sides changed the content, the later edit
 *   (updatedAt as an instant, `compareInstants`, then the device id and account that wrote its content,
 *   then the content itself as tie-breaks) becomes the record and the other
 *   side is kept in `conflictData` with `conflict: true`, visible until a person settles it. A delete
 *   racing an edit keeps the edit (undeleted) and marks the conflict. Deleted on both sides is no conflict,
 *   whatever content each deleted: the server's deletion is taken.
 * - Who wrote what stays visible: each kept side names its writer (`_conflictFrom`, or `deletedBy` for a
 *   delete), and `conflictData._recordFrom` names the writer of the content shown as the record, which the
 *   re-stamped `by`/`author` no longer do. A side taken from a merge is credited to `_recordFrom`, not to
 *   the device that merged.
 * - Sides whose clinical content is the same are one side: content is compared without `data.updatedAt`
 *   (every write re-stamps it, also a settlement that changes nothing) and without who wrote it. Two
 *   states equal in that sense are no conflict: the later of the two is taken (the server's, or this
 *   device's, then sent on top of it, so that a third edit meets the same record in any order). A side
 *   equal to the record, or to another side, is not kept twice.
 * - Unsettled sides accumulate: a side either state already kept (its `conflictData`, and the sides
 *   listed in that object's `_earlierConflicts`) is carried into the result's `_earlierConflicts`, so a
 *   third device's edit does not push out the second's. The list is de-duplicated and sorted. Which side
 *   sits at the top of `conflictData` (the one this merge lost) depends on the order of merges; the
 *   record and the set of kept sides do not. Devices still agree: each merge is pushed to the server,
 *   whose version every device then takes.
 * - A server version the resolving device refused as forged (the engine decides which, engine.ts) is no
 *   side of anything: `overwriteRefused` answers the local state itself, re-stamped with the writer and
 *   numbered past both, to be sent over it. Nothing of that server version is kept in the result (the
 *   engine keeps its content aside with its quarantine entry on the device that refused it, engine.ts).
 */
import type { RxConflictHandler, WithDeleted } from 'rxdb';
import { canonicalJson } from '@hale/crypto';
import {
  compareInstants,
  isAccountId,
  isIsoDateTime,
  validateRecord,
  type FhirConflictSide,
  type RecordKind,
} from '@hale/model';
import type { PlainRecord } from './plain-record';

/** Key of `conflictData` under which sides from earlier, still unsettled conflicts are kept. */
export const EARLIER_CONFLICTS_KEY = '_earlierConflicts';

/** Key of `conflictData` naming who wrote the content the merged record shows (a `SideOrigin`). */
export const RECORD_FROM_KEY = '_recordFrom';

/** Key of a kept side naming who wrote it (a `SideOrigin`). */
const CONFLICT_FROM_KEY = '_conflictFrom';

type Side = Record<string, unknown>;

/** Who wrote a version's content: the account, its device, and when. */
export interface SideOrigin {
  readonly by: string;
  readonly author: string;
  readonly updatedAt: string;
}

/** The device a merge is written by: the one that resolves the conflict and sends the result. */
export interface MergingDevice {
  readonly accountId: string;
  readonly deviceId: string;
}

export const isSide = (value: unknown): value is Side =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isOrigin = (value: unknown): value is SideOrigin =>
  isSide(value) &&
  typeof value['by'] === 'string' &&
  typeof value['author'] === 'string' &&
  typeof value['updatedAt'] === 'string';

/** A side without `_recordFrom`, which names the record's writer, not the side's. */
const withoutRecordFrom = (side: Side): Side => {
  const { [RECORD_FROM_KEY]: _shown, ...own } = side;
  return own;
};

/**
 * Every side a `conflictData` holds: itself (without the list and `_recordFrom`) and the sides it lists.
 * A listed side may carry a `_recordFrom` too: a build before it took the key for a field of the side
 * it carried on. No record has such a field, so it is dropped there as well.
 */
export const sidesOf = (conflictData: Side | null): Side[] => {
  if (conflictData === null) return [];
  const { [EARLIER_CONFLICTS_KEY]: earlier, ...own } = conflictData;
  return [own, ...(Array.isArray(earlier) ? earlier.filter(isSide) : [])].map(withoutRecordFrom);
};

/**
 * Who wrote the content `r` shows: the writer a merge named (`_recordFrom`), else the version's own. A
 * merge is re-stamped with the merging device, which wrote none of it.
 */
export const originOf = (
  r: Pick<PlainRecord, 'by' | 'author' | 'updatedAt' | 'conflictData'>,
): SideOrigin => {
  const named = r.conflictData?.[RECORD_FROM_KEY];
  return isOrigin(named)
    ? { by: named.by, author: named.author, updatedAt: named.updatedAt }
    : { by: r.by, author: r.author, updatedAt: r.updatedAt };
};

const DELETION_NOTE = 'deleted on another device while edited here';

/** The side a merge keeps when a delete raced an edit: who deleted, when (see resolveRecordConflict). */
export const isDeletionSide = (side: Side): boolean =>
  side['note'] === DELETION_NOTE &&
  typeof side['deletedBy'] === 'string' &&
  typeof side['deletedAt'] === 'string' &&
  Object.keys(side).length === 3;

/**
 * The times at which account `by` wrote a side kept in `conflictData` (an edit's `_conflictFrom`, a
 * deletion's `deletedAt`), as the sides say. A merge is dated by the side it shows (`...winner`), not
 * when it was made, so its `updatedAt` may be another writer's time; the merging account's own sides
 * date what it wrote (record-codec.ts, the write-grant check).
 */
export const sideTimesBy = (conflictData: Side | null, by: string): string[] =>
  sidesOf(conflictData).flatMap((side) => {
    if (isDeletionSide(side)) return side['deletedBy'] === by ? [side['deletedAt'] as string] : [];
    const from = side[CONFLICT_FROM_KEY];
    return isOrigin(from) && from.by === by ? [from.updatedAt] : [];
  });

/**
 * The sides of a record's `conflictData` as the FHIR export takes them: each kept version as a record of
 * `kind` (without `_conflictFrom`), each deletion as who and when. A side that is no valid version of
 * the record `data` (another id or patient, or content this build's model refuses) is left out: the
 * export marks the record disputed all the same, and one side it cannot read must not fail it.
 */
export const exportSidesOf = (kind: RecordKind, data: Side, conflictData: Side | null): FhirConflictSide[] =>
  sidesOf(conflictData).flatMap((side): FhirConflictSide[] => {
    if (isDeletionSide(side)) {
      const { deletedBy: by, deletedAt: at } = side;
      return isAccountId(by) && typeof at === 'string' && isIsoDateTime(at) ? [{ deletion: { by, at } }] : [];
    }
    const { [CONFLICT_FROM_KEY]: _from, ...content } = side;
    if (content['id'] !== data['id'] || content['patientId'] !== data['patientId']) return [];
    const checked = validateRecord(kind, content);
    return checked.ok ? [{ record: checked.value }] : [];
  });

/** Record content as compared between sides: without `updatedAt`, which every write re-stamps. */
const clinicalJson = (data: Side): string => {
  const { updatedAt: _stamped, ...content } = data;
  return canonicalJson(content);
};

/** A kept side's content, comparable with a record's: without who wrote it. */
const sideContentJson = (side: Side): string => {
  const { [CONFLICT_FROM_KEY]: _from, ...data } = side;
  return clinicalJson(data);
};

/**
 * The `conflictData` sides of a record showing `shown`: `primary` (the side this merge lost, if any) on
 * top, then `carried` sorted, without a side equal to the record and one side per content. Sides equal
 * but for their time and writer (one edit made on two devices) are one: the one kept is the least in
 * canonical order, whichever state carried it, so the set kept does not follow the order of merges. Null
 * when none is left. The top is `primary`'s, or the first carried side when `primary` was dropped.
 */
const keptSides = (primary: Side | null, carried: Side[], shown: Side): Side | null => {
  const shownJson = clinicalJson(shown);
  const byContent = new Map<string, { side: Side; json: string }>();
  for (const side of primary === null ? carried : [primary, ...carried]) {
    const content = sideContentJson(side);
    if (content === shownJson) continue;
    const json = canonicalJson(side);
    const held = byContent.get(content);
    if (held === undefined || json < held.json) byContent.set(content, { side, json });
  }
  const topContent = primary === null ? undefined : sideContentJson(primary);
  const top = topContent === undefined ? undefined : byContent.get(topContent)?.side;
  const rest = [...byContent.entries()]
    .filter(([content]) => top === undefined || content !== topContent)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, { side }]) => side);
  const first = top ?? rest.shift();
  if (first === undefined) return null;
  return rest.length === 0 ? first : { ...first, [EARLIER_CONFLICTS_KEY]: rest };
};

/** The conflict state of a record showing `shown` (written by `from`) beside the sides kept. */
const conflictState = (
  sides: Side | null,
  from: SideOrigin,
): Pick<PlainRecord, 'conflict' | 'conflictData'> =>
  sides === null
    ? { conflict: false, conflictData: null }
    : { conflict: true, conflictData: { ...sides, [RECORD_FROM_KEY]: { ...from } } };

const contentKey = (r: WithDeleted<PlainRecord>): string =>
  canonicalJson({
    kind: r.kind,
    by: r.by,
    data: r.data,
    conflict: r.conflict,
    conflictData: r.conflictData,
    deleted: r._deleted,
  });

/** Content without bookkeeping: what two states must differ in to be a conflict. */
const clinicalKey = (r: WithDeleted<PlainRecord>): string =>
  canonicalJson({
    kind: r.kind,
    data: clinicalJson(r.data),
    conflict: r.conflict,
    conflictData: r.conflictData,
    deleted: r._deleted,
  });

// `compareInstants` orders `updatedAt` as time, then as text: a total order that depends on the two
// states alone. It lives in @hale/model beside the date-time format, whose instant reading the FHIR export
// and the record codec share; exported here too for the callers that took it from here.
export { compareInstants };

// The tie-break names the device that wrote the content, not the one that merged it: the order of two
// states does not change when a merge of one is re-stamped. One device can write both sides in the same
// millisecond (two tabs, a clock that did not move), so the writer's account and then the content itself
// decide last: a total order of the two states, whichever of them the server holds.
const later = (a: WithDeleted<PlainRecord>, b: WithDeleted<PlainRecord>): boolean => {
  const byTime = compareInstants(a.updatedAt, b.updatedAt);
  if (byTime !== 0) return byTime > 0;
  const [from, to] = [originOf(a), originOf(b)];
  if (from.author !== to.author) return from.author > to.author;
  if (from.by !== to.by) return from.by > to.by;
  return clinicalKey(a) > clinicalKey(b);
};

/**
 * Merges the server's state (`master`) with this device's (`local`), written by `writer`: the device
 * that resolves and sends the merge. Without `writer`, the writer of `local` (in RxDB's replication, the
 * local state is always the resolving device's own write).
 */
export const resolveRecordConflict = (
  master: WithDeleted<PlainRecord>,
  local: WithDeleted<PlainRecord>,
  writer: MergingDevice = { accountId: local.by, deviceId: local.author },
): WithDeleted<PlainRecord> => {
  // Deleted on both sides: both people removed the record, so no content either wanted is lost, and a
  // conflict kept on a tombstone could never be seen or settled (it was pushed as a new version, and
  // counted pending, all the same). The content each deleted may differ (an edit made, then deleted).
  if (master._deleted && local._deleted) return master;
  const rv = Math.max(master.rv, local.rv) + 1;
  const stamp = { by: writer.accountId, author: writer.deviceId };
  // The same content on both sides is no conflict, but the later copy is kept, not the server's: the
  // record a third edit meets must not depend on which of the two reached the server first (an edit made
  // between them would win against the earlier copy and lose against the later one).
  if (clinicalKey(master) === clinicalKey(local))
    return later(local, master) ? { ...local, ...stamp, rv } : master;
  if (master._deleted !== local._deleted) {
    const kept = master._deleted ? local : master;
    const gone = master._deleted ? master : local;
    return {
      ...kept,
      ...stamp,
      rv,
      _deleted: false,
      ...conflictState(
        keptSides(
          { deletedBy: gone.by, deletedAt: gone.updatedAt, note: DELETION_NOTE },
          [...sidesOf(kept.conflictData), ...sidesOf(gone.conflictData)],
          kept.data,
        ),
        originOf(kept),
      ),
    };
  }
  const [winner, loser] = later(local, master) ? [local, master] : [master, local];
  return {
    ...winner,
    ...stamp,
    rv,
    ...conflictState(
      keptSides(
        { ...loser.data, [CONFLICT_FROM_KEY]: { ...originOf(loser) } },
        [...sidesOf(winner.conflictData), ...sidesOf(loser.conflictData)],
        winner.data,
      ),
      originOf(winner),
    ),
  };
};

/**
 * What `writer` sends over a server version (`master`) it refused as forged, in place of a merge: the local
 * state whole (content, conflict state, deletion, `updatedAt`), written by `writer` (the server takes a
 * version only from its author device) under the next revision number past both (the server takes a
 * write only with a higher number than the version it replaces). No side of `master` is kept: a merge
 * keeping it would carry the forged content to every device that takes the merge.
 */
export const overwriteRefused = (
  master: Pick<PlainRecord, 'rv'>,
  local: WithDeleted<PlainRecord>,
  writer: MergingDevice,
): WithDeleted<PlainRecord> => ({
  ...local,
  by: writer.accountId,
  author: writer.deviceId,
  rv: Math.max(local.rv, master.rv + 1),
});

/**
 * RxDB's conflict handler for the records of a session whose merges `writer` writes; without one, each
 * merge is written by the writer of the local state.
 */
export const recordConflictHandlerFor = (writer?: MergingDevice): RxConflictHandler<PlainRecord> => ({
  isEqual: (a, b) => a.rv === b.rv && contentKey(a) === contentKey(b),
  resolve: async (input) => resolveRecordConflict(input.realMasterState, input.newDocumentState, writer),
});

/** The handler without a named writer: each merge is written by the writer of the local state. */
export const recordConflictHandler: RxConflictHandler<PlainRecord> = recordConflictHandlerFor();
