/**
 * Size and time limits of the wire protocol. Both sides enforce them: a device never sends a frame
 * that breaks one (it splits batches instead) and the server refuses any that does (TOO_LARGE or
 * BAD_MESSAGE). Raising a limit is a protocol change; lowering one breaks old clients.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** Protocol version this build speaks natively. */
export const PROTOCOL_VERSION = 16;
/** Every version this build can speak, oldest first. */
export const SUPPORTED_VERSIONS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
/**
 * First version in which the server tells a device the account's passphrase-wrap generation
 * (`ready.wrappedRootGen`, `wrappedRootChanged`). Frames are closed objects, so a version-1 client would
 * refuse the extra field and frame: the server sends them only on connections that negotiated this or later.
 */
export const WRAPPED_ROOT_GEN_VERSION = 2;
/**
 * First version with `listKeyHolders` → `keyHolders`: the patient asks which accounts hold which key
 * epochs of its own streams, so any of its devices can finish wraps a lost device left undone. A device
 * sends it only on a connection of this version or later (an older server refuses the unknown frame).
 */
export const KEY_HOLDERS_VERSION = 3;
/**
 * First version in which `ready` carries the store's `incarnation`, which changes when the server's store
 * is restored from a backup (`incarnationAction`). Sent only on connections of this version or later:
 * frames are closed objects, so a device built before the tolerant decoder would refuse the field.
 */
export const INCARNATION_VERSION = 4;
/**
 * First version in which `listGrants` answers one page (paging.ts): the request may carry `cursor`,
 * `limit`, `side` and `active`, the answer `next`. On older connections the answer stays the bounded list
 * it always was, with no `next` (a client built before would refuse the field), and a request carrying a
 * paging field is refused (BAD_MESSAGE). Over HTTP, where nothing is negotiated, a device pages the
 * directory only against a server whose `GET /v1/server` `versions` include it.
 */
export const PAGING_VERSION = 5;
/**
 * First version whose server keeps the identity signature over generation 0 of the account's passphrase
 * wrap: `POST /v1/accounts` may carry `wrappedRootSig`, and `PUT /v1/accounts/me/wrapped-root` takes
 * `gen: 0` (the signature of an account registered without one, over the wrap the server holds). HTTP only:
 * a device sends either only to a server whose `GET /v1/server` `versions` include it (an older one refuses
 * both as BAD_MESSAGE). The socket is unchanged.
 */
export const WRAPPED_ROOT_SIG_VERSION = 6;
/**
 * First version with `acceptPatient` → `ok` and `listAccepted` → `acceptedPatients`: a provider accepts
 * patients, whose grants to it then no longer count toward MAX_ACTIVE_GRANTS_PER_GRANTEE (see the caps
 * below). A device sends either only on a connection of this version or later; the server refuses both
 * below it (BAD_MESSAGE), as an older server refuses the unknown frames.
 */
export const ACCEPTANCE_VERSION = 7;
/**
 * First version in which `listStreams` answers one page (paging.ts): the request may carry `cursor` and
 * `limit` (at most MAX_STREAMS_PAGE), the answer `next`; without `limit` a page holds DEFAULT_STREAMS_PAGE
 * streams, so no answer outgrows MAX_FRAME_BYTES however many patients an account follows. The same version
 * as ACCEPTANCE_VERSION: acceptance is what lets a provider's list outgrow one frame. Below it the server
 * answers the one whole list it always did (no `next`: an older client would refuse the field) and refuses
 * a request carrying a paging field (BAD_MESSAGE).
 */
export const STREAMS_PAGING_VERSION = 7;
/**
 * First version in which a push's `conflict` may carry `keptFrom`: the stored version was in the store
 * when it was last restored from a backup (not stored since), and the backup was of the store of that
 * incarnation. After a restore onto an empty disk stream positions restart from the backup's, so a device
 * cannot tell from a version's seq whether it was stored before the restore or since: this tells it. Sent
 * only on connections of this version or later (frames are closed objects).
 */
