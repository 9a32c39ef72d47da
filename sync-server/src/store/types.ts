/*
 * The sync server's storage interface. The server stores ONLY ciphertext (`ct`, opaque bytes) plus the
 * routing metadata it needs; nothing here can interpret a record.
 *
 * Invariants every implementation must keep (the conformance suite in `conformance.ts` checks them):
 * - Sequence numbers: each stream has its own counter. Every accepted document write gets the stream's
 *   next number (head + 1), so allocation is strictly increasing and gap-free, also when several
 *   server nodes or store instances write the same stream concurrently. (A restore from a backup is the
 *   one exception: it raises heads above everything served before, leaving a gap — see backup.ts.) Only the latest version of a
 *   document is kept, so a superseded version's seq is no longer returned by `readDocs`. A reader never
 *   sees seq n+1 of a stream before seq n is visible (checkpoints never skip a commit).
 * - Durability: a promise that resolves has committed durably (it survives process crash and power loss).
 * - Compare-and-set: a document row is written only if the stored revision tag equals the one the writer
 *   assumed (`null` = "no stored document"); the check and the write are atomic per document. A batch
 *   passed to `writeDocs` commits as a whole or, if the call rejects, not at all; so does a blob write
 *   with the access entries it carries (`AccessEntries`).
 * - Audit: documents of streams whose id ends in `/audit` are append-only. An existing audit document is
 *   never updated or deleted (writes to an existing id answer `append-only`). Each author holds a chain
 *   position (`audit.authorSeq`) of an audit stream at most once: a new audit document at a position its
 *   author already holds in the stream (stored, or earlier in the same batch) answers `position-taken`, and
 *   nothing of its batch is written (the other rows answer `not-written`).
 * - Key epochs: a row with `expectedEpoch` is written only if its stream's current epoch (highest stored
 *   envelope epoch) equals it at commit, checked atomically with the write (`stale-epoch` otherwise), and
 *   so is a new blob manifest with `expectedEpoch` (STALE_EPOCH otherwise); a batch of envelopes
 *   (`envelopes.putAll`) commits as a whole, so no epoch is current half stored.
 * - Notification: `onCommitted` listeners run only after the commit is durable, and may be called for
 *   commits made through other instances sharing the same backend (possibly later, possibly coalesced).
 *   Heads are hints: a listener reads the data with `readDocs`.
 * - No transaction, cursor or connection leaks out of the interface; every method is async.
 *
 * Failure modes: expected failures reject with `StoreError` (`code` below). A closed or unreachable
 * store rejects with UNAVAILABLE; a call that breaks the contract (bad argument, chunk outside its
 * manifest, unreadable backup) with INVALID; anything unexpected with INTERNAL. Opening (or restoring
 * into) a data directory another server process holds rejects with DATA_DIR_IN_USE. A registration whose
 * invite is not usable rejects with INVITE_INVALID, a blob manifest over its account's quota with
 * QUOTA_EXCEEDED, a blob manifest under the id of a deleted blob with DELETED, a new blob manifest whose
 * `expectedEpoch` is not its stream's current key epoch with STALE_EPOCH, all storing nothing.
 */
import type { ShlStore } from './shl-types';
import type {
  Acceptance,
  AccessEntries,
  AccessGuard,
  Account,
  AccountErasure,
  AvailabilityEntry,
  BlobManifest,
  BlobTombstone,
  Challenge,
  CommitListener,
  Device,
  DeviceRenameResult,
  Doc,
  DocPage,
  DocWrite,
  DocWriteResult,
  EndedScope,
  Envelope,
  EnvelopeHolder,
  Grant,
  HeadRow,
  Invite,
  IsoTime,
  JsonObject,
  KeepHeadResult,
  KeptHead,
  ProviderEntry,
  RemoteChange,
  Session,
  StoreHealth,
  StreamHead,
} from './store-records';
import type { BlobQuota } from './store-rules';

export * from './store-records';
export * from './store-errors';
export * from './store-rules';

export interface SyncStore {
  /** Creates or migrates the schema; idempotent. */
  init(): Promise<void>;
  /** Idempotent; afterwards every other call rejects with UNAVAILABLE. */
  close(): Promise<void>;
  health(): Promise<StoreHealth>;

