// Requests that reach the server while it shuts down (on a connection it still holds: one whose request
// was under way when close() began) are refused UNAVAILABLE (503) with the typed body, a /sync upgrade as
// any other request, and the connection closes. Fastify's own answer was `{"error":"Service Unavailable",
// "statusCode":503}`, and ws's (an upgrade reaching it once its server closed) an HTML page: neither is
// the envelope a device reads to know it should back off and retry.
import { connect as tcp } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@hale/protocol';
import { startServer, type TestServer } from './testing/harness';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.store.close();
  t = undefined;
});

/** A connection that sent `head` (a request not yet whole); `rest` completes it, `answer` is what came back. */
const startRequest = async (port: number, head: string) => {
  const s = tcp(port, '127.0.0.1');
  await new Promise((resolve) => s.once('connect', resolve));
  let text = '';
  s.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  s.on('error', () => undefined);
  let closed = false;
  const onClose = new Promise<void>((resolve) =>
    s.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  s.write(head);
  return {
    finish: async (rest: string) => {
      s.write(rest);
      await Promise.race([onClose, new Promise((resolve) => setTimeout(resolve, 3_000))]);
      s.destroy();
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const [status = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
      );
      return { status: Number(status.split(' ')[1]), headers, body, closed };
    },
  };
};

describe('requests during shutdown', () => {
  it('a /sync upgrade and an HTTP request are refused UNAVAILABLE with the typed body', async () => {
    t = await startServer();
    const port = Number(new URL(t.url).port);
    const upgrade = await startRequest(port, 'GET /sync HTTP/1.1\r\nHost: x\r\n');
    const plain = await startRequest(port, 'GET /v1/server HTTP/1.1\r\nHost: x\r\n');
    // Both requests' first bytes were read: their connections are not idle, so close() leaves them open.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = t.server.close();
    while (t.server.app.server.listening) await new Promise((resolve) => setTimeout(resolve, 5));
    const answers = {
      upgrade: await upgrade.finish(
        'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
      plain: await plain.finish('\r\n'),
    };
    for (const [what, answer] of Object.entries(answers)) {
      expect(answer.status, `${what}: ${answer.body}`).toBe(ERROR_CODES.UNAVAILABLE.http);
      expect(answer.headers['content-type'], what).toMatch(/^application\/json/);
      expect(answer.headers.connection, what).toBe('close');
      expect(answer.closed, what).toBe(true);
      const body = JSON.parse(answer.body) as Record<string, unknown>;
      expect(Object.keys(body).sort(), what).toEqual(['code', 'message']);
      expect(body.code, what).toBe('UNAVAILABLE');
    }
    // Nothing left holding the server open: the refused upgrade's socket was closed too.
    await closing;
  });
});
