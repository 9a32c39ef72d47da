/*
 * Record documents of the CouchDB store (types.ts `docs`, `heads`).
 *
 * | document                     | holds                                                              |
 * | ---------------------------- | ------------------------------------------------------------------ |
 * | `d|stream|id`                 | the record's index: seq, rev, deleted, bytes, its block (blocks.ts), |
 * |                              | its creator (set when it is created, never changed)                |
 * | `q|stream|last`               | `{ first, ids, v }`: the versions that took seqs first…last, whole, |
 * |                              | one block per stream per commit (immutable; superseded ones stay,  |
 * |                              | `qx|stream|seq` marks them)                                        |
 * | `ap|stream|author|authorSeq`  | `{ id }`: an audit chain position held (immutable)                 |
 * | `aa|stream|author|at|id`      | an audit entry by author and receive time (immutable)              |
 * | `hk|stream`                   | the kept signed stream head with the rows it covers                |
 * | shard log `state.heads`       | each stream's last allocated seq (log.ts)                          |
 * | shard log `state.epochs`      | each stream's current key epoch (set by envelopes.putAll, blobs.ts)|
 *
 * Invariants:
 * - A batch is one commit of the shards of its streams (and of what its guard reads): the compare-and-set
 *   of every row, the epoch checks, the audit positions and the seq allocation are decided on the state the
 *   commit's shards were settled at, and the commit is created only if no other commit came between.
 *   Seqs are the shard state's heads + 1, so gap-free and strictly increasing per stream, across nodes.
 * - readDocs reads up to the stream's head in its shard's settled state (every commit up to it is applied),
 *   so a reader never sees seq n+1 before n, nor part of a batch; a version is returned only while it is
 *   its record's current one (no `qx` marker of its seq).
 * - A group (`DocWrite.group`) is decided on the same settled state as the rest of the batch: if a row of
 *   it would not be written, the batch creates no commit (`groupRefusal`), so a group is stored whole or
 *   not at all; no lock or transaction of CouchDB's is needed (the log's commit is the atomic step).
 * - A conflict's `keptFrom` is never given: this store records no restore origin (restore is by CouchDB
 *   replication, docs/operations.md).
 * Failure modes: as log.ts; a guard's refusal reaches the caller unchanged.
 */
import {
  StoreError,
  isAuditStream,
  type AccessGuard,
  type Doc,
  type DocPage,
  type DocWrite,
  type DocWriteResult,
  type HeadRow,
  type KeepHeadResult,
  type KeptHead,
  type StreamHead,
  type SyncStore,
} from '../types';
import { key, lastPart, prefix, type CouchDoc } from './db';
import { docToDoc, entryOf, versionsIn, versionsOf, type Entry } from './blocks';
import { batchedReader, guarded, type Reader, guardShards, Parts, type Ctx } from './context';
import { shardOf, type Snapshot } from './log';
import { create, isGone, put } from './ops';
import { invalid, validateDocWrite, validateGuard } from '../store-checks';
import { groupRefusal } from '../store-records';

/** What a batch's rows decide on the state read: results, and what to write per shard. */
export interface RowsPlan {
  results: DocWriteResult[];
  positionTaken: boolean;
  heads: Map<string, number>;
  /** The `_rev` (null: none) each record document written had on the state read (log.ts Plan `revs`). */
  revs: Map<string, string | null>;
}

/**
 * Decides `rows` on the state settled in `snaps` (complete through their last commits) and adds what they
 * write to `parts`. Throws TOO_LARGE or CONFLICT (expectRefused) as the contract says, writing nothing.
 */
