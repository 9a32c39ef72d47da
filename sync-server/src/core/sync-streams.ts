/*
 * The streams an account may sync (`listStreamsPage`): its own and those its unended grants
 * give, each with its head and current epoch.
 *
 * Invariants:
 * - `listStreams` answers one page by stream id (keyset, paging.ts), at most MAX_STREAMS_PAGE rows, within
 *   MAX_FRAME_BYTES at their largest (grant-limits.test.ts).
 *   Each page decides readability from the grants unended when it is read, as every access decision does,
 *   reading them by patient in stream id order from the cursor on (`listUnendedByPatient`, whole patients
 *   only): the grants of the patients it lists and at most one read more, so a walk reads each about once.
 *   This relies on account ids holding no `/` (AccountId), so that a patient's streams sort together.
 *
 * Failure modes: BAD_CURSOR for a cursor that is not a `listStreams` cursor of this server.
 */
import { STREAM_TYPES } from '@hale/model';
import {
  DEFAULT_STREAMS_PAGE,
  GRANTABLE_STREAM_TYPES,
  MAX_ACTIVE_GRANTS_PER_PAIR,
  StreamsCursorPayload,
  type StreamAccess,
} from '@hale/protocol';
import { decodeCursor, encodeCursor } from './page-cursor';
import { grantedStreams, type GrantedStream, type Principal } from './access';
import type { SyncContext } from './sync-context';

/**
 * Fewest grants one read of a `listStreams` page asks for: twice what one pair may hold unended
 * (MAX_ACTIVE_GRANTS_PER_PAIR), so a full read holds a whole patient before the one it cuts, unless the
 * store holds more than the cap lets `grant` store (then that patient is read alone).
 */
const MIN_GRANTS_READ = 2 * MAX_ACTIVE_GRANTS_PER_PAIR;

/** The account's own streams. */
export const ownStreams = (p: Principal) =>
  STREAM_TYPES.map((type) => ({
    stream: `${p.accountId}/${type}`,
    patientId: p.accountId,
    type,
    access: 'owner' as const,
  }));

export const createStreamListing = ({ store, now }: SyncContext) => {
  /** A stream `p` may sync: one of the account's own, or one its unended grants give. */
  type ListedStream = ReturnType<typeof ownStreams>[number] | GrantedStream;

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
   * One page of `listStreams` (paging.ts): the streams `p` may sync now, by id ascending, strictly after `cursor`; at most `limit` (DEFAULT_STREAMS_PAGE), which
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

  return { accessRows, listStreamsPage };
};
