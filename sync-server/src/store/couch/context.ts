/*
 * What the CouchDB store's modules share: the data database, the shard logs, this instance's node id, the
 * commit announcement to local listeners, and the access guard's reads (types.ts AccessGuard).
 *
 * The guard runs inside a commit's `build` (log.ts), after the shards it reads were settled: the grants
 * it is given are read from the patients' shards, which take part in the commit, so a revocation committed
 * there after this read makes the commit lose its create (409) and the write is decided again. The writer
 * device's revocation is read the same way from its account's shard (`guardShards` names it).
 */
import type { AccessGuard, Grant, StreamHead } from '../types';
import { key, prefix, type CouchDoc, type Db } from './db';
import { shardOf, type Part, type ShardLog } from './log';
import { isGone, type Op } from './ops';

export interface Ctx {
  data: Db;
  log: ShardLog;
  node: string;
  announce(heads: StreamHead[]): void;
}

/** Parts of a plan being built, per shard: ops appended, state replaced. */
export class Parts {
  readonly map = new Map<string, Part>();
  part(shard: string): Part {
    let p = this.map.get(shard);
    if (p === undefined) {
      p = {};
      this.map.set(shard, p);
    }
    return p;
  }
  ops(shard: string, ...ops: Op[]): void {
    const p = this.part(shard);
    p.ops = [...(p.ops ?? []), ...ops];
  }
}

export const docToGrant = (doc: CouchDoc): Grant => {
  const g = doc.grant as Grant;
  return { ...g };
};

/** Unended at `at`: not revoked and `expiresAt` after it (one not started yet counts). */
export const isUnended = (g: Grant, at: string): boolean => g.revokedAt === undefined && g.expiresAt > at;

/** The order of `listUnendedByPatient`: `${patientId}/`, then issued, then id. */
export const byPatientOrder = (a: Grant, b: Grant): number => {
  const pa = `${a.patientId}/`;
  const pb = `${b.patientId}/`;
  if (pa !== pb) return pa < pb ? -1 : 1;
  if (a.issuedAt !== b.issuedAt) return a.issuedAt < b.issuedAt ? -1 : 1;
  return a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0;
};

/** Every grant `granteeId` received (also ended ones). */
export const grantsOfGrantee = async (data: Db, granteeId: string): Promise<Grant[]> =>
  (await data.range(prefix('gg', granteeId))).filter((d) => !isGone(d)).map(docToGrant);

export const unendedFrom = async (
  data: Db,
  granteeId: string,
  patientIds: readonly string[],
  at: string,
): Promise<Grant[]> => {
  if (patientIds.length === 0) return [];
  const wanted = new Set(patientIds);
  return (await grantsOfGrantee(data, granteeId))
    .filter((g) => wanted.has(g.patientId) && isUnended(g, at))
    .sort(byPatientOrder);
};

/** Devices' accounts already read, per database: a device id names one account forever. */
const accountsOf = new WeakMap<Db, Map<string, string>>();
const ACCOUNTS_CACHED = 10_000;

/**
 * The account of a device, or null for a device the store holds no registration of. A registered
 * device's account never changes (ids are taken once) until its account is erased, so a found one is
 * remembered; none is not. This instance forgets an erased account's devices (erase.ts); another one may
 * name the erased account for a device id registered again (ids are random), which makes only its
 * revocation check's shard the wrong one (the device itself is still read in the commit).
 */
export const deviceAccount = async (data: Db, deviceId: string): Promise<string | null> => {
  let cache = accountsOf.get(data);
  const known = cache?.get(deviceId);
  if (known !== undefined) return known;
  const doc = await data.get(key('D', deviceId));
  if (isGone(doc) || doc === null) return null;
  const accountId = doc.accountId as string;
  if (cache === undefined) accountsOf.set(data, (cache = new Map<string, string>()));
  if (cache.size >= ACCOUNTS_CACHED) cache.clear();
  cache.set(deviceId, accountId);
  return accountId;
};

/** Forgets the accounts of erased devices (erase.ts): their ids may be registered again. */
export const forgetDevices = (data: Db, deviceIds: readonly string[]): void => {
  const cache = accountsOf.get(data);
  for (const id of deviceIds) cache?.delete(id);
};

/** The shards a guard reads: its patients', and its writer's account (for the writer's revocation). */
export const guardShards = async (data: Db, guard: AccessGuard | undefined): Promise<string[]> => {
  if (guard === undefined) return [];
  const shards = guard.patientIds.map(shardOf);
  if (guard.writer !== undefined) {
    const account = await deviceAccount(data, guard.writer);
    if (account !== null) shards.push(account);
  }
  return shards;
};

/** Documents by id (those that exist), as `Db.getMany` reads them. */
export type Reader = (ids: readonly string[]) => Promise<Map<string, CouchDoc>>;

interface Queued {
  ids: readonly string[];
  resolve: (found: Map<string, CouchDoc>) => void;
  reject: (error: unknown) => void;
}

/**
 * A Reader that reads the ids asked for within one turn of the event loop's microtasks in one
 * `getMany` request (each caller is given the whole answer), so reads started at once by independent
 * code (a guard's and a batch's) cost one request. A failure rejects every caller of that request.
 */
export const batchedReader = (data: Db): Reader => {
  let queued: Queued[] | null = null;
  return (ids) =>
    new Promise((resolve, reject) => {
      if (queued === null) {
        const batch: Queued[] = [];
        queued = batch;
        queueMicrotask(() => {
          queued = null;
          data.getMany(batch.flatMap((q) => q.ids)).then(
            (found) => batch.forEach((q) => q.resolve(found)),
            (error: unknown) => batch.forEach((q) => q.reject(error)),
          );
        });
      }
      queued.push({ ids, resolve, reject });
    });
};

/**
 * Runs the guard's check on what the store holds now (inside a commit's build); throws its refusal.
 * `read`: how the writer's device is read (a batchedReader shares the request with the batch's reads).
 */
export const runGuard = async (
  data: Db,
  guard: AccessGuard | undefined,
  read: Reader = (ids) => data.getMany(ids),
): Promise<void> => {
  if (guard === undefined) return;
  const writer = guard.writer;
  const [grants, device] = await Promise.all([
    unendedFrom(data, guard.granteeId, guard.patientIds, guard.at),
    writer === undefined ? null : read([key('D', writer)]).then((found) => found.get(key('D', writer))),
  ]);
  const writerRevoked = !isGone(device) && typeof device?.revokedAt === 'string';
  guard.check(grants, writerRevoked);
};

/**
 * Runs the guard (`runGuard`) and `work` at once, inside a commit's build: their reads overlap. The
 * guard's refusal comes first (as if it ran first); else `work`'s failure, else its answer.
 */
export const guarded = async <T>(
  data: Db,
  guard: AccessGuard | undefined,
  work: () => Promise<T>,
  read?: Reader,
): Promise<T> => {
  const [checked, done] = await Promise.allSettled([runGuard(data, guard, read), work()]);
  if (checked.status === 'rejected') throw checked.reason;
  if (done.status === 'rejected') throw done.reason;
  return done.value;
};

/** The stream's current key epoch: its highest envelope epoch, or null without envelopes. */
export const currentEpoch = async (data: Db, stream: string): Promise<number | null> => {
  const [last] = await data.range(prefix('e', stream), { descending: true, limit: 1, includeDocs: false });
  return last === undefined ? null : Number(last._id.split('|')[2]);
};