export const planRows = async (
  ctx: Ctx,
  snaps: Map<string, Snapshot>,
  rows: DocWrite[],
  now: string,
  parts: Parts,
  maxMasterBytes?: number,
  read: Reader = (ids) => ctx.data.getMany(ids),
): Promise<RowsPlan> => {
  // The reads are independent: at once.
  const [current, positions] = await Promise.all([
    read(rows.map((r) => key('d', r.doc.stream, r.doc.id))),
    read(
      rows.flatMap((r) =>
        r.doc.audit !== undefined && isAuditStream(r.doc.stream)
          ? [key('ap', r.doc.stream, r.doc.author, r.doc.audit.authorSeq)]
          : [],
      ),
    ),
  ]);
  const epochOf = (stream: string): number => snaps.get(shardOf(stream))?.state.epochs?.[stream] ?? 0;
  const heads = new Map<string, number>();
  const revs = new Map<string, string | null>();
  const headOf = (stream: string): number =>
    heads.get(stream) ?? snaps.get(shardOf(stream))?.state.heads[stream] ?? 0;
  const results: DocWriteResult[] = [];
  /** Versions written by earlier rows of the batch, by `d` id: index and entry in one document, whole. */
  const written = new Map<string, CouchDoc>();
  /** Conflicts whose master is a stored record index: its version is read from its block at the end. */
  const masterOf = new Map<number, CouchDoc>();
  const held = new Set<string>();
  /** Per stream, the ids that took its seqs from `first` on (consecutive: the batch allocates them). */
  const blocks = new Map<string, { first: number; ids: string[]; v: Entry[]; index: CouchDoc[] }>();
  /** Streams where a row supersedes a version (the shard state says so: readDocs reads their markers). */
  const rewritten = new Set<string>();
  let positionTaken = false;
  let masters = 0;
  let masterBytes = 0;
  for (const { doc, assumedRev, expectedEpoch, expectRefused } of rows) {
    const dId = key('d', doc.stream, doc.id);
    const stored = written.get(dId) ?? current.get(dId);
    const exists = !isGone(stored) && stored !== undefined;
    if (exists && isAuditStream(doc.stream)) {
      results.push({ status: 'append-only' });
      continue;
    }
    if (expectedEpoch !== undefined && epochOf(doc.stream) !== expectedEpoch) {
      results.push({ status: 'stale-epoch', epoch: epochOf(doc.stream) });
      continue;
    }
    if (exists ? stored.rev !== assumedRev : assumedRev !== null) {
      if (!exists) {
        results.push({ status: 'conflict', master: null });
        continue;
      }
      if (maxMasterBytes !== undefined) {
        masterBytes += (stored.bytes as number | undefined) ?? 0;
        if (masters > 0 && masterBytes > maxMasterBytes) {
          throw new StoreError(
            'TOO_LARGE',
            `the stored versions this batch conflicts with exceed ${maxMasterBytes} bytes; nothing written`,
          );
        }
        masters++;
      }
      if (typeof stored.ct !== 'string') masterOf.set(results.length, stored);
      results.push({ status: 'conflict', master: typeof stored.ct === 'string' ? docToDoc(stored) : null });
      continue;
    }
    if (expectRefused === true) {
      throw new StoreError(
        'CONFLICT',
        `${doc.stream} ${doc.id} holds the revision its row assumes, which the writer expected refused; nothing written`,
        { details: { stream: doc.stream, id: doc.id } },
      );
    }
    const a = doc.audit;
    if (a !== undefined && isAuditStream(doc.stream)) {
      const apId = key('ap', doc.stream, doc.author, a.authorSeq);
      if (held.has(apId) || !isGone(positions.get(apId))) {
        results.push({ status: 'position-taken' });
        positionTaken = true;
        continue;
      }
      held.add(apId);
    }
    const seq = headOf(doc.stream) + 1;
    heads.set(doc.stream, seq);
    // Set by the row that creates the record, kept by every later one (its index holds it).
    const creator = exists ? (typeof stored.creator === 'string' ? stored.creator : undefined) : doc.creator;
    const entry = entryOf(doc, now, creator);
    const index: CouchDoc = {
      _id: dId,
      stream: doc.stream,
      id: doc.id,
      seq,
      rev: doc.rev,
      deleted: doc.deleted,
      bytes: entry.bytes,
      ...(creator === undefined ? {} : { creator }),
    };
    const block = blocks.get(doc.stream);
    if (block === undefined)
      blocks.set(doc.stream, { first: seq, ids: [doc.id], v: [entry], index: [index] });
    else {
      block.ids.push(doc.id);
      block.v.push(entry);
      block.index.push(index);
    }
    written.set(dId, { ...entry, ...index });
    revs.set(dId, current.get(dId)?._rev ?? null);
    const shard = shardOf(doc.stream);
    parts.ops(shard, put(index));
    // The version this one supersedes is marked so in its block's range (blocks.ts).
    if (exists) {
      parts.ops(shard, create({ _id: key('qx', doc.stream, stored.seq as number) }));
      rewritten.add(doc.stream);
    }
    if (a !== undefined) {
      parts.ops(
        shard,
        create({ _id: key('ap', doc.stream, doc.author, a.authorSeq), id: doc.id }),
        create({ _id: key('aa', doc.stream, doc.author, now, doc.id), at: now }),
      );
    }
    results.push({ status: 'ok', seq });
  }
  for (const [stream, { first, ids, v, index }] of blocks) {
    const last = first + ids.length - 1;
    for (const d of index) d.q = last;
    parts.ops(shardOf(stream), create({ _id: key('q', stream, last), first, ids, v }));
  }
  if (masterOf.size > 0) {
    const masters = await versionsOf(ctx.data, [...masterOf.values()]);
    [...masterOf.keys()].forEach((i, j) => {
      results[i] = { status: 'conflict', master: masters[j] ?? null };
    });
  }
  if (!positionTaken) {
    for (const [stream, head] of heads) {
      const shard = shardOf(stream);
      const p = parts.part(shard);
      const base = p.state ?? snaps.get(shard)?.state ?? { heads: {} };
      p.state = { ...base, heads: { ...base.heads, [stream]: head } };
      if (rewritten.has(stream) && base.rewritten?.[stream] !== true)
        p.state.rewritten = { ...base.rewritten, [stream]: true };
      p.advanced = [...(p.advanced ?? []).filter((h) => h.stream !== stream), { stream, head }];
    }
  }
  return { results, positionTaken, heads, revs };
};

