/*
 * Where the CouchDB store keeps a record's versions (docs.ts): each version once, in the stream block of
 * the commit that gave it its seq, so a pull reads a stream's versions by id range, not record by record.
 *
 * | document             | holds                                                                       |
 * | -------------------- | --------------------------------------------------------------------------- |
 * | `q|stream|last`       | `{ first, ids, v }`: the versions that took seqs first…last, whole (`v[i]`: |
 * |                      | the version of `ids[i]` at seq first + i); immutable                        |
 * | `qx|stream|seq`       | `{}`: the version at `seq` is superseded (its record was written again);    |
 * |                      | created by the commit that supersedes it; immutable                         |
 * | `d|stream|id`         | the record's index: `{ seq, rev, deleted, bytes, q, creator? }` (`q`: its   |
 * |                      | block's last; `creator`: the record's, as its first version set it)         |
 *
 * Invariants:
 * - A version in a block is its record's current one unless a `qx` marker names its seq: a commit that
 *   writes a record again creates the marker of the seq it supersedes, with the version's new block, and
 *   flags the stream in its shard's state (`rewritten`): a stream never flagged has no marker to read.
 *   Readers read up to the stream's settled head (docs.ts), whose commits are applied whole, so a marker of
 *   a seq below it is there when the newer version is.
 * - A record's creator is set by the version that creates its `d` document and copied from `d` into each
 *   later version and index, so it never changes while `d` exists (a deletion keeps it).
 * - Blocks and markers are created, never changed; a split-brain loser's are made `gone` (conflicts.ts)
 *   and read as absent; a block with conflicting revisions is read at its highest commit stamp (db.ts).
 * Failure modes: as db.ts; a record index whose block does not hold its seq → INTERNAL (a damaged store).
 */
import { StoreError, type Doc, type DocInput } from '../types';
import { fromBase64, key, lastPart, prefix, toBase64, type CouchDoc, type Db } from './db';
import { isGone } from './ops';

/** A version as a block holds it (its stream, id and seq are the block's). */
export interface Entry {
  rev: string;
  deleted: boolean;
  epoch: number;
  ct: string;
  bytes: number;
  size: number;
  author: string;
  at: string;
  sig?: string;
  audit?: NonNullable<Doc['audit']>;
  /** The record's creator (`Doc.creator`), repeated in each of its versions. */
  creator?: string;
}

/** The block entry of `doc` received at `at`, a version of a record created by `creator`. */
export const entryOf = (doc: DocInput, at: string, creator: string | undefined): Entry => ({
  rev: doc.rev,
  deleted: doc.deleted,
  epoch: doc.epoch,
  ct: toBase64(doc.ct),
  bytes: doc.ct.byteLength,
  size: doc.size,
  author: doc.author,
  at,
  ...(doc.sig === undefined ? {} : { sig: doc.sig }),
  ...(doc.audit === undefined
    ? {}
    : { audit: { authorSeq: doc.audit.authorSeq, prevHash: doc.audit.prevHash, at: doc.audit.at } }),
  ...(creator === undefined ? {} : { creator }),
});

const toDoc = (stream: string, id: string, seq: number, e: Entry): Doc => {
  const doc: Doc = {
    stream,
    id,
    seq,
    rev: e.rev,
    deleted: e.deleted,
    epoch: e.epoch,
    ct: fromBase64(e.ct),
    size: e.size,
    author: e.author,
    at: e.at,
  };
  if (typeof e.sig === 'string') doc.sig = e.sig;
  if (e.audit !== undefined && e.audit !== null) doc.audit = { ...e.audit };
  if (typeof e.creator === 'string') doc.creator = e.creator;
  return doc;
};

/** A version whole in one document (a batch's own earlier rows, docs.ts). */
export const docToDoc = (d: CouchDoc): Doc =>
  toDoc(d.stream as string, d.id as string, d.seq as number, d as unknown as Entry);

/** A version of a block, or null when the block does not hold that seq. */
const versionIn = (stream: string, block: CouchDoc, seq: number): Doc | null => {
  const first = block.first as number;
  const id = (block.ids as string[] | undefined)?.[seq - first];
  const e = (block.v as Entry[] | undefined)?.[seq - first];
  return id === undefined || e === undefined ? null : toDoc(stream, id, seq, e);
};

/**
 * The current versions of records whose `d` documents are `ds` (read, live), in order, read from their
 * blocks, one request for all.
 */
export const versionsOf = async (data: Db, ds: readonly CouchDoc[]): Promise<Doc[]> => {
  const blockId = (d: CouchDoc): string => key('q', d.stream as string, d.q as number);
  const blocks = await data.getMany(ds.map(blockId));
  return ds.map((d) => {
    const block = blocks.get(blockId(d));
    const v =
      block === undefined || isGone(block) ? null : versionIn(d.stream as string, block, d.seq as number);
    if (v === null || v.id !== d.id)
      throw new StoreError('INTERNAL', `the block of ${d._id} does not hold it`);
    return v;
  });
};

/**
 * The current versions of `stream` with seqs in (after, to], in seq order, with their bytes: the blocks
 * and markers of that range (the block holding `to` read too when it ends above it; the markers only when
 * `marked`: the shard state says the stream has some).
 */
export const versionsIn = async (
  data: Db,
  stream: string,
  after: number,
  to: number,
  marked: boolean,
): Promise<Array<{ doc: Doc; bytes: number }>> => {
  const [blocks, marks] = await Promise.all([
    data.range(prefix('q', stream), { startAfter: key('q', stream, after), until: key('q', stream, to) }),
    marked
      ? data.range(prefix('qx', stream), {
          startAfter: key('qx', stream, after),
          until: key('qx', stream, to),
        })
      : [],
  ]);
  const lastOf = (b: CouchDoc): number => Number(lastPart(b._id));
  const tail = blocks.at(-1);
  if (tail === undefined || lastOf(tail) < to) {
    const [next] = await data.range(prefix('q', stream), {
      startAfter: tail?._id ?? key('q', stream, after),
      limit: 1,
    });
    if (next !== undefined) blocks.push(next);
  }
  const superseded = new Set(marks.filter((m) => !isGone(m)).map((m) => Number(lastPart(m._id))));
  const out: Array<{ doc: Doc; bytes: number }> = [];
  for (const block of blocks) {
    if (isGone(block)) continue;
    const first = block.first as number;
    for (let seq = Math.max(first, after + 1); seq <= Math.min(lastOf(block), to); seq++) {
      if (superseded.has(seq)) continue;
      const doc = versionIn(stream, block, seq);
      if (doc !== null) out.push({ doc, bytes: doc.ct.byteLength });
    }
  }
  return out;
};
