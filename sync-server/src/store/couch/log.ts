/*
 * Shard logs: how the CouchDB store commits a change atomically without multi-document transactions.
 * A change atomic with a check (compare-and-set, seq, epoch, guard, quota, invite use, revocation) is a
 * commit in the log of each shard it touches (`shardOf`: a patient's or account's, or `#reg`, `#grants`).
 * Commit n of X is `l|X|n`, created without a `_rev`: of two creating `l|X|n+1` one wins (409 → retry).
 *
 * | step              | what                                                                            |
 * | ----------------- | ------------------------------------------------------------------------------- |
 * | settle(X)         | read X's last commit; if not applied, apply it (anyone may: ops are idempotent) |
 * | build             | read the materialized state (complete through the last commit), decide          |
 * | commit, one shard | create `l|X|n+1` with the ops and X's new state: committed, or 409 → retry      |
 * | commit, k shards  | create `t|id` pending, then each `l|Xi|ni+1`; CAS `t` → committed (409: abort)  |
 * | apply             | write the ops into plain documents (`ops.ts`), then mark the commit(s) applied  |
 *
 * Invariants:
 * - Commit n+1 is created only by a writer that saw commit n applied: at most the last one is unapplied.
 * - A commit's `state` holds the shard's heads after it, `base` before; an aborted commit counts as `base`.
 * - A multi-shard transaction is decided by its `t|id` alone; a pending one is aborted after ABORT_AFTER_MS.
 * - Readers never abort: they treat a pending commit as absent (`base`) and help apply a committed one.
 * - A transaction's parts are marked applied once all its ops are; other nodes hear of it (changes.ts) then.
 * - A write is acknowledged once its commit is applied; an applied one left unmarked is re-applied (no-op).
 *
 * Failure modes: UNAVAILABLE when CouchDB cannot be reached (nothing acknowledged); UNAVAILABLE after
 * MAX_ATTEMPTS lost races in a row; whatever `build` throws (a refusal) rejects the call, nothing written.
 */
import { randomUUID } from 'node:crypto';
import { StoreError } from '../types';
import { key, prefix, type CouchDoc, type Db } from './db';
import { applyOps, type Op } from './ops';
import { resolveCommit } from './conflicts';
import { opsOf, stubbed, withOps } from './commit-ops';

/**
 * What the store keeps per shard beside its log position: each stream's last allocated seq, and each
 * stream's current key epoch (its highest envelope epoch; absent: none), which a record batch checks
 * without a read.
 */
export interface ShardState {
  heads: Record<string, number>;
  epochs?: Record<string, number>;
  /** Streams holding a superseded version (docs.ts: their `qx` markers are read; absent: none). */
  rewritten?: Record<string, true>;
}

/** An event a commit carries for other nodes (changes.ts): what their hubs must act on. */
export type CommitEvent =
  | { k: 'grants'; grantee: string; patient: string }
  | { k: 'device-revoked'; device: string }
  | { k: 'keys'; recipient: string; patient: string; streams: string[] }
  | { k: 'shl'; patient: string; link: string };

export interface CommitDoc extends CouchDoc {
  shard: string;
  n: number;
  node: string;
  tx?: string;
  state: ShardState;
  base: ShardState;
  /** Streams a record batch advanced, with their new heads (onCommitted). */
  advanced: Array<{ stream: string; head: number }>;
  events: CommitEvent[];
  applied?: boolean;
  aborted?: boolean;
}

export interface Snapshot {
  n: number;
  state: ShardState;
}

export interface Part {
  state?: ShardState;
  ops?: Op[];
  advanced?: Array<{ stream: string; head: number }>;
  events?: CommitEvent[];
}

/** What `build` decides: the parts to commit per shard (none: nothing to write) and the answer. */
export interface Plan<T> {
  parts: Map<string, Part>;
  result: T;
  /** `_rev` (null: none) of documents the parts put, as read on the settled state (ops.ts `applyOps`). */
  revs?: ReadonlyMap<string, string | null>;
}

export const ABORT_AFTER_MS = 1500;
/** Shards whose last applied tail an instance remembers (`commit`'s guess); the oldest seen go first. */
const SHARDS_REMEMBERED = 10_000;
const MAX_ATTEMPTS = 200;
const EMPTY: ShardState = { heads: {} };

/** The shard of a stream, record or grant: the account id before the first `/`. */
export const shardOf = (stream: string): string => {
  const slash = stream.indexOf('/');
  return slash === -1 ? stream : stream.slice(0, slash);
};
export const REG_SHARD = '#reg';
export const GRANTS_SHARD = '#grants';

