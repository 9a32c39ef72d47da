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
 */
import type { RxConflictHandler, WithDeleted } from 'rxdb';
import { canonicalJson } from '@hale/crypto';
import type { PlainRecord } from './record-codec';

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
      conflictData: {
        deletedBy: gone.by,
        deletedAt: gone.updatedAt,
        note: 'deleted on another device while edited here',
      },
    };
  }
  const [winner, loser] = later(local, master) ? [local, master] : [master, local];
  return {
    ...winner,
    rv,
    conflict: true,
    conflictData: {
      ...loser.data,
      _conflictFrom: { by: loser.by, author: loser.author, updatedAt: loser.updatedAt },
    },
  };
};

export const recordConflictHandler: RxConflictHandler<PlainRecord> = {
  isEqual: (a, b) => a.rv === b.rv && contentKey(a) === contentKey(b),
  resolve: async (input) => resolveRecordConflict(input.realMasterState, input.newDocumentState),
};
