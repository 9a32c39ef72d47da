// What reaches the server below its routes: requests Node's HTTP parser refuses (a malformed request line
// or header, headers over Node's limit), WebSocket upgrades the ws handshake refuses, and upgrade requests
// to routes that are not WebSocket endpoints. Each gets the typed body ({ code, message } from the one
// error-code table, at the table's status), no socket is upgraded where no WebSocket is served, and the
// log holds neither the raw request nor its path, even at trace. Raw TCP on a loopback port: fetch and
// ws would refuse to send most of these.
import { connect as tcp } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@hale/protocol';
import type { ServerConfig } from './config';
import { createLogger } from './logger';
import { registerAccount, sessionToken, startServer } from './testing/harness';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

const start = async (level = 'info', config: Partial<ServerConfig> = {}) => {
  const raw: string[] = [];
  const t = await startServer({
    logger: createLogger(level, { write: (line: string) => void raw.push(line) }),
    config,
  });
  stops.push(() => t.stop());
  return { server: t.server, url: t.url, wsUrl: t.wsUrl, log: () => raw.join('') };
};

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection within the wait. */
  closed: boolean;
}

/** Writes `request` on a fresh TCP connection and reads what comes back until the server closes it. */
const rawRequest = (url: string, request: string, waitMs = 3_000): Promise<RawAnswer> =>
  new Promise((resolve) => {
    const s = tcp(Number(new URL(url).port), '127.0.0.1');
    let text = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      s.destroy();
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => {
          const at = line.indexOf(':');
          return [line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim()];
        }),
      );
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n'), closed });
    };
    const timer = setTimeout(() => done(false), waitMs);
    s.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => done(true));
    s.write(request);
  });

/** The answer is exactly a typed error body, at its code's status. */
const expectTyped = (answer: RawAnswer, code: keyof typeof ERROR_CODES, what: string) => {
  expect(answer.headers['content-type'], `${what}: ${answer.status} ${answer.body}`).toMatch(
    /^application\/json/,
  );
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  expect(Object.keys(body).sort(), what).toEqual(['code', 'message']);
  expect(body.code, what).toBe(code);
  expect(typeof body.message, what).toBe('string');
  expect(body.message, what).not.toMatch(/FST_|HPE_|WS_ERR/);
  expect(answer.status, what).toBe(ERROR_CODES[code].http);
};

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const upgrade = (target: string, headers: string) =>
  `GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${headers}\r\n`;

