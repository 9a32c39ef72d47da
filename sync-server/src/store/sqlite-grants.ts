/*
 * The SQLite store's consent (types.ts `grants` and `acceptances`).
 *
 * Invariants:
 * - Every grant stored or revoked bumps its grantee's `grant_changes` position in the same transaction, so
 *   `changesSince` never misses a change.
 * - `supersede` ends the replaced grant (`revoked_at`, `superseded_by`, v23) and inserts its successor in one
 *   BEGIN IMMEDIATE transaction, the end conditioned on the replaced grant being unended then: of two
 *   replacements of one grant exactly one is stored, and no reader sees both grants unended or neither.
 * - `grants_unrevoked_by_grantee_patient` serves a grantee's unended grants by patient in stream id
 *   order (`${patient_id}/`): `listUnendedByPatient` pages read only as far as their limit and
 *   `listUnendedFrom` only the named patients', skipping expired grants on the entry, never touching
 *   revoked ones.
 * - `acceptances.put` reads the grantee's count and inserts in one BEGIN IMMEDIATE transaction, so no
 *   grantee passes the cap it is given. A restore goes back to the backup's acceptances.
 *
 * Failure modes: malformed arguments → INVALID; revoking an unknown grant → NOT_FOUND; a put or supersede
 * of a stored id → ALREADY_EXISTS; of unknown accounts → NOT_FOUND (the foreign keys).
 */
import { StoreError, type Acceptance, type Grant, type SyncStore } from './types';
import { rowToAcceptance, rowToGrant } from './sqlite-rows';
import { invalid, requireCount, requireText, requireUnendedFrom } from './store-checks';
import { unendedFrom } from './sqlite-guard';
import type { GrantPageArgs, Statements } from './sqlite-statements';
import type { SqliteContext } from './sqlite-context';

/** Exactly one of the two, for the per-side grant lists. */
const grantSide = (of: { patientId?: string; granteeId?: string }): ['patient' | 'grantee', string] => {
  if (of.patientId !== undefined && of.granteeId === undefined) return ['patient', of.patientId];
  if (of.granteeId !== undefined && of.patientId === undefined) return ['grantee', of.granteeId];
  throw invalid('give exactly one of patientId and granteeId');
};