  accounts: {
    /** ALREADY_EXISTS when the id or the login name is taken. */
    put(account: Account): Promise<void>;
    /**
     * Stores a new account and its first device in one atomic step: both or neither. ALREADY_EXISTS when
     * the account id, the login name or the device id is taken, with `details.taken` = 'accountId' |
     * 'loginName' | 'deviceId' (nothing stored); INVALID when the device names another account.
     * With `invite`, the same step also takes one use of the invite whose hash is `codeHash`, which must be
     * usable at `now` (stored, not revoked, `expiresAt` after `now`, a use left) and name no role or the
     * account's: else INVITE_INVALID with `details.reason` (an InviteRefusal; `details.role` for 'role') and
     * nothing is stored or used. The invite is checked before the ids and the login name, so a caller
     * without a usable invite cannot learn which of those are taken. Of concurrent registrations on an
     * invite with n uses left, at most n succeed.
     */
    register(
      account: Account,
      device: Device,
      options?: { readonly invite?: { readonly codeHash: string; readonly now: IsoTime } },
    ): Promise<void>;
    get(accountId: string): Promise<Account | null>;
    getByLogin(loginName: string): Promise<Account | null>;
    /**
     * Replaces the passphrase-wrapped root (passphrase change) with generation `gen`, only if the stored
     * generation is below `gen` (compare-and-set: of two devices changing it at once from the same
     * generation, one wins; a replay or an older generation never lands; a device ahead of a store
     * restored from an older backup may skip generations); CONFLICT otherwise, with the stored generation
     * as `details.gen`; NOT_FOUND when the account does not exist.
     */
    updateWrappedRoot(
      accountId: string,
      next: { readonly wrappedRoot: JsonObject; readonly gen: number; readonly sig: string },
    ): Promise<void>;
    /**
     * Stores the wrapping-key signature of an account (the caller has verified it against the stored
     * keys), replacing any earlier one; NOT_FOUND when the account does not exist.
     */
    setWrappingKeySig(accountId: string, sig: string): Promise<void>;
    /**
     * Stores the role signature of an account registered without one (the caller has verified it against
     * the stored account); an account that holds one keeps it (no error: the first signature taken is the
     * one relayed for good). NOT_FOUND when the account does not exist.
     */
    setRoleSig(accountId: string, sig: string): Promise<void>;
    /**
     * Adds the identity signature (the caller has verified it) to the stored wrap, only while that is still
     * generation `gen` with exactly `wrappedRoot` (same JSON) and unsigned; a wrap already signed keeps its
     * signature (no error). CONFLICT, with the stored generation as `details.gen`, when the stored
     * generation or wrap is another; NOT_FOUND when the account does not exist.
     */
    setWrappedRootSig(
      accountId: string,
      expected: { readonly wrappedRoot: JsonObject; readonly gen: number; readonly sig: string },
    ): Promise<void>;
    /**
     * Erases the account for good, in one atomic step: the documents of its streams (audit included), their
     * heads and key envelopes, envelopes addressed to it, its files (manifests, chunks, tombstones), grants
     * it gave or received, accepted patients, links, directory entry, sessions, challenges, devices and the
     * account itself. Answers what was erased, with the device ids (to close their connections) and the
     * grantees whose grants ended (their grant-change positions are bumped in the same step); NOT_FOUND
     * when the account does not exist. Optional: a store without it cannot erase accounts. A store that
     * cannot delete it all atomically (CouchDB, couch/erase.ts) makes the account absent in one atomic step
     * and finishes the deletion from a kept intent, also after a crash.
     */
    erase?(accountId: string): Promise<AccountErasure>;
  };

  devices: {
    /** ALREADY_EXISTS on a duplicate id; NOT_FOUND when the account does not exist. */
    put(device: Device): Promise<void>;
    get(deviceId: string): Promise<Device | null>;
    listForAccount(accountId: string): Promise<Device[]>;
    /**
     * Marks the device revoked with the account's signed `revocation` (the first revocation time and
     * signed revocation are kept) and, in the same atomic step, deletes its sessions and pending
     * challenges. NOT_FOUND when the device does not exist.
     */
    revoke(deviceId: string, revokedAt: IsoTime, revocation: JsonObject): Promise<Device>;
    /**
     * Keeps `record` (a SignedDeviceName the caller has verified, stored as given) as the device's name
     * record at `seq` (its `name.seq`, a positive integer), compare-and-set in one atomic step: stored only
     * when `seq` is above the stored one (0 for a device never renamed), replacing it (`stored`). Else
     * nothing is written: `same` when the stored record at `seq` is this very record (same JSON value; a
     * retry), `conflict` with the stored seq otherwise (an older or another record). `revoked` for a
     * revoked device, whatever the seq. NOT_FOUND when the device does not exist; INVALID for a `seq` that
     * is not a positive integer.
     */
    rename(deviceId: string, record: JsonObject, seq: number): Promise<DeviceRenameResult>;
  };

