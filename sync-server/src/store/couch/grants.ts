/*
 * Grants and acceptances of the CouchDB store (types.ts).
 *
 * | document                | owner shard       | holds                                          |
 * | ----------------------- | ----------------- | ---------------------------------------------- |
 * | `g|grant`, `gp|patient|grant`, `gg|grantee|grant` | the patient's | the grant (and its receive time), three ways |
 * | `ac|grantee|patient`    | the grantee's     | an acceptance                                  |
 * | `#grants` shard's log   | —                 | one commit per grant change: the change position |
 *
 * Invariants:
 * - A grant put, revocation or replacement (`supersede`: the new grant and the old one's end, `revokedAt`
 *   and `supersededBy` in its documents) commits in the patient's shard and in `#grants` at once (log.ts):
 *   an access guard reading the patient's grants is refused by a commit between its read and its write, and
 *   the change's `#grants` commit number is its position for `changesSince`, taken in the same commit, so
 *   no change is ever missed by a sweep, on any node. Only a change commits (a repeated revocation does
 *   not).
 * - An acceptance commits in the grantee's shard: its count and its write are one commit, so concurrent
 *   puts never take a grantee past `max`.
 * - Lists read a patient's or a grantee's grants whole and filter in memory (no index per end state):
 *   correct for any number of grants, with a cost that grows with the ended ones too (docs/architecture.md).
 * Failure modes: as types.ts.
 */
import { StoreError, type Acceptance, type EndedScope, type Grant, type SyncStore } from '../types';
import { key, lastPart, prefix } from './db';
import {
  byPatientOrder,
  docToGrant,
  grantsOfGrantee,
  isUnended,
  Parts,
  unendedFrom,
  type Ctx,
} from './context';
import { GRANTS_SHARD, shardOf, type CommitEvent } from './log';
import { gone, isGone, put } from './ops';
import { invalid, requireCount, requireText, requireUnendedFrom } from '../store-checks';

const issuedAsc = (a: Grant, b: Grant): number =>
  a.issuedAt !== b.issuedAt
    ? a.issuedAt < b.issuedAt
      ? -1
      : 1
    : a.grantId < b.grantId
      ? -1
      : a.grantId > b.grantId
        ? 1
        : 0;
const issuedDesc = (a: Grant, b: Grant): number => -issuedAsc(a, b);
const isEnded = (g: Grant, now: string): boolean => g.revokedAt !== undefined || g.expiresAt <= now;

