/*
 * SMART Health Links of the CouchDB store (shl-types.ts `ShlStore`).
 *
 * | document                     | owner shard (log.ts) | holds                                                       |
 * | ---------------------------- | -------------------- | ----------------------------------------------------------- |
 * | `Sl|link`                    | `#shl:<link>`        | the link as created (types, sealed details), its JWE included; never changed |
 * | `Ss|link`                    | `#shl:<link>`        | its state: attempts left, count, last access, revocation, log length, ticket |
 * | `Sp|patient|createdAt|link`  | `#shl:<link>`        | the link as listed (no token hash, passcode hash or content) |
 * | `Sh|tokenHash`               | `#shlt:<tokenHash>`  | `{ linkId }`: the token hash is taken                        |
 * | `Sa|link|seq`                | `#shl:<link>`        | an access, the viewer's name sealed (immutable)              |
 * | `Sx|patient|at|link|seq`     | `#shl:<link>`        | the same access under its patient, by time (immutable)       |
 * | `St|ticketHash`              | `#shl:<link>`        | `{ linkId }` of a live ticket; `gone` once taken or replaced |
 *
 * Invariants:
 * - Every decision about a link is one commit of the link's own shard, decided on its settled state: an
 *   access (the check, the count or the attempt, the log entry), a revocation, a ticket put or taken. Of
 *   commits racing on one link (any nodes) each is decided after the other, so two viewers racing on the
 *   last passcode attempt take one attempt each and at most the attempts left, and a ticket is taken once.
 *   Every access to a link that exists is logged, one that lost such a race too (as `refused`).
 * - A creation is one transaction of the link's shard and its token hash's: a link id and a token hash are
 *   each taken once.
 * - Each access commit carries an event (`shl`, changes.ts) that other nodes hand to `onRemoteAccess`.
 * - A link's shard holds that link alone: a busy link (an emergency card) delays neither its patient's
 *   records nor other links.
 * - New documents hold a link's label and counts and a viewer's name only sealed (`sealed`,
 *   `sealedRecipient`); documents written before sealing (or migrated from such a SQLite store) keep
 *   `label`, `contents`, `recipient` in clear and are read as they are, their types from `contents`.
 * Failure modes: as log.ts (UNAVAILABLE when CouchDB cannot be reached, nothing acknowledged); NOT_FOUND for
 * a link of another patient or none, and for a new link of an account the store does not hold;
 * ALREADY_EXISTS for a taken id or token hash; INVALID for arguments the SQLite store would refuse.
 */
import {
  SHL_ACCESS_OUTCOMES,
  type ShlAccess,
  type ShlLink,
  type ShlLinkListing,
  type ShlStore,
} from '../shl-types';
import { StoreError } from '../types';
import { key, prefix, type CouchDoc } from './db';
import { Parts, type Ctx } from './context';
import type { CommitEvent } from './log';
import { create, gone, isGone, put, type Op } from './ops';
import { invalid, isNonNegativeInt, requireCount, requireText } from '../store-checks';

/** What changes of a link, kept in `Ss|link`. */
interface LinkState {
  attemptsLeft: number;
  accessCount: number;
  lastAccessAt?: string;
  revokedAt?: string;
  /** Accesses logged so far: the last `Sa` seq. */
  seq: number;
  ticketHash?: string;
  ticketExpiresMs?: number;
}

type Created = Omit<ShlLink, 'accessCount' | 'revokedAt' | 'lastAccessAt'>;

export const linkShard = (linkId: string): string => `#shl:${linkId}`;
export const tokenShard = (tokenHash: string): string => `#shlt:${tokenHash}`;

const live = (doc: CouchDoc | undefined | null): CouchDoc | null =>
  doc === undefined || isGone(doc) ? null : doc;

/** A link's fields as a document holds them; one written before sealing has its types in `contents`. */
const asCreated = <T extends Omit<Created, 'jwe'>>(stored: unknown): T => {
  const link = stored as T & { types?: readonly string[] };
  return link.types !== undefined
    ? link
    : { ...link, types: [...new Set((link.contents ?? []).map((c) => c.type))] };
};

const toLink = (created: Created, state: LinkState): ShlLink => ({
  ...created,
  attemptsLeft: state.attemptsLeft,
  accessCount: state.accessCount,
  ...(state.revokedAt === undefined ? {} : { revokedAt: state.revokedAt }),
  ...(state.lastAccessAt === undefined ? {} : { lastAccessAt: state.lastAccessAt }),
});

