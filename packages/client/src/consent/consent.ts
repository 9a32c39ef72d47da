/**
 * The patient's side of consent: grant, revoke (with key rotation), verify a provider's key. Behaviour for
 * callers: the TSDoc of `createConsent` (`npm run docs` → docs/reference). This module only composes the parts:
 *
 * | module | responsibility |
 * | ------ | -------------- |
 * | consent-types.ts, consent-core.ts | what callers pass and get, limits; what the parts share |
 * | pins.ts | identity and wrapping keys pinned per provider |
 * | grant-copy.ts, grant-lists.ts | the device's copy of the grants, the server's list merged into it |
 * | draft-grant.ts, granting.ts | a grant (or a change replacing one) checked, signed, sent, keys published |
 * | revoke.ts, kept-revocations.ts | a revocation signed, kept until the server takes it, sent again |
 * | rekey.ts, write-guard.ts | re-keying ended grants' streams, wraps owed and missing; writes wait for it |
 * | checks.ts | timers between connects: expiry, grant-list refresh, resend backoff |
 * | recording.ts, audit-marks.ts | the audit entries of grants and revocations that stand |
 * | acceptance.ts | a provider accepting patients |
 *
 * Invariants that span the parts:
 * - The grants copy says who may write the patient's streams when (`writeSpans`, read by record-codec.ts).
 * - A grant made here enters the copy at the server's answer, before its keys go out; one made elsewhere once
 *   a `fresh` read of the list adds it (the keyring is told: `invalidateWriteChecks`).
 * - Locked: nothing is signed, nor re-keyed (AccountError LOCKED, checked first and just before signing).
 * Failure modes: ConsentError; nothing is sent when local checks fail. Offline, `settle` fails NETWORK (the
 * next connect retries) and `revoke` resolves, streams left in `pending`; a revocation the server has not
 * taken rejects RevocationPending and is kept. A grantee sets records aside (NO_KEY) until keys land.
 */
import { base64urlEncode, keyFingerprint, safetyNumber } from '@hale/crypto';
import { openGrantPurpose } from './grant-purpose';
import { type AcceptedPatient, isAccountId } from '@hale/protocol';
import type { StreamType } from '@hale/model';
import {
  type ConsentDeps,
  type StoredGrant,
  ConsentError,
  type GrantRequest,
  type Rotation,
  type RevokeResult,
  REVOCATION_NOTICE,
  type GrantStatus,
  type GrantChange,
  type ChangeResult,
} from './consent-types';
import { grantEnded, writeSpansOf } from './grant-lists';
import type { WriteSpan } from '../sync/record-codec';
import { createConsentCore } from './consent-core';
import { createPins } from './pins';
import { createGrantCopy } from './grant-copy';
import { createRecording } from './recording';
import { createRekey } from './rekey';
import { createChecks } from './checks';
import { createKeptRevocations } from './kept-revocations';
import { createGranting } from './granting';
import { createRevoking } from './revoke';
import { createAcceptance } from './acceptance';
import { installWriteGuard } from './write-guard';

export {
  type ConsentErrorCode,
  ConsentError,
  REVOCATION_NOTICE,
  type GrantRequest,
  type StoredGrant,
  type GrantStatus,
  type Rotation,
  type RevokeResult,
  type GrantChange,
  type ChangeResult,
  GRANT_REFRESH_MS,
  REVOCATION_RETRY_MS,
  WRITE_SPANS_REFRESH_MS,
  MAX_GRANT_PAGES,
  MAX_ACCEPTED_PAGES,
  type ConsentDeps,
  type GrantUnconfirmed,
  type RevocationPending,
} from './consent-types';
export { writeSpansOf, mergeGrants } from './grant-lists';

/**
 * Grants and their keys over a device session (`session.consent`): grants (the purpose sealed,
 * `openGrantPurpose` reads it), changes and revokes grants, verifies providers (`describeProvider`:
 * fingerprint, safety number, whether the key changed) and, on a provider device, accepts patients.
 * - A revocation made offline is kept and sent again from `REVOCATION_RETRY_MS`.
 * - The patient's devices read the grant list every `GRANT_REFRESH_MS`.
 *
 * @throws `ConsentError` (`ConsentErrorCode`).
 */
