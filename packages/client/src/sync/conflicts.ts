/**
 * Conflict resolution on plaintext, run by RxDB when the server refuses a push because another device
 * wrote first.
 *
 * Invariants:
 * - Deterministic: the result depends only on the two states, so every device resolving the same
 *   conflict reaches the same content.
 * - Nothing clinical is dropped silently: when both sides changed the content, the later edit
 *   (updatedAt, then author device id as tie-break) becomes the record and the other side is kept in
 *   `conflictData` with `conflict: true`, visible until a person settles it. A delete racing an edit keeps
 *   the edit (undeleted) and marks the conflict.
 * - Unsettled sides accumulate: a side either state already kept (its `conflictData`, and the sides
 *   listed in that object's `_earlierConflicts`) is carried into the result's `_earlierConflicts`, so a
 *   third device's edit does not push out the second's. The list is de-duplicated and sorted. Which side
 *   sits at the top of `conflictData` (the one this merge lost) depends on the order of merges; the
 *   record and the set of kept sides do not. Devices still agree: each merge is pushed to the server,
 *   whose version every device then takes.
 */
import type { RxConflictHandler, WithDeleted } from 'rxdb';
import { canonicalJson } from '@hale/crypto';
import type { PlainRecord } from './record-codec';

/** Key of `conflictData` under which sides from earlier, still unsettled conflicts are kept. */
export const EARLIER_CONFLICTS_KEY = '_earlierConflicts';

type Side = Record<string, unknown>;

export const isSide = (value: unknown): value is Side =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every side a `conflictData` holds: itself (without the list) and the sides it lists. */
export const sidesOf = (conflictData: Side | null): Side[] => {
  if (conflictData === null) return [];
  const { [EARLIER_CONFLICTS_KEY]: earlier, ...own } = conflictData;
  return [own, ...(Array.isArray(earlier) ? earlier.filter(isSide) : [])];
};

const DELETION_NOTE = 'deleted on another device while edited here';

/** The side a merge keeps when a delete raced an edit: who deleted, when (see resolveRecordConflict). */
export const isDeletionSide = (side: Side): boolean =>
  side['note'] === DELETION_NOTE &&
  typeof side['deletedBy'] === 'string' &&
  typeof side['deletedAt'] === 'string' &&
  Object.keys(side).length === 3;

const withEarlier = (primary: Side, carried: Side[]): Side => {
  const seen = new Set([canonicalJson(primary)]);
  const keyed: Array<[string, Side]> = [];
  for (const side of carried) {
    const key = canonicalJson(side);
    if (seen.has(key)) continue;
    seen.add(key);
    keyed.push([key, side]);
  }
  if (keyed.length === 0) return primary;
  keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { ...primary, [EARLIER_CONFLICTS_KEY]: keyed.map(([, side]) => side) };
};

const contentKey = (r: WithDeleted<PlainRecord>): string =>
  canonicalJson({
    kind: r.kind,
    by: r.by,
    data: r.data,
    conflict: r.conflict,
    conflictData: r.conflictData,
    deleted: r._deleted,
  });

const later = (a: WithDeleted<PlainRecord>, b: WithDeleted<PlainRecord>): boolean =>
  a.updatedAt !== b.updatedAt ? a.updatedAt > b.updatedAt : a.author > b.author;

export const resolveRecordConflict = (
  master: WithDeleted<PlainRecord>,
  local: WithDeleted<PlainRecord>,
): WithDeleted<PlainRecord> => {
  if (contentKey(master) === contentKey(local)) return master;
  const rv = Math.max(master.rv, local.rv) + 1;
  if (master._deleted !== local._deleted) {
    const kept = master._deleted ? local : master;
    const gone = master._deleted ? master : local;
    return {
      ...kept,
      rv,
      _deleted: false,
      conflict: true,
      conflictData: withEarlier(
        {
          deletedBy: gone.by,
          deletedAt: gone.updatedAt,
          note: DELETION_NOTE,
        },
        [...sidesOf(kept.conflictData), ...sidesOf(gone.conflictData)],
      ),
    };
  }
  const [winner, loser] = later(local, master) ? [local, master] : [master, local];
  return {
    ...winner,
    rv,
    conflict: true,
    conflictData: withEarlier(
      {
        ...loser.data,
        _conflictFrom: { by: loser.by, author: loser.author, updatedAt: loser.updatedAt },
      },
      [...sidesOf(winner.conflictData), ...sidesOf(loser.conflictData)],
    ),
  };
};

export const recordConflictHandler: RxConflictHandler<PlainRecord> = {
  isEqual: (a, b) => a.rv === b.rv && contentKey(a) === contentKey(b),
  resolve: async (input) => resolveRecordConflict(input.realMasterState, input.newDocumentState),
};