export const KEPT_FROM_VERSION = 8;
/**
 * First version in which a `keyHolders` row names the device that created the envelope (`createdBy`), and
 * whose server stores an envelope signed by an active device of the patient in place of one with the same
 * key id whose creator the account revoked: so a patient device signs anew what a revoked device signed,
 * which no device takes any more. Sent only on connections of this version or later (frames are closed
 * objects); an older server stores nothing in place of an envelope it holds.
 */
export const KEY_HOLDER_CREATORS_VERSION = 9;
/**
 * First version in which a `StreamAccess` row (`streams`, `accessChanged`) may carry `readExpiresAt`: when
 * reading ends, where a read grant outlasts the write grant that describes the stream. Without it a device
 * knows only the write grant's end, and takes it for the end of all access (purging what it may still
 * read). Sent only on connections of this version or later (frames are closed objects); below it, the row
 * as it always was.
 */
export const READ_EXPIRES_VERSION = 10;
/**
 * First version in which a push's `error` may carry `chainEnd`: on the APPEND_ONLY refusal of an audit entry
 * at a chain position its device already holds (its chain state went back: restored from an app-data
 * backup), where the server holds that device's chain end in the stream, so the device continues after it
 * instead of giving its entries up. Sent only on connections of this version or later (frames are closed
 * objects); below it, the refusal as it always was.
 */
export const AUDIT_CHAIN_END_VERSION = 11;
/**
 * First version whose server takes `epoch` in a blob announce (`POST /v1/blobs`): the stream key epoch the
 * chunks are sealed under, so a new manifest under a replaced epoch is refused (STALE_EPOCH, nothing stored).
 * HTTP only: a device sends it only to a server whose `GET /v1/server` `versions` include this (an older one
 * refuses the field as BAD_MESSAGE), and announces without it otherwise. A server of this version stores an
 * announce without `epoch` (a device built before it) unchecked: that weakens the check only for that
 * device's own files (a writer holds the keys and could seal under any of them anyway; the check keeps
 * honest devices from sealing under their own stale view of the stream).
 */
export const BLOB_EPOCH_VERSION = 12;
/**
 * First version whose server keeps and relays the identity signature over the account's role
 * (`roleSignaturePayload`): `POST /v1/accounts` may carry `roleSig`, and the account answer relays it, so
 * a joining device refuses a relayed role (patient or provider) the account did not sign; an account
 * registered without it publishes it beside its wrapping-key signature (`PUT /v1/accounts/me/wrapping-key`
 * with `roleSig`), taken only when it verifies over the stored role and never replacing one held. HTTP
 * only: a device sends `roleSig` (either route) only to a server whose `GET /v1/server` `versions` include
 * this (an older one refuses the field as BAD_MESSAGE); any device reads the relayed field (an older one
 * drops it). The socket is unchanged.
 */
export const ROLE_SIG_VERSION = 13;
/**
 * First version with signed stream heads: `putHead` (a patient device's signed statement of a stream's
 * state) → `ok`, and `getHead` → `head` (the newest statement the server accepted, with its leaf list in
 * pages). A device sends either only on a connection of this version or later; the server refuses both below
 * it (BAD_MESSAGE), as an older server refuses the unknown frames.
 */
export const HEAD_VERSION = 14;
/**
 * First version whose server takes a push row's `group` (PushRow): the rows of one user action (a note's
 * header and its text) that the server stores all or none. Every row of a group travels in one push frame;
 * if any is refused (or conflicts), none is stored, and the others answer GROUP_REFUSED. A device sends
 * `group` only on a connection of this version or later (an older server refuses the field as BAD_MESSAGE).
 */
