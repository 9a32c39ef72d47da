// `--log-level debug`: one line per HTTP request completed (method, route pattern, status, time) and per
// WebSocket opened, authenticated and closed (device id, close code), none of which carries a header, a
// body, a token, a raw path or ciphertext; at `info` none of them is written. A real server on a loopback
// port, its pino logger writing into memory.
import { afterEach, describe, expect, it } from 'vitest';
import type { PushedFrame } from '@hale/protocol';
import { createLogger } from './logger';
import {
  connect,
  endpoint,
  http,
  makeDoc,
  makeRegistration,
  sessionToken,
  startServer,
  type Endpoint,
} from './testing/harness';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const start = async (level: string): Promise<Endpoint & { lines: () => Record<string, unknown>[] }> => {
  const raw: string[] = [];
  const t = await startServer({
    logger: createLogger(level, { write: (line: string) => void raw.push(line) }),
  });
  stops.push(() => t.stop());
  return { ...endpoint(t.url), lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>) };
};

/** Requests and a socket session carrying every kind of secret the server sees; what it sent, to look for. */
const session = async (e: Endpoint) => {
  const registration = await makeRegistration('patient');
  expect((await http(e.url, 'POST', '/v1/accounts', registration.body)).status).toBe(201);
  const patient = registration.account;
  const token = await sessionToken(e, patient.device);
  // A path with an id in it (the route pattern is logged, not the id) and a refused request.
  expect((await http(e.url, 'GET', `/v1/accounts/${patient.accountId}`, undefined, token)).status).toBe(200);
  expect((await http(e.url, 'GET', '/v1/directory?q=secret-query', undefined, `${token}x`)).status).toBe(401);
  const doc = await makeDoc(patient, patient.device, 'allergy', { n: 1 });
  const ws = await connect(e, patient.device);
  const pushed = await ws.request<PushedFrame>({ t: 'push', rid: 1, rows: [{ doc, assumedRev: null }] });
  expect(pushed.results[0]?.status).toBe('ok');
  await ws.close();
  const wrapped = registration.body.account.wrappedRoot as unknown as { ct: string; nonce: string };
  return {
    patient,
    secrets: [
      ['session token', token],
      ['ciphertext', doc.ct.slice(0, 40)],
      ['wrapped root', wrapped.ct],
      ['registration signature', registration.body.sig],
      ['query string', 'secret-query'],
      ['account id in a path', `/v1/accounts/${patient.accountId}`],
    ] as const,
  };
};

describe('log level debug', () => {
  it('logs each request and socket without a header, body, token, raw path or ciphertext', async () => {
    const e = await start('debug');
    const { patient, secrets } = await session(e);
    // The close line is written when the server sees the socket close.
    const deadline = Date.now() + 5_000;
    while (!e.lines().some((l) => l.msg === 'websocket closed') && Date.now() < deadline) await sleep(20);
    const lines = e.lines();

    const requests = lines.filter((l) => l.msg === 'request completed');
    const seen = requests.map((l) => `${String(l.method)} ${String(l.route)} ${String(l.status)}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        'POST /v1/accounts 201',
        'GET /v1/accounts/:accountId 200',
        'GET /v1/directory 401',
      ]),
    );
    for (const l of requests) {
      expect(Object.keys(l).sort()).toEqual(
        ['level', 'time', 'service', 'reqId', 'method', 'route', 'status', 'ms', 'msg'].sort(),
      );
      expect(typeof l.ms).toBe('number');
    }

    const socket = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('websocket '));
    expect(socket.map((l) => l.msg)).toEqual([
      'websocket opened',
      'websocket authenticated',
      'websocket closed',
    ]);
    expect(socket[1]).toMatchObject({ deviceId: patient.device.deviceId, version: 1 });
    expect(socket[2]).toMatchObject({ deviceId: patient.device.deviceId, code: 1005 });

    const log = lines.map((l) => JSON.stringify(l)).join('\n');
    expect(secrets.filter(([, s]) => log.includes(s)).map(([name]) => name)).toEqual([]);
    expect(log).not.toMatch(/authorization|bearer/i);
  });

  it('at info none of these lines is written', async () => {
    const e = await start('info');
    await session(e);
    await sleep(200);
    const messages = e.lines().map((l) => l.msg);
    expect(messages).not.toContain('request completed');
    expect(messages.filter((m) => typeof m === 'string' && m.startsWith('websocket '))).toEqual([]);
  });
});
