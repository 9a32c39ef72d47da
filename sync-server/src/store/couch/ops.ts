/*
 * Materializing a commit (log.ts): the plain documents a commit's ops write, idempotently, so that any node
 * may apply a commit, any number of times, concurrently with others.
 *
 * | op      | effect                                                                                      |
 * | ------- | ------------------------------------------------------------------------------------------- |
 * | put     | the document's body becomes `doc`, stamped `cn` = the commit's number in its owner shard, unless |
 * |         | the stored one carries a stamp at or above it (a later commit already wrote it)              |
 * | create  | an immutable document (a stream entry, a chain position): created once; a 409 means it is there |
 *
 * Invariants: each materialized document is written by the commits of one shard only (its owner), so stamps
 * compare; a removal is a put of `{ gone: true }` (the store reads such a document as absent), never a
 * CouchDB delete, so a stale apply cannot bring back what a later commit removed. Puts and creates go in one
 * request, in no particular order of visibility: readers of a stream read only up to its shard's settled
 * state, whose last commit is applied whole before it counts (log.ts).
 * Failure modes: UNAVAILABLE when CouchDB cannot be reached (the commit stays unapplied; the next settle
 * applies it).
 */
import type { CouchDoc, Db } from './db';
import { dropLosers } from './conflicts';

export type Op = { t: 'put'; doc: CouchDoc } | { t: 'create'; doc: CouchDoc };

export const put = (doc: CouchDoc): Op => ({ t: 'put', doc });
export const create = (doc: CouchDoc): Op => ({ t: 'create', doc });
export const gone = (id: string): Op => ({ t: 'put', doc: { _id: id, gone: true } });

/** True for a document the store reads as absent: missing, deleted, or removed by a commit. */
export const isGone = (doc: CouchDoc | null | undefined): boolean =>
  doc === null || doc === undefined || doc._deleted === true || doc.gone === true;

const stampOf = (doc: CouchDoc | undefined): number => (typeof doc?.cn === 'number' ? doc.cn : -1);

/**
 * `force` (split-brain resolution, conflicts.ts): a document stamped with this very commit is written again
 * too, and creates become puts, so the winner's version replaces a loser's written under the same number.
 * `revs` (the commit's own writer): the `_rev` (null: none) documents had on the state the commit was built
 * on. Those are written on it without being read first: nothing but this commit can have written them since
 * (no later commit exists before this one is applied), and if a node helping apply it did, the write is
 * refused (409) and the document read and decided as any other.
 */
export const applyOps = async (
  data: Db,
  n: number,
  ops: readonly Op[],
  options: { force?: boolean; revs?: ReadonlyMap<string, string | null> | undefined } = {},
): Promise<void> => {
  const force = options.force === true;
  const revs = force ? undefined : options.revs;
  const puts = force ? ops : ops.filter((op) => op.t === 'put');
  // The last put of an id in one commit wins (a batch may write one record twice).
  const byId = new Map<string, CouchDoc>();
  for (const op of puts) byId.set(op.doc._id, op.doc);
  const creates = force ? [] : ops.filter((op) => op.t === 'create').map((op) => ({ ...op.doc }));
  let pending = [...byId.values()];
  // Creates go with the first round of puts, in one request: a 409 on a create is the document already there.
  let withCreates = true;
  for (let round = 0; pending.length > 0 || withCreates; round++) {
    const known = round === 0 ? revs : undefined;
    const stored = await data.getMany(pending.filter((d) => known?.has(d._id) !== true).map((d) => d._id));
    const writes: CouchDoc[] = [];
    for (const doc of pending) {
      if (known?.has(doc._id) === true) {
        const rev = known.get(doc._id);
        writes.push({ ...doc, cn: n, ...(rev === null || rev === undefined ? {} : { _rev: rev }) });
        continue;
      }
      const current = stored.get(doc._id);
      if (force ? stampOf(current) > n : stampOf(current) >= n) continue;
      if (current?._conflicts !== undefined && current._conflicts.length > 0) await dropLosers(data, current);
      const next: CouchDoc = { ...doc, cn: n };
      if (current?._rev !== undefined) next._rev = current._rev;
      writes.push(next);
    }
    const extra = withCreates ? creates : [];
    withCreates = false;
    const results = await data.bulk([...writes, ...extra]);
    pending = writes.filter((_, i) => results[i] === 'conflict').map((w) => ({ ...w, _rev: undefined }));
    if (round > 50 && pending.length > 0)
      throw new Error('could not apply a commit: its documents keep changing');
  }
};
