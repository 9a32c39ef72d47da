/**
 * `revoke`: a revocation signed (or the kept one taken), kept, sent, and the grant's streams re-keyed.
 *
 * Invariants:
 * - Revocation: the server cuts access once it takes the revocation; then a new epoch is minted for every stream the grant
 *   covered and wrapped for the remaining holders only — one envelope per holder account, however many of
 *   its grants cover the stream (the server refuses a publish naming a recipient twice for one epoch,
 *   whole, which would leave the epoch unwrapped for everyone) — so records written afterwards are
 *   unreadable with the revoked provider's keys. History is not re-encrypted (cost independent of the number of records) —
 *   what the provider already synced cannot be recalled, and the app says so.
 */
import type { ConsentCore } from './consent-core';
import { base64urlEncode, signCanonical } from '@hale/crypto';
import { revocationSignaturePayload, type SignedRevocation } from '@hale/protocol';
import { SyncError, CONNECTION_CODES } from '../sync/connection';
import {
  type StoredGrant,
  ConsentError,
  type KeptRevocation,
  type ReadAfterKeys,
  type Rotation,
  type RevokeResult,
  type RevocationMark,
} from './consent-types';

export const createRevoking = (c: ConsentCore) => {
  const { deps } = c;
  /**
   * Re-keys after the revocation of `target`; its streams are `pending` when that cannot finish now. `read`:
   * the server's list as `revoke` read it after its answer, which the re-keying takes (one listing).
   */
  const rekeyAfter = async (target: StoredGrant, read?: ReadAfterKeys): Promise<RevokeResult> => {
    const rotated: Rotation[] = [];
    const complete = await c.rekey.settle(rotated, read).then(
      (r) => r.complete,
      () => false,
    );
    return { rotated, pending: complete ? [] : target.grant.scope.map((s) => c.streamOf(s.type)) };
  };
  /**
   * The patient's signed revocation of `grantId`, dated now, or `revokedAt` for the one that stood (refused
   * once the account is locked).
   */
  const signRevocation = async (grantId: string, revokedAt = c.iso()): Promise<SignedRevocation> => {
    const revocation = { v: 1 as const, grantId, patientId: deps.accountId, revokedAt };
    const payload = revocationSignaturePayload(revocation);
    deps.assertUnlocked?.();
    const sig = base64urlEncode(
      await signCanonical(deps.ed, deps.keys.identity.secretKey, payload.label, payload),
    );
    return { revocation, sig };
  };

  /** `revoke` calls under way, by grant id: a second call (a double tap) waits for the first. */
  const revoking = new Map<string, Promise<RevokeResult>>();
  const revokeGrant = async (grantId: string): Promise<RevokeResult> => {
    deps.assertUnlocked?.();
    // The grant as this device holds it; the server's list only for one issued on another device. The
    // revocation itself never waits on that list (it is long when others flood the account with grants).
    const find = (list: StoredGrant[]) => list.find((g) => g.grant.grantId === grantId);
    const target = find(await c.copy.localGrants()) ?? find(await c.copy.grants());
    if (!target) throw new ConsentError('NOT_FOUND', 'no such grant on this device');
    // Revoked already (the copy holds a revocation only as the server took it, signed by the patient): sent
    // again for a server that lost it (restored from a backup); one holding it keeps the first and changes
    // nothing. Not recorded again: the first revocation's consent-revoke entry is the one that stands. Not
    // kept when it cannot be sent now: the server took it before. Dated as the one that stood (the same
    // payload, so the same signature): dated now, a server that lost it would take the grant as revoked only
    // now, and so would every device learning it from there (its grantee's write span, the time shown).
    if (target.revokedAt !== undefined) {
      if (deps.connection.status() === 'ready') {
        const again = await signRevocation(grantId, target.revokedAt);
        await deps.connection.request({ t: 'revoke', revocation: again }, { wait: false }).catch((error) => {
          if (!(error instanceof SyncError) || !CONNECTION_CODES.has(error.code)) throw error;
        });
      }
      return rekeyAfter(target);
    }
    // One kept from before (made offline, or its answer lost) is sent as it was signed: the server keeps
    // one revocation, and the audit log one entry.
    const held = (await c.kept.keptRevocations()).find((k) => k.signed.revocation.grantId === grantId);
    let signed: SignedRevocation;
    if (held !== undefined) {
      signed = held.signed;
    } else {
      signed = await signRevocation(grantId);
    }
    const mark: RevocationMark = {
      grantId,
      granteeId: target.grant.granteeId,
      expiresAt: target.grant.expiresAt,
      notBefore: deps.now(),
      own: true,
    };
    // Marked before it is kept and sent: a lost answer, a lock or a crash before the entry is in the outbox
    // still leaves this device looking for it (recording.ts).
    const marked = await c.recording.revocationAudit.mark([mark]).catch(() => new Set<string>());
    // Kept before it is sent: a revocation the server never answers is sent again at the next connection.
    // One the device store cannot keep (a write failure; a kept list this build cannot read, META_INVALID,
    // e.g. written by a newer build) is still sent when connected, unkept: nothing may stand between the
    // patient and the end of a grant. Offline, nothing would send it later: the store's error is thrown.
    let entry: KeptRevocation = { signed, marked: marked.size > 0 };
    try {
      entry = await c.kept.keepRevocation(entry);
    } catch (error) {
      if (deps.connection.status() !== 'ready') {
        if (marked.size > 0) await c.recording.revocationAudit.unmark(marked).catch(() => undefined);
        throw error;
      }
      // Held for this session: sent again and shutting the grantee out as a kept one.
      c.kept.unkept.set(grantId, entry);
      deps.keyring.invalidateWriteChecks();
    }
    const fresh = held === undefined && entry.signed.sig === signed.sig;
    if (deps.connection.status() !== 'ready') throw c.kept.revocationPending(grantId, c.kept.notConnected());
    const delivery = await c.kept.deliver(entry, fresh);
    if (!delivery.sent) throw delivery.error;
    // Sent before (not by this call): its entry is left to the lookups, run now.
    if (!fresh) c.recording.recordNow();
    return rekeyAfter(target, delivery.read);
  };

  /** Revokes a grant (see `Consent.revoke`); calls for one grant at once share one revocation. */
  const revoke = (grantId: string): Promise<RevokeResult> => {
    const under = revoking.get(grantId);
    if (under !== undefined) return under;
    const run = revokeGrant(grantId).finally(() => {
      if (revoking.get(grantId) === run) revoking.delete(grantId);
    });
    revoking.set(grantId, run);
    return run;
  };
  return { revoke };
};

export type Revoking = ReturnType<typeof createRevoking>;
