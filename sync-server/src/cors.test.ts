// A web app served from another origin than the server (`allowedOrigins`, plugins/cors.ts): CORS on the
// HTTP API for the allowed origins only, nothing for others or by default, and the `Origin` check on
// WebSocket upgrades. Real servers on loopback ports, requests as a browser sends them.
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP_ROUTES } from '@hale/protocol';
import type { ServerConfig } from './config';
import { CORS_MAX_AGE_SECONDS } from './plugins/cors';
import { startServer, tryUpgrade, type TestServer } from './testing/harness';

const APP = 'https://app.example.org';
const OTHER_APP = 'http://localhost:5173';
const STRANGER = 'https://elsewhere.example.com';

/** Every `access-control-*` header of an answer. */
const corsHeaders = (res: Response): Record<string, string> =>
  Object.fromEntries([...res.headers].filter(([name]) => name.startsWith('access-control-')));

const varies = (res: Response): string[] =>
  (res.headers.get('vary') ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== '');

/** What a browser sends before a chunk upload (a PUT with a bearer token and a binary body). */
const preflight = (t: TestServer, origin: string, path = '/v1/blobs/b1/chunks/0') =>
  fetch(t.url + path, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'authorization,content-type',
    },
  });

const get = (t: TestServer, path: string, headers: Record<string, string> = {}) =>
  fetch(t.url + path, { headers });

const forbiddenCount = async (t: TestServer): Promise<number> =>
  (await t.server.metrics.refusals.get()).values.find((v) => v.labels.code === 'FORBIDDEN')?.value ?? 0;

