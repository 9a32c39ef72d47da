/*
 * Access decisions of the sync service: the grants a decision reads, refusals named from ended grants, and
 * access guards that decide again inside a store write's transaction.
 *
 * Invariants:
 * - A decision holds at the write or the hand-out, not only at the start: a push hands the store an access
 *   guard (store AccessGuard, `accessGuard`) that decides each grantee stream of the batch again inside
 *   the write's transaction, from the grants unended then (read under the write lock: one indexed read
 *   per batch, none for the patient's own streams) and the clock read just before; a stream refused then
 *   stores nothing of the batch: its rows answer the consent code (row by row, as at the start) and the
 *   others are written again without them and their access events. `guarded` does the same for the blob
 *   routes' writes (`loggedWrite`, `loggedRepeatableWrite` with the entry logging the write, one guard
 *   deciding both). So a revocation committed, or a grant's end passed, while a push checks signatures or
 *   waits on the chain lock, or while an access is logged, stores or hands out nothing of that stream
 *   (access-recheck.test.ts, pull-recheck.test.ts, key-fetch-recheck.test.ts,
 *   blob-download-recheck.test.ts, hub-live-recheck.test.ts).
 * - A write of a device revoked while it is in flight stores nothing: a push's and a blob write's guard
 *   reads the device's registration inside the write's transaction (`accessGuard`); envelopes and grants,
 *   whose store writes take no guard, read it just before the write (`refuseRevokedWriter`, nothing
 *   awaited in between: only a revocation committed in that same turn of the event loop could pass, which
 *   a check inside the store's write would close) (device-revoke-key-write-race.test.ts).
 * - Decisions load only the grants unended at that moment (`store.grants.listUnended`, bounded by the caps),
 *   never the account's ended ones, which any patient can pile onto any account and which give no access.
 *   A request that names its streams (pull, push, a check, a key fetch of named streams) loads only those
 *   from the patients it names (`listUnendedFrom`): a decision on a stream reads the grants of its patient
 *   to the caller and nothing else, so it is the decision the whole list gives.
 *   Ended grants are read only to name a refusal's reason (`explain`: one lookup per patient refused, of
 *   that pair's newest ended grants only) and by `listGrants`: at most one answer's worth, or from
 *   PAGING_VERSION one page per request, read by key (never by offset). Grants between a pair are also
 *   capped per rolling day (ended ones count), so what one account can store onto another grows by at
 *   most that rate.
 *
 * Failure modes: a refusal is a consent code (CONSENT_REVOKED, CONSENT_EXPIRED, NO_CONSENT, FORBIDDEN) or
 * DEVICE_REVOKED; an access guard's refusal inside a write is AccessEnded (nothing written), which
 * `guarded` and `consentErrorOf` turn into the stream's consent code.
 */
import { MAX_GRANTS_PER_PAIR_PER_DAY } from '@hale/protocol';
import type { AccessGuard, EndedScope, Grant } from '../store/index';
import { ServiceError } from './service-error';
import {
  decideAccess,
  explainEnded,
  patientToExplain,
  type AccessDecision,
  type Operation,
  type Principal,
} from './access';
import type { SyncContext } from './sync-context';

/**
 * How many of a pair's newest ended grants name a refusal's reason (CONSENT_REVOKED / CONSENT_EXPIRED
 * rather than NO_CONSENT): four days of the most a patient may issue to one grantee, so the lookup stays
 * small whatever is stored, and an older end leaves only the reason's wording less precise — never access.
 */
const ENDED_GRANTS_EXPLAINING_A_REFUSAL = 4 * MAX_GRANTS_PER_PAIR_PER_DAY;

/**
 * Thrown by an access guard's check (`accessGuard`) inside a write's transaction: the streams it refuses
 * now, each with the decision made from the grants unended then (NO_CONSENT for a revoked grant: ended
 * grants are not loaded to decide; `explain` names the reason afterwards).
 */
