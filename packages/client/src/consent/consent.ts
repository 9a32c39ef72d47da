/**
 * The patient's side of consent: grant, revoke (with key rotation), verify a provider's key.
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
 * - A provider's identity key is pinned the first time the patient verifies it (or, failing that, at the
 *   first grant); a later grant to an account whose key differs from the pinned one is refused with
 *   KEY_CHANGED until the patient verifies again. Pins are written through device meta's `update`, so
 *   grants and verifications at once keep every pin.
 * - Stream keys are wrapped only to a grantee's wrapping key that its identity key signed (checked by the
 *   device directory: the server cannot substitute its own) and that matches the one pinned with the
 *   identity key at the first wrap (pinned again after the patient verifies again). `grant` refuses
 *   otherwise — WRAPPING_KEY_UNVERIFIED, or KEY_CHANGED — before anything is published; re-keying skips
 *   such a holder (it gets no key) and each later check tries it again (`wrapMissing`).
 * - Revocation: the server cuts access once it takes the revocation; then a new epoch is minted for every stream the grant
 *   covered and wrapped for the remaining holders only — one envelope per holder account, however many of
 *   its grants cover the stream (the server refuses a publish naming a recipient twice for one epoch,
 *   whole, which would leave the epoch unwrapped for everyone) — so records written afterwards are
 *   unreadable with the revoked provider's keys. History is not re-encrypted (cost independent of the number of records) —
 *   what the provider already synced cannot be recalled, and the app says so.
 * - A revocation the server has not taken is kept: `revoke` signs it, marks it for its audit entry and
 *   stores it in device meta (`revocations-pending`) before sending it, and sends it only on a ready
 *   connection, never waiting for one. Not connected, not answered (NETWORK, TIMEOUT, STOPPED: offline,
 *   closed, locked) or refused for a reason that may pass (the protocol's error table `retry`:
 *   RATE_LIMITED, UNAVAILABLE, …), it stays kept and `revoke` rejects with that SyncError carrying
 *   `grantId` and `revocationPending` (RevocationPending). Each connect's check (`rotateExpired`, before it
 *   re-keys), each refresh of the grant list, a write the guard refuses, and, while connected, a backoff
 *   after a sending the server did not take (REVOCATION_RETRY_MS doubled, up to `grantRefreshMs`) send
 *   every kept revocation again, this session's or a later one's, unchanged: the same signature, which a server that took it answers `ok` again, changing
 *   nothing (it keeps a grant's first revocation). Taken, it enters the copy of the grants as `revoke`'s
 *   answer does (another revocation standing on the server is taken instead, `revokedElsewhere`), then
 *   is dropped; refused for good (NOT_FOUND, FORBIDDEN, BAD_SIGNATURE, …), it is dropped with the mark it
 *   set, and `revoke` rejects with the refusal — or, sent again later, `report` tells it
 *   (REVOCATION_REFUSED), since no call answers then. One the device store cannot keep (a failed write, a
 *   kept list this build cannot read) is still sent when connected, unkept; offline `revoke` rejects with
 *   the store's error. A `revoke` of a grant with a revocation kept sends that
 *   one and signs none. Until the server takes it the grantee keeps its access: `list()` shows the grant
 *   `revocation-pending` (`expired` once past its expiry), and the write guard already shuts it out
 *   (below). A grant the copy holds revoked is sent again only while connected (the server took it before),
 *   dated as the revocation that stood.
 * - Re-keying is decided from state every device of the patient can check, never from a local "done"
 *   flag: a stream is settled when its current epoch's key was derived for a set of ended grants that
 *   includes every grant this device knows to have ended (revoked with the patient's signature as the
 *   server took it, or expired) and covering the stream (keyring `matchRotation`). `settle` rotates every unsettled stream;
 *   it runs after each revocation, on every connect (`rotateExpired`) and, while connected, at the soonest
 *   expiry among the unended grants of this device's copy and after each reading of the server's grant
 *   list (every `grantRefreshMs`, 5 min by default) that finds an ended grant not yet seen re-keyed. So
 *   a grant this device knows of is shut out at its expiry, and one made or revoked on another of the
 *   patient's devices that did not re-key (closed, offline) within `grantRefreshMs` of its end — no
 *   reconnect, write or refusal needed (the server tells the patient's own devices of no grant change).
 *   A rotation cut short (dropped connection, closed app, lost device) is finished by the next check on
 *   any of the patient's devices, and a settled stream is never rotated again (one rotation per set of
 *   newly ended grants; an epoch from before this scheme, random, is rotated once more). An epoch shutting
 *   out more grants than this device knows ended (a device whose clock is ahead, or told of a revocation
 *   first) also settles the stream.
 * - Keys are read before grants in each check: an epoch seen was claimed before the grant list is read, so
 *   any revocation its minter knew of is in that list too, and a device never rotates with an older view
 *   of the grants than the epoch it replaces. `revoke` reads both so after the server's answer
 *   (`readAfterKeys`), and the first round of its re-keying takes that reading instead of its own, unless
 *   another round began on this device meanwhile: one listing tells whether another revocation stood and
 *   starts the re-keying (a round that claims an epoch is confirmed by one more, as in any check).
 * - The server's grant list is read whole (`serverGrants`): from protocol version 5 every page of the
 *   grants this account issued (keyset paging: each grant present throughout the walk once, revocations
 *   included as of its page), never those other accounts issued to it; at most MAX_GRANT_PAGES pages, else
 *   TOO_LARGE (listing falls back to the local copy, re-keying waits). An older server's one bounded
 *   answer is taken as it is.
 * - Two devices rotating at once: one claim per epoch wins on the server; the loser adopts the winner's key
 *   (keyring `claimEpoch`) and checks again with fresh grants, rotating once more if the winner's epoch
 *   does not shut out everything it knows ended. Remaining holders are wrapped only after the claim is
 *   confirmed, with the key the server kept; the wrap owed is recorded before the claim, so a device that
 *   stops in between wraps at its next check. A device lost for good in between never does: so each check
 *   that finds its streams settled also asks the server which accounts hold which epochs (`listKeyHolders`,
 *   protocol version 3, no key material) and wraps every epoch a current holder lacks — on every stream an
 *   unended grant covers, so a grant's own envelopes lost after the server took it are wrapped too (a
 *   connected device runs that check when its grant-list refresh learns of a standing grant). Against
 *   an older server nothing is asked and nothing is wrapped that way. From KEY_HOLDER_CREATORS_VERSION the
 *   answer names each envelope's creator, and every envelope of a current holder (this account included)
 *   whose creator is no active device of this account is signed anew by this device (the same key), which
 *   the server stores in its place: no device takes a revoked device's signature (keyring.ts).
 * - Writes wait for re-keying: consent installs the keyring's write guard, so this device seals a write
 *   to one of the patient's streams only under an epoch whose key shuts out every grant covering it that
 *   this device knows ended (the grants in device meta; same candidate sets as `settle`), or revoked by a
 *   revocation kept unsent (above): offline, a record written after the revoke is not pushed at the
 *   reconnect under the epoch the grantee holds. Until the revocation is taken and the rotation confirmed
 *   — also when the server withholds the new epoch — `writeKey` answers null and the engine keeps the
 *   records pending (NO_KEY, retried). The highest epoch held per stream (own, and
 *   granted to this account) is persisted in device meta (`stream-epochs`), so a lower epoch reported after a
 *   restart is not taken.
 * - The device's copy of the grants (device meta `grants`) is written only here (`saveGrants`, through
 *   device meta's `update`, which runs a key's writes one at a time), each write merging into what is
 *   stored at that moment (`mergeGrants`: by grant id, adding grants and the revocation / rotation marks
 *   they lack, never taking one away), never a copy read before a network round trip: a listing that
 *   began before a revocation cannot undo it, so offline the revoked grant stays listed as revoked and the
 *   write guard keeps shutting it out.
 * - The copy of the grants also says who may write the patient's streams when (`writeSpans`): the engine
 *   takes a version another account wrote to one of them only within a write grant of that account
 *   covering the stream (record-codec.ts `writeGrants`). A grant made here enters the copy at the
 *   server's answer, before its keys go out, so the grantee's first write finds it; one made on another
 *   of the patient's devices counts once a reading of the server's list added it to the copy — the codec
 *   asks for one (`writeSpans(…, fresh)`, connected only, at most every WRITE_SPANS_REFRESH_MS) before it
 *   refuses a version the copy does not cover, so such a grant normally counts at once; a reading that
 *   adds a grant later tells the keyring's watchers (`invalidateWriteChecks`), and the engine fetches
 *   again what it set aside NO_WRITE_GRANT.
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
 * - Nothing is signed once the account is locked: grant and revoke refuse with AccountError LOCKED
 *   (`assertUnlocked`, checked at the start and again just before signing; a kept revocation, signed
 *   before, is sent by the next session opened unlocked); re-keying then fails with the
 *   same code (each round checks first, so a revocation answered after the lock resolves with its streams
 *   `pending` rather than waiting on a connection the locked session gave up; the keyring checks too).
 * - Acceptance (provider side, protocol ACCEPTANCE_VERSION): `acceptPatient` / `unacceptPatient` tell the
 *   server that this provider wants a patient's grants, so they stop counting toward its cap on grants from
 *   strangers (MAX_ACTIVE_GRANTS_PER_GRANTEE); `acceptedPatients` lists them, every page. Flood policy only:
 *   nothing is signed, no access or key changes, and un-accepting ends no grant. The id is checked before
 *   anything is sent (an account id, not this account's own), the role too (a patient account accepts
 *   nobody), and the connection's version (a server older than ACCEPTANCE_VERSION: SERVER_TOO_OLD).
 * - Those checks between connects run on timers that are unref'd (no process is kept alive), set for at
 *   most 2^31-1 ms (a later expiry re-arms), do nothing offline, and end at `stop` (the session's close, or
 *   the lock it notices) or once `usable` answers false. A provider account (the server lets any account
 *   grant its own streams) runs them as a patient does, except that while its copy holds no grant it
 *   issued, its refresh reads the server's list only from a server that lists the issued side alone
 *   (PAGING_VERSION; an older one answers with every grant given to the provider): so a grant made on
 *   another of its devices is learnt, and shut out at its end, within `grantRefreshMs` too.
 * Failure modes: typed ConsentError codes; nothing is sent when local checks fail. The server announces a
 * grant to the grantee before this device publishes its envelopes: a grantee device that pulls the stream
 * before they land sets the records aside (NO_KEY); the server tells it (`accessChanged`) once they are
 * stored, and it fetches them again then (against an older server, or one whose other process stored
 * them, at its quarantine retry, 30 s or more later). Re-keying needs the
 * server: offline, `settle` fails with a retryable SyncError (NETWORK) and the next connect retries it;
 * `revoke` then still resolves (the revocation stands) and lists the streams still to re-key in `pending`.
 * So does the revocation itself: one the server has not taken rejects RevocationPending, kept (above).
 */
