// Builds of different ages: a server newer than the device adds properties to its answers (as the last
// release did with `wrappingKeySig`). The device (`openHaleForTests` over a `nodePlatform` whose fetch and
// sockets rewrite every answer so) ignores them, HTTP and WebSocket alike, and keeps working; the server,
// for its part, still refuses anything it does not know in a request.
import { describe, expect, it } from 'vitest';
import type { ClientFrame } from '@hale/protocol';
import type { FetchLike, Platform, WebSocketLike } from '@hale/client';
import { openHaleForTests } from '@hale/client/testing';
import { nodePlatform, nodeWebSocket } from '@hale/platform-node';
import { connect, http, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { input } from '../support/records';
import { online, useHaleSessions, when } from '../client-api/hale-devices';

const PASS = 'correct horse battery staple';

/** `json` with a property added to every object, at every depth (not inside error `details`, a record). */
const withAdded = (value: unknown, inDetails = false): unknown => {
  if (Array.isArray(value)) return value.map((item) => withAdded(item, inDetails));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = withAdded(item, inDetails || key === 'details');
  if (!inDetails) out['addedByNewerServer'] = { since: 'a later release', n: 1 };
  return out;
};

let rewritten = 0;

/** fetch to the real server, every JSON answer (success or error) rewritten as a newer server would send it. */
const newerServerFetch: FetchLike = async (url, init) => {
  const res = await fetch(url, init);
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').includes('application/json');
  const body = isJson ? JSON.stringify(withAdded(JSON.parse(text))) : text;
  if (isJson) rewritten++;
  return {
    status: res.status,
    ok: res.ok,
    headers: res.headers,
    json: async () => JSON.parse(body) as unknown,
    text: async () => body,
    arrayBuffer: async () => new TextEncoder().encode(body).buffer,
  };
};

/** A real socket to the real server, every frame it receives rewritten as a newer server would send it. */
const newerServerSocket = (url: string): WebSocketLike => {
  const inner = nodeWebSocket(url);
  const outer: WebSocketLike = {
    get readyState() {
      return inner.readyState;
    },
    send: (data) => inner.send(data),
    close: (code, reason) => inner.close(code, reason),
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  inner.onopen = (ev) => outer.onopen?.(ev);
  inner.onmessage = (ev) => {
    const data = typeof ev.data === 'string' ? JSON.stringify(withAdded(JSON.parse(ev.data))) : ev.data;
    if (typeof ev.data === 'string') rewritten++;
    outer.onmessage?.({ data });
  };
  inner.onclose = (ev) => outer.onclose?.(ev);
  inner.onerror = (ev) => outer.onerror?.(ev);
  return outer;
};

/** A device's platform whose answers come as a newer server sends them: over HTTP, WebSocket, or both. */
const newerServerPlatform = (over: { http?: boolean; ws?: boolean }): Platform => ({
  ...nodePlatform(),
  ...(over.http ? { fetch: newerServerFetch } : {}),
  ...(over.ws ? { createWebSocket: newerServerSocket } : {}),
});

describe('a device talking to a server newer than itself', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('creates an account, joins a second device and unlocks over HTTP answers with added properties', async () => {
    const before = rewritten;
    const first = await openHaleForTests({
      server: server.t.url,
      platform: newerServerPlatform({ http: true }),
    });
    const loginName = `compat-${Date.now().toString(36)}`;
    const { session: a } = await first.createAccount({
      role: 'patient',
      passphrase: PASS,
      loginName,
      deviceName: 'a',
    });
    sessions.push(a);
    const second = await openHaleForTests({
      server: server.t.url,
      platform: newerServerPlatform({ http: true }),
    });
    const joined = await second.join({ loginName, passphrase: PASS, deviceName: 'b' });
    sessions.push(joined);
    expect(joined.account.accountId).toBe(a.account.accountId);
    await joined.lock();
    const unlocked = await second.unlock({ passphrase: PASS });
    sessions.push(unlocked);
    expect(unlocked.account.accountId).toBe(a.account.accountId);
    // An error answer with added properties still carries its code: the server's NOT_FOUND for an account
    // it does not hold, told as UNKNOWN_ACCOUNT (any other failure of the lookup would be passed on as is).
    await expect(unlocked.consent.describeProvider('A'.repeat(22))).rejects.toMatchObject({
      code: 'UNKNOWN_ACCOUNT',
    });
    expect(rewritten).toBeGreaterThan(before);
  });

  it('syncs between two devices over WebSocket frames with added properties', async () => {
    const before = rewritten;
    const first = await openHaleForTests({
      server: server.t.url,
      platform: newerServerPlatform({ ws: true }),
    });
    const loginName = `compat-${Date.now().toString(36)}`;
    const { session: a } = await first.createAccount({
      role: 'patient',
      passphrase: PASS,
      loginName,
      deviceName: 'a',
    });
    sessions.push(a);
    const second = await openHaleForTests({
      server: server.t.url,
      platform: newerServerPlatform({ ws: true }),
    });
    const b = await second.join({ loginName, passphrase: PASS, deviceName: 'b' });
    sessions.push(b);
    await Promise.all([online(a), online(b)]);
    const added = await a.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await a.sync.awaitInSync();
    await when(b.records.one(added.id), (r) => r !== null, 'the second device receives it');
    const got = await b.records.get<'Allergy'>(added.id);
    expect(got?.record.substance).toBe('Penicillin');
    expect(JSON.stringify(got)).not.toContain('addedByNewerServer');
    expect(rewritten).toBeGreaterThan(before);
  });

  it('the server still refuses requests with a property it does not know, HTTP and WebSocket', async () => {
    const t = server.t;
    const join = await http(t.url, 'POST', '/v1/join', { loginName: 'nobody-here', addedByNewerClient: 1 });
    expect(join.status).toBe(400);
    expect(join.body).toMatchObject({ code: 'BAD_MESSAGE' });

    const patient = await registerAccount(t);
    const client = await connect(t, patient.device);
    try {
      const rid = client.rid();
      const refused = await client.request({ t: 'ping', rid, addedByNewerClient: 1 } as ClientFrame);
      expect(refused).toMatchObject({ t: 'error', rid, code: 'BAD_MESSAGE' });
      expect(await client.request({ t: 'ping', rid: client.rid() })).toMatchObject({ t: 'pong' });
    } finally {
      await client.close();
    }
  });
});