export class AccessEnded extends Error {
  constructor(readonly refused: ReadonlyMap<string, AccessDecision>) {
    super('access ended before the write');
  }
}

/**
 * Whether `error` is an access guard's refusal (`accessGuard`): the write it guarded committed nothing.
 * For callers that log through the guard themselves (the live hub), which then decide the stream anew.
 */
export const isAccessEnded = (error: unknown): boolean => error instanceof AccessEnded;

export const createConsent = ({ store, now, iso }: SyncContext) => {
  /**
   * The grants `p`'s account received that are unended now: all an access decision needs. Ended ones are
   * never loaded to decide (any account can pile them onto another; see `explain` for refusals). With
   * `streams`, only those from the patients the streams name (not `p`'s own): all that deciding on those
   * streams needs, whatever else a clinic's provider received.
   */
  const grantsFor = (p: Principal, streams?: readonly string[]): Promise<Grant[]> => {
    if (streams === undefined) {
      if (p.role !== 'provider' && p.role !== 'patient') return Promise.resolve([]);
      return store.grants.listUnended({ granteeId: p.accountId }, iso());
    }
    const patients = new Set<string>();
    for (const stream of streams) {
      const patientId = patientToExplain(p, stream);
      if (patientId !== null) patients.add(patientId);
    }
    return grantsFrom(p, patients);
  };

  /** As `grantsFor`, of the patients `patientIds` only (the live hub reloads one patient's after a change). */
  const grantsFrom = (p: Principal, patientIds: ReadonlySet<string>): Promise<Grant[]> =>
    (p.role !== 'provider' && p.role !== 'patient') || patientIds.size === 0
      ? Promise.resolve([])
      : store.grants.listUnendedFrom(p.accountId, [...patientIds], iso());

  /**
   * Ended-grant lookups of one request or one re-evaluation: each patient's are read once, and only when
   * a refusal names that patient's stream.
   */
  const endedLookups = () => {
    const seen = new Map<string, Promise<EndedScope[]>>();
    return (patientId: string, granteeId: string, at: number): Promise<EndedScope[]> => {
      let hit = seen.get(patientId);
      if (!hit) {
        hit = store.grants.endedScopes(
          { patientId, granteeId },
          new Date(at).toISOString(),
          ENDED_GRANTS_EXPLAINING_A_REFUSAL,
        );
        seen.set(patientId, hit);
      }
      return hit;
    };
  };
  type EndedLookup = ReturnType<typeof endedLookups>;

  /**
   * `decision`, made by `decideAccess` from unended grants, with a refusal's reason completed from the
   * pair's ended grants (CONSENT_REVOKED / CONSENT_EXPIRED rather than NO_CONSENT): read only here.
   */
  const explain = async (
    p: Principal,
    stream: string,
    decision: AccessDecision,
    at: number,
    lookup: EndedLookup = endedLookups(),
  ): Promise<AccessDecision> => {
    if (decision.ok || (decision.code !== 'NO_CONSENT' && decision.code !== 'CONSENT_EXPIRED'))
      return decision;
    const patientId = patientToExplain(p, stream);
    if (patientId === null) return decision;
    return explainEnded(p, stream, decision, await lookup(patientId, p.accountId, at));
  };

  const check = async (p: Principal, stream: string, op: Operation) => {
    const t = now();
    // The account's own streams need no grant: none is read.
    if (patientToExplain(p, stream) === null) return decideAccess(p, stream, op, [], t);
    return explain(p, stream, decideAccess(p, stream, op, await grantsFor(p, [stream]), t), t);
  };

  /** A write refused: its device was revoked while in flight (`accessGuard`, `refuseRevokedWriter`). */
  const writerRevokedError = (): ServiceError =>
    new ServiceError('DEVICE_REVOKED', 'this device was revoked; nothing was written');

  /**
   * The guard (store AccessGuard) that takes `p`'s decisions on `streams` for `op` again inside a write's
   * transaction, from the grants unended then and the clock read now (the caller hands it to the store in
   * the same synchronous step); it throws AccessEnded naming the streams refused. It also refuses the
   * write, DEVICE_REVOKED, when `p`'s device was revoked meanwhile (the device's registration read in that
   * step: a revocation answered before the write commits leaves nothing of it stored, also on `p`'s own
   * streams, where no grant is read).
   */
  const accessGuard = (p: Principal, streams: readonly string[], op: Operation): AccessGuard => {
    const granted = [...new Set(streams)].filter((stream) => patientToExplain(p, stream) !== null);
    const t = now();
    const patientIds = [...new Set(granted.map((stream) => patientToExplain(p, stream)!))];
    return {
      granteeId: p.accountId,
      patientIds,
      at: new Date(t).toISOString(),
      writer: p.deviceId,
      check: (grants, writerRevoked) => {
        if (writerRevoked) throw writerRevokedError();
        const refused = new Map<string, AccessDecision>();
        for (const stream of granted) {
          const decision = decideAccess(p, stream, op, grants, t);
          if (!decision.ok) refused.set(stream, decision);
        }
        if (refused.size > 0) throw new AccessEnded(refused);
      },
    };
  };

  /**
   * DEVICE_REVOKED, nothing written, when `p`'s device was revoked since it signed in: for the writes whose
   * store call takes no access guard (`putEnvelopes`, `grant`), called just before that call with nothing
   * awaited in between. Without it a revocation committed while such a write checked its signatures or
   * waited on a lock let the revoked device's envelopes (a new epoch, whose key it holds) or grant be stored.
   */
  const refuseRevokedWriter = async (p: Principal): Promise<void> => {
    const device = await store.devices.get(p.deviceId);
    if (device?.revokedAt !== undefined) throw writerRevokedError();
  };

  /**
   * Refused decisions (stream → decision) as consent errors, their reasons named from the ended grants:
   * those of an AccessEnded are read after the write was rolled back, so the revocation that refused it is
   * among them.
   */
  const refusalsOf = async (
    p: Principal,
    refused: ReadonlyMap<string, AccessDecision>,
    at = now(),
  ): Promise<Map<string, ServiceError>> => {
    const lookup = endedLookups();
    const out = new Map<string, ServiceError>();
    for (const [stream, decision] of refused) {
      const named = await explain(p, stream, decision, at, lookup);
      // A refusal stays one whatever its reason: explain only renames it.
      if (!named.ok) out.set(stream, new ServiceError(named.code, named.message));
    }
    return out;
  };

  /**
   * Runs `write`, a store write of `p` on `stream`, with the guard of `op` (`accessGuard`), which `write`
   * must hand to the store before it awaits anything. A refusal in the write's transaction throws the
   * consent code (CONSENT_REVOKED, CONSENT_EXPIRED, NO_CONSENT, FORBIDDEN); nothing was written.
   */
  const guarded = async <T>(
    p: Principal,
    stream: string,
    op: Operation,
    write: (guard: AccessGuard) => Promise<T>,
  ): Promise<T> => {
    try {
      return await write(accessGuard(p, [stream], op));
    } catch (error) {
      throw await consentErrorOf(p, stream, error);
    }
  };

  /** `error` as `guarded` throws it: an access guard's refusal becomes the consent code of `stream`. */
  const consentErrorOf = async (p: Principal, stream: string, error: unknown): Promise<unknown> =>
    error instanceof AccessEnded ? ((await refusalsOf(p, error.refused)).get(stream) ?? error) : error;

  return {
    grantsFor,
    grantsFrom,
    endedLookups,
    explain,
    check,
    accessGuard,
    refuseRevokedWriter,
    refusalsOf,
    guarded,
    consentErrorOf,
  };
};

export type Consent = ReturnType<typeof createConsent>;