describe('browser origins', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });
  const start = async (config: Partial<ServerConfig> = {}): Promise<TestServer> => {
    t = await startServer({ config });
    return t;
  };

  it('by default sends no CORS header and answers no preflight, whatever the origin', async () => {
    const s = await start();
    for (const origin of [APP, STRANGER]) {
      const answer = await get(s, '/v1/server', { origin });
      expect(answer.status).toBe(200);
      expect(corsHeaders(answer)).toEqual({});
      expect(varies(answer)).not.toContain('origin');
      const pre = await preflight(s, origin);
      expect(pre.status).toBe(404);
      expect(await pre.json()).toMatchObject({ code: 'NOT_FOUND' });
      expect(corsHeaders(pre)).toEqual({});
    }
  });

  it("answers an allowed origin's preflight with the methods and headers the device uses, bounded", async () => {
    const s = await start({ allowedOrigins: [APP, OTHER_APP] });
    for (const origin of [APP, OTHER_APP]) {
      const pre = await preflight(s, origin);
      expect(pre.status).toBe(204);
      expect(await pre.text()).toBe('');
      const headers = corsHeaders(pre);
      expect(headers['access-control-allow-origin']).toBe(origin);
      expect(headers['access-control-allow-credentials']).toBeUndefined();
      const methods = (headers['access-control-allow-methods'] ?? '').split(',').map((m) => m.trim());
      const used = new Set(Object.values(HTTP_ROUTES).map((route) => route.method));
      expect(new Set(methods)).toEqual(used);
      expect(used).toEqual(new Set(['GET', 'POST', 'PUT', 'DELETE']));
      const allowed = (headers['access-control-allow-headers'] ?? '').split(',').map((h) => h.trim());
      expect(allowed.sort()).toEqual(['authorization', 'content-type']);
      expect(headers['access-control-max-age']).toBe(String(CORS_MAX_AGE_SECONDS));
      expect(CORS_MAX_AGE_SECONDS).toBeLessThanOrEqual(7200);
      expect(varies(pre)).toContain('origin');
    }
    // An OPTIONS without Access-Control-Request-Method: the same answer, not a text/plain 400 outside
    // the error envelope.
    const bare = await fetch(`${s.url}/v1/server`, { method: 'OPTIONS', headers: { origin: APP } });
    expect(bare.status).toBe(204);
    expect(bare.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('echoes an allowed origin on real answers, refusals included, and exposes what the client reads', async () => {
    const s = await start({ allowedOrigins: [APP] });
    const ok = await get(s, '/v1/server', { origin: APP });
    expect(ok.status).toBe(200);
    expect(corsHeaders(ok)).toEqual({
      'access-control-allow-origin': APP,
      'access-control-expose-headers': 'content-length',
    });
    expect(varies(ok)).toContain('origin');
    // A refusal in the error envelope, readable by the page.
    const refused = await get(s, '/v1/directory?q=x', { origin: APP });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(refused.headers.get('access-control-allow-origin')).toBe(APP);
    const missing = await get(s, '/v1/nothing-here', { origin: APP });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect(missing.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('sends another origin no CORS header, and its preflight reaches no handler', async () => {
    const s = await start({ allowedOrigins: [APP] });
    // Near misses of the allowed origin are other origins: the match is exact.
    for (const origin of [
      STRANGER,
      'http://app.example.org',
      `${APP}:8443`,
      'https://APP.example.org',
      'null',
    ]) {
      const answer = await get(s, '/v1/server', { origin });
      expect(answer.status).toBe(200);
      expect(corsHeaders(answer), origin).toEqual({});
      // The answer still depends on the Origin: caches must keep them apart.
      expect(varies(answer)).toContain('origin');
      const pre = await preflight(s, origin, '/v1/accounts');
      expect(pre.status, origin).toBe(404);
      expect(await pre.json()).toMatchObject({ code: 'NOT_FOUND' });
      expect(corsHeaders(pre), origin).toEqual({});
    }
    // Without Origin (a Node device, a same-origin GET): no CORS header either.
    expect(corsHeaders(await get(s, '/v1/server'))).toEqual({});
  });

  it('keeps the address bucket on real requests of an allowed origin, not on its preflights', async () => {
    const burst = 3;
    const s = await start({ allowedOrigins: [APP], rateLimitPerAddress: { perSecond: 1, burst } });
    for (let i = 0; i < 10; i++) expect((await preflight(s, APP)).status).toBe(204);
    for (let i = 0; i < burst; i++) expect((await get(s, '/v1/server', { origin: APP })).status).toBe(200);
    const limited = await get(s, '/v1/server', { origin: APP });
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterMs: 1000 } });
    expect(limited.headers.get('access-control-allow-origin')).toBe(APP);
    // A stranger's preflight is an ordinary request to an unknown route: it meets the bucket too.
    const stranger = await preflight(s, STRANGER);
    expect(stranger.status).toBe(429);
    expect(corsHeaders(stranger)).toEqual({});
  });

  it('gives a request refused before routing the same CORS headers, so the page reads the envelope', async () => {
    const s = await start({ allowedOrigins: [APP] });
    const valid = await preflight(s, APP);
    const expected: Array<[string, number, string]> = [
      ['/v1/accounts/%ZZ', 400, 'BAD_MESSAGE'],
      [`/v1/accounts/${'A'.repeat(500)}`, 413, 'TOO_LARGE'],
    ];
    for (const [path, status, code] of expected) {
      const refused = await get(s, path, { origin: APP });
      expect(refused.status, path).toBe(status);
      expect(await refused.json()).toMatchObject({ code });
      expect(corsHeaders(refused), path).toEqual({
        'access-control-allow-origin': APP,
        'access-control-expose-headers': 'content-length',
      });
      expect(varies(refused), path).toContain('origin');
    }
    // The preflight of a request to a malformed path is answered as any other, so the request itself is
    // sent and its refusal read; it is no request of the API and meets no bucket, as the plugin's.
    const pre = await preflight(s, APP, '/v1/blobs/%ZZ/chunks/0');
    expect(pre.status).toBe(204);
    expect(await pre.text()).toBe('');
    expect(corsHeaders(pre)).toEqual(corsHeaders(valid));
    expect(varies(pre)).toContain('origin');
    // Another origin still gets none, its preflight refused as the request it is; the answer varies all the same.
    const stranger = await get(s, '/v1/accounts/%ZZ', { origin: STRANGER });
    expect(stranger.status).toBe(400);
    expect(corsHeaders(stranger)).toEqual({});
    expect(varies(stranger)).toContain('origin');
    const strangerPre = await preflight(s, STRANGER, '/v1/blobs/%ZZ/chunks/0');
    expect(strangerPre.status).toBe(400);
    expect(await strangerPre.json()).toMatchObject({ code: 'BAD_MESSAGE' });
    expect(corsHeaders(strangerPre)).toEqual({});
  });

  it('adds nothing to a request refused before routing when no origin is allowed', async () => {
    const s = await start();
    const refused = await get(s, '/v1/accounts/%ZZ', { origin: APP });
    expect(refused.status).toBe(400);
    expect(corsHeaders(refused)).toEqual({});
    expect(varies(refused)).not.toContain('origin');
    const pre = await preflight(s, APP, '/v1/blobs/%ZZ/chunks/0');
    expect(pre.status).toBe(400);
    expect(corsHeaders(pre)).toEqual({});
  });

  it("keeps the address bucket on refusals before routing, not on an allowed origin's preflights", async () => {
    const burst = 2;
    const s = await start({ allowedOrigins: [APP], rateLimitPerAddress: { perSecond: 1, burst } });
    for (let i = 0; i < 5; i++) expect((await preflight(s, APP, '/v1/blobs/%ZZ/chunks/0')).status).toBe(204);
    for (let i = 0; i < burst; i++)
      expect((await get(s, '/v1/accounts/%ZZ', { origin: APP })).status).toBe(400);
    const limited = await get(s, '/v1/accounts/%ZZ', { origin: APP });
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(limited.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('refuses a WebSocket upgrade from a page of another origin, before it spends the upgrade budget', async () => {
    const s = await start({ rateLimitUpgradesPerAddress: { perSecond: 1, burst: 1 } });
    const before = await forbiddenCount(s);
    for (let i = 0; i < 3; i++) {
      const refused = await tryUpgrade(s, { origin: STRANGER });
      expect(refused).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    }
    expect(await forbiddenCount(s)).toBe(before + 3);
    // Another port of the same host is another origin (a page served beside the server, not by it).
    const port = Number(new URL(s.url).port);
    const neighbour = await tryUpgrade(s, { origin: `http://127.0.0.1:${port === 65535 ? 1 : port + 1}` });
    expect(neighbour.status).toBe(403);
    // The address's one upgrade token is still there for a device without Origin.
    const device = await tryUpgrade(s);
    expect(device.status).toBe(101);
    if ('ws' in device) device.ws.close();
  });

  it("accepts upgrades without Origin, from the server's own origin and from an allowed one", async () => {
    const s = await start({ allowedOrigins: [APP] });
    const own = new URL(s.url).origin;
    for (const origin of [undefined, own, own.replace('http:', 'https:'), APP]) {
      const attempt = await tryUpgrade(s, origin === undefined ? {} : { origin });
      expect(attempt.status, String(origin)).toBe(101);
      if ('ws' in attempt) attempt.ws.close();
    }
    expect(await tryUpgrade(s, { origin: STRANGER })).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect(await forbiddenCount(s)).toBe(1);
  });
});
