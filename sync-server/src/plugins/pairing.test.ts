// The pairing relay's routes on a real server (loopback port, SQLite store): order, sides, one approver,
// expiry, size and rate limits, and the long poll. The devices' cryptography is tested in @hale/client.
import { afterEach, describe, expect, it } from 'vitest';
import { base64urlEncode, randomBytes } from '@hale/crypto';
import { PAIRING_MAX_BODY_BYTES, PAIRING_TTL_MS } from '@hale/protocol';
import { http, startServer, type TestServer } from '../testing/harness';
import type { ServerConfig } from '../config';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const t of servers.splice(0)) await t.stop();
});

const start = async (config?: Partial<ServerConfig>): Promise<TestServer> => {
  const t = await startServer(config === undefined ? {} : { config });
  servers.push(t);
  return t;
};

const b64 = (n: number): string => base64urlEncode(randomBytes(n));
const offer = () => ({ t: 'offer', key: b64(32), nonce: b64(32) });
const reveal = () => ({ t: 'reveal', key: b64(32), nonce: b64(32), name: b64(80) });
const sealed = () => ({ t: 'sealed', box: b64(200) });
const done = () => ({ t: 'done', box: b64(80) });

interface Opened {
  code: string;
  newToken: string;
  approverToken: string;
}

const create = async (t: TestServer) => {
  const res = await http(t.url, 'POST', '/v1/pairing', { v: 1, commit: b64(32) });
  return res as { status: number; body: { code: string; token: string; expiresAt: string } };
};

const openPairing = async (t: TestServer): Promise<Opened> => {
  const created = await create(t);
  expect(created.status).toBe(201);
  const claimed = await http(t.url, 'POST', `/v1/pairing/${created.body.code}/claim`);
  expect(claimed.status).toBe(200);
  return {
    code: created.body.code,
    newToken: created.body.token,
    approverToken: (claimed.body as { token: string }).token,
  };
};

const post = (t: TestServer, p: Opened, side: 'new' | 'approver', message: unknown) =>
  http(
    t.url,
    'POST',
    `/v1/pairing/${p.code}/messages`,
    message,
    side === 'new' ? p.newToken : p.approverToken,
  );

const read = (t: TestServer, p: Opened, side: 'new' | 'approver', after = 0, waitMs = 0) =>
  http(
    t.url,
    'GET',
    `/v1/pairing/${p.code}/messages?after=${after}&waitMs=${waitMs}`,
    undefined,
    side === 'new' ? p.newToken : p.approverToken,
  ) as Promise<{ status: number; body: { messages: { seq: number; message: { t: string } }[] } }>;

