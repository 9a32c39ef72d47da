/**
 * The `consent-grant` and `consent-revoke` audit entries of grants and revocations that stand: marks
 * (audit-marks.ts) looked up in the audit log at each connect's check and each refresh of the grant list.
 *
 * Invariants:
 * - Every grant this account issued that stands on the server gets a `consent-grant` audit entry
 *   (`onEvent`) with the signed grant's content, from whichever patient device learns that it stands:
 *   `grant` emits it at the server's answer. A grant is marked unrecorded in device meta
 *   (`grants-unrecorded`) before it is sent, and so is each grant a reading of the server's list adds to
 *   this device's copy; at each connect's check and each refresh of the list (not at every listing: a
 *   lookup may read and verify the whole audit log), each marked grant held in the copy is looked up in
 *   the audit log (`recorded`: this device's own entries, then the served log), unmarked once found,
 *   emitted once per session while not. A grant learnt from the list is first left to the device that
 *   made it for one refresh interval (`grantRefreshMs`, at most GRANT_REFRESH_MS): that device emits at
 *   its answer or at its next check, so in the normal case only it appends. Never lost: the mark stays
 *   until the log shows the entry (a failed append, a close, a lock retry at a later check). Duplicated
 *   only when two devices find the same grant unrecorded before either entry is served (its answer lost,
 *   both checking at once; or the granting device offline right after its answer, its entry in its
 *   outbox, past that interval); `disclosures()` lists it once. A mark whose grant a whole listing read
 *   after its expiry lacks is dropped (it never stood). Grants held before this mark existed get none.
 * - Every revocation of such a grant that stands gets a `consent-revoke` entry the same way
 *   (`revocations-unrecorded` marks, `recorded`): a grant the copy holds revoked is revoked again
 *   unmarked (sent again for a server that lost it; never a second entry), `revoke` calls for one grant
 *   at once share one revocation, and otherwise `revoke` marks it before keeping and sending it (unmarked
 *   when the server refuses it for good) and emits at the answer to the call that signed it, naming this
 *   device (`deviceId`) as the one that revoked — unless the server's list, read after the answer, holds
 *   another revocation of the grant signed by the patient (another device's, not yet in this copy: the
 *   server keeps the first and answers a later one `ok`), which is then taken as one learnt from the list
 *   (its time; its mark, not this call's). A kept revocation taken at a later send (its answer lost, or
 *   sent at a later connect) is recorded by the lookups below instead, which find an entry appended
 *   before; its mark waits, neither looked up nor dropped, while it is kept. A reading of the list that
 *   finds a grant newly revoked marks it too, left to the revoking
 *   device for one refresh interval, and an entry appended for such a mark names no device (this one did
 *   not revoke it). A mark is looked up once the copy holds the grant revoked (signed by the patient),
 *   unmarked once the log shows the entry, and dropped when a whole listing after the grant's expiry shows
 *   it unrevoked (the revocation never stood). So a lost answer, a lock or a crash before the entry
 *   reached the outbox delays it, never loses it. Revocations held before this mark existed get none.
 *   Both kinds of mark due at one check are looked up with one audit call, which reads the served log
 *   once at most; when that call fails, every mark of both kinds is kept for the next check.
 */
import type { ConsentCore } from './consent-core';
import { openGrantPurpose } from './grant-purpose';
import { type GrantIdsByAction, isAuditError } from '../audit/errors';
import {
  type StoredGrant,
  GRANT_REFRESH_MS,
  UNRECORDED_KEY,
  Unrecorded,
  REVOCATIONS_UNRECORDED_KEY,
  UnrecordedRevocations,
} from './consent-types';
import { createAuditMarks } from './audit-marks';
import type { Recording } from './consent-parts';

