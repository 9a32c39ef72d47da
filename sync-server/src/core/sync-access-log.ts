/*
 * The server's log of grantees' access: access events, sealed to the patient and hash-chained per
 * (server, patient) in `${patientId}/audit`, written with what they log; and the last steps of a read
 * (`decideAndLog`).
 *
 * Invariants:
 * - Logged before it takes effect: if the events cannot be written, nothing is served or stored.
 * - Pulls and key fetches answer after their events commit; pushes commit rows and events in one batch.
 * - Uploads and blob deletions commit with their event (`loggedWrite`, `loggedRepeatableWrite`).
 * - A read decides again once read (`decideAndLog`) and in the logging transaction (`accessGuard`).
 * - A stream refused at either is neither logged nor handed out: no answer holds a row after a revocation.
 * - A pulled stream whose page is empty is not decided again; the hub's pages use the same guard.
 * - Repeated access is logged in windows (access-windows.ts): at most two entries per window.
 * - The chain's head is stored nowhere: each append continues from `store.docs.auditChainEnd`.
 * - Only the server writes entries under its own id; the store holds each position once per author.
 * - Appends to one patient's chain are serialised in this process (`lockChains`).
 * - A position taken by another process is chained again, up to CHAIN_ATTEMPTS times; never a fork.
 *
 * Failure modes: an access that cannot be logged throws: UNAVAILABLE (or the store's code) when the store
 * fails, INTERNAL naming the cause when stored state is damaged or the chain kept moving; nothing is served
 * or stored then.
 */
import { newId } from '@hale/model';
import { auditSignaturePayload, isStreamId, parseStreamId, type AccessEventBody } from '@hale/protocol';
import { base64urlDecode, base64urlEncode, canonicalBytes, hexEncode, sealTo, sha256 } from '@hale/crypto';
import type { AccessEntries, AccessGuard, DocWrite, DocWriteResult, IsoTime } from '../store/index';
import { isStoreError } from '../store/index';
import { createAccessWindows, type RepeatableAccess, type WriteGuard } from './access-windows';
import { ServiceError } from './service-error';
import {
  decideAccess,
  patientToExplain,
  type AccessDecision,
  type Operation,
  type Principal,
} from './access';
import { keyedLocks } from './keyed-locks';
import { auditEntryHash, chainAfter, signPayload } from './sync-signing';
import { AccessEnded, type Consent } from './sync-consent';
import type { AccessEvent, SyncContext } from './sync-context';

/**
 * Attempts of one access log write whose chain position another process took meanwhile (each reads the
 * chain end again), and the longest pause before the n-th retry (random up to n × this, in ms): a node's
 * appends are serial, so each retry loses only to appends that committed since its read.
 */
const CHAIN_ATTEMPTS = 8;
const CHAIN_RETRY_MS = 10;

/** A store write of a grantee's blob access, taking the guard and the access entries that log it. */
export type LoggedBlobWrite<T> = (guard: AccessGuard, entries?: AccessEntries) => Promise<T>;

