// A frame that repeats a member name within an object is refused BAD_MESSAGE and changes nothing. JSON.parse
// kept the last copy, while the bounded scan that names a rate-limited frame's request (frame-rid.ts) takes
// the first: `{"t":"ping","rid":1,"rid":2}` was answered `pong` for rid 2 when served and RATE_LIMITED
// for rid 1 when limited, and a push row naming two documents stored the second. A repeated `rid` now
// names no request; any other repeated name leaves the rid named; the socket stays usable.
import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type PulledFrame, type ServerFrame } from '@hale/protocol';
import {
  connect,
  makeDoc,
  registerAccount,
  startServer,
  streamOf,
  type TestServer,
  type WsClient,
} from './testing/harness';

/** Sends `text` as it is and answers the next frame the server sends. */
const answerTo = (c: WsClient, text: string): Promise<ServerFrame> =>
  new Promise((resolve) => {
    c.ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString('utf8')) as ServerFrame));
    c.sendRaw(text);
  });

describe('frames with a repeated member name', () => {
  let t: TestServer | undefined;
  const clients: WsClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await t?.stop();
    t = undefined;
  });

  it('are refused BAD_MESSAGE, naming the rid only when it is not the repeated name, and store nothing', async () => {
    t = await startServer();
    const a = await registerAccount(t);
    const c = await connect(t, a.device, { versions: [PROTOCOL_VERSION] });
    clients.push(c);
    expect(await answerTo(c, '{"t":"ping","rid":1,"rid":2}')).toStrictEqual({
      t: 'error',
      code: 'BAD_MESSAGE',
      message: expect.stringMatching(/^\/rid: duplicate member name/) as unknown,
      details: { issues: [{ path: '/rid', reason: expect.any(String) as unknown }] },
    });
    expect(await answerTo(c, '{"t":"ping","rid":5,"t":"ping"}')).toMatchObject({
      t: 'error',
      rid: 5,
      code: 'BAD_MESSAGE',
      details: { issues: [{ path: '/t' }] },
    });

    const stream = streamOf(a.accountId, 'note');
    const first = JSON.stringify(await makeDoc(a, a.device, 'note', { text: 'first' }));
    const second = JSON.stringify(await makeDoc(a, a.device, 'note', { text: 'second' }));
    const push = `{"t":"push","rid":7,"rows":[{"doc":${first},"assumedRev":null,"doc":${second}}]}`;
    expect(await answerTo(c, push)).toMatchObject({
      t: 'error',
      rid: 7,
      code: 'BAD_MESSAGE',
      details: { issues: [{ path: '/rows/0/doc' }] },
    });
    const pulled = await c.request<PulledFrame>({
      t: 'pull',
      rid: 8,
      streams: [{ stream, since: 0 }],
      limit: 10,
      maxBytes: 100_000,
    });
    expect(pulled.t).toBe('pulled');
    expect(pulled.docs).toStrictEqual([]);
  });
});
