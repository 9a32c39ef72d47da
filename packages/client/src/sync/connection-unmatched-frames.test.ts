// A reply repeated for a request already settled (a server answering a request twice) names no pending
// request: it ends nothing, whatever its code, and fails no other request.
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '@hale/protocol';
import type { SyncError } from './connection';
import { heldConnection, heldServer, settle } from './handshaking-socket.test-util';

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (e: unknown) => e as SyncError,
  );

describe('a reply repeated for a request already settled', () => {
  it('a second error naming its rid, with a code fatal without one, ends nothing and fails no other request', async () => {
    for (const code of ['BAD_SIGNATURE', 'DEVICE_REVOKED', 'UNSUPPORTED_VERSION']) {
      const server = heldServer();
      const frames: ServerFrame[] = [];
      const connection = heldConnection(server, { onFrame: (frame) => frames.push(frame) });
      connection.start();
      try {
        await connection.whenReady();
        const first = failure(connection.request({ t: 'listStreams' }));
        const other = connection.request({ t: 'listStreams' });
        other.catch(() => undefined);
        await settle();
        const [a, b] = server.requests;
        const refusal = { t: 'error', rid: a!.rid, code, message: 'refused' };
        server.deliver(refusal);
        // The same answer again (a server that answers a request twice).
        server.deliver(refusal);
        server.deliver({ t: 'streams', rid: b!.rid, streams: [] });

        expect(await first, code).toMatchObject({ code });
        expect(await other, code).toMatchObject({ t: 'streams', streams: [] });
        expect(connection.status(), code).toBe('ready');
        expect(connection.failure(), code).toBeUndefined();
        expect(server.sockets[0]?.closed, code).toBe(false);
        await settle();
        expect(server.sockets, `${code}: sockets opened`).toHaveLength(1);
        const later = connection.request({ t: 'listStreams' });
        await settle();
        server.deliver({ t: 'streams', rid: server.requests[2]!.rid, streams: [] });
        expect(await later, code).toMatchObject({ t: 'streams' });
      } finally {
        connection.stop();
      }
    }
  });
});