import { META_SCHEMAS } from '../session/device-meta';
import {
  base64urlEncode,
  base64urlDecode,
  verifyCanonical,
  signCanonical,
  keyFingerprint,
  safetyNumber,
} from '@hale/crypto';
import { openGrantPurpose, sealGrantPurpose } from './grant-purpose';
import { type GrantIdsByAction, isAuditError } from '../audit/errors';
import {
  PAGING_VERSION,
  type GrantRecord,
  Grant,
  grantSignaturePayload,
  revocationSignaturePayload,
  type GrantsFrame,
  MAX_GRANTS_PAGE,
  parseIsoDateTime,
  MAX_PURPOSE_CHARS,
  validate,
  grantIssues,
  parseStreamId,
  KEY_HOLDERS_VERSION,
  type KeyHoldersFrame,
  type AcceptedPatient,
  AccountId,
  ACCEPTANCE_VERSION,
  type KeyEnvelope,
  isErrorCode,
  errorInfo,
  type SignedRevocation,
  type AcceptedPatientsFrame,
  MAX_ACCEPTED_PAGE,
  isAccountId,
} from '@hale/protocol';
import { readPages } from '../sync/read-pages';
import { type StreamType, newId } from '@hale/model';
import { isWrappingKeyError } from '../sync/device-directory';
import { SyncError, CONNECTION_CODES } from '../sync/connection';
import { type KeyRecipient, putEnvelopes } from '../sync/keyring';
import { cutMiddle } from '../util/cut-middle';
import type { WriteSpan } from '../sync/record-codec';
import {
  type ConsentDeps,
  type StoredGrant,
  ConsentError,
  type KeptRevocation,
  PENDING_REVOCATIONS_KEY,
  GRANT_REFRESH_MS,
  UNRECORDED_KEY,
  Unrecorded,
  REVOCATIONS_UNRECORDED_KEY,
  UnrecordedRevocations,
  MAX_GRANT_PAGES,
  WRAPS_OWED_KEY,
  type GrantRequest,
  MAX_DATE_MS,
  type ConsentErrorCode,
  PINNED_WRAPPING_KEY,
  MAX_EXTRA_ENDED,
  type ReadAfterKeys,
  type Rotation,
  MAX_SETTLE_ROUNDS,
  EXPIRY_SLACK_MS,
  MAX_TIMER_MS,
  REVOCATION_RETRY_MS,
  WRITE_SPANS_REFRESH_MS,
  REKEY_KICK_MS,
  STREAM_EPOCHS_KEY,
  type RevokeResult,
  type GrantUnconfirmed,
  type RevocationPending,
  MAX_REFUSED_MESSAGE,
  REFUSED_REVOCATIONS_KEY,
  MAX_REFUSED_KEPT,
  type RevocationMark,
  REVOCATION_NOTICE,
  MAX_ACCEPTED_PAGES,
  type GrantStatus,
} from './consent-types';
import { mergeGrants, grantEnded, grantRequestKey, writeSpansOf } from './grant-lists';
import { createAuditMarks } from './audit-marks';

