/**
 * Transport-independent sync operations: the WebSocket plugin (and tests) call these with an
 * authenticated principal and an already schema-validated request. This module assembles them from
 * modules that are each given the SyncContext (sync-context.ts) and what they use of the others:
 *
 * | module | operations |
 * | --- | --- |
 * | sync-consent.ts | access decisions, refusals, access guards (`check`, `guarded`, `accessGuard`, …) |
 * | sync-access-log.ts | the server's hash-chained access log, logged writes, `decideAndLog` |
 * | sync-streams.ts | `listStreams`, `listStreamsPage` |
 * | sync-pull.ts, sync-push.ts | `pull`, `push` |
 * | sync-grants.ts, sync-grant-lists.ts | `grant`, `revoke`, `acceptPatient`, `listAccepted`; `listGrants`, `listGrantsPage` |
 * | sync-envelopes.ts | `putEnvelopes`, `getEnvelopes`, `listKeyHolders` |
 * | heads.ts | signed stream heads (`putHead`, `getHead`) |
 * | sync-signing.ts | served documents, payload signatures, audit chain links |
 *
 * Invariants:
 * - Every operation on a stream passes `decideAccess` at the moment it runs (clock injected); pulls and
 *   envelope fetches filter per stream, pushes per row. Nothing is served or stored otherwise.
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
  const { accessRows, listStreams, listStreamsPage } = createStreamListing(ctx, consent);
  const pull = createPull(ctx, consent, log);
  const push = createPush(ctx, consent, log);
  const { grant, revoke, acceptPatient, listAccepted } = createGrants(ctx, consent, log);
  const { listGrants, listGrantsPage } = createGrantLists(ctx);
  const { putEnvelopes, listKeyHolders, getEnvelopes } = createEnvelopes(ctx, consent, log);

  return {
    // Signed stream heads (heads.ts): putHead, getHead, under the pulls' consent check.
    ...createHeadService({ store, ed, check }),
    listStreams,
    listStreamsPage,
    listGrants,
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
    check,
    guarded,
    accessGuard,
    decideAndLog: log.decideAndLog,
    grantsFor,
    grantsFrom,
    accessRows,
    explain,
    endedLookups,
    recordGranteeAccess: log.recordGranteeAccess,
    recordRepeatableAccess: log.recordRepeatableAccess,
    loggedWrite: log.loggedWrite,
    loggedRepeatableWrite: log.loggedRepeatableWrite,
    repeatable: log.repeatable,
    /** Ends every access window and starts writing its tally (shutdown); `drainAccessLog` waits. */
    stopAccessLog: () => accessWindows.stop(),
    drainAccessLog: () => accessWindows.drain(),
    grantIsActive,
  };
};

export type SyncService = ReturnType<typeof createSyncService>;
