/*
 * What a device's connection at /sync serves once `ready`: one request frame, answered on the connection
 * (sync-ws.ts hands each frame here).
 *
 * Invariants:
 * - `listGrants` and `listStreams` answer one page (with `next` when more follow); `listStreams` at most
 *   MAX_STREAMS_PAGE streams, never over MAX_FRAME_BYTES, also when the request names no `limit`.
 *
 * Failure modes: what the sync service or the hub throws reaches the caller (sync-ws.ts answers it for
 * that request only).
 */
import type { ClientFrame, ErrorCode, ServerFrame } from '@hale/protocol';
import type { AppContext } from '../context';
import type { AuthenticatedDevice } from '../core/sync-service';
import type { LiveConnection } from '../core/hub';
import type { PullOutcome } from '../metrics';

/** A ready connection, as the request handler needs it. */
export interface ReadyConnection {
  ctx: AppContext;
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
  { ctx, principal: p, conn, send, fail }: ReadyConnection,
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
        results,
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
      const query = {
        ...(cursor === undefined ? {} : { cursor }),
        ...(limit === undefined ? {} : { limit }),
      };
      const page = await ctx.service.listStreamsPage(p, query);
      send({ t: 'streams', rid, ...page });
      return;
    }
    case 'listGrants': {
      const { rid, cursor, limit, side, active } = frame;
      const query = {
        ...(cursor === undefined ? {} : { cursor }),
        ...(limit === undefined ? {} : { limit }),
        ...(side === undefined ? {} : { side }),
        ...(active === undefined ? {} : { active }),
      };
      const page = await ctx.service.listGrantsPage(p, query);
      send({ t: 'grants', rid, ...page });
      return;
    }
    case 'grant':
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
      send({
        t: 'keyHolders',
        rid: frame.rid,
        holders: await ctx.service.listKeyHolders(p, frame.streams),
      });
      return;
    case 'acceptPatient':
    case 'listAccepted': {
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