export {
  type ConsentErrorCode,
  ConsentError,
  REVOCATION_NOTICE,
  type GrantRequest,
  type StoredGrant,
  type GrantStatus,
  type Rotation,
  type RevokeResult,
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

export const createConsent = (deps: ConsentDeps) => {
  const iso = (ms = deps.now()): string => new Date(ms).toISOString();
  /** This account as a reader of its grants' sealed purposes. */
  const reader = () => ({ accountId: deps.accountId, wrapping: deps.keys.wrapping, x25519: deps.x25519 });
  /** Set up below, once `settle` exists: re-arms the expiry timer when the grants change. */
  const watch = { grantsChanged: (_stored: readonly StoredGrant[]): void => undefined };
  const pinnedKeys = async () => (await deps.meta.get('pinned-keys', META_SCHEMAS.pinnedKeys)) ?? {};
  /**
   * Pins `identity` as `accountId`'s key, through `update` (a key's writes run one at a time): a copy of
   * the pins read before another call pinned (a grant to another provider, a verification at the same
   * time) and written back after it would drop that pin, and the next grant to that provider would trust
   * whatever key the server presents then. `firstOnly` (a grant): a pin held is kept, and one of another
   * key throws KEY_CHANGED; otherwise (the patient verified) it replaces the pin held.
   */
  const pinIdentity = async (accountId: string, identity: Uint8Array, firstOnly: boolean): Promise<void> => {
    const current = base64urlEncode(identity);
    await deps.meta.update('pinned-keys', META_SCHEMAS.pinnedKeys, (all) => {
      const held = all !== null && Object.hasOwn(all, accountId) ? all[accountId] : undefined;
      if (held === current) return all;
      if (firstOnly && held !== undefined) {
        throw new ConsentError(
          'KEY_CHANGED',
          "this provider's key changed since you verified it; compare the safety number again before sharing",
        );
      }
      return { ...(all ?? {}), [accountId]: current };
    });
  };
  const localGrants = async () => (await deps.meta.get('grants', META_SCHEMAS.grants)) ?? [];
  /**
   * Revocations the device store could not keep (`revoke`), by grant id: held for this session instead,
   * sent again and shutting their grantee out as the kept ones do, lost when it ends.
   */
  const unkept = new Map<string, KeptRevocation>();
  /** Revocations signed here that the server has not taken yet (see the header), oldest first. */
  const keptRevocations = async (): Promise<KeptRevocation[]> => {
    const stored = (await deps.meta.get(PENDING_REVOCATIONS_KEY, META_SCHEMAS.revocationsPending)) ?? [];
    if (unkept.size === 0) return stored;
    const held = new Set(stored.map((k) => k.signed.revocation.grantId));
    return [...stored, ...[...unkept.values()].filter((k) => !held.has(k.signed.revocation.grantId))];
  };
  /**
   * The grants of `keptRevocations`, by id, each with the time its revocation was signed: grants this device
   * shuts out before the server does.
   */
  const revokedHere = async (): Promise<Map<string, string>> =>
    new Map(
      (await keptRevocations()).map((k) => [k.signed.revocation.grantId, k.signed.revocation.revokedAt]),
    );
  /**
   * Every write of the device's copy of the grants: `change` is given what is stored at that moment (the
   * writes of a key run one at a time, device-meta.ts; never a copy read before an await) and answers what
   * to store, or null to leave it. Answers what is stored.
   */
  const saveGrants = async (
    change: (stored: StoredGrant[]) => StoredGrant[] | null,
  ): Promise<StoredGrant[]> => {
    const out: { changed: StoredGrant[] | null } = { changed: null };
    // Through `update`: a stored list that fails its schema (one a newer build wrote) is refused rather
    // than replaced, with the revocation marks it holds.
    const stored = await deps.meta.update('grants', META_SCHEMAS.grants, (current) => {
      out.changed = change(current ?? []);
      return out.changed ?? current;
    });
    if (out.changed === null) return stored ?? [];
    deps.keyring.invalidateWriteChecks();
    watch.grantsChanged(out.changed);
    return out.changed;
  };
  /** Merges `found` into what is stored now (see `mergeGrants`): a mark stored is never undone. */
  const addGrants = (found: readonly StoredGrant[]): Promise<StoredGrant[]> =>
    saveGrants((stored) => mergeGrants(stored, found));

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
          purpose: openGrantPurpose(grant, reader()) ?? '',
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
      if (!live()) return;
      const grantMarks = await grantAudit.stored();
      const revocationMarks = await revocationAudit.stored();
      if (grantMarks.length === 0 && revocationMarks.length === 0) return;
      const now = deps.now();
      const held = new Map<string, StoredGrant>();
      for (const g of await localGrants()) if (!held.has(g.grant.grantId)) held.set(g.grant.grantId, g);
      const grantsDue = grantAudit.check(grantMarks, held, now, whole);
      // A kept revocation's mark waits for its send: the grant's end must not drop it meanwhile.
      const revocationsDue = revocationAudit.check(revocationMarks, held, now, whole, await revokedHere());
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
    void recordStanding((deps.connection.version() ?? 0) >= PAGING_VERSION).catch(() => undefined);
  };
  /** Whether `sig` is this account's identity key's signature of `payload`. */
  const verifies = async (payload: { label: string }, sig: string): Promise<boolean> => {
    const bytes = base64urlDecode(sig);
    return (
      bytes.ok && verifyCanonical(deps.ed, deps.keys.identity.publicKey, payload.label, payload, bytes.value)
    );
  };
  /**
   * Adds the server's signed copies to the local grants (persisting what was new) and answers the copy
   * stored then. `known` (read before the listing) only spares checking signatures again.
   */
  const merge = async (
    known: readonly StoredGrant[],
    records: readonly GrantRecord[],
  ): Promise<StoredGrant[]> => {
    // By id, first copy wins (as a search of `known` from the start would find it).
    const byId = new Map<string, StoredGrant>();
    for (const g of known) if (!byId.has(g.grant.grantId)) byId.set(g.grant.grantId, g);
    const found: StoredGrant[] = [];
    const learnt: Grant[] = [];
    const learntRevoked: Grant[] = [];
    for (const record of records) {
      const g = record.grant.grant;
      if (g.patientId !== deps.accountId) continue;
      const mine = byId.get(g.grantId);
      // The revocation would change nothing: its signature is not checked again at every listing.
      if (mine?.revokedAt !== undefined) continue;
      // Only what verifies under this account's own identity key is taken from the server: the grant,
      // and a revocation only with the patient's signed revocation of that grant (never `revokedAt` alone).
      if (!mine && !(await verifies(grantSignaturePayload(g), record.grant.sig))) continue;
      const r = record.revocation?.revocation;
      const revokedAt =
        record.revocation &&
        r?.grantId === g.grantId &&
        r.patientId === deps.accountId &&
        (await verifies(revocationSignaturePayload(r), record.revocation.sig))
          ? r.revokedAt
          : undefined;
      if (!mine) {
        const taken: StoredGrant = { grant: g, sig: record.grant.sig, ...(revokedAt ? { revokedAt } : {}) };
        found.push(taken);
        learnt.push(g);
        if (revokedAt !== undefined) learntRevoked.push(g);
        byId.set(g.grantId, taken);
      } else if (revokedAt !== undefined) {
        found.push({ grant: mine.grant, sig: mine.sig, revokedAt });
        learntRevoked.push(mine.grant);
      }
    }
    const stored = await addGrants(found);
    // A mark that cannot be written leaves the grant to the other devices' checks.
    const notBefore = deps.now() + recordGraceMs;
    await grantAudit
      .mark(learnt.map((g) => ({ grantId: g.grantId, expiresAt: g.expiresAt, notBefore })))
      .catch(() => undefined);
    // A revocation this device did not send is left to the device that did for as long (its own mark, set
    // before it sent it, is kept if it is this device's: `mark` adds none for a grant marked).
    await revocationAudit
      .mark(
        learntRevoked.map((g) => ({
          grantId: g.grantId,
          granteeId: g.granteeId,
          expiresAt: g.expiresAt,
          notBefore,
          own: false,
        })),
      )
      .catch(() => undefined);
    return stored;
  };
  /**
   * The grants this account issued, as the server lists them: from PAGING_VERSION every page of the issued
   * side only (so grants other accounts pile onto this one are never read), at most MAX_GRANT_PAGES of
   * them — a server still answering `next` after that is not followed (TOO_LARGE); from an older server
   * its one bounded answer. A page is read after the previous one arrived: the walk is by key, so grants
   * issued meanwhile (on another device) are listed at most once and every other grant exactly once.
   */
  const serverGrants = async (): Promise<GrantRecord[]> => {
    if ((deps.connection.version() ?? 0) < PAGING_VERSION) {
      return (await deps.connection.request<GrantsFrame>({ t: 'listGrants' })).grants;
    }
    return readPages(
      async (cursor) => {
        const reply = await deps.connection.request<GrantsFrame>({
          t: 'listGrants',
          side: 'issued',
          limit: MAX_GRANTS_PAGE,
          ...(cursor === undefined ? {} : { cursor }),
        });
        return { rows: reply.grants, next: reply.next };
      },
      MAX_GRANT_PAGES,
      `the server lists more than ${MAX_GRANT_PAGES * MAX_GRANTS_PAGE} grants issued by this account`,
    );
  };
  /**
   * The grants this account issued, merged with the server's signed copies when online, so every device
   * of the patient knows grants made on the others (and which were revoked) before listing or revoking.
   */
  const grants = async (): Promise<StoredGrant[]> => {
    const local = await localGrants();
    if (deps.connection.status() !== 'ready') return local;
    let records: GrantRecord[];
    try {
      records = await serverGrants();
    } catch {
      return localGrants();
    }
    return merge(local, records);
  };
  /** As `grants`, but only with the server's current list: re-keying must not go by a stale view. */
  const currentGrants = async (): Promise<StoredGrant[]> => {
    const records = await serverGrants();
    return merge(await localGrants(), records);
  };

  const wrapsOwed = async () => (await deps.meta.get(WRAPS_OWED_KEY, META_SCHEMAS.wrapsOwed)) ?? {};
  // Through `update`: a stored value that fails its schema is refused, not replaced by one entry.
  const setWrapOwed = (stream: string, owed: { epoch: number; minted: boolean } | null) =>
    deps.meta.update(WRAPS_OWED_KEY, META_SCHEMAS.wrapsOwed, (all) => {
      const next = { ...all };
      if (owed) next[stream] = owed;
      else delete next[stream];
      return next;
    });

  /** A lookup that fails rejects with its failure (offline is no unknown account). */
  const identityOf = async (accountId: string): Promise<Uint8Array> => {
    deps.directory.forget(accountId);
    const presented = await deps.directory.presentedIdentity(accountId);
    if (!presented)
      throw new ConsentError('UNKNOWN_ACCOUNT', `account ${accountId} is not known to the server`);
    if (!presented.selfCertified) {
      throw new ConsentError(
        'KEY_CHANGED',
        'the server presents a key that does not belong to this account; do not share until you have checked',
      );
    }
    return presented.key;
  };

  const streamOf = (type: StreamType): `${string}/${StreamType}` => `${deps.accountId}/${type}`;

  /**
   * The grant `request` asks for, checked whole as the server checks it (the protocol's Grant schema and
   * `grantIssues`, the rules its codec applies to a `grant` frame) so a grant is never refused for its
   * content after this device began publishing for it. Throws ConsentError naming the field: BAD_SCOPE,
   * BAD_EXPIRY (also a date that is not one, a duration that is not a number, both an expiry and a
   * duration, or an expiry already past; a duration counts from the start when one is given),
   * BAD_ACCOUNT_ID (the grantee's id, or this account's own), BAD_GRANT (any other field).
   */
  const draftGrant = (request: GrantRequest): Grant => {
    // Read as untyped code may hand it (a form, an import): anything but a list of objects is refused by
    // name here, or by the schema below, never with a TypeError.
    const scope: unknown = request.scope;
    if (!Array.isArray(scope))
      throw new ConsentError('BAD_SCOPE', 'the scope must be a list of record types', 'scope');
    const entries = scope.map((s: unknown) =>
      typeof s === 'object' && s !== null && 'type' in s && 'access' in s
        ? { type: s.type, access: s.access }
        : s,
    );
    // Worded for the patient; the schema refuses both too, in its own words.
    if (entries.length === 0) throw new ConsentError('BAD_SCOPE', 'choose at least one record type', 'scope');
    if (entries.some((s) => typeof s === 'object' && s !== null && 'type' in s && s.type === 'audit')) {
      throw new ConsentError('BAD_SCOPE', 'the audit log cannot be shared', 'scope');
    }
    // Which end was meant cannot be told: taking either could grant longer than the patient chose.
    if (request.expiresAt !== undefined && request.durationMs !== undefined) {
      throw new ConsentError(
        'BAD_EXPIRY',
        'give the expiry (expiresAt) or a duration (durationMs), not both',
        'expiresAt',
      );
    }
    const now = deps.now();
    let expiresAt = request.expiresAt;
    if (expiresAt === undefined) {
      if (request.durationMs === undefined) {
        throw new ConsentError(
          'BAD_EXPIRY',
          'give the expiry (expiresAt) or a duration (durationMs)',
          'expiresAt',
        );
      }
      // Counted from the grant's start ("48 hours from next Monday"), from now without one. A start that
      // is no date counts from now here and is refused by name by the checks below.
      const start: unknown = request.start;
      const from = (typeof start === 'string' ? parseIsoDateTime(start) : null) ?? now;
      const end = from + request.durationMs;
      // NaN, an infinity, or beyond what a Date holds: toISOString would throw an untyped RangeError.
      if (typeof end !== 'number' || !Number.isFinite(end) || Math.abs(end) > MAX_DATE_MS) {
        throw new ConsentError(
          'BAD_EXPIRY',
          'durationMs must be a finite number of milliseconds',
          'durationMs',
        );
      }
      expiresAt = iso(end);
    }
    // The schema sees the sealed form only: the typed text's limit is checked here, before it is sealed.
    const purpose: unknown = request.purpose;
    if (typeof purpose !== 'string' || purpose.length > MAX_PURPOSE_CHARS) {
      throw new ConsentError(
        'BAD_GRANT',
        `the grant's purpose: text of at most ${MAX_PURPOSE_CHARS} characters`,
        'purpose',
      );
    }
    const grantId = newId(deps.now);
    const own = deps.keys.wrapping.publicKey;
    const draft = {
      v: 1,
      grantId,
      patientId: deps.accountId,
      granteeId: request.granteeId,
      scope: entries,
      start: request.start ?? iso(now),
      expiresAt,
      // Sealed to the grantee's key too once `grantOnce` has verified it; to this account's until then.
      purpose: sealGrantPurpose(purpose, grantId, own, own, deps.x25519),
      issuedAt: iso(now),
    };
    const checked = validate(Grant, draft);
    const issue = checked.ok ? grantIssues(checked.value)[0] : checked.error.details.issues[0];
    if (checked.ok && issue === undefined) {
      // Over before it is issued (a start given in the past): the server would store it, costing a slot of
      // the caps and of the daily rate, an audit entry of a disclosure and a re-keying of every stream.
      if (Date.parse(checked.value.expiresAt) <= now) {
        throw new ConsentError('BAD_EXPIRY', "the grant's expiresAt has passed", 'expiresAt');
      }
      return checked.value;
    }
    const field = issue?.path.split('/')[1] ?? '';
    const code: ConsentErrorCode =
      field === 'scope'
        ? 'BAD_SCOPE'
        : field === 'start' || field === 'expiresAt'
          ? 'BAD_EXPIRY'
          : field === 'granteeId'
            ? 'BAD_ACCOUNT_ID'
            : 'BAD_GRANT';
    throw new ConsentError(
      code,
      issue
        ? `the grant's ${issue.path.slice(1)}: ${issue.reason}`
        : checked.ok
          ? 'the grant breaks a rule of the protocol'
          : checked.error.message,
      field === '' ? undefined : field,
    );
  };

  const pinnedWrappingKeys = async () =>
    (await deps.meta.get(PINNED_WRAPPING_KEY, META_SCHEMAS.pinnedKeys)) ?? {};
  /** The patient verified the account again: its wrapping key is pinned anew at the next wrap. */
  const unpinWrappingKey = async (accountId: string): Promise<void> => {
    deps.directory.unpinWrappingKey(accountId);
    if ((await pinnedWrappingKeys())[accountId] === undefined) return;
    await deps.meta.update(PINNED_WRAPPING_KEY, META_SCHEMAS.pinnedKeys, (all) => {
      const next = { ...(all ?? {}) };
      delete next[accountId];
      return next;
    });
  };
  /**
   * The account's wrapping key, only as its identity key signed it (device directory) and as pinned at
   * the first wrap (pinned now if not yet). Null when the server knows no such account (or presents an
   * identity key that is not the account's). Throws ConsentError WRAPPING_KEY_UNVERIFIED (the server
   * presents a key the account did not sign) or KEY_CHANGED (another key than the pinned one).
   */
  const wrappingKeyOf = async (accountId: string): Promise<Uint8Array | null> => {
    let key: Uint8Array | null;
    try {
      key = await deps.directory.wrappingKey(accountId);
    } catch (error) {
      if (!isWrappingKeyError(error)) throw error;
      throw new ConsentError(
        error.code === 'WRAPPING_KEY_CHANGED' ? 'KEY_CHANGED' : 'WRAPPING_KEY_UNVERIFIED',
        `${error.message}; nothing was shared with it`,
      );
    }
    if (!key) return null;
    const encoded = base64urlEncode(key);
    const pinned = (await pinnedWrappingKeys())[accountId];
    if (pinned !== undefined && pinned !== encoded) {
      throw new ConsentError(
        'KEY_CHANGED',
        `the wrapping key of account ${accountId} changed since it was pinned; verify the account again before sharing`,
      );
    }
    if (pinned === undefined) {
      await deps.meta.update(PINNED_WRAPPING_KEY, META_SCHEMAS.pinnedKeys, (all) => ({
        ...(all ?? {}),
        [accountId]: encoded,
      }));
    }
    return key;
  };
  /** As `wrappingKeyOf`, for re-keying: a refused key is skipped (null), so the other holders still get theirs. */
  const holderWrappingKey = async (accountId: string): Promise<Uint8Array | null> => {
    try {
      return await wrappingKeyOf(accountId);
    } catch (error) {
      if (error instanceof ConsentError) return null;
      throw error;
    }
  };

  /**
   * The accounts of `grants` other than those `excluded` names, each once (an account may hold several
   * grants covering one stream): the recipients of a stream's key, one envelope each.
   */
  const holderAccounts = (grants: readonly StoredGrant[], excluded: readonly string[] | null): string[] => [
    ...new Set(grants.filter((g) => !excluded?.includes(g.grant.grantId)).map((g) => g.grant.granteeId)),
  ];

  /**
   * Sets of ended grant ids that settle a stream if its current epoch shuts them out: those this device
   * knows ended, plus any of the still-active ones (soonest expiry first, at most MAX_EXTRA_ENDED) that
   * another device of the patient may already have seen end — its clock ahead of this one, or told of a
   * revocation this device was not. Shutting out more grants is never less safe. Exact set first.
   */
  const candidateSets = (ended: string[], active: StoredGrant[]): string[][] => {
    const extra = [...active]
      .sort((a, b) => Date.parse(a.grant.expiresAt) - Date.parse(b.grant.expiresAt))
      .slice(0, MAX_EXTRA_ENDED)
      .map((g) => g.grant.grantId);
    const out: string[][] = [];
    for (let mask = 0; mask < 1 << extra.length; mask++) {
      out.push([...ended, ...extra.filter((_, i) => (mask & (1 << i)) !== 0)]);
    }
    return out;
  };

  /** Rounds of `settleRound` begun on this device (see `settle`). */
  let roundsBegun = 0;
  /**
   * The keys refreshed, then the server's grant list read, in the order a round reads them (see the
   * header), so the next round can take them (`settle`): `records` the list (null when it could not be
   * read); `round` the rounds begun before the keys were read, or null when they could not be refreshed.
   */
  const readAfterKeys = async (): Promise<ReadAfterKeys> => {
    const round = roundsBegun;
    if (deps.connection.status() !== 'ready') return { records: null, round: null };
    const keysRead = await deps.keyring.refresh().then(
      () => true,
      () => false,
    );
    // Not connected any more: a request would wait for the reconnect, and `revoke` with it.
    if (deps.connection.status() !== 'ready') return { records: null, round: null };
    try {
      return { records: await serverGrants(), round: keysRead ? round : null };
    } catch {
      return { records: null, round: null };
    }
  };

  /**
   * One check of every stream a grant covers (and every wrap owed): keys first, then the server's
   * grants (see the header); `read`, when given, is that list, read after the keys were refreshed.
   * Claims the next epoch of each unsettled stream and wraps confirmed epochs for their holders. `again`
   * when a claim was made: the next round confirms it with fresh state.
   */
  const settleRound = async (out: Rotation[], read?: GrantRecord[]): Promise<{ again: boolean }> => {
    roundsBegun++;
    // Locked: the session gives its socket up, and a request sent now would wait for a connection that
    // never comes (a `revoke` whose answer came after the lock went unanswered until the session closed).
    deps.assertUnlocked?.();
    if (deps.connection.status() !== 'ready') {
      throw new SyncError('NETWORK', 'not connected: re-keying is retried on the next connection', true);
    }
    let all: StoredGrant[];
    if (read === undefined) {
      await deps.keyring.refresh();
      all = await currentGrants();
    } else {
      all = await merge(await localGrants(), read);
    }
    const now = deps.now();
    const ended = (g: StoredGrant): boolean => grantEnded(g, now);
    const owed = await wrapsOwed();
    // Every granted stream, not only those of ended grants: a grant's keys lost on the way (the connection
    // dropped after the server took the grant, the device lost) are wrapped by `wrapMissing` below. A
    // stream no grant it covers ended is settled at once (nothing to shut out): no claim, no key read.
    const types = new Set<StreamType>();
    for (const g of all) for (const s of g.grant.scope) types.add(s.type);
    for (const stream of Object.keys(owed)) {
      const parsed = parseStreamId(stream);
      if (parsed.ok && parsed.value.patientId === deps.accountId) types.add(parsed.value.type);
    }
    let again = false;
    const settled = new Set<string>();
    const holdersOf = new Map<string, StoredGrant[]>();
    for (const type of types) {
      const stream = streamOf(type);
      const covering = all.filter((g) => g.grant.scope.some((x) => x.type === type));
      const endedIds = covering.filter(ended).map((g) => g.grant.grantId);
      const active = covering.filter((g) => !ended(g));
      const { epoch, matched } = await deps.keyring.matchRotation(stream, candidateSets(endedIds, active));
      const wrap = owed[stream];
      if (wrap !== undefined) {
        // A claim that reached the server (its epoch exists now) is wrapped for the remaining holders,
        // whoever won it: they may hold every epoch (a grant wraps the whole history), and the key this
        // device holds for it is the one the server kept. A claim that never landed needs no wrap, nor
        // does one whose epoch the server serves no key for (withheld): a later claim supersedes it.
        if (wrap.epoch <= epoch && (await deps.keyring.keyFor(stream, wrap.epoch)) !== null) {
          // One envelope per holder account: an account may hold several grants covering the stream, and
          // the server refuses a publish naming one (stream, epoch, recipient) twice, whole.
          const holders = [];
          for (const accountId of holderAccounts(active, matched)) {
            const wrapping = await holderWrappingKey(accountId);
            if (wrapping) holders.push({ accountId, wrappingPublicKey: wrapping });
          }
          await deps.keyring.wrapEpoch(stream, wrap.epoch, holders);
          if (wrap.minted) {
            deps.onEvent?.({
              action: 'key-rotation',
              detail: { stream, epoch: wrap.epoch, holders: holders.length },
            });
          }
        }
        await setWrapOwed(stream, null);
      }
      if (matched !== null) {
        settled.add(type);
        holdersOf.set(
          stream,
          active.filter((g) => !matched.includes(g.grant.grantId)),
        );
        continue;
      }
      // Recorded before the claim, so a device that stops after the server took it still wraps.
      await setWrapOwed(stream, { epoch: epoch + 1, minted: false });
      const claim = await deps.keyring.claimEpoch(stream, endedIds);
      await setWrapOwed(stream, { epoch: claim.epoch, minted: claim.won });
      if (claim.won) out.push({ stream, epoch: claim.epoch });
      again = true;
    }
    if (!again) {
      await wrapMissing(holdersOf);
      const at = iso();
      const rotated = all
        .filter((g) => g.rotatedAt === undefined && ended(g))
        .filter((g) => g.grant.scope.every((s) => settled.has(s.type)))
        .map((g) => ({ ...g, rotatedAt: at }));
      if (rotated.length > 0) await addGrants(rotated);
    }
    return { again };
  };

  /**
   * Wraps, on settled streams, every epoch of the stream's key a current holder has no envelope for (its
   * grant wraps the whole history). Finds what a device that claimed an epoch and was lost before wrapping
   * it left undone. Skipped against a server older than KEY_HOLDERS_VERSION. Also signs anew every
   * envelope of a current holder (this account included) whose creator is a device of this account that
   * is not active any more (revoked, or unknown to the directory): no device takes a revoked device's
   * signature, and the server keeps the new envelope in its place (same key id). Only a server of
   * KEY_HOLDER_CREATORS_VERSION or later names the creators.
   */
  const wrapMissing = async (holdersOf: ReadonlyMap<string, StoredGrant[]>): Promise<void> => {
    const streams = [...holdersOf].filter(([, holders]) => holders.length > 0).map(([stream]) => stream);
    if (streams.length === 0 || (deps.connection.version() ?? 0) < KEY_HOLDERS_VERSION) return;
    const reply = await deps.connection.request<KeyHoldersFrame>({
      t: 'listKeyHolders',
      streams: streams as KeyHoldersFrame['holders'][number]['stream'][],
    });
    const held = new Set(reply.holders.map((h) => `${h.stream}|${h.epoch}|${h.recipient}`));
    for (const stream of streams) {
      const grantees = holderAccounts(holdersOf.get(stream)!, null);
      for (let epoch = 0; epoch <= deps.keyring.currentEpoch(stream); epoch++) {
        const lacking = grantees.filter((id) => !held.has(`${stream}|${epoch}|${id}`));
        if (lacking.length === 0 || !(await deps.keyring.keyFor(stream, epoch))) continue;
        const recipients = [];
        for (const accountId of lacking) {
          const wrapping = await holderWrappingKey(accountId);
          if (wrapping) recipients.push({ accountId, wrappingPublicKey: wrapping });
        }
        await deps.keyring.wrapEpoch(stream, epoch, recipients);
      }
    }
    await resignRevoked(reply.holders, holdersOf);
  };

  /** `wrapMissing`'s second part: the envelopes whose creator is no active device of this account. */
  const resignRevoked = async (
    holders: KeyHoldersFrame['holders'],
    holdersOf: ReadonlyMap<string, StoredGrant[]>,
  ): Promise<void> => {
    const inactive = new Map<string, Promise<boolean>>();
    const notActive = (deviceId: string): Promise<boolean> => {
      let p = inactive.get(deviceId);
      if (p === undefined) {
        // Unavailable (the lookup failed): not now, the next check asks again.
        p = deps.directory
          .lookupDeviceKey(deps.accountId, deviceId)
          .then((r) => (r.status === 'found' ? r.revokedAt !== undefined : r.status === 'unknown'));
        inactive.set(deviceId, p);
      }
      return p;
    };
    const owed = new Map<string, { stream: string; epoch: number; recipients: string[] }>();
    for (const h of holders) {
      if (h.createdBy === undefined || h.createdBy === deps.device.deviceId) continue;
      const current =
        h.recipient === deps.accountId ||
        holderAccounts(holdersOf.get(h.stream) ?? [], null).includes(h.recipient);
      if (!current || !(await notActive(h.createdBy))) continue;
      const at = `${h.stream}|${h.epoch}`;
      const entry = owed.get(at) ?? { stream: h.stream, epoch: h.epoch, recipients: [] };
      entry.recipients.push(h.recipient);
      owed.set(at, entry);
    }
    for (const { stream, epoch, recipients: ids } of owed.values()) {
      const recipients = [];
      for (const accountId of ids) {
        const wrapping =
          accountId === deps.accountId ? deps.keys.wrapping.publicKey : await holderWrappingKey(accountId);
        if (wrapping) recipients.push({ accountId, wrappingPublicKey: wrapping });
      }
      // Null for a key this device cannot get (an older epoch it cannot derive): not signed by it.
      await deps.keyring.rewrapEpoch(stream, epoch, recipients);
    }
  };

  /** Epochs minted by checks a refused write started, not yet answered by `rotateExpired`. */
  const background: Rotation[] = [];
  let lastKick = 0;
  // One check at a time on this device (a revocation and a reconnect may ask at once).
  let settling: Promise<unknown> = Promise.resolve();
  /**
   * Rotates every stream not yet re-keyed past its ended grants, adding the epochs this device minted to
   * `out`; `complete` is false when rounds ran out with a claim still to confirm (the next check goes on).
   * `read`: the keys refreshed and then the server's list read by the caller (`readAfterKeys`), which the
   * first round takes instead of reading both again — unless another round began since (it may have
   * refreshed the keys after that list was read).
   */
  const settle = (out: Rotation[], read?: ReadAfterKeys): Promise<{ complete: boolean }> => {
    const run = settling.then(async () => {
      for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
        const taken = round === 0 && read?.round === roundsBegun ? (read.records ?? undefined) : undefined;
        if (!(await settleRound(out, taken)).again) return { complete: true };
      }
      return { complete: false };
    });
    settling = run.catch(() => undefined);
    return run;
  };

  /*
   * Checks between connects (of an account that issues grants). Re-keying is decided at connect and after
   * a revocation here, but a grant ends at its expiry, and one made or revoked on another of the account's
   * devices is not in this device's copy: a device that stays connected would go on writing under an epoch
   * the ended grantee holds. So (1) a timer at the soonest expiry among the unended grants of the copy runs
   * the connect's check; (2) the server's grant list is merged every `grantRefreshMs` while connected,
   * which arms (1) for grants learnt of, and runs the check at once when the copy holds an ended grant not
   * yet seen re-keyed (revoked elsewhere, already expired, or a check that failed before). Timers are
   * unref'd, set for at most MAX_TIMER_MS (a later expiry re-arms), and end with `stop` (close, lock) or
   * once `usable` answers false; offline they do nothing (the check on connect covers it).
   */
  let stopped = false;
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** The next sending of the kept revocations after one failed while connected (`armResend`). */
  let resendTimer: ReturnType<typeof setTimeout> | undefined;
  let resendAttempts = 0;
  let armed = 0;
  const live = (): boolean => !stopped && (deps.usable?.() ?? true);
  const unref = (timer: ReturnType<typeof setTimeout>): void => (timer as { unref?: () => void }).unref?.();
  const stop = (): void => {
    stopped = true;
    if (expiryTimer !== undefined) clearTimeout(expiryTimer);
    if (refreshTimer !== undefined) clearTimeout(refreshTimer);
    if (resendTimer !== undefined) clearTimeout(resendTimer);
    expiryTimer = refreshTimer = resendTimer = undefined;
  };
  const endedUnrotated = (stored: readonly StoredGrant[], now: number): boolean =>
    stored.some((g) => g.rotatedAt === undefined && grantEnded(g, now));
  const checkNow = (): void => {
    if (!live() || deps.connection.status() !== 'ready') return;
    // What it mints is reported by the next `rotateExpired`; a failure is retried by the next check.
    void settle(background).catch(() => undefined);
  };
  const armExpiry = (stored: readonly StoredGrant[]): void => {
    if (expiryTimer !== undefined) clearTimeout(expiryTimer);
    expiryTimer = undefined;
    if (!live()) return stop();
    const now = deps.now();
    let next = Infinity;
    for (const g of stored) {
      const end = Date.parse(g.grant.expiresAt);
      if (g.revokedAt === undefined && end > now && end < next) next = end;
    }
    if (next === Infinity) return;
    const gen = ++armed;
    expiryTimer = setTimeout(
      () => {
        expiryTimer = undefined;
        void localGrants()
          .then((current) => {
            // Re-armed meanwhile (the grants changed): that timer decides.
            if (gen !== armed) return;
            if (endedUnrotated(current, deps.now())) checkNow();
            armExpiry(current);
          })
          .catch(() => undefined);
      },
      Math.min(next - now + EXPIRY_SLACK_MS, MAX_TIMER_MS),
    );
    unref(expiryTimer);
  };
  const refreshMs = deps.grantRefreshMs ?? GRANT_REFRESH_MS;
  /**
   * Sends the kept revocations again after a backoff (REVOCATION_RETRY_MS doubled at each failure, at most
   * the refresh interval): the grantee keeps its access until the server takes one, so a refusal that
   * passes in seconds is not left for minutes. One timer at a time; a success starts the backoff over.
   * What the server took is re-keyed and looked up in the audit log as after a refresh.
   */
  const armResend = (): void => {
    if (resendTimer !== undefined || !live()) return;
    const given = deps.revocationRetryMs;
    const first = given !== undefined && Number.isFinite(given) && given > 0 ? given : REVOCATION_RETRY_MS;
    const cap = Math.max(first, refreshMs > 0 ? refreshMs : GRANT_REFRESH_MS);
    const delay = Math.min(first * 2 ** Math.min(resendAttempts, 30), cap, MAX_TIMER_MS);
    resendAttempts += 1;
    resendTimer = setTimeout(() => {
      resendTimer = undefined;
      void (async () => {
        if (!live() || deps.connection.status() !== 'ready') return;
        if ((await sendKept()) === undefined) return;
        checkNow();
        recordNow();
      })().catch(() => undefined);
    }, delay);
    unref(resendTimer);
  };
  let refreshing = false;
  /** Starts the grant-list refresh once (it re-arms itself until `stop`). */
  const startRefresh = (): void => {
    if (refreshing || stopped || !(refreshMs > 0 && refreshMs <= MAX_TIMER_MS)) return;
    refreshing = true;
    armRefresh();
  };
  /**
   * Whether a reading of the server's list is worth its cost here: always for a patient, and for a
   * provider (the server lets any account grant its own streams) that holds a grant it issued; one that
   * holds none reads it only from a server that lists the issued side alone (PAGING_VERSION), which
   * answers it with one empty page — an older one's answer holds every grant given to the provider.
   * So a grant made on another of the provider's devices is learnt within `grantRefreshMs`, as a
   * patient's is, and not only at the next connect.
   */
  const refreshWorthIt = (stored: readonly StoredGrant[]): boolean =>
    deps.role !== 'provider' || stored.length > 0 || (deps.connection.version() ?? 0) >= PAGING_VERSION;
  watch.grantsChanged = (stored) => {
    if (stopped) return;
    armExpiry(stored);
    startRefresh();
  };
  /**
   * Reads the server's grant list into the copy where it is worth it (`refreshWorthIt`): the list, when it
   * was read, and whether it brought a standing grant the copy lacked (`learnt`: a grant made on another
   * device that stopped before publishing its envelopes leaves the grantee keyless until some check wraps
   * them, so the caller runs this device's check, not only its next connect); null, reading nothing,
   * where it is not worth it.
   */
  const readListed = async (): Promise<{ stored: StoredGrant[]; at: number; learnt: boolean } | null> => {
    const known = await localGrants();
    if (!refreshWorthIt(known)) return null;
    // Merged into the copy (which re-arms the expiry timer when it changed); the local copy if the
    // listing fails.
    const stored = await grants();
    const at = deps.now();
    const held = new Set(known.map((g) => g.grant.grantId));
    return { stored, at, learnt: stored.some((g) => !held.has(g.grant.grantId) && !grantEnded(g, at)) };
  };
  const armRefresh = (): void => {
    if (!live()) return stop();
    refreshTimer = setTimeout(() => {
      refreshTimer = undefined;
      void (async () => {
        if (!live() || deps.connection.status() !== 'ready') return;
        // A revocation kept after a refusal that may pass (RATE_LIMITED, UNAVAILABLE) is tried again.
        await sendKept();
        const read = await readListed();
        if (read === null) return;
        if (read.learnt || endedUnrotated(read.stored, read.at)) checkNow();
        recordNow();
      })()
        .catch(() => undefined)
        .finally(() => {
          if (!stopped) armRefresh();
        });
    }, refreshMs);
    unref(refreshTimer);
  };
  /**
   * A reading of the server's grant list for `writeSpans(…, fresh)`: one under way is shared, and one is
   * started at most every WRITE_SPANS_REFRESH_MS, only while connected; read as the refresh reads it
   * (`readListed`). Never rejects (the copy stays).
   */
  let spansReading: Promise<void> | null = null;
  let spansReadAt = -Infinity;
  const readForWriteSpans = (): Promise<void> => {
    if (spansReading !== null) return spansReading;
    const now = deps.now();
    if (!live() || deps.connection.status() !== 'ready' || now - spansReadAt < WRITE_SPANS_REFRESH_MS)
      return Promise.resolve();
    spansReadAt = now;
    const run = readListed()
      .then((read) => {
        if (read?.learnt === true) checkNow();
      })
      .catch(() => undefined)
      .finally(() => {
        spansReading = null;
      });
    spansReading = run;
    return run;
  };

  // In the write queue: a snapshot read before a write lands must not re-arm after that write did.
  void saveGrants(() => null)
    .then((stored) => watch.grantsChanged(stored))
    .catch(() => undefined);
  startRefresh();

  /**
   * The keyring's write guard: an own stream's write epoch must shut out every grant covering the stream
   * that this device knows ended (local grants only: no network on the write path). The answer holds until
   * the soonest expiry of the stream's active grants (or until the grants change: `invalidateWriteChecks`).
   */
  deps.keyring.useWriteGuard({
    now: deps.now,
    // A write waits for re-keying (e.g. a grant expired while connected): check now, at most every few
    // seconds (wall clock); what it mints is reported by the next `rotateExpired`. A kept revocation is
    // sent first: until the server takes it no re-keying can shut its grantee out.
    onRefused: () => {
      if (deps.connection.status() !== 'ready' || Date.now() - lastKick < REKEY_KICK_MS) return;
      lastKick = Date.now();
      void (async () => settle(background, await sendKept().catch(() => undefined)))().catch(() => undefined);
    },
    async candidates(stream) {
      const parsed = parseStreamId(stream);
      if (!parsed.ok || parsed.value.patientId !== deps.accountId)
        return { sets: [[]], validUntil: Infinity };
      const type = parsed.value.type;
      const now = deps.now();
      const covering = (await localGrants()).filter((g) => g.grant.scope.some((x) => x.type === type));
      // A revocation kept unsent counts as ended here: the patient revoked, so nothing written since is
      // sealed under a key the grantee holds, though the server has not cut it off yet.
      const waiting = await revokedHere();
      const isEnded = (g: StoredGrant): boolean => grantEnded(g, now) || waiting.has(g.grant.grantId);
      const endedIds = covering.filter(isEnded).map((g) => g.grant.grantId);
      const active = covering.filter((g) => !isEnded(g));
      let validUntil = Infinity;
      for (const g of active) validUntil = Math.min(validUntil, Date.parse(g.grant.expiresAt));
      return { sets: endedIds.length === 0 ? [[]] : candidateSets(endedIds, active), validUntil };
    },
    floor: {
      load: async () => (await deps.meta.get(STREAM_EPOCHS_KEY, META_SCHEMAS.streamEpochs)) ?? {},
      save: async (stream, epoch) => {
        await deps.meta.update(STREAM_EPOCHS_KEY, META_SCHEMAS.streamEpochs, (all) =>
          (all?.[stream] ?? 0) >= epoch ? (all ?? {}) : { ...(all ?? {}), [stream]: epoch },
        );
      },
    },
  });

  /**
   * Waits for the connection (as every request does) and refuses, before sending, when the server it
   * reached is older than `version`: it would refuse the frame as unknown.
   */
  const ensureServerSpeaks = async (version: number): Promise<void> => {
    await deps.connection.whenReady();
    const spoken = deps.connection.version() ?? 0;
    if (spoken < version) {
      throw new ConsentError(
        'SERVER_TOO_OLD',
        `the server speaks protocol version ${spoken}; this needs version ${version} or later: ask its operator to update it`,
      );
    }
  };
  /** Acceptance is a provider's: a patient account's cap on grants from strangers stays whole. */
  const assertProvider = (): void => {
    deps.assertUnlocked?.();
    if (deps.role !== 'provider') {
      throw new ConsentError('NOT_A_PROVIDER', 'only a provider account accepts patients');
    }
  };
  /** The checks an acceptance request passes before anything is sent; answers the id, checked. */
  const acceptable = async (patientId: string): Promise<AcceptedPatient['patientId']> => {
    assertProvider();
    const id = validate(AccountId, patientId);
    if (!id.ok) throw new ConsentError('BAD_ACCOUNT_ID', 'this is not a Hale account id');
    if (id.value === deps.accountId)
      throw new ConsentError('BAD_ACCOUNT_ID', 'an account cannot accept itself');
    await ensureServerSpeaks(ACCEPTANCE_VERSION);
    return id.value;
  };
  const setAccepted = async (patientId: string, accept: boolean): Promise<void> => {
    const id = await acceptable(patientId);
    await deps.connection.request({ t: 'acceptPatient', patientId: id, accept });
  };

  /**
   * Re-keys after the revocation of `target`; its streams are `pending` when that cannot finish now. `read`:
   * the server's list as `revoke` read it after its answer, which the re-keying takes (one listing).
   */
  const rekeyAfter = async (target: StoredGrant, read?: ReadAfterKeys): Promise<RevokeResult> => {
    const rotated: Rotation[] = [];
    const complete = await settle(rotated, read).then(
      (r) => r.complete,
      () => false,
    );
    return { rotated, pending: complete ? [] : target.grant.scope.map((s) => streamOf(s.type)) };
  };
  /**
   * After the server took a revocation of `grantId` signed `sig`, given the server's list read then
   * (`records`): whether it holds another revocation of that grant signed by the patient (made on another
   * device, or by this one before with its answer lost; the server keeps the first) — false when this one
   * stands, or the list cannot tell (the grant not in an older server's bounded answer). Only a
   * revocation that verifies counts: a server's unsigned one must not keep this device from taking its own
   * and re-keying.
   */
  const revokedElsewhere = async (
    records: readonly GrantRecord[],
    grantId: string,
    sig: string,
  ): Promise<boolean> => {
    const held = records.find((r) => r.grant.grant.grantId === grantId)?.revocation;
    const r = held?.revocation;
    return (
      held !== undefined &&
      held.sig !== sig &&
      r?.grantId === grantId &&
      r.patientId === deps.accountId &&
      (await verifies(revocationSignaturePayload(r), held.sig))
    );
  };
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
  const grantOnce = async (request: GrantRequest): Promise<StoredGrant> => {
    deps.assertUnlocked?.();
    const drafted = draftGrant(request);
    const identity = await identityOf(drafted.granteeId);
    await pinIdentity(drafted.granteeId, identity, true);
    // Verified and pinned before anything is published: never wrapped to a key the server chose.
    const wrapping = await wrappingKeyOf(drafted.granteeId);
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
    const streams = grant.scope.map((s) => streamOf(s.type));
    const envelopes: KeyEnvelope[] = [];
    for (const stream of streams) envelopes.push(...(await deps.keyring.envelopesFor(stream, recipient)));
    const payload = grantSignaturePayload(grant);
    deps.assertUnlocked?.();
    const sig = base64urlEncode(
      await signCanonical(deps.ed, deps.keys.identity.secretKey, payload.label, payload),
    );
    // Marked before it is sent: a device that stops before the answer still looks for it (see the header).
    const mark = { grantId: grant.grantId, expiresAt: grant.expiresAt, notBefore: deps.now() };
    await grantAudit.mark([mark]).catch(() => undefined);
    grantAudit.sending.add(grant.grantId);
    try {
      await deps.connection.request({ t: 'grant', grant: { grant, sig } });
    } catch (error) {
      grantAudit.sending.delete(grant.grantId);
      // The connection failed with the grant sent or not: it may stand. Named, so the app can look for it.
      if (!(error instanceof SyncError) || !CONNECTION_CODES.has(error.code)) {
        // Refused by the server: it does not stand, there is nothing to record.
        await grantAudit.unmark(new Set([grant.grantId])).catch(() => undefined);
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
      const unkept = await addGrants([stored]).then(
        () => null,
        (error: unknown) => ({ error }),
      );
      const publish = async (batch: KeyEnvelope[]): Promise<void> => {
        if (batch.length === 0 || deps.connection.status() !== 'ready') return;
        // One refused while the connection stays up (no reconnect's check would come) has the check run
        // now, which wraps what the grantee lacks (`wrapMissing`).
        await putEnvelopes(deps.connection, batch).catch(checkNow);
      };
      // Those wrapped already first: the grantee's devices, told of the grant by now, wait for them.
      await publish(envelopes);
      if (deps.connection.status() === 'ready')
        await publish(await epochsSince(streams, recipient, envelopes));
      if (unkept !== null) throw unkept.error;
      // Its mark stays until a later lookup finds this entry: an append that never lands is retried.
      grantAudit.emit(mark, stored);
    } finally {
      grantAudit.sending.delete(grant.grantId);
    }
    return stored;
  };

  /** The SyncError a kept revocation's `revoke` rejects with (`RevocationPending`), from `cause`'s code. */
  const revocationPending = (grantId: string, cause: SyncError): RevocationPending =>
    Object.assign(
      new SyncError(
        cause.code,
        unkept.has(grantId)
          ? `${cause.message}; the device store could not keep the revocation: it is sent again while this ` +
              'session stays open, not after it closes (revoke again then): until the server takes it, the ' +
              'provider keeps access'
          : `${cause.message}; the revocation is kept on this device and sent at its next connection: ` +
              'until the server takes it, the provider keeps access',
        cause.retry,
      ),
      { grantId, revocationPending: true as const },
    );
  /** Why nothing can be sent now: STOPPED once the connection was stopped (offline, closed), else NETWORK. */
  const notConnected = (): SyncError =>
    deps.connection.status() === 'stopped'
      ? new SyncError('STOPPED', 'not connected (the connection is stopped)', false)
      : new SyncError('NETWORK', `not connected (${deps.connection.status()})`, true);
  /**
   * Whether `error`, a failed `revoke` request, is the server's answer that it will never take the
   * revocation (a code its error table says not to resend: NOT_FOUND, FORBIDDEN, BAD_SIGNATURE…). Anything
   * else — no answer, a refusal that may pass (RATE_LIMITED, UNAVAILABLE…), a code this build does not
   * know — leaves the revocation kept.
   */
  const refusedForGood = (error: unknown): boolean =>
    error instanceof SyncError &&
    !CONNECTION_CODES.has(error.code) &&
    isErrorCode(error.code) &&
    !errorInfo(error.code).retry;
  /** Keeps `entry` unless a revocation of its grant is kept already; answers the one kept. */
  const keepRevocation = async (entry: KeptRevocation): Promise<KeptRevocation> => {
    const grantId = entry.signed.revocation.grantId;
    let kept = entry;
    await deps.meta.update(PENDING_REVOCATIONS_KEY, META_SCHEMAS.revocationsPending, (all) => {
      const held = all?.find((k) => k.signed.revocation.grantId === grantId);
      if (held === undefined) return [...(all ?? []), entry];
      kept = { signed: held.signed, marked: held.marked || entry.marked };
      return kept.marked === held.marked ? all : all!.map((k) => (k === held ? kept : k));
    });
    deps.keyring.invalidateWriteChecks();
    return kept;
  };
  const dropRevocation = async (grantId: string, sig: string): Promise<void> => {
    const matches = (k: KeptRevocation): boolean =>
      k.signed.revocation.grantId === grantId && k.signed.sig === sig;
    const inMemory = unkept.get(grantId);
    if (inMemory !== undefined && matches(inMemory)) {
      unkept.delete(grantId);
      deps.keyring.invalidateWriteChecks();
    }
    await deps.meta.update(PENDING_REVOCATIONS_KEY, META_SCHEMAS.revocationsPending, (all) =>
      all?.some(matches) ? all.filter((k) => !matches(k)) : all,
    );
    deps.keyring.invalidateWriteChecks();
  };

  /** The answer to sending a kept revocation: taken (with the reading made after it), or kept. */
  type Delivery = { sent: true; read: ReadAfterKeys } | { sent: false; error: SyncError };
  /** Kept revocations being sent, by grant id: a `revoke` and a connect's check share one send. */
  const delivering = new Map<string, Promise<Delivery>>();
  /**
   * Sends a kept revocation and, once the server took it, stores it in the copy of the grants and drops it
   * from those kept: the copy then holds the revocation that stands (`revokedElsewhere`: another device's,
   * whose entry is its device's), and the revocation's `consent-revoke` entry is emitted at once only when
   * `fresh` (signed by the `revoke` call sending it, whose answer this is); one sent before (its answer
   * lost, the app closed) is left to the audit lookups (`recordStanding`), which find an entry appended
   * before. Refused for good: dropped (with the mark it set), and the refusal thrown. Not answered: kept.
   */
  const deliver = (entry: KeptRevocation, fresh: boolean): Promise<Delivery> => {
    const grantId = entry.signed.revocation.grantId;
    const under = delivering.get(grantId);
    if (under !== undefined) return under;
    const run = deliverOnce(entry, fresh).finally(() => {
      if (delivering.get(grantId) === run) delivering.delete(grantId);
    });
    delivering.set(grantId, run);
    return run;
  };
  const deliverOnce = async (entry: KeptRevocation, fresh: boolean): Promise<Delivery> => {
    const { revocation, sig } = entry.signed;
    const grantId = revocation.grantId;
    revocationAudit.sending.add(grantId);
    try {
      try {
        // Never waits for a connection: one closing under it rejects NETWORK now (kept, sent again).
        await deps.connection.request({ t: 'revoke', revocation: entry.signed }, { wait: false });
      } catch (error) {
        if (!refusedForGood(error)) {
          if (!(error instanceof SyncError)) throw error;
          // Still connected (refused for a reason that may pass, or not answered in time): tried again
          // after a backoff, not only at the next refresh or connect. Offline, the connect sends it.
          if (deps.connection.status() === 'ready') armResend();
          return { sent: false, error: revocationPending(grantId, error) };
        }
        await dropRevocation(grantId, sig).catch(() => undefined);
        if (entry.marked) await revocationAudit.unmark(new Set([grantId])).catch(() => undefined);
        throw error;
      }
      // Read once for both: whether another revocation stood, and the re-keying's first round (keys first).
      const read = await readAfterKeys();
      const records = read.records;
      const held = (await localGrants()).find((g) => g.grant.grantId === grantId);
      // Not read (offline, or the listing failed): this revocation is taken as standing.
      if (records !== null && (await revokedElsewhere(records, grantId, sig))) {
        // The server keeps a grant's first revocation and answers a later one `ok`: this one changed
        // nothing, so it is neither kept nor recorded. The one that stands is taken as any other learnt
        // from the list: its time, and its entry left to the device that revoked.
        if (entry.marked) await revocationAudit.unmark(new Set([grantId])).catch(() => undefined);
        await merge(await localGrants(), records);
      } else if (held !== undefined && held.revokedAt === undefined) {
        const revoked = { grant: held.grant, sig: held.sig, revokedAt: revocation.revokedAt };
        await addGrants([revoked]);
        // Its mark stays until a later lookup finds this entry: an append that never lands is retried.
        if (fresh || deps.recorded === undefined) {
          revocationAudit.emit(
            {
              grantId,
              granteeId: held.grant.granteeId,
              expiresAt: held.grant.expiresAt,
              notBefore: deps.now(),
              own: true,
            },
            revoked,
          );
        }
      }
      // Left kept when the store refuses: sent again later with the same signature, which changes nothing.
      await dropRevocation(grantId, sig).catch(() => undefined);
      resendAttempts = 0;
      await forgetRefused(new Set([grantId]));
      return { sent: true, read };
    } finally {
      revocationAudit.sending.delete(grantId);
    }
  };
  /**
   * Sends every kept revocation (at each connect's check and each refresh of the grant list); answers the
   * reading made after the last one the server took, for the re-keying's first round. One refused for good
   * is dropped; one not answered stays for the next check.
   */
  const sendKept = async (): Promise<ReadAfterKeys | undefined> => {
    let read: ReadAfterKeys | undefined;
    for (const entry of await keptRevocations()) {
      if (!live() || deps.connection.status() !== 'ready') break;
      // Taken meanwhile (by a `revoke`, or a check that ran at the same time): not sent once more.
      const sig = entry.signed.sig;
      if (!(await keptRevocations()).some((k) => k.signed.sig === sig)) continue;
      const delivery = await deliver(entry, false).catch((error: unknown) => {
        // Dropped: the `revoke` that kept it answered long ago (pending), so this is the only word of it.
        if (refusedForGood(error)) void reportRefused(entry, error as SyncError);
        return null;
      });
      if (delivery?.sent) read = delivery.read;
    }
    return read;
  };

  /**
   * Tells of a kept revocation the server refused for good in the background (REVOCATION_REFUSED), and
   * keeps that in device meta (`revocations-refused`), so each later session tells it again until a
   * revocation of the grant is taken or the grant ends (`refusedStill`).
   */
  const reportRefused = async (entry: KeptRevocation, error: SyncError): Promise<void> => {
    const { grantId, revokedAt } = entry.signed.revocation;
    const message = cutMiddle(
      `the server refused the revocation of grant ${grantId} made on this device at ${revokedAt} ` +
        `(${error.code}: ${error.message}); it is not revoked: check the grant list and revoke it again`,
      MAX_REFUSED_MESSAGE,
    );
    deps.report?.({ code: 'REVOCATION_REFUSED', id: grantId, message });
    await deps.meta
      .update(REFUSED_REVOCATIONS_KEY, META_SCHEMAS.revocationsRefused, (all) => [
        ...(all ?? []).filter((r) => r.grantId !== grantId).slice(-(MAX_REFUSED_KEPT - 1)),
        { grantId, revokedAt, message },
      ])
      .catch(() => undefined);
  };
  /** A revocation of each of `grantIds` was taken, or its grant ended: its refusal is no longer told. */
  const forgetRefused = async (grantIds: ReadonlySet<string>): Promise<void> => {
    for (const id of grantIds) deps.clearReport?.({ code: 'REVOCATION_REFUSED', id });
    await deps.meta
      .update(REFUSED_REVOCATIONS_KEY, META_SCHEMAS.revocationsRefused, (all) =>
        all?.some((r) => grantIds.has(r.grantId)) ? all.filter((r) => !grantIds.has(r.grantId)) : all,
      )
      .catch(() => undefined);
  };
  /** Tells again, as a session starts, the refusals kept whose grant still stands on this device. */
  const refusedStill = async (): Promise<void> => {
    const refused = await deps.meta.get(REFUSED_REVOCATIONS_KEY, META_SCHEMAS.revocationsRefused);
    if (refused == null || refused.length === 0) return;
    const now = deps.now();
    const grants = new Map((await localGrants()).map((g) => [g.grant.grantId, g]));
    const over = new Set<string>();
    for (const r of refused) {
      const g = grants.get(r.grantId);
      if (g === undefined || grantEnded(g, now)) over.add(r.grantId);
      else deps.report?.({ code: 'REVOCATION_REFUSED', id: r.grantId, message: r.message });
    }
    if (over.size > 0) await forgetRefused(over);
  };

  /**
   * The patient's signed revocation of `grantId`, dated now, or `revokedAt` for the one that stood (refused
   * once the account is locked).
   */
  const signRevocation = async (grantId: string, revokedAt = iso()): Promise<SignedRevocation> => {
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
    const target = find(await localGrants()) ?? find(await grants());
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
    const held = (await keptRevocations()).find((k) => k.signed.revocation.grantId === grantId);
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
    // still leaves this device looking for it (see the header).
    const marked = await revocationAudit.mark([mark]).catch(() => new Set<string>());
    // Kept before it is sent: a revocation the server never answers is sent again at the next connection.
    // One the device store cannot keep (a write failure; a kept list this build cannot read, META_INVALID,
    // e.g. written by a newer build) is still sent when connected, unkept: nothing may stand between the
    // patient and the end of a grant. Offline, nothing would send it later: the store's error is thrown.
    let entry: KeptRevocation = { signed, marked: marked.size > 0 };
    try {
      entry = await keepRevocation(entry);
    } catch (error) {
      if (deps.connection.status() !== 'ready') {
        if (marked.size > 0) await revocationAudit.unmark(marked).catch(() => undefined);
        throw error;
      }
      // Held for this session: sent again and shutting the grantee out as a kept one.
      unkept.set(grantId, entry);
      deps.keyring.invalidateWriteChecks();
    }
    const fresh = held === undefined && entry.signed.sig === signed.sig;
    if (deps.connection.status() !== 'ready') throw revocationPending(grantId, notConnected());
    const delivery = await deliver(entry, fresh);
    if (!delivery.sent) throw delivery.error;
    // Sent before (not by this call): its entry is left to the lookups, run now.
    if (!fresh) recordNow();
    return rekeyAfter(target, delivery.read);
  };

  void refusedStill().catch(() => undefined);

  return {
    REVOCATION_NOTICE,

    /**
     * Provider only: accepts a patient, so the grants it gives this account stop counting toward the
     * server's cap on grants from strangers (MAX_ACTIVE_GRANTS_PER_GRANTEE). Needs no signature and
     * changes no access. Repeating it changes nothing. Server refusals are SyncErrors with the server's code
     * (NOT_FOUND: no such account; TOO_MANY_ACCEPTED: MAX_ACCEPTED_PATIENTS_PER_GRANTEE reached).
     */
    async acceptPatient(patientId: string): Promise<void> {
      await setAccepted(patientId, true);
    },

    /**
     * Provider only: stops accepting a patient. Its grants stay valid (nothing is revoked on its behalf);
     * they count toward the cap again for new grants. Stopping one never accepted changes nothing.
     */
    async unacceptPatient(patientId: string): Promise<void> {
      await setAccepted(patientId, false);
    },

    /**
     * Provider only: every patient this account accepted, by id, with when (the server's clock), read page
     * after page; past MAX_ACCEPTED_PAGES a SyncError TOO_LARGE (a server that never stops answering `next`).
     */
    async acceptedPatients(): Promise<AcceptedPatient[]> {
      assertProvider();
      await ensureServerSpeaks(ACCEPTANCE_VERSION);
      return readPages(
        async (cursor) => {
          const reply = await deps.connection.request<AcceptedPatientsFrame>({
            t: 'listAccepted',
            limit: MAX_ACCEPTED_PAGE,
            ...(cursor === undefined ? {} : { cursor }),
          });
          return { rows: reply.patients, next: reply.next };
        },
        MAX_ACCEPTED_PAGES,
        `the server lists more than ${MAX_ACCEPTED_PAGES * MAX_ACCEPTED_PAGE} accepted patients`,
      );
    },

    /**
     * For out-of-band comparison (read aloud, or scan as QR). `verified`: whether this account compared the
     * key before (`yes`: the key presented now is the one pinned; `changed`: another key was pinned — a
     * grant is refused KEY_CHANGED until the person compares again; `no`: never compared).
     */
    async describeProvider(accountId: string) {
      const identity = await identityOf(accountId);
      const pins = await pinnedKeys();
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
      const identity = await identityOf(accountId);
      await pinIdentity(accountId, identity, false);
      await unpinWrappingKey(accountId);
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
      const identity = await identityOf(accountId);
      if (keyFingerprint(identity).replace(/\s+/g, '') !== fingerprint) {
        throw new ConsentError('KEY_CHANGED', "the provider's key does not match the invite");
      }
      await pinIdentity(accountId, identity, false);
      await unpinWrappingKey(accountId);
      return { accountId, fingerprint: keyFingerprint(identity) };
    },

    async isVerified(accountId: string): Promise<boolean> {
      // Own keys only: `constructor` or `__proto__` (a deep link) is found on every object's prototype.
      return isAccountId(accountId) && Object.hasOwn(await pinnedKeys(), accountId);
    },

    /**
     * Grants access (see the header). Calls at once asking the same (a double tap: same grantee, scope,
     * expiry or duration, purpose and start) share one grant and its answer; once it answered, asking
     * again makes another grant.
     */
    grant(request: GrantRequest): Promise<StoredGrant> {
      const key = grantRequestKey(request);
      const under = key === null ? undefined : granting.get(key);
      if (under !== undefined) return under;
      const run = grantOnce(request).finally(() => {
        if (key !== null && granting.get(key) === run) granting.delete(key);
      });
      if (key !== null) granting.set(key, run);
      return run;
    },

    /**
     * Revokes a grant: the server cuts access once it takes the revocation, then every stream it covered is re-keyed for the
     * remaining holders. `rotated`: the epochs this device minted. `pending`: the grant's streams when the
     * re-keying could not be completed now (e.g. the connection dropped); the revocation stands and the
     * next connect of any of the patient's devices finishes it. A grant this device holds revoked is not
     * revoked again (only its re-keying is finished), and calls for one grant at once share one revocation.
     * Rejects RevocationPending when the server has not taken the revocation (not connected, no answer, a
     * refusal that may pass): it is kept and sent at the next connection (see the header).
     */
    revoke(grantId: string): Promise<RevokeResult> {
      const under = revoking.get(grantId);
      if (under !== undefined) return under;
      const run = revokeGrant(grantId).finally(() => {
        if (revoking.get(grantId) === run) revoking.delete(grantId);
      });
      revoking.set(grantId, run);
      return run;
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
      resendAttempts = 0;
      if (resendTimer !== undefined) clearTimeout(resendTimer);
      resendTimer = undefined;
      // Revocations kept unsent first: the re-keying below then shuts their grants out too.
      await settle(rotated, await sendKept().catch(() => undefined));
      recordNow();
      return [...background.splice(0), ...rotated];
    },

    /**
     * Ends the checks between connects (expiry timer, grant-list refresh); the session calls it when it
     * closes or finds the account locked. Nothing else is stopped: calls still work as before.
     */
    stop,

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
      if (fresh) await readForWriteSpans();
      // A revocation signed here that the server has not taken yet (offline, its answer lost) ends the span
      // at its signed time already: this device knows of it, and the server would take that time.
      const kept = await revokedHere();
      const copy = (await localGrants()).map((g) => {
        const signedAt = g.revokedAt === undefined ? kept.get(g.grant.grantId) : undefined;
        return signedAt === undefined ? g : { ...g, revokedAt: signedAt };
      });
      return writeSpansOf(copy, patientId, type, granteeId);
    },

    /** Grants this device issued (with their state at `now`). */
    async list(): Promise<Array<StoredGrant & { status: GrantStatus; purpose: string | null }>> {
      const now = deps.now();
      const listed = await grants();
      const waiting = await revokedHere();
      const status = (g: StoredGrant): GrantStatus =>
        g.revokedAt !== undefined
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
      return listed.map((g) => ({ ...g, status: status(g), purpose: openGrantPurpose(g.grant, reader()) }));
    },
  };
};

export type Consent = ReturnType<typeof createConsent>;