  challenges: {
    /** ALREADY_EXISTS on a duplicate id. */
    put(challenge: Challenge): Promise<void>;
    /** Returns the challenge once and deletes it atomically; every later take returns null. */
    take(challengeId: string): Promise<Challenge | null>;
    /** Deletes challenges with expiresAt <= now; returns how many. */
    deleteExpired(now: IsoTime): Promise<number>;
  };

  sessions: {
    /** ALREADY_EXISTS on a duplicate token hash; NOT_FOUND when the device or account does not exist. */
    put(session: Session): Promise<void>;
    /** Null when unknown or when its device is revoked. Expiry is the caller's check. */
    get(tokenHash: string): Promise<Session | null>;
    deleteForDevice(deviceId: string): Promise<number>;
    /** Deletes sessions with expiresAt <= now; returns how many. */
    deleteExpired(now: IsoTime): Promise<number>;
  };

  grants: {
    /**
     * `now` is the server's receive time, which `countStoredSince` counts by (a grant's own times are the
     * patient's); the server always gives it. Without it (tools, tests) the grant is stored with no
     * receive time, and no window counts it. ALREADY_EXISTS on a duplicate id;
     * NOT_FOUND when the patient or grantee account does not exist.
     */
    put(grant: Grant, now?: IsoTime): Promise<void>;
    get(grantId: string): Promise<Grant | null>;
    /**
     * All grants (also revoked and expired), oldest issued first. Unbounded: ended grants pile up over
     * time, so request paths use `listUnended` / `listEnded` / `endedScopes` instead.
     */
    listForPatient(patientId: string): Promise<Grant[]>;
    listForGrantee(granteeId: string): Promise<Grant[]>;
    /**
     * The grants unended at `now` (as `countUnended` counts them) that `patientId` issued or `granteeId`
     * received, oldest issued first (ties by id). Bounded by the caps on unended grants (limits.ts) however
     * many ended ones are stored: access decisions load these only. INVALID unless exactly one of the two is given.
     */
    listUnended(of: { patientId?: string; granteeId?: string }, now: IsoTime): Promise<Grant[]>;
    /**
     * One page of the grants unended at `now` (as `listUnended`) that `granteeId` received, by patient in the
     * order of their stream ids (`${patientId}/`, code-unit order; account ids hold no `/`), then oldest
     * issued first (ties by id); with `after`, only those whose `${patientId}/` sorts strictly after it
     * (any string: the id of the last stream a `listStreams` page listed). At most `limit`. Keyset paging:
     * a page of streams reads the grants of the patients it lists, however many the grantee received;
     * revoked and expired grants are skipped without being read. INVALID when `limit` is not a non-negative
     * integer.
     */
    listUnendedByPatient(
      granteeId: string,
      now: IsoTime,
      page: { after?: string; limit: number },
    ): Promise<Grant[]>;
    /**
     * The grants unended at `now` (as `listUnended`) that `granteeId` received from the patients
     * `patientIds` (any order; repeats count once), in the order of `listUnendedByPatient`: within one
     * patient the order of `listUnended`. What deciding on those patients' streams needs, read without the
     * grantee's other grants. INVALID when an id is not a non-empty string.
     */
    listUnendedFrom(granteeId: string, patientIds: readonly string[], now: IsoTime): Promise<Grant[]>;
    /**
     * The grants ended at `now` (revoked, or `expiresAt` at or before `now`) that `patientId` issued or
     * `granteeId` received, newest issued first (ties by id, descending), at most `limit`. INVALID unless
     * exactly one of the two is given, or when `limit` is not a non-negative integer.
     */
    listEnded(of: { patientId?: string; granteeId?: string }, now: IsoTime, limit: number): Promise<Grant[]>;
    /**
     * One page of the grants `patientId` issued or `granteeId` received, newest issued first (`issuedAt`,
     * then `grantId`, descending: a key no grant changes), only those strictly after `after` in that order
     * when given, and with `unendedAt` only those unended then (as `countUnended` counts them); at most
     * `limit`. Keyset paging (`listGrants` pages): no offset, so a grant present throughout a walk is read
     * exactly once. INVALID unless exactly one of the two ids is given, or when `limit` is not a
     * non-negative integer.
     */
    listPage(
      of: { patientId?: string; granteeId?: string },
      page: { after?: { issuedAt: IsoTime; grantId: string }; unendedAt?: IsoTime; limit: number },
    ): Promise<Grant[]>;
    /**
     * What the grants from `patientId` to `granteeId` that are ended at `now` covered — the `limit` newest
     * issued of them (ties by id, descending), so the cost stays bounded however many are stored — to
     * explain a refusal: one entry per (stream type named in such a grant's scope, revoked), `revoked` true
     * for a revoked grant and false for an expired one that was never revoked. No order, no duplicates.
     * INVALID when `limit` is not a non-negative integer.
     */
    endedScopes(
      pair: { patientId: string; granteeId: string },
      now: IsoTime,
      limit: number,
    ): Promise<EndedScope[]>;
    /** How many grants from `patientId` to `granteeId` were put with a `now` after `since`. */
    countStoredSince(pair: { patientId: string; granteeId: string }, since: IsoTime): Promise<number>;
    /**
     * Which grantees' grants changed (put, or revoked) after change position `since` — also through other
     * instances sharing the backend — and the position to ask from next time. Positions only grow, except
     * when the store is restored from a backup: a position lower than one seen before means "anything may
     * have changed". `since` 0 lists every grantee that ever had a change.
     */
    changesSince(since: number): Promise<{ position: number; granteeIds: string[] }>;
    /**
     * How many grants are unended at `now` (not revoked and `expiresAt` after `now`; one that has not
     * started yet counts) among the grants `patientId` issued, those `granteeId` received, or — both given —
     * those between the two. INVALID when neither is given.
     */
    countUnended(of: { patientId?: string; granteeId?: string }, now: IsoTime): Promise<number>;
    /**
     * How many of the grants `granteeId` received are unended at `now` (as `countUnended` counts them) and
     * from a patient `granteeId` has not accepted (`acceptances`): what its cap on grants from strangers
     * counts. Equals `countUnended({ granteeId }, now)` for a grantee that accepted nobody.
     */
    countUnendedNotAccepted(granteeId: string, now: IsoTime): Promise<number>;
    /**
     * Records the revocation (the first one is kept); NOT_FOUND when the grant does not exist. A grant
     * already ended by a revocation or a replacement (`supersede`) is answered as stored, unchanged.
     */
    revoke(grantId: string, revokedAt: IsoTime, revocation: JsonObject): Promise<Grant>;
    /**
     * Stores `grant` (as `put`, `now` its receive time) and ends the grant `supersedes` names, in one
     * transaction: that one gets `revokedAt` = `now` and `supersededBy` = `grant.grantId`, and gives no
     * access from then on, as a revoked grant. Only when that grant exists, has `grant`'s patient and
     * grantee, and is unended at `now` (not revoked, not replaced, `expiresAt` after `now`); else
     * 'not-supersedable' and nothing is written, so of two replacing the same grant at once exactly one is
     * stored. ALREADY_EXISTS on a duplicate id (checked first); INVALID when `supersedes` is `grant`'s own id
     * or a text is empty. One change for `changesSince`.
     */
    supersede(grant: Grant, supersedes: string, now: IsoTime): Promise<'stored' | 'not-supersedable'>;
  };

