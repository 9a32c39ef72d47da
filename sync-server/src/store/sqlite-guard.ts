/*
 * Access guards (types.ts AccessGuard) on the SQLite store's writes (writeDocs, putManifest, putChunk,
 * blobs.delete), and the read they share with `grants.listUnendedFrom`.
 *
 * Invariants:
 * - `checkGuard` runs first thing inside the write's BEGIN IMMEDIATE transaction, under the write lock: it
 *   reads the grantee's unended grants from the named patients (`grants_unrevoked_by_grantee_patient`) and
 *   the `writer` device's revocation, so a revocation commits before that read (and refuses the write) or
 *   after the write.
 *
 * Failure modes: malformed guard → INVALID before the transaction (store-checks.ts validateGuard); what
 * the guard's check throws is carried out as GuardRefused, rolls the transaction back and reaches the
 * caller unchanged (sqlite-store.ts `call`).
 */
import type { AccessGuard, Grant } from './types';
import { rowToGrant } from './sqlite-rows';
import type { Statements } from './sqlite-statements';

/** Carries what an AccessGuard's check threw out of the write's transaction, to reach the caller unchanged. */
export class GuardRefused extends Error {
  constructor(readonly reason: Error) {
    super('an access guard refused the write; nothing was written');
  }
}

/** `granteeId`'s grants from `patientIds` unended at `at` (`grants_unrevoked_by_grantee_patient`). */
export const unendedFrom = (
  s: Statements,
  granteeId: string,
  patientIds: readonly string[],
  at: string,
): Grant[] =>
  patientIds.length === 0
    ? []
    : s.grantsUnendedFromPatients.all(granteeId, JSON.stringify(patientIds), at).map(rowToGrant);

/**
 * Runs `guard` (types.ts AccessGuard) inside the caller's transaction, before it writes: the grants are
 * read under the write lock, so no revocation commits between this read and the write.
 */
export const checkGuard = (s: Statements, guard: AccessGuard | undefined): void => {
  if (guard === undefined) return;
  const grants = unendedFrom(s, guard.granteeId, guard.patientIds, guard.at);
  const writerRevoked =
    guard.writer !== undefined && (s.deviceGet.get(guard.writer)?.revoked_at ?? null) !== null;
  try {
    guard.check(grants, writerRevoked);
  } catch (error) {
    throw new GuardRefused(error instanceof Error ? error : new Error(String(error)));
  }
};