const effective = (c: CommitDoc): ShardState => (c.aborted === true ? c.base : c.state);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ShardLog {
  /** The shard's applied state; with `mayAbort`, a stale pending transaction is aborted first. */
  settle(shard: string, mayAbort: boolean): Promise<Snapshot>;
  commit<T>(
    shards: readonly string[],
    build: (snaps: Map<string, Snapshot>) => Promise<Plan<T>>,
  ): Promise<{
    result: T;
    committed: CommitDoc[];
  }>;
  /** Commits `l|shard|from+1 …` in order from `from` (changesSince): number and doc. */
  readFrom(shard: string, from: number): Promise<CommitDoc[]>;
  /**
   * Ids of every document the commits of `shard` after `from` write (its materialized documents: each is
   * written by its owner shard's commits only), read a page at a time; `n`: the last commit read.
   */
  opIds(shard: string, from?: number): Promise<{ ids: Set<string>; n: number }>;
  /** Deletes the whole log of `shard` (account erasure): afterwards it reads as never committed to. */
  drop(shard: string): Promise<void>;
}

/** Commits read per request by `opIds` (they hold their documents whole), ids by `drop`. */
const LOG_PAGE = 20;

export const createShardLog = (log: Db, data: Db, node: string): ShardLog => {
  const tail = async (shard: string): Promise<CommitDoc | null> => {
    const [last] = await log.range(prefix('l', shard), { descending: true, limit: 1 });
    return (last as CommitDoc | undefined) ?? null;
  };

  /** This instance's last sight of each shard's tail, applied (`commit`'s guess); bounded. */
  const seen = new Map<string, { n: number; state: ShardState; rev: string }>();
  const remember = (c: CommitDoc): void => {
    if (c.applied !== true || typeof c._rev !== 'string') return;
    seen.delete(c.shard);
    if (seen.size >= SHARDS_REMEMBERED) seen.delete(seen.keys().next().value ?? '');
    seen.set(c.shard, { n: c.n, state: effective(c), rev: c._rev });
  };

  const markApplied = async (c: CommitDoc, aborted: boolean): Promise<void> => {
    for (let i = 0; i < 20; i++) {
      const fresh = i === 0 ? c : ((await log.get(c._id)) as CommitDoc | null);
      if (fresh === null || fresh.applied === true) return;
      const next = stubbed({ ...fresh, applied: true, ...(aborted ? { aborted: true } : {}) });
      delete next._conflicts;
      if (await log.put(next)) {
        c._rev = next._rev;
        c.applied = true;
        if (aborted) c.aborted = true;
        return;
      }
    }
  };

  /** This instance's own commits, applied, whose mark is under way (`later`): per shard. */
  const marking = new Map<string, { n: number; token: unknown; state: ShardState; done: Promise<void> }>();
  const markLater = (c: CommitDoc): void => {
    const entry = { n: c.n, token: c.token, state: c.state, done: Promise.resolve() };
    entry.done = markApplied(c, false)
      .then(() => remember(c))
      // Not marked (CouchDB unreachable): the next settle of the shard applies it again and marks it.
      .catch(() => undefined)
      .finally(() => {
        if (marking.get(c.shard) === entry) marking.delete(c.shard);
      });
    marking.set(c.shard, entry);
  };

  /**
   * `later` (the writer's own commit): answered once its ops are applied, the mark going on meanwhile; this
   * instance's settles of the shard wait for that mark instead of applying the commit again.
   */
  const applyCommit = async (
    c: CommitDoc,
    revs?: ReadonlyMap<string, string | null>,
    later = false,
  ): Promise<void> => {
    await applyOps(data, c.n, await opsOf(log, c), { revs });
    await marked(c, later);
  };
  const marked = async (c: CommitDoc, later: boolean): Promise<void> => {
    if (later) {
      markLater(c);
      return;
    }
    await markApplied(c, false);
    remember(c);
  };

  /**
   * Applies every part of a committed transaction (a part alone would leave the others' state unread).
   * `own`: the parts as this writer created them (not read again), with the revs its plan read.
   */
  const applyTx = async (
    tx: CouchDoc,
    aborted: boolean,
    own?: { parts: CommitDoc[]; revs?: ReadonlyMap<string, string | null> | undefined },
  ): Promise<void> => {
    const parts = (tx.parts as Array<{ shard: string; n: number }> | undefined) ?? [];
    const docs =
      own === undefined
        ? await log.getMany(parts.map((p) => key('l', p.shard, p.n)))
        : new Map<string, CouchDoc>(own.parts.map((c) => [c._id, c]));
    // A part never created (the writer stopped before it) is no commit: nothing to mark.
    const open = parts
      .map((p) => docs.get(key('l', p.shard, p.n)) as CommitDoc | undefined)
      .filter((c): c is CommitDoc => c !== undefined && c.tx === tx._id && c.applied !== true);
    if (aborted) {
      await Promise.all(open.map((c) => markApplied(c, true)));
      return;
    }
    // Parts are of different shards, their documents disjoint: applied at once. Every part's ops before
    // any mark: a node that hears of a part applied (changes.ts) then reads the documents of all.
    await Promise.all(open.map(async (c) => applyOps(data, c.n, await opsOf(log, c), { revs: own?.revs })));
    await Promise.all(open.map((c) => marked(c, own !== undefined)));
  };

  const casTx = async (tx: CouchDoc, status: 'committed' | 'aborted'): Promise<boolean> => {
    const next = { ...tx, status };
    delete next._conflicts;
    if (await log.put(next)) {
      tx._rev = next._rev;
      tx.status = status;
      return true;
    }
    return false;
  };

  const settle = async (shard: string, mayAbort: boolean): Promise<Snapshot> => {
    let waitedSince: number | null = null;
    for (let i = 0; ; i++) {
      const c = await tail(shard);
      if (c === null) return { n: 0, state: EMPTY };
      if (c._conflicts !== undefined && c._conflicts.length > 0) {
        await resolveCommit(log, data, c);
        continue;
      }
      if (c.applied === true) {
        remember(c);
        return { n: c.n, state: effective(c) };
      }
      // Our own commit, applied, its mark under way: complete once that is done.
      const mine = marking.get(shard);
      if (mine !== undefined && mine.n === c.n && mine.token === c.token) {
        await mine.done;
        return { n: c.n, state: c.state };
      }
      if (c.tx === undefined) {
        await applyCommit(c);
        continue;
      }
      const tx = await log.get(c.tx);
      const status = tx?.status;
      if (tx === null || status === 'aborted') {
        if (tx !== null) await applyTx(tx, true);
        else await markApplied(c, true);
        continue;
      }
      if (status === 'committed') {
        await applyTx(tx, false);
        continue;
      }
      // Pending: a reader takes the state before it; a writer waits for its writer, then aborts it.
      if (!mayAbort) return { n: c.n - 1, state: c.base };
      waitedSince ??= Date.now();
      if (Date.now() - waitedSince < ABORT_AFTER_MS) {
        await sleep(Math.min(5 + i * 5, 50));
        continue;
      }
      if (await casTx(tx, 'aborted')) await applyTx(tx, true);
    }
  };

  const newCommit = (shard: string, snap: Snapshot, part: Part, tx?: string): CommitDoc => {
    const doc: CommitDoc = {
      _id: key('l', shard, snap.n + 1),
      shard,
      n: snap.n + 1,
      node,
      token: randomUUID(),
      ...(tx === undefined ? {} : { tx }),
      state: part.state ?? snap.state,
      base: snap.state,
      advanced: part.advanced ?? [],
      events: part.events ?? [],
    };
    return part.ops === undefined || part.ops.length === 0 ? doc : withOps(doc, part.ops);
  };

  /**
   * The settle step guessed: when this instance saw every shard's tail applied (or applied its own last
   * commit there, whose mark is under way), `build` runs on those snapshots while the tails are read
   * again (after the mark). The guess holds when each tail is the revision this instance last saw applied
   * of that very commit (same commit, same `_rev`, applied, no conflicts): then nothing was committed
   * since, the state `build` read is complete through it, and its answer (or refusal) stands. Otherwise
   * null (the caller settles and builds again; what `build` decided on the guess is dropped).
   */
  const guess = async <T>(
    order: readonly string[],
    build: (snaps: Map<string, Snapshot>) => Promise<Plan<T>>,
  ): Promise<{ snaps: Map<string, Snapshot>; plan: Plan<T> } | null> => {
    // This instance's own last commit there, applied, its mark under way, or its last sight of the tail.
    const known = order.map((shard) => marking.get(shard) ?? seen.get(shard));
    if (known.some((k) => k === undefined)) return null;
    const snaps = new Map<string, Snapshot>(
      order.map((shard, i) => [shard, { n: known[i]?.n ?? 0, state: known[i]?.state ?? EMPTY }]),
    );
    // The tail is read once the mark is done (its revision is then the one `seen` holds).
    const tails = Promise.all(
      order.map(async (shard) => {
        await marking.get(shard)?.done;
        return tail(shard);
      }),
    );
    const [read, built] = await Promise.allSettled([tails, build(snaps)]);
    const held =
      read.status === 'fulfilled' &&
      read.value.every((c, i) => {
        const n = known[i]?.n;
        const k = seen.get(order[i] ?? '');
        return (
          c !== null &&
          k !== undefined &&
          c.n === n &&
          k.n === n &&
          c._rev === k.rev &&
          c.applied === true &&
          (c._conflicts === undefined || c._conflicts.length === 0)
        );
      });
    if (!held) return null;
    if (built.status === 'rejected') throw built.reason;
    return { snaps, plan: built.value };
  };

  const commit = async <T>(
    shards: readonly string[],
    build: (snaps: Map<string, Snapshot>) => Promise<Plan<T>>,
  ): Promise<{ result: T; committed: CommitDoc[] }> => {
    const order = [...new Set(shards)].sort();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(Math.random() * Math.min(2 + attempt * 2, 40));
      const guessed = attempt === 0 ? await guess(order, build) : null;
      let snaps: Map<string, Snapshot>;
      let plan: Plan<T>;
      if (guessed !== null) {
        ({ snaps, plan } = guessed);
      } else {
        const settled = await Promise.all(order.map((shard) => settle(shard, true)));
        snaps = new Map<string, Snapshot>(
          order.map((shard, i) => [shard, settled[i] ?? { n: 0, state: EMPTY }]),
        );
        plan = await build(snaps);
      }
      const written = order.filter((s) => plan.parts.has(s));
      if (written.length === 0) return { result: plan.result, committed: [] };
      // Every shard the plan read takes part: a commit there since its read refuses this one.
      const parts = order.map((shard) =>
        newCommit(shard, snaps.get(shard) ?? { n: 0, state: EMPTY }, plan.parts.get(shard) ?? {}),
      );
      if (parts.length === 1) {
        const [only] = parts;
        if (only === undefined || !(await log.create(only))) continue;
        await applyCommit(only, plan.revs, true);
        return { result: plan.result, committed: parts };
      }
      const tx: CouchDoc = {
        _id: key('t', randomUUID()),
        status: 'pending',
        node,
        token: randomUUID(),
        parts: parts.map((p) => ({ shard: p.shard, n: p.n })),
      };
      if (!(await log.create(tx))) continue;
      // The parts at once: any one refused (another commit took its number) loses the transaction.
      for (const part of parts) part.tx = tx._id;
      const created = await Promise.all(parts.map((part) => log.create(part)));
      const lost = created.includes(false);
      if (lost || !(await casTx(tx, 'committed'))) {
        // Aborted by us, or by a writer that waited for us too long: either way nothing of it counts.
        if (tx.status === 'pending' && (await casTx(tx, 'aborted'))) await applyTx(tx, true);
        else if (tx.status !== 'committed') {
          const fresh = await log.get(tx._id);
          if (fresh?.status === 'committed') {
            await applyTx(fresh, false);
            return { result: plan.result, committed: parts };
          }
          if (fresh !== null) await applyTx(fresh, true);
        }
        continue;
      }
      await applyTx(tx, false, { parts, revs: plan.revs });
      return { result: plan.result, committed: parts };
    }
    throw new StoreError('UNAVAILABLE', 'too many concurrent writers on the same records; try again');
  };

  const readFrom: ShardLog['readFrom'] = async (shard, from) =>
    (await log.range(prefix('l', shard), { startAfter: key('l', shard, from) })) as CommitDoc[];

  const opIds: ShardLog['opIds'] = async (shard, from = 0) => {
    const ids = new Set<string>();
    let n = from;
    for (;;) {
      const page = (await log.range(prefix('l', shard), {
        startAfter: key('l', shard, n),
        limit: LOG_PAGE,
        attachments: true,
      })) as CommitDoc[];
      for (const c of page) {
        for (const op of await opsOf(log, c)) ids.add(op.doc._id);
        n = Math.max(n, c.n);
      }
      if (page.length < LOG_PAGE) return { ids, n };
    }
  };

  const drop: ShardLog['drop'] = async (shard) => {
    for (;;) {
      const page = await log.range(prefix('l', shard), { limit: 500, includeDocs: false });
      if (page.length === 0) return;
      await log.remove(page.map((c) => c._id));
    }
  };

  return { settle, commit, readFrom, opIds, drop };
};
