/**
 * The engine's observable state and its issues.
 *
 * Invariants:
 * - Issues never carry record content; every message is cut at MAX_ISSUE_MESSAGE characters, and an
 *   error of RxDB's replication loop is reported by the code and message of the error the handler threw,
 *   never by RxDB's own message (a failed push's holds the whole batch, decrypted).
 * - A retry that fails again replaces its earlier entry (same code, stream, id and message).
 * - At most MAX_ERRORS issues, of which at most MAX_SERVER_ISSUES from `error` frames the server sent
 *   unasked (the oldest of those go first, so a server cannot push out the device's own).
 * - An issue leaves once its condition ended:
 *
 *   | issue | leaves when |
 *   |---|---|
 *   | a failed request of RxDB's loop (`fromLoop`) | a request of the same direction passes (`loopPassed`) |
 *   | SUBSCRIBE_FAILED, QUARANTINE_RETRY_FAILED, RESTORE_RESYNC_FAILED | that task passes (`retryPassed`) |
 *   | a server `error` frame with a `backoff` code | the next connection's `ready` (`reconnected`) |
 *   | any other | its reporter clears it (`clearIssues`) or newer issues push it out |
 */
import { BehaviorSubject } from 'rxjs';
import { errorInfo, isErrorCode } from '@hale/protocol';
import type { EngineCore } from './engine-core';
import type { LoopDirection, SyncIssue, SyncState } from './types';
import type { Issues } from './engine-parts';

const MAX_ERRORS = 50;
/**
 * Issues kept from `error` frames the server sent unasked (their code and words are the server's): the
 * oldest of them go first, so a server sending many cannot push out the issues this device raised.
 */
const MAX_SERVER_ISSUES = 5;
/** Longest issue message kept (characters); longer ones are cut. */
export const MAX_ISSUE_MESSAGE = 500;
/** Records one issue names in `records` (the message gives the whole count). */
export const MAX_ISSUE_RECORDS = 1_000;

/**
 * What an error of RxDB's replication loop says to a person. RxDB's own errors (RC_PUSH, RC_PULL, …)
 * carry their parameters in `message` — for a push, the whole batch with every record's decrypted
 * content — so their message is never used: the code and message of the error the handler threw
 * (`parameters.errors[0]`, a SyncError's as plain JSON) are, or else only RxDB's code.
 */
export const replicationIssue = (error: unknown): { code: string; message: string; loop?: LoopDirection } => {
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const params = (
    typeof e['parameters'] === 'object' && e['parameters'] !== null ? e['parameters'] : {}
  ) as Record<string, unknown>;
  const causes = params['errors'];
  const direction = params['direction'];
  const cause = Array.isArray(causes) ? (causes[0] as Record<string, unknown> | undefined) : undefined;
  const rxCode = text(e['code']);
  if (cause && typeof cause === 'object') {
    const code = text(cause['code']) ?? rxCode ?? 'REPLICATION';
    // A cause that is itself an RxDB error carries its parameters in its message too.
    const message = cause['rxdb'] === true ? undefined : text(cause['message']);
    // A failed handler call (RC_PUSH, RC_PULL) names its direction; RxDB retries the call until it passes.
    const loop = direction === 'push' || direction === 'pull' ? direction : undefined;
    return {
      code,
      message: message ?? `replication failed (${code}); retrying`,
      ...(loop === undefined ? {} : { loop }),
    };
  }
  if (e['rxdb'] === true) {
    return {
      code: rxCode ?? 'REPLICATION',
      message: `replication failed (${rxCode ?? 'unknown'}); retrying`,
    };
  }
  return { code: rxCode ?? 'REPLICATION', message: error instanceof Error ? error.message : String(error) };
};