const notWritten = (results: DocWriteResult[]): DocWriteResult[] =>
  results.map((r): DocWriteResult => (r.status === 'position-taken' ? r : { status: 'not-written' }));

/** Heads a set of commits advanced, for onCommitted (one entry per stream, the highest). */
export const advancedHeads = (committed: Array<{ advanced: StreamHead[] }>): StreamHead[] => {
  const heads = new Map<string, number>();
  for (const c of committed)
    for (const h of c.advanced) heads.set(h.stream, Math.max(h.head, heads.get(h.stream) ?? 0));
  return [...heads].map(([stream, head]) => ({ stream, head }));
};

export const couchDocs = (ctx: Ctx): SyncStore['docs'] => {
  const { data, log } = ctx;

  const writeDocs = async (
    rows: DocWrite[],
    now: string,
    maxMasterBytes?: number,
    guard?: AccessGuard,
  ): Promise<DocWriteResult[]> => {
    rows.forEach(validateDocWrite);
    validateGuard(guard);
    if (maxMasterBytes !== undefined && !(maxMasterBytes >= 0)) {
      throw invalid('maxMasterBytes must be a non-negative number');
    }
    const shards = [...rows.map((r) => shardOf(r.doc.stream)), ...(await guardShards(data, guard))];
    if (shards.length === 0) return [];
    const { result, committed } = await log.commit(shards, async (snaps) => {
      const parts = new Parts();
      // The guard's device read and the rows' reads go in one request.
      const read = batchedReader(data);
      const plan = await guarded(
        data,
        guard,
        () => planRows(ctx, snaps, rows, now, parts, maxMasterBytes, read),
        read,
      );
      if (plan.positionTaken) return { parts: new Map(), result: notWritten(plan.results) };
      const partial = groupRefusal(rows, plan.results);
      if (partial !== null) return { parts: new Map(), result: partial };
      return { parts: parts.map, result: plan.results, revs: plan.revs };
    });
    ctx.announce(advancedHeads(committed));
    return result;
  };

  const readDocs = async (
    stream: string,
    since: number,
    limit: number,
    maxBytes: number,
  ): Promise<DocPage> => {
    if (!Number.isSafeInteger(since) || since < 0) throw invalid('since must be a non-negative integer');
    if (!Number.isSafeInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
    if (!(maxBytes > 0)) throw invalid('maxBytes must be positive');
    const { state } = await log.settle(shardOf(stream), false);
    const head = state.heads[stream] ?? 0;
    const marked = state.rewritten?.[stream] === true;
    const docs: Doc[] = [];
    let bytes = 0;
    // Every seq up to `cursor` is read; a window of the seqs the page may still take at a time.
    for (let cursor = since; cursor < head;) {
      if (docs.length === limit) return { docs, checkpoint: docs.at(-1)?.seq ?? since, done: false };
      const to = Math.min(head, cursor + limit - docs.length);
      for (const v of await versionsIn(data, stream, cursor, to, marked)) {
        if (docs.length === limit || (docs.length > 0 && bytes + v.bytes > maxBytes)) {
          return { docs, checkpoint: docs.at(-1)?.seq ?? since, done: false };
        }
        bytes += v.bytes;
        docs.push(v.doc);
      }
      cursor = to;
    }
    return { docs, checkpoint: docs.at(-1)?.seq ?? since, done: true };
  };

  const getDoc = async (stream: string, id: string): Promise<Doc | null> => {
    const d = await data.get(key('d', stream, id));
    return d === null || isGone(d) ? null : ((await versionsOf(data, [d]))[0] ?? null);
  };

  return {
    writeDocs,
    readDocs,
    getDoc,
    streamHeads: async (streams) => {
      const snaps = new Map<string, Snapshot>();
      for (const shard of new Set(streams.map(shardOf))) snaps.set(shard, await log.settle(shard, false));
      return streams.map((stream) => ({
        stream,
        head: snaps.get(shardOf(stream))?.state.heads[stream] ?? 0,
      }));
    },
    auditChainEnd: async (stream, author) => {
      const [last] = await data.range(prefix('ap', stream, author), { descending: true, limit: 1 });
      return last === undefined ? null : getDoc(stream, last.id as string);
    },
    auditEntriesOfAccountSince: async (stream, accountId, since) => {
      const devices = await data.range(prefix('Da', accountId), { includeDocs: false });
      let count = 0;
      let first: string | null = null;
      for (const d of devices) {
        const deviceId = lastPart(d._id);
        for (const e of await data.range(prefix('aa', stream, deviceId))) {
          const at = e.at as string;
          if (at < since) continue;
          count++;
          if (first === null || at < first) first = at;
        }
      }
      return { count, first };
    },
  };
};

export const couchHeads = (ctx: Ctx): SyncStore['heads'] => {
  const { data, log } = ctx;
  const rowsOf = async (stream: string): Promise<HeadRow[]> =>
    (await data.range(prefix('d', stream)))
      .filter((d) => !isGone(d))
      .map((d) => ({ id: d.id as string, rev: d.rev as string, deleted: d.deleted as boolean }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    rows: async (stream) => {
      for (;;) {
        const before = await log.settle(shardOf(stream), false);
        const rows = await rowsOf(stream);
        const after = await log.settle(shardOf(stream), false);
        if (after.n === before.n) return { seq: before.state.heads[stream] ?? 0, rows };
      }
    },
    keep: async (head: KeptHead, rows: readonly HeadRow[]) => {
      const ids = new Set(rows.map((r) => r.id));
      if (ids.size !== rows.length) throw invalid('a row is named twice');
      const { result } = await log.commit<KeepHeadResult>([shardOf(head.stream)], async (snaps) => {
        const current = snaps.get(shardOf(head.stream))?.state.heads[head.stream] ?? 0;
        if (current !== head.seq)
          return { parts: new Map(), result: { status: 'moved' as const, seq: current } };
        const kept = await data.get(key('hk', head.stream));
        if (!isGone(kept) && kept !== null && (kept.seq as number) > head.seq) {
          return { parts: new Map(), result: { status: 'stale' as const, seq: kept.seq as number } };
        }
        const parts = new Parts();
        const sorted = [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        parts.ops(
          shardOf(head.stream),
          put({ _id: key('hk', head.stream), seq: head.seq, signed: head.signed, rows: sorted }),
        );
        return { parts: parts.map, result: { status: 'ok' as const } };
      });
      return result;
    },
    get: async (stream, after, limit) => {
      if (!Number.isInteger(limit) || limit < 0) throw invalid('limit must be a non-negative integer');
      const kept = await data.get(key('hk', stream));
      if (kept === null || isGone(kept)) return null;
      const rows = (kept.rows as HeadRow[])
        .filter((r) => after === undefined || r.id > after)
        .slice(0, limit);
      return {
        head: { stream, seq: kept.seq as number, signed: kept.signed as KeptHead['signed'] },
        rows: rows.map((r) => ({ ...r })),
      };
    },
  };
};
