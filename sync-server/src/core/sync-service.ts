/**
 * Transport-independent sync operations: the WebSocket plugin (and tests) call these with an
 * authenticated principal and an already schema-validated request.
 *
 * Invariants:
 * - Every operation on a stream passes `decideAccess` at the moment it runs (clock injected); pulls and
 *   envelope fetches filter per stream, pushes per row. Nothing is served or stored otherwise.
 * - A revocation tells live delivery just before it commits (`onGrantEnding`), and answers only once the
 *   grantee's connections were re-decided (`onGrantsChanged`). A read — a pull, a key fetch, a blob chunk
 *   download (blobs.ts) — decides again once what it hands out is read, in one helper (`decideAndLog`):
 *   the grants of the patients whose streams it hands something of are read again (one indexed read per
 *   request, not per row; none when it hands out nothing of another's stream) and decided at the clock's
 *   time then; and each write that logs its access carries an access guard (`accessGuard`, through
 *   access-windows.ts `record`) that decides the streams that write logs once more inside its transaction.
 *   A stream refused at either is not logged and nothing of it is handed out: a pull lists it in `denied`
 *   with its consent code (CONSENT_REVOKED, CONSENT_EXPIRED, NO_CONSENT) with no documents and no
 *   checkpoint, a key fetch leaves its envelopes out (as it does a stream it may not fetch), a chunk
 *   download is refused with the code. A pulled stream whose page is empty is not decided again: it hands
 *   out nothing to record or withdraw, and its checkpoint (where the stream stands, as of the start's
 *   decision) lets the next pull, which decides anew, skip nothing. A refusal in the log's transaction
 *   logs nothing of that write (and counts no repeat of it), which is written again without the refused
 *   streams (their windows end, so repeats served earlier are still tallied). So a grant revoked (by any
 *   process sharing the store) or ended while a read reads its stream or logs its access hands out nothing
 *   of that stream, no pull answer holds a row committed after a revocation of the grant it is served
 *   under, and the log claims no read that was not answered (a stream whose access is logged is served on
 *   that write's decision: a later write of the same read, for another stream, does not withdraw it). A
 *   repeat inside an open window writes nothing: the decision after the reads is its last, with nothing
 *   awaited after it but an opening write of the same window still in flight. The live hub's pages do the same with the guard it gets from
 *   here (hub.ts). Pushes decide again as below; other requests (a check, listings) decide once, when
 *   they run.
 * - A decision holds at the write or the hand-out, not only at the start: a push hands the store an access
 *   guard (store AccessGuard, `accessGuard`) that decides each grantee stream of the batch again inside
 *   the write's transaction, from the grants unended then (read under the write lock: one indexed read
 *   per batch, none for the patient's own streams) and the clock read just before; a stream refused then
 *   stores nothing of the batch: its rows answer the consent code (row by row, as at the start) and the
 *   others are written again without them and their access events. `guarded` does the same for the blob
 *   routes' writes (`loggedWrite`, `loggedRepeatableWrite` with the entry logging the write, one guard
 *   deciding both). So a revocation committed, or a grant's end passed, while a push checks signatures or
 *   waits on the chain lock, or while an access is logged, stores or hands out nothing of that stream
 *   (access-recheck.test.ts, pull-recheck.test.ts, key-fetch-recheck.test.ts,
 *   blob-download-recheck.test.ts, hub-live-recheck.test.ts).
 * - A write of a device revoked while it is in flight stores nothing: a push's and a blob write's guard
 *   reads the device's registration inside the write's transaction (`accessGuard`); envelopes and grants,
 *   whose store writes take no guard, read it just before the write (`refuseRevokedWriter`, nothing
 *   awaited in between: only a revocation committed in that same turn of the event loop could pass, which
 *   a check inside the store's write would close) (device-revoke-key-write-race.test.ts).
 * - Decisions load only the grants unended at that moment (`store.grants.listUnended`, bounded by the caps),
 *   never the account's ended ones, which any patient can pile onto any account and which give no access.
 *   A request that names its streams (pull, push, a check, a key fetch of named streams) loads only those
 *   from the patients it names (`listUnendedFrom`): a decision on a stream reads the grants of its patient
 *   to the caller and nothing else, so it is the decision the whole list gives.
 *   Ended grants are read only to name a refusal's reason (`explain`: one lookup per patient refused, of
 *   that pair's newest ended grants only) and by `listGrants`: at most one answer's worth, or from
 *   PAGING_VERSION one page per request, read by key (never by offset). Grants between a pair are also
 *   capped per rolling day (ended ones count), so what one account can store onto another grows by at
 *   most that rate.
 * - The server never interprets `ct`. It checks routing facts only: author = the pushing device,
 *   signatures where the protocol requires them (clinical types, grantee-written records, audit entries),
 *   the current key epoch, revision tags that move forward, and audit append-only. The epoch is checked
 *   before the costly checks (to refuse early) and again by the store inside the write's transaction
 *   (`DocWrite.expectedEpoch`), so a rotation stored meanwhile refuses the row STALE_EPOCH: a grantee the
 *   rotation shut out still holds the old key.
 * - A pushed batch commits atomically in the store; a rejected row stores nothing.
 * - A push's answer carries at most PUSHED_MASTER_BYTES of its conflicts' stored versions (`master`; the
 *   first one always), so it fits MAX_FRAME_BYTES, which the device's decoder enforces: an answer it refused
 *   would fail the push for good and RxDB would resend the same batch for ever. The store checks the bound
 *   inside the write's transaction before loading each master; a batch over it throws TOO_LARGE and stores
 *   nothing (not even its rows that would be `ok`, so no row commits unreported), and the device splits it.
 * - Re-pushing a revision that is already stored answers `ok` (idempotent retries). For an audit entry
 *   that holds only when the stored entry is the pushed one exactly (rev, author, signature, header,
 *   ciphertext); anything else written to an existing audit id is APPEND_ONLY.
 * - A provider's access is logged before it takes effect: a pull or key fetch answers only after its
 *   access events committed, a push commits its rows and their access events in one batch, and a chunk
 *   upload or blob deletion commits in the transaction of its access event (`loggedWrite`,
 *   `loggedRepeatableWrite`: a repeated upload inside an open window is counted into it only once its
 *   chunk committed). If the events cannot be written (store failure, a damaged patient key) nothing is
 *   served or stored.
 *   A push's event counts the rows of its stream the push stored: rows the store refuses (a conflict, a
 *   revision stored already) are told apart by reading each counted row's stored revision before the
 *   batch (a record's later row in the push against the revision its earlier row leaves), and a stream
 *   none of whose rows would be stored logs nothing. The count is sealed into the batch, so a write to
 *   the same record committed between that read and the batch moves it: one made the row conflict, and
 *   the event counts it all the same (over by that row, never under); one made it fit, and the store
 *   refuses the batch whole, since each row read as refused is marked so (`expectRefused`: CONFLICT,
 *   nothing stored), and the push counts and writes it again: after MAX_PUSH_RECOUNTS counts in all it
 *   fails UNAVAILABLE with nothing stored (the device sends it again). So no row is stored without an event
 *   committed with it that counts it. The event has no field for refused rows: the push metrics
 *   (`onPush`) count every row by outcome.
 *   Pulls, key fetches and blob transfers a device repeats are logged in windows (access-windows.ts):
 *   the access that opens a window is logged before it is served as above, the repeats of that device
 *   on that stream, action and grant inside the window as one tally when it ends, so a device that
 *   downloads the same things in a loop adds at most two entries per window to the patient's log.
 * - The server's access events form one hash chain per (server, patient) in `${patientId}/audit`, and
 *   its head is not kept anywhere: each append reads the server's stored entry at its highest position in
 *   that stream (`store.docs.auditChainEnd`, the chain end a device's refusal names too) and continues
 *   from it. Why derived, not a head stored beside the entries (even in the same transaction): the
 *   entries are what devices verify, so they are the one record that cannot be wrong about the chain; a
 *   second copy can disagree with them — the head used to be written after the entries, so a crash or
 *   failure between the two made the next append reuse a position, a fork devices report as an inserted
 *   entry — and can be damaged on its own, which used to refuse every provider of that patient until
 *   someone edited the row by hand. Keeping a copy in step would also need a transaction spanning
 *   documents and metadata, which a store without multi-document transactions cannot give. Why by
 *   position, not the latest by seq: the store refuses a held position (`position-taken`), so the chain
 *   goes on after its highest one whatever order its entries were stored in. Cost: one step of the
 *   store's position index, however long the stream. Only the server writes entries under its own id (a
 *   pushed row's author must be the pushing device), so no device can move the head. Heads an older
 *   version kept in `meta` (`audit-chain/…`) are no longer read or written.
 * - Appends to one patient's chain are serialised within this process. Two processes on one store (nodes
 *   sharing a CouchDB) may both continue from the same entry: the store refuses the second entry at that
 *   position and writes nothing of its batch (never a fork), and the loser reads the chain end again and
 *   chains its entries after the winner's, up to CHAIN_ATTEMPTS times (a short random pause between);
 *   only then does the access fail (INTERNAL, nothing stored; the device retries)
 *   (test/cluster/audit-chain-race.e2e.test.ts).
 * - What one account may append to one patient's audit stream is capped per rolling day
 *   (`auditEntriesPerAccountPerDay`, counted by the server's receive time over the entries of all the
 *   account's devices, revoked ones too, `store.docs.auditEntriesOfAccountSince`): any grant lets a grantee
 *   append there, and every view of the patient reads and verifies the whole log, so without it a grantee
 *   could make those views unusable and fill the disk — and counted per device, an account could multiply
 *   the cap by registering devices. It counts every account, the patient's own too, and never the server's
 *   access events (not pushed, and the server is no account's device). A row past the cap is refused
 *   RATE_LIMITED and stores nothing, as do the later rows of that stream in the batch; its message names
 *   when a slot frees (a push row carries no `details`). A re-push of an entry already stored is not
 *   refused (it is acknowledged as before). Counting and writing are serialised per (stream, account) in
 *   this process, so concurrent pushes of the account's devices cannot pass the cap together.
 * - Each device holds a position of its chain in an audit stream once (the store refuses a second entry
 *   there, `position-taken`, and stores nothing of that batch): two entries at one position would make
 *   every other device of the patient report that chain broken for good. Such a row is refused
 *   APPEND_ONLY (not retryable: a device continues its chain after the `chainEnd` named below, or,
 *   below protocol 11, gives the entry up), with the later rows of its stream in the push,
 *   which link to it; the push's other rows are written again without them (their access events too), so
 *   a push is answered row by row as before. An entry sent again exactly as stored is still acknowledged.
 *   Positions a restore no longer holds are free again (a device continues its chain after the served end).
 *   The refused row carries `chainEnd`: the pushing device's stored entry at its highest position in that
 *   stream (`auditChainEnd`; not its latest by seq: a device sends entries acknowledged before a restore
 *   again after newer ones, and a store from before schema v15 may hold two at one position) and that
 *   entry's link hash, looked up after the push's writes under the account's audit lock, so the device can continue its
 *   chain after it (an honest device whose state went back: restored from a backup). It names only the
 *   pushing device's own entries, which it signed: nothing another account wrote is disclosed. sync-ws.ts
 *   drops it below AUDIT_CHAIN_END_VERSION.
 * - Grant caps (limits.ts): a grant needs no agreement from its grantee, so `grant` refuses one that would
 *   take a pair, a patient or a grantee past its cap on unended grants (or a pair past its daily rate).
 *   The grantee's cap counts only grants from patients it has not accepted (`acceptPatient`); a grant
 *   from an accepted patient is not checked against it (the pair, daily and patient caps still are).
 *   Acceptance changes no access and ends no grant: un-accepting makes the patient's unended grants count
 *   again for the next grant anyone issues to that grantee. A grant and a change of the grantee's
 *   acceptances are serialised on the grantee's cap lock in this process, so a cap is checked against
 *   the acceptances the grant is stored under.
 * - Key envelopes need no grant to be published: clients built before a grant's envelopes waited for the
 *   server's answer send them before the grant (the protocol version does not tell them apart), and
 *   current ones wrap each epoch for every account their copy of the grants holds active, in one
 *   all-or-nothing publish, also one the server holds no unended grant for (granted after the backup a
 *   restore went back to; ended on the server's clock, or by another device, before this one saw it), so
 *   refusing one recipient would keep the epoch from every holder. What a stranger can address to an
 *   account is bounded instead: epochs below MAX_STREAM_EPOCHS (`putEnvelopes`),
 *   so at most MAX_STREAM_EPOCHS rows per stream and recipient. A key fetch reads only the rows of streams the caller may fetch then, at
 *   most a frame's worth, and answers TOO_LARGE rather than more than MAX_FRAME_BYTES (`getEnvelopes`).
 * - `listStreams` from STREAMS_PAGING_VERSION answers one page by stream id (keyset, paging.ts), at most
 *   MAX_STREAMS_PAGE rows, within MAX_FRAME_BYTES at their largest (grant-limits.test.ts); below it the
 *   one whole list it always answered.
 *   Each page decides readability from the grants unended when it is read, as every access decision does,
 *   reading them by patient in stream id order from the cursor on (`listUnendedByPatient`, whole patients
 *   only): the grants of the patients it lists and at most one read more, so a walk reads each about once.
 *   This relies on account ids holding no `/` (AccountId), so that a patient's streams sort together.
 * Failure modes: request-level problems throw `ServiceError` (typed code, nothing changed); row-level
 * problems come back as `{ status: 'error', code }` rows beside accepted ones. An access that cannot be
 * logged throws: UNAVAILABLE (or the store's code) when the store fails, INTERNAL naming the cause when
 * stored state is damaged, so the operator finds it in the error log.
 */
