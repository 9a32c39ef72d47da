// The client-address key (IPv6 /64 grouping, ::ffff: mapping, the trusted proxy's X-Forwarded-For) is
// worked out once per request, however many limits count the request (the address bucket, the join
// budget, the upgrade bucket, the open-socket count). The key function is wrapped to count its calls per
// client address; each request below comes from an address of its own through a trusted proxy (this
// test), so the calls for that address are the calls for that request. Real server on a loopback port.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startServer, tryUpgrade, type TestServer } from './testing/harness';
import type * as ClientAddress from './core/client-address';

const calls = vi.hoisted(() => new Map<string, number>());

vi.mock('./core/client-address', async (importOriginal) => {
  const original = await importOriginal<typeof ClientAddress>();
  return {
    ...original,
    clientAddressKey: (ip: string): string => {
      calls.set(ip, (calls.get(ip) ?? 0) + 1);
      return original.clientAddressKey(ip);
    },
  };
});

describe('the client-address key is computed once per request', () => {
  let t: TestServer;
  beforeEach(async () => {
    calls.clear();
    t = await startServer({ config: { trustProxy: '127.0.0.1' } });
  });
  afterEach(async () => {
    await t.stop();
  });

  const viaProxy = async (client: string, url: string, init: RequestInit = {}) => {
    const res = await fetch(t.url + url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), 'x-forwarded-for': client },
    });
    await res.text();
    return res.status;
  };

  it('a plain request: the address bucket', async () => {
    expect(await viaProxy('2001:db8:1::7', '/v1/server')).toBe(200);
    expect(calls.get('2001:db8:1::7')).toBe(1);
  });

  it('a join attempt: the address bucket and the join budget', async () => {
    const status = await viaProxy('2001:db8:2::7', '/v1/join', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ loginName: 'nobody-here' }),
    });
    // Unknown login name: refused after both budgets were charged.
    expect(status).toBe(404);
    expect(calls.get('2001:db8:2::7')).toBe(1);
  });

  it('a WebSocket upgrade: the upgrade bucket, the open-socket count and the socket itself', async () => {
    const attempt = await tryUpgrade(t, { headers: { 'x-forwarded-for': '::ffff:198.51.100.9' } });
    expect(attempt.status).toBe(101);
    if ('ws' in attempt) {
      const closed = new Promise((resolve) => attempt.ws.once('close', resolve));
      attempt.ws.close();
      await closed;
    }
    expect(calls.get('::ffff:198.51.100.9')).toBe(1);
  });

  it('a request Fastify refuses before routing', async () => {
    expect(await viaProxy('2001:db8:3::7', '/v1/accounts/%ZZ')).toBe(400);
    // Fastify builds this request without trustProxy; the key is still the client's, not the proxy's.
    expect([...calls]).toEqual([['2001:db8:3::7', 1]]);
  });
});
