/**
 * The device's audit trail: what it appends, and the patient's views over the whole log. Behaviour for
 * callers: the TSDoc of `createAuditLog` (`npm run docs` → docs/reference). This module only composes the parts:
 *
 * | module | responsibility |
 * | ------ | -------------- |
 * | types.ts | what callers pass and get |
 * | context.ts | the session state every part is given explicitly |
 * | stored.ts, meta-keys.ts | device meta keys, their schemas and names |
 * | append.ts | building and queueing an entry |
 * | noted.ts | record writes coalesced into entries, mirrored across a crash |
 * | outbox.ts | pushing, refusals, backoff, give-up |
 * | continuation.ts | re-signing after the server's chain end or a restore |
 * | kept.ts | entries sent again to a restored server; state dropped when access ends |
 * | served-log.ts | reading the served log, waiting for the connection |
 * | check.ts, seen.ts | verifying a served log; how far each chain verified (SEEN) |
 * | views.ts, view-cache.ts, view-store.ts, view-state.ts | reading for the views past the view cache |
 * | view-offline.ts, view-lists.ts, recorded.ts | answers offline; what the views list; `recorded` |
 *
 * Invariants that span the parts:
 * - Nothing is signed or opened once the account is locked (`assertUnlocked`); rows already queued are
 *   still sent as they are, except while the own-restore check may re-sign them.
 * - Outbox, chain positions, KEPT and other patients' SEEN are written one step at a time (`serial`).
 * - At every (re)connection: noted changes appended (when unlocked), then the outbox flushed.
 */
import type { AuditVerification } from './audit-chain';
import { append, appendAll } from './append';
import { createAuditCore } from './context';
import { accessEnded, createKeptState } from './kept';
import {
  appendNoted,
  closeNoted,
  createNotedState,
  flushChanges,
  noteRecordChange,
  resumeNoted,
  stopTimer,
} from './noted';
import { flush, undelivered } from './outbox';
import { recorded } from './recorded';
import { fetchAll } from './served-log';
import { AUDIT_STATE } from './stored-state';
import { OWN, outboxNow } from './stored';
import type {
  AccessRecord,
  AuditEntryDetail,
  AuditLogDeps,
  AuditViewAnswer,
  AuditViewOptions,
  ConsentLookup,
  ConsentRecorded,
  Disclosure,
  OpenedEntry,
  RecordChange,
  UndeliveredChain,
} from './types';
import { accessesOf, disclosuresOf } from './view-lists';
import { viewAnswer } from './view-offline';
import { createViewState } from './view-state';
import { read, wholeCheck } from './views';

export type {
  AccessRecord,
  AuditEntryDetail,
  AuditLogDeps,
  AuditViewAnswer,
  AuditViewOptions,
  ConsentLookup,
  ConsentRecorded,
  Disclosure,
  EntrySource,
  OpenedEntry,
  RecordChange,
  UndeliveredChain,
} from './types';
export { UNREADABLE_ENTRY_ACTION, UNREADABLE_ENTRY_MEANING } from './types';
export { DEVICE_NAMED_ACTION } from './view-lists';
export { patientKeyName } from './meta-keys';
export { VIEW_WAIT_MS } from './served-log';

/**
 * The patient's audit log over a device session (`session.audit`).
 * - `verify()` reads and verifies the whole stream (see `AuditVerification`).
 * - `whoAccessed()`, `disclosures()` and `entries()` read only what is new past the entries verified before,
 *   wait for the connection at most `VIEW_WAIT_MS`, and answer offline with `{ offline: 'cached' }`.
 * - An entry of a grantee whose content does not open is named (`UNREADABLE_ENTRY_ACTION`,
 *   `UNREADABLE_ENTRY_MEANING`) without breaking the chain.
 * - `acceptLosses()` records that the person accepted a reported loss (a server restored from a backup).
 *
 * @throws `AuditError` (`AUDIT_ERROR_CODES`); after a lock every call rejects `LOCKED`.
 */