  acceptances: {
    /**
     * Records that `granteeId` accepts `patientId` (answers 'added'), unless it already does ('kept':
     * nothing changes, the first `acceptedAt` stays), and only while `granteeId` has accepted fewer than
     * `max` patients ('full': nothing stored). The count and the write are one atomic step, so concurrent
     * puts never take a grantee past `max`. NOT_FOUND when either account does not exist; INVALID when the
     * two are one account or `max` is not a non-negative integer.
     */
    put(acceptance: Acceptance, max: number): Promise<'added' | 'kept' | 'full'>;
    /** Removes the acceptance; answers whether there was one. */
    delete(granteeId: string, patientId: string): Promise<boolean>;
    /** Whether `granteeId` accepted `patientId`. */
    has(granteeId: string, patientId: string): Promise<boolean>;
    /** How many patients `granteeId` accepted. */
    count(granteeId: string): Promise<number>;
    /**
     * One page of the patients `granteeId` accepted, by patient id ascending, only those strictly after
     * `after` when given; at most `limit` (keyset paging, as `grants.listPage`). INVALID when `limit` is not
     * a non-negative integer.
     */
    listPage(granteeId: string, page: { after?: string; limit: number }): Promise<Acceptance[]>;
  };

  docs: {
    /**
     * Compare-and-set writes, one result per row in input order. The batch commits in one atomic step;
     * rows of the same batch see the effect of earlier rows. A batch with a row at an audit chain position
     * already held (`position-taken`, see the header) writes nothing: its other rows answer `not-written`.
     * With `maxMasterBytes`, the stored versions the batch's conflicts answer (`master`, `ct` bytes summed;
     * the batch's first one always) must fit in it: a batch whose do not rejects TOO_LARGE and writes
     * nothing, and no master past the bound is loaded. With `guard`, its check runs first (AccessGuard).
     * A row marked `expectRefused` that would be written rejects the batch CONFLICT, writing nothing.
     */
    writeDocs(
      rows: DocWrite[],
      now: IsoTime,
      maxMasterBytes?: number,
      guard?: AccessGuard,
    ): Promise<DocWriteResult[]>;
    /**
     * One page of `stream` after `since`: at most `limit` documents, stopping before the summed
     * `ct.byteLength` would exceed `maxBytes` — but at least one document when any exists.
     */
    readDocs(stream: string, since: number, limit: number, maxBytes: number): Promise<DocPage>;
    getDoc(stream: string, id: string): Promise<Doc | null>;
    /** Heads in input order; 0 for streams never written. */
    streamHeads(streams: string[]): Promise<StreamHead[]>;
    /**
     * The document of `author` in `stream` carrying an audit header with the highest chain position
     * (`audit.authorSeq`), or null when there is none: where the author's chain ends, whatever order its
     * entries were stored in (a device sends entries acknowledged before a restore again after newer ones,
     * so its latest by seq need not be its highest). The one definition of a chain's end: the server
     * continues its own hash chain from it and names a device's from it (a position refusal's `chainEnd`),
     * by the same positions `writeDocs` refuses as `position-taken`. Cost does not grow with the stream's or
     * the author's other documents.
     */
    auditChainEnd(stream: string, author: string): Promise<Doc | null>;
    /**
     * How many documents carrying an audit header every device of account `accountId` (revoked ones
     * included) authored in `stream` whose server receive time (`at`) is `since` or later, and the earliest
     * such time (null when none): what the sync service caps an account's appends to one audit stream by.
     * Authors that are no device of the account (the server, other accounts' devices) are not counted.
     * Cost grows with the account's devices and the count answered, never with the stream's other
     * documents.
     */
    auditEntriesOfAccountSince(
      stream: string,
      accountId: string,
      since: IsoTime,
    ): Promise<{ count: number; first: IsoTime | null }>;
  };

