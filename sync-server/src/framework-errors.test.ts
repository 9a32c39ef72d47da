// Requests Fastify refuses before routing, and plain GETs of the WebSocket endpoint, answer the server's
// own typed error body ({ code, message } from the one error-code table), never Fastify's internals.
import { connect as tcp } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@hale/protocol';
import { startServer, type TestServer } from './testing/harness';

/** GETs `path` and checks the answer is JSON and exactly a typed error body `{ code, message }`. */
const refusal = async (t: TestServer, path: string) => {
  const res = await fetch(`${t.url}${path}`);
  expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
  const body = JSON.parse(await res.text()) as Record<string, unknown>;
  expect(Object.keys(body).sort(), path).toEqual(['code', 'message']);
  expect(typeof body.message, path).toBe('string');
  expect(Object.keys(ERROR_CODES), path).toContain(body.code);
  return { status: res.status, code: body.code, message: body.message as string };
};

describe('framework errors', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('a path that is not valid percent-encoding answers BAD_MESSAGE', async () => {
    for (const path of ['/v1/accounts/%ZZ', '/v1/blobs/%E0%A4%A/chunks/0']) {
      const res = await refusal(t, path);
      expect(res, path).toMatchObject({ status: 400, code: 'BAD_MESSAGE' });
      expect(res.message, path).not.toMatch(/FST_/);
    }
  });

  it('an over-long path parameter answers TOO_LARGE', async () => {
    expect(await refusal(t, `/v1/accounts/${'A'.repeat(500)}`)).toMatchObject({
      status: 413,
      code: 'TOO_LARGE',
    });
  });

  it('GET /sync without an upgrade answers BAD_MESSAGE, not an empty 404', async () => {
    const res = await refusal(t, '/sync');
    expect(res).toMatchObject({ status: 400, code: 'BAD_MESSAGE' });
    expect(res.message).toMatch(/WebSocket/);
  });

  it('an upgrade request to a malformed path gets the typed body and its socket is closed', async () => {
    const s = tcp(Number(new URL(t.url).port), '127.0.0.1');
    s.on('error', () => undefined);
    await new Promise((resolve) => s.once('connect', resolve));
    let text = '';
    s.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    const closed = new Promise<boolean>((resolve) => s.once('close', () => resolve(true)));
    s.write(
      'GET /sync%ZZ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const ended = await Promise.race([closed, new Promise((r) => setTimeout(() => r(false), 5000))]);
    s.destroy();
    expect(text).toMatch(/^HTTP\/1.1 400/);
    expect(text).toContain('"code":"BAD_MESSAGE"');
    expect(ended).toBe(true);
  });
});