export const couchGrants = (ctx: Ctx): Pick<SyncStore, 'grants' | 'acceptances'> => {
  const { data, log } = ctx;
  const patientShard = (patientId: string) => shardOf(`${patientId}/`);

  const grantOps = (g: Grant, storedAt: string | null) => {
    const body = { grant: g, ...(storedAt === null ? {} : { storedAt }) };
    return [
      put({ _id: key('g', g.grantId), ...body }),
      put({ _id: key('gp', g.patientId, g.grantId), ...body }),
      put({ _id: key('gg', g.granteeId, g.grantId), ...body }),
    ];
  };
  const ofPatient = async (patientId: string): Promise<Array<{ grant: Grant; storedAt?: string }>> =>
    (await data.range(prefix('gp', patientId)))
      .filter((d) => !isGone(d))
      .map((d) => ({
        grant: docToGrant(d),
        ...(typeof d.storedAt === 'string' ? { storedAt: d.storedAt } : {}),
      }));
  const side = async (of: { patientId?: string; granteeId?: string }): Promise<Grant[]> => {
    if (of.patientId !== undefined && of.granteeId === undefined)
      return (await ofPatient(of.patientId)).map((x) => x.grant);
    if (of.granteeId !== undefined && of.patientId === undefined) return grantsOfGrantee(data, of.granteeId);
    throw invalid('give exactly one of patientId and granteeId');
  };
  const getGrant = async (grantId: string): Promise<Grant | null> => {
    const doc = await data.get(key('g', grantId));
    return doc === null || isGone(doc) ? null : docToGrant(doc);
  };
  const changeEvent = (g: Grant): CommitEvent => ({
    k: 'grants',
    grantee: g.granteeId,
    patient: g.patientId,
  });
  const accountExists = async (id: string): Promise<boolean> => {
    const doc = await data.get(key('A', id));
    return doc !== null && !isGone(doc);
  };

  const grants: SyncStore['grants'] = {
    put: async (g, now) => {
      requireText(g.grantId, 'grantId');
      if (now !== undefined) requireText(now, 'now');
      const shard = patientShard(g.patientId);
      await log.commit([shard, GRANTS_SHARD], async () => {
        if ((await getGrant(g.grantId)) !== null)
          throw new StoreError('ALREADY_EXISTS', `grant ${g.grantId} exists`);
        if (!(await accountExists(g.patientId)) || !(await accountExists(g.granteeId))) {
          throw new StoreError('NOT_FOUND', 'the patient or grantee account does not exist');
        }
        const parts = new Parts();
        parts.ops(shard, ...grantOps(g, now ?? null));
        parts.part(GRANTS_SHARD).events = [changeEvent(g)];
        return { parts: parts.map, result: undefined };
      });
    },
    get: getGrant,
    listForPatient: async (patientId) => (await ofPatient(patientId)).map((x) => x.grant).sort(issuedAsc),
    listForGrantee: async (granteeId) => (await grantsOfGrantee(data, granteeId)).sort(issuedAsc),
    listUnended: async (of, now) => {
      requireText(now, 'now');
      return (await side(of)).filter((g) => isUnended(g, now)).sort(issuedAsc);
    },
    listUnendedByPatient: async (granteeId, now, { after, limit }) => {
      requireText(granteeId, 'granteeId');
      requireText(now, 'now');
      requireCount(limit);
      if (after !== undefined && typeof after !== 'string') throw invalid('after must be a string');
      return (await grantsOfGrantee(data, granteeId))
        .filter((g) => isUnended(g, now) && (after === undefined || `${g.patientId}/` > after))
        .sort(byPatientOrder)
        .slice(0, limit);
    },
    listUnendedFrom: async (granteeId, patientIds, now) => {
      requireUnendedFrom(granteeId, patientIds, now);
      return unendedFrom(data, granteeId, patientIds, now);
    },
    listEnded: async (of, now, limit) => {
      const all = await side(of);
      requireText(now, 'now');
      requireCount(limit);
      return all
        .filter((g) => isEnded(g, now))
        .sort(issuedDesc)
        .slice(0, limit);
    },
    listPage: async (of, { after, unendedAt, limit }) => {
      const all = await side(of);
      requireCount(limit);
      if (unendedAt !== undefined) requireText(unendedAt, 'unendedAt');
      if (after !== undefined) {
        requireText(after.issuedAt, 'after.issuedAt');
        requireText(after.grantId, 'after.grantId');
      }
      const bound =
        after === undefined ? null : ({ issuedAt: after.issuedAt, grantId: after.grantId } as Grant);
      return all
        .filter(
          (g) =>
            (unendedAt === undefined || isUnended(g, unendedAt)) &&
            (bound === null || issuedAsc(g, bound) < 0),
        )
        .sort(issuedDesc)
        .slice(0, limit);
    },
    endedScopes: async ({ patientId, granteeId }, now, limit) => {
      requireText(now, 'now');
      requireCount(limit);
      const ended = (await ofPatient(patientId))
        .map((x) => x.grant)
        .filter((g) => g.granteeId === granteeId && isEnded(g, now))
        .sort(issuedDesc)
        .slice(0, limit);
      const seen = new Map<string, EndedScope>();
      for (const g of ended) {
        for (const s of g.scope) {
          const revoked = g.revokedAt !== undefined;
          if (typeof s.type === 'string') seen.set(`${s.type}|${revoked}`, { type: s.type, revoked });
        }
      }
      return [...seen.values()];
    },
    countStoredSince: async ({ patientId, granteeId }, since) => {
      requireText(since, 'since');
      return (await ofPatient(patientId)).filter(
        (x) => x.grant.granteeId === granteeId && x.storedAt !== undefined && x.storedAt > since,
      ).length;
    },
    changesSince: async (since) => {
      if (!Number.isSafeInteger(since) || since < 0) throw invalid(`since must be a position, not ${since}`);
      const snap = await log.settle(GRANTS_SHARD, false);
      const granteeIds: string[] = [];
      if (since < snap.n) {
        for (const c of await log.readFrom(GRANTS_SHARD, since)) {
          if (c.n > snap.n || c.aborted === true || c.applied !== true) continue;
          for (const e of c.events) {
            if (e.k !== 'grants') continue;
            const at = granteeIds.indexOf(e.grantee);
            if (at !== -1) granteeIds.splice(at, 1);
            granteeIds.push(e.grantee);
          }
        }
      }
      // An erased account's changes went with it (erase.ts): it is no grantee any more.
      const accounts = await data.getMany(granteeIds.map((id) => key('A', id)));
      return {
        position: snap.n,
        granteeIds: granteeIds.filter((id) => !isGone(accounts.get(key('A', id)))),
      };
    },
    countUnended: async ({ patientId, granteeId }, now) => {
      requireText(now, 'now');
      if (patientId !== undefined) {
        return (await ofPatient(patientId)).filter(
          (x) => isUnended(x.grant, now) && (granteeId === undefined || x.grant.granteeId === granteeId),
        ).length;
      }
      if (granteeId !== undefined)
        return (await grantsOfGrantee(data, granteeId)).filter((g) => isUnended(g, now)).length;
      throw invalid('countUnended needs a patientId or a granteeId');
    },
    countUnendedNotAccepted: async (granteeId, now) => {
      requireText(granteeId, 'granteeId');
      requireText(now, 'now');
      const accepted = new Set(
        (await data.range(prefix('ac', granteeId))).filter((d) => !isGone(d)).map((d) => lastPart(d._id)),
      );
      return (await grantsOfGrantee(data, granteeId)).filter(
        (g) => isUnended(g, now) && !accepted.has(g.patientId),
      ).length;
    },
    supersede: async (g, supersedes, now) => {
      requireText(g.grantId, 'grantId');
      requireText(supersedes, 'supersedes');
      requireText(now, 'now');
      if (supersedes === g.grantId) throw invalid('a grant cannot supersede itself');
      // Both grants are the patient's (a replaced grant of another patient is refused), so one commit in its
      // shard and `#grants` stores the one and ends the other; the check is read in that commit's build, so a
      // replacement committed since its read refuses this one (retried: then it finds the grant ended).
      const shard = patientShard(g.patientId);
      const { result } = await log.commit<'stored' | 'not-supersedable'>([shard, GRANTS_SHARD], async () => {
        if ((await getGrant(g.grantId)) !== null)
          throw new StoreError('ALREADY_EXISTS', `grant ${g.grantId} exists`);
        const parts = new Parts();
        const doc = await data.get(key('g', supersedes));
        const old = doc === null || isGone(doc) ? null : docToGrant(doc);
        if (
          old === null ||
          old.patientId !== g.patientId ||
          old.granteeId !== g.granteeId ||
          !isUnended(old, now)
        ) {
          return { parts: parts.map, result: 'not-supersedable' };
        }
        const ended: Grant = { ...old, revokedAt: now, supersededBy: g.grantId };
        parts.ops(
          shard,
          ...grantOps(ended, typeof doc?.storedAt === 'string' ? doc.storedAt : null),
          ...grantOps(g, now),
        );
        parts.part(GRANTS_SHARD).events = [changeEvent(g)];
        return { parts: parts.map, result: 'stored' };
      });
      return result;
    },
    revoke: async (grantId, revokedAt, revocation) => {
      requireText(revokedAt, 'revokedAt');
      const stored = await getGrant(grantId);
      if (stored === null) throw new StoreError('NOT_FOUND', `grant ${grantId} does not exist`);
      const shard = patientShard(stored.patientId);
      const { result } = await log.commit<Grant>([shard, GRANTS_SHARD], async () => {
        const doc = await data.get(key('g', grantId));
        if (doc === null || isGone(doc)) throw new StoreError('NOT_FOUND', `grant ${grantId} does not exist`);
        const g = docToGrant(doc);
        const parts = new Parts();
        if (g.revokedAt !== undefined) return { parts: parts.map, result: g };
        const next: Grant = { ...g, revokedAt, revocation };
        parts.ops(shard, ...grantOps(next, typeof doc.storedAt === 'string' ? doc.storedAt : null));
        parts.part(GRANTS_SHARD).events = [changeEvent(next)];
        return { parts: parts.map, result: next };
      });
      return result;
    },
  };

  const acceptances: SyncStore['acceptances'] = {
    put: async (a, max) => {
      requireText(a.granteeId, 'granteeId');
      requireText(a.patientId, 'patientId');
      requireText(a.acceptedAt, 'acceptedAt');
      if (a.granteeId === a.patientId) throw invalid('an account cannot accept itself');
      requireCount(max, 'max');
      const shard = patientShard(a.granteeId);
      const { result } = await log.commit<'added' | 'kept' | 'full'>([shard], async () => {
        if (!(await accountExists(a.granteeId)) || !(await accountExists(a.patientId))) {
          throw new StoreError('NOT_FOUND', 'the grantee or patient account does not exist');
        }
        const parts = new Parts();
        const held = (await data.range(prefix('ac', a.granteeId))).filter((d) => !isGone(d));
        if (held.some((d) => lastPart(d._id) === a.patientId)) return { parts: parts.map, result: 'kept' };
        if (held.length >= max) return { parts: parts.map, result: 'full' };
        parts.ops(shard, put({ _id: key('ac', a.granteeId, a.patientId), acceptance: a }));
        return { parts: parts.map, result: 'added' };
      });
      return result;
    },
    delete: async (granteeId, patientId) => {
      const shard = patientShard(granteeId);
      const { result } = await log.commit<boolean>([shard], async () => {
        const doc = await data.get(key('ac', granteeId, patientId));
        const parts = new Parts();
        if (doc === null || isGone(doc)) return { parts: parts.map, result: false };
        parts.ops(shard, gone(doc._id));
        return { parts: parts.map, result: true };
      });
      return result;
    },
    has: async (granteeId, patientId) => {
      const doc = await data.get(key('ac', granteeId, patientId));
      return doc !== null && !isGone(doc);
    },
    count: async (granteeId) => (await data.range(prefix('ac', granteeId))).filter((d) => !isGone(d)).length,
    listPage: async (granteeId, { after, limit }) => {
      requireCount(limit);
      return (await data.range(prefix('ac', granteeId)))
        .filter((d) => !isGone(d))
        .map((d) => ({ ...(d.acceptance as Acceptance) }))
        .filter((x) => after === undefined || x.patientId > after)
        .sort((x, y) => (x.patientId < y.patientId ? -1 : 1))
        .slice(0, limit);
    },
  };

  return { grants, acceptances };
};