import { createHeadService } from './heads';
import { CLINICAL_STREAM_TYPES, STREAM_TYPES, newId, type StreamType } from '@hale/model';
import {
  auditSignaturePayload,
  docSignaturePayload,
  envelopeSignaturePayload,
  grantSignaturePayload,
  parseRevTag,
  parseStreamId,
  validate,
  revocationSignaturePayload,
  type ErrorCode,
  type Grant as WireGrant,
  type KeyEnvelope,
  type KeyHolder,
  MAX_ACCEPTED_PATIENTS_PER_GRANTEE,
  DEFAULT_ACCEPTED_PAGE,
  AcceptedCursorPayload,
  AcceptedPatient,
  MAX_ACTIVE_GRANTS_PER_GRANTEE,
  MAX_ACTIVE_GRANTS_PER_PAIR,
  MAX_ACTIVE_GRANTS_PER_PATIENT,
  GRANTABLE_STREAM_TYPES,
  MAX_GRANTS_PER_PAIR_PER_DAY,
  GRANT_RATE_WINDOW_MS,
  MAX_BATCH_BYTES,
  MAX_FRAME_BYTES,
  MAX_KEY_HOLDERS,
  MAX_STREAM_EPOCHS,
  MAX_LISTED_GRANTS,
  type PullFrame,
  type PushDoc,
  type PushFrame,
  type PushResult,
  type ServedDoc,
  SignedGrant,
  type GrantRecord,
  SignedRevocation,
  type StreamAccess,
  type StreamCheckpoint,
  type DeniedStream,
  DEFAULT_GRANTS_PAGE,
  DEFAULT_STREAMS_PAGE,
  GrantsCursorPayload,
  StreamsCursorPayload,
  type GrantListSide,
  MAX_CURSOR_CHARS,
  type AccessEventBody,
  isStreamId,
} from '@hale/protocol';
import {
  base64urlDecode,
  base64urlEncode,
  canonicalBytes,
  chainLinkHash,
  hexEncode,
  sealTo,
  sha256,
  signCanonical,
  verifyCanonical,
  type Ed25519,
  type SealTo,
} from '@hale/crypto';
import type {
  AccessEntries,
  AccessGuard,
  Doc,
  DocWrite,
  DocWriteResult,
  EndedScope,
  Grant,
  IsoTime,
  SyncStore,
} from '../store/index';
import { decodeBase64url as b64 } from './base64url';
import { createAccessWindows, type RepeatableAccess, type WriteGuard } from './access-windows';
import { ServiceError } from './service-error';
import { decodeCursor, encodeCursor } from './page-cursor';
import { isStoreError } from '../store/index';
import { sameBytes } from '../store/bytes';
import type { PushOutcome } from '../metrics';
import {
  decideAccess,
  explainEnded,
  grantIsActive,
  grantedStreams,
  patientToExplain,
  type AccessDecision,
  type GrantedStream,
  type Operation,
  type Principal,
} from './access';
import { keyedLocks } from './keyed-locks';
import { DEFAULT_AUDIT_ENTRIES_PER_ACCOUNT_PER_DAY } from '../config';

export { ServiceError };

