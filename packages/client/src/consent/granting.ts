/**
 * `grant`: a grant checked, signed and sent, its keys published once the server took it.
 *
 * Invariants:
 * - A grant is checked whole before anything is sent, with the server's own check (the protocol's Grant
 *   schema and `grantIssues`: a scope naming a record type twice, a date that is not one, an expiry not
 *   after the start, a purpose over its limit, a grant to this account itself), and with what the device
 *   alone can tell (a scope that is no list; an expiry and a duration both given, which could grant longer
 *   than chosen; an expiry already past on this device's clock): ConsentError naming the
 *   field. It is signed by the patient's identity key, and the key of every granted stream (all epochs,
 *   so the history is readable) is wrapped for the grantee then, but published only once the server took the grant
 *   (with any newer epoch another device of the patient minted meanwhile, read then: `epochsSince`): the
 *   server stores envelopes without any grant, so a grant it refuses (caps, daily rate) or never receives
 *   (dropped connection, closed app) leaves the grantee no key. They are published in frames of at most
 *   MAX_STREAMS_PER_REQUEST (the protocol's bound; a stream has one per epoch). Envelopes not published
 *   after the server took the grant (connection dropped, app closed, device lost) are wrapped by the next
 *   check of any of the patient's devices (`wrapMissing`, below) — run at once when the server refused
 *   them with the connection still up; `grant` resolves then, the grant standing. A grant whose
 *   own answer is lost (NETWORK, TIMEOUT, STOPPED) rejects with that SyncError carrying `grantId`: it may
 *   stand (the server took it, the answer never came) or not; once online, `list()` shows it if it stands,
 *   and the next check wraps its keys. This device's copy of the grants does not hold it meanwhile (its
 *   id is only marked for its audit entry, below). `grant` calls at once asking the same (a double tap:
 *   grantee, scope, expiry or duration, purpose, start) share one grant and its answer.
 * - A change (`replace`) is a grant naming the one it replaces (`supersedes`); once the server took it, the
 *   copy holds the old one ended at the new one's signed `issuedAt` (`supersededBy`), in the same write.
 */
import type { ConsentCore } from './consent-core';
import { base64urlEncode, signCanonical } from '@hale/crypto';
import { sealGrantPurpose } from './grant-purpose';
import type { Grant } from '@hale/protocol';
import { grantSignaturePayload, type KeyEnvelope } from '@hale/protocol';
import { SyncError, CONNECTION_CODES } from '../sync/connection';
import { type KeyRecipient, putEnvelopes } from '../sync/keyring';
import { type StoredGrant, ConsentError, type GrantRequest, type GrantUnconfirmed } from './consent-types';
import { draftGrant } from './draft-grant';
import { grantRequestKey } from './grant-lists';