const toListing = (link: ShlLink): ShlLinkListing => {
  const { tokenHash: _t, passcodeHash, jwe: _j, ...rest } = link;
  return { ...rest, passcode: passcodeHash !== undefined };
};

/** The link's fields as created, without content: what `Sp` keeps for listing. */
const listed = (c: Created): Omit<Created, 'jwe'> => {
  const { jwe: _j, ...rest } = c;
  return rest;
};

const validateCreated = (link: Created): void => {
  requireText(link.linkId, 'linkId');
  requireText(link.tokenHash, 'tokenHash');
  requireText(link.patientId, 'patientId');
  requireText(link.createdAt, 'createdAt');
  requireText(link.contentType, 'contentType');
  if (typeof link.jwe !== 'string') throw invalid('jwe must be a string');
  if (!isNonNegativeInt(link.attemptsLeft)) throw invalid('attemptsLeft must be a count');
  if (typeof link.emergency !== 'boolean') throw invalid('emergency must be a boolean');
  if (link.oneTime !== undefined && typeof link.oneTime !== 'boolean')
    throw invalid('oneTime must be a boolean');
  if (!Array.isArray(link.types) || !link.types.every((t) => typeof t === 'string'))
    throw invalid('types must be an array of strings');
  // Sealed, or (a link imported from a store that held it before sealing) its label and counts in clear.
  if (link.sealed !== undefined) {
    requireText(link.sealed, 'sealed');
    if (link.label !== undefined || link.contents !== undefined)
      throw invalid('a sealed link has no label or contents in clear');
  } else if (!Array.isArray(link.contents)) throw invalid('contents must be an array');
};

const validateAccess = (access: ShlAccess): void => {
  requireText(access.at, 'access.at');
  if (!SHL_ACCESS_OUTCOMES.includes(access.outcome)) throw invalid('access.outcome is not an outcome');
  if ('sealedRecipient' in access) requireText(access.sealedRecipient, 'access.sealedRecipient');
  else if (typeof access.recipient !== 'string') throw invalid('access.recipient must be a string');
};

/** The documents a link's creation writes, per shard (also what a migration writes, with its state). */
export const creationOps = (link: Created, state: LinkState): { link: Op[]; token: Op[] } => ({
  link: [
    create({ _id: key('Sl', link.linkId), link }),
    put({ _id: key('Ss', link.linkId), state }),
    create({ _id: key('Sp', link.patientId, link.createdAt, link.linkId), link: listed(link) }),
  ],
  token: [create({ _id: key('Sh', link.tokenHash), linkId: link.linkId })],
});

/** The documents one logged access writes (its state written beside them by the caller). */
export const accessOps = (
  link: Pick<ShlLink, 'linkId' | 'patientId'>,
  seq: number,
  access: ShlAccess,
): Op[] => {
  const entry =
    'sealedRecipient' in access
      ? { at: access.at, outcome: access.outcome, sealedRecipient: access.sealedRecipient }
      : { at: access.at, outcome: access.outcome, recipient: access.recipient };
  return [
    create({ _id: key('Sa', link.linkId, seq), access: entry }),
    create({
      _id: key('Sx', link.patientId, access.at, link.linkId, seq),
      linkId: link.linkId,
      access: entry,
    }),
  ];
};

export type { LinkState };

export interface CouchShl extends ShlStore {
  /** A link with its whole state as the SQLite store held it, and its accesses oldest first (migrate.ts). */
  importLink(link: ShlLink, accesses: readonly ShlAccess[]): Promise<void>;
}

