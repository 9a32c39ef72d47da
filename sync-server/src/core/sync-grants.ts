/*
 * Consent changes: grants, revocations and a provider's accepted patients.
 *
 * Invariants:
 * - Grant caps (limits.ts): a grant needs no agreement from its grantee, so `grant` refuses one that would
 *   take a pair, a patient or a grantee past its cap on unended grants (or a pair past its daily rate).
 *   The grantee's cap counts only grants from patients it has not accepted (`acceptPatient`); a grant
 *   from an accepted patient is not checked against it (the pair, daily and patient caps still are).
 *   Acceptance changes no access and ends no grant: un-accepting makes the patient's unended grants count
 *   again for the next grant anyone issues to that grantee. A grant and a change of the grantee's
 *   acceptances are serialised on the grantee's cap lock in this process, so a cap is checked against
 *   the acceptances the grant is stored under.
 * - A revocation tells live delivery just before it commits (`onGrantEnding`) and answers only once the
 *   grantee's connections were re-decided (`onGrantsChanged`); the server's clock decides when access ends.
 * - A grant or revocation ends the grantee's access windows (sync-access-log.ts) before it answers: access
 *   after a change of grants opens new windows, logged before it is served.
 * - A retry of a stored grant (its answer was lost) is answered as before, caps or not.
 * - A grant that names another in `supersedes` (a changed grant) is stored only with that grant's end, in
 *   one store step (`grants.supersede`), and only while that grant is the same patient's to the same
 *   grantee and unended at the server's time: of two changes of one grant, one is stored. The end is
 *   processed as a revocation's (`onGrantEnding` before the commit, with the new grant so streams both
 *   cover stay delivered; `onGrantsChanged` before the answer). A replacement counts toward the pair's daily
 *   rate, not toward the caps on unended grants (it adds none).
 * - A revocation of a replaced grant is refused (GRANT_SUPERSEDED), changing nothing: its sharing goes on
 *   under the replacement, which is what the patient revokes to end it. A revocation of a grant ended
 *   otherwise is `ok`, the first end kept.
 *
 * Failure modes: FORBIDDEN (not the patient, not a provider), BAD_MESSAGE, NOT_FOUND, BAD_SIGNATURE,
 * ALREADY_EXISTS (another grant under the id), TOO_MANY_GRANTS, TOO_MANY_ACCEPTED, DEVICE_REVOKED,
 * BAD_CURSOR, GRANT_NOT_SUPERSEDABLE, GRANT_SUPERSEDED; nothing changed then.
 */
import {
  AcceptedCursorPayload,
  AcceptedPatient,
  DEFAULT_ACCEPTED_PAGE,
  GRANT_RATE_WINDOW_MS,
  grantSignaturePayload,
  MAX_ACCEPTED_PATIENTS_PER_GRANTEE,
  MAX_ACTIVE_GRANTS_PER_GRANTEE,
  MAX_ACTIVE_GRANTS_PER_PAIR,
  MAX_ACTIVE_GRANTS_PER_PATIENT,
  MAX_GRANTS_PER_PAIR_PER_DAY,
  revocationSignaturePayload,
  validate,
  type Grant as WireGrant,
  type SignedGrant,
  type SignedRevocation,
} from '@hale/protocol';
import { isStoreError, type Grant as StoredGrant } from '../store/index';
import { decodeBase64url as b64 } from './base64url';
import { ServiceError } from './service-error';
import { decodeCursor, encodeCursor } from './page-cursor';
import type { Principal } from './access';
import { keyedLocks } from './keyed-locks';
import { verifyPayload } from './sync-signing';
import type { Consent } from './sync-consent';
import type { AccessLog } from './sync-access-log';
import type { SyncContext } from './sync-context';

