/**
 * The server's list of the streams this account may sync (`listStreams`), read whole: every page of it.
 *
 * Invariants:
 * - All or nothing: a listing resolves only with every page read, and rejects if any page fails. Never a
 *   part: the engine takes a stream missing from the list as access ended and purges it.
 * - Each request names `limit: MAX_STREAMS_PAGE`, and a page is asked for only after the previous one
 *   arrived, with its `next` as `cursor` (a keyset walk by stream id: a stream readable for the whole walk
 *   is listed exactly once).
 * - At most MAX_STREAM_PAGES pages: a server still answering `next` after that is not followed.
 * - Access that changes during a walk: a page lists what was readable when it was read, so a walk of
 *   several pages can miss a stream granted mid-walk whose id falls before the page already read, and
 *   still hold one that ended after its page was read. Every such change reaches the connection as an
 *   `accessChanged` frame; fed to `accessChanged` (by the engine's `handleAccess`), each frame arriving while
 *   a listing is in flight is applied to its result, in arrival order, after its last page: its `streams`
 *   replace or add rows, its `removed` drop them. That is the server's state at the last frame, which is
 *   newer than any page read before it (a frame's `head` may be older than a page's; only progress uses
 *   it). Frames arriving before a listing starts are reflected in its pages (the server read them after
 *   the change); those after it settles are the caller's to apply, as ever.
 * - Concurrent callers share the listing in flight (the engine and the keyring both list at connect), so
 *   the server builds the list once. Once it settles, the next caller starts a new one: a failed listing
 *   is only ever handed to the callers that were waiting on it, and a later caller never gets an old list.
 * - A stream listed twice (only a misbehaving server does that) is kept once, as first listed.
 * Failure modes: a failed page rejects the listing with the request's own error (a SyncError from the
 * connection: NETWORK or TIMEOUT when the socket went away, BAD_CURSOR or BAD_MESSAGE from the server);
 * more than MAX_STREAM_PAGES pages reject it with SyncError TOO_LARGE (not retryable). The caller lists
 * again (the engine does at its next connect); a later listing starts from the first page.
 */
import { STREAM_TYPES } from '@hale/model';
import {
  GRANTABLE_STREAM_TYPES,
  MAX_ACCEPTED_PATIENTS_PER_GRANTEE,
  MAX_ACTIVE_GRANTS_PER_GRANTEE,
  MAX_STREAMS_PAGE,
  type AccessChangedFrame,
  type ListStreamsFrame,
  type StreamAccess,
  type StreamsFrame,
} from '@hale/protocol';
import { readPages } from './read-pages';

/**
 * Most `streams` pages one listing reads (MAX_STREAMS_PAGE each): twice what an account that accepted the
 * most patients the server allows, and holds the most grants from strangers, can follow (the caps bound it
 * only loosely: a patient taken out of the accepted list keeps its unended grants), and a bound on what a
 * server that never stops answering `next` costs.
 */
export const MAX_STREAM_PAGES =
  2 *
  Math.ceil(
    (STREAM_TYPES.length +
      (MAX_ACCEPTED_PATIENTS_PER_GRANTEE + MAX_ACTIVE_GRANTS_PER_GRANTEE) * GRANTABLE_STREAM_TYPES.length) /
      MAX_STREAMS_PAGE,
  );

/** A `listStreams` request as the connection takes it (it adds the `rid`). */
export type ListStreamsRequest = Omit<ListStreamsFrame, 'rid'>;

/** What `createStreamList` is built from: the connection's `request`. */
export interface StreamListDeps {
  /** The connection's `request`: answers `streams`, or rejects (SyncError) with the server's error. */
  request: (frame: ListStreamsRequest) => Promise<StreamsFrame>;
  /** Not read: the protocol has one version (session.ts still passes it). */
  version?: () => number | null;
}

/** The streams this account may sync, kept current by `accessChanged` frames. */
export interface StreamList {
  /** Every stream this account may sync, as the server lists it now (shared with a listing in flight). */
  list(): Promise<StreamAccess[]>;
  /** Feed every `accessChanged` frame, on arrival: a listing in flight applies it to its result. */
  accessChanged(frame: AccessChangedFrame): void;
}

/** Pages the streams a device may read (at most `MAX_STREAM_PAGES`). */
export const createStreamList = (deps: StreamListDeps): StreamList => {
  /** The listing in flight and the `accessChanged` frames that arrived since it started. */
  let current: { listed: Promise<StreamAccess[]>; frames: AccessChangedFrame[] } | null = null;

  const walk = async (frames: readonly AccessChangedFrame[]): Promise<StreamAccess[]> => {
    const rows = new Map<string, StreamAccess>();
    const listed = await readPages(
      async (cursor) => {
        const reply = await deps.request({
          t: 'listStreams',
          limit: MAX_STREAMS_PAGE,
          ...(cursor === undefined ? {} : { cursor }),
        });
        return { rows: reply.streams, next: reply.next };
      },
      MAX_STREAM_PAGES,
      `the server lists more than ${MAX_STREAM_PAGES} pages of streams (${MAX_STREAM_PAGES * MAX_STREAMS_PAGE})`,
    );
    for (const s of listed) if (!rows.has(s.stream)) rows.set(s.stream, s);
    // Read after the last page: frames that arrive while this runs are pushed onto the same array.
    for (const frame of frames) {
      for (const s of frame.streams) rows.set(s.stream, s);
      for (const r of frame.removed) rows.delete(r.stream);
    }
    return [...rows.values()];
  };

  return {
    list(): Promise<StreamAccess[]> {
      if (current !== null) return current.listed;
      const frames: AccessChangedFrame[] = [];
      const listed = walk(frames);
      const mine = { listed, frames };
      current = mine;
      // Settled either way: the next caller starts a listing of its own.
      const done = (): void => {
        if (current === mine) current = null;
      };
      listed.then(done, done);
      return listed;
    },
    accessChanged(frame: AccessChangedFrame): void {
      current?.frames.push(frame);
    },
  };
};
