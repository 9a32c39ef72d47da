// A frame that is not text (every frame of the protocol is): reported as any invalid frame is, never
// dropped unseen, and the connection goes on.
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '@hale/protocol';
import { heldConnection, heldServer, settle } from './handshaking-socket.test-util';

describe('a frame that is not text', () => {
  it('is reported as an invalid frame (BAD_MESSAGE) and ignored; the connection goes on', async () => {
    const server = heldServer();
    const frames: ServerFrame[] = [];
    const connection = heldConnection(server, { onFrame: (frame) => frames.push(frame) });
    connection.start();
    try {
      await connection.whenReady();
      const sent = connection.request({ t: 'listStreams' });
      sent.catch(() => undefined);
      await settle();
      const [asked] = server.requests;
      const reply = JSON.stringify({ t: 'streams', rid: asked!.rid, streams: [] });
      // The reply as a binary frame (as `ws` and browsers hand one on): every frame of the protocol is text.
      server.deliverData(new TextEncoder().encode(reply).buffer);
      expect(frames).toEqual([{ t: 'error', code: 'BAD_MESSAGE', message: expect.any(String) as string }]);
      expect(connection.status()).toBe('ready');
      server.deliverData(reply);
      expect(await sent).toMatchObject({ t: 'streams', streams: [] });
    } finally {
      connection.stop();
    }
  });
});