export interface ServerIdentity {
  serverId: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export interface AuthenticatedDevice extends Principal {
  devicePublicKey: Uint8Array;
}

export interface AccessEvent {
  action: 'pull' | 'push' | 'live' | 'key-fetch' | 'blob-down' | 'blob-up' | 'blob-delete' | 'link-open';
  stream: string;
  count: number;
  /** The blob it concerns, for an access that concerns one (a deletion). */
  blobId?: AccessEventBody['blobId'];
}

export interface SyncServiceDeps {
  store: SyncStore;
  now: () => number;
  ed: Ed25519;
  /** Seals access-audit entries to the patient; default tweetnacl's, the app injects node:crypto's (≈10×). */
  sealTo?: SealTo;
  server: ServerIdentity;
  /**
   * Called after grants of `granteeId` changed, so live connections re-evaluate at once; grant and revoke
   * answer only after it settles, so no change committed after the answer reaches a cut-off device.
   */
  onGrantsChanged?: (granteeId: string, patientId: string) => void | Promise<void>;
  /**
   * Called synchronously just before a revocation of `grantId` (a grant to `granteeId`) commits, so live
   * delivery stops deciding from it before a row committed after it could go out; the function it returns
   * is called once the revocation settled: after its `onGrantsChanged` settled, or, should the commit
   * fail, before the `onGrantsChanged` that then gives the grantee's connections what the store holds.
   */
  onGrantEnding?: (granteeId: string, grantId: string) => () => void;
  /**
   * Called after `putEnvelopes` stored envelopes of `patientId`'s `streams` addressed to `recipientId`,
   * another account, so its live connections are told at once (a device may hold those streams' records
   * set aside for want of the key). Must not reject: the envelopes are stored whatever it does.
   */
  onEnvelopesStored?: (recipientId: string, patientId: string, streams: string[]) => void | Promise<void>;
  onPush?: (outcome: PushOutcome, count: number) => void;
  /**
   * Length of the windows in which a grantee device's repeated pulls, key fetches and blob transfers of
   * one stream are logged as one tally (access-windows.ts); default 60 s, as live delivery's.
   */
  accessWindowMs?: number;
  /** A tally of repeated access that could not be written yet (it is retried with the next write). */
  onAccessLogError?: (error: unknown) => void;
  /**
   * Audit entries one account (all its devices) may append to one patient's audit stream per rolling day
   * (see the header); default DEFAULT_AUDIT_ENTRIES_PER_ACCOUNT_PER_DAY (config.ts, which says why that number).
   */
  auditEntriesPerAccountPerDay?: number;
}

/** The window `auditEntriesPerAccountPerDay` counts over. */
const AUDIT_APPEND_WINDOW_MS = 24 * 3600_000;

/**
 * Most `ct` bytes of the stored versions one `pushed` answer carries in its conflicts: a pull answer's
 * budget, so the answer stays within MAX_FRAME_BYTES as a full pull answer does (MAX_BATCH_DOCS rows of
 * metadata beside it; push-answer-size.test.ts). The batch's first one always goes: it is at most
 * MAX_DOC_BYTES, so a push of one row is always answered.
 */
const PUSHED_MASTER_BYTES = MAX_BATCH_BYTES;

/**
 * Times in all a push's batch is counted and written while a row it counted out (read in conflict) is
 * given the revision it assumes meanwhile (`expectRefused`): the first count and two more; then the push
 * fails UNAVAILABLE, nothing stored, and the device sends it again. Each time needs another write to the same record in the
 * short gap between the count's read and the batch.
 */
const MAX_PUSH_RECOUNTS = 3;

/**
 * Attempts of one access log write whose chain position another process took meanwhile (each reads the
 * chain end again), and the longest pause before the n-th retry (random up to n × this, in ms): a node's
 * appends are serial, so each retry loses only to appends that committed since its read.
 */
const CHAIN_ATTEMPTS = 8;
const CHAIN_RETRY_MS = 10;

export const toServedDoc = (doc: Doc): ServedDoc => {
  const out: ServedDoc = {
    stream: doc.stream as ServedDoc['stream'],
    id: doc.id,
    rev: doc.rev,
    deleted: doc.deleted,
    epoch: doc.epoch,
    ct: Buffer.from(doc.ct.buffer, doc.ct.byteOffset, doc.ct.byteLength).toString('base64url'),
    author: doc.author,
    seq: doc.seq,
    at: doc.at,
  };
  if (doc.sig !== undefined) out.sig = doc.sig;
  if (doc.audit !== undefined) out.audit = doc.audit;
  return out;
};

/** Verifies an Ed25519 signature over a protocol payload (which carries its own domain label). */
export const verifyPayload = async (
  ed: Ed25519,
  publicKey: Uint8Array,
  payload: { label: string },
  sig: string,
): Promise<boolean> => {
  const s = base64urlDecode(sig);
  if (!s.ok) return false;
  return verifyCanonical(ed, publicKey, payload.label, payload, s.value);
};

export const signPayload = async (
  ed: Ed25519,
  secretKey: Uint8Array,
  payload: { label: string },
): Promise<string> => base64urlEncode(await signCanonical(ed, secretKey, payload.label, payload));

/** Hash that links an audit entry to the same author's next one (shared with devices via @hale/crypto). */
export const auditEntryHash = (payload: { label: string }, sig: string): string => {
  const s = base64urlDecode(sig);
  return chainLinkHash(payload, s.ok ? s.value : new Uint8Array());
};

/**
 * Where the next entry of an author's chain goes: after `last`, the author's stored entry at its highest
 * position (`auditChainEnd`; null for none). The link is computed from the entry exactly as stored, as a
 * device computes it, so even a damaged entry is continued from rather than forked around (devices report
 * the damage itself).
 */
const chainAfter = (last: Doc | null): { seq: number; hash: string | null } => {
  if (last?.audit === undefined) return { seq: 0, hash: null };
  const payload = auditSignaturePayload({ ...toServedDoc(last), audit: last.audit });
  return { seq: last.audit.authorSeq, hash: auditEntryHash(payload, last.sig ?? '') };
};

/**
 * Whether a pushed audit entry is the stored one byte for byte. Every field counts: an entry that differs
 * in anything, even one the signature would not catch, is a change and stays refused.
 */
const sameAuditEntry = (stored: Doc, pushed: DocWrite['doc']): boolean =>
  stored.rev === pushed.rev &&
  stored.author === pushed.author &&
  stored.sig !== undefined &&
  stored.sig === pushed.sig &&
  stored.deleted === pushed.deleted &&
  stored.epoch === pushed.epoch &&
  stored.audit !== undefined &&
  pushed.audit !== undefined &&
  stored.audit.authorSeq === pushed.audit.authorSeq &&
  stored.audit.prevHash === pushed.audit.prevHash &&
  stored.audit.at === pushed.audit.at &&
  sameBytes(stored.ct, pushed.ct);

/**
 * How many of a pair's newest ended grants name a refusal's reason (CONSENT_REVOKED / CONSENT_EXPIRED
 * rather than NO_CONSENT): four days of the most a patient may issue to one grantee, so the lookup stays
 * small whatever is stored, and an older end leaves only the reason's wording less precise — never access.
 */
const ENDED_GRANTS_EXPLAINING_A_REFUSAL = 4 * MAX_GRANTS_PER_PAIR_PER_DAY;

/**
 * Thrown by an access guard's check (`accessGuard`) inside a write's transaction: the streams it refuses
 * now, each with the decision made from the grants unended then (NO_CONSENT for a revoked grant: ended
 * grants are not loaded to decide; `explain` names the reason afterwards).
 */
class AccessEnded extends Error {
  constructor(readonly refused: ReadonlyMap<string, AccessDecision>) {
    super('access ended before the write');
  }
}

/**
 * Whether `error` is an access guard's refusal (`accessGuard`): the write it guarded committed nothing.
 * For callers that log through the guard themselves (the live hub), which then decide the stream anew.
 */
export const isAccessEnded = (error: unknown): boolean => error instanceof AccessEnded;

/** Room kept in a `grants` answer for everything but its records (`{"t":"grants","rid":…,"grants":[]}`). */
const GRANTS_FRAME_OVERHEAD_BYTES = 1024;

/**
 * Fewest grants one read of a `listStreams` page asks for: twice what one pair may hold unended
 * (MAX_ACTIVE_GRANTS_PER_PAIR), so a full read holds a whole patient before the one it cuts, unless the
 * store holds more than the cap lets `grant` store (then that patient is read alone).
 */
const MIN_GRANTS_READ = 2 * MAX_ACTIVE_GRANTS_PER_PAIR;

/** Room kept in an `envelopes` answer for everything but its envelopes (`{"t":"envelopes","rid":…}`). */
const ENVELOPES_FRAME_OVERHEAD_BYTES = 1024;
/**
 * Fewest bytes one envelope takes in an `envelopes` answer (its JSON and a comma): the narrowest the
 * schema allows takes more (envelope-bounds.test.ts). An answer of more rows than a frame holds at this
 * size can never be sent, so a key fetch reads at most one row more than that, whatever is stored.
 */
export const ENVELOPE_MIN_BYTES = 140;
const MAX_ENVELOPES_ANSWERED = Math.floor(
  (MAX_FRAME_BYTES - ENVELOPES_FRAME_OVERHEAD_BYTES) / ENVELOPE_MIN_BYTES,
);

export const createSyncService = (deps: SyncServiceDeps) => {
  const seal = deps.sealTo ?? sealTo;
  const { store, now, ed } = deps;
  const iso = (): string => new Date(now()).toISOString();

  /**
   * The grants `p`'s account received that are unended now: all an access decision needs. Ended ones are
   * never loaded to decide (any account can pile them onto another; see `explain` for refusals). With
   * `streams`, only those from the patients the streams name (not `p`'s own): all that deciding on those
   * streams needs, whatever else a clinic's provider received.
   */
  const grantsFor = (p: Principal, streams?: readonly string[]): Promise<Grant[]> => {
    if (streams === undefined) {
      if (p.role !== 'provider' && p.role !== 'patient') return Promise.resolve([]);
      return store.grants.listUnended({ granteeId: p.accountId }, iso());
    }
    const patients = new Set<string>();
    for (const stream of streams) {
      const patientId = patientToExplain(p, stream);
      if (patientId !== null) patients.add(patientId);
    }
    return grantsFrom(p, patients);
  };

  /** As `grantsFor`, of the patients `patientIds` only (the live hub reloads one patient's after a change). */
  const grantsFrom = (p: Principal, patientIds: ReadonlySet<string>): Promise<Grant[]> =>
    (p.role !== 'provider' && p.role !== 'patient') || patientIds.size === 0
      ? Promise.resolve([])
      : store.grants.listUnendedFrom(p.accountId, [...patientIds], iso());

  /**
   * Ended-grant lookups of one request or one re-evaluation: each patient's are read once, and only when
   * a refusal names that patient's stream.
   */
  const endedLookups = () => {
    const seen = new Map<string, Promise<EndedScope[]>>();
    return (patientId: string, granteeId: string, at: number): Promise<EndedScope[]> => {
      let hit = seen.get(patientId);
      if (!hit) {
        hit = store.grants.endedScopes(
          { patientId, granteeId },
          new Date(at).toISOString(),
          ENDED_GRANTS_EXPLAINING_A_REFUSAL,
        );
        seen.set(patientId, hit);
      }
      return hit;
    };
  };
  type EndedLookup = ReturnType<typeof endedLookups>;

  /**
   * `decision`, made by `decideAccess` from unended grants, with a refusal's reason completed from the
   * pair's ended grants (CONSENT_REVOKED / CONSENT_EXPIRED rather than NO_CONSENT): read only here.
   */
  const explain = async (
    p: Principal,
    stream: string,
    decision: AccessDecision,
    at: number,
    lookup: EndedLookup = endedLookups(),
  ): Promise<AccessDecision> => {
    if (decision.ok || (decision.code !== 'NO_CONSENT' && decision.code !== 'CONSENT_EXPIRED'))
      return decision;
    const patientId = patientToExplain(p, stream);
    if (patientId === null) return decision;
    return explainEnded(p, stream, decision, await lookup(patientId, p.accountId, at));
  };

  const epochOf = async (stream: string): Promise<number> =>
    (await store.envelopes.currentEpoch(stream)) ?? 0;

  /** The account's own streams. */
  const ownStreams = (p: Principal) =>
    STREAM_TYPES.map((type) => ({
      stream: `${p.accountId}/${type}`,
      patientId: p.accountId,
      type,
      access: 'owner' as const,
    }));

  /** The streams `p` may sync at `t`, unordered: the account's own, then those its unended grants give. */
  const streamsOf = async (p: Principal, t: number) => {
    const granted = grantedStreams(await grantsFor(p), p.accountId, t);
    return [...ownStreams(p), ...granted];
  };
  type ListedStream = Awaited<ReturnType<typeof streamsOf>>[number];

  /**
   * At least the first `want` streams (or all, when fewer) that grants unended at `t` give `p` with ids
   * strictly after `after`, unordered, each with the row `grantedStreams` gives it from all of `p`'s
   * unended grants; maybe some more. Grants are read by patient in stream id order
   * (`listUnendedByPatient`), whole patients only, so a patient's streams come from all its grants: the
   * patient `after` names (whose streams may fall on both sides of it) is read alone first, then patients
   * whose every stream sorts after `after`, so every patient past the last one read has only streams after
   * those read. Each read asks for about as many grants as the streams still wanted need (from the streams
   * per grant seen so far); a read that comes back full ends inside a patient, whose grants the next read
   * starts with. So a page reads the grants of the patients it lists, plus at most one read's worth.
   */
  const grantedAfter = async (p: Principal, after: string | undefined, want: number, t: number) => {
    if (p.role !== 'provider' && p.role !== 'patient') return [];
    const at = new Date(t).toISOString();
    const out: GrantedStream[] = [];
    const slash = after === undefined ? -1 : after.indexOf('/');
    if (after !== undefined && slash > 0) {
      const grants = await store.grants.listUnendedFrom(p.accountId, [after.slice(0, slash)], at);
      out.push(...grantedStreams(grants, p.accountId, t).filter((s) => s.stream > after));
    }
    let from = after;
    let read = 0;
    let listed = 0;
    while (out.length < want) {
      // Streams per grant read so far (a clinic's grants name every type): no fewer grants than needed
      // if each named every type, more as grants turn out to give fewer.
      const perGrant = read === 0 ? GRANTABLE_STREAM_TYPES.length : Math.max(listed / read, 1 / 16);
      const limit = Math.max(MIN_GRANTS_READ, Math.ceil((want - out.length) / perGrant) + 1);
      const rows = await store.grants.listUnendedByPatient(p.accountId, at, {
        limit,
        ...(from === undefined ? {} : { after: from }),
      });
      const last = rows.at(-1);
      const full = rows.length === limit && last !== undefined;
      let whole = rows;
      if (full) {
        // The last patient's grants may go on past the limit: it is read again next time, unless it is the
        // only one (more unended grants from one patient than a read holds: above the pair cap), read alone.
        const cut = rows.findIndex((g) => g.patientId === last.patientId);
        whole =
          cut > 0
            ? rows.slice(0, cut)
            : await store.grants.listUnendedFrom(p.accountId, [last.patientId], at);
        from = `${cut > 0 ? rows[cut - 1]!.patientId : last.patientId}/`;
      }
      const streams = grantedStreams(whole, p.accountId, t);
      out.push(...streams);
      read += whole.length;
      listed += streams.length;
      if (!full) break;
    }
    return out;
  };

  /** `StreamAccess` rows of `streams`, in their order, with their heads and current epochs read now. */
  const accessRows = async (streams: readonly ListedStream[]): Promise<StreamAccess[]> => {
    const heads = await store.docs.streamHeads(streams.map((s) => s.stream));
    const epochs = await store.envelopes.currentEpochs(streams.map((s) => s.stream));
    const out: StreamAccess[] = [];
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i]!;
      const entry: StreamAccess = {
        stream: s.stream as StreamAccess['stream'],
        patientId: s.patientId,
        type: s.type,
        access: s.access,
        head: heads[i]?.head ?? 0,
        epoch: epochs[i] ?? 0,
      };
      if ('grantId' in s && s.grantId !== undefined) {
        entry.grantId = s.grantId;
        entry.expiresAt = s.expiresAt;
        if (s.readExpiresAt !== undefined) entry.readExpiresAt = s.readExpiresAt;
      }
      out.push(entry);
    }
    return out;
  };

  /**
   * Below STREAMS_PAGING_VERSION: every stream `p` may sync, its own first, in one answer, as always (an
   * account following more than about 30,000 streams makes it larger than a frame: see limits.ts).
   */
  const listStreams = async (p: Principal): Promise<StreamAccess[]> => accessRows(await streamsOf(p, now()));

  /**
   * One page of `listStreams` on a connection of STREAMS_PAGING_VERSION or later (paging.ts): the streams
   * `p` may sync now, by id ascending, strictly after `cursor`; at most `limit` (DEFAULT_STREAMS_PAGE), which
   * fits a frame however large its rows; `next` when a stream past the page exists. Which streams are readable is
   * decided from the grants unended when the page is read (so a walk lists a stream readable throughout
   * exactly once; see paging.ts for streams whose access changes mid-walk), of the patients from the
   * cursor on only (`grantedAfter`); heads and epochs are read for the page's streams only. BAD_CURSOR when
   * `cursor` is not a `listStreams` cursor of this server.
   */
  const listStreamsPage = async (
    p: Principal,
    request: { cursor?: string; limit?: number },
  ): Promise<{ streams: StreamAccess[]; next?: string }> => {
    const limit = request.limit ?? DEFAULT_STREAMS_PAGE;
    const after =
      request.cursor === undefined
        ? undefined
        : decodeCursor(StreamsCursorPayload, request.cursor, 'listStreams').stream;
    const t = now();
    // The first limit + 1 streams after the cursor are among these: one more tells whether there is `next`.
    const granted = await grantedAfter(p, after, limit + 1, t);
    const ahead: ListedStream[] = [...ownStreams(p), ...granted].filter(
      (s) => after === undefined || s.stream > after,
    );
    // Code-unit order, not locale order: the cursor compares with `>` above. No stream is listed twice:
    // `grantedStreams` keeps one row per stream, and no grant names its own patient as grantee.
    ahead.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
    const more = ahead.length > limit;
    // A page at its largest rows fits a frame with room (grant-limits.test.ts).
    const streams = await accessRows(ahead.slice(0, limit));
    const last = streams.at(-1);
    if (!more || last === undefined) return { streams };
    return { streams, next: encodeCursor({ v: 1, k: 'streams', stream: last.stream }) };
  };

  // ---- server access events, sealed to the patient and hash-chained per patient ----
  /** Waits for exclusive use of the patients' chains; returns the release. */
  const lockChains = keyedLocks();
  /** Serialises grants that count against the same caps (patient issuing, grantee receiving). */
  const lockGrantCaps = keyedLocks();
  /** Serialises an account's counted audit appends per stream, from the count to the write. */
  const lockAuditAppends = keyedLocks();
  const auditCap = deps.auditEntriesPerAccountPerDay ?? DEFAULT_AUDIT_ENTRIES_PER_ACCOUNT_PER_DAY;

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
    if (answered.some((r) => r.status === 'position-taken')) return answered;
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

  const check = async (p: Principal, stream: string, op: Operation) => {
    const t = now();
    // The account's own streams need no grant: none is read.
    if (patientToExplain(p, stream) === null) return decideAccess(p, stream, op, [], t);
    return explain(p, stream, decideAccess(p, stream, op, await grantsFor(p, [stream]), t), t);
  };

  /** A write refused: its device was revoked while in flight (`accessGuard`, `refuseRevokedWriter`). */
  const writerRevokedError = (): ServiceError =>
    new ServiceError('DEVICE_REVOKED', 'this device was revoked; nothing was written');

  /**
   * The guard (store AccessGuard) that takes `p`'s decisions on `streams` for `op` again inside a write's
   * transaction, from the grants unended then and the clock read now (the caller hands it to the store in
   * the same synchronous step); it throws AccessEnded naming the streams refused. It also refuses the
   * write, DEVICE_REVOKED, when `p`'s device was revoked meanwhile (the device's registration read in that
   * step: a revocation answered before the write commits leaves nothing of it stored, also on `p`'s own
   * streams, where no grant is read).
   */
  const accessGuard = (p: Principal, streams: readonly string[], op: Operation): AccessGuard => {
    const granted = [...new Set(streams)].filter((stream) => patientToExplain(p, stream) !== null);
    const t = now();
    const patientIds = [...new Set(granted.map((stream) => patientToExplain(p, stream)!))];
    return {
      granteeId: p.accountId,
      patientIds,
      at: new Date(t).toISOString(),
      writer: p.deviceId,
      check: (grants, writerRevoked) => {
        if (writerRevoked) throw writerRevokedError();
        const refused = new Map<string, AccessDecision>();
        for (const stream of granted) {
          const decision = decideAccess(p, stream, op, grants, t);
          if (!decision.ok) refused.set(stream, decision);
        }
        if (refused.size > 0) throw new AccessEnded(refused);
      },
    };
  };

  /**
   * DEVICE_REVOKED, nothing written, when `p`'s device was revoked since it signed in: for the writes whose
   * store call takes no access guard (`putEnvelopes`, `grant`), called just before that call with nothing
   * awaited in between. Without it a revocation committed while such a write checked its signatures or
   * waited on a lock let the revoked device's envelopes (a new epoch, whose key it holds) or grant be stored.
   */
  const refuseRevokedWriter = async (p: Principal): Promise<void> => {
    const device = await store.devices.get(p.deviceId);
    if (device?.revokedAt !== undefined) throw writerRevokedError();
  };

  /**
   * Refused decisions (stream → decision) as consent errors, their reasons named from the ended grants:
   * those of an AccessEnded are read after the write was rolled back, so the revocation that refused it is
   * among them.
   */
  const refusalsOf = async (
    p: Principal,
    refused: ReadonlyMap<string, AccessDecision>,
    at = now(),
  ): Promise<Map<string, ServiceError>> => {
    const lookup = endedLookups();
    const out = new Map<string, ServiceError>();
    for (const [stream, decision] of refused) {
      const named = await explain(p, stream, decision, at, lookup);
      // A refusal stays one whatever its reason: explain only renames it.
      if (!named.ok) out.set(stream, new ServiceError(named.code, named.message));
    }
    return out;
  };

  /**
   * Runs `write`, a store write of `p` on `stream`, with the guard of `op` (`accessGuard`), which `write`
   * must hand to the store before it awaits anything. A refusal in the write's transaction throws the
   * consent code (CONSENT_REVOKED, CONSENT_EXPIRED, NO_CONSENT, FORBIDDEN); nothing was written.
   */
  const guarded = async <T>(
    p: Principal,
    stream: string,
    op: Operation,
    write: (guard: AccessGuard) => Promise<T>,
  ): Promise<T> => {
    try {
      return await write(accessGuard(p, [stream], op));
    } catch (error) {
      throw await consentErrorOf(p, stream, error);
    }
  };

  /** A store write of a grantee's blob access, taking the guard and the access entries that log it. */
  type LoggedBlobWrite<T> = (guard: AccessGuard, entries?: AccessEntries) => Promise<T>;

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

  /** `error` as `guarded` throws it: an access guard's refusal becomes the consent code of `stream`. */
  const consentErrorOf = async (p: Principal, stream: string, error: unknown): Promise<unknown> =>
    error instanceof AccessEnded ? ((await refusalsOf(p, error.refused)).get(stream) ?? error) : error;

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

  type PullAnswer = { docs: ServedDoc[]; streams: StreamCheckpoint[]; denied: DeniedStream[] };

  /** `answer` without the streams of `refused`, which are listed in `denied` instead, with their codes. */
  const withdraw = (answer: PullAnswer, refused: ReadonlyMap<string, ServiceError>): PullAnswer =>
    refused.size === 0
      ? answer
      : {
          docs: answer.docs.filter((d) => !refused.has(d.stream)),
          streams: answer.streams.filter((s) => !refused.has(s.stream)),
          denied: [
            ...answer.denied,
            ...answer.streams.flatMap(({ stream }) => {
              const refusal = refused.get(stream);
              return refusal === undefined ? [] : [{ stream, code: refusal.code }];
            }),
          ],
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

  const pull = async (
    p: Principal,
    frame: Pick<PullFrame, 'streams' | 'limit' | 'maxBytes'>,
  ): Promise<PullAnswer> => {
    const grants = await grantsFor(
      p,
      frame.streams.map((c) => c.stream),
    );
    const t = now();
    const ended = endedLookups();
    let budgetDocs = frame.limit;
    let budgetBytes = frame.maxBytes;
    const docs: ServedDoc[] = [];
    const streams: StreamCheckpoint[] = [];
    const denied: DeniedStream[] = [];
    const events: RepeatableAccess[] = [];
    for (const cursor of frame.streams) {
      const decision = await explain(
        p,
        cursor.stream,
        decideAccess(p, cursor.stream, 'pull', grants, t),
        t,
        ended,
      );
      if (!decision.ok) {
        denied.push({ stream: cursor.stream, code: decision.code });
        continue;
      }
      if (budgetDocs <= 0 || budgetBytes <= 0) {
        streams.push({ stream: cursor.stream, checkpoint: cursor.since, done: false });
        continue;
      }
      const page = await store.docs.readDocs(cursor.stream, cursor.since, budgetDocs, budgetBytes);
      // readDocs serves one document over budget so a stream can always progress; that exception is
      // for the answer's first document only. Past it, the answer could exceed MAX_BATCH_BYTES, which the
      // device's decoder refuses, so it would never get past this pull.
      const first = page.docs[0];
      if (docs.length > 0 && first !== undefined && first.ct.byteLength > budgetBytes) {
        streams.push({ stream: cursor.stream, checkpoint: cursor.since, done: false });
        continue;
      }
      for (const d of page.docs) {
        docs.push(toServedDoc(d));
        budgetBytes -= d.ct.byteLength;
      }
      budgetDocs -= page.docs.length;
      streams.push({ stream: cursor.stream, checkpoint: page.checkpoint, done: page.done });
      if (page.docs.length > 0 && decision.level !== 'owner') {
        events.push(repeatable('pull', cursor.stream, page.docs.length, decision));
      }
    }
    // Decided again now that the pages are read, and once more inside the transaction that logs the access
    // (the guard), so what is logged is what is handed out: a stream refused at either is in `denied`, not
    // logged, not served.
    // Only the grantee streams it hands documents of: one whose page is empty hands out nothing, so nothing
    // of it needs deciding again (its checkpoint says only where the stream stands; the next pull decides
    // anew), and a caught-up pull reads no grants twice.
    const refused = await decideAndLog(
      p,
      'pull',
      events.map((e) => e.stream),
      events,
    );
    return withdraw({ docs, streams, denied }, refused);
  };

  const needsSignature = (stream: string, p: Principal): boolean => {
    const parsed = parseStreamId(stream);
    if (!parsed.ok) return true;
    const type: StreamType = parsed.value.type;
    return type === 'audit' || CLINICAL_STREAM_TYPES.includes(type) || parsed.value.patientId !== p.accountId;
  };

  const push = async (p: AuthenticatedDevice, frame: Pick<PushFrame, 'rows'>): Promise<PushResult[]> => {
    const grants = await grantsFor(
      p,
      frame.rows.map((r) => r.doc.stream),
    );
    const t = now();
    const ended = endedLookups();
    const results: Array<PushResult | null> = [];
    const writes: DocWrite[] = [];
    const writeIndex: number[] = [];
    const epochs = new Map<string, number>();
    /** Indexes (in `writes`) of the rows a grantee writes to another account's streams: logged. */
    const counted: number[] = [];
    const rowError = (stream: string, id: string, code: ErrorCode, message: string): PushResult => ({
      status: 'error',
      stream: stream as PushResult['stream'],
      id,
      code,
      message,
    });
    const staleEpoch = (doc: PushDoc, epoch: number): PushResult =>
      rowError(
        doc.stream,
        doc.id,
        'STALE_EPOCH',
        `stream key epoch is ${epoch}; the document was sealed under ${doc.epoch}`,
      );
    for (const [i, row] of frame.rows.entries()) {
      const { doc, assumedRev } = row;
      const isAudit = doc.stream.endsWith('/audit');
      // Updating or deleting an audit entry is refused for everyone, whatever their access.
      if (isAudit && (assumedRev !== null || doc.deleted)) {
        results.push(rowError(doc.stream, doc.id, 'APPEND_ONLY', 'audit entries can only be appended'));
        continue;
      }
      const decision = await explain(p, doc.stream, decideAccess(p, doc.stream, 'push', grants, t), t, ended);
      if (!decision.ok) {
        results.push(rowError(doc.stream, doc.id, decision.code, decision.message));
        continue;
      }
      if (doc.author !== p.deviceId) {
        results.push(rowError(doc.stream, doc.id, 'FORBIDDEN', 'author must be the pushing device'));
        continue;
      }
      // Checked again by the store in the write's own transaction: a rotation may be stored while this
      // row's signature is checked and the audit chain's lock awaited.
      let expectedEpoch: number | undefined;
      if (isAudit) {
        if (doc.audit === undefined) {
          results.push(rowError(doc.stream, doc.id, 'APPEND_ONLY', 'audit entries can only be appended'));
          continue;
        }
      } else {
        if (doc.audit !== undefined) {
          results.push(rowError(doc.stream, doc.id, 'BAD_MESSAGE', 'audit header outside the audit stream'));
          continue;
        }
        let current = epochs.get(doc.stream);
        if (current === undefined) {
          current = await epochOf(doc.stream);
          epochs.set(doc.stream, current);
        }
        if (doc.epoch !== current) {
          results.push(staleEpoch(doc, current));
          continue;
        }
        expectedEpoch = current;
        const next = parseRevTag(doc.rev);
        const prev = assumedRev === null ? null : parseRevTag(assumedRev);
        if (!next || (prev !== null && next.n <= prev.n)) {
          results.push(rowError(doc.stream, doc.id, 'REV_MISMATCH', 'revision number must increase'));
          continue;
        }
      }
      if (doc.sig === undefined && needsSignature(doc.stream, p)) {
        results.push(
          rowError(doc.stream, doc.id, 'BAD_SIGNATURE', 'this record must be signed by its author'),
        );
        continue;
      }
      if (doc.sig !== undefined) {
        const payload =
          isAudit && doc.audit
            ? auditSignaturePayload({ ...doc, audit: doc.audit })
            : docSignaturePayload(doc);
        if (!(await verifyPayload(ed, p.devicePublicKey, payload, doc.sig))) {
          results.push(rowError(doc.stream, doc.id, 'BAD_SIGNATURE', 'author signature does not verify'));
          continue;
        }
      }
      const ct = b64(doc.ct, 'ct');
      const input: DocWrite['doc'] = {
        stream: doc.stream,
        id: doc.id,
        rev: doc.rev,
        deleted: doc.deleted,
        epoch: doc.epoch,
        ct,
        size: ct.byteLength,
        author: doc.author,
      };
      if (doc.sig !== undefined) input.sig = doc.sig;
      if (doc.audit !== undefined) input.audit = doc.audit;
      writes.push({ doc: input, assumedRev, ...(expectedEpoch === undefined ? {} : { expectedEpoch }) });
      writeIndex.push(i);
      results.push(null);
      if (decision.level !== 'owner' && !isAudit) counted.push(writes.length - 1);
    }
    const isCounted = new Set(counted);
    /**
     * The rows of `kept` as the batch writes them, and the push events that count them. Logged only if the
     * store will take them: a row whose assumed revision is not the stored one (a conflict, a re-push of
     * a stored revision) stores nothing. Read before the batch, whose event is sealed with the count;
     * each counted row read so is marked `expectRefused`, so should a write in between give it the
     * revision it assumes, the batch rejects CONFLICT and stores nothing (it is counted again). Rows of
     * the batch see the effect of its earlier rows, so a record's later row is compared with the revision
     * its earlier one will leave (read once per record).
     */
    const countStored = async (
      kept: readonly number[],
    ): Promise<{ rows: DocWrite[]; logged: AccessEvent[] }> => {
      const events = new Map<string, number>();
      const revAfter = new Map<string, string | null>();
      const rows: DocWrite[] = [];
      for (const k of kept) {
        const write = writes[k]!;
        if (!isCounted.has(k)) {
          rows.push(write);
          continue;
        }
        const { doc, assumedRev } = write;
        const record = `${doc.stream}\n${doc.id}`;
        let current = revAfter.get(record);
        if (current === undefined) current = (await store.docs.getDoc(doc.stream, doc.id))?.rev ?? null;
        if (current === assumedRev) {
          events.set(doc.stream, (events.get(doc.stream) ?? 0) + 1);
          current = doc.rev;
          rows.push(write);
        } else {
          rows.push({ ...write, expectRefused: true });
        }
        revAfter.set(record, current);
      }
      return {
        rows,
        logged: [...events].map(([stream, count]) => ({ action: 'push' as const, stream, count })),
      };
    };
    const auditStreams = [
      ...new Set(writes.filter((w) => w.doc.audit !== undefined).map((w) => w.doc.stream)),
    ];
    // Held from the count to the write, so concurrent pushes of the account's devices cannot pass the cap
    // together.
    const releaseAudit =
      auditStreams.length === 0
        ? () => undefined
        : await lockAuditAppends(auditStreams.map((stream) => `${stream}\n${p.accountId}`));
    try {
      const over =
        auditStreams.length === 0
          ? new Map<number, string>()
          : await auditOverCap(p, writes, auditStreams, t);
      for (const [k, message] of over) {
        const doc = frame.rows[writeIndex[k]!]!.doc;
        results[writeIndex[k]!] = rowError(doc.stream, doc.id, 'RATE_LIMITED', message);
      }
      let kept = [...writes.keys()].filter((k) => !over.has(k));
      let written: DocWriteResult[] = [];
      /** Per stream, the index (in `results`) of the row refused for a position the device holds there. */
      const positionTaken = new Map<string, number>();
      /** Batches refused because a row counted out was stored meanwhile (`expectRefused`). */
      let recounts = 0;
      // A batch holding an entry at a chain position the device already holds stores nothing (the store's
      // `position-taken`): that entry and the rows of its stream after it are refused, the others written
      // again. Each round refuses at least one row or is a recount (at most MAX_PUSH_RECOUNTS), so this ends.
      while (kept.length > 0) {
        const streams = kept.map((k) => writes[k]!.doc.stream);
        const { rows, logged } = await countStored(kept);
        try {
          written = await writeLogged(p, rows, logged, new Date(t).toISOString(), PUSHED_MASTER_BYTES, () =>
            accessGuard(p, streams, 'push'),
          );
        } catch (error) {
          if (isStoreError(error, 'CONFLICT')) {
            // A record was given the revision a row counted out assumes: nothing was stored; count again.
            if (++recounts < MAX_PUSH_RECOUNTS) continue;
            throw new ServiceError(
              'UNAVAILABLE',
              'records of this push kept changing while it was stored; nothing was stored: push again',
            );
          }
          if (isStoreError(error, 'TOO_LARGE')) {
            throw new ServiceError(
              'TOO_LARGE',
              `the stored versions of the records this push conflicts with would not fit in one answer ` +
                `(${PUSHED_MASTER_BYTES} bytes at most); nothing was stored: push fewer rows`,
            );
          }
          if (!(error instanceof AccessEnded)) throw error;
          // Access to some of its streams ended after the rows were decided (a revocation committed, a
          // grant's end passed) and nothing of the batch was written: their rows answer the consent code,
          // the others are written again without them (and without their access events).
          const refused = await refusalsOf(p, error.refused);
          kept = kept.filter((k) => {
            const doc = frame.rows[writeIndex[k]!]!.doc;
            const refusal = refused.get(doc.stream);
            if (refusal === undefined) return true;
            results[writeIndex[k]!] = rowError(doc.stream, doc.id, refusal.code, refusal.message);
            return false;
          });
          written = [];
          continue;
        }
        const refusedFrom = new Map<string, number>();
        for (const [n, result] of written.entries()) {
          const stream = writes[kept[n]!]!.doc.stream;
          if (result.status === 'position-taken' && !refusedFrom.has(stream))
            refusedFrom.set(stream, kept[n]!);
        }
        if (refusedFrom.size === 0) break;
        kept = kept.filter((k) => {
          const doc = frame.rows[writeIndex[k]!]!.doc;
          const from = refusedFrom.get(doc.stream);
          if (from === undefined || k < from) return true;
          if (k === from) positionTaken.set(doc.stream, writeIndex[k]!);
          results[writeIndex[k]!] = rowError(
            doc.stream,
            doc.id,
            'APPEND_ONLY',
            k === from
              ? `this device already has an entry at position ${doc.audit?.authorSeq ?? '?'} of its chain in ` +
                  'this audit log; another cannot be added there'
              : 'an earlier entry of this chain in the push was refused (APPEND_ONLY); this one was not stored',
          );
          return false;
        });
      }
      if (kept.length > 0) {
        for (const [n, result] of written.entries()) {
          const k = kept[n]!;
          const i = writeIndex[k]!;
          const doc = frame.rows[i]!.doc;
          if (result.status === 'ok') {
            results[i] = { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: result.seq };
          } else if (result.status === 'stale-epoch') {
            results[i] = staleEpoch(doc, result.epoch);
          } else if (result.status === 'conflict') {
            if (result.master && result.master.rev === doc.rev) {
              // The same revision is already stored: a retry of an acknowledged write.
              results[i] = {
                status: 'ok',
                stream: doc.stream,
                id: doc.id,
                rev: doc.rev,
                seq: result.master.seq,
              };
            } else {
              results[i] = {
                status: 'conflict',
                stream: doc.stream,
                id: doc.id,
                master: result.master ? toServedDoc(result.master) : null,
                ...(result.keptFrom === undefined ? {} : { keptFrom: result.keptFrom }),
              };
            }
          } else if (result.status === 'append-only') {
            const stored = await store.docs.getDoc(doc.stream, doc.id);
            const input = writes[k]!.doc;
            if (stored !== null && sameAuditEntry(stored, input)) {
              // The entry is already stored exactly as pushed: a retry whose acknowledgement was lost.
              results[i] = { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: stored.seq };
            } else {
              results[i] = rowError(doc.stream, doc.id, 'APPEND_ONLY', 'audit entries cannot be changed');
            }
          } else {
            // The loop above wrote again until no position was taken, so no row is left unwritten.
            results[i] = rowError(doc.stream, doc.id, 'INTERNAL', `row ${result.status}`);
          }
        }
      }
      // Looked up once everything of the push is written, still under the account's audit lock: the end
      // the device is told is the one its next entry meets. Only the pushing device's own chain is named.
      for (const [stream, i] of positionTaken) {
        const refusal = results[i];
        const end = chainAfter(await store.docs.auditChainEnd(stream, p.deviceId));
        if (refusal?.status !== 'error' || end.hash === null) continue;
        results[i] = { ...refusal, chainEnd: { authorSeq: end.seq, linkHash: end.hash } };
      }
    } finally {
      releaseAudit();
    }
    const final = results.map((r) => r ?? rowError('', '', 'INTERNAL', 'row lost'));
    for (const r of final) deps.onPush?.(r.status, 1);
    return final;
  };

  /**
   * The rows of `writes` (by index) that would take `p`'s account past its audit cap in their stream, each
   * with its refusal's message: per stream, the first ones fit into what the window leaves, the rest are
   * over, except an entry already stored (its re-push is acknowledged by the write, never refused here).
   * The caller holds the streams' audit-append locks.
   */
  const auditOverCap = async (
    p: Principal,
    writes: readonly DocWrite[],
    streams: readonly string[],
    t: number,
  ): Promise<Map<number, string>> => {
    const over = new Map<number, string>();
    // An entry stored exactly a window ago has left it.
    const since = new Date(t - AUDIT_APPEND_WINDOW_MS + 1).toISOString();
    for (const stream of streams) {
      const { count, first } = await store.docs.auditEntriesOfAccountSince(stream, p.accountId, since);
      let room = auditCap - count;
      // The oldest entry counted leaves the window first (or those of this batch, stored at t).
      const frees = new Date((first === null ? t : Date.parse(first)) + AUDIT_APPEND_WINDOW_MS).toISOString();
      const rows = [...writes.keys()].filter((k) => writes[k]!.doc.stream === stream && writes[k]!.doc.audit);
      // Only when the batch may not fit are its rows looked up: an entry already stored (a re-push whose
      // answer was lost) takes no slot, or it would push a new entry of the same batch over the cap.
      if (rows.length <= room) continue;
      for (const k of rows) {
        if ((await store.docs.getDoc(stream, writes[k]!.doc.id)) !== null) continue;
        if (room > 0) {
          room--;
          continue;
        }
        over.set(
          k,
          `this account's devices appended ${auditCap} audit entries to this patient's log within a day, ` +
            `the most allowed; retry from ${frees}`,
        );
      }
    }
    return over;
  };

  const grant = async (p: Principal, signed: SignedGrant): Promise<void> => {
    const g: WireGrant = signed.grant;
    if (g.patientId !== p.accountId) throw new ServiceError('FORBIDDEN', 'only the patient grants consent');
    if (g.granteeId === g.patientId)
      throw new ServiceError('BAD_MESSAGE', 'a patient cannot grant to itself');
    if (Date.parse(g.expiresAt) <= Date.parse(g.start)) {
      throw new ServiceError('BAD_MESSAGE', 'expiresAt must be after start');
    }
    const patient = await store.accounts.get(g.patientId);
    if (!patient) throw new ServiceError('NOT_FOUND', 'patient account not found');
    const grantee = await store.accounts.get(g.granteeId);
    if (!grantee) throw new ServiceError('NOT_FOUND', 'grantee account not found');
    const identity = b64(patient.identityPublicKey, 'identityPublicKey');
    if (!(await verifyPayload(ed, identity, grantSignaturePayload(g), signed.sig))) {
      throw new ServiceError('BAD_SIGNATURE', "the grant is not signed by the patient's identity key");
    }
    const sameAsStored = async (): Promise<void> => {
      const existing = await store.grants.get(g.grantId);
      if (!existing || JSON.stringify(existing.signed) !== JSON.stringify(signed)) {
        throw new ServiceError('ALREADY_EXISTS', 'a different grant with this id exists');
      }
    };
    const release = await lockGrantCaps([`issued:${g.patientId}`, `received:${g.granteeId}`]);
    try {
      // A retry of a stored grant (its answer was lost) is answered as before, caps or not.
      if (await store.grants.get(g.grantId)) {
        await sameAsStored();
      } else {
        await checkGrantCaps(g.patientId, g.granteeId);
        await refuseRevokedWriter(p);
        try {
          await store.grants.put(
            {
              grantId: g.grantId,
              patientId: g.patientId,
              granteeId: g.granteeId,
              scope: g.scope.map((s) => ({ type: s.type, access: s.access })),
              start: g.start,
              expiresAt: g.expiresAt,
              issuedAt: g.issuedAt,
              signed: signed,
            },
            iso(),
          );
        } catch (error) {
          if (!isStoreError(error, 'ALREADY_EXISTS')) throw error;
          await sameAsStored();
        }
      }
    } finally {
      release();
    }
    // A grantee's access after a change of its grants opens new windows: logged before it is served.
    await accessWindows.endAccount(g.granteeId);
    await deps.onGrantsChanged?.(g.granteeId, g.patientId);
  };

  /**
   * TOO_MANY_GRANTS when a new grant from `patientId` to `granteeId` would break a cap on unended grants
   * or the pair's rate over a rolling day (limits.ts): a grant needs no agreement from its grantee, so
   * without them any account could pile grants onto any other — unended ones, or ended ones by granting
   * and revoking (ended grants stay stored as the consent history). The per-grantee cap counts grants
   * from patients the grantee has not accepted only, and a grant from an accepted patient is not checked
   * against it. The caller holds the caps' lock.
   */
  const checkGrantCaps = async (patientId: string, granteeId: string): Promise<void> => {
    const at = iso();
    const windowStart = new Date(now() - GRANT_RATE_WINDOW_MS).toISOString();
    if (
      (await store.grants.countStoredSince({ patientId, granteeId }, windowStart)) >=
      MAX_GRANTS_PER_PAIR_PER_DAY
    ) {
      throw new ServiceError(
        'TOO_MANY_GRANTS',
        `the patient issued ${MAX_GRANTS_PER_PAIR_PER_DAY} grants to this grantee within a day (ended ones count); nothing stored`,
        { limit: 'per-pair-daily', max: MAX_GRANTS_PER_PAIR_PER_DAY },
      );
    }
    const caps = [
      {
        limit: 'per-pair',
        max: MAX_ACTIVE_GRANTS_PER_PAIR,
        count: () => store.grants.countUnended({ patientId, granteeId }, at),
      },
      {
        limit: 'per-grantee',
        max: MAX_ACTIVE_GRANTS_PER_GRANTEE,
        count: async () =>
          (await store.acceptances.has(granteeId, patientId))
            ? 0
            : store.grants.countUnendedNotAccepted(granteeId, at),
      },
      {
        limit: 'per-patient',
        max: MAX_ACTIVE_GRANTS_PER_PATIENT,
        count: () => store.grants.countUnended({ patientId }, at),
      },
    ] as const;
    for (const cap of caps) {
      if ((await cap.count()) >= cap.max) {
        throw new ServiceError(
          'TOO_MANY_GRANTS',
          `the ${cap.limit} cap of ${cap.max} unended grants is reached; nothing stored`,
          { limit: cap.limit, max: cap.max },
        );
      }
    }
  };

  /**
   * The caller (a provider) accepts `patientId` (`accept`), or stops accepting it: grants from an accepted
   * patient do not count toward the caller's cap on grants from strangers. Idempotent. FORBIDDEN for a
   * patient account (its cap stays whole), BAD_MESSAGE for the caller itself, NOT_FOUND (accepting) for an
   * account that does not exist, TOO_MANY_ACCEPTED at MAX_ACCEPTED_PATIENTS_PER_GRANTEE; nothing changes
   * then. Un-accepting ends no grant: the patient's unended grants count again for new grants only.
   */
  const acceptPatient = async (p: Principal, patientId: string, accept: boolean): Promise<void> => {
    if (p.role !== 'provider') {
      throw new ServiceError('FORBIDDEN', 'only a provider account accepts patients');
    }
    if (patientId === p.accountId) throw new ServiceError('BAD_MESSAGE', 'an account cannot accept itself');
    const release = await lockGrantCaps([`received:${p.accountId}`]);
    try {
      if (!accept) {
        await store.acceptances.delete(p.accountId, patientId);
        return;
      }
      if (!(await store.accounts.get(patientId)))
        throw new ServiceError('NOT_FOUND', 'patient account not found');
      const outcome = await store.acceptances.put(
        { granteeId: p.accountId, patientId, acceptedAt: iso() },
        MAX_ACCEPTED_PATIENTS_PER_GRANTEE,
      );
      if (outcome === 'full') {
        throw new ServiceError(
          'TOO_MANY_ACCEPTED',
          `this account accepted ${MAX_ACCEPTED_PATIENTS_PER_GRANTEE} patients, the most it may; nothing stored`,
          { max: MAX_ACCEPTED_PATIENTS_PER_GRANTEE },
        );
      }
    } finally {
      release();
    }
  };

  /**
   * One page of the patients the caller accepted, by patient id, strictly after `cursor` (keyset paging,
   * paging.ts); at most `limit` (DEFAULT_ACCEPTED_PAGE); `next` when one more was read. BAD_CURSOR when
   * `cursor` is not a `listAccepted` cursor of this server.
   */
  const listAccepted = async (
    p: Principal,
    request: { cursor?: string; limit?: number },
  ): Promise<{ patients: AcceptedPatient[]; next?: string }> => {
    const limit = request.limit ?? DEFAULT_ACCEPTED_PAGE;
    const after =
      request.cursor === undefined
        ? undefined
        : decodeCursor(AcceptedCursorPayload, request.cursor, 'listAccepted').patientId;
    const rows = await store.acceptances.listPage(p.accountId, {
      limit: limit + 1,
      ...(after === undefined ? {} : { after }),
    });
    const patients: AcceptedPatient[] = [];
    for (const row of rows.slice(0, limit)) {
      // Stored only after the request's schema and an account lookup accepted them; a row that no longer
      // reads as one (damaged) is left out rather than sent, and still moves the cursor past it.
      const checked = validate(AcceptedPatient, { patientId: row.patientId, acceptedAt: row.acceptedAt });
      if (checked.ok) patients.push(checked.value);
    }
    const last = rows[limit - 1];
    if (rows.length <= limit || last === undefined) return { patients };
    return { patients, next: encodeCursor({ v: 1, k: 'accepted', patientId: last.patientId }) };
  };

  const revoke = async (p: Principal, signed: SignedRevocation): Promise<void> => {
    const r = signed.revocation;
    if (r.patientId !== p.accountId) throw new ServiceError('FORBIDDEN', 'only the patient revokes consent');
    const existing = await store.grants.get(r.grantId);
    if (!existing || existing.patientId !== r.patientId)
      throw new ServiceError('NOT_FOUND', 'grant not found');
    const patient = await store.accounts.get(r.patientId);
    if (!patient) throw new ServiceError('NOT_FOUND', 'patient account not found');
    const identity = b64(patient.identityPublicKey, 'identityPublicKey');
    if (!(await verifyPayload(ed, identity, revocationSignaturePayload(r), signed.sig))) {
      throw new ServiceError('BAD_SIGNATURE', "the revocation is not signed by the patient's identity key");
    }
    // Before the commit, in the same synchronous step as its start: live delivery stops deciding from the
    // grant, so nothing committed after it reaches the grantee while the reload below waits for the audit
    // writes (or for a re-evaluation queued ahead of it). Pulls need no notice: each reads its grants
    // again after its pages (`decideAndLog`).
    const settle = deps.onGrantEnding?.(existing.granteeId, r.grantId);
    try {
      // The server's clock decides when access ends: a backdated or future-dated revocation still cuts now.
      await store.grants.revoke(r.grantId, iso(), signed);
    } catch (error) {
      // Not stored, or not known to be: the connections get the grants the store holds. The caller hears
      // the revocation's failure; the reload reports its own through the hook.
      settle?.();
      await Promise.allSettled([deps.onGrantsChanged?.(existing.granteeId, existing.patientId)]);
      throw error;
    }
    try {
      await accessWindows.endAccount(existing.granteeId);
      await deps.onGrantsChanged?.(existing.granteeId, existing.patientId);
    } finally {
      settle?.();
    }
  };

  /**
   * Stores a patient device's envelopes of the account's own streams, all or none; none of an epoch at
   * MAX_STREAM_EPOCHS or above (TOO_LARGE), which bounds what strangers can address to one account per
   * stream. Not bounded by the stream's stored epoch: a device may hold epochs the store lost (a restore
   * onto an empty disk, a server that withheld them), claims the one after the highest it held, and
   * grants with the envelopes of every epoch it holds, in one frame (a bound of stored + 1 refused such a
   * grant whole: test/grant-after-lost-epochs.e2e.test.ts). Once stored, those addressed to other accounts
   * are passed to `onEnvelopesStored` (the live hub tells their devices).
   */
  const putEnvelopes = async (p: AuthenticatedDevice, envelopes: KeyEnvelope[]): Promise<void> => {
    // Validate everything first so a bad envelope stores nothing; signatures last (the costly check).
    for (const env of envelopes) {
      const decision = await check(p, env.stream, 'envelope-publish');
      if (!decision.ok) throw new ServiceError(decision.code, decision.message, { stream: env.stream });
      if (env.createdBy !== p.deviceId)
        throw new ServiceError('FORBIDDEN', 'createdBy must be the publishing device');
    }
    for (const env of envelopes) {
      const { stream, epoch } = env;
      if (epoch >= MAX_STREAM_EPOCHS) {
        throw new ServiceError('TOO_LARGE', `a stream has at most ${MAX_STREAM_EPOCHS} key epochs`, {
          stream,
          epoch,
          max: MAX_STREAM_EPOCHS,
        });
      }
    }
    for (const env of envelopes) {
      if (
        env.sig === undefined ||
        !(await verifyPayload(ed, p.devicePublicKey, envelopeSignaturePayload(env), env.sig))
      ) {
        throw new ServiceError('BAD_SIGNATURE', 'envelope must be signed by the publishing device');
      }
      if (!(await store.accounts.get(env.recipient))) {
        throw new ServiceError('NOT_FOUND', `recipient ${env.recipient} not found`);
      }
    }
    const createdAt = iso();
    await refuseRevokedWriter(p);
    // One atomic step: stored one by one, a failure after the first would leave a rotation half stored —
    // a grantee's envelope moving the stream's epoch while the patient's own is missing.
    await store.envelopes.putAll(
      envelopes.map((env) => ({
        stream: env.stream,
        epoch: env.epoch,
        recipient: env.recipient,
        keyId: env.keyId,
        wrapped: env.wrapped,
        createdBy: env.createdBy,
        ...(env.sig === undefined ? {} : { sig: env.sig }),
        createdAt,
      })),
    );
    // Only the patient publishes (checked above), so any other recipient is a grantee or one to be.
    const toOthers = new Map<string, Set<string>>();
    for (const env of envelopes) {
      if (env.recipient === p.accountId) continue;
      const streams = toOthers.get(env.recipient) ?? new Set<string>();
      streams.add(env.stream);
      toOthers.set(env.recipient, streams);
    }
    // Side by side: one recipient's notice may wait behind its connections' re-evaluations.
    const notify = deps.onEnvelopesStored;
    if (notify) {
      await Promise.all(
        [...toOthers].map(async ([recipient, streams]) => notify(recipient, p.accountId, [...streams])),
      );
    }
  };

  /**
   * Which accounts hold which key epochs of the caller's own streams (no key material): lets any of the
   * patient's devices wrap an epoch a current grantee lacks, and, with `creators`, sign anew an envelope a
   * revoked device created (`putEnvelopes` then stores it in its place, store rule). Other accounts'
   * streams are refused whole.
   */
  const listKeyHolders = async (
    p: Principal,
    streams: string[],
    /** Each row names its envelope's creator (KEY_HOLDER_CREATORS_VERSION connections). */
    options: { creators?: boolean } = {},
  ): Promise<KeyHolder[]> => {
    for (const stream of streams) {
      const parsed = parseStreamId(stream);
      if (!parsed.ok || parsed.value.patientId !== p.accountId) {
        throw new ServiceError('FORBIDDEN', 'only the patient lists who holds the keys of its streams', {
          stream,
        });
      }
    }
    const rows = await store.envelopes.holders(streams, MAX_KEY_HOLDERS + 1);
    if (rows.length > MAX_KEY_HOLDERS) {
      throw new ServiceError('TOO_LARGE', `more than ${MAX_KEY_HOLDERS} key holders: ask for fewer streams`);
    }
    return rows.map((r) => ({
      stream: r.stream as KeyHolder['stream'],
      epoch: r.epoch,
      recipient: r.recipient,
      ...(options.creators === true ? { createdBy: r.createdBy } : {}),
    }));
  };

  /**
   * The envelopes addressed to `p` of `streams` (all it may fetch when none are named) that it may fetch
   * now. Only rows of those streams are read (its own streams and those its unended grants give, or the
   * named ones access allows), so envelopes other accounts addressed to it cost it nothing until they
   * grant it the stream; and at most as many as one frame could hold. TOO_LARGE, serving and logging
   * nothing, when the answer would exceed MAX_FRAME_BYTES: the device asks again for fewer streams, and
   * one stream always fits (MAX_STREAM_EPOCHS). Streams it may not fetch are left out, not refused.
   */
  const getEnvelopes = async (p: Principal, streams?: string[]): Promise<KeyEnvelope[]> => {
    const grants = await grantsFor(p, streams);
    const t = now();
    const candidates =
      streams ?? [...ownStreams(p), ...grantedStreams(grants, p.accountId, t)].map((s) => s.stream);
    const readable = new Map<string, Extract<AccessDecision, { ok: true }>>();
    for (const stream of candidates) {
      const decision = decideAccess(p, stream, 'envelope-fetch', grants, t);
      if (decision.ok) readable.set(stream, decision);
    }
    if (readable.size === 0) return [];
    const tooLarge = () =>
      new ServiceError(
        'TOO_LARGE',
        `the envelopes asked for exceed ${MAX_FRAME_BYTES} bytes: ask for fewer streams`,
      );
    const rows = await store.envelopes.list(p.accountId, [...readable.keys()], MAX_ENVELOPES_ANSWERED + 1);
    if (rows.length > MAX_ENVELOPES_ANSWERED) throw tooLarge();
    const out: KeyEnvelope[] = [];
    const counts = new Map<string, { count: number; decision: AccessDecision }>();
    let bytes = ENVELOPES_FRAME_OVERHEAD_BYTES;
    for (const row of rows) {
      // The store was asked for the rows of `readable`'s streams only.
      const decision = readable.get(row.stream)!;
      const env: KeyEnvelope = {
        stream: row.stream as KeyEnvelope['stream'],
        epoch: row.epoch,
        recipient: row.recipient,
        keyId: row.keyId,
        wrapped: row.wrapped,
        createdBy: row.createdBy,
      };
      if (row.sig !== undefined) env.sig = row.sig;
      bytes += Buffer.byteLength(JSON.stringify(env)) + 1;
      if (bytes > MAX_FRAME_BYTES) throw tooLarge();
      out.push(env);
      if (decision.level !== 'owner') {
        counts.set(row.stream, { count: (counts.get(row.stream)?.count ?? 0) + 1, decision });
      }
    }
    // Decided again now that the envelopes are read, and once more inside the transaction that logs the
    // access: a grant revoked or ended meanwhile hands out none of its stream's keys (left out, as streams
    // it may not fetch are) and the log claims no fetch of them.
    const refused = await decideAndLog(
      p,
      'envelope-fetch',
      [...counts.keys()],
      [...counts].map(([stream, { count, decision }]) => repeatable('key-fetch', stream, count, decision)),
    );
    return refused.size === 0 ? out : out.filter((env) => !refused.has(env.stream));
  };

  /**
   * A stored grant as `grants` lists it, or null for a damaged row. Grants are stored only after the codec
   * and the signature check accepted them; they are checked again on the way out so a damaged row is left
   * out rather than sent.
   */
  const grantRecordOf = (g: Grant): GrantRecord | null => {
    const signed = validate(SignedGrant, g.signed);
    if (!signed.ok) return null;
    const record: GrantRecord = { grant: signed.value };
    if (g.revokedAt !== undefined) record.revokedAt = g.revokedAt;
    if (g.revocation !== undefined) {
      const revocation = validate(SignedRevocation, g.revocation);
      if (revocation.ok) record.revocation = revocation.value;
    }
    return record;
  };
  /** The record's UTF-8 length in the frame, plus its separating comma. */
  const recordBytes = (record: GrantRecord): number => Buffer.byteLength(JSON.stringify(record)) + 1;

  /**
   * Signed grants the caller's account issued (as patient) or received (as grantee), with their state: an
   * answer the `grants` schema and MAX_FRAME_BYTES accept, whatever is stored. The caller's own grants come
   * first, then those it received (other accounts' doing, so they only fill the room left); within each,
   * unended grants first, then ended ones newest issued first. What does not fit is left out, from the end.
   */
  const listGrants = async (p: Principal): Promise<GrantRecord[]> => {
    const at = iso();
    const issued = { patientId: p.accountId };
    const received = { granteeId: p.accountId };
    // In answer order; each part read only when the ones before left room, at most as much as is left, so
    // however many ended grants are stored, no more than an answer's worth is read.
    const parts = [
      () => store.grants.listUnended(issued, at),
      (room: number) => store.grants.listEnded(issued, at, room),
      () => store.grants.listUnended(received, at),
      (room: number) => store.grants.listEnded(received, at, room),
    ];
    const out: GrantRecord[] = [];
    let bytes = GRANTS_FRAME_OVERHEAD_BYTES;
    for (const part of parts) {
      for (const g of await part(MAX_LISTED_GRANTS - out.length)) {
        const record = grantRecordOf(g);
        if (record === null) continue;
        bytes += recordBytes(record);
        if (out.length >= MAX_LISTED_GRANTS || bytes > MAX_FRAME_BYTES) return out;
        out.push(record);
      }
    }
    return out;
  };

  /**
   * One page of `listGrants` on a connection of PAGING_VERSION or later (paging.ts): the grants the caller
   * issued, then those it received (or the one `side`), each newest issued first (`issuedAt`, `grantId`
   * descending), strictly after `cursor`; with `active` only those unended now. At most `limit`
   * (DEFAULT_GRANTS_PAGE) records and MAX_FRAME_BYTES; `next` when a grant past the page was read (one
   * more is read to know). Damaged rows are left out but passed, so they never stall a walk. BAD_CURSOR
   * when `cursor` is not a `listGrants` cursor of this server for the same `side` and `active`.
   */
  const listGrantsPage = async (
    p: Principal,
    request: { cursor?: string; limit?: number; side?: GrantListSide; active?: boolean },
  ): Promise<{ grants: GrantRecord[]; next?: string }> => {
    const limit = request.limit ?? DEFAULT_GRANTS_PAGE;
    const active = request.active ?? false;
    const only = request.side;
    const sides: GrantListSide[] = only === undefined ? ['issued', 'received'] : [only];
    let last: { side: GrantListSide; issuedAt: string; grantId: string } | undefined;
    if (request.cursor !== undefined) {
      const from = decodeCursor(GrantsCursorPayload, request.cursor, 'listGrants');
      if (from.only !== only || from.active !== active || !sides.includes(from.side)) {
        throw new ServiceError(
          'BAD_CURSOR',
          'this cursor continues a listGrants walk with other side or active filters: repeat them, or start over',
        );
      }
      last = { side: from.side, issuedAt: from.issuedAt, grantId: from.grantId };
    }
    const out: GrantRecord[] = [];
    const page = (): { grants: GrantRecord[]; next?: string } => {
      // A page is cut only after at least one row was passed, so `last` is set here.
      if (last === undefined) return { grants: out };
      const payload: GrantsCursorPayload = { v: 1, k: 'grants', ...last, active };
      if (only !== undefined) payload.only = only;
      return { grants: out, next: encodeCursor(payload) };
    };
    const at = iso();
    let bytes = GRANTS_FRAME_OVERHEAD_BYTES + MAX_CURSOR_CHARS;
    for (const side of sides.slice(last === undefined ? 0 : sides.indexOf(last.side))) {
      const of = side === 'issued' ? { patientId: p.accountId } : { granteeId: p.accountId };
      // Again while rows left out as damaged leave the page short and the side may hold more.
      for (;;) {
        const want = limit - out.length + 1;
        const after = last?.side === side ? { issuedAt: last.issuedAt, grantId: last.grantId } : undefined;
        const rows = await store.grants.listPage(of, {
          limit: want,
          ...(after === undefined ? {} : { after }),
          ...(active ? { unendedAt: at } : {}),
        });
        for (const g of rows) {
          if (out.length >= limit) return page();
          const record = grantRecordOf(g);
          if (record !== null) {
            const size = recordBytes(record);
            if (bytes + size > MAX_FRAME_BYTES && out.length > 0) return page();
            bytes += size;
            out.push(record);
          }
          last = { side, issuedAt: g.issuedAt, grantId: g.grantId };
        }
        if (rows.length < want) break;
      }
    }
    return { grants: out };
  };

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
    decideAndLog,
    grantsFor,
    grantsFrom,
    accessRows,
    explain,
    endedLookups,
    recordGranteeAccess,
    recordRepeatableAccess,
    loggedWrite,
    loggedRepeatableWrite,
    repeatable,
    /** Ends every access window and starts writing its tally (shutdown); `drainAccessLog` waits. */
    stopAccessLog: () => accessWindows.stop(),
    drainAccessLog: () => accessWindows.drain(),
    grantIsActive,
  };
};

export type SyncService = ReturnType<typeof createSyncService>;