export const GROUP_VERSION = 15;
/**
 * First version with changed grants: a grant may name in `supersedes` an unended grant of the same patient
 * to the same grantee, which the server ends as it stores the new one (GRANT_NOT_SUPERSEDABLE otherwise,
 * nothing stored), and a `grants` record may carry `supersededBy`, the signed grant that replaced it. A
 * device sends `supersedes` only on a connection of this version or later (the server refuses it below, as
 * an older server refuses the field: BAD_MESSAGE). Below it the server lists no grant that carries
 * `supersedes` (such a device could not verify it) and no `supersededBy`: a replaced grant is listed ended
 * (`revokedAt`) as the server's word only.
 */
export const GRANT_SUPERSEDE_VERSION = 16;
/**
 * Most leaves one `head` answer carries (one per record of the stream, tombstones too; ≈90 bytes and ≈10
 * structural characters each: ≈0.9 MB and ≈100,000 tokens a page, within MAX_FRAME_BYTES and
 * MAX_SERVER_FRAME_TOKENS). A longer list is paged by record id (`getHead.after`, `head.next`).
 */
export const MAX_HEAD_LEAVES_PAGE = 10_000;
/** Most leaves a statement may count (`n`): records of one stream, tombstones included. */
export const MAX_HEAD_LEAVES = 10_000_000;
/** Most streams named in one `listKeyHolders` request (a patient has one stream per record type). */
export const MAX_KEY_HOLDER_STREAMS = 64;
/** Most (stream, epoch, recipient) rows in one `keyHolders` answer; the server refuses TOO_LARGE beyond. */
export const MAX_KEY_HOLDERS = 20_000;
/**
 * Most key epochs a stream may have: `putEnvelopes` refuses an envelope of epoch MAX_STREAM_EPOCHS or
 * above (TOO_LARGE), storing nothing of the frame. A rotation a day for 27 years; what it bounds is what
 * one account can be sent per stream: the envelopes of one recipient for one stream (one per epoch) then
 * always fit one `envelopes` answer: ≈5.2 MiB at a real envelope's size, ≈6.2 MiB at the largest the
 * schema allows, against MAX_FRAME_BYTES (8 MiB; sync-server envelope-bounds.test.ts measures both).
 */
export const MAX_STREAM_EPOCHS = 10_000;

/** Largest WebSocket text frame, in UTF-8 bytes. Checked before the frame is parsed. */
export const MAX_FRAME_BYTES = 8 * MiB;
/**
 * Most structural characters (`{`, `[`, `,`, `:` outside strings: one per object, array, member and
 * element, about) a frame a device sends may hold, counted before it is parsed; and how deep its objects
 * and arrays may nest. The most any client frame's schema allows is ≈75,000 (`putEnvelopes`:
 * MAX_STREAMS_PER_REQUEST envelopes; frame-bounds.test.ts derives it from the schemas) and a depth of 6.
 * JSON.parse costs by values, not bytes: an 8 MiB frame of a million tiny members, or of millions of
 * empty arrays, or nested millions deep, held the server's one thread for a second or more each, where a
 * frame of one long string of the same size takes milliseconds. Such a frame is refused unparsed.
 */
export const MAX_CLIENT_FRAME_TOKENS = 256 * 1024;
export const MAX_CLIENT_FRAME_DEPTH = 32;
/**
 * The same bounds for what a device reads from a server: a `grants` answer may hold ≈1,480,000 (5,000
 * replaced grants with their scopes, each with its successor's; frame-bounds.test.ts derives it from the
 * schemas; a server sends `supersededBy` only in pages of at most MAX_GRANTS_PAGE, ≈300,000), and nothing
 * nests deeper than 7. Past them a frame is refused unparsed, so a broken or hostile server cannot hold a
 * device's thread for seconds with one frame nested millions deep.
 */
export const MAX_SERVER_FRAME_TOKENS = 1536 * 1024;
/**
 * Largest frame a device may send before it has received `ready` (hello and auth are at most ~200 bytes
 * even with all MAX_OFFERED_VERSIONS versions; the rest is room for whitespace). The server refuses a
 * larger one from its header, before buffering it, and closes the socket (1009): a socket nobody has
 * authenticated must not make the server hold megabytes.
 */