export const createIssues = (core: EngineCore): Issues => {
  const state$ = new BehaviorSubject<SyncState>({
    status: 'offline',
    pendingWrites: 0,
    pendingUploads: 0,
    lastSyncedAt: null,
    initialSync: { done: 0, total: 0 },
    errors: [],
    quarantined: 0,
    unsent: 0,
    streams: 0,
    passphrase: 'unknown',
  });
  const patch = (p: Partial<SyncState>): void => state$.next({ ...state$.value, ...p });
  /** Issues in the state that came from unasked `error` frames (see MAX_SERVER_ISSUES). */
  const fromServer = new WeakSet<SyncIssue>();
  /**
   * Issues of RxDB's replication loop (its `error$`), by the direction that failed: RxDB retries that
   * request until it passes, and once one of that direction passes (`loopPassed`) the failure has ended,
   * so its issue goes. A person is not told "connection lost" by a device that is caught up.
   */
  const fromLoop = new WeakMap<SyncIssue, LoopDirection>();
  const report = (
    raw: Omit<SyncIssue, 'at'>,
    { server = false, loop }: { server?: boolean; loop?: LoopDirection } = {},
  ): void => {
    // Issues are written for a person and kept in the state: never a record's worth of text.
    const issue =
      raw.message.length > MAX_ISSUE_MESSAGE
        ? { ...raw, message: `${raw.message.slice(0, MAX_ISSUE_MESSAGE - 1)}…` }
        : raw;
    // A retry that fails again replaces its earlier entry, so retries cannot push other issues out.
    const same = (e: SyncIssue): boolean =>
      e.code === issue.code && e.stream === issue.stream && e.id === issue.id && e.message === issue.message;
    const added: SyncIssue = { ...issue, at: core.iso() };
    if (server) fromServer.add(added);
    if (loop !== undefined) fromLoop.set(added, loop);
    let errors = [...state$.value.errors.filter((e) => !same(e)), added];
    const served = errors.filter((e) => fromServer.has(e));
    if (served.length > MAX_SERVER_ISSUES) {
      const dropped = new Set(served.slice(0, served.length - MAX_SERVER_ISSUES));
      errors = errors.filter((e) => !dropped.has(e));
    }
    patch({ errors: errors.slice(-MAX_ERRORS) });
  };
  /** Drops the kept issues `ended` picks (their condition ended); the state is left as is if none. */
  const dropIssues = (ended: (e: SyncIssue) => boolean): void => {
    // Runs for every record a push stored: nothing to copy when nothing is listed.
    if (state$.value.errors.length === 0) return;
    const errors = state$.value.errors.filter((e) => !ended(e));
    if (errors.length !== state$.value.errors.length) patch({ errors });
  };
  /**
   * Drops the kept issues about record or item `id` of `stream` (absent: of none), of `code` (absent: of
   * any), whatever their message: a reporter whose condition ended (a removal that failed, then passed)
   * clears its own issue; the rest stay.
   */
  const clearIssues = (match: { code?: string; stream?: string; id: string }): void =>
    dropIssues(
      (e) =>
        (match.code === undefined || e.code === match.code) && e.id === match.id && e.stream === match.stream,
    );
  /**
   * The retried work behind `code` passed (a subscription, the quarantine's retry, a restore's catch-up):
   * its earlier failures' issues have ended, whatever their message. Only for codes one retried task
   * reports, never per record.
   */
  const retryPassed = (
    code: 'SUBSCRIBE_FAILED' | 'QUARANTINE_RETRY_FAILED' | 'RESTORE_RESYNC_FAILED',
  ): void => dropIssues((e) => e.code === code);
  /**
   * A new connection is ready: what the server said unasked to come back later (a retryable `backoff`
   * code: UNAVAILABLE as it shut down, RATE_LIMITED, TOO_MANY_CONNECTIONS, INTERNAL) was about the
   * connection that ended, and no longer holds.
   */
  const reconnected = (): void =>
    dropIssues((e) => fromServer.has(e) && isErrorCode(e.code) && errorInfo(e.code).action === 'backoff');
  /** A request of `direction` passed: the loop's issues of that direction have ended (see `fromLoop`). */
  const loopPassed = (direction: LoopDirection): void => dropIssues((e) => fromLoop.get(e) === direction);
  return {
    state$,
    patch,
    report,
    dropIssues,
    clearIssues,
    retryPassed,
    reconnected,
    loopPassed,
  };
};
