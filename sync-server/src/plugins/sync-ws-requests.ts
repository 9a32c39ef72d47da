/*
 * What a device's connection at /sync serves once `ready`: one request frame, answered on the connection
 * (sync-ws.ts hands each frame here with the connection's negotiated version).
 *
 * Invariants:
 * - On a connection of version PAGING_VERSION or later `listGrants` answers one page (with `next` when
 *   more follow); below it, the one bounded list it always answered, and a request carrying a paging
 *   field is refused (BAD_MESSAGE): its answer would need `next`, which that client cannot read.
 * - `acceptPatient` and `listAccepted` are served only on a connection of version ACCEPTANCE_VERSION or later
 *   (BAD_MESSAGE below it, changing nothing), as a server of an older version refuses the unknown frames.
 * - `listKeyHolders` is served only on a connection of version KEY_HOLDERS_VERSION or later (BAD_MESSAGE
 *   below it), as those of ACCEPTANCE_VERSION are.
 * - On a connection of version STREAMS_PAGING_VERSION or later `listStreams` answers one page (at most
 *   MAX_STREAMS_PAGE streams, never over MAX_FRAME_BYTES, with `next` when more follow), also when the
 *   request names no `limit`; below it, the one whole list it always answered, and a request carrying
 *   `cursor` or `limit` is refused (BAD_MESSAGE).
 * - A push's `conflict` carries `keptFrom` (the stored version was in the store at its last restore) only
 *   on a connection of version KEPT_FROM_VERSION or later; below it, the conflict as it always was.
 * - A push's `error` carries `chainEnd` (where the device's audit chain ends in the stream) only on a
 *   connection of version AUDIT_CHAIN_END_VERSION or later; below it, the refusal as it always was.
 * - A `keyHolders` row names its envelope's creator (`createdBy`) only on a connection of version
 *   KEY_HOLDER_CREATORS_VERSION or later.
 * - A `StreamAccess` row (`streams`, the hub's `accessChanged`) carries `readExpiresAt` only on a connection
 *   of version READ_EXPIRES_VERSION or later; below it, the row as it always was.
 * - A `grant` naming `supersedes` is taken only on a connection of version GRANT_SUPERSEDE_VERSION or later
 *   (BAD_MESSAGE below it, changing nothing); below it `grants` lists no grant carrying `supersedes` and no
 *   record's `supersededBy` (`grantRecordsFor`).
 *
 * Failure modes: a request refused for its version answers BAD_MESSAGE and changes nothing; what the sync
 * service or the hub throws reaches the caller (sync-ws.ts answers it for that request only).
 */
import {
  ACCEPTANCE_VERSION,
  AUDIT_CHAIN_END_VERSION,
  GRANT_SUPERSEDE_VERSION,
  HEAD_VERSION,
  KEPT_FROM_VERSION,
  KEY_HOLDER_CREATORS_VERSION,
  KEY_HOLDERS_VERSION,
  PAGING_VERSION,
  READ_EXPIRES_VERSION,
  STREAMS_PAGING_VERSION,
  type ClientFrame,
  type ErrorCode,
  type GrantRecord,
  type ServerFrame,
  type StreamAccess,
} from '@hale/protocol';
import type { AppContext } from '../context';
import type { AuthenticatedDevice } from '../core/sync-service';
import type { LiveConnection } from '../core/hub';
import type { PullOutcome } from '../metrics';

/** `StreamAccess` rows as a connection of `version` can read them: `readExpiresAt` only from its version. */
export const accessRowsFor = (rows: StreamAccess[], version: number): StreamAccess[] =>
  version >= READ_EXPIRES_VERSION ? rows : rows.map(({ readExpiresAt: _, ...row }) => row);

/**
 * Grant records as a connection of `version` can read them: from GRANT_SUPERSEDE_VERSION as they are; below
 * it without `supersededBy`, and without the records whose grant carries `supersedes` (such a device cannot
 * verify it: its payload omits the field; one built before the tolerant decoder would refuse the frame).
 */
