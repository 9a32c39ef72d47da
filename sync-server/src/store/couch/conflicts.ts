/*
 * Split-brain resolution (log.ts, ops.ts): a CouchDB cluster can accept two writes of one document on two
 * nodes during a partition and keep both revisions (`_conflicts`). In this store that means two commits
 * created with one id `l|X|n` (the compare-and-swap failed to be one), or two versions of a materialized
 * document. How the store keeps a single history:
 *
 * | where                     | rule                                                                        |
 * | ------------------------- | --------------------------------------------------------------------------- |
 * | a write without quorum    | CouchDB answers 202 (fewer than `w` copies): the store takes it as refused   |
 * |                           | (UNAVAILABLE, store.ts), so a commit on the minority side is never acknowledged |
 * | a commit with conflicts   | the revision marked applied (acknowledged) wins, else one whose transaction  |
 * |                           | committed, else CouchDB's own winner; the others are deleted, what they wrote |
 * |                           | that the winner did not is removed, and the winner's ops applied again over |
 * |                           | any document holding the same stamp (`resolveCommit`)                      |
 * | a document with conflicts | read: the leaf with the highest commit stamp (`cn`), ties to CouchDB's winner; |
 * |                           | the other leaves are deleted then (`pickLeaf`), and when a commit writes it   |
 *
 * Invariants: the resolution is deterministic (every node picks the same winner) and idempotent (any node
 * may run it, again). Failure modes: UNAVAILABLE when CouchDB cannot be reached (the next settle resolves).
 */
import type { CouchDoc, Db, PouchDbLike } from './db';
import { applyOps, type Op } from './ops';
import { opsOf } from './commit-ops';

interface CommitLike extends CouchDoc {
  n: number;
  ops?: Op[];
  tx?: string;
  applied?: boolean;
  aborted?: boolean;
}

/** Deletes the losing revisions of `doc` (its `_conflicts`), leaving CouchDB's winner. */
export const dropLosers = async (db: Db, doc: CouchDoc): Promise<void> => {
  const losers = doc._conflicts ?? [];
  if (losers.length === 0) return;
  await db.bulk(losers.map((rev) => ({ _id: doc._id, _rev: rev, _deleted: true })));
};

/**
 * Makes one revision of a conflicted commit the commit: see the header. Answers once the others are gone
 * and the winner's ops are in place.
 */
export const resolveCommit = async (log: Db, data: Db, current: CommitLike): Promise<void> => {
  const revs = [current._rev, ...(current._conflicts ?? [])].filter(
    (r): r is string => typeof r === 'string',
  );
  const leaves: CommitLike[] = [];
  for (const rev of revs) {
    const leaf = (await log.raw.get(current._id, { rev })) as CommitLike;
    leaves.push(leaf);
  }
  const txCommitted = async (leaf: CommitLike): Promise<boolean> =>
    leaf.tx !== undefined && (await log.get(leaf.tx))?.status === 'committed';
  let winner = leaves.find((l) => l.applied === true && l.aborted !== true) ?? null;
  for (const leaf of leaves) {
    if (winner !== null) break;
    if (await txCommitted(leaf)) winner = leaf;
  }
  winner ??= leaves[0] ?? current;
  const losers = leaves.filter((l) => l._rev !== winner._rev);
  // Each leaf's ops read at its own revision, before the losers are deleted.
  const winnerOps = await opsOf(log, winner);
  const loserOps = await Promise.all(losers.map((l) => opsOf(log, l)));
  await log.bulk(losers.map((l) => ({ _id: l._id, _rev: l._rev, _deleted: true })));
  // What only the losers wrote goes; what both wrote takes the winner's version.
  const mine = new Set(winnerOps.map((op) => op.doc._id));
  const theirs = [...new Set(loserOps.flat().map((op) => op.doc._id))].filter((id) => !mine.has(id));
  const stored = await data.getMany(theirs);
  const undo: Op[] = [];
  for (const id of theirs) {
    const doc = stored.get(id);
    if (doc !== undefined && (doc.cn === current.n || doc.cn === undefined))
      undo.push({ t: 'put', doc: { _id: id, gone: true } });
  }
  await applyOps(data, current.n, undo, { force: true });
  if (winner.aborted !== true) await applyOps(data, current.n, winnerOps, { force: true });
};

/** The revision of a conflicted materialized document to use (header), the others deleted. */
export const pickLeaf = async (raw: PouchDbLike, doc: CouchDoc): Promise<CouchDoc> => {
  const leaves: CouchDoc[] = [doc];
  for (const rev of doc._conflicts ?? []) leaves.push(await raw.get(doc._id, { rev }));
  const stamp = (d: CouchDoc): number => (typeof d.cn === 'number' ? d.cn : -1);
  const best = leaves.reduce((a, b) => (stamp(b) > stamp(a) ? b : a));
  const losers = leaves.filter((l) => l._rev !== best._rev);
  await raw.bulkDocs(losers.map((l) => ({ _id: l._id, _rev: l._rev, _deleted: true })));
  const { _conflicts: _ignored, ...chosen } = best;
  if (best._rev === doc._rev) return chosen;
  // The chosen leaf is current now that the others are deleted.
  return chosen;
};