describe('requests refused below the routes', () => {
  it('a malformed request or a header over the limit gets the typed body and the connection closes', async () => {
    const e = await start();
    const cases: Array<[string, string, keyof typeof ERROR_CODES]> = [
      ['bad request line', 'GARBAGE\r\n\r\n', 'BAD_MESSAGE'],
      [
        'control character in a header',
        'GET /v1/server HTTP/1.1\r\nHost: x\r\nX-A: a\u0001b\r\n\r\n',
        'BAD_MESSAGE',
      ],
      [
        'two Content-Length headers',
        'POST /v1/auth/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
        'BAD_MESSAGE',
      ],
      [
        'an Authorization header over the header limit',
        `GET /v1/directory HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(20_000)}\r\n\r\n`,
        'TOO_LARGE',
      ],
      [
        'a query string over the header limit',
        `GET /v1/directory?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        'TOO_LARGE',
      ],
    ];
    for (const [what, request, code] of cases) {
      const answer = await rawRequest(e.url, request);
      expectTyped(answer, code, what);
      expect(answer.closed, what).toBe(true);
    }
    // The server still serves.
    expect((await fetch(`${e.url}/v1/server`)).status).toBe(200);
  });

  it('a query string that is not percent-encoded UTF-8 gets the typed body, as such a path does', async () => {
    const e = await start();
    for (const query of ['q=%FF%FE', 'q=%ZZ', 'q=%', 'q=%ED%A0%80']) {
      const answer = await rawRequest(
        e.url,
        `GET /v1/directory?${query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expectTyped(answer, 'BAD_MESSAGE', query);
      expect((JSON.parse(answer.body) as { message: string }).message).toMatch(/query string/);
    }
    // Well-formed, it reaches the route (which answers as it does).
    const fine = await fetch(`${e.url}/v1/directory?q=caf%C3%A9+au+lait`);
    expect(((await fine.json()) as { message?: string }).message ?? '').not.toMatch(/query string/);
  });

  it('an HTTP/1.1 request without a Host header gets the typed body (HTTP/1.0 needs none)', async () => {
    const e = await start();
    for (const request of [
      'GET /v1/server HTTP/1.1\r\nConnection: close\r\n\r\n',
      'POST /v1/auth/challenge HTTP/1.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
      `GET /sync HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`,
    ]) {
      const answer = await rawRequest(e.url, request);
      expectTyped(answer, 'BAD_MESSAGE', request.split('\r\n')[0]!);
      expect((JSON.parse(answer.body) as { message: string }).message).toMatch(/no Host header/);
    }
    const old = await rawRequest(e.url, 'GET /v1/server HTTP/1.0\r\n\r\n');
    expect(old.status).toBe(200);
  });

  it('a request line naming HTTP/2.0 or HTTP/0.9, which Node parses, gets the typed body, not an HTTP/1.1 answer', async () => {
    const e = await start();
    for (const version of ['HTTP/2.0', 'HTTP/0.9']) {
      for (const request of [
        // No Connection: close: the server closes it, as after other requests it cannot read.
        `GET /v1/server ${version}\r\nHost: x\r\n\r\n`,
        `GET /sync ${version}\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`,
      ]) {
        const what = request.split('\r\n')[0]!;
        const answer = await rawRequest(e.url, request);
        expectTyped(answer, 'BAD_MESSAGE', what);
        expect((JSON.parse(answer.body) as { message: string }).message, what).toContain(version);
        expect(answer.closed, what).toBe(true);
      }
    }
    for (const version of ['HTTP/1.1', 'HTTP/1.0']) {
      const answer = await rawRequest(
        e.url,
        `GET /v1/server ${version}\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expect(answer.status, version).toBe(200);
    }
  });

  it('a request whose body does not arrive within requestTimeoutMs is answered UNAVAILABLE and its connection closed', async () => {
    const e = await start('info', { requestTimeoutMs: 1_000 });
    const started = Date.now();
    // Headers and part of the body, then nothing: without the timeout the connection and what it sent
    // stay held as long as the client keeps the socket open.
    const answer = await rawRequest(
      e.url,
      'POST /v1/auth/challenge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"dev',
      6_000,
    );
    expect(answer.closed).toBe(true);
    expectTyped(answer, 'UNAVAILABLE', 'slow body');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect((await fetch(`${e.url}/v1/server`)).status).toBe(200);
  });

  it('at trace, a refused request leaves neither its bytes nor its bearer token in the log', async () => {
    const e = await start('trace');
    const account = await registerAccount(e);
    const token = await sessionToken(e, account.device);
    const answer = await rawRequest(
      e.url,
      `GET /v1/directory?q=private-query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nX-A: a\u0001b\r\n\r\n`,
    );
    const log = e.log();
    expect(log).toContain('client error');
    expect(log).not.toContain(token);
    expect(log).not.toContain('private-query');
    // A Buffer is written as its bytes in decimal: the request's bytes must not be there in any form.
    expect(log).not.toContain('rawPacket');
    expect(log).not.toContain(Array.from(Buffer.from('Bearer ')).join(','));
    expectTyped(answer, 'BAD_MESSAGE', 'malformed header');
  });
});

describe('WebSocket upgrades', () => {
  it('an upgrade to a route that is no WebSocket endpoint is refused before any upgrade, and its path is not logged', async () => {
    const e = await start('info');
    for (const target of ['/v1/server', '/healthz', '/metrics', '/v1/directory?q=private-query']) {
      const answer = await rawRequest(
        e.url,
        upgrade(target, `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`),
      );
      expect(answer.status, target).not.toBe(101);
      expectTyped(answer, 'BAD_MESSAGE', target);
      expect(answer.closed, target).toBe(true);
    }
    expect(e.log()).not.toContain('private-query');
    // The endpoint itself still upgrades.
    const ok = await rawRequest(
      e.url,
      upgrade('/sync', `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`),
      300,
    );
    expect(ok.status).toBe(101);
  });

  it('a /sync upgrade the WebSocket handshake refuses gets the typed body, not a text/html one', async () => {
    const e = await start();
    const cases: Array<[string, string]> = [
      ['unknown WebSocket version', `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 99\r\n`],
      ['no key', 'Sec-WebSocket-Version: 13\r\n'],
      ['malformed key', 'Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n'],
      [
        'malformed subprotocol list',
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a,,b\r\n`,
      ],
    ];
    for (const [what, headers] of cases) {
      const answer = await rawRequest(e.url, upgrade('/sync', headers));
      expectTyped(answer, 'BAD_MESSAGE', what);
      expect(answer.closed, what).toBe(true);
    }
    // RFC 6455 4.4: a version refusal names the versions the server speaks.
    const version = await rawRequest(
      e.url,
      upgrade('/sync', `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 99\r\n`),
    );
    expect(version.headers['sec-websocket-version']).toBe('13, 8');
  });
});
