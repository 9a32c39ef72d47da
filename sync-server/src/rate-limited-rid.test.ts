// A rate-limited request is answered RATE_LIMITED with its rid whatever the order of its members: the
// device's connection wrote `{ ...frame, rid }` (rid last, after `streams`, `rows` and so on), which the
// server could not read, so every such request but one per second went unanswered and its device waited
// for its request timeout, then dropped the socket. The injected clock stands still: no token comes back.
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  encodeFrame,
  type ClientFrame,
  type ErrorFrame,
} from '@hale/protocol';
import {
  connect,
  makeDoc,
  makeEnvelope,
  makeGrant,
  makeRevocation,
  registerAccount,
  startServer,
  streamOf,
  type TestServer,
  type WsClient,
} from './testing/harness';

type Request = Exclude<ClientFrame, { t: 'hello' } | { t: 'auth' }>;

/** The bytes the device's connection sent before it put `rid` first: `{ ...frame, rid }`. */
const ridLast = (frame: Request): string => {
  const { rid, ...rest } = frame;
  return encodeFrame({ ...rest, rid });
};

/** Sends `text` and waits for the error frame answering `rid` (the harness times out otherwise). */
const answerTo = (c: WsClient, rid: number, text: string): Promise<ErrorFrame> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to rid ${rid}`)), 1_000);
    const onMessage = (data: Buffer): void => {
      const frame = JSON.parse(data.toString('utf8')) as { rid?: unknown };
      if (frame.rid !== rid) return;
      clearTimeout(timer);
      c.ws.off('message', onMessage);
      resolve(frame as ErrorFrame);
    };
    c.ws.on('message', onMessage);
    c.sendRaw(text);
  });

describe('rate-limited requests, rid anywhere among the top-level members', () => {
  let t: TestServer | undefined;
  const clients: WsClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await t?.stop();
    t = undefined;
  });

  const limitedClient = async () => {
    t = await startServer({ config: { rateLimitPerDevice: { perSecond: 1, burst: 1 } } });
    const a = await registerAccount(t);
    const b = await registerAccount(t);
    const c = await connect(t, a.device, { versions: [PROTOCOL_VERSION] });
    clients.push(c);
    // Spends the one token: every frame below is refused for load.
    expect((await c.request({ t: 'ping', rid: c.rid() })).t).toBe('pong');
    return { c, a, b };
  };

  it('every request type, encoded as the device sent it, is answered RATE_LIMITED with its rid', async () => {
    const { c, a, b } = await limitedClient();
    const stream = streamOf(a.accountId, 'note');
    const grant = await makeGrant(a, b, [{ type: 'note', access: 'read' }]);
    const requests: Request[] = [
      { t: 'pull', rid: 101, streams: [{ stream, since: 0 }], limit: 10, maxBytes: 1000 },
      {
        t: 'push',
        rid: 102,
        rows: [
          { doc: await makeDoc(a, a.device, 'note', { text: 'a "rid": 7, {[' }), assumedRev: null },
          { doc: await makeDoc(a, a.device, 'note', { text: 'b' }), assumedRev: null },
        ],
      },
      { t: 'subscribe', rid: 103, streams: [{ stream, since: 0 }] },
      { t: 'unsubscribe', rid: 104, streams: [stream] },
      { t: 'grant', rid: 105, grant },
      { t: 'revoke', rid: 106, revocation: await makeRevocation(a, grant.grant.grantId) },
      { t: 'putEnvelopes', rid: 107, envelopes: [await makeEnvelope(a, a.device, b, 'note')] },
      { t: 'getEnvelopes', rid: 108, streams: [stream] },
      { t: 'listKeyHolders', rid: 109, streams: [stream] },
      { t: 'listStreams', rid: 110, cursor: 'x', limit: 5 },
      { t: 'listGrants', rid: 111, side: 'issued', active: true },
      { t: 'acceptPatient', rid: 112, patientId: b.accountId, accept: true },
      { t: 'listAccepted', rid: 113, limit: 3 },
      { t: 'ping', rid: 114 },
    ];
    const answers: Array<[string, string, number | undefined]> = [];
    for (const frame of requests) {
      const answer = await answerTo(c, frame.rid, ridLast(frame)).catch(() => undefined);
      answers.push([frame.t, answer?.code ?? 'no answer', answer?.rid]);
    }
    expect(answers).toEqual(requests.map((f) => [f.t, 'RATE_LIMITED', f.rid]));
  });

  // Served, such a frame is refused BAD_MESSAGE naming no request (frame-duplicates.test.ts); refused for
  // load it named its first rid, so the device's request waiting under that rid (the frame may reuse the
  // rid of one still pending) took the refusal for its own answer and was sent again, or failed.
  it('names no request for a frame that repeats its rid, as its served refusal does', async () => {
    const { c } = await limitedClient();
    const next = new Promise<Record<string, unknown>>((resolve) =>
      c.ws.once('message', (data: Buffer) =>
        resolve(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
      ),
    );
    c.sendRaw('{"t":"ping","rid":301,"rid":302}');
    const answer = await next;
    expect(answer).toMatchObject({ t: 'error', code: 'RATE_LIMITED' });
    expect(answer).not.toHaveProperty('rid');
  });

  it('finds the rid after a push near the frame limit, and only a top-level one', async () => {
    const { c, a } = await limitedClient();
    const doc = await makeDoc(a, a.device, 'note', { text: 'x' });
    // About 6 MiB of rows before the rid, as a full batch from an older device puts it.
    const rows = Array.from({ length: 1_500 }, () => ({
      doc: { ...doc, ct: 'A'.repeat(4_000) },
      assumedRev: null,
    }));
    const big = encodeFrame({ t: 'push', rows, rid: 201 });
    expect(big.length).toBeGreaterThan(6 * 1024 * 1024);
    expect(big.length).toBeLessThan(MAX_FRAME_BYTES);
    expect(await answerTo(c, 201, big)).toMatchObject({ code: 'RATE_LIMITED', rid: 201 });
    // Rid-like text in strings and members of nested objects is not the frame's rid.
    expect(
      await answerTo(c, 202, '{"t":"ping","note":"\\"rid\\":9,","x":{"rid":9},"y":[{"rid":9}],"rid":202}'),
    ).toMatchObject({ code: 'RATE_LIMITED', rid: 202 });
  });
});
