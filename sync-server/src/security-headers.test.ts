// The headers of every answer (plugins/security-headers.ts): `nosniff` on every kind of answer the server
// writes (API JSON, refusals from a route, a hook, the not-found handler, before routing and below
// Fastify, the link routes, the viewer page, the web app's files), and `Strict-Transport-Security` exactly
// when the server serves HTTPS itself, never over plain HTTP. Real servers on loopback ports, the HTTPS one
// with a self-signed certificate made here with openssl; raw requests where a client could send them.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type HaleServer } from './app';
import { HSTS_MAX_AGE_SECONDS } from './plugins/security-headers';
import { openSqliteStore, type SqliteStore } from './store/index';
import { startServer, type TestServer } from './testing/harness';
import { createLink } from './shl-links.test-util';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** Requests that each get another kind of answer, by what answers them. */
const RAW_REQUESTS: [string, string][] = [
  // Node's parser gives up (clientErrorHandler): written below Fastify.
  ['a request that is not HTTP', 'NOT HTTP AT ALL\r\n\r\n'],
  // ws refuses the handshake (an unknown WebSocket version): written below Fastify too.
  [
    'a refused WebSocket handshake',
    `GET /sync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`,
  ],
  // A path refused before routing (frameworkErrors): no hook runs.
  [
    'a path that is not percent-encoding',
    'GET /v1/accounts/%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  ],
];

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
}

const parseHead = (text: string): RawAnswer => {
  const [head = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  return {
    status: Number(statusLine.split(' ')[1]),
    headers: Object.fromEntries(
      lines.map((line) => {
        const at = line.indexOf(':');
        return [line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim()];
      }),
    ),
  };
};

/** Writes `request` on a new connection (TLS trusting `ca` when given) and reads until the server closes. */
const raw = (url: string, request: string, ca?: string): Promise<RawAnswer> =>
  new Promise((resolve, reject) => {
    const port = Number(new URL(url).port);
    const socket =
      ca === undefined
        ? tcpConnect(port, '127.0.0.1')
        : tlsConnect({ port, host: '127.0.0.1', ca, servername: undefined });
    let text = '';
    const timer = setTimeout(() => socket.destroy(), 5_000);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseHead(text));
    });
    socket.write(request);
  });

