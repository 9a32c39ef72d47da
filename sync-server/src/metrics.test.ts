// Every documented series with labels known in advance is on /metrics from the start, at 0: an alert on
// `hale_refusals_total{code="INTERNAL"}` or on an absent series must not fire on a fresh server, and a
// rate over a series that appears only at its first event misses that event. Labels that are not known in
// advance are not invented.
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_FRAMES, ERROR_CODE_LIST, SERVER_FRAMES } from '@hale/protocol';
import { http, openWs, startServer, type TestServer } from './testing/harness';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const t of servers.splice(0)) await t.stop();
});

/** `name{labels} value` lines of the Prometheus text, as a map from `name{labels}` to the value. */
const scrape = async (t: TestServer): Promise<Map<string, number>> => {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
};

const expected = (): string[] => [
  'hale_ws_connections{state="open"}',
  'hale_ws_connections{state="authenticated"}',
  'hale_bytes_total{direction="in"}',
  'hale_bytes_total{direction="out"}',
  'hale_pulls_total{outcome="ok"}',
  'hale_pulls_total{outcome="partly-denied"}',
  'hale_pulled_docs_total',
  'hale_pushes_total{outcome="ok"}',
  'hale_pushes_total{outcome="conflict"}',
  'hale_pushes_total{outcome="error"}',
  'hale_live_docs_total',
  'hale_request_duration_seconds_count{op="pull"}',
  'hale_request_duration_seconds_count{op="push"}',
  'hale_request_duration_seconds_sum{op="pull"}',
  'hale_request_duration_seconds_sum{op="push"}',
  ...ERROR_CODE_LIST.map((code) => `hale_refusals_total{code="${code}"}`),
  ...Object.keys(CLIENT_FRAMES).map((type) => `hale_ws_messages_total{direction="in",type="${type}"}`),
  ...Object.keys(SERVER_FRAMES).map((type) => `hale_ws_messages_total{direction="out",type="${type}"}`),
];

describe('/metrics on a fresh server', () => {
  it('lists every documented series whose labels are known in advance, at 0', async () => {
    const t = await startServer();
    servers.push(t);
    const series = await scrape(t);
    const missing = expected().filter((name) => !series.has(name));
    expect(missing).toEqual([]);
    expect(expected().filter((name) => series.get(name) !== 0)).toEqual([]);
    // Nothing but those: no label value made up beyond the protocol's codes and frame types.
    const hale = [...series.keys()].filter((name) => name.startsWith('hale_') && !name.includes('_bucket{'));
    expect(hale.sort()).toEqual(expected().sort());
  });

  it('still counts from there', async () => {
    const t = await startServer();
    servers.push(t);
    expect((await http(t.url, 'GET', '/v1/directory')).status).toBe(401);
    const series = await scrape(t);
    expect(series.get('hale_refusals_total{code="UNAUTHENTICATED"}')).toBe(1);
    expect(series.get('hale_refusals_total{code="INTERNAL"}')).toBe(0);
  });
});

describe('hale_bytes_total', () => {
  it('counts the bytes of WebSocket frames each way, a multi-byte character as its UTF-8 bytes', async () => {
    const t = await startServer();
    servers.push(t);
    const c = await openWs(t);
    let received = 0;
    c.ws.on('message', (data: Buffer) => void (received += data.byteLength));
    const sent = JSON.stringify({ t: 'hello', versions: [1], deviceId: 'x', ['é'.repeat(150)]: 1 });
    c.sendRaw(sent);
    // The refusal names the unexpected member: multi-byte text goes out.
    expect(JSON.stringify(await c.nextFrame())).toContain('é');
    await c.close();
    const series = await scrape(t);
    expect(series.get('hale_bytes_total{direction="in"}')).toBe(Buffer.byteLength(sent));
    expect(series.get('hale_bytes_total{direction="out"}')).toBe(received);
  });
});