export const createGranting = (c: ConsentCore) => {
  const { deps } = c;
  /**
   * Envelopes for `recipient` of the granted streams' epochs above those wrapped before the grant was sent
   * (`wrapped`), after reading this device's keys of those streams again. Another device of the patient
   * may have re-keyed one (a revocation there) since this one last read a key or a record of it: its
   * keyring then takes an older epoch for the newest, and the grantee, given that one alone, could read
   * nothing written since until a check wrapped what it lacks — none comes while the device that re-keyed
   * stays connected and the granting one is closed. Read once the server took the grant: a rotation whose
   * grant list missed the grant claimed its epoch before this reading (and its confirming round reads the
   * list again and wraps for the grant). Best effort: what fails here is left to those checks.
   */
  const epochsSince = async (
    streams: readonly string[],
    recipient: KeyRecipient,
    wrapped: readonly KeyEnvelope[],
  ): Promise<KeyEnvelope[]> => {
    try {
      await deps.keyring.refresh([...streams]);
      const out: KeyEnvelope[] = [];
      for (const stream of streams) {
        // None wrapped (no key held): from epoch 0.
        const from = Math.max(-1, ...wrapped.filter((e) => e.stream === stream).map((e) => e.epoch)) + 1;
        if (deps.keyring.currentEpoch(stream) >= from)
          out.push(...(await deps.keyring.envelopesFor(stream, recipient, from)));
      }
      return out;
    } catch {
      return [];
    }
  };
  /** `grant` calls under way, by what they ask (`grantRequestKey`): a double tap shares the first. */
  const granting = new Map<string, Promise<StoredGrant>>();
  const grantOnce = async (request: GrantRequest, replacing?: StoredGrant): Promise<StoredGrant> => {
    deps.assertUnlocked?.();
    const drafted = {
      ...draftGrant(c, request),
      ...(replacing === undefined ? {} : { supersedes: replacing.grant.grantId }),
    };
    const identity = await c.pins.identityOf(drafted.granteeId);
    await c.pins.pinIdentity(drafted.granteeId, identity, true);
    // Verified and pinned before anything is published: never wrapped to a key the server chose.
    const wrapping = await c.pins.wrappingKeyOf(drafted.granteeId);
    if (!wrapping) throw new ConsentError('UNKNOWN_ACCOUNT', 'no wrapping key for the grantee');
    const grant: Grant = {
      ...drafted,
      purpose: sealGrantPurpose(
        request.purpose,
        drafted.grantId,
        deps.keys.wrapping.publicKey,
        wrapping,
        deps.x25519,
      ),
    };
    // Wrapped now, sent only once the server took the grant: a locked account or a key this device
    // cannot obtain fails the grant before anything is sent.
    const recipient = { accountId: grant.granteeId, wrappingPublicKey: wrapping };
    // A change wraps only the kinds the grant it replaces did not hold: the grantee holds the others'
    // keys already (one it lacks is wrapped by the next check, `wrapMissing`).
    const held = new Set(replacing?.grant.scope.map((s) => s.type) ?? []);
    const streams = grant.scope.filter((s) => !held.has(s.type)).map((s) => c.streamOf(s.type));
    const envelopes: KeyEnvelope[] = [];
    for (const stream of streams) envelopes.push(...(await deps.keyring.envelopesFor(stream, recipient)));
    const payload = grantSignaturePayload(grant);
    deps.assertUnlocked?.();
    const sig = base64urlEncode(
      await signCanonical(deps.ed, deps.keys.identity.secretKey, payload.label, payload),
    );
    // Marked before it is sent: a device that stops before the answer still looks for it (recording.ts).
    const mark = { grantId: grant.grantId, expiresAt: grant.expiresAt, notBefore: deps.now() };
    await c.recording.grantAudit.mark([mark]).catch(() => undefined);
    c.recording.grantAudit.sending.add(grant.grantId);
    try {
      await deps.connection.request({ t: 'grant', grant: { grant, sig } });
    } catch (error) {
      c.recording.grantAudit.sending.delete(grant.grantId);
      // The connection failed with the grant sent or not: it may stand. Named, so the app can look for it.
      if (!(error instanceof SyncError) || !CONNECTION_CODES.has(error.code)) {
        // Refused by the server: it does not stand, there is nothing to record.
        await c.recording.grantAudit.unmark(new Set([grant.grantId])).catch(() => undefined);
        throw error;
      }
      const unconfirmed: GrantUnconfirmed = Object.assign(
        new SyncError(
          error.code,
          `${error.message}; grant ${grant.grantId} may have been stored: once online, list() shows it if it stands`,
          error.retry,
        ),
        { grantId: grant.grantId },
      );
      throw unconfirmed;
    }
    // Only now: the server stores envelopes without any grant, so keys sent before a grant it refuses
    // (its caps, its daily rate) or never receives would stay with the grantee, with nothing to revoke.
    // Keys not published here (the connection dropped, the app stopped) are wrapped by the next check of
    // any of the patient's devices (`wrapMissing`): the grant stands either way.
    const stored: StoredGrant = { grant, sig };
    try {
      // Into the copy before any key goes out: the grantee writes only once it holds a key, and this
      // device takes its versions only by a write grant in the copy (`writeSpans`). A copy the device
      // store refuses does not hold the keys back (the grant stands on the server, and no check of this
      // device can wrap them while its copy is unreadable): they go out, then `grant` rejects with it.
      // A change: the grant it replaced ends in the copy with it, at the successor's signed time.
      const ended: StoredGrant[] =
        replacing === undefined
          ? []
          : [{ ...replacing, revokedAt: grant.issuedAt, supersededBy: grant.grantId }];
      const unkept = await c.copy.addGrants([stored, ...ended]).then(
        () => null,
        (error: unknown) => ({ error }),
      );
      const publish = async (batch: KeyEnvelope[]): Promise<void> => {
        if (batch.length === 0 || deps.connection.status() !== 'ready') return;
        // One refused while the connection stays up (no reconnect's check would come) has the check run
        // now, which wraps what the grantee lacks (`wrapMissing`).
        await putEnvelopes(deps.connection, batch).catch(c.checks.checkNow);
      };
      // Those wrapped already first: the grantee's devices, told of the grant by now, wait for them.
      await publish(envelopes);
      if (deps.connection.status() === 'ready')
        await publish(await epochsSince(streams, recipient, envelopes));
      if (unkept !== null) throw unkept.error;
      // Its mark stays until a later lookup finds this entry: an append that never lands is retried.
      c.recording.grantAudit.emit(mark, stored);
    } finally {
      c.recording.grantAudit.sending.delete(grant.grantId);
    }
    return stored;
  };
  /**
   * Grants access (see the header). Calls at once asking the same (a double tap: same grantee, scope,
   * expiry or duration, purpose and start) share one grant and its answer; once it answered, asking
   * again makes another grant.
   */
  const grant = (request: GrantRequest): Promise<StoredGrant> => {
    const key = grantRequestKey(request);
    const under = key === null ? undefined : granting.get(key);
    if (under !== undefined) return under;
    const run = grantOnce(request).finally(() => {
      if (key !== null && granting.get(key) === run) granting.delete(key);
    });
    if (key !== null) granting.set(key, run);
    return run;
  };
  /** `change` calls under way, by the grant they replace: a double tap shares the first. */
  const changing = new Map<string, Promise<StoredGrant>>();
  /**
   * A grant that replaces `replacing` (a change, see `Consent.change`): signed naming it in `supersedes`;
   * the server ends `replacing` as it stores this one, in one step.
   */
  const replace = (replacing: StoredGrant, request: GrantRequest): Promise<StoredGrant> => {
    const id = replacing.grant.grantId;
    const under = changing.get(id);
    if (under !== undefined) return under;
    const run = grantOnce(request, replacing).finally(() => {
      if (changing.get(id) === run) changing.delete(id);
    });
    changing.set(id, run);
    return run;
  };
  return { grant, replace };
};

export type Granting = ReturnType<typeof createGranting>;
