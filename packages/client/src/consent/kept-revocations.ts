/**
 * Revocations signed on this device that the server has not taken yet: kept in device meta
 * (`revocations-pending`), sent at each check, dropped once taken or refused for good.
 *
 * Invariants:
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
 *   (write-guard.ts). A grant the copy holds revoked is sent again only while connected (the server took it before),
 *   dated as the revocation that stood.
 */
import type { ConsentCore } from './consent-core';
import { CONSENT_STATE } from './stored-state';
import { type GrantRecord, revocationSignaturePayload, isErrorCode, errorInfo } from '@hale/protocol';
import { SyncError, CONNECTION_CODES } from '../sync/connection';
import { cutMiddle } from '../core/cut-middle';
import {
  type KeptRevocation,
  PENDING_REVOCATIONS_KEY,
  type ReadAfterKeys,
  type RevocationPending,
  MAX_REFUSED_MESSAGE,
  REFUSED_REVOCATIONS_KEY,
  MAX_REFUSED_KEPT,
} from './consent-types';
import { grantEnded } from './grant-lists';
import type { KeptRevocations } from './consent-parts';

export const createKeptRevocations = (c: ConsentCore): KeptRevocations => {
  const { deps } = c;
  /**
   * Revocations the device store could not keep (`revoke`), by grant id: held for this session instead,
   * sent again and shutting their grantee out as the kept ones do, lost when it ends.
   */
  const unkept = new Map<string, KeptRevocation>();
  /** Revocations signed here that the server has not taken yet (see the header), oldest first. */
  const keptRevocations = async (): Promise<KeptRevocation[]> => {
    const stored = (await deps.meta.get(PENDING_REVOCATIONS_KEY, CONSENT_STATE.revocationsPending)) ?? [];
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
   * After the server took a revocation of `grantId` signed `sig`, given the server's list read then
   * (`records`): whether it holds another revocation of that grant signed by the patient (made on another
   * device, or by this one before with its answer lost; the server keeps the first) — false when this one
   * stands, or the list cannot tell (the grant not in the list read). Only a
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
      (await c.copy.verifies(revocationSignaturePayload(r), held.sig))
    );
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
    await deps.meta.update(PENDING_REVOCATIONS_KEY, CONSENT_STATE.revocationsPending, (all) => {
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
    await deps.meta.update(PENDING_REVOCATIONS_KEY, CONSENT_STATE.revocationsPending, (all) =>
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
    c.recording.revocationAudit.sending.add(grantId);
    try {
      try {
        // Never waits for a connection: one closing under it rejects NETWORK now (kept, sent again).
        await deps.connection.request({ t: 'revoke', revocation: entry.signed }, { wait: false });
      } catch (error) {
        if (!refusedForGood(error)) {
          if (!(error instanceof SyncError)) throw error;
          // Still connected (refused for a reason that may pass, or not answered in time): tried again
          // after a backoff, not only at the next refresh or connect. Offline, the connect sends it.
          if (deps.connection.status() === 'ready') c.checks.armResend();
          return { sent: false, error: revocationPending(grantId, error) };
        }
        await dropRevocation(grantId, sig).catch(() => undefined);
        if (entry.marked) await c.recording.revocationAudit.unmark(new Set([grantId])).catch(() => undefined);
        throw error;
      }
      // Read once for both: whether another revocation stood, and the re-keying's first round (keys first).
      const read = await c.rekey.readAfterKeys();
      const records = read.records;
      const held = (await c.copy.localGrants()).find((g) => g.grant.grantId === grantId);
      // Not read (offline, or the listing failed): this revocation is taken as standing.
      if (records !== null && (await revokedElsewhere(records, grantId, sig))) {
        // The server keeps a grant's first revocation and answers a later one `ok`: this one changed
        // nothing, so it is neither kept nor recorded. The one that stands is taken as any other learnt
        // from the list: its time, and its entry left to the device that revoked.
        if (entry.marked) await c.recording.revocationAudit.unmark(new Set([grantId])).catch(() => undefined);
        await c.copy.merge(await c.copy.localGrants(), records);
      } else if (held !== undefined && held.revokedAt === undefined) {
        const revoked = { grant: held.grant, sig: held.sig, revokedAt: revocation.revokedAt };
        await c.copy.addGrants([revoked]);
        // Its mark stays until a later lookup finds this entry: an append that never lands is retried.
        if (fresh || deps.recorded === undefined) {
          c.recording.revocationAudit.emit(
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
      c.checks.resendSucceeded();
      await forgetRefused(new Set([grantId]));
      return { sent: true, read };
    } finally {
      c.recording.revocationAudit.sending.delete(grantId);
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
      if (!c.checks.live() || deps.connection.status() !== 'ready') break;
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
      .update(REFUSED_REVOCATIONS_KEY, CONSENT_STATE.revocationsRefused, (all) => [
        ...(all ?? []).filter((r) => r.grantId !== grantId).slice(-(MAX_REFUSED_KEPT - 1)),
        { grantId, revokedAt, message },
      ])
      .catch(() => undefined);
  };
  /** A revocation of each of `grantIds` was taken, or its grant ended: its refusal is no longer told. */
  const forgetRefused = async (grantIds: ReadonlySet<string>): Promise<void> => {
    for (const id of grantIds) deps.clearReport?.({ code: 'REVOCATION_REFUSED', id });
    await deps.meta
      .update(REFUSED_REVOCATIONS_KEY, CONSENT_STATE.revocationsRefused, (all) =>
        all?.some((r) => grantIds.has(r.grantId)) ? all.filter((r) => !grantIds.has(r.grantId)) : all,
      )
      .catch(() => undefined);
  };
  /** Tells again, as a session starts, the refusals kept whose grant still stands on this device. */
  const refusedStill = async (): Promise<void> => {
    const refused = await deps.meta.get(REFUSED_REVOCATIONS_KEY, CONSENT_STATE.revocationsRefused);
    if (refused == null || refused.length === 0) return;
    const now = deps.now();
    const grants = new Map((await c.copy.localGrants()).map((g) => [g.grant.grantId, g]));
    const over = new Set<string>();
    for (const r of refused) {
      const g = grants.get(r.grantId);
      if (g === undefined || grantEnded(g, now)) over.add(r.grantId);
      else deps.report?.({ code: 'REVOCATION_REFUSED', id: r.grantId, message: r.message });
    }
    if (over.size > 0) await forgetRefused(over);
  };
  return {
    unkept,
    keptRevocations,
    revokedHere,
    revocationPending,
    notConnected,
    refusedForGood,
    keepRevocation,
    dropRevocation,
    deliver,
    sendKept,
    forgetRefused,
    refusedStill,
    revokedElsewhere,
  };
};
