/**
 * Size and time limits of the wire protocol. Both sides enforce them: a device never sends a frame
 * that breaks one (it splits batches instead) and the server refuses any that does (TOO_LARGE or
 * BAD_MESSAGE). Changing a limit is a protocol change.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Protocol version this build speaks natively. Until the first release (the first version tag) a protocol
 * change edits this baseline instead of adding a version; from that release on, versions are kept.
 */
export const PROTOCOL_VERSION = 1;
/** Every version this build can speak, oldest first. */
export const SUPPORTED_VERSIONS: readonly number[] = [1];
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
 * (`acceptPatient`): what a provider asked for is no flood. The per-pair caps and the
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
 * all of a grantee's unended grants is a request naming no streams (a connection's live state, a key fetch
 * of everything), linear in their number. `listStreams` is paged (MAX_STREAMS_PAGE streams a page, each
 * page well within MAX_FRAME_BYTES), so it does not bound this.
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