describe('pairing relay', () => {
  it('relays the five steps in order, each side reading only the other side', async () => {
    const t = await start();
    const created = await create(t);
    expect(created.body.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{10}$/);
    const commit = b64(32);
    const again = await http(t.url, 'POST', '/v1/pairing', { v: 1, commit });
    const code = (again.body as { code: string }).code;
    const claimed = await http(t.url, 'POST', `/v1/pairing/${code}/claim`);
    expect(claimed.body).toMatchObject({ commit });
    const p: Opened = {
      code,
      newToken: (again.body as { token: string }).token,
      approverToken: (claimed.body as { token: string }).token,
    };
    expect((await post(t, p, 'approver', offer())).body).toEqual({ seq: 1 });
    expect((await post(t, p, 'new', reveal())).body).toEqual({ seq: 2 });
    expect((await post(t, p, 'approver', sealed())).body).toEqual({ seq: 3 });
    expect((await post(t, p, 'new', done())).body).toEqual({ seq: 4 });
    const toNew = await read(t, p, 'new');
    expect(toNew.body.messages.map((m) => [m.seq, m.message.t])).toEqual([
      [1, 'offer'],
      [3, 'sealed'],
    ]);
    const toApprover = await read(t, p, 'approver', 2);
    expect(toApprover.body.messages.map((m) => m.message.t)).toEqual(['done']);
    // Done ends it: nothing more is relayed, and the code cannot be claimed again.
    expect((await post(t, p, 'approver', { t: 'cancel', reason: 'refused' })).status).toBe(400);
    expect((await http(t.url, 'POST', `/v1/pairing/${code}/claim`)).body).toMatchObject({
      code: 'PAIRING_UNKNOWN',
    });
  });

  it('takes one approver per code: a second claim is PAIRING_TAKEN', async () => {
    const t = await start();
    const p = await openPairing(t);
    const second = await http(t.url, 'POST', `/v1/pairing/${p.code}/claim`);
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: 'PAIRING_TAKEN' });
  });

  it('refuses an unknown code, a malformed one, a missing or foreign token', async () => {
    const t = await start();
    const unknown = await http(t.url, 'POST', '/v1/pairing/ABCDE12345/claim');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'PAIRING_UNKNOWN' });
    expect((await http(t.url, 'POST', '/v1/pairing/abc/claim')).status).toBe(400);
    const p = await openPairing(t);
    const other = await openPairing(t);
    const none = await http(t.url, 'POST', `/v1/pairing/${p.code}/messages`, offer());
    expect(none.status).toBe(401);
    // A token of another pairing is no side of this one.
    const foreign = await http(t.url, 'POST', `/v1/pairing/${p.code}/messages`, offer(), other.approverToken);
    expect(foreign.body).toMatchObject({ code: 'UNAUTHENTICATED' });
    const peek = await http(
      t.url,
      'GET',
      `/v1/pairing/${p.code}/messages?after=0`,
      undefined,
      other.newToken,
    );
    expect(peek.status).toBe(401);
  });

  it('takes each message only from its side and in its turn', async () => {
    const t = await start();
    const p = await openPairing(t);
    // The new device cannot speak first, nor the approver reveal.
    expect((await post(t, p, 'new', reveal())).status).toBe(400);
    expect((await post(t, p, 'approver', reveal())).status).toBe(400);
    expect((await post(t, p, 'approver', sealed())).status).toBe(400);
    expect((await post(t, p, 'approver', offer())).status).toBe(200);
    // An offer is taken once: a second (a replay) is refused.
    expect((await post(t, p, 'approver', offer())).status).toBe(400);
    expect((await post(t, p, 'new', done())).status).toBe(400);
    // A message of a shape the protocol does not know is refused before it is relayed.
    expect((await post(t, p, 'new', { ...reveal(), extra: 1 })).status).toBe(400);
    expect((await post(t, p, 'new', { t: 'reveal', key: 'x', nonce: b64(32), name: b64(8) })).status).toBe(
      400,
    );
    const seen = await read(t, p, 'new');
    expect(seen.body.messages.map((m) => m.message.t)).toEqual(['offer']);
  });

  it('ends a pairing on cancel: the other side reads it, nothing more is relayed', async () => {
    const t = await start();
    const p = await openPairing(t);
    await post(t, p, 'approver', offer());
    expect((await post(t, p, 'new', { t: 'cancel', reason: 'mismatch' })).status).toBe(200);
    const seen = await read(t, p, 'approver');
    expect(seen.body.messages.map((m) => m.message)).toEqual([{ t: 'cancel', reason: 'mismatch' }]);
    expect((await post(t, p, 'approver', sealed())).status).toBe(400);
  });

  it('forgets a pairing once its lifetime has passed', async () => {
    const t = await start();
    const p = await openPairing(t);
    t.clock.advance(PAIRING_TTL_MS);
    const after = await read(t, p, 'new');
    expect(after.status).toBe(404);
    expect(after.body).toMatchObject({ code: 'PAIRING_UNKNOWN' });
  });

  it('refuses a body over the size limit', async () => {
    const t = await start();
    const p = await openPairing(t);
    const big = { t: 'sealed', box: 'A'.repeat(PAIRING_MAX_BODY_BYTES + 10) };
    const res = await post(t, p, 'approver', big);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ code: 'TOO_LARGE' });
  });

  it('caps open pairings per address and creations per address (RATE_LIMITED)', async () => {
    const t = await start({ rateLimitPerAddress: { perSecond: 100, burst: 200 } });
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await create(t));
    expect(made.every((m) => m.status === 201)).toBe(true);
    const sixth = await create(t);
    expect(sixth.status).toBe(429);
    expect(sixth.body).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterMs: PAIRING_TTL_MS } });
    // The bucket: 10 creations and claims in a burst, then refused, open cap or not.
    const claims = [];
    for (let i = 0; i < 6; i++) claims.push(await http(t.url, 'POST', '/v1/pairing/ABCDE12345/claim'));
    expect(claims.slice(0, 4).map((c) => c.status)).toEqual([404, 404, 404, 404]);
    expect(claims.slice(4).map((c) => c.status)).toEqual([429, 429]);
  });

  it('answers a waiting read as soon as the other side posts, and at once when the server stops', async () => {
    const t = await start();
    const p = await openPairing(t);
    const started = Date.now();
    const waiting = read(t, p, 'new', 0, 20_000);
    await new Promise((r) => setTimeout(r, 100));
    await post(t, p, 'approver', offer());
    const got = await waiting;
    expect(got.body.messages.map((m) => m.message.t)).toEqual(['offer']);
    expect(Date.now() - started).toBeLessThan(5_000);

    const idle = read(t, p, 'approver', 0, 20_000);
    await new Promise((r) => setTimeout(r, 100));
    const stopping = Date.now();
    await t.server.close();
    const answered = await idle;
    expect(answered.status).toBe(200);
    expect(answered.body.messages).toEqual([]);
    expect(Date.now() - stopping).toBeLessThan(5_000);
  });
});