export const sqliteGrants = ({ db, call }: SqliteContext): Pick<SyncStore, 'grants' | 'acceptances'> => {
  const grantRevokeTx = db.transaction(
    (s: Statements, grantId: string, revokedAt: string, revocation: string) => {
      const changed = s.grantRevoke.run(revokedAt, revocation, grantId).changes > 0;
      const row = s.grantGet.get(grantId);
      if (row === undefined) throw new StoreError('NOT_FOUND', `grant ${grantId} does not exist`);
      if (changed) s.grantChangeBump.run(row.grantee_id);
      return rowToGrant(row);
    },
  );

  const insertGrant = (s: Statements, g: Grant, now: string | null): void => {
    s.grantInsert.run(
      g.grantId,
      g.patientId,
      g.granteeId,
      JSON.stringify(g.scope),
      g.start,
      g.expiresAt,
      g.issuedAt,
      JSON.stringify(g.signed),
      g.revokedAt ?? null,
      g.revocation === undefined ? null : JSON.stringify(g.revocation),
      now,
      g.supersededBy ?? null,
    );
  };

  const grantPutTx = db.transaction((s: Statements, g: Grant, now: string | null) => {
    insertGrant(s, g, now);
    s.grantChangeBump.run(g.granteeId);
  });

  /**
   * The replaced grant is ended first, only if it is of the pair and unended at `now`: the update's own
   * condition is the check, so of two replacements the one that commits second finds it ended and writes
   * nothing (BEGIN IMMEDIATE: one writer at a time).
   */
  const grantSupersedeTx = db.transaction(
    (s: Statements, g: Grant, supersedes: string, now: string): 'stored' | 'not-supersedable' => {
      if (s.grantGet.get(g.grantId) !== undefined)
        throw new StoreError('ALREADY_EXISTS', `grant ${g.grantId} exists`);
      const ended = s.grantSupersedeEnd.run(now, g.grantId, supersedes, g.patientId, g.granteeId, now);
      if (ended.changes === 0) return 'not-supersedable';
      insertGrant(s, g, now);
      s.grantChangeBump.run(g.granteeId);
      return 'stored';
    },
  );

  /** Check and insert in one BEGIN IMMEDIATE transaction: concurrent puts cannot both take the last place. */
  const acceptancePutTx = db.transaction(
    (s: Statements, a: Acceptance, max: number): 'added' | 'kept' | 'full' => {
      if (s.acceptanceGet.get(a.granteeId, a.patientId) !== undefined) return 'kept';
      if (s.acceptanceCount.get(a.granteeId)!.n >= max) return 'full';
      s.acceptanceInsert.run(a.granteeId, a.patientId, a.acceptedAt);
      return 'added';
    },
  );

  const grantChangesTx = db.transaction((s: Statements, since: number) => {
    const position = s.grantChangePosition.get()!.position;
    const granteeIds = s.grantChangesSince.all(since).map((r) => r.grantee_id);
    return { position, granteeIds };
  });

  return {
    grants: {
      put: (g, now) =>
        call((s) => {
          requireText(g.grantId, 'grantId');
          if (now !== undefined) requireText(now, 'now');
          grantPutTx.immediate(s, g, now ?? null);
        }),
      get: (grantId) =>
        call((s) => {
          const row = s.grantGet.get(grantId);
          return row === undefined ? null : rowToGrant(row);
        }),
      listForPatient: (patientId) => call((s) => s.grantsForPatient.all(patientId).map(rowToGrant)),
      listForGrantee: (granteeId) => call((s) => s.grantsForGrantee.all(granteeId).map(rowToGrant)),
      countUnended: ({ patientId, granteeId }, now) =>
        call((s) => {
          requireText(now, 'now');
          if (patientId !== undefined && granteeId !== undefined) {
            return s.grantsUnendedForPair.get(patientId, granteeId, now)!.n;
          }
          if (patientId !== undefined) return s.grantsUnendedForPatient.get(patientId, now)!.n;
          if (granteeId !== undefined) return s.grantsUnendedForGrantee.get(granteeId, now)!.n;
          throw invalid('countUnended needs a patientId or a granteeId');
        }),
      countUnendedNotAccepted: (granteeId, now) =>
        call((s) => {
          requireText(granteeId, 'granteeId');
          requireText(now, 'now');
          return s.grantsUnendedNotAccepted.get(granteeId, now)!.n;
        }),
      revoke: (grantId, revokedAt, revocation) =>
        call((s) => grantRevokeTx.immediate(s, grantId, revokedAt, JSON.stringify(revocation))),
      supersede: (g, supersedes, now) =>
        call((s) => {
          requireText(g.grantId, 'grantId');
          requireText(supersedes, 'supersedes');
          requireText(now, 'now');
          if (supersedes === g.grantId) throw invalid('a grant cannot supersede itself');
          return grantSupersedeTx.immediate(s, g, supersedes, now);
        }),
      listUnended: (of, now) =>
        call((s) => {
          const [side, id] = grantSide(of);
          requireText(now, 'now');
          const statement = side === 'patient' ? s.grantsUnendedOfPatient : s.grantsUnendedOfGrantee;
          return statement.all(id, now).map(rowToGrant);
        }),
      listUnendedByPatient: (granteeId, now, { after, limit }) =>
        call((s) => {
          requireText(granteeId, 'granteeId');
          requireText(now, 'now');
          requireCount(limit);
          if (after === undefined)
            return s.grantsUnendedByPatientFirst.all(granteeId, now, limit).map(rowToGrant);
          if (typeof after !== 'string') throw invalid('after must be a string');
          return s.grantsUnendedByPatientAfter.all(granteeId, after, now, limit).map(rowToGrant);
        }),
      listUnendedFrom: (granteeId, patientIds, now) =>
        call((s) => {
          requireUnendedFrom(granteeId, patientIds, now);
          return unendedFrom(s, granteeId, patientIds, now);
        }),
      listEnded: (of, now, limit) =>
        call((s) => {
          const [side, id] = grantSide(of);
          requireText(now, 'now');
          requireCount(limit);
          const statement = side === 'patient' ? s.grantsEndedOfPatient : s.grantsEndedOfGrantee;
          return statement.all(id, now, limit).map(rowToGrant);
        }),
      listPage: (of, { after, unendedAt, limit }) =>
        call((s) => {
          const [side, id] = grantSide(of);
          requireCount(limit);
          const args: GrantPageArgs = [id];
          if (unendedAt !== undefined) {
            requireText(unendedAt, 'unendedAt');
            args.push(unendedAt);
          }
          if (after !== undefined) {
            requireText(after.issuedAt, 'after.issuedAt');
            requireText(after.grantId, 'after.grantId');
            args.push(after.issuedAt, after.grantId);
          }
          args.push(limit);
          const statement =
            s.grantPage[side][unendedAt === undefined ? 'all' : 'unended'][
              after === undefined ? 'first' : 'after'
            ];
          return statement.all(...args).map(rowToGrant);
        }),
      endedScopes: ({ patientId, granteeId }, now, limit) =>
        call((s) => {
          requireText(now, 'now');
          requireCount(limit);
          return s.grantsEndedScopes
            .all(patientId, granteeId, now, limit)
            .filter((r): r is { type: string; revoked: number } => typeof r.type === 'string')
            .map((r) => ({ type: r.type, revoked: r.revoked === 1 }));
        }),
      countStoredSince: ({ patientId, granteeId }, since) =>
        call((s) => {
          requireText(since, 'since');
          return s.grantsStoredSince.get(patientId, granteeId, since)!.n;
        }),
      changesSince: (since) =>
        call((s) => {
          if (!Number.isSafeInteger(since) || since < 0)
            throw invalid(`since must be a position, not ${since}`);
          return grantChangesTx(s, since);
        }),
    },

    acceptances: {
      put: (a, max) =>
        call((s) => {
          requireText(a.granteeId, 'granteeId');
          requireText(a.patientId, 'patientId');
          requireText(a.acceptedAt, 'acceptedAt');
          if (a.granteeId === a.patientId) throw invalid('an account cannot accept itself');
          requireCount(max, 'max');
          return acceptancePutTx.immediate(s, a, max);
        }),
      delete: (granteeId, patientId) => call((s) => s.acceptanceDelete.run(granteeId, patientId).changes > 0),
      has: (granteeId, patientId) => call((s) => s.acceptanceGet.get(granteeId, patientId) !== undefined),
      count: (granteeId) => call((s) => s.acceptanceCount.get(granteeId)!.n),
      listPage: (granteeId, { after, limit }) =>
        call((s) => {
          requireCount(limit);
          const rows =
            after === undefined
              ? s.acceptancePageFirst.all(granteeId, limit)
              : s.acceptancePageAfter.all(granteeId, after, limit);
          return rows.map(rowToAcceptance);
        }),
    },
  };
};
