/*
 * What only a migration writes into the CouchDB store (migrate.ts): a stream's documents at the seqs they
 * had (with their creators), each in a block of its own (blocks.ts), its head as it was (above its last document when superseded versions left
 * gaps), its kept signed head, and blob tombstones. Devices keep their checkpoints across a migration, so seqs must not change.
 *
 * Invariants: each call is commits of the stream's shard (log.ts), in seq order, the last setting the head;
 * a reader sees a prefix of the imported stream, never a gap that is not in the source. Failure modes: as
 * log.ts; INVALID for a document whose seq is above the head given.
 */
import type { BlobTombstone, Doc, HeadRow, JsonObject } from '../types';
import { entryOf } from './blocks';
import { key } from './db';
import { Parts, type Ctx } from './context';
import { shardOf } from './log';
import { create, put } from './ops';
import { invalid } from '../store-checks';

const PER_COMMIT = 200;

export interface CouchImport {
  stream(
    stream: string,
    head: number,
    docs: readonly Doc[],
    kept?: { seq: number; signed: JsonObject; rows: readonly HeadRow[] },
  ): Promise<void>;
  tombstone(tombstone: BlobTombstone): Promise<void>;
}

export const couchImport = (ctx: Ctx): CouchImport => ({
  stream: async (stream, head, docs, kept) => {
    const sorted = [...docs].sort((a, b) => a.seq - b.seq);
    if (sorted.some((d) => d.seq > head || d.stream !== stream))
      throw invalid(`a document of ${stream} lies above its head ${head}`);
    const shard = shardOf(stream);
    for (let i = 0; i === 0 || i < sorted.length; i += PER_COMMIT) {
      const chunk = sorted.slice(i, i + PER_COMMIT);
      const last = i + PER_COMMIT >= sorted.length;
      const to = last ? head : (chunk.at(-1)?.seq ?? head);
      await ctx.log.commit([shard], async (snaps) => {
        const parts = new Parts();
        const part = parts.part(shard);
        const base = snaps.get(shard)?.state ?? { heads: {} };
        part.state = { ...base, heads: { ...base.heads, [stream]: to } };
        part.advanced = [{ stream, head: to }];
        for (const d of chunk) {
          parts.ops(
            shard,
            put({
              _id: key('d', stream, d.id),
              stream,
              id: d.id,
              seq: d.seq,
              rev: d.rev,
              deleted: d.deleted,
              bytes: d.ct.byteLength,
              q: d.seq,
              ...(d.creator === undefined ? {} : { creator: d.creator }),
            }),
            // A block of its own: the stream's seqs may have gaps (superseded versions are not copied).
            create({
              _id: key('q', stream, d.seq),
              first: d.seq,
              ids: [d.id],
              v: [entryOf(d, d.at, d.creator)],
            }),
          );
          if (d.audit !== undefined) {
            parts.ops(
              shard,
              create({ _id: key('ap', stream, d.author, d.audit.authorSeq), id: d.id }),
              create({ _id: key('aa', stream, d.author, d.at, d.id), at: d.at }),
            );
          }
        }
        if (last && kept !== undefined) {
          const rows = [...kept.rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
          parts.ops(shard, put({ _id: key('hk', stream), seq: kept.seq, signed: kept.signed, rows }));
        }
        return { parts: parts.map, result: undefined };
      });
    }
  },
  tombstone: async (tombstone) => {
    const shard = shardOf(tombstone.stream);
    await ctx.log.commit([shard], async () => {
      const parts = new Parts();
      parts.ops(shard, put({ _id: key('bt', tombstone.blobId), tombstone }));
      return { parts: parts.map, result: undefined };
    });
  },
});