  /**
   * Signed stream heads (docs/architecture.md): per stream at most one statement, the one at the highest
   * seq, with the rows it covers, replaced as a whole.
   */
  /** SMART Health Links: routing, limits, ciphertext and access log (shl-types.ts). */
  shl: ShlStore;
  heads: {
    /**
     * The stream's current seq (0 for one never written) and every document's (id, rev, deleted), by id,
     * read in one step: what a statement at that seq must cover.
     */
    rows(stream: string): Promise<{ seq: number; rows: HeadRow[] }>;
    /**
     * Keeps `head` and its `rows` in place of the stream's kept statement, in one atomic step, only if the
     * stream's current seq is still `head.seq` (else `moved`) and no statement at a higher seq is kept
     * (else `stale`); one at the same seq is replaced. INVALID for a row named twice.
     */
    keep(head: KeptHead, rows: readonly HeadRow[]): Promise<KeepHeadResult>;
    /**
     * The kept statement of `stream` and at most `limit` of its rows by id, strictly after `after`, read in
     * one step (a page never mixes two statements); null when none is kept.
     */
    get(
      stream: string,
      after: string | undefined,
      limit: number,
    ): Promise<{ head: KeptHead; rows: HeadRow[] } | null>;
  };

  envelopes: {
    /**
     * Idempotent on (stream, epoch, recipient): the first envelope stays, except that one whose creator is a
     * revoked device is replaced by one of the same key id created by an active device of the same account
     * (a patient device signing anew what a revoked one signed: devices no longer take the revoked
     * device's signature). `created` says if this one was stored (also in place of another).
     */
    put(envelope: Envelope): Promise<{ created: boolean }>;
    /**
     * Stores each envelope as `put` does, in one atomic step: all of them or, if the call rejects, none (a
     * key rotation is its envelopes together; one alone moves `currentEpoch`). One result per envelope, in
     * input order; a later envelope of the batch with the key of an earlier one answers `created: false`.
     */
    putAll(envelopes: readonly Envelope[]): Promise<Array<{ created: boolean }>>;
    /**
     * Envelopes for `recipient`, optionally only for `streams`, ordered by stream then epoch; at most
     * `limit` when given. Reads only the recipient's rows of those streams (never other recipients' rows of
     * them, nor its rows of other streams). INVALID when `limit` is not a non-negative integer.
     */
    list(recipient: string, streams?: string[], limit?: number): Promise<Envelope[]>;
    /** Highest epoch with any envelope, or null when the stream has none. */
    currentEpoch(stream: string): Promise<number | null>;
    /** `currentEpoch` of each of `streams`, in the same order, read at once. */
    currentEpochs(streams: string[]): Promise<Array<number | null>>;
    /**
     * Who holds which epoch of `streams`: (stream, epoch, recipient) of each envelope and the device that
     * created it, no key material, ordered by stream, epoch, recipient; at most `limit` rows.
     */
    holders(streams: string[], limit: number): Promise<EnvelopeHolder[]>;
  };