export const createGrants = (
  { deps, store, now, ed, iso }: SyncContext,
  { refuseRevokedWriter }: Consent,
  { accessWindows }: AccessLog,
) => {
  /** Serialises grants that count against the same caps (patient issuing, grantee receiving). */
  const lockGrantCaps = keyedLocks();

  /** The store's record of a signed grant (checked by the caller). */
  const storedGrantOf = (signed: SignedGrant): StoredGrant => {
    const g = signed.grant;
    return {
      grantId: g.grantId,
      patientId: g.patientId,
      granteeId: g.granteeId,
      scope: g.scope.map((s) => ({ type: s.type, access: s.access })),
      start: g.start,
      expiresAt: g.expiresAt,
      issuedAt: g.issuedAt,
      signed: signed,
    };
  };

  const grant = async (p: Principal, signed: SignedGrant): Promise<void> => {
    const g: WireGrant = signed.grant;
    if (g.patientId !== p.accountId) throw new ServiceError('FORBIDDEN', 'only the patient grants consent');
    if (g.granteeId === g.patientId)
      throw new ServiceError('BAD_MESSAGE', 'a patient cannot grant to itself');
    if (Date.parse(g.expiresAt) <= Date.parse(g.start)) {
      throw new ServiceError('BAD_MESSAGE', 'expiresAt must be after start');
    }
    if (g.supersedes === g.grantId) throw new ServiceError('BAD_MESSAGE', 'a grant cannot supersede itself');
    const patient = await store.accounts.get(g.patientId);
    if (!patient) throw new ServiceError('NOT_FOUND', 'patient account not found');
    const grantee = await store.accounts.get(g.granteeId);
    if (!grantee) throw new ServiceError('NOT_FOUND', 'grantee account not found');
    const identity = b64(patient.identityPublicKey, 'identityPublicKey');
    if (!(await verifyPayload(ed, identity, grantSignaturePayload(g), signed.sig))) {
      throw new ServiceError('BAD_SIGNATURE', "the grant is not signed by the patient's identity key");
    }
    const sameAsStored = async (): Promise<void> => {
      const existing = await store.grants.get(g.grantId);
      if (!existing || JSON.stringify(existing.signed) !== JSON.stringify(signed)) {
        throw new ServiceError('ALREADY_EXISTS', 'a different grant with this id exists');
      }
    };
    /** Set when a replaced grant is ending: called once the grantee's connections were re-decided. */
    let settle: (() => void) | undefined;
    const release = await lockGrantCaps([`issued:${g.patientId}`, `received:${g.granteeId}`]);
    try {
      // A retry of a stored grant (its answer was lost) is answered as before, caps or not.
      if (await store.grants.get(g.grantId)) {
        await sameAsStored();
      } else if (g.supersedes !== undefined) {
        settle = await replace(p, storedGrantOf(signed), g.supersedes, sameAsStored);
      } else {
        await checkGrantCaps(g.patientId, g.granteeId);
        await refuseRevokedWriter(p);
        try {
          await store.grants.put(storedGrantOf(signed), iso());
        } catch (error) {
          if (!isStoreError(error, 'ALREADY_EXISTS')) throw error;
          await sameAsStored();
        }
      }
    } finally {
      release();
    }
    try {
      // A grantee's access after a change of its grants opens new windows: logged before it is served.
      await accessWindows.endAccount(g.granteeId);
      await deps.onGrantsChanged?.(g.granteeId, g.patientId);
    } finally {
      settle?.();
    }
  };

  /** Why `old` (the grant `supersedes` names) cannot be replaced by `next` at `at`, or null when it can. */
  const notSupersedable = (old: StoredGrant | null, next: StoredGrant, at: string): string | null => {
    // Another patient's grant is answered as none: its id tells the caller nothing.
    if (old === null || old.patientId !== next.patientId) return 'no grant of this patient has that id';
    if (old.granteeId !== next.granteeId) return 'it is a grant to another grantee';
    if (old.supersededBy !== undefined) return `it was replaced already (by ${old.supersededBy})`;
    if (old.revokedAt !== undefined) return 'it was revoked';
    if (old.expiresAt <= at) return 'it has expired';
    return null;
  };

  /**
   * Stores `next`, which replaces the grant `supersedes` names, and ends that one in the same store step
   * (`grants.supersede`), as a revocation ends a grant: live delivery is told just before the commit
   * (`onGrantEnding`, with `next`, so the streams both grants cover are delivered on without a gap) and the
   * function it returns is answered, for the caller to call once the grantee's connections were re-decided.
   * GRANT_NOT_SUPERSEDABLE (nothing stored) when that grant is none of this patient's to the same grantee,
   * or is ended now (revoked, expired, replaced: also by a replacement committed meanwhile). Only the pair's
   * daily rate is checked of the caps: a replacement never adds an unended grant. The caller holds the
   * caps' lock.
   */
  const replace = async (
    p: Principal,
    next: StoredGrant,
    supersedes: string,
    sameAsStored: () => Promise<void>,
  ): Promise<(() => void) | undefined> => {
    const refuse = (why: string): ServiceError =>
      new ServiceError(
        'GRANT_NOT_SUPERSEDABLE',
        `the grant this one supersedes cannot be replaced: ${why}; nothing stored`,
      );
    const why = notSupersedable(await store.grants.get(supersedes), next, iso());
    if (why !== null) throw refuse(why);
    await checkGrantRate(next.patientId, next.granteeId);
    await refuseRevokedWriter(p);
    // As a revocation: before the commit, in the same synchronous step as its start (see `revoke`).
    const settle = deps.onGrantEnding?.(next.granteeId, supersedes, next);
    const undo = async (): Promise<void> => {
      // Not stored, or not known to be: the connections get the grants the store holds.
      settle?.();
      await Promise.allSettled([deps.onGrantsChanged?.(next.granteeId, next.patientId)]);
    };
    let outcome: 'stored' | 'not-supersedable';
    try {
      // The server's clock decides when the replaced grant ends.
      outcome = await store.grants.supersede(next, supersedes, iso());
    } catch (error) {
      await undo();
      if (!isStoreError(error, 'ALREADY_EXISTS')) throw error;
      await sameAsStored();
      return undefined;
    }
    if (outcome === 'not-supersedable') {
      await undo();
      const now = await store.grants.get(supersedes);
      throw refuse(notSupersedable(now, next, iso()) ?? 'it ended meanwhile');
    }
    return settle;
  };

  /**
   * TOO_MANY_GRANTS when a new grant from `patientId` to `granteeId` would break a cap on unended grants
   * or the pair's rate over a rolling day (limits.ts): a grant needs no agreement from its grantee, so
   * without them any account could pile grants onto any other — unended ones, or ended ones by granting
   * and revoking (ended grants stay stored as the consent history). The per-grantee cap counts grants
   * from patients the grantee has not accepted only, and a grant from an accepted patient is not checked
   * against it. The caller holds the caps' lock.
   */
  const checkGrantCaps = async (patientId: string, granteeId: string): Promise<void> => {
    const at = iso();
    await checkGrantRate(patientId, granteeId);
    const caps = [
      {
        limit: 'per-pair',
        max: MAX_ACTIVE_GRANTS_PER_PAIR,
        count: () => store.grants.countUnended({ patientId, granteeId }, at),
      },
      {
        limit: 'per-grantee',
        max: MAX_ACTIVE_GRANTS_PER_GRANTEE,
        count: async () =>
          (await store.acceptances.has(granteeId, patientId))
            ? 0
            : store.grants.countUnendedNotAccepted(granteeId, at),
      },
      {
        limit: 'per-patient',
        max: MAX_ACTIVE_GRANTS_PER_PATIENT,
        count: () => store.grants.countUnended({ patientId }, at),
      },
    ] as const;
    for (const cap of caps) {
      if ((await cap.count()) >= cap.max) {
        throw new ServiceError(
          'TOO_MANY_GRANTS',
          `the ${cap.limit} cap of ${cap.max} unended grants is reached; nothing stored`,
          { limit: cap.limit, max: cap.max },
        );
      }
    }
  };

  /** TOO_MANY_GRANTS, `per-pair-daily`: the pair's rate over a rolling day is spent (`checkGrantCaps`). */
  const checkGrantRate = async (patientId: string, granteeId: string): Promise<void> => {
    const windowStart = new Date(now() - GRANT_RATE_WINDOW_MS).toISOString();
    if (
      (await store.grants.countStoredSince({ patientId, granteeId }, windowStart)) >=
      MAX_GRANTS_PER_PAIR_PER_DAY
    ) {
      throw new ServiceError(
        'TOO_MANY_GRANTS',
        `the patient issued ${MAX_GRANTS_PER_PAIR_PER_DAY} grants to this grantee within a day (ended ones count); nothing stored`,
        { limit: 'per-pair-daily', max: MAX_GRANTS_PER_PAIR_PER_DAY },
      );
    }
  };

  /**
   * The caller (a provider) accepts `patientId` (`accept`), or stops accepting it: grants from an accepted
   * patient do not count toward the caller's cap on grants from strangers. Idempotent. FORBIDDEN for a
   * patient account (its cap stays whole), BAD_MESSAGE for the caller itself, NOT_FOUND (accepting) for an
   * account that does not exist, TOO_MANY_ACCEPTED at MAX_ACCEPTED_PATIENTS_PER_GRANTEE; nothing changes
   * then. Un-accepting ends no grant: the patient's unended grants count again for new grants only.
   */
  const acceptPatient = async (p: Principal, patientId: string, accept: boolean): Promise<void> => {
    if (p.role !== 'provider') {
      throw new ServiceError('FORBIDDEN', 'only a provider account accepts patients');
    }
    if (patientId === p.accountId) throw new ServiceError('BAD_MESSAGE', 'an account cannot accept itself');
    const release = await lockGrantCaps([`received:${p.accountId}`]);
    try {
      if (!accept) {
        await store.acceptances.delete(p.accountId, patientId);
        return;
      }
      if (!(await store.accounts.get(patientId)))
        throw new ServiceError('NOT_FOUND', 'patient account not found');
      const outcome = await store.acceptances.put(
        { granteeId: p.accountId, patientId, acceptedAt: iso() },
        MAX_ACCEPTED_PATIENTS_PER_GRANTEE,
      );
      if (outcome === 'full') {
        throw new ServiceError(
          'TOO_MANY_ACCEPTED',
          `this account accepted ${MAX_ACCEPTED_PATIENTS_PER_GRANTEE} patients, the most it may; nothing stored`,
          { max: MAX_ACCEPTED_PATIENTS_PER_GRANTEE },
        );
      }
    } finally {
      release();
    }
  };

  /**
   * One page of the patients the caller accepted, by patient id, strictly after `cursor` (keyset paging,
   * paging.ts); at most `limit` (DEFAULT_ACCEPTED_PAGE); `next` when one more was read. BAD_CURSOR when
   * `cursor` is not a `listAccepted` cursor of this server.
   */
  const listAccepted = async (
    p: Principal,
    request: { cursor?: string; limit?: number },
  ): Promise<{ patients: AcceptedPatient[]; next?: string }> => {
    const limit = request.limit ?? DEFAULT_ACCEPTED_PAGE;
    const after =
      request.cursor === undefined
        ? undefined
        : decodeCursor(AcceptedCursorPayload, request.cursor, 'listAccepted').patientId;
    const rows = await store.acceptances.listPage(p.accountId, {
      limit: limit + 1,
      ...(after === undefined ? {} : { after }),
    });
    const patients: AcceptedPatient[] = [];
    for (const row of rows.slice(0, limit)) {
      // Stored only after the request's schema and an account lookup accepted them; a row that no longer
      // reads as one (damaged) is left out rather than sent, and still moves the cursor past it.
      const checked = validate(AcceptedPatient, { patientId: row.patientId, acceptedAt: row.acceptedAt });
      if (checked.ok) patients.push(checked.value);
    }
    const last = rows[limit - 1];
    if (rows.length <= limit || last === undefined) return { patients };
    return { patients, next: encodeCursor({ v: 1, k: 'accepted', patientId: last.patientId }) };
  };

  const revoke = async (p: Principal, signed: SignedRevocation): Promise<void> => {
    const r = signed.revocation;
    if (r.patientId !== p.accountId) throw new ServiceError('FORBIDDEN', 'only the patient revokes consent');
    const existing = await store.grants.get(r.grantId);
    if (!existing || existing.patientId !== r.patientId)
      throw new ServiceError('NOT_FOUND', 'grant not found');
    const patient = await store.accounts.get(r.patientId);
    if (!patient) throw new ServiceError('NOT_FOUND', 'patient account not found');
    const identity = b64(patient.identityPublicKey, 'identityPublicKey');
    if (!(await verifyPayload(ed, identity, revocationSignaturePayload(r), signed.sig))) {
      throw new ServiceError('BAD_SIGNATURE', "the revocation is not signed by the patient's identity key");
    }
    // A replaced grant ended then; the sharing goes on under its replacement, which is what to revoke.
    const superseded = (by: string): ServiceError =>
      new ServiceError(
        'GRANT_SUPERSEDED',
        `grant ${r.grantId} was replaced by grant ${by}: revoke that one to end the sharing; nothing stored`,
        { supersededBy: by },
      );
    if (existing.supersededBy !== undefined) throw superseded(existing.supersededBy);
    // Before the commit, in the same synchronous step as its start: live delivery stops deciding from the
    // grant, so nothing committed after it reaches the grantee while the reload below waits for the audit
    // writes (or for a re-evaluation queued ahead of it). Pulls need no notice: each reads its grants
    // again after its pages (`decideAndLog`).
    const settle = deps.onGrantEnding?.(existing.granteeId, r.grantId);
    let stored: StoredGrant;
    try {
      // The server's clock decides when access ends: a backdated or future-dated revocation still cuts now.
      stored = await store.grants.revoke(r.grantId, iso(), signed);
    } catch (error) {
      // Not stored, or not known to be: the connections get the grants the store holds. The caller hears
      // the revocation's failure; the reload reports its own through the hook.
      settle?.();
      await Promise.allSettled([deps.onGrantsChanged?.(existing.granteeId, existing.patientId)]);
      throw error;
    }
    try {
      await accessWindows.endAccount(existing.granteeId);
      await deps.onGrantsChanged?.(existing.granteeId, existing.patientId);
    } finally {
      settle?.();
    }
    // Replaced while this was checked (the store kept that end, and recorded no revocation).
    if (stored.supersededBy !== undefined) throw superseded(stored.supersededBy);
  };

  return { grant, revoke, acceptPatient, listAccepted };
};
