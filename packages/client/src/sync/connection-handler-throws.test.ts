// A handler the connection was given (`onFrame`, `onReady`) that fails: its throw (or the rejection of a
// promise it answers) never escapes the socket's message handler — under `ws` that is an uncaught exception
// and a socket that reads no more — it is reported as a LIVE_APPLY_FAILED error frame, and the connection
// goes on as if the handler had returned.
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '@hale/protocol';
import type { WebSocketLike } from './connection';
import {
  handshakingSocket,
  heldConnection,
  settle,
  type HandshakingSocket,
} from './handshaking-socket.test-util';

/**
 * A fake server: completes the handshake, holds each request until the test answers it. Every frame is
 * delivered to the device inside a try, so what escapes its message handler is kept in `escaped`.
 */
const heldServer = () => {
  const sockets: HandshakingSocket[] = [];
  const requests: Array<{ t: string; rid: number }> = [];
  const escaped: unknown[] = [];
  const deliverOn = (socket: HandshakingSocket, frame: ServerFrame | Record<string, unknown>): void => {
    try {
      socket.onmessage?.({ data: JSON.stringify(frame) });
    } catch (error) {
      escaped.push(error);
    }
  };
  const create = (): WebSocketLike => {
    const socket = handshakingSocket((frame) => requests.push(frame));
    socket.reply = (frame) => queueMicrotask(() => deliverOn(socket, frame));
    sockets.push(socket);
    return socket;
  };
  const deliver = (frame: ServerFrame | Record<string, unknown>): void => {
    const socket = sockets.at(-1);
    if (socket) deliverOn(socket, frame);
  };
  return { create, sockets, requests, escaped, deliver };
};

const changes: ServerFrame = {
  t: 'changes',
  docs: [],
  streams: [{ stream: `${'A'.repeat(22)}/profile`, checkpoint: 3 }],
};

/** A request made and answered now: the connection still sends and takes replies on the same socket. */
const roundTrip = async (
  server: ReturnType<typeof heldServer>,
  connection: ReturnType<typeof heldConnection>,
): Promise<void> => {
  const sent = connection.request({ t: 'listStreams' });
  await settle();
  const asked = server.requests.at(-1);
  server.deliver({ t: 'streams', rid: asked!.rid, streams: [] });
  expect(await sent).toMatchObject({ t: 'streams', streams: [] });
  expect(server.sockets).toHaveLength(1);
};

describe('a handler that fails', () => {
  it('onFrame throwing: contained, reported as LIVE_APPLY_FAILED, the connection goes on', async () => {
    const server = heldServer();
    const frames: ServerFrame[] = [];
    const connection = heldConnection(server, {
      onFrame: (frame) => {
        frames.push(frame);
        if (frame.t === 'changes') throw new Error('cannot apply this');
      },
    });
    connection.start();
    try {
      await connection.whenReady();
      server.deliver(changes);
      expect(server.escaped).toEqual([]);
      expect(frames).toEqual([
        changes,
        {
          t: 'error',
          code: 'LIVE_APPLY_FAILED',
          message: expect.stringContaining('cannot apply this') as string,
        },
      ]);
      expect(connection.status()).toBe('ready');
      await roundTrip(server, connection);
    } finally {
      connection.stop();
    }
  });

  it('onFrame throwing at its own report too: nothing escapes, nothing loops', async () => {
    const server = heldServer();
    let calls = 0;
    const connection = heldConnection(server, {
      onFrame: () => {
        calls++;
        throw new Error('always');
      },
    });
    connection.start();
    try {
      await connection.whenReady();
      server.deliver(changes);
      expect(server.escaped).toEqual([]);
      // The frame, then the report of its failure (whose own failure is dropped).
      expect(calls).toBe(2);
      await roundTrip(server, connection);
    } finally {
      connection.stop();
    }
  });

  it('onFrame answering a rejected promise: reported as LIVE_APPLY_FAILED, not left unhandled', async () => {
    const server = heldServer();
    const frames: ServerFrame[] = [];
    // A handler typed as returning nothing may still be an async function.
    const onFrame = ((frame: ServerFrame) => {
      frames.push(frame);
      return frame.t === 'changes' ? Promise.reject(new Error('rejected later')) : Promise.resolve();
    }) as (frame: ServerFrame) => void;
    const connection = heldConnection(server, { onFrame });
    connection.start();
    try {
      await connection.whenReady();
      server.deliver(changes);
      await settle();
      expect(frames).toEqual([
        changes,
        {
          t: 'error',
          code: 'LIVE_APPLY_FAILED',
          message: expect.stringContaining('rejected later') as string,
        },
      ]);
      await roundTrip(server, connection);
    } finally {
      connection.stop();
    }
  });

  it('onReady throwing: contained, reported as LIVE_APPLY_FAILED, the connection is ready', async () => {
    const server = heldServer();
    const frames: ServerFrame[] = [];
    const connection = heldConnection(server, {
      onFrame: (frame) => frames.push(frame),
      onReady: () => {
        throw new Error('cannot start syncing');
      },
    });
    connection.start();
    try {
      await connection.whenReady();
      await settle();
      expect(server.escaped).toEqual([]);
      expect(frames).toEqual([
        { t: 'error', code: 'LIVE_APPLY_FAILED', message: expect.stringContaining('cannot start') as string },
      ]);
      expect(connection.status()).toBe('ready');
      await roundTrip(server, connection);
    } finally {
      connection.stop();
    }
  });

  it('a status listener throwing at a drop: the reconnect still comes, the other listeners still hear', async () => {
    const server = heldServer();
    const frames: ServerFrame[] = [];
    const connection = heldConnection(server, { onFrame: (frame) => frames.push(frame) });
    const heard: string[] = [];
    connection.onStatusChange((status) => {
      if (status === 'offline') throw new Error('listener failed');
    });
    connection.onStatusChange((status) => heard.push(status));
    connection.start();
    try {
      await connection.whenReady();
      const first = server.sockets[0]!;
      // The server drops the socket: its close event runs the status change.
      let escaped: unknown = null;
      try {
        first.onclose?.({ code: 1006, reason: 'dropped' });
      } catch (error) {
        escaped = error;
      }
      expect(escaped).toBeNull();
      await connection.whenReady();
      expect(server.sockets).toHaveLength(2);
      expect(heard).toEqual(['connecting', 'ready', 'offline', 'connecting', 'ready']);
      expect(frames).toEqual([
        {
          t: 'error',
          code: 'LIVE_APPLY_FAILED',
          message: expect.stringContaining('listener failed') as string,
        },
      ]);
    } finally {
      connection.stop();
    }
  });
});
