// The order in which `POST /v1/accounts` checks things (docs/protocol.md, Registration control): a closed
// server refuses REGISTRATION_CLOSED before anything is checked, the body's shape and syntax included; an
// invite server refuses a body without a code INVITE_INVALID before its shape is checked. An open server
// checks the shape as ever. Real server on a loopback port.
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerConfig } from './config';
import { http, rowCounts, startServer, type TestServer } from './testing/harness';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const t of servers.splice(0)) await t.stop();
});

const start = async (registration: ServerConfig['registration']): Promise<TestServer> => {
  const t = await startServer({ config: { registration } });
  servers.push(t);
  return t;
};

/** `POST /v1/accounts` with `body` sent as it is. */
const post = async (t: TestServer, body: string, contentType = 'application/json') => {
  const res = await fetch(`${t.url}/v1/accounts`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  const answer: unknown = await res.json();
  return { status: res.status, body: answer };
};

const BODIES: Array<[string, string, string?]> = [
  ['an empty object', '{}'],
  ['an account without its fields', '{"account":{"role":"patient"}}'],
  ['not JSON', '{"account": '],
  ['not an object', '[1,2,3]'],
  ['another content type', 'hello', 'text/plain'],
];

describe('POST /v1/accounts on a closed server', () => {
  it.each(BODIES)('%s: REGISTRATION_CLOSED (403), nothing stored', async (_name, body, type) => {
    const t = await start('closed');
    const before = rowCounts(t.store);
    const res = await post(t, body, type);
    expect(res).toMatchObject({ status: 403, body: { code: 'REGISTRATION_CLOSED' } });
    expect(rowCounts(t.store)).toEqual(before);
  });
});

describe('POST /v1/accounts on an invite server', () => {
  it('a JSON body without a code: INVITE_INVALID (403) before its shape is checked', async () => {
    const t = await start('invite');
    for (const body of ['{}', '{"account":{"role":"patient"}}', '[1,2,3]', 'null']) {
      expect(await post(t, body)).toMatchObject({ status: 403, body: { code: 'INVITE_INVALID' } });
    }
  });

  it('a body that is not JSON holds no code to check: BAD_MESSAGE (400)', async () => {
    const t = await start('invite');
    expect(await post(t, '{"invite": ')).toMatchObject({ status: 400, body: { code: 'BAD_MESSAGE' } });
    expect(await post(t, 'hello', 'text/plain')).toMatchObject({
      status: 400,
      body: { code: 'BAD_MESSAGE' },
    });
  });
});

describe('POST /v1/accounts on an open server', () => {
  it('checks the shape as before', async () => {
    const t = await start('open');
    expect(await http(t.url, 'POST', '/v1/accounts', {})).toMatchObject({
      status: 400,
      body: { code: 'BAD_MESSAGE' },
    });
  });
});