  blobs: {
    /**
     * No-op when a manifest with the same blobId, stream, size, chunkSize, chunkCount and digests exists
     * (whoever announces it, whenever: the stored createdBy/createdAt stay those of the first; it reserves
     * nothing new, so no quota refuses it); ALREADY_EXISTS when one differing in any of those exists.
     * With `quota`, a new manifest is stored only if `usage(quota.accountId)` plus what it reserves stays
     * within `quota.maxBytes`, checked and stored in one atomic step (two uploads cannot both take the
     * same room); otherwise QUOTA_EXCEEDED with details `{ usedBytes, requestedBytes, quotaBytes }` and
     * nothing is stored. `manifest.createdBy` must then be a device of `quota.accountId`.
     * DELETED (details `{ deletedAt }`), storing nothing, when a blob with this id was deleted (`delete`)
     * from the same stream; ALREADY_EXISTS when from another (as for a live blob there, so the deletion is
     * told only on its own stream). Checked in the same atomic step, so a delete and a re-announcement
     * racing end with the blob deleted. With `guard`, its check runs first in that step (AccessGuard).
     * With `expectedEpoch` (the key epoch the chunks are sealed under), a new manifest is stored only if
     * the stream's current epoch (`envelopes.currentEpoch`, 0 for a stream without envelopes), read in the
     * same atomic step, is still this one; otherwise STALE_EPOCH with details `{ epoch }` (the current
     * one) and nothing is stored, so no rotation stored before that step is passed by a new blob sealed
     * under the key it replaced. Checked after the deletion and the existing manifest, before the quota:
     * an identical stored manifest stays a no-op whatever `expectedEpoch` says (its sealed bytes were
     * committed, and its epoch checked, when it was first stored).
     */
    putManifest(
      manifest: BlobManifest,
      options?: { quota?: BlobQuota; guard?: AccessGuard; expectedEpoch?: number },
    ): Promise<void>;
    getManifest(blobId: string): Promise<BlobManifest | null>;
    /**
     * Bytes the manifests created by the devices of `accountId` (revoked ones included) reserve, each
     * `blobQuotaBytes(manifest)`, whether or not their chunks arrived yet: the account's blob usage.
     */
    usage(accountId: string): Promise<number>;
    /**
     * Stores chunk `index`. NOT_FOUND without a manifest; INVALID when the index is outside the manifest or
     * the length does not fit the manifest: a stored chunk is the *sealed* form of `chunkSize` plaintext
     * bytes (the remainder for the last chunk), so it may exceed that by at most BLOB_CHUNK_OVERHEAD_BYTES;
     * no-op when the identical chunk exists, ALREADY_EXISTS when a different one does. Digests are the
     * caller's check. With `guard`, its check runs first, in the same atomic step (AccessGuard); with
     * `entries`, they are written in that step too (AccessEntries), also when the chunk was stored already.
     */
    putChunk(
      blobId: string,
      index: number,
      bytes: Uint8Array,
      guard?: AccessGuard,
      entries?: AccessEntries,
    ): Promise<void>;
    getChunk(blobId: string, index: number): Promise<Uint8Array | null>;
    /** Indexes of the stored chunks, ascending. */
    chunkIndexes(blobId: string): Promise<number[]>;
    /**
     * Removes the manifest of `blobId` and every stored chunk of it (complete or not) and keeps its
     * tombstone, in one atomic step; answers the tombstone. From then on `getManifest` and `getChunk`
     * answer null, `usage` no longer counts it, and the freed storage holds none of its bytes (an
     * implementation overwrites or releases them; it never leaves them readable in its files).
     * NOT_FOUND without a manifest: never stored, or already deleted. With `guard`, its check runs first,
     * in the same atomic step (AccessGuard); with `entries`, they are written in that step too
     * (AccessEntries).
     */
    delete(
      blobId: string,
      deletion: { deletedBy: string; deletedAt: IsoTime },
      guard?: AccessGuard,
      entries?: AccessEntries,
    ): Promise<BlobTombstone>;
    /** The tombstone of a deleted blob, or null (never deleted). */
    getTombstone(blobId: string): Promise<BlobTombstone | null>;
  };

