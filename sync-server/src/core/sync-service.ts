/**
 * Transport-independent sync operations: the WebSocket plugin (and tests) call these with an
 * authenticated principal and an already schema-validated request. This module assembles them from
 * modules that are each given the SyncContext (sync-context.ts) and what they use of the others:
 *
 * | module | operations |
 * | --- | --- |
 * | sync-consent.ts | access decisions, refusals, access guards (`check`, `guarded`, `accessGuard`, …) |
 * | sync-access-log.ts | the server's hash-chained access log, logged writes, `decideAndLog` |
 * | denied-access.ts | `denied` entries for consent refusals (`noteDenied`; the wrappers below hand them) |
 * | sync-streams.ts | `listStreamsPage` |
 * | sync-pull.ts, sync-push.ts | `pull`, `push` |
 * | sync-grants.ts, sync-grant-lists.ts | `grant`, `revoke`, `acceptPatient`, `listAccepted`; `listGrantsPage` |
 * | sync-envelopes.ts | `putEnvelopes`, `getEnvelopes`, `listKeyHolders` |
 * | heads.ts | signed stream heads (`putHead`, `getHead`) |
 * | sync-signing.ts | served documents, payload signatures, audit chain links |
 *
 * Invariants:
 * - Every operation on a stream passes `decideAccess` at the moment it runs (clock injected); pulls and
 *   envelope fetches filter per stream, pushes per row. Nothing is served or stored otherwise.
 * - Each consent refusal a caller is answered goes to `denied` once decided (denied-access.ts).
 *
 * Failure modes: request-level problems throw `ServiceError` (typed code, nothing changed); row-level
 * problems come back as `{ status: 'error', code }` rows beside accepted ones. An access that cannot be
 * logged throws: UNAVAILABLE (or the store's code) when the store fails, INTERNAL naming the cause when
 * stored state is damaged, so the operator finds it in the error log.
 */
import { createHeadService } from './heads';
import { grantIsActive } from './access';
import { ServiceError } from './service-error';
import type { SyncContext, SyncServiceDeps } from './sync-context';
import { createConsent } from './sync-consent';
import { createAccessLog } from './sync-access-log';
import { createStreamListing } from './sync-streams';
import { createPull } from './sync-pull';
import { createPush } from './sync-push';
import { createGrants } from './sync-grants';
import { createGrantLists } from './sync-grant-lists';
import { createEnvelopes } from './sync-envelopes';
import { createDeniedAccess } from './denied-access';
import type { Principal, Operation } from './access';
import type { AccessEvent } from './sync-context';
import type { LoggedBlobWrite } from './sync-access-log';
import type { RepeatableAccess } from './access-windows';
import type { AccessGuard } from '../store/index';

export { ServiceError };
export type { AccessEvent, AuthenticatedDevice, ServerIdentity, SyncServiceDeps } from './sync-context';
export { auditEntryHash, signPayload, toServedDoc, verifyPayload } from './sync-signing';
export { isAccessEnded } from './sync-consent';
export { ENVELOPE_MIN_BYTES } from './sync-envelopes';

export const createSyncService = (deps: SyncServiceDeps) => {
  const { store, now, ed } = deps;
  const ctx: SyncContext = { deps, store, now, ed, iso: () => new Date(now()).toISOString() };
  const consent = createConsent(ctx);
  const { check, guarded, accessGuard, grantsFor, grantsFrom, explain, endedLookups } = consent;
  const log = createAccessLog(ctx, consent);
  const { accessWindows } = log;
  const denied = createDeniedAccess({
    store,
    now,
    write: (p, events) => log.recordGranteeAccess(p, events),
    ...(deps.onAccessLogError ? { onError: deps.onAccessLogError } : {}),
  });
  const { accessRows, listStreamsPage } = createStreamListing(ctx);
  const pullOnly = createPull(ctx, consent, log);
  const pushOnly = createPush(ctx, consent, log);
  const { grant, revoke, acceptPatient, listAccepted } = createGrants(ctx, consent, log);
  const { listGrantsPage } = createGrantLists(ctx);
  const { putEnvelopes, listKeyHolders, getEnvelopes } = createEnvelopes(ctx, consent, log, denied.note);

  // The operations below answer consent refusals; each hands them to `denied` before it answers.
  const pull: typeof pullOnly = async (p, frame) => {
    const answer = await pullOnly(p, frame);
    await denied.note(p, answer.denied);
    return answer;
  };
  const push: typeof pushOnly = async (p, frame) => {
    const results = await pushOnly(p, frame);
    await denied.note(
      p,
      results.flatMap((r) => (r.status === 'error' ? [{ stream: r.stream, code: r.code }] : [])),
    );
    return results;
  };
  const noted = async <T>(p: Principal, stream: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      await denied.noteError(p, stream, error);
      throw error;
    }
  };
  const checkNoted: typeof check = async (p, stream, op) => {
    const decision = await check(p, stream, op);
    if (!decision.ok) await denied.note(p, [{ stream, code: decision.code }]);
    return decision;
  };
  const guardedNoted = <T>(
    p: Principal,
    stream: string,
    op: Operation,
    write: (guard: AccessGuard) => Promise<T>,
  ): Promise<T> => noted(p, stream, () => guarded(p, stream, op, write));
  const loggedWrite = <T>(p: Principal, op: Operation, event: AccessEvent, write: LoggedBlobWrite<T>) =>
    noted(p, event.stream, () => log.loggedWrite(p, op, event, write));
  const loggedRepeatableWrite = <T>(
    p: Principal,
    op: Operation,
    event: RepeatableAccess,
    write: LoggedBlobWrite<T>,
  ) => noted(p, event.stream, () => log.loggedRepeatableWrite(p, op, event, write));
  const decideAndLog: typeof log.decideAndLog = async (p, op, streams, events) => {
    const refused = await log.decideAndLog(p, op, streams, events);
    await denied.note(
      p,
      [...refused].map(([stream, error]) => ({ stream, code: error.code })),
    );
    return refused;
  };

  return {
    // Signed stream heads (heads.ts): putHead, getHead, under the pulls' consent check.
    ...createHeadService({ store, ed, check: checkNoted }),
    listStreamsPage,
    listGrantsPage,
    pull,
    push,
    grant,
    revoke,
    putEnvelopes,
    getEnvelopes,
    listKeyHolders,
    acceptPatient,
    listAccepted,
    check: checkNoted,
    guarded: guardedNoted,
    accessGuard,
    decideAndLog,
    /** Logs consent refusals answered elsewhere (the live hub's subscribe): denied-access.ts `note`. */
    noteDenied: denied.note,
    grantsFor,
    grantsFrom,
    accessRows,
    explain,
    endedLookups,
    recordGranteeAccess: log.recordGranteeAccess,
    recordRepeatableAccess: log.recordRepeatableAccess,
    loggedWrite,
    loggedRepeatableWrite,
    repeatable: log.repeatable,
    /** Ends every access window and starts writing its tally (shutdown); `drainAccessLog` waits. */
    stopAccessLog: () => accessWindows.stop(),
    drainAccessLog: () => accessWindows.drain(),
    grantIsActive,
  };
};

export type SyncService = ReturnType<typeof createSyncService>;
