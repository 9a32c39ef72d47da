// The socket's clocks: an `auth` answering a challenge older than CHALLENGE_TTL_MS is refused, and a
// ready socket is closed with SESSION_EXPIRED once SESSION_TTL_MS has passed. The challenge is judged by
// the injected server clock (moved by the test); the session ends by a timer, faked here so the test, not
// the wall clock, decides when it is due.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CHALLENGE_TTL_MS, SESSION_TTL_MS, authSignaturePayload, type ServerFrame } from '@hale/protocol';
import {
  connect,
  openWs,
  registerAccount,
  sign,
  startServer,
  type TestAccount,
  type TestServer,
  type WsClient,
} from '../testing/harness';

/** Lets the server's handlers run (real I/O turns); the faked timers do not move. */
const until = async (what: string, done: () => boolean) => {
  for (let i = 0; i < 5000; i++) {
    if (done()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe('sync socket clocks', () => {
  let t: TestServer | undefined;
  const clients: WsClient[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const c of clients.splice(0)) c.ws.terminate();
    await t?.stop();
    t = undefined;
  });

  /** Says hello, lets `delayMs` pass on the server clock, then answers the challenge correctly. */
  const answerLate = async (server: TestServer, account: TestAccount, delayMs: number) => {
    const c = await openWs(server);
    clients.push(c);
    const { deviceId, keys } = account.device;
    const challenge = await c.request({ t: 'hello', versions: [1], deviceId });
    if (challenge.t !== 'challenge') throw new Error(`expected challenge, got ${challenge.t}`);
    server.clock.advance(delayMs);
    const sig = await sign(
      keys.secretKey,
      authSignaturePayload({ nonce: challenge.nonce, deviceId, serverId: challenge.serverId }),
    );
    return { c, reply: await c.request({ t: 'auth', sig }) };
  };

  it('refuses an auth that answers an expired challenge (CHALLENGE_INVALID, 4001); one answered in time is served', async () => {
    t = await startServer();
    const patient = await registerAccount(t);

    // Expired at its expiry instant, as POST /v1/auth/session judges it (challengeExpired; the same
    // boundary there is in accounts-refusals.test.ts).
    const late = await answerLate(t, patient, CHALLENGE_TTL_MS);
    expect(late.reply).toMatchObject({ t: 'error', code: 'CHALLENGE_INVALID' });
    expect(await late.c.closed).toEqual({ code: 4001, reason: 'CHALLENGE_INVALID' });
    expect(late.c.unsolicited.map((f) => f.t)).not.toContain('ready');
    expect(t.server.hub.size()).toBe(0);

    // The last millisecond of the challenge's life still counts.
    const onTime = await answerLate(t, patient, CHALLENGE_TTL_MS - 1);
    expect(onTime.reply.t).toBe('ready');
    expect(t.server.hub.size()).toBe(1);
  });

  it('closes a ready socket with SESSION_EXPIRED (4002) once SESSION_TTL_MS has passed, and serves it no more', async () => {
    t = await startServer();
    const patient = await registerAccount(t);
    // From here on only timeouts are faked: the socket's I/O and the store stay real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const c = await connect(t, patient.device);
    clients.push(c);

    await vi.advanceTimersByTimeAsync(SESSION_TTL_MS - 1);
    expect((await c.request({ t: 'ping', rid: c.rid() })).t).toBe('pong');

    await vi.advanceTimersByTimeAsync(1);
    // A frame sent now is not answered: the close comes first (and the ping never gets its pong).
    const first = await Promise.race([
      c.closed,
      c.request<ServerFrame>({ t: 'ping', rid: c.rid() }).then((f) => ({ answered: f.t })),
    ]);
    expect(first).toEqual({ code: 4002, reason: 'SESSION_EXPIRED' });
    expect(c.unsolicited).toContainEqual(expect.objectContaining({ t: 'error', code: 'SESSION_EXPIRED' }));
    await until('the server to drop the live connection', () => t!.server.hub.size() === 0);
  });
});
