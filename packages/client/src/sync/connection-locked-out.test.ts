// The account locked while the connection is up (an idle auto-lock): fatal LOCKED at once, the replies
// to requests already sent still taken, nothing else handed on, the socket closed once they are in.
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '@hale/protocol';
import type { ConnectionStatus, SyncError } from './connection';
import { heldConnection, heldServer, settle } from './handshaking-socket.test-util';

const connectionTo = (server: ReturnType<typeof heldServer>, frames: ServerFrame[]) => {
  const statuses: ConnectionStatus[] = [];
  const connection = heldConnection(server, {
    onFrame: (frame) => frames.push(frame),
    onStatus: (status) => statuses.push(status),
  });
  return { connection, statuses };
};

describe('connection.lockedOut()', () => {
  it('ends fatal LOCKED at once; a request already sent still gets its reply, then the socket closes', async () => {
    const server = heldServer();
    const frames: ServerFrame[] = [];
    const { connection } = connectionTo(server, frames);
    connection.start();
    await connection.whenReady();
    const sent = connection.request({ t: 'listStreams' });
    await settle();
    const [asked] = server.requests;
    expect(asked?.t).toBe('listStreams');

    connection.lockedOut();
    expect(connection.status()).toBe('fatal');
    expect(connection.failure()).toMatchObject({ code: 'LOCKED', retry: false });
    // Nothing new goes out, and nothing waits for a `ready` that cannot come.
    const later = await connection.request({ t: 'listStreams' }).then(
      () => null,
      (e: unknown) => e as SyncError,
    );
    expect(later).toMatchObject({ code: 'LOCKED' });
    expect(server.requests).toHaveLength(1);
    // What the server sends meanwhile other than that reply is not acted on.
    server.deliver({ t: 'changes', docs: [], streams: [] });
    expect(frames).toEqual([]);
    expect(server.sockets[0]?.closed).toBe(false);

    server.deliver({ t: 'streams', rid: asked!.rid, streams: [] });
    expect(await sent).toMatchObject({ t: 'streams', streams: [] });
    expect(server.sockets[0]?.closed).toBe(true);
    await settle();
    // No reconnect: still one socket, still fatal.
    expect(server.sockets).toHaveLength(1);
    expect(connection.status()).toBe('fatal');
    connection.stop();
  });

  it('with nothing in flight, closes the socket at once; start() connects again', async () => {
    const server = heldServer();
    const { connection, statuses } = connectionTo(server, []);
    connection.start();
    await connection.whenReady();
    connection.lockedOut();
    expect(server.sockets[0]?.closed).toBe(true);
    expect(statuses.at(-1)).toBe('fatal');
    await settle();
    expect(server.sockets).toHaveLength(1);
    // A connection whose factory is not refused (the session's is, while locked) signs in again.
    connection.start();
    await connection.whenReady();
    expect(server.sockets).toHaveLength(2);
    connection.stop();
  });
});