export const createRecording = (c: ConsentCore): Recording => {
  const { deps } = c;
  // Audit entries of standing grants and revocations (see the header).
  /** How long a grant learnt from the server's list is left to the device that made it. */
  const recordGraceMs = Math.max(0, Math.min(deps.grantRefreshMs ?? GRANT_REFRESH_MS, GRANT_REFRESH_MS));
  const grantAudit = createAuditMarks({
    meta: deps.meta,
    key: UNRECORDED_KEY,
    schema: Unrecorded,
    enabled: deps.recorded !== undefined,
    // A grant stands once the copy holds it: only what the server lists (or took) is added to it.
    stands: () => true,
    emit: (_mark, { grant }) =>
      deps.onEvent?.({
        action: 'consent-grant',
        detail: {
          grantId: grant.grantId,
          granteeId: grant.granteeId,
          scope: grant.scope,
          expiresAt: grant.expiresAt,
          purpose: openGrantPurpose(grant, c.reader()) ?? '',
        },
      }),
  });
  const revocationAudit = createAuditMarks({
    meta: deps.meta,
    key: REVOCATIONS_UNRECORDED_KEY,
    schema: UnrecordedRevocations,
    enabled: deps.recorded !== undefined,
    // One stands once the copy holds it (signed by the patient), whoever revoked.
    stands: (g) => g.revokedAt !== undefined,
    // The revoking device names itself; one that learnt the revocation from the list names no device.
    emit: (mark) =>
      deps.onEvent?.({
        action: 'consent-revoke',
        detail: {
          grantId: mark.grantId,
          granteeId: mark.granteeId,
          ...(mark.own ? { deviceId: deps.device.deviceId } : {}),
        },
      }),
  });
  let recording: Promise<unknown> = Promise.resolve();
  /**
   * After a reading of the server's list (`whole`: every page of it): looks up the marked grants and
   * revocations the copy shows standing, with one audit lookup for both kinds (each may read and verify
   * the whole served log), then emits the entries the log lacks and unmarks those it has (see
   * `createAuditMarks`). A lookup with no answer now (AUDIT_LOOKUP_UNVERIFIED) keeps every mark, and so
   * does one that fails (offline, locked, a store error: rejected, for the caller to drop).
   */
  const recordStanding = (whole: boolean): Promise<void> => {
    const recorded = deps.recorded;
    if (recorded === undefined) return Promise.resolve();
    const run = recording.then(async () => {
      if (!c.checks.live()) return;
      const grantMarks = await grantAudit.stored();
      const revocationMarks = await revocationAudit.stored();
      if (grantMarks.length === 0 && revocationMarks.length === 0) return;
      const now = deps.now();
      const held = new Map<string, StoredGrant>();
      for (const g of await c.copy.localGrants())
        if (!held.has(g.grant.grantId)) held.set(g.grant.grantId, g);
      const grantsDue = grantAudit.check(grantMarks, held, now, whole);
      // A kept revocation's mark waits for its send: the grant's end must not drop it meanwhile.
      const revocationsDue = revocationAudit.check(
        revocationMarks,
        held,
        now,
        whole,
        await c.kept.revokedHere(),
      );
      const none = new Set<string>();
      let found: GrantIdsByAction = { 'consent-grant': none, 'consent-revoke': none };
      let undecided: GrantIdsByAction = { 'consent-grant': none, 'consent-revoke': none };
      if (grantsDue.ids.length > 0 || revocationsDue.ids.length > 0) {
        try {
          found = await recorded({ 'consent-grant': grantsDue.ids, 'consent-revoke': revocationsDue.ids });
        } catch (error) {
          // An entry not checkable now may be the one of a grant looked for: settling that grant would
          // append a second entry for it, so its mark stays, asked again at the next check. The others
          // are settled now: one such entry must not hold back every grant's entry.
          if (!isAuditError(error, 'AUDIT_LOOKUP_UNVERIFIED')) throw error;
          // Without the partial answer every grant is undecided.
          if (!error.found || !error.undecided) return;
          ({ found, undecided } = error);
        }
      }
      await grantsDue.settle(found['consent-grant'], undecided['consent-grant']);
      await revocationsDue.settle(found['consent-revoke'], undecided['consent-revoke']);
    });
    recording = run.catch(() => undefined);
    return run;
  };
  /**
   * Looks for the audit entries of marked grants: at each connect's check and each refresh of the grant
   * list, not at every listing (each may read and verify the whole audit log).
   */
  const recordNow = (): void => {
    void recordStanding(true).catch(() => undefined);
  };
  return { grantAudit, revocationAudit, recordGraceMs, recordStanding, recordNow };
};
