// Per-address limits key on the client's network, not the exact address: an IPv6 host routinely holds a
// whole /64 and can pick a fresh address per request, so IPv6 clients share one budget per /64; an
// IPv4-mapped IPv6 address (a dual-stack listener's view of an IPv4 client) counts as that IPv4 address;
// IPv4 stays per address. Real server on a loopback port; the client addresses come from X-Forwarded-For
// of a trusted proxy (the loopback client itself), or from Fastify's inject for the direct socket address.
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { startServer, tryUpgrade, type TestServer } from './testing/harness';

const BURST = 4;

/** A plain HTTP request through the "proxy" (this test) on behalf of `client`. */
const viaProxy = async (t: TestServer, client: string, url = '/v1/server', init: RequestInit = {}) => {
  const res = await fetch(t.url + url, {
    ...init,
    headers: { ...(init.headers as Record<string, string>), 'x-forwarded-for': client },
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as unknown };
};

/** Attempts an upgrade on behalf of `client`: 101 and the socket, or the refusal's status and body. */
const upgradeFor = (t: TestServer, client: string) =>
  tryUpgrade(t, { headers: { 'x-forwarded-for': client } });

describe('per-address limits group IPv6 clients by /64', () => {
  let t: TestServer | undefined;
  const sockets: WebSocket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.terminate();
    await t?.stop();
    t = undefined;
  });

  it('HTTP: addresses of one /64 share one bucket, another /64 has its own, IPv4 stays per address', async () => {
    t = await startServer({
      config: { trustProxy: '127.0.0.1', rateLimitPerAddress: { perSecond: 1, burst: BURST } },
    });
    // A new address of the same /64 for every request, written every way IPv6 allows.
    const rotating = [
      '2001:db8:aa:bb::1',
      '2001:db8:aa:bb:1:2:3:4',
      '2001:0DB8:00AA:00BB:ffff:ffff:ffff:fffe',
      '2001:db8:aa:bb:0:0:0:77',
    ];
    for (const client of rotating) expect((await viaProxy(t, client)).status).toBe(200);
    const refused = await viaProxy(t, '2001:db8:aa:bb:dead:beef:0:1');
    expect(refused).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });

    // The neighbouring /64 (a different network) is not charged for it.
    for (let i = 0; i < BURST; i++) expect((await viaProxy(t, `2001:db8:aa:bc::${i + 1}`)).status).toBe(200);
    expect((await viaProxy(t, '2001:db8:aa:bc::99')).status).toBe(429);

    // IPv4 neighbours are separate clients (one address each, NAT'd households included).
    for (let i = 0; i < BURST; i++) expect((await viaProxy(t, '198.51.100.7')).status).toBe(200);
    expect((await viaProxy(t, '198.51.100.7')).status).toBe(429);
    expect((await viaProxy(t, '198.51.100.8')).status).toBe(200);
  });

  it('HTTP: an IPv4-mapped IPv6 address counts as its IPv4 address', async () => {
    t = await startServer({
      config: { trustProxy: '127.0.0.1', rateLimitPerAddress: { perSecond: 1, burst: BURST } },
    });
    for (let i = 0; i < BURST / 2; i++) expect((await viaProxy(t, '203.0.113.9')).status).toBe(200);
    for (let i = 0; i < BURST / 2; i++) expect((await viaProxy(t, '::ffff:203.0.113.9')).status).toBe(200);
    expect((await viaProxy(t, '::ffff:cb00:7109')).status).toBe(429);
    expect((await viaProxy(t, '203.0.113.9')).status).toBe(429);
    // ...and not as the rest of ::ffff:0:0/96 (its own /64 would hold every IPv4 client).
    expect((await viaProxy(t, '::ffff:203.0.113.10')).status).toBe(200);
  });

  it('HTTP: a path Fastify refuses before routing is charged to the client behind the proxy', async () => {
    t = await startServer({
      config: { trustProxy: '127.0.0.1', rateLimitPerAddress: { perSecond: 1, burst: BURST } },
    });
    // Not valid percent-encoding: answered by `frameworkErrors`, whose request object ignores trustProxy.
    for (let i = 0; i < BURST; i++) {
      expect(await viaProxy(t, '198.51.100.20', '/v1/accounts/%ZZ')).toMatchObject({
        status: 400,
        body: { code: 'BAD_MESSAGE' },
      });
    }
    expect(await viaProxy(t, '198.51.100.20', '/v1/accounts/%ZZ')).toMatchObject({
      status: 429,
      body: { code: 'RATE_LIMITED' },
    });
    expect((await viaProxy(t, '198.51.100.20')).status).toBe(429);
    // Every other client of the proxy keeps its own budget (keyed on the proxy, all would share one).
    expect((await viaProxy(t, '198.51.100.21')).status).toBe(200);
    expect((await viaProxy(t, '198.51.100.21', '/v1/accounts/%ZZ')).status).toBe(400);
  });

  it('POST /v1/join: the per-address join budget is per /64', async () => {
    // A join costs 10 tokens of its own key: a burst of 10 is one join.
    t = await startServer({
      config: { trustProxy: '127.0.0.1', rateLimitPerAddress: { perSecond: 1, burst: 10 } },
    });
    const join = (client: string) =>
      viaProxy(t!, client, '/v1/join', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ loginName: 'nobody-here' }),
      });
    const first = await join('2001:db8:1:2::a');
    expect(first.status).toBe(404);
    const second = await join('2001:db8:1:2::b');
    expect(second).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    expect((await join('2001:db8:1:3::a')).status).toBe(404);
  });

  it('WebSocket: open connections per address and upgrades per address are counted per /64', async () => {
    t = await startServer({
      config: {
        trustProxy: '127.0.0.1',
        maxConnectionsPerAddress: 2,
        rateLimitUpgradesPerAddress: { perSecond: 1, burst: 100 },
      },
    });
    for (const client of ['2001:db8:5:6::1', '2001:db8:5:6::2']) {
      const r = await upgradeFor(t, client);
      if (!('ws' in r)) throw new Error(`refused: ${r.status} ${JSON.stringify(r.body)}`);
      sockets.push(r.ws);
    }
    const third = await upgradeFor(t, '2001:db8:5:6:ffff::3');
    if ('ws' in third) sockets.push(third.ws);
    expect(third).toMatchObject({ status: 429, body: { code: 'TOO_MANY_CONNECTIONS' } });
    // Another /64 may still connect.
    const other = await upgradeFor(t, '2001:db8:5:7::1');
    if ('ws' in other) sockets.push(other.ws);
    expect(other.status).toBe(101);
  });

  it('WebSocket upgrades: one /64 shares its upgrade bucket', async () => {
    t = await startServer({
      config: { trustProxy: '127.0.0.1', rateLimitUpgradesPerAddress: { perSecond: 1, burst: 2 } },
    });
    for (const client of ['2001:db8:9::1', '2001:db8:9::2']) {
      const r = await upgradeFor(t, client);
      if (!('ws' in r)) throw new Error(`refused: ${r.status} ${JSON.stringify(r.body)}`);
      sockets.push(r.ws);
    }
    const third = await upgradeFor(t, '2001:db8:9::3');
    if ('ws' in third) sockets.push(third.ws);
    expect(third).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
  });

  it('the socket address itself (no proxy) is grouped the same way', async () => {
    t = await startServer({ config: { rateLimitPerAddress: { perSecond: 1, burst: BURST } } });
    const inject = (remoteAddress: string) =>
      t!.server.app.inject({ method: 'GET', url: '/v1/server', remoteAddress });
    for (let i = 0; i < BURST; i++) expect((await inject(`2001:db8:77:1::${i + 1}`)).statusCode).toBe(200);
    const refused = await inject('2001:db8:77:1::ff');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect((await inject('::ffff:192.0.2.1')).statusCode).toBe(200);
    expect((await inject('2001:db8:77:2::1')).statusCode).toBe(200);
  });
});