export const MAX_HANDSHAKE_FRAME_BYTES = 4 * KiB;
/** Largest sealed record (`WireDoc.ct`), in decoded bytes. */
export const MAX_DOC_BYTES = 1 * MiB;
/** Most documents in one push or one pulled/changes frame. */
export const MAX_BATCH_DOCS = 1000;
/**
 * Most decoded ciphertext bytes in one push, pull answer or changes frame. Base64url inflates by 4/3,
 * so a full batch (5.4 MiB of text) plus per-document metadata stays under MAX_FRAME_BYTES.
 */
export const MAX_BATCH_BYTES = 4 * MiB;
/** Most streams named in one pull, subscribe, unsubscribe or getEnvelopes request. */
export const MAX_STREAMS_PER_REQUEST = 5000;
/** Plaintext bytes per blob chunk that clients use unless they choose smaller. */
export const DEFAULT_CHUNK_BYTES = 1 * MiB;
/** Smallest plaintext chunk a blob may be cut into (keeps a manifest's digest list short). */
export const MIN_CHUNK_BYTES = 64 * KiB;
/** Headroom for sealing a chunk (version byte, nonce, MAC, bound context). */
export const CHUNK_SEAL_OVERHEAD_BYTES = 1 * KiB;
/** Largest sealed chunk accepted by `PUT /v1/blobs/:blobId/chunks/:index`. */
export const MAX_CHUNK_BYTES = DEFAULT_CHUNK_BYTES + CHUNK_SEAL_OVERHEAD_BYTES;
/** Largest blob (plaintext bytes). */
export const MAX_BLOB_BYTES = 256 * MiB;
/** Most chunks of one blob (a blob cut at MIN_CHUNK_BYTES). */
export const MAX_BLOB_CHUNKS = MAX_BLOB_BYTES / MIN_CHUNK_BYTES;
/** Largest HTTP request body, JSON or raw chunk. */
export const MAX_HTTP_BODY_BYTES = 2 * MiB;
/** How long an authentication challenge nonce stays usable. */
export const CHALLENGE_TTL_MS = 60_000;
/** How long an authenticated session (WebSocket or bearer token) lasts before re-authentication. */
export const SESSION_TTL_MS = 15 * 60_000;
/** Most protocol versions a client may offer in `hello`. */
export const MAX_OFFERED_VERSIONS = 16;
/** Most issues listed in the `details` of a BAD_MESSAGE error. */
export const MAX_REPORTED_ISSUES = 10;
/**
 * Most grants in one `grants` answer: the bound its schema has always had (the value of
 * MAX_STREAMS_PER_REQUEST). The server never builds a larger answer, nor one over MAX_FRAME_BYTES: it
 * lists the grants the caller issued first (unended ones, then ended ones newest first), then the grants
 * it received in the same order, and stops before either bound. Received grants are other accounts'
 * doing, so they only ever fill the room the caller's own grants leave.
 */
export const MAX_LISTED_GRANTS = 5000;
/**
 * Caps on unended grants (not revoked, `expiresAt` still ahead; one not started yet counts), checked by
 * the server on every `grant` and refused with TOO_MANY_GRANTS, storing nothing. A grant needs no
 * agreement from its grantee, so these bound what a stranger can impose on an account: at most
 * MAX_ACTIVE_GRANTS_PER_PAIR from any one patient, MAX_ACTIVE_GRANTS_PER_GRANTEE from all together.
 * MAX_ACTIVE_GRANTS_PER_PATIENT bounds what one patient issues, so the unended grants it issued (≤ ~4 KiB
 * each at the largest) always fit one `grants` answer whole.
 * MAX_ACTIVE_GRANTS_PER_GRANTEE counts only grants from patients the grantee has not accepted
 * (`acceptPatient`, ACCEPTANCE_VERSION): what a provider asked for is no flood. The per-pair caps and the
 * per-patient cap count every grant, accepted or not. An account that accepts nobody counts as before.
 */