export const createAuditLog = (deps: AuditLogDeps) => {
  const core = createAuditCore(deps);
  const kept = createKeptState();
  const view = createViewState();
  const noted = createNotedState(core);
  const log = { core, kept, view, noted };

  const entries = async (): Promise<OpenedEntry[]> => (await read(log)).opened;

  // One name per view: without options as before (waits for the connection); `{ offline: 'cached' }`
  // answers `AuditViewAnswer`, offline too.
  function entriesView(): Promise<OpenedEntry[]>;
  function entriesView(options: AuditViewOptions): Promise<AuditViewAnswer<OpenedEntry[]>>;
  function entriesView(options?: AuditViewOptions): Promise<OpenedEntry[] | AuditViewAnswer<OpenedEntry[]>> {
    return options?.offline === 'cached' ? viewAnswer(log, (list) => [...list]) : entries();
  }
  function whoAccessed(): Promise<AccessRecord[]>;
  function whoAccessed(options: AuditViewOptions): Promise<AuditViewAnswer<AccessRecord[]>>;
  async function whoAccessed(
    options?: AuditViewOptions,
  ): Promise<AccessRecord[] | AuditViewAnswer<AccessRecord[]>> {
    return options?.offline === 'cached' ? viewAnswer(log, accessesOf) : accessesOf(await entries());
  }
  function disclosures(): Promise<Disclosure[]>;
  function disclosures(options: AuditViewOptions): Promise<AuditViewAnswer<Disclosure[]>>;
  async function disclosures(
    options?: AuditViewOptions,
  ): Promise<Disclosure[] | AuditViewAnswer<Disclosure[]>> {
    const make = (list: readonly OpenedEntry[]): Promise<Disclosure[]> => disclosuresOf(core, list);
    return options?.offline === 'cached' ? viewAnswer(log, make) : make(await entries());
  }

  return {
    /**
     * Appends one entry (`id`: its id, chosen before). This device's sign-in entry in its account's own log
     * is appended once: asked again while one is still in the outbox, that one is answered.
     */
    append: (patientId: string, body: AuditEntryDetail, id?: string) => append(core, patientId, body, id),
    /**
     * Appends an entry to each patient's log named, one after another; every wrapping key is had first, so
     * a patient whose key cannot be had (offline, say) fails the call before anything is signed. A later
     * failure (storage) leaves the entries appended before it.
     */
    appendAll: (items: readonly { readonly patientId: string; readonly detail: AuditEntryDetail }[]) =>
      appendAll(core, items),
    /**
     * Pushes the outbox (after the checks a restored server calls for); answers how many entries the
     * server acknowledged.
     * - 0 at once when the connection is not ready; flushes run one at a time.
     */
    flush: (): Promise<number> => flush(log),
    /**
     * Access to every record stream of `patientId` ended (its grants ended or were revoked, and the streams
     * were purged): what this device kept of its entries in that patient's log to send again after a
     * restore of the server is removed (an entry still in the outbox excepted), with how far it verified
     * that log; its chain position stays, as a new grant continues the chain. Never throws: a failure is
     * reported in `issues` (AUDIT_KEPT_NOT_REMOVED). Called again for the same patient (once per purged
     * stream), it reads nothing unless something was kept for that patient since.
     */
    accessEnded: (patientId: string): Promise<void> => accessEnded(log, patientId),
    /**
     * Notes a record write; coalesced into one entry per short burst. Resolves once the change is kept on
     * disk (NOTED saved with it, or its entry queued): the records API resolves a write only then, so a
     * crash after a write resolved never loses its change. Never rejects: the record is written already,
     * and a caller told the write failed would write it again; a save that fails is reported
     * (AUDIT_NOT_KEPT) and the change stays noted in memory, appended within 200 ms as before.
     */
    noteRecordChange: (patientId: string, change: RecordChange): Promise<void> =>
      noteRecordChange(log, patientId, change),
    /**
     * Appends the noted record changes now (not after their short burst), then flushes the outbox.
     * - A failed flush is not thrown: the entries stay in the outbox.
     */
    flushChanges: (): Promise<void> => flushChanges(log),
    /**
     * At every (re)connection, with the store's incarnation its `ready` announced: changes noted and in no
     * entry yet (left by an offline close whose append failed, or a resume that failed) are appended when
     * there are any and the account is not locked, then the outbox is flushed (checking this device's own
     * chain first when the incarnation changed). Never throws.
     */
    async connected(incarnation?: string): Promise<void> {
      core.served = incarnation;
      // The directory reloads its lists at a reconnect: authors it could not answer for are asked again.
      view.unjudgedUntil.clear();
      let unlocked = true;
      try {
        deps.assertUnlocked?.();
      } catch {
        unlocked = false;
      }
      if (unlocked && noted.pending.length > 0) {
        stopTimer(noted);
        // What fails stays noted (and mirrored): appended with the next note, at close or next start.
        await appendNoted(log).catch(() => undefined);
      }
      await flush(log).catch(() => 0);
    },
    /** How many entries the outbox holds, not yet acknowledged by the server. */
    pendingCount: async (): Promise<number> => (await outboxNow(deps.meta)).length,
    /** Problems the audit log reported, as messages, newest last; at most MAX_ISSUES (a copy). */
    issues: (): string[] => [...core.issues],
    /** Chains held back after a refusal: their entries are not in the patient's log yet. */
    undelivered: (): Promise<UndeliveredChain[]> => undelivered(log),
    /**
     * The patient's whole audit stream as served, verified: every author's chain must reach the position
     * this device verified before (and hold the same entry there), this device's own also the position
     * the server acknowledged (entries still in the outbox are not expected).
     */
    verify: (patientId = deps.accountId): Promise<AuditVerification> => wholeCheck(log, patientId, false),
    /**
     * After the person was told that a patient's log lost entries (`deleted` problems: typically the
     * server's operator restored it from a backup, docs/operations.md) and accepted it: later checks hold
     * every chain to what is served now instead of reporting that loss again. Returns the check made
     * now, whose problems are those of the log as served, without the accepted loss; a later cut is
     * reported again. This device's own chain is still held to what the server acknowledged of it: only
     * positions lost with an announced restore (its chain continued from the served end) stop being
     * reported.
     */
    acceptLosses: (patientId = deps.accountId): Promise<AuditVerification> =>
      wholeCheck(log, patientId, true),
    /**
     * The patient's whole audit stream as served, unverified (`verify` checks it).
     * - Waits for the connection as its requests do.
     * @throws AuditError AUDIT_NOT_READABLE when the server denies the stream; SyncError as a request
     * fails.
     */
    fetchAll: (patientId: string) => fetchAll(core, patientId),
    /**
     * Entries of the patient's log that verify, opened (only the patient can open them). Problems met on
     * the way are reported in `issues` (AUDIT_LOG_PROBLEMS), as for the views below. With `{ offline:
     * 'cached' }`, answered offline too (`AuditViewAnswer`, view-offline.ts).
     */
    entries: entriesView,
    /**
     * "Who saw my records": accesses the server logged, and entries grantees' devices wrote (their own
     * claims, marked `grantee`). The patient's own devices are not listed. Each names its actor's device
     * by the newest name that device gave itself in the log (`actorDeviceName`). With `{ offline: 'cached' }`,
     * answered offline too (`AuditViewAnswer`, view-offline.ts).
     */
    whoAccessed,
    /**
     * Accounting of disclosures: per grant the patient's own devices recorded (once per grant id), when
     * (the grant's signed times where this device holds it), to whom, which record types, why, whether
     * and when it was revoked, and how often the server served the recipient. With `{ offline: 'cached' }`,
     * answered offline too (`AuditViewAnswer`, view-offline.ts).
     */
    disclosures,
    /**
     * Which grants of `lookup` have a `consent-grant` entry, and which a `consent-revoke` entry, by one of
     * the patient's devices (recorded.ts): both kinds with one read of the served log at most. Throws
     * when the served log is needed and cannot be read (offline, locked), or, AuditError
     * AUDIT_LOOKUP_UNVERIFIED, when one not found may be an entry that cannot be checked now (an author's
     * device list did not load, and the entry says it is that one).
     */
    recorded: (lookup: ConsentLookup): Promise<ConsentRecorded> => recorded(log, lookup),
    /** What this device itself recorded (a provider's log of its own actions). */
    async ownActions() {
      return (await deps.meta.get(OWN, AUDIT_STATE.auditOwn)) ?? [];
    },
    /** Stops the timer of the pending append of noted changes (they stay noted for `close`). */
    stop(): void {
      stopTimer(noted);
    },
    /**
     * Before the session closes its database: the changes noted and not yet in an entry are appended (into
     * the outbox; pushed at the next connect), or, when that fails (a locked account signs nothing), kept
     * in device meta (the mirror) for `resumeNoted`. Never throws: a close must not fail over the audit
     * trail.
     */
    close: (): Promise<void> => closeNoted(log),
    /**
     * At a session's start: appends the changes the device meta mirror holds, noted by an earlier session and in no entry
     * yet (kept at its close, or left by a crash). The mirror is saved after, so what is appended leaves
     * it; on a failure the rest stay noted (appended with the next changes noted, at close or at the next
     * start), and the failure is listed in `issues`. Never throws.
     */
    resumeNoted: (): Promise<void> => resumeNoted(log),
  };
};

/** The audit log of a device session: what `createAuditLog` answers. */
export type AuditLog = ReturnType<typeof createAuditLog>;