describe('nosniff on every answer; no HSTS over plain HTTP', () => {
  let t: TestServer;
  let limited: TestServer;
  let appDir = '';
  beforeAll(async () => {
    appDir = await mkdtemp(path.join(tmpdir(), 'hale-app-'));
    await mkdir(path.join(appDir, 'assets'));
    await writeFile(path.join(appDir, 'index.html'), '<!doctype html><title>Hale</title>');
    await writeFile(path.join(appDir, 'assets', 'index-abc123.js'), 'console.log("app")');
    await writeFile(path.join(appDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    t = await startServer({ config: { appDir } });
    limited = await startServer({ config: { rateLimitPerAddress: { perSecond: 0.01, burst: 1 } } });
  });
  afterAll(async () => {
    await t?.stop();
    await limited?.stop();
    await rm(appDir, { recursive: true, force: true });
  });

  it('API JSON, refusals of routes and hooks, the not-found handler, link routes, viewer and app files', async () => {
    const link = await createLink(t);
    const requests: [string, string, RequestInit?][] = [
      ['API JSON', '/v1/server'],
      ['UNAUTHENTICATED from a route', '/v1/shl'],
      ['BAD_MESSAGE from a schema', '/v1/auth/challenge', { method: 'POST', body: '{}' }],
      ['NOT_FOUND from the not-found handler', '/v1/nothing-here'],
      ['an API path the app does not take', '/v1/nothing.json'],
      [
        'a manifest',
        `/shl/${link.token}`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"recipient":"x"}' },
      ],
      ['a link that does not work', `/shl/${'A'.repeat(43)}`, { method: 'POST', body: '{"recipient":"x"}' }],
      ['a link preflight', `/shl/${link.token}`, { method: 'OPTIONS' }],
      ['the viewer page', '/shl/view'],
      ['its script', '/shl/view.js'],
      ['the app', '/'],
      ['an app route', '/chart/labs'],
      ['an app asset', '/assets/index-abc123.js'],
      ['an app file', '/favicon.svg'],
      ['a missing file', '/missing.js'],
      ['a plain GET of the WebSocket endpoint', '/sync'],
    ];
    const seen = new Set<number>();
    for (const [what, url, init] of requests) {
      const headers = new Headers(init?.headers);
      if (init?.body !== undefined && !headers.has('content-type'))
        headers.set('content-type', 'application/json');
      const res = await fetch(t.url + url, { ...init, headers });
      seen.add(res.status);
      expect(res.headers.get('x-content-type-options'), `${what}: ${res.status}`).toBe('nosniff');
      expect(res.headers.get('strict-transport-security'), what).toBeNull();
    }
    expect([...seen].sort()).toEqual([200, 204, 400, 401, 404]);

    // Refused by the address bucket (a hook), before any route.
    expect((await fetch(`${limited.url}/v1/server`)).status).toBe(200);
    const tooMany = await fetch(`${limited.url}/v1/server`);
    expect(tooMany.status).toBe(429);
    expect(tooMany.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers written before routing and below Fastify', async () => {
    for (const [what, request] of RAW_REQUESTS) {
      const answer = await raw(t.url, request);
      expect(answer.status, what).toBe(400);
      expect(answer.headers['x-content-type-options'], what).toBe('nosniff');
      expect(answer.headers['strict-transport-security'], what).toBeUndefined();
    }
  });
});

describe('HSTS when the server serves HTTPS itself', () => {
  let dir = '';
  let ca = '';
  let store: SqliteStore;
  let server: HaleServer;
  let url = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hale-hsts-'));
    const cert = path.join(dir, 'server.crt');
    const key = path.join(dir, 'server.key');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    ca = await readFile(cert, 'utf8');
    store = await openSqliteStore({ dataDir: path.join(dir, 'data') });
    server = await buildApp({
      store,
      https: { cert: ca, key: await readFile(key, 'utf8') },
      config: {
        rateLimitPerDevice: { perSecond: 1e6, burst: 1e6 },
        rateLimitPerAddress: { perSecond: 1e6, burst: 1e6 },
      },
    });
    // Fastify names the address http: whatever its server factory made (main.ts renames it too).
    url = (await server.app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http:/, 'https:');
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = (target: string, init: { method?: string; body?: string } = {}): Promise<RawAnswer> =>
    new Promise((resolve, reject) => {
      const request = httpsRequest(
        target,
        {
          method: init.method ?? 'GET',
          ca,
          headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: Object.fromEntries(
                Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
              ),
            }),
          );
        },
      );
      request.on('error', reject);
      request.end(init.body);
    });

  it('on every answer: JSON, refusals, the viewer, and answers written before routing or below Fastify', async () => {
    const hsts = `max-age=${HSTS_MAX_AGE_SECONDS}`;
    for (const [what, target, init] of [
      ['API JSON', '/v1/server', {}],
      ['a refusal', '/v1/shl', {}],
      ['an unknown route', '/v1/nothing-here', {}],
      ['a link that does not work', `/shl/${'A'.repeat(43)}`, { method: 'POST', body: '{"recipient":"x"}' }],
      ['the viewer page', '/shl/view', {}],
    ] as const) {
      const answer = await get(url + target, init);
      expect(answer.headers['strict-transport-security'], `${what}: ${answer.status}`).toBe(hsts);
      expect(answer.headers['x-content-type-options'], what).toBe('nosniff');
    }
    for (const [what, request] of RAW_REQUESTS) {
      const answer = await raw(url, request, ca);
      expect(answer.status, what).toBe(400);
      expect(answer.headers['strict-transport-security'], what).toBe(hsts);
      expect(answer.headers['x-content-type-options'], what).toBe('nosniff');
    }
    // Without subdomains and not preloaded: a self-hoster's other hosts are not this server's to decide.
    expect(hsts).not.toMatch(/includeSubDomains|preload/i);
  });
});