export const createConsent = (deps: ConsentDeps) => {
  const c = createConsentCore(deps);
  c.pins = createPins(c);
  c.copy = createGrantCopy(c);
  c.recording = createRecording(c);
  c.rekey = createRekey(c);
  c.checks = createChecks(c);
  c.kept = createKeptRevocations(c);
  const granting = createGranting(c);
  const revoking = createRevoking(c);
  const acceptance = createAcceptance(c);

  // In the write queue: a snapshot read before a write lands must not re-arm after that write did.
  void c.copy
    .saveGrants(() => null)
    .then((stored) => c.checks.grantsChanged(stored))
    .catch(() => undefined);
  c.checks.startRefresh();
  installWriteGuard(c);
  void c.kept.refusedStill().catch(() => undefined);

  return {
    REVOCATION_NOTICE,

    /**
     * Provider only: accepts a patient, so the grants it gives this account stop counting toward the
     * server's cap on grants from strangers (MAX_ACTIVE_GRANTS_PER_GRANTEE). Needs no signature and
     * changes no access. Repeating it changes nothing. Server refusals are SyncErrors with the server's code
     * (NOT_FOUND: no such account; TOO_MANY_ACCEPTED: MAX_ACCEPTED_PATIENTS_PER_GRANTEE reached).
     */
    async acceptPatient(patientId: string): Promise<void> {
      await acceptance.setAccepted(patientId, true);
    },

    /**
     * Provider only: stops accepting a patient. Its grants stay valid (nothing is revoked on its behalf);
     * they count toward the cap again for new grants. Stopping one never accepted changes nothing.
     */
    async unacceptPatient(patientId: string): Promise<void> {
      await acceptance.setAccepted(patientId, false);
    },

    /**
     * Provider only: every patient this account accepted, by id, with when (the server's clock), read page
     * after page; past MAX_ACCEPTED_PAGES a SyncError TOO_LARGE (a server that never stops answering `next`).
     */
    acceptedPatients(): Promise<AcceptedPatient[]> {
      return acceptance.acceptedPatients();
    },

    /**
     * For out-of-band comparison (read aloud, or scan as QR). `verified`: whether this account compared the
     * key before (`yes`: the key presented now is the one pinned; `changed`: another key was pinned — a
     * grant is refused KEY_CHANGED until the person compares again; `no`: never compared).
     */
    async describeProvider(accountId: string) {
      const identity = await c.pins.identityOf(accountId);
      const pins = await c.pins.pinnedKeys();
      const pinned = Object.hasOwn(pins, accountId) ? pins[accountId] : undefined;
      const verified: 'yes' | 'changed' | 'no' =
        pinned === undefined ? 'no' : pinned === base64urlEncode(identity) ? 'yes' : 'changed';
      return {
        accountId,
        fingerprint: keyFingerprint(identity),
        safetyNumber: safetyNumber(deps.keys.identity.publicKey, identity),
        verified,
      };
    },

    /** The patient compared the safety number out of band: pin the provider's current key. */
    async verifyProvider(accountId: string) {
      const identity = await c.pins.identityOf(accountId);
      await c.pins.pinIdentity(accountId, identity, false);
      await c.pins.unpinWrappingKey(accountId);
      return { accountId, fingerprint: keyFingerprint(identity) };
    },

    /** An invite a provider shows as a QR code or link: its account id and key fingerprint. */
    inviteFor(accountId: string, identityPublicKey: Uint8Array): string {
      return `hale-invite:1:${accountId}:${keyFingerprint(identityPublicKey).replace(/\s+/g, '')}`;
    },

    /** Checks an invite against the key the server presents now; pins it when it matches. */
    async acceptInvite(invite: string) {
      const m = /^hale-invite:1:([A-Za-z0-9_-]{22}):([0-9A-Za-z]+)$/.exec(invite.trim());
      if (!m) throw new ConsentError('BAD_INVITE', 'this is not a Hale invite');
      const [, accountId, fingerprint] = m as unknown as [string, string, string];
      const identity = await c.pins.identityOf(accountId);
      if (keyFingerprint(identity).replace(/\s+/g, '') !== fingerprint) {
        throw new ConsentError('KEY_CHANGED', "the provider's key does not match the invite");
      }
      await c.pins.pinIdentity(accountId, identity, false);
      await c.pins.unpinWrappingKey(accountId);
      return { accountId, fingerprint: keyFingerprint(identity) };
    },

    /**
     * Whether this device pinned an identity key for `accountId`: compared by the person
     * (`verifyProvider`, `acceptInvite`), or first seen at a grant.
     * - False for a value that is not an account id.
     */
    async isVerified(accountId: string): Promise<boolean> {
      // Own keys only: `constructor` or `__proto__` (a deep link) is found on every object's prototype.
      return isAccountId(accountId) && Object.hasOwn(await c.pins.pinnedKeys(), accountId);
    },

    /**
     * Grants access (granting.ts). Calls at once asking the same (a double tap: same grantee, scope,
     * expiry or duration, purpose and start) share one grant and its answer; once it answered, asking
     * again makes another grant.
     */
    grant(request: GrantRequest): Promise<StoredGrant> {
      return granting.grant(request);
    },

    /**
     * Revokes a grant: the server cuts access once it takes the revocation, then every stream it covered is re-keyed for the
     * remaining holders. `rotated`: the epochs this device minted. `pending`: the grant's streams when the
     * re-keying could not be completed now (e.g. the connection dropped); the revocation stands and the
     * next connect of any of the patient's devices finishes it. A grant this device holds revoked is not
     * revoked again (only its re-keying is finished), and calls for one grant at once share one revocation.
     * Rejects RevocationPending when the server has not taken the revocation (not connected, no answer, a
     * refusal that may pass): it is kept and sent at the next connection (kept-revocations.ts).
     */
    revoke(grantId: string): Promise<RevokeResult> {
      return revoking.revoke(grantId);
    },

    /**
     * Changes a grant in force: a new grant, signed naming the one it replaces (`supersedes`), with the same
     * grantee and the scope and end asked for; the server ends the old one as it stores the new one, in
     * one step (the old one is refused from then on, by the server and by every device that knows the
     * new one). A kind left out is re-keyed at once, as a revocation does (`pending` when that cannot
     * finish now); a kind kept, or moved between read and write, is not; a new end is kept as any
     * grant's expiry. ConsentError NOT_FOUND (no such grant), GRANT_ENDED (it ended, was revoked or
     * changed already, or a revocation of it waits to be sent), and the refusals `grant` has. A change the
     * server refuses (another device changed or revoked it first) rejects with the server's code.
     */
    async change(grantId: string, change: GrantChange): Promise<ChangeResult> {
      deps.assertUnlocked?.();
      const target = (await c.copy.grants()).find((g) => g.grant.grantId === grantId);
      if (target === undefined) throw new ConsentError('NOT_FOUND', 'no such grant on this device');
      const now = deps.now();
      if (grantEnded(target, now) || (await c.kept.revokedHere()).has(grantId)) {
        throw new ConsentError('GRANT_ENDED', 'this grant ended or was changed: share again instead');
      }
      const start = Date.parse(target.grant.start) > now ? { start: target.grant.start } : {};
      const stored = await granting.replace(target, {
        granteeId: target.grant.granteeId,
        scope: change.scope,
        purpose: change.purpose ?? openGrantPurpose(target.grant, c.reader()) ?? '',
        ...(change.expiresAt === undefined ? {} : { expiresAt: change.expiresAt }),
        ...(change.durationMs === undefined ? {} : { durationMs: change.durationMs }),
        ...start,
      });
      const rotated: Rotation[] = [];
      const complete = await c.rekey.settle(rotated).then(
        (r) => r.complete,
        () => false,
      );
      const kept = new Set(stored.grant.scope.map((s) => s.type));
      const dropped = target.grant.scope.filter((s) => !kept.has(s.type)).map((s) => c.streamOf(s.type));
      return { grant: stored, rotated, pending: complete ? [] : dropped };
    },

    /**
     * Re-keys every stream whose ended grants (expired, or revoked — also on another device, or where a
     * rotation was cut short) its current epoch does not yet shut out, and finishes wraps owed. Run on every
     * connect; answers the epochs this device minted (none when all is settled), with those minted since
     * the last call by checks a write waiting for re-keying started.
     */
    async rotateExpired(): Promise<Rotation[]> {
      const rotated: Rotation[] = [];
      // A new connection: a revocation still failing starts its backoff over (an outage is over); a resend
      // armed before it, maybe far off, goes (the send below arms afresh if it fails).
      c.checks.resendOver();
      // Revocations kept unsent first: the re-keying below then shuts their grants out too.
      await c.rekey.settle(rotated, await c.kept.sendKept().catch(() => undefined));
      c.recording.recordNow();
      return [...c.rekey.background.splice(0), ...rotated];
    },

    /**
     * Ends the checks between connects (expiry timer, grant-list refresh); the session calls it when it
     * closes or finds the account locked. Nothing else is stopped: calls still work as before.
     */
    stop: c.checks.stop,

    /**
     * When `granteeId` held write access to `patientId`'s streams of `type` (`writeSpansOf`), by this
     * device's copy of the grants and the revocations signed here that the server has not taken yet
     * (each ends its grant's span at its signed time). Not `fresh`: the copy as it stands. `fresh` (the
     * codec asks so when that answer let the account write nothing at a version's time): after a reading
     * of the server's list
     * (`readForWriteSpans`: connected only, at most every WRITE_SPANS_REFRESH_MS), so a grant made on
     * another of the patient's devices counts at once, not at the next refresh; a grant learnt later
     * (offline now, or read within the interval) counts once a reading brought it, which tells the
     * keyring's watchers, and so the engine, to judge what it set aside again. Null for another patient
     * than this account: a grantee keeps none of its patients' grants (nothing is read). The engine's
     * check of versions written by other accounts (record-codec.ts `writeGrants`).
     */
    async writeSpans(
      patientId: string,
      type: StreamType,
      granteeId: string,
      fresh = false,
    ): Promise<WriteSpan[] | null> {
      if (patientId !== deps.accountId) return null;
      if (fresh) await c.checks.readForWriteSpans();
      // A revocation signed here that the server has not taken yet (offline, its answer lost) ends the span
      // at its signed time already: this device knows of it, and the server would take that time.
      const kept = await c.kept.revokedHere();
      const copy = (await c.copy.localGrants()).map((g) => {
        const signedAt = g.revokedAt === undefined ? kept.get(g.grant.grantId) : undefined;
        return signedAt === undefined ? g : { ...g, revokedAt: signedAt };
      });
      return writeSpansOf(copy, patientId, type, granteeId);
    },

    /**
     * The grants this account issued, read now from the server's list into this device's copy (answers
     * the copy then); rejects when the list cannot be read now (not connected, refused, no answer). The
     * audit log reads it before it calls an entry's signer unknown (audit/check.ts).
     */
    async readListed(): Promise<StoredGrant[]> {
      if (deps.connection.status() !== 'ready') throw new Error('the grant list needs the connection');
      return c.copy.currentGrants();
    },

    /**
     * Calls `watcher` after every change of this device's copy of the grants (a grant made or learnt, a
     * revocation, a re-keying marked); answers the function that stops it.
     */
    onGrantsChanged: (watcher: (stored: readonly StoredGrant[]) => void): (() => void) =>
      c.copy.onChange(watcher),

    /** Grants this device issued (with their state at `now`). */
    async list(): Promise<Array<StoredGrant & { status: GrantStatus; purpose: string | null }>> {
      const now = deps.now();
      const listed = await c.copy.grants();
      const waiting = await c.kept.revokedHere();
      const status = (g: StoredGrant): GrantStatus =>
        g.supersededBy !== undefined
          ? 'replaced'
          : g.revokedAt !== undefined
            ? 'revoked'
            : grantEnded(g, now)
              ? 'expired'
              : // Revoked here, not by the server yet: the grantee keeps access until it is sent.
                waiting.has(g.grant.grantId)
                ? 'revocation-pending'
                : // As the server decides access: nothing is served before the start.
                  Date.parse(g.grant.start) > now
                  ? 'not-started'
                  : 'active';
      return listed.map((g) => ({ ...g, status: status(g), purpose: openGrantPurpose(g.grant, c.reader()) }));
    },
  };
};

/** The consent part of a device session: what `createConsent` answers. */
export type Consent = ReturnType<typeof createConsent>;