export const couchShl = (ctx: Ctx): CouchShl => {
  const { data, log } = ctx;

  /** The link and its state as materialized; null when either is absent (never created). */
  const read = async (linkId: string): Promise<{ created: Created; state: LinkState } | null> => {
    const docs = await data.getMany([key('Sl', linkId), key('Ss', linkId)]);
    const body = live(docs.get(key('Sl', linkId)));
    const state = live(docs.get(key('Ss', linkId)));
    if (body === null || state === null) return null;
    return { created: asCreated<Created>(body.link), state: state.state as LinkState };
  };
  const own = async (patientId: string, linkId: string) => {
    const found = await read(linkId);
    if (found === null || found.created.patientId !== patientId)
      throw new StoreError('NOT_FOUND', 'no such link of this patient');
    return found;
  };
  /** Per link, the tail of this instance's queue of decisions (removed when the last one is done). */
  const queues = new Map<string, Promise<unknown>>();
  /**
   * One commit of the link's shard: `decide` answers the new state (null: write nothing) and the answer.
   * Decisions about one link through this instance wait for each other: racing commits of one shard lose
   * to each other and retry (log.ts), so 41 viewers at once would cost some 860 commit attempts and could
   * run the last out of attempts (UNAVAILABLE, the access not logged); queued, each commits at its first.
   */
  const decide = async <T>(
    linkId: string,
    build: (
      found: { created: Created; state: LinkState } | null,
    ) => Promise<{ state: LinkState | null; ops?: Op[]; event?: CommitEvent; result: T }>,
  ): Promise<T> => {
    const previous = queues.get(linkId) ?? Promise.resolve();
    const mine = previous.then(() => commitDecision(linkId, build));
    const tail = mine.catch(() => undefined);
    queues.set(linkId, tail);
    try {
      return await mine;
    } finally {
      if (queues.get(linkId) === tail) queues.delete(linkId);
    }
  };
  const commitDecision = async <T>(
    linkId: string,
    build: (
      found: { created: Created; state: LinkState } | null,
    ) => Promise<{ state: LinkState | null; ops?: Op[]; event?: CommitEvent; result: T }>,
  ): Promise<T> => {
    const shard = linkShard(linkId);
    const { result } = await log.commit([shard], async () => {
      const decided = await build(await read(linkId));
      const parts = new Parts();
      if (decided.state !== null) {
        parts.ops(shard, put({ _id: key('Ss', linkId), state: decided.state }), ...(decided.ops ?? []));
        if (decided.event !== undefined) parts.part(shard).events = [decided.event];
      }
      return { parts: parts.map, result: decided.result };
    });
    return result;
  };

  const importLink: CouchShl['importLink'] = async (link, accesses) => {
    const { accessCount, revokedAt, lastAccessAt, ...created } = link;
    validateCreated(created);
    const state: LinkState = {
      attemptsLeft: link.attemptsLeft,
      accessCount,
      ...(revokedAt === undefined ? {} : { revokedAt }),
      ...(lastAccessAt === undefined ? {} : { lastAccessAt }),
      seq: accesses.length,
    };
    const ops = creationOps(created, state);
    await log.commit([linkShard(link.linkId), tokenShard(link.tokenHash)], async () => {
      if ((await read(link.linkId)) !== null) throw new StoreError('ALREADY_EXISTS', 'link id is taken');
      const parts = new Parts();
      parts.ops(
        linkShard(link.linkId),
        ...ops.link,
        ...accesses.flatMap((a, i) => accessOps(link, i + 1, a)),
      );
      parts.ops(tokenShard(link.tokenHash), ...ops.token);
      return { parts: parts.map, result: undefined };
    });
  };

  return {
    importLink,
    create: async (link) => {
      validateCreated(link);
      const account = await data.get(key('A', link.patientId));
      if (account === null || isGone(account))
        throw new StoreError('NOT_FOUND', `account ${link.patientId} does not exist`);
      const state: LinkState = { attemptsLeft: link.attemptsLeft, accessCount: 0, seq: 0 };
      const ops = creationOps(link, state);
      await log.commit([linkShard(link.linkId), tokenShard(link.tokenHash)], async () => {
        const taken = await data.getMany([key('Sl', link.linkId), key('Sh', link.tokenHash)]);
        if (
          live(taken.get(key('Sl', link.linkId))) !== null ||
          live(taken.get(key('Sh', link.tokenHash))) !== null
        )
          throw new StoreError('ALREADY_EXISTS', 'this link id or token hash is taken');
        const parts = new Parts();
        parts.ops(linkShard(link.linkId), ...ops.link);
        parts.ops(tokenShard(link.tokenHash), ...ops.token);
        return { parts: parts.map, result: undefined };
      });
    },

    list: async (patientId, limit) => {
      requireText(patientId, 'patientId');
      requireCount(limit);
      const entries = (await data.range(prefix('Sp', patientId)))
        .map((d) => live(d))
        .filter((d): d is CouchDoc => d !== null)
        .map((d) => asCreated<Omit<Created, 'jwe'>>(d.link));
      // Newest first, ties by link id (the SQLite store's order).
      entries.sort((a, b) =>
        a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? 1 : -1) : a.linkId < b.linkId ? -1 : 1,
      );
      const page = entries.slice(0, limit);
      const states = await data.getMany(page.map((l) => key('Ss', l.linkId)));
      return page.flatMap((l) => {
        const state = live(states.get(key('Ss', l.linkId)));
        return state === null ? [] : [toListing(toLink({ ...l, jwe: '' }, state.state as LinkState))];
      });
    },

    byToken: async (tokenHash) => {
      requireText(tokenHash, 'tokenHash');
      const index = live(await data.get(key('Sh', tokenHash)));
      if (index === null) return null;
      const found = await read(index.linkId as string);
      return found === null || found.created.tokenHash !== tokenHash
        ? null
        : toLink(found.created, found.state);
    },

    revoke: async (patientId, linkId, at) => {
      requireText(patientId, 'patientId');
      requireText(linkId, 'linkId');
      requireText(at, 'at');
      return decide(linkId, async (found) => {
        if (found === null || found.created.patientId !== patientId)
          throw new StoreError('NOT_FOUND', 'no such link of this patient');
        const state = { ...found.state, revokedAt: found.state.revokedAt ?? at };
        const result = toListing(toLink(found.created, state));
        return { state: found.state.revokedAt === undefined ? state : null, result };
      });
    },

    recordAccess: async (linkId, access) => {
      requireText(linkId, 'linkId');
      validateAccess(access);
      if (!('sealedRecipient' in access)) throw invalid('an access is logged with its recipient sealed');
      return decide(linkId, async (found) => {
        if (found === null) {
          if (access.outcome === 'refused') throw new StoreError('NOT_FOUND', `no link ${linkId}`);
          return { state: null, result: null };
        }
        const { created, state } = found;
        let next: LinkState = { ...state, seq: state.seq + 1 };
        // Revoked or locked by an access that committed first: logged all the same, as refused.
        const admitted = state.revokedAt === undefined && state.attemptsLeft > 0;
        const logged: ShlAccess = admitted ? access : { ...access, outcome: 'refused' };
        if (access.outcome !== 'refused' && admitted) {
          next =
            access.outcome === 'opened'
              ? {
                  ...next,
                  accessCount: state.accessCount + 1,
                  lastAccessAt: access.at,
                  // A one-time link is revoked by the write that counts its opening.
                  ...(created.oneTime === true ? { revokedAt: access.at } : {}),
                }
              : { ...next, attemptsLeft: state.attemptsLeft - 1, lastAccessAt: access.at };
        }
        return {
          state: next,
          ops: accessOps(created, next.seq, logged),
          event: { k: 'shl', patient: created.patientId, link: linkId },
          result:
            logged.outcome === access.outcome
              ? { attemptsLeft: next.attemptsLeft, accessCount: next.accessCount }
              : null,
        };
      });
    },

    accesses: async (patientId, linkId, limit) => {
      requireCount(limit);
      await own(patientId, linkId);
      if (limit === 0) return [];
      return (await data.range(prefix('Sa', linkId), { descending: true, limit })).map((d) => ({
        ...(d.access as ShlAccess),
      }));
    },

    accessesSince: async (patientId, since, limit) => {
      requireText(patientId, 'patientId');
      requireText(since, 'since');
      requireCount(limit);
      if (limit === 0) return [];
      // Ids order by the access's time, then link and seq: everything after `since|…` is later.
      const docs = await data.range(prefix('Sx', patientId), {
        startAfter: `${prefix('Sx', patientId, since)}\ufff0`,
        limit,
      });
      return docs
        .map((d) => ({ linkId: d.linkId as string, ...(d.access as ShlAccess) }))
        .filter((a) => a.at > since);
    },

    putTicket: async (linkId, ticketHash, expiresMs) => {
      requireText(linkId, 'linkId');
      requireText(ticketHash, 'ticketHash');
      if (!Number.isSafeInteger(expiresMs)) throw invalid('expiresMs must be an integer');
      await decide(linkId, async (found) => {
        if (found === null) return { state: null, result: undefined };
        const previous = found.state.ticketHash;
        return {
          state: { ...found.state, ticketHash, ticketExpiresMs: expiresMs },
          ops: [
            ...(previous === undefined || previous === ticketHash ? [] : [gone(key('St', previous))]),
            put({ _id: key('St', ticketHash), linkId }),
          ],
          result: undefined,
        };
      });
    },

    takeTicket: async (ticketHash, nowMs) => {
      requireText(ticketHash, 'ticketHash');
      const index = live(await data.get(key('St', ticketHash)));
      if (index === null) return null;
      return decide(index.linkId as string, async (found) => {
        if (
          found === null ||
          found.state.ticketHash !== ticketHash ||
          !((found.state.ticketExpiresMs ?? 0) > nowMs)
        )
          return { state: null, result: null };
        const { ticketHash: _h, ticketExpiresMs: _e, ...rest } = found.state;
        return {
          state: rest,
          ops: [gone(key('St', ticketHash))],
          result: toLink(found.created, found.state),
        };
      });
    },
  };
};
