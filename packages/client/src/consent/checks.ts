/**
 * The checks between connects: the expiry timer, the grant-list refresh, the resend of kept revocations
 * after a backoff, and the reading of the list for `writeSpans(…, fresh)`.
 *
 * Invariants:
 * - Those checks between connects run on timers that are unref'd (no process is kept alive), set for at
 *   most 2^31-1 ms (a later expiry re-arms), do nothing offline, and end at `stop` (the session's close, or
 *   the lock it notices) or once `usable` answers false. A provider account (the server lets any account
 *   grant its own streams) runs them as a patient does: so a grant made on another of its devices is
 *   learnt, and shut out at its end, within `grantRefreshMs` too.
 */
import type { ConsentCore } from './consent-core';
import {
  type StoredGrant,
  GRANT_REFRESH_MS,
  EXPIRY_SLACK_MS,
  MAX_TIMER_MS,
  REVOCATION_RETRY_MS,
  WRITE_SPANS_REFRESH_MS,
} from './consent-types';
import { grantEnded } from './grant-lists';
import type { Checks } from './consent-parts';

export const createChecks = (c: ConsentCore): Checks => {
  const { deps } = c;
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
    void c.rekey.settle(c.rekey.background).catch(() => undefined);
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
        void c.copy
          .localGrants()
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
        if ((await c.kept.sendKept()) === undefined) return;
        checkNow();
        c.recording.recordNow();
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
  /** The copy of the grants changed (or was first read): re-arms the expiry timer, starts the refresh. */
  const grantsChanged = (stored: readonly StoredGrant[]): void => {
    if (stopped) return;
    armExpiry(stored);
    startRefresh();
  };
  /**
   * Reads the server's grant list into the copy: the list, and whether it brought a standing grant the
   * copy lacked (`learnt`: a grant made on another device that stopped before publishing its envelopes
   * leaves the grantee keyless until some check wraps them, so the caller runs this device's check, not
   * only its next connect).
   */
  const readListed = async (): Promise<{ stored: StoredGrant[]; at: number; learnt: boolean }> => {
    const known = await c.copy.localGrants();
    // Merged into the copy (which re-arms the expiry timer when it changed); the local copy if the
    // listing fails.
    const stored = await c.copy.grants();
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
        await c.kept.sendKept();
        const read = await readListed();
        if (read.learnt || endedUnrotated(read.stored, read.at)) checkNow();
        c.recording.recordNow();
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
        if (read.learnt) checkNow();
      })
      .catch(() => undefined)
      .finally(() => {
        spansReading = null;
      });
    spansReading = run;
    return run;
  };
  /** A kept revocation was taken: the next failure's backoff starts over. */
  const resendSucceeded = (): void => {
    resendAttempts = 0;
  };
  /** A new connection: the backoff starts over, and a resend armed before it (maybe far off) goes. */
  const resendOver = (): void => {
    resendAttempts = 0;
    if (resendTimer !== undefined) clearTimeout(resendTimer);
    resendTimer = undefined;
  };
  return {
    live,
    stop,
    checkNow,
    armResend,
    resendSucceeded,
    resendOver,
    startRefresh,
    grantsChanged,
    readForWriteSpans,
  };
};