export const grantRecordsFor = (records: GrantRecord[], version: number): GrantRecord[] =>
  version >= GRANT_SUPERSEDE_VERSION
    ? records
    : records
        .filter((r) => r.grant.grant.supersedes === undefined)
        .map(({ supersededBy: _, ...record }) => record);

/** A ready connection, as the request handler needs it. */
export interface ReadyConnection {
  ctx: AppContext;
  /** The protocol version negotiated at sign-in. */
  version: number;
  /** The device signed in on it. */
  principal: AuthenticatedDevice;
  /** The connection as the live hub holds it. */
  conn: LiveConnection;
  send: (frame: ServerFrame) => void;
  /** Answers an error frame (counted as a refusal). */
  fail: (code: ErrorCode, message: string, rid?: number, details?: Record<string, unknown>) => void;
}

/** Serves one request frame of a ready connection. */
export const serveReadyFrame = async (
  { ctx, version, principal: p, conn, send, fail }: ReadyConnection,
  frame: ClientFrame,
): Promise<void> => {
  const { metrics } = ctx;
  switch (frame.t) {
    case 'pull': {
      const end = metrics.latency.startTimer({ op: 'pull' });
      const result = await ctx.service.pull(p, frame);
      end();
      const outcome: PullOutcome = result.denied.length > 0 ? 'partly-denied' : 'ok';
      metrics.pulls.inc({ outcome });
      metrics.pulledDocs.inc(result.docs.length);
      for (const d of result.denied) metrics.refusals.inc({ code: d.code });
      send({ t: 'pulled', rid: frame.rid, ...result });
      return;
    }
    case 'push': {
      const end = metrics.latency.startTimer({ op: 'push' });
      // Its versions are not echoed back to this connection live (own-pushes.ts).
      ctx.hub.pushing(conn, frame.rows);
      let results: Awaited<ReturnType<typeof ctx.service.push>>;
      try {
        results = await ctx.service.push(p, frame);
      } catch (error) {
        ctx.hub.pushed(conn, frame.rows, []);
        throw error;
      }
      ctx.hub.pushed(conn, frame.rows, results);
      end();
      for (const r of results) if (r.status === 'error') metrics.refusals.inc({ code: r.code });
      send({
        t: 'pushed',
        rid: frame.rid,
        results:
          version >= AUDIT_CHAIN_END_VERSION
            ? results
            : results.map((r) => {
                if (r.status === 'conflict' && r.keptFrom !== undefined && version < KEPT_FROM_VERSION) {
                  const { keptFrom: _k, ...older } = r;
                  return older;
                }
                if (r.status === 'error' && r.chainEnd !== undefined) {
                  const { chainEnd: _c, ...older } = r;
                  return older;
                }
                return r;
              }),
      });
      return;
    }
    case 'subscribe': {
      const result = await ctx.hub.subscribe(conn, frame.streams);
      if (!result.ok) {
        fail(
          result.code as ErrorCode,
          'not allowed to follow every requested stream; nothing subscribed',
          frame.rid,
          {
            denied: result.denied,
          },
        );
        return;
      }
      send({ t: 'ok', rid: frame.rid });
      return;
    }
    case 'unsubscribe':
      ctx.hub.unsubscribe(conn, frame.streams);
      send({ t: 'ok', rid: frame.rid });
      return;
    case 'listStreams': {
      const { rid, cursor, limit } = frame;
      if (version < STREAMS_PAGING_VERSION) {
        // As listGrants below PAGING_VERSION: such a client could not read the `next` a page needs.
        if (cursor !== undefined || limit !== undefined) {
          fail('BAD_MESSAGE', `listStreams paging needs protocol version ${STREAMS_PAGING_VERSION}`, rid);
          return;
        }
        send({ t: 'streams', rid, streams: accessRowsFor(await ctx.service.listStreams(p), version) });
        return;
      }
      const query = {
        ...(cursor === undefined ? {} : { cursor }),
        ...(limit === undefined ? {} : { limit }),
      };
      const page = await ctx.service.listStreamsPage(p, query);
      send({ t: 'streams', rid, ...page, streams: accessRowsFor(page.streams, version) });
      return;
    }
    case 'listGrants': {
      const { rid, cursor, limit, side, active } = frame;
      if (version < PAGING_VERSION) {
        // Those fields came with paging; `next` cannot be sent here (the client would refuse it).
        if (cursor !== undefined || limit !== undefined || side !== undefined || active !== undefined) {
          fail('BAD_MESSAGE', `listGrants paging needs protocol version ${PAGING_VERSION}`, rid);
          return;
        }
        send({ t: 'grants', rid, grants: grantRecordsFor(await ctx.service.listGrants(p), version) });
        return;
      }
      const query = {
        ...(cursor === undefined ? {} : { cursor }),
        ...(limit === undefined ? {} : { limit }),
        ...(side === undefined ? {} : { side }),
        ...(active === undefined ? {} : { active }),
      };
      const page = await ctx.service.listGrantsPage(p, query);
      send({ t: 'grants', rid, ...page, grants: grantRecordsFor(page.grants, version) });
      return;
    }
    case 'grant':
      if (frame.grant.grant.supersedes !== undefined && version < GRANT_SUPERSEDE_VERSION) {
        fail('BAD_MESSAGE', `supersedes needs protocol version ${GRANT_SUPERSEDE_VERSION}`, frame.rid);
        return;
      }
      await ctx.service.grant(p, frame.grant);
      send({ t: 'ok', rid: frame.rid });
      return;
    case 'revoke':
      await ctx.service.revoke(p, frame.revocation);
      send({ t: 'ok', rid: frame.rid });
      return;
    case 'putEnvelopes':
      await ctx.service.putEnvelopes(p, frame.envelopes);
      send({ t: 'ok', rid: frame.rid });
      return;
    case 'getEnvelopes':
      send({
        t: 'envelopes',
        rid: frame.rid,
        envelopes: await ctx.service.getEnvelopes(p, frame.streams),
      });
      return;
    case 'listKeyHolders':
      if (version < KEY_HOLDERS_VERSION) {
        fail('BAD_MESSAGE', `listKeyHolders needs protocol version ${KEY_HOLDERS_VERSION}`, frame.rid);
        return;
      }
      send({
        t: 'keyHolders',
        rid: frame.rid,
        holders: await ctx.service.listKeyHolders(p, frame.streams, {
          creators: version >= KEY_HOLDER_CREATORS_VERSION,
        }),
      });
      return;
    case 'acceptPatient':
    case 'listAccepted': {
      if (version < ACCEPTANCE_VERSION) {
        fail('BAD_MESSAGE', `${frame.t} needs protocol version ${ACCEPTANCE_VERSION}`, frame.rid);
        return;
      }
      if (frame.t === 'acceptPatient') {
        await ctx.service.acceptPatient(p, frame.patientId, frame.accept);
        send({ t: 'ok', rid: frame.rid });
        return;
      }
      const { rid, cursor, limit } = frame;
      const query = {
        ...(cursor === undefined ? {} : { cursor }),
        ...(limit === undefined ? {} : { limit }),
      };
      send({ t: 'acceptedPatients', rid, ...(await ctx.service.listAccepted(p, query)) });
      return;
    }
    case 'putHead':
    case 'getHead': {
      if (version < HEAD_VERSION) {
        fail('BAD_MESSAGE', `${frame.t} needs protocol version ${HEAD_VERSION}`, frame.rid);
        return;
      }
      if (frame.t === 'putHead') {
        await ctx.service.putHead(p, frame.head);
        send({ t: 'ok', rid: frame.rid });
        return;
      }
      const page = await ctx.service.getHead(p, frame.stream, frame.after, frame.limit);
      send({ t: 'head', rid: frame.rid, ...page });
      return;
    }
    case 'ping':
      send({ t: 'pong', rid: frame.rid, time: new Date(ctx.now()).toISOString() });
      return;
    case 'hello':
    case 'auth':
      fail('BAD_MESSAGE', 'already authenticated', undefined);
      return;
  }
};
