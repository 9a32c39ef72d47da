// A request cleared to send (the connection was ready when it asked) whose sending comes after a `stop()`
// or `lockedOut()` in the same turn: it fails as a request made after them does (STOPPED, LOCKED), never
// NETWORK, and is never sent on the socket a lock keeps only for the replies to earlier requests; after a
// `stop()` and `start()` it waits for the new connection's `ready`, as one made then does.
import { describe, expect, it } from 'vitest';
import { readyConnection, settle } from './handshaking-socket.test-util';

/** What `request` came to: its error, 'answered', or 'pending' once the test settled. */
const outcome = async (request: Promise<unknown>): Promise<unknown> => {
  const settled = request.then(
    () => 'answered',
    (e: unknown) => e,
  );
  return Promise.race([settled, settle().then(() => 'pending')]);
};

describe('a request cleared to send, then the connection ended in the same turn', () => {
  it('by stop(): fails STOPPED (not NETWORK), as a request made after stop() does', async () => {
    const { server, connection } = await readyConnection();
    const cleared = connection.request({ t: 'listStreams' });
    connection.stop();
    const after = connection.request({ t: 'listStreams' });
    const [was, made] = [await outcome(cleared), await outcome(after)];
    expect(made).toMatchObject({ code: 'STOPPED', retry: false });
    expect(was).toMatchObject({ code: 'STOPPED', retry: false });
    expect(server.requests).toEqual([]);
  });

  it('by lockedOut(), one in flight: fails LOCKED, not sent on the socket kept for replies', async () => {
    const { server, connection } = await readyConnection();
    const earlier = connection.request({ t: 'listStreams' });
    await settle();
    expect(server.requests).toHaveLength(1);
    const cleared = connection.request({ t: 'listStreams' });
    connection.lockedOut();
    expect(await outcome(cleared)).toMatchObject({ code: 'LOCKED', retry: false });
    // Only the earlier request went out, and only its reply is taken; then the socket is closed.
    expect(server.requests).toHaveLength(1);
    server.deliver({ t: 'streams', rid: server.requests[0]!.rid, streams: [] });
    expect(await earlier).toMatchObject({ t: 'streams' });
    expect(server.sockets[0]?.closed).toBe(true);
    connection.stop();
  });

  it('by lockedOut() with nothing in flight: fails LOCKED (not NETWORK)', async () => {
    const { server, connection } = await readyConnection();
    const cleared = connection.request({ t: 'listStreams' });
    connection.lockedOut();
    expect(await outcome(cleared)).toMatchObject({ code: 'LOCKED', retry: false });
    expect(server.requests).toEqual([]);
    connection.stop();
  });

  it('by stop() then start(): waits for the new connection, sent on it only once it is ready', async () => {
    const { server, connection } = await readyConnection();
    const cleared = connection.request({ t: 'listStreams' });
    connection.stop();
    connection.start();
    await connection.whenReady();
    await settle();
    // Nothing but hello and auth before `ready` (the header's first invariant).
    expect(server.sent[1]).toEqual(['hello', 'auth', 'listStreams']);
    server.deliver({ t: 'streams', rid: server.requests[0]!.rid, streams: [] });
    expect(await cleared).toMatchObject({ t: 'streams' });
    connection.stop();
  });
});
