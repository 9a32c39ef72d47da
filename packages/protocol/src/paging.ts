/**
 * Cursor paging of the listings that grow without bound: `listGrants` and `listStreams` on the socket,
 * and `GET /v1/directory`.
 *
 * Invariants:
 * - Keyset paging: every listing has one total order on keys a row never changes (grants: side, then
 *   `issuedAt` and `grantId` descending; streams: stream id ascending, by UTF-16 code unit, which for these
 *   ASCII ids is byte order; directory: display name case-folded, then account id), and a page
 *   holds the rows strictly after its cursor's key in that order. So a row present for the whole walk is
 *   listed exactly once, in order, whatever is inserted or deleted meanwhile; a row inserted meanwhile is
 *   listed at most once (iff its key falls after the cursor when its page is read). No offset is counted
 *   and no state is kept on the server: a cursor stays valid across reconnects and server restarts.
 * - `next` is present when the server saw a row past the page (it reads one more to know) and absent on
 *   the last page. A page may hold fewer rows than asked and still carry `next` (damaged rows left out,
 *   the frame's byte bound); the page after one may, rarely, be empty.
 * - A cursor is opaque to devices: the server writes it, hands it out as `next` and reads it back. It is
 *   base64url of the UTF-8 JSON of a `*CursorPayload` below. Only the server builds or reads one; the
 *   schemas are here because the payload crosses the wire and is validated when it comes back. A cursor
 *   names the listing and the filters it was made for; asking with other filters is refused.
 * - Filters read at the time of each page (`active` on grants): a grant that ends during the walk is
 *   listed only if its page was read before it ended.
 * - Streams: which streams the caller may sync is read when each page is read, from the grants unended
 *   then. So a stream readable for the whole walk is listed exactly once (its id never changes), with its
 *   access, head and epoch as of its page; one that becomes readable during the walk is listed iff its id
 *   falls after the page already read; one that stops being readable is listed iff its page was read
 *   before. Nothing is listed twice. The server sends `accessChanged` for each of these changes, and the
 *   device applies every such frame that arrives during its walk to the walk's result, so the walk's view
 *   is corrected at once.
 * Failure modes: a cursor that is not PageCursor text is a malformed request like any other field
 * (BAD_MESSAGE; TOO_LARGE over MAX_CURSOR_CHARS); one that is, but does not decode to a payload of the
 * listing asked for with the same filters (forged, damaged, from another listing or filter, or from a
 * server build that wrote another format), is BAD_CURSOR: list again from the first page.
 */
import { Type, type Static } from '@sinclair/typebox';

const closed = { additionalProperties: false } as const;

/** Longest cursor text: a directory cursor carries a display name and the query (see below). */
export const MAX_CURSOR_CHARS = 4096;

export const PageCursor = Type.String({
  pattern: '^[A-Za-z0-9_-]+$',
  maxLength: MAX_CURSOR_CHARS,
  description: 'opaque page cursor (base64url)',
});
export type PageCursor = Static<typeof PageCursor>;

/** Grants per `grants` page when `listGrants` names no `limit`. */
export const DEFAULT_GRANTS_PAGE = 200;
/**
 * Most grants one `listGrants` may ask for. A grant record is at most ~4 KiB, ~8 KB for a replaced grant
 * (it carries its successor whole, `supersededBy`), so even a full page of those stays under
 * MAX_FRAME_BYTES (grant-limits.test.ts); the server still stops a page before that bound (and answers
 * `next`).
 */
export const MAX_GRANTS_PAGE = 1000;
/**
 * Most streams one `listStreams` may ask for. A `StreamAccess` row is at most 261 bytes of JSON (22-char account ids, the longest type, a grant id and end, the largest head and
 * epoch), so a full page is 2.6 MB: well within MAX_FRAME_BYTES (grant-limits.test.ts proves under half).
 * Large, for few round trips: a provider at the caps (10,000 accepted patients and 1,000 strangers' grants,
 * 13 types each) lists about 143,000 streams in 15 pages. The server still stops a page before MAX_FRAME_BYTES (and answers `next`).
 */
export const MAX_STREAMS_PAGE = 10_000;
/**
 * Streams per `streams` page when `listStreams` names no `limit`: the largest page, so a client that does not size its pages still lists in the fewest requests, and a
 * patient's own 14 streams (and any list up to MAX_STREAMS_PAGE) still come in one answer.
 */
export const DEFAULT_STREAMS_PAGE = MAX_STREAMS_PAGE;
/** Providers per directory page when the query names no `limit`. */
export const DEFAULT_DIRECTORY_PAGE = 20;
/** Most providers one directory query may ask for. */
export const MAX_DIRECTORY_PAGE = 100;

/** Which grants of the caller: those it issued (as patient) or those it received (as grantee). */
export const GrantListSide = Type.Union([Type.Literal('issued'), Type.Literal('received')]);
export type GrantListSide = Static<typeof GrantListSide>;

// Keys are read back from the store as they were written there: bounded text, not re-checked as ids or
// timestamps, so a row stored by an older build can never make the server refuse its own cursor.
const storedKey = Type.String({ minLength: 1, maxLength: 64 });

/** The server's own: a position in a `listGrants` walk. Devices never build or read it. */
export const GrantsCursorPayload = Type.Object(
  {
    v: Type.Literal(1),
    k: Type.Literal('grants'),
    /** The side of the last grant listed (issued ones come first). */
    side: GrantListSide,
    issuedAt: storedKey,
    grantId: storedKey,
    /** The request's filters, which every later page must repeat. */
    only: Type.Optional(GrantListSide),
    active: Type.Boolean(),
  },
  closed,
);
export type GrantsCursorPayload = Static<typeof GrantsCursorPayload>;

/** The server's own: a position in a directory search. Devices never build or read it. */
export const DirectoryCursorPayload = Type.Object(
  {
    v: Type.Literal(1),
    k: Type.Literal('directory'),
    /** The search text, which every later page must repeat. */
    q: Type.String({ maxLength: 100 }),
    /** Display name and account id of the last provider listed. */
    name: Type.String({ minLength: 1, maxLength: 200 }),
    accountId: storedKey,
  },
  closed,
);
export type DirectoryCursorPayload = Static<typeof DirectoryCursorPayload>;

/**
 * The server's own: a position in a `listStreams` walk (streams by id, ascending). Devices never build or
 * read it. `listStreams` has no filters, so the last stream listed is all a cursor holds. Read back as
 * bounded text, never re-checked as a stream id: a forged one only moves the caller within its own list.
 */
export const StreamsCursorPayload = Type.Object(
  {
    v: Type.Literal(1),
    k: Type.Literal('streams'),
    /** The id of the last stream listed. */
    stream: Type.String({ minLength: 1, maxLength: 64 }),
  },
  closed,
);
export type StreamsCursorPayload = Static<typeof StreamsCursorPayload>;