  directory: {
    /** Inserts or replaces the entry of `accountId`. */
    putProvider(entry: ProviderEntry): Promise<void>;
    /**
     * Case-insensitive substring match on displayName, specialty, clinic or identifier; by displayName
     * (ASCII case folded, as SQLite's NOCASE), then accountId. With `after`, only entries strictly after
     * that (displayName, accountId) in this order (keyset paging of directory searches).
     */
    searchProviders(
      q: string,
      limit: number,
      after?: { displayName: string; accountId: string },
    ): Promise<ProviderEntry[]>;
  };

  availability: {
    /**
     * Stores `entry` when its version is above the stored one (or none is stored), compared and written in
     * one step. Answers `stored`; `same` for the stored document again (same version, same content); else
     * `stale` with the stored version (nothing written).
     */
    put(entry: AvailabilityEntry): Promise<{ outcome: 'stored' | 'same' | 'stale'; version: number }>;
    /** The stored entry of `accountId`, or null. */
    get(accountId: string): Promise<AvailabilityEntry | null>;
  };

  invites: {
    /** ALREADY_EXISTS when an invite with this hash exists; INVALID for counts or times out of range. */
    put(invite: Invite): Promise<void>;
    /** Every invite (revoked, expired and used-up ones too), newest created first (ties by hash). */
    list(): Promise<Invite[]>;
    /**
     * Marks the invite revoked (the first revocation time is kept) and returns it; NOT_FOUND when no invite
     * has this hash. A revoked invite admits no registration.
     */
    revoke(codeHash: string, revokedAt: IsoTime): Promise<Invite>;
  };

  meta: {
    get(key: string): Promise<string | null>;
    put(key: string, value: string): Promise<void>;
  };

  /**
   * What the server process records about itself, for tools that read the store without it (e.g. the
   * registration mode of its last start, for `hale-sync-server invite`). Unlike `meta`, none of it is the
   * store's identity or a secret. `put` replaces the key's value and its time in one atomic step (INVALID
   * when `at` is empty); `get` answers the last value put and its `at`, or null (never put).
   */
  serverState: {
    get(key: string): Promise<{ value: string; at: IsoTime } | null>;
    put(key: string, value: string, at: IsoTime): Promise<void>;
  };

  /** Subscribes to committed `writeDocs` batches (new heads of the streams they advanced); returns unsubscribe. */
  onCommitted(listener: CommitListener): () => void;

  /**
   * Optional, for stores that several server nodes share (the CouchDB store): subscribes to changes
   * committed through other instances that live connections must follow at once (RemoteChange); changes made
   * through this instance are not told (the caller acted on them). Returns unsubscribe.
   */
  onRemoteChange?(listener: (change: RemoteChange) => void): () => void;
}