export const MAX_ACTIVE_GRANTS_PER_PAIR = 32;
export const MAX_ACTIVE_GRANTS_PER_GRANTEE = 1000;
export const MAX_ACTIVE_GRANTS_PER_PATIENT = 1000;
/**
 * Most patients one account may have accepted at once (`acceptPatient`); one more is refused with
 * TOO_MANY_ACCEPTED, storing nothing. Ten times the stranger cap: well beyond one clinician's panel (about
 * 2,000 patients) and room for a practice's list under one account. Requests that name streams (pulls,
 * pushes, checks) read only the named patients' grants and decide from an index by patient, and each
 * `listStreams` page reads grants by patient from its cursor on (at 10,000 patients: a full walk ≈0.5–0.7 s,
 * a pull naming 1,000 streams ≈0.04–0.1 s; stream-listing-scale.test.ts prints them); what still loads
 * all of a grantee's unended grants is a request naming no streams (a connection's live state, the
 * whole-list `listStreams` below STREAMS_PAGING_VERSION, a key fetch of everything), linear in their
 * number. `listStreams` no longer bounds it from STREAMS_PAGING_VERSION: the list is paged
 * (MAX_STREAMS_PAGE streams a page, each page well within MAX_FRAME_BYTES). Below that version the answer
 * is still one frame (about 200-260 bytes per stream: some 30,000 streams fit MAX_FRAME_BYTES), so a device
 * of an older build cannot list the streams of an account that accepted more than about 2,000 patients who
 * each granted every type; it must update.
 */
export const MAX_ACCEPTED_PATIENTS_PER_GRANTEE = 10_000;
/** Accepted patients per `acceptedPatients` page when `listAccepted` names no `limit`. */
export const DEFAULT_ACCEPTED_PAGE = 200;
/** Most accepted patients one `listAccepted` may ask for (~70 bytes each on the wire). */
export const MAX_ACCEPTED_PAGE = 1000;
/**
 * Most grants one patient may issue to one grantee within any GRANT_RATE_WINDOW_MS, ended ones included
 * (counted by the server's receive time), checked with the caps above: TOO_MANY_GRANTS, `details.limit`
 * 'per-pair-daily', nothing stored. The caps above free a place when a grant ends, and ended grants stay
 * stored (they are the patient's consent history), so without this, grant-then-revoke would let any
 * account pile an unbounded number of rows onto another. Room to fill the per-pair cap, end every grant
 * and fill it again within a day.
 */
export const MAX_GRANTS_PER_PAIR_PER_DAY = 2 * MAX_ACTIVE_GRANTS_PER_PAIR;
/** The rolling window of MAX_GRANTS_PER_PAIR_PER_DAY. */
export const GRANT_RATE_WINDOW_MS = 24 * 3600_000;
/**
 * Most active (unrevoked) devices one account may have: `POST /v1/devices` refuses one more with
 * TOO_MANY_DEVICES (`details.limit` 'active'), storing nothing; revoking one makes room. The account answer
 * (`HttpAccountResponse.devices`) lists at most this many, so it stays valid and an account at the cap
 * still fits one lookup answer (MAX_ACCOUNT_LOOKUP_ANSWER_BYTES).
 */
export const MAX_DEVICES_PER_ACCOUNT = 1000;
/**
 * Most devices one account may ever register, revoked ones included (the first device, at registration,
 * counts): `POST /v1/devices` refuses one more with TOO_MANY_DEVICES (`details.limit` 'total'), storing
 * nothing. Revoked devices stay stored (a revocation never goes back), so this is what bounds the account
 * answer's `revokedDevices` and the rows every answer reads; a revocation itself is never refused. A device
 * a day for 27 years: no owner replacing phones reaches it.
 */
export const MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT = 10_000;