export const createAccessLog = (
  { deps, store, now, ed, iso }: SyncContext,
  { grantsFor, accessGuard, refusalsOf, guarded, consentErrorOf }: Consent,
) => {
  const seal = deps.sealTo ?? sealTo;
  /** Waits for exclusive use of the patients' chains; returns the release. */
  const lockChains = keyedLocks();

  /** Signed, sealed entries continuing the server's chain for `patientId`; the caller holds its lock. */
  const accessEntries = async (
    p: Principal,
    patientId: string,
    events: AccessEvent[],
  ): Promise<DocWrite[]> => {
    // Grants exist only between existing accounts, so a missing account or key is damaged state: fail
    // rather than let the access go unlogged.
    const account = await store.accounts.get(patientId);
    if (!account) throw new ServiceError('INTERNAL', `cannot log access: patient ${patientId} not found`);
    const wrapping = base64urlDecode(account.wrappingPublicKey);
    if (!wrapping.ok || wrapping.value.length !== 32) {
      throw new ServiceError(
        'INTERNAL',
        `cannot log access: the stored wrapping key of ${patientId} is damaged`,
      );
    }
    const stream = `${patientId}/audit`;
    let chain = chainAfter(await store.docs.auditChainEnd(stream, deps.server.serverId));
    const rows: DocWrite[] = [];
    for (const event of events) {
      const at = iso();
      // writeLogged refused anything else; this narrows the type.
      const accessed = event.stream;
      if (!isStreamId(accessed)) {
        throw new ServiceError('INTERNAL', `cannot log access: ${JSON.stringify(accessed)} is no stream id`);
      }
      // The shape devices check on opening (@hale/protocol AccessEventBody).
      const body: AccessEventBody = {
        kind: 'AccessEvent',
        action: event.action,
        actorId: p.accountId,
        actorDeviceId: p.deviceId,
        stream: accessed,
        count: event.count,
        ...(event.blobId === undefined ? {} : { blobId: event.blobId }),
        at,
      };
      const ct = seal(wrapping.value, canonicalBytes(body));
      const doc = {
        stream,
        id: newId(now),
        rev: `1-${hexEncode(sha256(ct)).slice(0, 24)}`,
        deleted: false,
        epoch: 0,
        ct: base64urlEncode(ct),
        author: deps.server.serverId,
        audit: { authorSeq: chain.seq + 1, prevHash: chain.hash, at },
      };
      const payload = auditSignaturePayload(doc as Parameters<typeof auditSignaturePayload>[0]);
      const sig = await signPayload(ed, deps.server.secretKey, payload);
      chain = { seq: chain.seq + 1, hash: auditEntryHash(payload, sig) };
      rows.push({ doc: { ...doc, ct, size: ct.byteLength, sig }, assumedRev: null });
    }
    return rows;
  };

  /**
   * Blob writes to commit in the transaction of the access entries that log them, by the guard that
   * write carries (`withWrite`): how a caller reaches, through access-windows.ts `record`, the one write
   * of its entries. `writeLogged` hands such a write the entries and the guard (`store.blobs.putChunk` and
   * `delete` take both) instead of writing the entries alone.
   */
  const alongside = new WeakMap<AccessGuard, (entries: AccessEntries, guard: AccessGuard) => Promise<void>>();

  /**
   * Writes `rows` (possibly none) and the server's entries for `events` on other patients' streams as
   * one batch, so both commit or neither; answers the results of `rows`. `maxMasterBytes` bounds the
   * stored versions its conflicts answer (`store.docs.writeDocs`: over it, nothing commits). When the
   * guard `guardOf` makes carries a blob write (`alongside`; `rows` is then empty), the entries are
   * written in that write's transaction instead.
   */
  const writeLogged = async (
    p: Principal,
    rows: DocWrite[],
    events: AccessEvent[],
    at: IsoTime,
    maxMasterBytes?: number,
    /** Called just before the write, in the same synchronous step: the guard the write carries. */
    guardOf: () => AccessGuard | undefined = () => undefined,
  ): Promise<DocWriteResult[]> => {
    const byPatient = new Map<string, AccessEvent[]>();
    for (const e of events) {
      const parsed = parseStreamId(e.stream);
      // Streams reach here only through an access decision: one that is no stream id is damaged state, and
      // failing beats letting the access go unlogged.
      if (!parsed.ok) {
        throw new ServiceError('INTERNAL', `cannot log access: ${JSON.stringify(e.stream)} is no stream id`);
      }
      if (parsed.value.patientId === p.accountId) continue;
      const list = byPatient.get(parsed.value.patientId) ?? [];
      list.push(e);
      byPatient.set(parsed.value.patientId, list);
    }
    if (byPatient.size === 0) {
      return rows.length === 0 ? [] : store.docs.writeDocs(rows, at, maxMasterBytes, guardOf());
    }
    const release = await lockChains([...byPatient.keys()]);
    try {
      // The lock keeps this process's appends in line; another process (a node sharing the store) may
      // take the position read: then nothing was written, and the entries are chained anew after it.
      for (let attempt = 1; ; attempt++) {
        const written = await writeLoggedOnce(byPatient, p, rows, at, maxMasterBytes, guardOf);
        if (written !== 'chain-moved') return written;
        if (attempt >= CHAIN_ATTEMPTS) throw new ServiceError('INTERNAL', 'an access event was not stored');
        await new Promise((resolve) => setTimeout(resolve, Math.random() * CHAIN_RETRY_MS * attempt));
      }
    } finally {
      release();
    }
  };

  /** One attempt of `writeLogged`'s locked step; 'chain-moved' when another process took a position. */
  const writeLoggedOnce = async (
    byPatient: Map<string, AccessEvent[]>,
    p: Principal,
    rows: DocWrite[],
    at: IsoTime,
    maxMasterBytes: number | undefined,
    guardOf: () => AccessGuard | undefined,
  ): Promise<DocWriteResult[] | 'chain-moved'> => {
    const entries: DocWrite[] = [];
    for (const [patientId, list] of byPatient) entries.push(...(await accessEntries(p, patientId, list)));
    const guard = guardOf();
    const write = guard === undefined ? undefined : alongside.get(guard);
    if (write !== undefined && guard !== undefined && rows.length === 0) {
      try {
        await write({ rows: entries, now: at }, guard);
      } catch (error) {
        // The store's refusal of an entry (a chain position another process took): nothing written.
        if (isStoreError(error, 'CONFLICT')) return 'chain-moved';
        throw error;
      }
      return [];
    }
    const results = await store.docs.writeDocs([...rows, ...entries], at, maxMasterBytes, guard);
    const answered = results.slice(0, rows.length);
    // Nothing of the batch was written, these entries neither: the caller drops the refused rows and
    // writes the others again, with entries chained anew.
    // (A group written in part, `groupRefusal`, answers `not-written` for every other row: the same.)
    if (answered.some((r) => r.status === 'position-taken' || r.status === 'not-written')) return answered;
    const logged = results.slice(rows.length);
    // New random ids continuing the server's chain from its stored end: a position taken means another
    // process appended to the chain (nothing of the batch written); anything else, nothing was logged.
    if (logged.some((r) => r.status === 'position-taken')) return 'chain-moved';
    if (logged.some((r) => r.status !== 'ok')) {
      throw new ServiceError('INTERNAL', 'an access event was not stored');
    }
    return answered;
  };

  /**
   * Logs a provider's (or other grantee's) access to patients' streams; own streams are not logged. With
   * `guardOf`, its guard decides again inside the log's transaction (a refusal logs nothing).
   */
  const recordGranteeAccess = async (
    p: Principal,
    events: AccessEvent[],
    guardOf?: () => AccessGuard | undefined,
  ): Promise<void> => {
    await writeLogged(p, [], events, iso(), undefined, guardOf);
  };

  /**
   * Logs access a device may repeat (pulls, key fetches, blob transfers) in windows (access-windows.ts):
   * the access that opens a window is committed before this resolves, repeats inside it are tallied.
   * Own streams are not logged.
   */
  const accessWindows = createAccessWindows({
    now,
    windowMs: deps.accessWindowMs ?? 60_000,
    write: (p, events, guardOf) => recordGranteeAccess(p, events, guardOf),
    ...(deps.onAccessLogError ? { onError: deps.onAccessLogError } : {}),
  });
  const recordRepeatableAccess = async (
    p: Principal,
    events: RepeatableAccess[],
    guardOf?: WriteGuard,
  ): Promise<void> => {
    const logged = events.filter((e) => patientToExplain(p, e.stream) !== null);
    if (logged.length > 0) await accessWindows.record(p, logged, guardOf);
  };
  /** The repeatable access event of `decision`, a grant to a grantee. */
  const repeatable = (
    action: RepeatableAccess['action'],
    stream: string,
    count: number,
    decision: AccessDecision,
  ): RepeatableAccess => {
    const grantId = decision.ok ? decision.grant?.grantId : undefined;
    return grantId === undefined ? { action, stream, count } : { action, stream, count, grantId };
  };

  /**
   * The write guard (access-windows.ts WriteGuard) of `op` whose guards carry `write` (`alongside`): the
   * entries of the write it guards commit in `write`'s transaction, and `box` holds what `write` answered.
   */
  const withWrite =
    <T>(p: Principal, op: Operation, write: LoggedBlobWrite<T>, box: { result?: { value: T } }): WriteGuard =>
    (streams) => {
      const guard = accessGuard(p, streams, op);
      alongside.set(guard, async (entries, carried) => {
        box.result = { value: await write(carried, entries) };
      });
      return guard;
    };

  /**
   * Runs `write`, a grantee's blob write of `op` on `event.stream` that happens once (a deletion), with the
   * server's entry for `event` in the same store transaction, whose guard (`accessGuard`) decides access
   * once more: both commit or neither, so the patient's log holds the entry exactly when the store holds
   * the write. The patient's own stream is not logged (`guarded`). Throws as `guarded` does; an entry that
   * cannot be written (store failure, damaged patient key) throws as `writeLogged` does, nothing written.
   */
  const loggedWrite = async <T>(
    p: Principal,
    op: Operation,
    event: AccessEvent,
    write: LoggedBlobWrite<T>,
  ): Promise<T> => {
    const { stream } = event;
    if (patientToExplain(p, stream) === null) return guarded(p, stream, op, (guard) => write(guard));
    const box: { result?: { value: T } } = {};
    const guardOf = withWrite(p, op, write, box);
    try {
      await writeLogged(p, [], [event], iso(), undefined, () => guardOf([stream]));
    } catch (error) {
      throw await consentErrorOf(p, stream, error);
    }
    if (box.result === undefined) throw new ServiceError('INTERNAL', 'the logged write was not made');
    return box.result.value;
  };

  /** Serialises, per window key, `loggedRepeatableWrite`s that may open a window (see there). */
  const lockWindowOpening = keyedLocks();

  /**
   * As `loggedWrite`, for a blob write a device repeats (a chunk upload), logged in windows
   * (access-windows.ts). The write that opens a window is that window's opening write: it commits in the
   * transaction of the window's entry (and of the tally of the window it ends). A repeat inside an open
   * window is written alone, decided again in its own transaction (`guarded`), and counted into the
   * window only once it committed (`isOpen`, then `count`), so no tally counts a write the store refused.
   * Calls that may open a window of one key are serialised in this process, so `record` never finds an
   * opening in flight, which would count the access before its write.
   */
  const loggedRepeatableWrite = async <T>(
    p: Principal,
    op: Operation,
    event: RepeatableAccess,
    write: LoggedBlobWrite<T>,
  ): Promise<T> => {
    const { stream } = event;
    if (patientToExplain(p, stream) === null) return guarded(p, stream, op, (guard) => write(guard));
    const box: { result?: { value: T } } = {};
    let open = false;
    const release = await lockWindowOpening([
      JSON.stringify([p.deviceId, event.action, stream, event.grantId ?? null, event.channel ?? null]),
    ]);
    try {
      open = accessWindows.isOpen(p, event);
      if (!open) await accessWindows.record(p, [event], withWrite(p, op, write, box));
    } catch (error) {
      throw await consentErrorOf(p, stream, error);
    } finally {
      release();
    }
    if (box.result !== undefined) return box.result.value;
    const value = await guarded(p, stream, op, (guard) => write(guard));
    // Not open: `record` counted it into a window after all (not expected under the lock), and wrote nothing.
    if (open) accessWindows.count(p, event);
    return value;
  };

  /**
   * The last steps of a read (a pull, a key fetch, a chunk download) once what it hands out is read:
   * `op` on the grantee streams of `streams` is decided again at the clock's time now, from their
   * patients' grants read again (one indexed read; none when all are `p`'s own), then `events` of the
   * streams still allowed are logged (access-windows.ts `record`), each write with the guard that decides
   * the streams it logs once more inside its transaction (`accessGuard`); a refusal there logs nothing of
   * that write, which is written again without the refused streams (their windows end, so repeats served
   * earlier are still tallied). Answers the streams refused at either, each with its consent error
   * (CONSENT_REVOKED, CONSENT_EXPIRED, NO_CONSENT, FORBIDDEN): nothing of them is logged and the caller
   * hands out nothing of them; what it hands out of the others is what the committed log covers. A
   * repeat inside an open window writes nothing: the decision here is its last.
   */
  const decideAndLog = async (
    p: Principal,
    op: Operation,
    streams: readonly string[],
    events: readonly RepeatableAccess[],
  ): Promise<Map<string, ServiceError>> => {
    const granted = [...new Set(streams)].filter((stream) => patientToExplain(p, stream) !== null);
    if (granted.length === 0) return new Map();
    const grants = await grantsFor(p, granted);
    const t = now();
    const decisions = new Map<string, AccessDecision>();
    for (const stream of granted) {
      const decision = decideAccess(p, stream, op, grants, t);
      if (!decision.ok) decisions.set(stream, decision);
    }
    const refused = await refusalsOf(p, decisions, t);
    for (;;) {
      const logged = events.filter((e) => !refused.has(e.stream));
      try {
        // Each write's guard decides the streams that write logs (access-windows.ts WriteGuard).
        await recordRepeatableAccess(p, logged, (written) => accessGuard(p, written, op));
        return refused;
      } catch (error) {
        if (!(error instanceof AccessEnded)) throw error;
        // Nothing of that write was logged, nor counted. Each round refuses at least one stream more.
        const more = await refusalsOf(p, error.refused);
        if (more.size === 0) throw error;
        // Their windows end: repeats counted in them before were served, and their tally is written now.
        for (const e of logged) if (more.has(e.stream)) accessWindows.end(p, e);
        for (const [stream, refusal] of more) refused.set(stream, refusal);
      }
    }
  };

  return {
    writeLogged,
    recordGranteeAccess,
    recordRepeatableAccess,
    repeatable,
    loggedWrite,
    loggedRepeatableWrite,
    decideAndLog,
    accessWindows,
  };
};

export type AccessLog = ReturnType<typeof createAccessLog>;
